//===- Fatal.h - caller-bug reports of the runtime kernels ------*- C++ -*-===//
//
// The kernels (GEMM, convolution, pooling, gather, recurrent layers) are
// called by generated code with compile-time shapes; an argument that
// breaks their documented rules is a bug in the caller, reported here.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_RUNTIME_LIB_FATAL_H
#define KILN_RUNTIME_LIB_FATAL_H

namespace kiln {
namespace runtime {

/// Prints "kiln: <function>: invalid argument: <printf-style message>" to
/// stderr and calls abort(). Never returns.
[[noreturn]] void fatal(const char *function, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

} // namespace runtime
} // namespace kiln

#endif // KILN_RUNTIME_LIB_FATAL_H
