//===- Fatal.cpp - caller-bug reports of the runtime kernels --------------===//
//
// Implements Fatal.h.
//
//===----------------------------------------------------------------------===//

#include "Fatal.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

void kiln::runtime::fatal(const char *function, const char *format, ...) {
  std::fprintf(stderr, "kiln: %s: invalid argument: ", function);
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
  std::abort();
}
