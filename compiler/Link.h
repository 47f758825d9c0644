//===- Link.h - link a model's object into a program ------------*- C++ -*-===//
//
// `kilnc --emit=exe|lib`: the model's object file plus the training driver
// and runtime archives (libkiln_main.a for executables, libkiln_driver.a,
// libkiln_runtime.a) linked by a C++ compiler driver into an executable or
// a shared library exporting the model and the session API.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_COMPILER_LINK_H
#define KILN_COMPILER_LINK_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>

namespace mlir::kiln {

struct LinkOptions {
  /// A shared library (-shared, archives whole) instead of an executable.
  bool sharedLibrary = false;
  /// Directory of the archives; empty: where kilnc's build put them, then
  /// <directory of the running program>/../lib.
  std::string runtimeDir;
  /// The C++ compiler driver (a name on PATH or a path); empty: the first
  /// of clang++-19, clang++, c++, g++ on PATH.
  std::string linker;
  /// Stem of the temporary object file's name.
  std::string name = "model";
};

/// A linked output waiting under a temporary name next to its destination.
struct LinkedFile {
  std::string temporary, path;
  uint64_t size = 0;
};

/// Links the model's `objects` (one or more object files in memory) into a
/// new file beside `path` (a unique temporary name, never an existing
/// file); the caller renames it over `path` when the whole compilation
/// succeeded, or removes it. Errors: a missing archive, no linker, the
/// linker's failure (with its command line).
llvm::Expected<LinkedFile>
linkModel(llvm::ArrayRef<llvm::SmallString<0>> objects, llvm::StringRef path,
          const LinkOptions &options);

} // namespace mlir::kiln

#endif // KILN_COMPILER_LINK_H
