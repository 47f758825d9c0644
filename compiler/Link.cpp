//===- Link.cpp - link a model's object into a program --------------------===//
//
// Finds the driver and runtime archives and runs the C++ compiler driver.
//
//===----------------------------------------------------------------------===//

#include "compiler/Link.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <optional>
#include <vector>

using namespace mlir::kiln;
using llvm::StringRef;

namespace {
llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// The archive `name` (e.g. "libkiln_driver.a"): in `runtimeDir`, else
/// where the build put it, else in <running program's dir>/../lib.
std::optional<std::string> findArchive(StringRef name, StringRef builtPath,
                                       StringRef runtimeDir) {
  llvm::SmallVector<std::string> candidates;
  if (!runtimeDir.empty()) {
    candidates.push_back((runtimeDir + "/" + name).str());
  } else {
    candidates.push_back(builtPath.str());
    std::string self = llvm::sys::fs::getMainExecutable(
        nullptr, reinterpret_cast<void *>(&findArchive));
    llvm::SmallString<256> lib(
        llvm::sys::path::parent_path(llvm::sys::path::parent_path(self)));
    llvm::sys::path::append(lib, "lib", name);
    candidates.push_back(lib.str().str());
  }
  for (const std::string &path : candidates)
    if (llvm::sys::fs::exists(path))
      return path;
  return std::nullopt;
}
} // namespace

llvm::Expected<LinkedFile>
mlir::kiln::linkModel(llvm::ArrayRef<llvm::SmallString<0>> objects,
                      StringRef path, const LinkOptions &options) {
  // The archives, in link order.
  llvm::SmallVector<std::pair<StringRef, StringRef>> wanted;
  if (!options.sharedLibrary)
    wanted.push_back({"libkiln_main.a", KILN_MAIN_ARCHIVE});
  wanted.push_back({"libkiln_driver.a", KILN_DRIVER_ARCHIVE});
  wanted.push_back({"libkiln_runtime.a", KILN_RUNTIME_ARCHIVE});
  llvm::SmallVector<std::string> archives;
  for (auto [name, built] : wanted) {
    std::optional<std::string> found =
        findArchive(name, built, options.runtimeDir);
    if (!found)
      return error("cannot find " + name +
                   (options.runtimeDir.empty()
                        ? llvm::Twine(" (give --runtime-dir)")
                        : " in " + options.runtimeDir));
    archives.push_back(*found);
  }
  std::string linkerPath = options.linker;
  if (!linkerPath.empty() && !StringRef(linkerPath).contains('/')) {
    // A bare name is looked up on PATH, as a shell would.
    auto found = llvm::sys::findProgramByName(linkerPath);
    if (!found)
      return error("--linker: no program '" + options.linker + "' on PATH");
    linkerPath = *found;
  }
  if (linkerPath.empty()) {
    for (StringRef candidate : {"clang++-19", "clang++", "c++", "g++"})
      if (auto found = llvm::sys::findProgramByName(candidate)) {
        linkerPath = *found;
        break;
      }
    if (linkerPath.empty())
      return error("no C++ compiler driver to link with (clang++-19, "
                   "clang++, c++ or g++ on PATH); give --linker");
  }

  // The objects go to temporary files that are removed afterwards.
  std::vector<std::string> objectPaths;
  std::vector<std::unique_ptr<llvm::FileRemover>> removers;
  for (const llvm::SmallString<0> &object : objects) {
    llvm::SmallString<128> objectPath;
    int fd = -1;
    if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
            "kilnc-" + options.name, "o", fd, objectPath))
      return error("cannot create a temporary file: " + ec.message());
    removers.push_back(std::make_unique<llvm::FileRemover>(objectPath));
    objectPaths.push_back(objectPath.str().str());
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os.write(object.data(), object.size());
    os.close();
    if (os.has_error())
      return error("cannot write " + objectPath + ": " + os.error().message());
  }

  // A unique temporary name never replaces an existing file.
  llvm::SmallString<256> temporaryName;
  llvm::sys::fs::createUniquePath(path + ".kilnc-tmp-%%%%%%", temporaryName,
                                  /*MakeAbsolute=*/false);
  std::string temporary = temporaryName.str().str();
  llvm::SmallVector<std::string> args = {linkerPath, "-o", temporary};
  if (options.sharedLibrary)
    args.push_back("-shared");
  args.append(objectPaths.begin(), objectPaths.end());
  if (options.sharedLibrary)
    args.push_back("-Wl,--whole-archive");
  args.append(archives.begin(), archives.end());
  if (options.sharedLibrary)
    args.push_back("-Wl,--no-whole-archive");
  if (!options.sharedLibrary) {
    // kiln_main's Keras exporter: HDF5 and libzip, as this build found them
    // (a ','-separated list of libraries).
    llvm::SmallVector<StringRef> libs;
    StringRef(KILN_MAIN_LINK_LIBS).split(libs, ',', -1, false);
    for (StringRef lib : libs)
      args.push_back(lib.str());
  }
  args.append({"-pthread", "-lm"});
#ifdef KILN_LINK_SANITIZE_FLAGS
  // This kilnc's archives were built with sanitizers (KILN_SANITIZE).
  args.push_back(KILN_LINK_SANITIZE_FLAGS);
#endif
  llvm::SmallVector<StringRef> argRefs(args.begin(), args.end());
  std::string message;
  int status = llvm::sys::ExecuteAndWait(linkerPath, argRefs, std::nullopt, {},
                                         0, 0, &message);
  if (status != 0) {
    llvm::sys::fs::remove(temporary);
    return error("linking failed (status " + llvm::Twine(status) + ")" +
                 (message.empty() ? "" : ": " + message) + "\n  " +
                 llvm::join(args, " "));
  }
  LinkedFile linked;
  linked.temporary = temporary;
  linked.path = path.str();
  llvm::sys::fs::file_size(temporary, linked.size);
  return linked;
}
