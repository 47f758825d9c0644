//===- KerasArchive.h - reading .keras archives -----------------*- C++ -*-===//
//
// A `.keras` file is a zip archive holding `config.json` (the same JSON as
// `model.to_json()`), `metadata.json` and `model.weights.h5`. Read with
// Debian's libzip.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_FRONTEND_KERAS_KERASARCHIVE_H
#define KILN_FRONTEND_KERAS_KERASARCHIVE_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>

namespace mlir::kiln::keras {

/// The most bytes readZipMember reads from one member (256 MiB): a model
/// config is a few MB even for thousands of layers.
constexpr uint64_t kMaxZipMemberBytes = uint64_t(256) << 20;

/// The text of the member `member` of the zip archive at `path`. Errors: no
/// such member, a read or inflate error, a member above kMaxZipMemberBytes
/// (by its directory entry or by its inflated bytes), or inflated bytes
/// that differ from the directory's size.
llvm::Expected<std::string> readZipMember(llvm::StringRef path,
                                          llvm::StringRef member);

/// Whether the zip archive at `path` has a member named `member` (false if
/// the archive cannot be opened). Reads only the central directory.
bool hasZipMember(llvm::StringRef path, llvm::StringRef member);

} // namespace mlir::kiln::keras

#endif // KILN_FRONTEND_KERAS_KERASARCHIVE_H
