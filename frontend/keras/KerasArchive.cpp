//===- KerasArchive.cpp - reading .keras archives with libzip -------------===//

#include "frontend/keras/KerasArchive.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/Twine.h"

#include <zip.h>

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
  std::string text(stat.size, '\0');
  zip_int64_t read = zip_fread(file, text.data(), stat.size);
  if (read < 0 || static_cast<zip_uint64_t>(read) != stat.size)
    return llvm::createStringError(llvm::Twine("cannot read '") + name +
                                   "': " + zip_file_strerror(file));
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
