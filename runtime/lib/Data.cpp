//===- Data.cpp - arrays and NPY, IDX, CSV file I/O -------------*- C++ -*-===//
//
// The implementation of kiln/data.h: kiln_array_t allocation, a .npy reader
// and writer, an IDX (MNIST) reader and a numeric CSV reader.
//
// Every loader checks the whole file against its header before allocating
// (so a corrupt header cannot request a huge buffer) and reports the first
// problem as a one-line message naming the file and the line or byte offset.
// Internally, functions return a kiln_status_t and put the message in a
// Diagnostic; the extern "C" entry points copy it to the caller's buffer and
// turn C++ exceptions (std::bad_alloc from std::string / std::vector) into
// status codes, since no exception may cross the C boundary.
//
// Files are read with POSIX open/read and written with open/write/fsync/
// rename: the atomic replace of kiln_npy_save needs fsync and rename anyway,
// and fstat gives the file size up front.
//
//===----------------------------------------------------------------------===//

#include "kiln/data.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

// Element bytes are copied between files and memory as they are; both .npy
// (as written by kiln_npy_save, '<') and the io region are little-endian.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "kiln's data I/O (Data.cpp) supports little-endian hosts only"
#endif

namespace {

//===----------------------------------------------------------------------===//
// Messages
//===----------------------------------------------------------------------===//

/// Collects the message of the first failure of a call and copies it to the
/// caller's error buffer.
class Diagnostic {
public:
  Diagnostic(char *buffer, size_t size) : buffer(buffer), size(size) {
    if (buffer && size > 0)
      buffer[0] = '\0';
  }

  /// Records `message` (the first line of the result the caller sees) and
  /// returns `status`, so that failures read `return diag.fail(...)`.
  kiln_status_t fail(kiln_status_t status, std::string_view message) {
    if (!buffer || size == 0)
      return status;
    size_t length = std::min(message.size(), size - 1);
    for (size_t i = 0; i < length; ++i) {
      char c = message[i];
      // One line, even if a path contains a newline.
      buffer[i] = (c == '\n' || c == '\r') ? ' ' : c;
    }
    buffer[length] = '\0';
    return status;
  }

private:
  char *buffer;
  size_t size;
};

/// Appends `text` to `out` quoted for a message: control bytes become '?'
/// and text beyond `maxLength` bytes is cut and marked with "...".
void appendQuoted(std::string &out, std::string_view text,
                  size_t maxLength = 40) {
  out += '\'';
  size_t length = std::min(text.size(), maxLength);
  for (size_t i = 0; i < length; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  }
  if (length < text.size())
    out += "...";
  out += '\'';
}

std::string quoted(std::string_view text, size_t maxLength = 40) {
  std::string out;
  appendQuoted(out, text, maxLength);
  return out;
}

std::string errnoMessage(int error) {
  return std::generic_category().message(error);
}

/// Formats a shape the way Python prints a tuple: "()", "(5,)", "(2, 3)".
std::string formatShape(const int64_t *shape, int32_t rank) {
  std::string out = "(";
  for (int32_t i = 0; i < rank; ++i) {
    if (i > 0)
      out += ", ";
    out += std::to_string(shape[i]);
  }
  if (rank == 1)
    out += ',';
  out += ')';
  return out;
}

//===----------------------------------------------------------------------===//
// Element types and arrays
//===----------------------------------------------------------------------===//

bool isValidDtype(kiln_dtype_t dtype) { return kiln_dtype_size(dtype) != 0; }

/// Multiplies the dimensions of `shape`, returning false on a negative
/// dimension or if the element count or the byte size overflows.
bool computeSizes(kiln_dtype_t dtype, int32_t rank, const int64_t *shape,
                  int64_t &outCount, size_t &outBytes) {
  int64_t count = 1;
  for (int32_t i = 0; i < rank; ++i) {
    if (shape[i] < 0 || __builtin_mul_overflow(count, shape[i], &count))
      return false;
  }
  size_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(count),
                             static_cast<uint64_t>(kiln_dtype_size(dtype)),
                             &bytes))
    return false;
  outCount = count;
  outBytes = bytes;
  return true;
}

/// Finds the first bool element that is neither 0 nor 1; returns its index
/// or -1.
int64_t findBadBool(const kiln_array_t &array) {
  const auto *bytes = static_cast<const unsigned char *>(array.data);
  for (size_t i = 0; i < array.nbytes; ++i)
    if (bytes[i] > 1)
      return static_cast<int64_t>(i);
  return -1;
}

//===----------------------------------------------------------------------===//
// Files
//===----------------------------------------------------------------------===//

/// A POSIX file descriptor closed on destruction.
class FileDescriptor {
public:
  FileDescriptor() = default;
  FileDescriptor(const FileDescriptor &) = delete;
  FileDescriptor &operator=(const FileDescriptor &) = delete;
  ~FileDescriptor() { reset(); }

  int get() const { return fd; }
  void reset(int newFd = -1) {
    if (fd >= 0)
      ::close(fd);
    fd = newFd;
  }
  /// Closes the descriptor and returns 0, or an errno value if close failed
  /// (which can report a deferred write error).
  int close() {
    int result = 0;
    if (fd >= 0 && ::close(fd) != 0)
      result = errno;
    fd = -1;
    return result;
  }

private:
  int fd = -1;
};

/// A regular file opened for reading, with its size.
struct InputFile {
  std::string path;
  FileDescriptor fd;
  uint64_t size = 0;
  /// Bytes consumed by read() so far: the offset of the next byte.
  uint64_t offset = 0;
};

kiln_status_t openInput(const char *path, InputFile &file, Diagnostic &diag) {
  file.path = path;
  int fd;
  do
    fd = ::open(path, O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return diag.fail(KILN_ERROR_IO,
                     file.path + ": cannot open: " + errnoMessage(errno));
  file.fd.reset(fd);
  struct stat info;
  if (::fstat(fd, &info) != 0)
    return diag.fail(KILN_ERROR_IO,
                     file.path + ": cannot stat: " + errnoMessage(errno));
  if (S_ISDIR(info.st_mode))
    return diag.fail(KILN_ERROR_IO, file.path + ": is a directory");
  if (!S_ISREG(info.st_mode))
    return diag.fail(KILN_ERROR_IO, file.path + ": not a regular file");
  file.size = static_cast<uint64_t>(info.st_size);
  return KILN_OK;
}

/// Reads exactly `count` bytes at the current offset. The caller has
/// checked them against the size from fstat, so running out of bytes means
/// the file shrank while being read.
kiln_status_t readExact(InputFile &file, void *buffer, size_t count,
                        Diagnostic &diag) {
  auto *out = static_cast<char *>(buffer);
  while (count > 0) {
    ssize_t got = ::read(file.fd.get(), out, count);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      return diag.fail(KILN_ERROR_IO, file.path + ": read failed at byte " +
                                          std::to_string(file.offset) + ": " +
                                          errnoMessage(errno));
    if (got == 0)
      return diag.fail(KILN_ERROR_IO,
                       file.path + ": unexpected end of file at byte " +
                           std::to_string(file.offset) +
                           " (was the file changed while it was read?)");
    out += got;
    count -= static_cast<size_t>(got);
    file.offset += static_cast<uint64_t>(got);
  }
  return KILN_OK;
}

kiln_status_t writeAll(int fd, const void *buffer, size_t count,
                       const std::string &path, Diagnostic &diag) {
  const auto *in = static_cast<const char *>(buffer);
  while (count > 0) {
    ssize_t put = ::write(fd, in, count);
    if (put < 0 && errno == EINTR)
      continue;
    if (put < 0)
      return diag.fail(KILN_ERROR_IO,
                       path + ": write failed: " + errnoMessage(errno));
    in += put;
    count -= static_cast<size_t>(put);
  }
  return KILN_OK;
}

/// Writes `parts` to `path` atomically: into a new uniquely named
/// "<path>.tmp.XXXXXX" (mkstemp, so no existing file is ever clobbered),
/// fsync, rename, then a best-effort fsync of the directory so that the
/// rename itself is durable. On failure the temporary file is removed.
kiln_status_t
writeFileAtomically(const std::string &path,
                    const std::vector<std::pair<const void *, size_t>> &parts,
                    Diagnostic &diag) {
  std::string tmpPath = path + ".tmp.XXXXXX";
  FileDescriptor fd;
  int raw = ::mkostemp(tmpPath.data(), O_CLOEXEC);
  if (raw < 0)
    return diag.fail(KILN_ERROR_IO, path + ": cannot create " + tmpPath + ": " +
                                        errnoMessage(errno));
  fd.reset(raw);
  // mkstemp creates the file 0600; a data file is readable by others.
  ::fchmod(fd.get(), 0644);

  kiln_status_t status = KILN_OK;
  for (const auto &[data, size] : parts) {
    status = writeAll(fd.get(), data, size, tmpPath, diag);
    if (status != KILN_OK)
      break;
  }
  if (status == KILN_OK && ::fsync(fd.get()) != 0)
    status = diag.fail(KILN_ERROR_IO, path + ": fsync of " + tmpPath +
                                          " failed: " + errnoMessage(errno));
  if (status == KILN_OK) {
    if (int error = fd.close())
      status = diag.fail(KILN_ERROR_IO, path + ": close of " + tmpPath +
                                            " failed: " + errnoMessage(error));
  }
  if (status == KILN_OK && ::rename(tmpPath.c_str(), path.c_str()) != 0)
    status = diag.fail(KILN_ERROR_IO, path + ": cannot rename " + tmpPath +
                                          " to it: " + errnoMessage(errno));
  if (status != KILN_OK) {
    fd.reset();
    ::unlink(tmpPath.c_str());
    return status;
  }

  size_t slash = path.rfind('/');
  std::string directory = slash == std::string::npos ? std::string(".")
                          : slash == 0               ? std::string("/")
                                                     : path.substr(0, slash);
  int dirFd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd >= 0) {
    // Some file systems reject fsync on a directory; the data itself is
    // already safe, so that is not an error.
    (void)::fsync(dirFd);
    ::close(dirFd);
  }
  return KILN_OK;
}

//===----------------------------------------------------------------------===//
// NPY header: a Python dict literal
//===----------------------------------------------------------------------===//

/// A value of the Python literal subset found in .npy headers.
struct PyValue {
  enum class Kind { String, Bool, None, Int, Float, Tuple, List, Dict };
  Kind kind = Kind::None;
  /// String contents, or the spelling of a number.
  std::string text;
  bool boolean = false;
  /// Int value, valid if `intFits`.
  int64_t integer = 0;
  bool intFits = true;
  /// Tuple or list elements, or dict values (keys are in `keys`).
  std::vector<PyValue> items;
  std::vector<std::string> keys;
};

/// Parses the header dict of a .npy file. Offsets in messages are byte
/// offsets in the file (the header text starts at `baseOffset`).
class HeaderParser {
public:
  HeaderParser(std::string_view text, uint64_t baseOffset)
      : text(text), baseOffset(baseOffset) {}

  /// Parses the whole text as one dict followed by whitespace; on failure
  /// returns false and sets `problem` ("byte 23: expected ':' ...").
  bool parse(PyValue &out, std::string &problem) {
    skipSpace();
    bool ok = parseValue(out, 0);
    if (ok) {
      skipSpace();
      if (out.kind != PyValue::Kind::Dict)
        ok = failAt(0, "the header is not a dict");
      else if (pos != text.size())
        ok = fail("unexpected text after the dict");
    }
    if (!ok)
      problem = error;
    return ok;
  }

private:
  static constexpr int kMaxDepth = 16;

  bool failAt(size_t at, const std::string &what) {
    error = "byte " + std::to_string(baseOffset + at) + ": " + what;
    return false;
  }
  bool fail(const std::string &what) {
    if (pos >= text.size())
      return failAt(pos, what + " (end of header)");
    return failAt(pos, what + " (found " + quoted(text.substr(pos, 1)) + ")");
  }

  void skipSpace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' ||
                                 text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }
  bool peek(char c) const { return pos < text.size() && text[pos] == c; }
  bool isWordChar(char c) const {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
  }
  bool matchWord(std::string_view word) {
    if (text.substr(pos, word.size()) != word)
      return false;
    size_t end = pos + word.size();
    if (end < text.size() && isWordChar(text[end]))
      return false;
    pos = end;
    return true;
  }

  bool parseValue(PyValue &out, int depth) {
    if (depth > kMaxDepth)
      return fail("values nested too deeply");
    if (pos >= text.size())
      return fail("expected a value");
    char c = text[pos];
    // Python 2 wrote u'...' for unicode strings.
    if ((c == 'u' || c == 'b') && pos + 1 < text.size() &&
        (text[pos + 1] == '\'' || text[pos + 1] == '"')) {
      ++pos;
      c = text[pos];
    }
    if (c == '\'' || c == '"')
      return parseString(out);
    if (c == '{')
      return parseDict(out, depth);
    if (c == '(' || c == '[')
      return parseSequence(out, depth);
    if (c == '-' || c == '+' || (c >= '0' && c <= '9') || c == '.')
      return parseNumber(out);
    if (matchWord("True")) {
      out.kind = PyValue::Kind::Bool;
      out.boolean = true;
      return true;
    }
    if (matchWord("False")) {
      out.kind = PyValue::Kind::Bool;
      out.boolean = false;
      return true;
    }
    if (matchWord("None")) {
      out.kind = PyValue::Kind::None;
      return true;
    }
    return fail("expected a value");
  }

  bool parseString(PyValue &out) {
    size_t start = pos;
    char quote = text[pos++];
    out.kind = PyValue::Kind::String;
    out.text.clear();
    while (pos < text.size() && text[pos] != quote) {
      if (text[pos] == '\n')
        break;
      // Escapes are not interpreted beyond taking the next byte literally;
      // no supported key or dtype contains one.
      if (text[pos] == '\\' && pos + 1 < text.size())
        ++pos;
      out.text += text[pos++];
    }
    if (pos >= text.size() || text[pos] != quote)
      return failAt(start, "unterminated string");
    ++pos;
    return true;
  }

  bool parseNumber(PyValue &out) {
    size_t start = pos;
    if (peek('-') || peek('+'))
      ++pos;
    bool isInt = true;
    while (pos < text.size() &&
           (isWordChar(text[pos]) || text[pos] == '.' ||
            ((text[pos] == '-' || text[pos] == '+') &&
             (text[pos - 1] == 'e' || text[pos - 1] == 'E')))) {
      if (!(text[pos] >= '0' && text[pos] <= '9'))
        isInt = false;
      ++pos;
    }
    std::string_view spelling = text.substr(start, pos - start);
    // Python 2 wrote long integers with an L suffix: (3L, 4L).
    std::string_view digits = spelling;
    if (!digits.empty() && (digits.back() == 'L' || digits.back() == 'l')) {
      digits.remove_suffix(1);
      isInt = !digits.empty() &&
              std::all_of(
                  digits.begin() + (digits[0] == '-' || digits[0] == '+'),
                  digits.end(), [](char d) { return d >= '0' && d <= '9'; });
    }
    out.text = std::string(spelling);
    if (!isInt || digits.empty() || digits == "-" || digits == "+") {
      out.kind = PyValue::Kind::Float;
      return true;
    }
    out.kind = PyValue::Kind::Int;
    std::string_view unsignedDigits = digits;
    bool negative = false;
    if (unsignedDigits[0] == '+' || unsignedDigits[0] == '-') {
      negative = unsignedDigits[0] == '-';
      unsignedDigits.remove_prefix(1);
    }
    uint64_t magnitude = 0;
    auto [ptr, ec] = std::from_chars(
        unsignedDigits.data(), unsignedDigits.data() + unsignedDigits.size(),
        magnitude);
    (void)ptr;
    if (ec != std::errc() ||
        magnitude >
            static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      out.intFits = false;
      return true;
    }
    out.integer = negative ? -static_cast<int64_t>(magnitude)
                           : static_cast<int64_t>(magnitude);
    return true;
  }

  bool parseSequence(PyValue &out, int depth) {
    char close = text[pos] == '(' ? ')' : ']';
    out.kind = close == ')' ? PyValue::Kind::Tuple : PyValue::Kind::List;
    ++pos;
    skipSpace();
    while (!peek(close)) {
      out.items.emplace_back();
      if (!parseValue(out.items.back(), depth + 1))
        return false;
      skipSpace();
      if (peek(',')) {
        ++pos;
        skipSpace();
      } else if (!peek(close))
        return fail(std::string("expected ',' or '") + close + "'");
    }
    ++pos;
    return true;
  }

  bool parseDict(PyValue &out, int depth) {
    out.kind = PyValue::Kind::Dict;
    ++pos;
    skipSpace();
    while (!peek('}')) {
      if (pos >= text.size() || (text[pos] != '\'' && text[pos] != '"'))
        return fail("expected a quoted key or '}'");
      PyValue key;
      if (!parseString(key))
        return false;
      skipSpace();
      if (!peek(':'))
        return fail("expected ':' after the key " + quoted(key.text));
      ++pos;
      skipSpace();
      out.keys.push_back(key.text);
      out.items.emplace_back();
      if (!parseValue(out.items.back(), depth + 1))
        return false;
      skipSpace();
      if (peek(',')) {
        ++pos;
        skipSpace();
      } else if (!peek('}'))
        return fail("expected ',' or '}'");
    }
    ++pos;
    return true;
  }

  std::string_view text;
  uint64_t baseOffset;
  size_t pos = 0;
  std::string error;
};

/// Returns the value of `key` in `dict` (the last one if repeated, as in
/// Python), or nullptr.
const PyValue *lookup(const PyValue &dict, std::string_view key) {
  for (size_t i = dict.keys.size(); i-- > 0;)
    if (dict.keys[i] == key)
      return &dict.items[i];
  return nullptr;
}

//===----------------------------------------------------------------------===//
// NPY
//===----------------------------------------------------------------------===//

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr size_t kNpyMagicSize = 6;
/// numpy.lib.format.ARRAY_ALIGN: the data starts at a multiple of this.
constexpr size_t kNpyAlign = 64;
/// numpy.lib.format.GROWTH_AXIS_MAX_DIGITS: numpy >= 1.23 leaves room for
/// the first dimension to grow to this many digits.
constexpr size_t kNpyGrowthDigits = 21;
/// Headers are a few hundred bytes; this bounds the buffer a corrupt length
/// field can request.
constexpr uint64_t kNpyMaxHeaderSize = 1 << 20;

const char kSupportedDtypes[] = "f32, f64, i32, i64, u8, bool";

/// The numpy descr that kiln_npy_save writes for `dtype`.
const char *npyDescr(kiln_dtype_t dtype) {
  switch (dtype) {
  case KILN_DTYPE_F32:
    return "<f4";
  case KILN_DTYPE_F64:
    return "<f8";
  case KILN_DTYPE_I32:
    return "<i4";
  case KILN_DTYPE_I64:
    return "<i8";
  case KILN_DTYPE_U8:
    return "|u1";
  case KILN_DTYPE_BOOL:
    return "|b1";
  }
  return nullptr;
}

/// Maps a numpy descr to a kiln dtype; on failure sets `problem`.
bool dtypeFromDescr(const std::string &descr, kiln_dtype_t &out,
                    std::string &problem) {
  if (descr.size() == 3 && (descr[0] == '<' || descr[0] == '>' ||
                            descr[0] == '=' || descr[0] == '|')) {
    std::string_view code(descr.data() + 1, 2);
    char order = descr[0];
    // Byte order is meaningless for one-byte types; numpy writes '|'.
    if (code == "u1") {
      out = KILN_DTYPE_U8;
      return true;
    }
    if (code == "b1") {
      out = KILN_DTYPE_BOOL;
      return true;
    }
    struct Wide {
      const char *code;
      kiln_dtype_t dtype;
    };
    const Wide wide[] = {{"f4", KILN_DTYPE_F32},
                         {"f8", KILN_DTYPE_F64},
                         {"i4", KILN_DTYPE_I32},
                         {"i8", KILN_DTYPE_I64}};
    for (const Wide &entry : wide) {
      if (code != entry.code)
        continue;
      if (order == '<' || order == '=') {
        out = entry.dtype;
        return true;
      }
      if (order == '>') {
        problem = "big-endian dtype " + quoted(descr) +
                  " is not supported; save a little-endian copy with "
                  "a.astype('<" +
                  std::string(code) + "')";
        return false;
      }
    }
  }
  problem = "dtype " + quoted(descr) +
            " is not supported (supported: " + kSupportedDtypes + ")";
  return false;
}

kiln_status_t npyLoad(const char *path, kiln_array_t **outArray,
                      Diagnostic &diag) {
  InputFile file;
  if (kiln_status_t status = openInput(path, file, diag))
    return status;
  const std::string &name = file.path;
  auto formatError = [&](const std::string &what) {
    return diag.fail(KILN_ERROR_FORMAT, name + ": " + what);
  };

  // Magic string and version, then the header length (2 bytes in version
  // 1.0, 4 bytes in 2.0 and 3.0), then the header dict.
  unsigned char prefix[8] = {};
  size_t prefixRead = static_cast<size_t>(std::min<uint64_t>(file.size, 8));
  if (kiln_status_t status = readExact(file, prefix, prefixRead, diag))
    return status;
  if (prefixRead < kNpyMagicSize ||
      std::memcmp(prefix, kNpyMagic, kNpyMagicSize) != 0) {
    if (prefixRead >= 4 && std::memcmp(prefix, "PK\x03\x04", 4) == 0)
      return formatError("not a .npy file: this is a zip archive (an .npz "
                         "file?); extract its .npy members first");
    return formatError("not a .npy file (bad magic string at byte 0; "
                       "expected \"\\x93NUMPY\")");
  }
  if (prefixRead < 8)
    return formatError("truncated: the file ends at byte " +
                       std::to_string(file.size) + ", inside the header");
  unsigned major = prefix[6], minor = prefix[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    return formatError("unsupported .npy format version " +
                       std::to_string(major) + "." + std::to_string(minor) +
                       " at byte 6 (supported: 1.0, 2.0, 3.0)");
  size_t lengthSize = major == 1 ? 2 : 4;
  uint64_t headerStart = 8 + lengthSize;
  if (file.size < headerStart)
    return formatError("truncated: the file ends at byte " +
                       std::to_string(file.size) + ", inside the header");
  unsigned char length[4] = {};
  if (kiln_status_t status = readExact(file, length, lengthSize, diag))
    return status;
  uint64_t headerSize = length[0] | (uint64_t(length[1]) << 8) |
                        (uint64_t(length[2]) << 16) |
                        (uint64_t(length[3]) << 24);
  if (headerSize > kNpyMaxHeaderSize)
    return formatError("header length " + std::to_string(headerSize) +
                       " at byte 8 is implausibly large (limit " +
                       std::to_string(kNpyMaxHeaderSize) + ")");
  uint64_t dataOffset = headerStart + headerSize;
  if (file.size < dataOffset)
    return formatError("truncated: the header needs " +
                       std::to_string(dataOffset) +
                       " bytes, but the file has " + std::to_string(file.size));
  // Version 1.0 and 2.0 headers are latin-1, 3.0 ones UTF-8; the keys and
  // values read here are ASCII either way.
  std::string header(static_cast<size_t>(headerSize), '\0');
  if (kiln_status_t status =
          readExact(file, header.data(), header.size(), diag))
    return status;

  PyValue dict;
  std::string problem;
  if (!HeaderParser(header, headerStart).parse(dict, problem))
    return formatError("malformed header: " + problem);
  const PyValue *descr = lookup(dict, "descr");
  const PyValue *fortranOrder = lookup(dict, "fortran_order");
  const PyValue *shapeValue = lookup(dict, "shape");
  for (auto [value, key] :
       {std::pair{descr, "descr"}, std::pair{fortranOrder, "fortran_order"},
        std::pair{shapeValue, "shape"}})
    if (!value)
      return formatError(std::string("malformed header: no '") + key + "' key");

  kiln_dtype_t dtype;
  if (descr->kind != PyValue::Kind::String)
    return formatError(std::string("structured dtypes are not supported "
                                   "(supported: ") +
                       kSupportedDtypes + ")");
  if (!dtypeFromDescr(descr->text, dtype, problem))
    return formatError(problem);
  if (fortranOrder->kind != PyValue::Kind::Bool)
    return formatError("malformed header: 'fortran_order' is not True or "
                       "False");
  if (fortranOrder->boolean)
    return formatError("Fortran-order arrays are not supported; save "
                       "np.ascontiguousarray(a) instead");
  if (shapeValue->kind != PyValue::Kind::Tuple &&
      shapeValue->kind != PyValue::Kind::List)
    return formatError("malformed header: 'shape' is not a tuple");
  if (shapeValue->items.size() > KILN_MAX_RANK)
    return formatError("rank " + std::to_string(shapeValue->items.size()) +
                       " is not supported (at most " +
                       std::to_string(KILN_MAX_RANK) + " dimensions)");
  int32_t rank = static_cast<int32_t>(shapeValue->items.size());
  int64_t shape[KILN_MAX_RANK] = {};
  for (int32_t i = 0; i < rank; ++i) {
    const PyValue &dim = shapeValue->items[static_cast<size_t>(i)];
    if (dim.kind != PyValue::Kind::Int)
      return formatError("malformed header: dimension " + std::to_string(i) +
                         " of 'shape' is " + quoted(dim.text) +
                         ", not an integer");
    if (!dim.intFits || dim.integer < 0)
      return formatError(
          "malformed header: dimension " + std::to_string(i) +
          " of 'shape' is " +
          (dim.intFits ? std::to_string(dim.integer) : quoted(dim.text)) +
          ", not a size");
    shape[i] = dim.integer;
  }
  int64_t count;
  size_t nbytes;
  std::string shapeText = formatShape(shape, rank);
  if (!computeSizes(dtype, rank, shape, count, nbytes))
    return formatError("the shape " + shapeText + " is too large");
  uint64_t available = file.size - dataOffset;
  if (available != nbytes)
    return formatError(
        std::string(available < nbytes ? "truncated: " : "extra data: ") +
        "the shape " + shapeText + " of " + kiln_dtype_name(dtype) + " needs " +
        std::to_string(nbytes) + " bytes of data after the " +
        std::to_string(dataOffset) + "-byte header, but the file has " +
        std::to_string(available));

  kiln_array_t *array = nullptr;
  if (kiln_status_t status = kiln_array_create(dtype, rank, shape, &array))
    return diag.fail(status, name + ": cannot allocate the " + shapeText +
                                 " array of " + std::to_string(nbytes) +
                                 " bytes");
  if (kiln_status_t status = readExact(file, array->data, nbytes, diag)) {
    kiln_array_destroy(array);
    return status;
  }
  if (dtype == KILN_DTYPE_BOOL) {
    int64_t bad = findBadBool(*array);
    if (bad >= 0) {
      unsigned value = static_cast<const unsigned char *>(array->data)[bad];
      kiln_array_destroy(array);
      return formatError("bool element " + std::to_string(bad) + " at byte " +
                         std::to_string(dataOffset + uint64_t(bad)) + " is " +
                         std::to_string(value) + ", not 0 or 1");
    }
  }
  *outArray = array;
  return KILN_OK;
}

/// Checks that `array` describes valid memory for kiln_npy_save.
kiln_status_t checkArrayForSave(const std::string &name,
                                const kiln_array_t &array, Diagnostic &diag) {
  auto invalid = [&](const std::string &what) {
    return diag.fail(KILN_ERROR_INVALID_ARGUMENT, name + ": " + what);
  };
  if (!isValidDtype(array.dtype))
    return invalid("the array has an unknown dtype (" +
                   std::to_string(static_cast<int>(array.dtype)) + ")");
  if (array.rank < 0 || array.rank > KILN_MAX_RANK)
    return invalid("the array has rank " + std::to_string(array.rank) +
                   " (expected 0 to " + std::to_string(KILN_MAX_RANK) + ")");
  int64_t count;
  size_t nbytes;
  if (!computeSizes(array.dtype, array.rank, array.shape, count, nbytes))
    return invalid("the array has an invalid shape " +
                   formatShape(array.shape, array.rank));
  if (array.nbytes != nbytes)
    return invalid("the array's nbytes is " + std::to_string(array.nbytes) +
                   " but its shape " + formatShape(array.shape, array.rank) +
                   " of " + kiln_dtype_name(array.dtype) + " needs " +
                   std::to_string(nbytes));
  if (!array.data && nbytes > 0)
    return invalid("the array's data is NULL");
  if (array.dtype == KILN_DTYPE_BOOL) {
    int64_t bad = findBadBool(array);
    if (bad >= 0)
      return invalid(
          "bool element " + std::to_string(bad) + " is " +
          std::to_string(static_cast<const unsigned char *>(array.data)[bad]) +
          ", not 0 or 1");
  }
  return KILN_OK;
}

/// The version 1.0 prefix and header numpy.save writes for `array`
/// (numpy.lib.format._write_array_header and _wrap_header, numpy >= 1.23).
std::string npyHeader(const kiln_array_t &array) {
  std::string dict = std::string("{'descr': '") + npyDescr(array.dtype) +
                     "', 'fortran_order': False, 'shape': " +
                     formatShape(array.shape, array.rank) + ", }";
  if (array.rank > 0)
    dict.append(kNpyGrowthDigits - std::to_string(array.shape[0]).size(), ' ');
  // numpy pads with 1 to 64 spaces (never 0) before the final newline.
  size_t withNewline = dict.size() + 1;
  size_t padding =
      kNpyAlign - (kNpyMagicSize + 2 + 2 + withNewline) % kNpyAlign;
  size_t headerSize = withNewline + padding;
  std::string out(kNpyMagic, kNpyMagicSize);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(headerSize & 0xff);
  out += static_cast<char>((headerSize >> 8) & 0xff);
  out += dict;
  out.append(padding, ' ');
  out += '\n';
  return out;
}

kiln_status_t npySave(const char *path, const kiln_array_t &array,
                      Diagnostic &diag) {
  std::string name = path;
  if (kiln_status_t status = checkArrayForSave(name, array, diag))
    return status;
  std::string header = npyHeader(array);
  return writeFileAtomically(
      name, {{header.data(), header.size()}, {array.data, array.nbytes}}, diag);
}

//===----------------------------------------------------------------------===//
// IDX
//===----------------------------------------------------------------------===//

/// Name of an IDX data-type code, or nullptr if it is not one.
const char *idxTypeName(unsigned code) {
  switch (code) {
  case 0x08:
    return "unsigned byte";
  case 0x09:
    return "signed byte";
  case 0x0B:
    return "i16";
  case 0x0C:
    return "i32";
  case 0x0D:
    return "f32";
  case 0x0E:
    return "f64";
  default:
    return nullptr;
  }
}

kiln_status_t idxLoad(const char *path, kiln_array_t **outArray,
                      Diagnostic &diag) {
  InputFile file;
  if (kiln_status_t status = openInput(path, file, diag))
    return status;
  const std::string &name = file.path;
  auto formatError = [&](const std::string &what) {
    return diag.fail(KILN_ERROR_FORMAT, name + ": " + what);
  };

  if (file.size < 4)
    return formatError("truncated: the file has " + std::to_string(file.size) +
                       " bytes, fewer than the 4-byte magic number");
  unsigned char magic[4];
  if (kiln_status_t status = readExact(file, magic, 4, diag))
    return status;
  if (magic[0] == 0x1f && magic[1] == 0x8b)
    return formatError("the file is gzip-compressed; decompress it first "
                       "(gunzip)");
  uint32_t magicValue = (uint32_t(magic[0]) << 24) |
                        (uint32_t(magic[1]) << 16) | (uint32_t(magic[2]) << 8) |
                        magic[3];
  char magicText[16];
  std::snprintf(magicText, sizeof(magicText), "0x%08" PRIX32, magicValue);
  if (magic[0] != 0 || magic[1] != 0 || !idxTypeName(magic[2]))
    return formatError(std::string("bad magic number ") + magicText +
                       " at byte 0 (not an IDX file; MNIST images start "
                       "with 0x00000803, labels with 0x00000801)");
  if (magic[2] != 0x08) {
    char typeText[8];
    std::snprintf(typeText, sizeof(typeText), "0x%02X", magic[2]);
    return formatError(std::string("IDX data type ") + typeText + " (" +
                       idxTypeName(magic[2]) +
                       ") is not supported (supported: 0x08, unsigned "
                       "byte)");
  }
  int32_t rank = magic[3];
  if (rank < 1 || rank > KILN_MAX_RANK)
    return formatError("magic number " + std::string(magicText) +
                       " gives rank " + std::to_string(rank) +
                       ", which is not supported (1 to " +
                       std::to_string(KILN_MAX_RANK) + " dimensions)");
  uint64_t dataOffset = 4 + 4 * uint64_t(rank);
  if (file.size < dataOffset)
    return formatError("truncated: the " + std::to_string(rank) +
                       " dimensions need a " + std::to_string(dataOffset) +
                       "-byte header, but the file has " +
                       std::to_string(file.size) + " bytes");
  unsigned char dims[4 * KILN_MAX_RANK];
  if (kiln_status_t status = readExact(file, dims, 4 * size_t(rank), diag))
    return status;
  int64_t shape[KILN_MAX_RANK] = {};
  for (int32_t i = 0; i < rank; ++i) {
    const unsigned char *d = dims + 4 * i;
    shape[i] = (int64_t(d[0]) << 24) | (int64_t(d[1]) << 16) |
               (int64_t(d[2]) << 8) | d[3];
  }
  int64_t count;
  size_t nbytes;
  std::string shapeText = formatShape(shape, rank);
  if (!computeSizes(KILN_DTYPE_U8, rank, shape, count, nbytes))
    return formatError("the dimensions " + shapeText + " are too large");
  uint64_t available = file.size - dataOffset;
  if (available != nbytes)
    return formatError(
        std::string(available < nbytes ? "truncated: " : "extra data: ") +
        "the dimensions " + shapeText + " need " + std::to_string(nbytes) +
        " bytes of data after the " + std::to_string(dataOffset) +
        "-byte header, but the file has " + std::to_string(available));

  kiln_array_t *array = nullptr;
  if (kiln_status_t status =
          kiln_array_create(KILN_DTYPE_U8, rank, shape, &array))
    return diag.fail(status, name + ": cannot allocate the " + shapeText +
                                 " array of " + std::to_string(nbytes) +
                                 " bytes");
  if (kiln_status_t status = readExact(file, array->data, nbytes, diag)) {
    kiln_array_destroy(array);
    return status;
  }
  *outArray = array;
  return KILN_OK;
}

//===----------------------------------------------------------------------===//
// CSV
//===----------------------------------------------------------------------===//

bool isBlank(char c) { return c == ' ' || c == '\t'; }

/// Splits one line (without its line ending) into fields, unquoting them.
/// `fields` is reused across lines to keep its strings' capacity; the first
/// `count` entries are the fields of this line. On failure returns false
/// and sets `problem`.
bool splitRecord(std::string_view line, char delimiter,
                 std::vector<std::string> &fields, size_t &count,
                 std::string &problem) {
  auto trims = [delimiter](char c) { return isBlank(c) && c != delimiter; };
  count = 0;
  size_t pos = 0;
  while (true) {
    if (count == fields.size())
      fields.emplace_back();
    std::string &field = fields[count++];
    field.clear();
    while (pos < line.size() && trims(line[pos]))
      ++pos;
    if (pos < line.size() && line[pos] == '"') {
      size_t open = pos++;
      bool closed = false;
      while (pos < line.size()) {
        if (line[pos] == '"') {
          if (pos + 1 < line.size() && line[pos + 1] == '"') {
            field += '"';
            pos += 2;
            continue;
          }
          ++pos;
          closed = true;
          break;
        }
        field += line[pos++];
      }
      if (!closed) {
        problem = "field " + std::to_string(count) +
                  ": unterminated quoted field starting at column " +
                  std::to_string(open + 1) +
                  " (a quoted field cannot span lines)";
        return false;
      }
      while (pos < line.size() && trims(line[pos]))
        ++pos;
      if (pos < line.size() && line[pos] != delimiter) {
        problem = "field " + std::to_string(count) + ": unexpected " +
                  quoted(line.substr(pos, 1)) + " after the closing quote " +
                  "at column " + std::to_string(pos + 1);
        return false;
      }
    } else {
      size_t start = pos;
      while (pos < line.size() && line[pos] != delimiter)
        ++pos;
      size_t end = pos;
      while (end > start && trims(line[end - 1]))
        --end;
      field.assign(line.data() + start, end - start);
    }
    if (pos >= line.size())
      return true;
    ++pos; // the delimiter
  }
}

enum class NumberResult { Ok, Empty, Invalid, OutOfRange };

/// Parses a decimal number (independent of the C locale) to f64, then
/// rounds it to f32.
NumberResult parseF32(std::string_view text, float &out) {
  if (text.empty())
    return NumberResult::Empty;
  // from_chars accepts a leading '-' but not '+'.
  if (text[0] == '+') {
    text.remove_prefix(1);
    if (text.empty() || text[0] == '-' || text[0] == '+')
      return NumberResult::Invalid;
  }
  const char *first = text.data();
  const char *last = first + text.size();
  double value = 0;
  auto [ptr, ec] = std::from_chars(first, last, value);
  if (ec == std::errc::result_out_of_range && ptr == last) {
    // Beyond the f64 range: 1e-400 is a valid (tiny) f32 value, 1e400 not.
    long double wide = 0;
    auto [widePtr, wideEc] = std::from_chars(first, last, wide);
    if (wideEc != std::errc() || widePtr != last)
      return NumberResult::OutOfRange;
    value = static_cast<double>(wide);
    if (std::isinf(value))
      return NumberResult::OutOfRange;
    ec = std::errc();
  }
  if (ec != std::errc() || ptr != last)
    return NumberResult::Invalid;
  // Values from FLT_MAX + half an ulp (2^103) on round to infinity (the tie
  // goes to the even neighbour, which is infinity); converting them is also
  // undefined behaviour in C++.
  if (std::isfinite(value) && std::fabs(value) >= 0x1.ffffffp127)
    return NumberResult::OutOfRange;
  out = static_cast<float>(value);
  return NumberResult::Ok;
}

kiln_status_t readWholeFile(InputFile &file, std::string &out,
                            Diagnostic &diag) {
  if (file.size > std::numeric_limits<size_t>::max() / 2)
    return diag.fail(KILN_ERROR_OUT_OF_MEMORY, file.path + ": too large");
  out.resize(static_cast<size_t>(file.size));
  return readExact(file, out.data(), out.size(), diag);
}

kiln_status_t csvLoad(const char *path, const kiln_csv_options_t &options,
                      kiln_array_t **outFeatures, kiln_array_t **outLabels,
                      kiln_array_t **outWeights, Diagnostic &diag) {
  InputFile file;
  if (kiln_status_t status = openInput(path, file, diag))
    return status;
  const std::string &name = file.path;
  std::string text;
  if (kiln_status_t status = readWholeFile(file, text, diag))
    return status;
  auto lineError = [&](size_t line, const std::string &what) {
    return diag.fail(KILN_ERROR_FORMAT,
                     name + ":" + std::to_string(line) + ": " + what);
  };

  std::string_view rest(text);
  if (rest.substr(0, 3) == "\xEF\xBB\xBF")
    rest.remove_prefix(3);
  // Yields the next line without its ending; false at the end of the file.
  auto nextLine = [&rest](std::string_view &line) {
    if (rest.empty())
      return false;
    size_t newline = rest.find('\n');
    line = rest.substr(0, newline);
    rest.remove_prefix(newline == std::string_view::npos ? rest.size()
                                                         : newline + 1);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    return true;
  };
  auto blank = [](std::string_view line) {
    return std::all_of(line.begin(), line.end(), isBlank);
  };

  // Header row.
  std::string_view line;
  if (!nextLine(line) || (blank(line) && rest.empty()))
    return diag.fail(KILN_ERROR_FORMAT,
                     name + ": the file is empty; expected a header row of "
                            "column names");
  if (blank(line))
    return lineError(1, "the header row is empty");
  std::vector<std::string> columns;
  size_t numColumns = 0;
  std::string problem;
  if (!splitRecord(line, options.delimiter, columns, numColumns, problem))
    return lineError(1, problem);
  columns.resize(numColumns);

  // The label column.
  int64_t labelIndex = -1;
  if (options.label_column) {
    std::string_view wanted = options.label_column;
    for (size_t i = 0; i < numColumns; ++i) {
      if (columns[i] != wanted)
        continue;
      if (labelIndex >= 0)
        return lineError(1, "the label column name " + quoted(wanted) +
                                " appears twice in the header (fields " +
                                std::to_string(labelIndex + 1) + " and " +
                                std::to_string(i + 1) + ")");
      labelIndex = static_cast<int64_t>(i);
    }
    if (labelIndex < 0) {
      std::string message =
          "no column named " + quoted(wanted) + " in the header (columns: ";
      for (size_t i = 0; i < numColumns && i < 10; ++i)
        message += (i ? ", " : "") + quoted(columns[i]);
      message += numColumns > 10 ? ", ...)" : ")";
      return lineError(1, message);
    }
  } else if (options.label_index >= 0) {
    if (static_cast<size_t>(options.label_index) >= numColumns)
      return lineError(1, "label column index " +
                              std::to_string(options.label_index) +
                              " is out of range (the header has " +
                              std::to_string(numColumns) + " columns)");
    labelIndex = options.label_index;
  }
  // The sample-weight column (kiln_csv_load_weighted), by name.
  int64_t weightIndex = -1;
  if (options.weight_column) {
    std::string_view wanted = options.weight_column;
    for (size_t i = 0; i < numColumns; ++i) {
      if (columns[i] != wanted)
        continue;
      if (weightIndex >= 0)
        return lineError(1, "the sample-weight column name " + quoted(wanted) +
                                " appears twice in the header (fields " +
                                std::to_string(weightIndex + 1) + " and " +
                                std::to_string(i + 1) + ")");
      weightIndex = static_cast<int64_t>(i);
    }
    if (weightIndex < 0) {
      std::string message = "no sample-weight column named " + quoted(wanted) +
                            " in the header (columns: ";
      for (size_t i = 0; i < numColumns && i < 10; ++i)
        message += (i ? ", " : "") + quoted(columns[i]);
      message += numColumns > 10 ? ", ...)" : ")";
      return lineError(1, message);
    }
    if (weightIndex == labelIndex)
      return lineError(1, "column " + quoted(wanted) +
                              " is both the label and the sample-weight "
                              "column");
  }
  size_t numFeatures =
      numColumns - (labelIndex >= 0 ? 1 : 0) - (weightIndex >= 0 ? 1 : 0);

  // Records.
  std::vector<float> features;
  std::vector<float> labels, weights;
  // One record per remaining line is a good first guess.
  size_t lineGuess =
      static_cast<size_t>(std::count(rest.begin(), rest.end(), '\n') + 1);
  // A record needs at least two bytes per value, which bounds the guess for
  // a header that claims many columns.
  if (numFeatures > 0)
    features.reserve(std::min(lineGuess, text.size() / 2 / numFeatures + 1) *
                     numFeatures);
  if (labelIndex >= 0)
    labels.reserve(lineGuess);
  std::vector<std::string> fields;
  size_t numFields = 0;
  size_t lineNumber = 1;
  size_t firstBlankLine = 0;
  int64_t numRows = 0;
  while (nextLine(line)) {
    ++lineNumber;
    if (blank(line)) {
      if (!firstBlankLine)
        firstBlankLine = lineNumber;
      continue;
    }
    if (firstBlankLine)
      return lineError(firstBlankLine,
                       "empty line before the record on line " +
                           std::to_string(lineNumber) +
                           " (only empty lines at the end are ignored)");
    if (!splitRecord(line, options.delimiter, fields, numFields, problem))
      return lineError(lineNumber, problem);
    if (numFields != numColumns)
      return lineError(lineNumber, "expected " + std::to_string(numColumns) +
                                       " fields, got " +
                                       std::to_string(numFields));
    for (size_t i = 0; i < numFields; ++i) {
      float value = 0;
      NumberResult result = parseF32(fields[i], value);
      if (result != NumberResult::Ok) {
        std::string where =
            "field " + std::to_string(i + 1) + " (" + quoted(columns[i]) + ")";
        switch (result) {
        case NumberResult::Empty:
          return lineError(lineNumber, where + " is empty; expected a number");
        case NumberResult::Invalid:
          return lineError(lineNumber, where + ": " + quoted(fields[i]) +
                                           " is not a number");
        case NumberResult::OutOfRange:
          return lineError(lineNumber, where + ": " + quoted(fields[i]) +
                                           " is out of the f32 range");
        case NumberResult::Ok:
          break;
        }
      }
      if (static_cast<int64_t>(i) == labelIndex)
        labels.push_back(value);
      else if (static_cast<int64_t>(i) == weightIndex)
        weights.push_back(value);
      else
        features.push_back(value);
    }
    ++numRows;
  }

  int64_t featureShape[2] = {numRows, static_cast<int64_t>(numFeatures)};
  kiln_array_t *featureArray = nullptr;
  if (kiln_status_t status =
          kiln_array_create(KILN_DTYPE_F32, 2, featureShape, &featureArray))
    return diag.fail(status, name + ": cannot allocate the features");
  std::copy(features.begin(), features.end(),
            static_cast<float *>(featureArray->data));
  kiln_array_t *labelArray = nullptr;
  if (labelIndex >= 0) {
    if (kiln_status_t status =
            kiln_array_create(KILN_DTYPE_F32, 1, &numRows, &labelArray)) {
      kiln_array_destroy(featureArray);
      return diag.fail(status, name + ": cannot allocate the labels");
    }
    std::copy(labels.begin(), labels.end(),
              static_cast<float *>(labelArray->data));
  }
  kiln_array_t *weightArray = nullptr;
  if (weightIndex >= 0) {
    if (kiln_status_t status =
            kiln_array_create(KILN_DTYPE_F32, 1, &numRows, &weightArray)) {
      kiln_array_destroy(featureArray);
      kiln_array_destroy(labelArray);
      return diag.fail(status, name + ": cannot allocate the sample weights");
    }
    std::copy(weights.begin(), weights.end(),
              static_cast<float *>(weightArray->data));
  }
  *outFeatures = featureArray;
  if (outLabels)
    *outLabels = labelArray;
  if (outWeights)
    *outWeights = weightArray;
  return KILN_OK;
}

/// Runs `body` (returning a kiln_status_t), turning exceptions into status
/// codes with a message naming `path`.
template <typename Body>
kiln_status_t guarded(const char *path, Diagnostic &diag, Body &&body) {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    return diag.fail(KILN_ERROR_OUT_OF_MEMORY,
                     std::string(path) + ": out of memory");
  } catch (const std::exception &e) {
    return diag.fail(KILN_ERROR_INTERNAL,
                     std::string(path) + ": internal error: " + e.what());
  } catch (...) {
    return diag.fail(KILN_ERROR_INTERNAL,
                     std::string(path) + ": internal error");
  }
}

} // namespace

//===----------------------------------------------------------------------===//
// C API
//===----------------------------------------------------------------------===//

extern "C" size_t kiln_dtype_size(kiln_dtype_t dtype) {
  switch (dtype) {
  case KILN_DTYPE_F32:
    return 4;
  case KILN_DTYPE_F64:
    return 8;
  case KILN_DTYPE_I32:
    return 4;
  case KILN_DTYPE_I64:
    return 8;
  case KILN_DTYPE_U8:
    return 1;
  case KILN_DTYPE_BOOL:
    return 1;
  }
  return 0;
}

extern "C" const char *kiln_dtype_name(kiln_dtype_t dtype) {
  switch (dtype) {
  case KILN_DTYPE_F32:
    return "f32";
  case KILN_DTYPE_F64:
    return "f64";
  case KILN_DTYPE_I32:
    return "i32";
  case KILN_DTYPE_I64:
    return "i64";
  case KILN_DTYPE_U8:
    return "u8";
  case KILN_DTYPE_BOOL:
    return "bool";
  }
  return "unknown";
}

extern "C" kiln_status_t kiln_array_create(kiln_dtype_t dtype, int32_t rank,
                                           const int64_t *shape,
                                           kiln_array_t **out_array) {
  if (!out_array)
    return KILN_ERROR_INVALID_ARGUMENT;
  *out_array = nullptr;
  if (!isValidDtype(dtype) || rank < 0 || rank > KILN_MAX_RANK ||
      (!shape && rank > 0))
    return KILN_ERROR_INVALID_ARGUMENT;
  for (int32_t i = 0; i < rank; ++i)
    if (shape[i] < 0)
      return KILN_ERROR_INVALID_ARGUMENT;
  int64_t count;
  size_t nbytes;
  if (!computeSizes(dtype, rank, shape, count, nbytes))
    return KILN_ERROR_OUT_OF_MEMORY;

  auto *array = new (std::nothrow) kiln_array_t();
  if (!array)
    return KILN_ERROR_OUT_OF_MEMORY;
  array->dtype = dtype;
  array->rank = rank;
  for (int32_t i = 0; i < rank; ++i)
    array->shape[i] = shape[i];
  array->nbytes = nbytes;
  if (kiln_status_t status =
          kiln_aligned_alloc(nbytes, KILN_DEFAULT_ALIGNMENT, &array->data)) {
    delete array;
    return status;
  }
  std::memset(array->data, 0, nbytes);
  *out_array = array;
  return KILN_OK;
}

extern "C" void kiln_array_destroy(kiln_array_t *array) {
  if (!array)
    return;
  kiln_aligned_free(array->data);
  delete array;
}

extern "C" int64_t kiln_array_element_count(const kiln_array_t *array) {
  if (!array)
    return 0;
  int64_t count = 1;
  for (int32_t i = 0; i < array->rank && i < KILN_MAX_RANK; ++i)
    count *= array->shape[i];
  return count;
}

extern "C" kiln_status_t kiln_npy_load(const char *path,
                                       kiln_array_t **out_array, char *error,
                                       size_t error_size) {
  Diagnostic diag(error, error_size);
  if (out_array)
    *out_array = nullptr;
  if (!path || !out_array)
    return diag.fail(KILN_ERROR_INVALID_ARGUMENT,
                     "kiln_npy_load: path and out_array must not be NULL");
  return guarded(path, diag, [&] { return npyLoad(path, out_array, diag); });
}

extern "C" kiln_status_t kiln_npy_save(const char *path,
                                       const kiln_array_t *array, char *error,
                                       size_t error_size) {
  Diagnostic diag(error, error_size);
  if (!path || !array)
    return diag.fail(KILN_ERROR_INVALID_ARGUMENT,
                     "kiln_npy_save: path and array must not be NULL");
  return guarded(path, diag, [&] { return npySave(path, *array, diag); });
}

extern "C" kiln_status_t kiln_idx_load(const char *path,
                                       kiln_array_t **out_array, char *error,
                                       size_t error_size) {
  Diagnostic diag(error, error_size);
  if (out_array)
    *out_array = nullptr;
  if (!path || !out_array)
    return diag.fail(KILN_ERROR_INVALID_ARGUMENT,
                     "kiln_idx_load: path and out_array must not be NULL");
  return guarded(path, diag, [&] { return idxLoad(path, out_array, diag); });
}

extern "C" void kiln_csv_options_init(kiln_csv_options_t *options) {
  if (!options)
    return;
  options->label_column = nullptr;
  options->label_index = -1;
  options->delimiter = ',';
  options->weight_column = nullptr;
}

extern "C" kiln_status_t kiln_csv_load(const char *path,
                                       const kiln_csv_options_t *options,
                                       kiln_array_t **out_features,
                                       kiln_array_t **out_labels, char *error,
                                       size_t error_size) {
  if (options && options->weight_column) {
    Diagnostic diag(error, error_size);
    if (out_features)
      *out_features = nullptr;
    if (out_labels)
      *out_labels = nullptr;
    return diag.fail(KILN_ERROR_INVALID_ARGUMENT,
                     "kiln_csv_load: weight_column is set; use "
                     "kiln_csv_load_weighted");
  }
  return kiln_csv_load_weighted(path, options, out_features, out_labels,
                                nullptr, error, error_size);
}

extern "C" kiln_status_t
kiln_csv_load_weighted(const char *path, const kiln_csv_options_t *options,
                       kiln_array_t **out_features, kiln_array_t **out_labels,
                       kiln_array_t **out_weights, char *error,
                       size_t error_size) {
  Diagnostic diag(error, error_size);
  if (out_features)
    *out_features = nullptr;
  if (out_labels)
    *out_labels = nullptr;
  if (out_weights)
    *out_weights = nullptr;
  kiln_csv_options_t defaults;
  kiln_csv_options_init(&defaults);
  const kiln_csv_options_t &opts = options ? *options : defaults;
  auto invalid = [&](const char *what) {
    return diag.fail(KILN_ERROR_INVALID_ARGUMENT,
                     std::string("kiln_csv_load: ") + what);
  };
  if (!path || !out_features)
    return invalid("path and out_features must not be NULL");
  bool hasLabel = opts.label_column || opts.label_index >= 0;
  if (opts.label_column && opts.label_index >= 0)
    return invalid("set label_column or label_index, not both");
  if (opts.label_index < -1)
    return invalid("label_index must be -1 (no label column) or >= 0");
  if (hasLabel && !out_labels)
    return invalid("a label column is selected but out_labels is NULL");
  if (opts.weight_column && !out_weights)
    return invalid("a weight column is selected but out_weights is NULL");
  char d = opts.delimiter;
  if (d == '"' || d == '\r' || d == '\n' || d == '\0')
    return invalid("the delimiter cannot be '\"', '\\r', '\\n' or '\\0'");
  return guarded(path, diag, [&] {
    return csvLoad(path, opts, out_features, out_labels, out_weights, diag);
  });
}
