//===- KerasArchive.cpp - reading .keras archives with libzip -------------===//

#include "frontend/keras/KerasArchive.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/Twine.h"

#include <zip.h>

namespace {
llvm::Error tooLarge(const std::string &name, uint64_t size) {
  return llvm::createStringError(
      llvm::Twine("'") + name + "' is " + llvm::Twine(size) +
      " bytes or more, above the limit of " +
      llvm::Twine(mlir::kiln::keras::kMaxZipMemberBytes) +
      " bytes for a member of a .keras archive; extract it and give kilnc "
      "the .json instead");
}
} // namespace

llvm::Expected<std::string>
mlir::kiln::keras::readZipMember(llvm::StringRef path, llvm::StringRef member) {
  int errorCode = 0;
  std::string pathText = path.str();
  zip_t *archive = zip_open(pathText.c_str(), ZIP_RDONLY, &errorCode);
  if (!archive) {
    zip_error_t error;
    zip_error_init_with_code(&error, errorCode);
    std::string message = zip_error_strerror(&error);
    zip_error_fini(&error);
    return llvm::createStringError("cannot open the archive: " + message);
  }
  auto closeArchive = llvm::make_scope_exit([&] { zip_discard(archive); });
  std::string name = member.str();
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat(archive, name.c_str(), 0, &stat) != 0 ||
      !(stat.valid & ZIP_STAT_SIZE))
    return llvm::createStringError("the archive has no '" + name +
                                   "' (not a Keras 3 .keras file?)");
  zip_file_t *file = zip_fopen(archive, name.c_str(), 0);
  if (!file)
    return llvm::createStringError(llvm::Twine("cannot read '") + name +
                                   "': " + zip_strerror(archive));
  auto closeFile = llvm::make_scope_exit([&] { zip_fclose(file); });
  // The size in the archive's directory is a claim: the text grows with
  // the bytes actually inflated, so a 100-byte archive claiming 4 GB
  // allocates nothing big, and more than kMaxZipMemberBytes is refused.
  if (stat.size > kMaxZipMemberBytes)
    return tooLarge(name, stat.size);
  std::string text;
  char buffer[64 * 1024];
  while (true) {
    zip_int64_t read = zip_fread(file, buffer, sizeof buffer);
    if (read < 0)
      return llvm::createStringError(llvm::Twine("cannot read '") + name +
                                     "': " + zip_file_strerror(file));
    if (read == 0)
      break;
    if (text.size() + static_cast<size_t>(read) > kMaxZipMemberBytes)
      return tooLarge(name, text.size() + static_cast<size_t>(read));
    text.append(buffer, static_cast<size_t>(read));
  }
  if (text.size() != stat.size)
    return llvm::createStringError(
        llvm::Twine("cannot read '") + name + "': the archive says it has " +
        llvm::Twine(stat.size) + " bytes, it holds " +
        llvm::Twine(text.size()));
  return text;
}

bool mlir::kiln::keras::hasZipMember(llvm::StringRef path,
                                     llvm::StringRef member) {
  int errorCode = 0;
  std::string pathText = path.str();
  zip_t *archive = zip_open(pathText.c_str(), ZIP_RDONLY, &errorCode);
  if (!archive)
    return false;
  auto closeArchive = llvm::make_scope_exit([&] { zip_discard(archive); });
  return zip_name_locate(archive, member.str().c_str(), 0) >= 0;
}
