//===- Checkpoint.cpp - safetensors checkpoints -----------------*- C++ -*-===//
//
// The implementation of Checkpoint.h: a safetensors writer and reader.
//
// File layout (https://huggingface.co/docs/safetensors):
//
//   bytes [0, 8)        N, the header length, a little-endian u64
//   bytes [8, 8 + N)    the header: UTF-8 JSON, an object
//   bytes [8 + N, EOF)  the data section
//
// The header maps each tensor name to
//   {"dtype":"F32","shape":[2,3],"data_offsets":[begin,end]}
// with [begin, end) relative to the start of the data section, and may hold
// "__metadata__": {string: string}.
//
// The writer emits the header as compact JSON: "__metadata__" first (only
// when there is metadata; its keys sorted), then the tensors in the order
// given, each with its keys in the order dtype, shape, data_offsets. The
// data is contiguous, in the same order, with no padding; the header is
// padded with trailing spaces so that N is a multiple of 8, as the
// reference implementation does, so the data section starts 8-byte aligned.
//
// The reader accepts any valid safetensors file with the dtypes dtypeSize
// knows: header keys in any order, gaps between tensors. It rejects
// overlapping tensors (no valid writer produces them, and they would let a
// small file request many copies of its data section) and duplicate names
// in the header (a JSON parser would silently keep only one of them).
//
// Errors: internally a check that fails throws a Failure carrying the full
// message; the two entry points catch it and every other exception
// (std::bad_alloc, nlohmann's exceptions), so that nothing escapes them.
//
//===----------------------------------------------------------------------===//

#include "Checkpoint.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln::driver {
namespace {

using Json = nlohmann::json;

/// The largest header the reader accepts, as the reference implementation
/// (100 MB): a corrupt length must not make us allocate gigabytes.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

/// The deepest nesting of arrays and objects the reader accepts in a
/// header. A safetensors header nests 3 levels ({"t": {"shape": [..]}});
/// nlohmann's parser is iterative, but dump() (used for the excerpts in
/// error messages) recurses, and a header nested 200,000 levels deep
/// overflowed the stack.
constexpr size_t kMaxHeaderDepth = 64;

/// The header key that holds the metadata instead of a tensor.
constexpr const char *kMetadataKey = "__metadata__";

/// A failed check; `message` is the complete message, starting with the
/// path.
struct Failure {
  std::string message;
};

[[noreturn]] void fail(std::string message) {
  throw Failure{std::move(message)};
}

std::string errnoMessage(int error) {
  return std::system_category().message(error);
}

/// Stores `message` in `*error` (if any) without letting an allocation
/// failure escape.
void setError(std::string *error, const std::string &message) {
  if (!error)
    return;
  try {
    *error = message;
  } catch (...) {
    error->clear();
  }
}

/// Runs `body` (which returns nothing or throws) and turns its outcome into
/// the API's bool + message: a Failure's message as is, any other exception
/// as "<path>: <what()>".
template <typename Body>
bool guarded(const std::string &path, std::string *error, Body &&body) {
  try {
    body();
    return true;
  } catch (const Failure &failure) {
    setError(error, failure.message);
  } catch (const std::bad_alloc &) {
    setError(error, path + ": out of memory");
  } catch (const std::exception &exception) {
    setError(error, path + ": " + exception.what());
  } catch (...) {
    setError(error, path + ": unknown error");
  }
  return false;
}

/// A file descriptor closed on destruction.
class FileDescriptor {
public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd(fd) {}
  FileDescriptor(const FileDescriptor &) = delete;
  FileDescriptor &operator=(const FileDescriptor &) = delete;
  ~FileDescriptor() { reset(); }

  int get() const { return fd; }
  void reset(int newFd = -1) {
    if (fd >= 0)
      ::close(fd);
    fd = newFd;
  }
  /// Closes now and returns 0 or the errno of close. The descriptor is gone
  /// either way (on Linux, retrying close after an error is wrong).
  int close() {
    int result = ::close(fd);
    fd = -1;
    return result == 0 ? 0 : errno;
  }

private:
  int fd = -1;
};

int openRetrying(const char *path, int flags, mode_t mode = 0) {
  int fd;
  do
    fd = ::open(path, flags, mode);
  while (fd < 0 && errno == EINTR);
  return fd;
}

/// "[2, 3]", "[]".
std::string formatShape(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

/// "F32[2, 3]".
std::string formatType(const std::string &dtype,
                       const std::vector<int64_t> &shape) {
  return dtype + formatShape(shape);
}

/// Whether `text` is well-formed UTF-8 (no overlong forms, no surrogates,
/// nothing above U+10FFFF): JSON text must be, and nlohmann refuses to
/// serialize anything else.
bool isValidUtf8(const std::string &text) {
  const auto *bytes = reinterpret_cast<const unsigned char *>(text.data());
  size_t size = text.size();
  size_t i = 0;
  while (i < size) {
    unsigned char lead = bytes[i];
    size_t length;
    uint32_t lowest;
    uint32_t code;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2, lowest = 0x80, code = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3, lowest = 0x800, code = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4, lowest = 0x10000, code = lead & 0x07;
    } else {
      return false;
    }
    if (size - i < length)
      return false;
    for (size_t k = 1; k < length; ++k) {
      if ((bytes[i + k] & 0xC0) != 0x80)
        return false;
      code = (code << 6) | (bytes[i + k] & 0x3F);
    }
    if (code < lowest || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
      return false;
    i += length;
  }
  return true;
}

/// A short rendering of a JSON value for an error message.
std::string brief(const Json &value) {
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  constexpr size_t kLimit = 40;
  if (text.size() > kLimit)
    text = text.substr(0, kLimit) + "...";
  return text;
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

/// Checks the arguments of writeCheckpoint and returns the data offsets,
/// one [begin, end) pair per tensor, contiguous in the order given.
std::vector<std::pair<uint64_t, uint64_t>>
checkWriteArguments(const std::string &path,
                    const std::map<std::string, std::string> &metadata,
                    const std::vector<TensorView> &tensors) {
  if (path.empty())
    fail("(empty path): cannot write a checkpoint to an empty path");
  for (const auto &[key, value] : metadata) {
    if (!isValidUtf8(key))
      fail(path + ": metadata key '" + key + "' is not valid UTF-8");
    if (!isValidUtf8(value))
      fail(path + ": metadata value of '" + key + "' is not valid UTF-8");
  }

  std::vector<std::pair<uint64_t, uint64_t>> offsets;
  offsets.reserve(tensors.size());
  std::set<std::string> names;
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorView &tensor = tensors[i];
    if (tensor.name.empty())
      fail(path + ": tensor #" + std::to_string(i) + ": empty name");
    std::string prefix = path + ": tensor '" + tensor.name + "': ";
    if (tensor.name == kMetadataKey)
      fail(prefix + "the name is reserved for the metadata");
    if (!isValidUtf8(tensor.name))
      fail(prefix + "the name is not valid UTF-8");
    if (!names.insert(tensor.name).second)
      fail(prefix + "duplicate tensor name");
    size_t elementSize = dtypeSize(tensor.dtype);
    if (elementSize == 0)
      fail(prefix + "unknown dtype '" + tensor.dtype + "'");
    int64_t elements = 1;
    for (int64_t dim : tensor.shape) {
      if (dim < 0)
        fail(prefix + "shape " + formatShape(tensor.shape) +
             " has a negative dimension");
      if (__builtin_mul_overflow(elements, dim, &elements))
        fail(prefix + "the element count of shape " +
             formatShape(tensor.shape) + " overflows int64");
    }
    uint64_t needed;
    bool overflow =
        __builtin_mul_overflow(static_cast<uint64_t>(elements),
                               static_cast<uint64_t>(elementSize), &needed);
    if (overflow || needed != tensor.nbytes)
      fail(prefix + "nbytes is " + std::to_string(tensor.nbytes) + " but " +
           formatType(tensor.dtype, tensor.shape) + " needs " +
           (overflow ? std::string("more than 2^64 - 1")
                     : std::to_string(needed)));
    if (tensor.nbytes > 0 && !tensor.data)
      fail(prefix + "data is null but nbytes is " +
           std::to_string(tensor.nbytes));
    uint64_t end;
    if (__builtin_add_overflow(offset, needed, &end))
      fail(prefix + "the data section would exceed 2^64 - 1 bytes");
    offsets.emplace_back(offset, end);
    offset = end;
  }
  return offsets;
}

/// The header text: compact JSON (see the file comment for the key order),
/// padded with spaces to a multiple of 8 bytes. Built by concatenation
/// rather than as one nlohmann object so that tensors keep the given order
/// at linear cost.
std::string
buildHeader(const std::map<std::string, std::string> &metadata,
            const std::vector<TensorView> &tensors,
            const std::vector<std::pair<uint64_t, uint64_t>> &offsets) {
  std::string header = "{";
  bool first = true;
  if (!metadata.empty()) {
    header += Json(kMetadataKey).dump() + ":" + Json(metadata).dump();
    first = false;
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!first)
      header += ",";
    first = false;
    header += Json(tensors[i].name).dump();
    header += ":{\"dtype\":" + Json(tensors[i].dtype).dump();
    header += ",\"shape\":" + Json(tensors[i].shape).dump();
    header += ",\"data_offsets\":[" + std::to_string(offsets[i].first) + "," +
              std::to_string(offsets[i].second) + "]}";
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  return header;
}

void writeAll(int fd, const void *buffer, size_t count, const std::string &path,
              const std::string &tmpPath) {
  const auto *in = static_cast<const char *>(buffer);
  while (count > 0) {
    ssize_t put = ::write(fd, in, count);
    if (put < 0 && errno == EINTR)
      continue;
    if (put < 0)
      fail(path + ": write to " + tmpPath + " failed: " + errnoMessage(errno));
    if (put == 0)
      fail(path + ": write to " + tmpPath + " made no progress");
    in += put;
    count -= static_cast<size_t>(put);
  }
}

/// The temporary file of an atomic write: removed on destruction unless
/// the write was committed (renamed over the destination).
struct TemporaryFile {
  std::string path;
  FileDescriptor fd;
  bool created = false;
  bool committed = false;

  ~TemporaryFile() {
    fd.reset();
    if (created && !committed)
      ::unlink(path.c_str());
  }
};

/// The directory holding `path`, for the fsync that makes a rename durable.
std::string parentDirectory(const std::string &path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos)
    return ".";
  size_t end = path.find_last_not_of('/', slash);
  return end == std::string::npos ? std::string("/") : path.substr(0, end + 1);
}

/// True if `name` is a temporary file name of writes to `base`:
/// "<base>.tmp." and the six characters mkstemp puts in place of XXXXXX.
bool isTemporaryName(const std::string &name, const std::string &base) {
  std::string prefix = base + ".tmp.";
  if (name.size() != prefix.size() + 6 ||
      name.compare(0, prefix.size(), prefix))
    return false;
  return std::all_of(name.begin() + prefix.size(), name.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z');
  });
}

/// Removes the temporary files "<path>.tmp.XXXXXX" that earlier writes left
/// behind (a process killed with SIGKILL between creating and renaming
/// its temporary file). A writer holds an exclusive flock on its temporary
/// file from creation to rename, so a file whose lock can be taken belongs
/// to no live writer. Best effort: nothing here fails the write.
void removeStaleTemporaries(const std::string &path) {
  std::string directory = parentDirectory(path);
  size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  DIR *dir = ::opendir(directory.c_str());
  if (!dir)
    return;
  std::vector<std::string> candidates;
  while (const struct dirent *entry = ::readdir(dir))
    if (isTemporaryName(entry->d_name, base))
      candidates.push_back(directory + "/" + entry->d_name);
  ::closedir(dir);
  for (const std::string &candidate : candidates) {
    // O_NONBLOCK and O_NOFOLLOW: a FIFO or a symbolic link of that name is
    // never opened through, and is not ours to remove.
    FileDescriptor fd(openRetrying(
        candidate.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    struct stat opened, named;
    if (fd.get() < 0 || ::fstat(fd.get(), &opened) != 0 ||
        !S_ISREG(opened.st_mode) || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0)
      continue;
    // Still the file we locked: then no writer can be using it.
    if (::lstat(candidate.c_str(), &named) == 0 &&
        named.st_dev == opened.st_dev && named.st_ino == opened.st_ino)
      (void)::unlink(candidate.c_str());
  }
}

/// Writes `parts` to `path` atomically (see writeFileAtomically).
void writeAtomically(
    const std::string &path,
    const std::vector<std::pair<const void *, size_t>> &parts) {
  removeStaleTemporaries(path);
  // mkstemp: a new, uniquely named file, so that no existing file (a user's
  // "<path>.tmp.123", a concurrent writer's) is ever truncated. It is
  // locked (flock) until it is renamed, so that removeStaleTemporaries of
  // another writer leaves it alone; if one removed it before the lock was
  // taken, a new one is made.
  TemporaryFile tmp;
  int fd = -1;
  for (int attempt = 0;; ++attempt) {
    tmp.path = path + ".tmp.XXXXXX";
    fd = ::mkostemp(tmp.path.data(), O_CLOEXEC);
    if (fd < 0)
      fail(path + ": cannot create " + tmp.path + ": " + errnoMessage(errno));
    tmp.fd.reset(fd);
    tmp.created = true;
    int locked;
    do
      locked = ::flock(fd, LOCK_EX);
    while (locked != 0 && errno == EINTR);
    struct stat opened, named;
    if (locked != 0 || ::fstat(fd, &opened) != 0)
      fail(path + ": cannot lock " + tmp.path + ": " + errnoMessage(errno));
    if (::lstat(tmp.path.c_str(), &named) == 0 &&
        named.st_dev == opened.st_dev && named.st_ino == opened.st_ino)
      break;
    tmp.created = false; // removed by another writer's cleanup
    tmp.fd.reset();
    if (attempt == 100)
      fail(path + ": " + tmp.path + " keeps disappearing");
  }
  // mkstemp creates the file 0600; a checkpoint or a history is data.
  (void)::fchmod(fd, 0644);

  for (const auto &[data, size] : parts)
    if (size > 0)
      writeAll(fd, data, size, path, tmp.path);
  if (::fsync(fd) != 0)
    fail(path + ": fsync of " + tmp.path + " failed: " + errnoMessage(errno));
  // The lock lives as long as one descriptor of the open file: a duplicate
  // keeps it over the rename, while close's error is still checked.
  FileDescriptor lock(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (lock.get() < 0)
    fail(path + ": cannot duplicate the descriptor of " + tmp.path + ": " +
         errnoMessage(errno));
  if (int error = tmp.fd.close())
    fail(path + ": close of " + tmp.path + " failed: " + errnoMessage(error));
  if (::rename(tmp.path.c_str(), path.c_str()) != 0)
    fail(path + ": cannot rename " + tmp.path +
         " to it: " + errnoMessage(errno));
  tmp.committed = true;
  lock.reset();

  // Make the rename durable. Best effort: the new file is already in
  // place, so failing now would break the promise that `path` is untouched
  // on failure; and some file systems reject fsync on a directory.
  FileDescriptor directory(openRetrying(parentDirectory(path).c_str(),
                                        O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (directory.get() >= 0)
    (void)::fsync(directory.get());
}

void writeImpl(const std::string &path,
               const std::map<std::string, std::string> &metadata,
               const std::vector<TensorView> &tensors) {
  // Everything that can be wrong with the arguments is found before the
  // file system is touched.
  std::vector<std::pair<uint64_t, uint64_t>> offsets =
      checkWriteArguments(path, metadata, tensors);
  std::string header = buildHeader(metadata, tensors, offsets);
  unsigned char length[8];
  uint64_t headerSize = header.size();
  for (int i = 0; i < 8; ++i)
    length[i] = static_cast<unsigned char>(headerSize >> (8 * i));
  std::vector<std::pair<const void *, size_t>> parts = {
      {length, sizeof length}, {header.data(), header.size()}};
  for (const TensorView &tensor : tensors)
    parts.push_back({tensor.data, tensor.nbytes});
  writeAtomically(path, parts);
}

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

/// Reads exactly `count` bytes at `offset`. The caller has checked the range
/// against the size from fstat, so running out of bytes means the file
/// shrank while being read.
void readExact(int fd, void *buffer, size_t count, uint64_t offset,
               const std::string &path) {
  auto *out = static_cast<char *>(buffer);
  while (count > 0) {
    ssize_t got = ::pread(fd, out, count, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      fail(path + ": read failed at byte " + std::to_string(offset) + ": " +
           errnoMessage(errno));
    if (got == 0)
      fail(path + ": unexpected end of file at byte " + std::to_string(offset) +
           " (was the file changed while it was read?)");
    out += got;
    count -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
}

/// Reads a non-negative JSON integer into `*value`; false if `json` is not
/// one (a float, a negative number, anything else, or too large: nlohmann
/// stores integers above 2^64 - 1 as floats).
bool getUnsigned(const Json &json, uint64_t *value) {
  if (json.is_number_unsigned()) {
    *value = json.get<uint64_t>();
    return true;
  }
  if (json.is_number_integer() && json.get<int64_t>() >= 0) {
    *value = static_cast<uint64_t>(json.get<int64_t>());
    return true;
  }
  return false;
}

std::map<std::string, std::string> parseMetadata(const Json &json,
                                                 const std::string &path) {
  if (!json.is_object())
    fail(path + ": " + kMetadataKey +
         " is not an object of strings: " + brief(json));
  std::map<std::string, std::string> metadata;
  for (const auto &[key, value] : json.items()) {
    if (!value.is_string())
      fail(path + ": " + kMetadataKey + " entry '" + excerpt(key) +
           "' is not a string: " + brief(value));
    metadata.emplace(key, value.get<std::string>());
  }
  return metadata;
}

/// A tensor entry of the header, checked against the data section.
struct TensorEntry {
  std::string name;
  LoadedTensor tensor;
  uint64_t begin = 0;
  uint64_t end = 0;
};

TensorEntry parseTensor(const std::string &name, const Json &json,
                        uint64_t dataSize, const std::string &path) {
  std::string prefix = path + ": tensor '" + excerpt(name) + "': ";
  if (!json.is_object())
    fail(prefix + "entry is not an object: " + brief(json));
  TensorEntry entry;
  entry.name = name;

  auto dtype = json.find("dtype");
  if (dtype == json.end())
    fail(prefix + "missing \"dtype\"");
  if (!dtype->is_string())
    fail(prefix + "dtype is not a string: " + brief(*dtype));
  entry.tensor.dtype = dtype->get<std::string>();
  size_t elementSize = dtypeSize(entry.tensor.dtype);
  if (elementSize == 0)
    fail(prefix + "unknown dtype '" + entry.tensor.dtype + "'");

  auto shape = json.find("shape");
  if (shape == json.end())
    fail(prefix + "missing \"shape\"");
  if (!shape->is_array())
    fail(prefix +
         "shape is not a list of non-negative integers: " + brief(*shape));
  int64_t elements = 1;
  for (size_t i = 0; i < shape->size(); ++i) {
    const Json &dimJson = (*shape)[i];
    uint64_t dim;
    if (!getUnsigned(dimJson, &dim))
      fail(prefix + "shape is not a list of non-negative integers: element " +
           std::to_string(i) + " is " + brief(dimJson));
    if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(prefix + "shape element " + std::to_string(i) + " (" +
           std::to_string(dim) + ") overflows int64");
    entry.tensor.shape.push_back(static_cast<int64_t>(dim));
  }
  // Overflow is checked after all elements are known to be valid, so that a
  // zero later in the shape does not hide a negative one.
  for (int64_t dim : entry.tensor.shape)
    if (__builtin_mul_overflow(elements, dim, &elements))
      fail(prefix + "the element count of shape " +
           formatShape(entry.tensor.shape) + " overflows int64");

  auto offsets = json.find("data_offsets");
  if (offsets == json.end())
    fail(prefix + "missing \"data_offsets\"");
  if (!offsets->is_array() || offsets->size() != 2 ||
      !getUnsigned((*offsets)[0], &entry.begin) ||
      !getUnsigned((*offsets)[1], &entry.end))
    fail(prefix + "data_offsets is not a list of two non-negative integers: " +
         brief(*offsets));
  std::string range = "data_offsets [" + std::to_string(entry.begin) + ", " +
                      std::to_string(entry.end) + "]";
  if (entry.begin > entry.end)
    fail(prefix + range + " has begin > end");
  if (entry.end > dataSize)
    fail(prefix + range + " runs past the end of the data section (" +
         std::to_string(dataSize) + " bytes)");
  uint64_t needed;
  bool overflow =
      __builtin_mul_overflow(static_cast<uint64_t>(elements),
                             static_cast<uint64_t>(elementSize), &needed);
  if (overflow || needed != entry.end - entry.begin)
    fail(prefix + range + " hold " + std::to_string(entry.end - entry.begin) +
         " bytes but " + formatType(entry.tensor.dtype, entry.tensor.shape) +
         " needs " +
         (overflow ? std::string("more than 2^64 - 1")
                   : std::to_string(needed)));
  return entry;
}

void readImpl(const std::string &path, LoadedCheckpoint *out) {
  if (!out)
    fail(path + ": no output checkpoint given");
  FileDescriptor fd(openRetrying(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0)
    fail(path + ": cannot open: " + errnoMessage(errno));
  struct stat info;
  if (::fstat(fd.get(), &info) != 0)
    fail(path + ": cannot stat: " + errnoMessage(errno));
  if (S_ISDIR(info.st_mode))
    fail(path + ": is a directory");
  if (!S_ISREG(info.st_mode))
    fail(path + ": not a regular file");
  uint64_t fileSize = static_cast<uint64_t>(info.st_size);

  if (fileSize < 8)
    fail(path + ": file is " + std::to_string(fileSize) +
         " bytes, shorter than the 8-byte header length");
  unsigned char length[8];
  readExact(fd.get(), length, sizeof length, 0, path);
  uint64_t headerSize = 0;
  for (int i = 7; i >= 0; --i)
    headerSize = (headerSize << 8) | length[i];
  if (headerSize > kMaxHeaderBytes)
    fail(path + ": not a safetensors file: header length " +
         std::to_string(headerSize) + " is above the limit of " +
         std::to_string(kMaxHeaderBytes) + " bytes (100 MB)");
  if (headerSize > fileSize - 8)
    fail(path + ": truncated or not a safetensors file: header length " +
         std::to_string(headerSize) + " runs past the end of the file (" +
         std::to_string(fileSize) + " bytes)");

  std::string headerText(headerSize, '\0');
  readExact(fd.get(), headerText.data(), headerText.size(), 8, path);
  // Duplicate top-level keys are recorded by the parser callback (depth 1 is
  // inside the root object); the parser itself would keep only the last.
  // nlohmann's lexer takes a NUL byte outside a string for the end of the
  // input (so "{}\0garbage" would parse); raw NULs are never valid JSON.
  size_t nul = headerText.find('\0');
  if (nul != std::string::npos)
    fail(path + ": header is not valid JSON: NUL byte at header offset " +
         std::to_string(nul));
  // Nesting depth, before any parser sees the text (strings skipped).
  size_t depth = 0;
  bool inString = false, escaped = false;
  for (size_t i = 0; i < headerText.size(); ++i) {
    char c = headerText[i];
    if (inString) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxHeaderDepth)
        fail(path + ": not a safetensors header: JSON nested more than " +
             std::to_string(kMaxHeaderDepth) +
             " levels deep at header offset " + std::to_string(i));
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  std::set<std::string> keys;
  std::string duplicate;
  Json header;
  try {
    header = Json::parse(
        headerText, [&](int depth, Json::parse_event_t event, Json &key) {
          if (depth == 1 && event == Json::parse_event_t::key &&
              !keys.insert(key.get<std::string>()).second && duplicate.empty())
            duplicate = key.get<std::string>();
          return true;
        });
  } catch (const Json::parse_error &exception) {
    fail(path + ": header is not valid JSON: " + exception.what());
  }
  if (!header.is_object())
    fail(path + ": header is not a JSON object: " + brief(header));
  if (!duplicate.empty())
    fail(path + ": header has more than one entry '" + excerpt(duplicate) +
         "'");

  uint64_t dataStart = 8 + headerSize;
  uint64_t dataSize = fileSize - dataStart;
  LoadedCheckpoint result;
  std::vector<TensorEntry> entries;
  for (const auto &[key, value] : header.items()) {
    if (key == kMetadataKey)
      result.metadata = parseMetadata(value, path);
    else
      entries.push_back(parseTensor(key, value, dataSize, path));
  }

  // Non-empty tensors must not share bytes. This also bounds what the
  // reader allocates by the size of the file.
  std::vector<const TensorEntry *> byOffset;
  for (const TensorEntry &entry : entries)
    if (entry.end > entry.begin)
      byOffset.push_back(&entry);
  std::sort(byOffset.begin(), byOffset.end(),
            [](const TensorEntry *a, const TensorEntry *b) {
              return a->begin < b->begin;
            });
  for (size_t i = 1; i < byOffset.size(); ++i) {
    const TensorEntry &previous = *byOffset[i - 1];
    const TensorEntry &current = *byOffset[i];
    if (current.begin < previous.end)
      fail(path + ": tensor '" + excerpt(current.name) + "': data_offsets [" +
           std::to_string(current.begin) + ", " + std::to_string(current.end) +
           "] overlap those of tensor '" + excerpt(previous.name) + "' [" +
           std::to_string(previous.begin) + ", " +
           std::to_string(previous.end) + "]");
  }

  for (TensorEntry &entry : entries) {
    entry.tensor.bytes.resize(entry.end - entry.begin);
    if (!entry.tensor.bytes.empty())
      readExact(fd.get(), entry.tensor.bytes.data(), entry.tensor.bytes.size(),
                dataStart + entry.begin, path);
    result.tensors.emplace(std::move(entry.name), std::move(entry.tensor));
  }
  *out = std::move(result);
}

} // namespace

bool writeCheckpoint(const std::string &path,
                     const std::map<std::string, std::string> &metadata,
                     const std::vector<TensorView> &tensors,
                     std::string *error) {
  return guarded(path, error, [&] { writeImpl(path, metadata, tensors); });
}

bool readCheckpoint(const std::string &path, LoadedCheckpoint *out,
                    std::string *error) {
  return guarded(path, error, [&] { readImpl(path, out); });
}

bool writeFileAtomically(
    const std::string &path,
    const std::vector<std::pair<const void *, size_t>> &parts,
    std::string *error) {
  return guarded(path, error, [&] { writeAtomically(path, parts); });
}

std::string excerpt(const std::string &text, size_t limit) {
  if (text.size() <= limit)
    return text;
  return text.substr(0, limit) + "... (" + std::to_string(text.size()) +
         " bytes)";
}

size_t dtypeSize(const std::string &dtype) {
  static const struct {
    const char *name;
    size_t size;
  } kSizes[] = {
      {"F32", 4},  {"F64", 8}, {"I32", 4},  {"I64", 8}, {"U8", 1},
      {"BOOL", 1}, {"F16", 2}, {"BF16", 2}, {"I8", 1},  {"I16", 2},
      {"U16", 2},  {"U32", 4}, {"U64", 8},
  };
  for (const auto &entry : kSizes)
    if (dtype == entry.name)
      return entry.size;
  return 0;
}

} // namespace kiln::driver
