//===- FuzzUtil.h - shared helpers of the libFuzzer harnesses ---*- C++ -*-===//
//
// The readers under test take file paths, as kilnc and the generated
// programs do: each harness writes the fuzzer's bytes to a file in a scratch
// directory of its own (created once per process under $TMPDIR, removed at
// exit) and calls the reader on it.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_TESTS_FUZZ_FUZZUTIL_H
#define KILN_TESTS_FUZZ_FUZZUTIL_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace kiln_fuzz {

/// The process's scratch directory (absolute, no trailing slash). Aborts if
/// it cannot be created: a harness without it would test nothing.
inline const std::string &scratchDir() {
  static const std::string dir = [] {
    const char *tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp && *tmp ? tmp : "/tmp") + "/kiln-fuzz-XXXXXX";
    if (!mkdtemp(pattern.data())) {
      std::perror("kiln fuzz: mkdtemp");
      std::abort();
    }
    static std::string removeAtExit;
    removeAtExit = pattern;
    std::atexit([] {
      std::string command = "rm -rf '" + removeAtExit + "'";
      if (std::system(command.c_str()) != 0)
        std::fprintf(stderr, "kiln fuzz: cannot remove %s\n",
                     removeAtExit.c_str());
    });
    return pattern;
  }();
  return dir;
}

/// Writes `size` bytes to `name` in the scratch directory (replacing it)
/// and returns the file's path. Aborts on an I/O error.
inline std::string writeScratchFile(const std::string &name,
                                    const uint8_t *data, size_t size) {
  std::string path = scratchDir() + "/" + name;
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f || (size && std::fwrite(data, 1, size, f) != size) ||
      std::fclose(f) != 0) {
    std::perror(("kiln fuzz: " + path).c_str());
    std::abort();
  }
  return path;
}

} // namespace kiln_fuzz

#endif // KILN_TESTS_FUZZ_FUZZUTIL_H
