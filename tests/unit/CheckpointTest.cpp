//===- CheckpointTest.cpp - tests of safetensors checkpoints --------------===//
//
// runtime/driver/Checkpoint.h: round trips, the exact bytes of a small file
// (written out by hand from the safetensors format description), every
// corrupt-file check of readCheckpoint, argument checks and the atomic
// replace of writeCheckpoint. Each test works in a fresh temporary
// directory.
//
//===----------------------------------------------------------------------===//

#include "Checkpoint.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using kiln::driver::dtypeSize;
using kiln::driver::LoadedCheckpoint;
using kiln::driver::readCheckpoint;
using kiln::driver::TensorView;
using kiln::driver::writeCheckpoint;

/// Gives each test an empty directory, removed afterwards.
class CheckpointTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "kiln-checkpoint-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  std::string tempPath(const std::string &name) const {
    return dir + "/" + name;
  }
  /// Names of the entries of the test directory, sorted.
  std::vector<std::string> listDir() const {
    std::vector<std::string> names;
    for (const auto &entry : fs::directory_iterator(dir))
      names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  /// Whether any "*.tmp.*" file is in the test directory.
  bool hasTemporaryFile() const {
    for (const std::string &name : listDir())
      if (name.find(".tmp.") != std::string::npos)
        return true;
    return false;
  }

  std::string dir;
};

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

/// The 8-byte little-endian encoding of `value`.
std::string u64le(uint64_t value) {
  std::string bytes;
  for (int i = 0; i < 8; ++i)
    bytes += static_cast<char>((value >> (8 * i)) & 0xFF);
  return bytes;
}

/// A safetensors file with the given header text (unpadded) and data.
std::string safetensors(const std::string &header,
                        const std::string &data = "") {
  return u64le(header.size()) + header + data;
}

template <typename T>
std::vector<unsigned char> bytesOf(const std::vector<T> &v) {
  std::vector<unsigned char> bytes(v.size() * sizeof(T));
  if (!v.empty())
    std::memcpy(bytes.data(), v.data(), bytes.size());
  return bytes;
}

template <typename T>
TensorView view(const std::string &name, const std::string &dtype,
                std::vector<int64_t> shape, const std::vector<T> &values) {
  TensorView tensor;
  tensor.name = name;
  tensor.dtype = dtype;
  tensor.shape = std::move(shape);
  tensor.data = values.empty() ? nullptr : values.data();
  tensor.nbytes = values.size() * sizeof(T);
  return tensor;
}

uint64_t headerLengthOf(const std::string &file) {
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i)
    length = (length << 8) | static_cast<unsigned char>(file.at(i));
  return length;
}

//===----------------------------------------------------------------------===//
// dtypes
//===----------------------------------------------------------------------===//

TEST(CheckpointDtypeTest, Sizes) {
  EXPECT_EQ(dtypeSize("F32"), 4u);
  EXPECT_EQ(dtypeSize("F64"), 8u);
  EXPECT_EQ(dtypeSize("I32"), 4u);
  EXPECT_EQ(dtypeSize("I64"), 8u);
  EXPECT_EQ(dtypeSize("U8"), 1u);
  EXPECT_EQ(dtypeSize("BOOL"), 1u);
  EXPECT_EQ(dtypeSize("F16"), 2u);
  EXPECT_EQ(dtypeSize("BF16"), 2u);
  EXPECT_EQ(dtypeSize("I8"), 1u);
  EXPECT_EQ(dtypeSize("I16"), 2u);
  EXPECT_EQ(dtypeSize("U16"), 2u);
  EXPECT_EQ(dtypeSize("U32"), 4u);
  EXPECT_EQ(dtypeSize("U64"), 8u);
  EXPECT_EQ(dtypeSize("f32"), 0u);
  EXPECT_EQ(dtypeSize(""), 0u);
  EXPECT_EQ(dtypeSize("F8_E4M3"), 0u);
  EXPECT_EQ(dtypeSize("F32 "), 0u);
}

//===----------------------------------------------------------------------===//
// Round trips and the file layout
//===----------------------------------------------------------------------===//

TEST_F(CheckpointTest, RoundTrip) {
  std::vector<float> kernel = {1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-30f};
  std::vector<double> bias = {0.1, -0.2, 1e300, -1e-300};
  std::vector<int32_t> scalar = {-42};
  std::vector<int64_t> empty;
  std::vector<uint8_t> bytes = {0, 1, 127, 128, 255};
  std::vector<uint8_t> mask = {1, 0, 0, 1};
  std::vector<TensorView> tensors = {
      view("dense/kernel", "F32", {2, 3}, kernel),
      view("dense/bias", "F64", {4}, bias),
      view("step", "I32", {}, scalar),
      view("empty", "I64", {0, 3}, empty),
      view("bytes", "U8", {5}, bytes),
      view("mask", "BOOL", {2, 2}, mask),
  };
  std::map<std::string, std::string> metadata = {
      {"step", "1200"},
      {"epoch", "3"},
      {"rng", "0123456789abcdef"},
      {"note", "quotes \" and \\ and \xC3\xA9 and \n newline"},
  };
  std::string path = tempPath("ckpt.safetensors");
  std::string error;
  ASSERT_TRUE(writeCheckpoint(path, metadata, tensors, &error)) << error;
  EXPECT_FALSE(hasTemporaryFile());

  LoadedCheckpoint loaded;
  ASSERT_TRUE(readCheckpoint(path, &loaded, &error)) << error;
  EXPECT_EQ(loaded.metadata, metadata);
  ASSERT_EQ(loaded.tensors.size(), tensors.size());
  auto expect = [&](const std::string &name, const std::string &dtype,
                    const std::vector<int64_t> &shape,
                    const std::vector<unsigned char> &data) {
    SCOPED_TRACE(name);
    auto it = loaded.tensors.find(name);
    ASSERT_NE(it, loaded.tensors.end());
    EXPECT_EQ(it->second.dtype, dtype);
    EXPECT_EQ(it->second.shape, shape);
    EXPECT_EQ(it->second.bytes, data);
  };
  expect("dense/kernel", "F32", {2, 3}, bytesOf(kernel));
  expect("dense/bias", "F64", {4}, bytesOf(bias));
  expect("step", "I32", {}, bytesOf(scalar));
  expect("empty", "I64", {0, 3}, {});
  expect("bytes", "U8", {5}, bytes);
  expect("mask", "BOOL", {2, 2}, mask);

  // Layout: padded header, then the data contiguous in the order given.
  std::string file = readFile(path);
  uint64_t headerLength = headerLengthOf(file);
  EXPECT_EQ(headerLength % 8, 0u);
  std::string data = file.substr(8 + headerLength);
  std::string expected;
  for (const TensorView &tensor : tensors)
    if (tensor.nbytes > 0)
      expected.append(static_cast<const char *>(tensor.data), tensor.nbytes);
  EXPECT_EQ(data, expected);
  std::string header = file.substr(8, headerLength);
  EXPECT_LT(header.find("\"dense/kernel\""), header.find("\"dense/bias\""));
  EXPECT_LT(header.find("\"dense/bias\""), header.find("\"step\":{"));
  EXPECT_LT(header.find("\"step\":{"), header.find("\"empty\""));
}

TEST_F(CheckpointTest, NoTensorsNoMetadata) {
  std::string path = tempPath("empty.safetensors");
  std::string error;
  ASSERT_TRUE(writeCheckpoint(path, {}, {}, &error)) << error;
  // "{}" padded to 8 bytes.
  EXPECT_EQ(readFile(path), u64le(8) + "{}      ");
  LoadedCheckpoint loaded;
  ASSERT_TRUE(readCheckpoint(path, &loaded, &error)) << error;
  EXPECT_TRUE(loaded.metadata.empty());
  EXPECT_TRUE(loaded.tensors.empty());
}

TEST_F(CheckpointTest, HeaderLengthIsMultipleOf8) {
  // Names of 1..16 characters move the unpadded header length through every
  // residue modulo 8.
  std::vector<float> value = {1.0f};
  for (size_t length = 1; length <= 16; ++length) {
    SCOPED_TRACE(length);
    std::string path = tempPath("pad.safetensors");
    std::string error;
    ASSERT_TRUE(writeCheckpoint(
        path, {}, {view(std::string(length, 'x'), "F32", {1}, value)}, &error))
        << error;
    std::string file = readFile(path);
    uint64_t headerLength = headerLengthOf(file);
    EXPECT_EQ(headerLength % 8, 0u);
    ASSERT_EQ(file.size(), 8 + headerLength + 4);
    // Padding is trailing spaces after the closing brace.
    std::string header = file.substr(8, headerLength);
    size_t brace = header.rfind('}');
    ASSERT_NE(brace, std::string::npos);
    EXPECT_LT(header.size() - brace - 1, 8u);
    EXPECT_EQ(header.find_first_not_of(' ', brace + 1), std::string::npos);
  }
}

TEST_F(CheckpointTest, ExactBytes) {
  // One F32 tensor "w" = [1.0, -2.0] and metadata step = 7. The header is
  // 82 bytes of JSON, padded with 6 spaces to 88 = 0x58.
  std::string expected;
  expected += std::string("\x58\x00\x00\x00\x00\x00\x00\x00", 8);
  expected += "{\"__metadata__\":{\"step\":\"7\"},"
              "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"
              "      ";
  expected += std::string("\x00\x00\x80\x3F"  // 1.0f
                          "\x00\x00\x00\xC0", // -2.0f
                          8);
  ASSERT_EQ(expected.size(), 8u + 88u + 8u);

  std::vector<float> w = {1.0f, -2.0f};
  std::string path = tempPath("tiny.safetensors");
  std::string error;
  ASSERT_TRUE(writeCheckpoint(path, {{"step", "7"}}, {view("w", "F32", {2}, w)},
                              &error))
      << error;
  EXPECT_EQ(readFile(path), expected);
}

TEST_F(CheckpointTest, ReadsForeignFile) {
  // Hand-written: tensors listed in a different order from their data,
  // all the dtypes kiln reads but does not write, a gap between tensors,
  // an empty tensor, an unknown extra key, and no metadata.
  std::string header =
      "{\"u64\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[24,32]},"
      "\"f16\":{\"shape\":[2],\"dtype\":\"F16\",\"data_offsets\":[0,4]},"
      "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[4,6]},"
      "\"i8\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[6,8]},"
      "\"i16\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[8,10]},"
      "\"u16\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[10,12]},"
      "\"u32\":{\"dtype\":\"U32\",\"shape\":[1],\"data_offsets\":[16,20],"
      "\"extra\":true},"
      "\"none\":{\"dtype\":\"F32\",\"shape\":[3,0],\"data_offsets\":[32,32]}"
      "}";
  std::string data;
  for (int i = 0; i < 32; ++i)
    data += static_cast<char>(i);
  std::string path = tempPath("foreign.safetensors");
  writeFile(path, safetensors(header, data));

  LoadedCheckpoint loaded;
  std::string error;
  ASSERT_TRUE(readCheckpoint(path, &loaded, &error)) << error;
  EXPECT_TRUE(loaded.metadata.empty());
  ASSERT_EQ(loaded.tensors.size(), 8u);
  auto range = [](int begin, int end) {
    std::vector<unsigned char> bytes;
    for (int i = begin; i < end; ++i)
      bytes.push_back(static_cast<unsigned char>(i));
    return bytes;
  };
  EXPECT_EQ(loaded.tensors["f16"].dtype, "F16");
  EXPECT_EQ(loaded.tensors["f16"].bytes, range(0, 4));
  EXPECT_EQ(loaded.tensors["bf16"].bytes, range(4, 6));
  EXPECT_EQ(loaded.tensors["i8"].bytes, range(6, 8));
  EXPECT_EQ(loaded.tensors["i16"].bytes, range(8, 10));
  EXPECT_EQ(loaded.tensors["u16"].bytes, range(10, 12));
  EXPECT_EQ(loaded.tensors["u32"].bytes, range(16, 20));
  EXPECT_EQ(loaded.tensors["u64"].bytes, range(24, 32));
  EXPECT_EQ(loaded.tensors["u64"].shape, std::vector<int64_t>{1});
  EXPECT_EQ(loaded.tensors["none"].shape, (std::vector<int64_t>{3, 0}));
  EXPECT_TRUE(loaded.tensors["none"].bytes.empty());
}

TEST_F(CheckpointTest, LargeTensorRoundTrip) {
  // 12 MB, more than one write() or read() may move at once on some
  // systems.
  std::vector<float> big(3 * 1024 * 1024);
  for (size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<float>(i) * 0.5f;
  std::vector<uint8_t> odd = {7, 8, 9};
  std::string path = tempPath("big.safetensors");
  std::string error;
  ASSERT_TRUE(writeCheckpoint(
      path, {{"k", "v"}},
      {view("odd", "U8", {3}, odd), view("big", "F32", {3, 1024, 1024}, big)},
      &error))
      << error;
  LoadedCheckpoint loaded;
  ASSERT_TRUE(readCheckpoint(path, &loaded, &error)) << error;
  EXPECT_EQ(loaded.tensors["big"].bytes, bytesOf(big));
  EXPECT_EQ(loaded.tensors["odd"].bytes, odd);
}

TEST_F(CheckpointTest, OverwriteExisting) {
  std::string path = tempPath("ckpt.safetensors");
  std::string error;
  std::vector<float> first = {1, 2, 3};
  ASSERT_TRUE(writeCheckpoint(path, {{"step", "1"}},
                              {view("a", "F32", {3}, first)}, &error))
      << error;
  std::vector<int64_t> second = {10, 20};
  ASSERT_TRUE(writeCheckpoint(path, {{"step", "2"}},
                              {view("b", "I64", {2}, second)}, &error))
      << error;
  LoadedCheckpoint loaded;
  ASSERT_TRUE(readCheckpoint(path, &loaded, &error)) << error;
  EXPECT_EQ(loaded.metadata,
            (std::map<std::string, std::string>{{"step", "2"}}));
  ASSERT_EQ(loaded.tensors.size(), 1u);
  EXPECT_EQ(loaded.tensors["b"].bytes, bytesOf(second));
  EXPECT_EQ(listDir(), std::vector<std::string>{"ckpt.safetensors"});
}

TEST_F(CheckpointTest, RelativePath) {
  // A path without a directory part: the directory to fsync is ".".
  fs::path previous = fs::current_path();
  fs::current_path(dir);
  std::vector<int32_t> value = {5};
  std::string error;
  bool written = writeCheckpoint("rel.safetensors", {},
                                 {view("v", "I32", {}, value)}, &error);
  LoadedCheckpoint loaded;
  bool read = readCheckpoint("rel.safetensors", &loaded, &error);
  fs::current_path(previous);
  ASSERT_TRUE(written) << error;
  ASSERT_TRUE(read) << error;
  EXPECT_EQ(loaded.tensors["v"].bytes, bytesOf(value));
}

//===----------------------------------------------------------------------===//
// Failed writes
//===----------------------------------------------------------------------===//

TEST_F(CheckpointTest, WriteBadArguments) {
  std::vector<float> six(6, 1.0f);
  std::vector<float> one = {1.0f};
  auto withName = [&](const std::string &name) {
    return view(name, "F32", {1}, one);
  };
  TensorView wrongBytes = view("wrong", "F32", {2, 4}, six);
  TensorView nullData = view("null", "F32", {6}, six);
  nullData.data = nullptr;
  TensorView negative = view("neg", "F32", {-1, 3}, six);
  TensorView overflow =
      view("huge", "U8", {int64_t(1) << 32, int64_t(1) << 32}, six);
  TensorView badDtype = view("bad", "F128", {6}, six);
  TensorView lowercase = view("lower", "f32", {6}, six);

  struct Case {
    const char *name;
    std::vector<TensorView> tensors;
    std::map<std::string, std::string> metadata;
    std::string expected;
  };
  std::vector<Case> cases = {
      {"empty name",
       {withName("a"), withName("")},
       {},
       "tensor #1: empty name"},
      {"reserved name",
       {withName("__metadata__")},
       {},
       "tensor '__metadata__': the name is reserved"},
      {"duplicate",
       {withName("x"), withName("y"), withName("x")},
       {},
       "tensor 'x': duplicate tensor name"},
      {"unknown dtype", {badDtype}, {}, "tensor 'bad': unknown dtype 'F128'"},
      {"lowercase dtype", {lowercase}, {}, "unknown dtype 'f32'"},
      {"nbytes",
       {wrongBytes},
       {},
       "tensor 'wrong': nbytes is 24 but F32[2, 4] needs 32"},
      {"null data", {nullData}, {}, "tensor 'null': data is null"},
      {"negative",
       {negative},
       {},
       "tensor 'neg': shape [-1, 3] has a negative"},
      {"overflow", {overflow}, {}, "tensor 'huge': the element count"},
      {"invalid UTF-8 name",
       {withName("bad\xFF")},
       {},
       "the name is not valid UTF-8"},
      {"invalid UTF-8 metadata",
       {withName("a")},
       {{"k", "\xC0\xAF"}},
       "metadata value of 'k' is not valid UTF-8"},
  };

  std::string path = tempPath("ckpt.safetensors");
  std::string error;
  ASSERT_TRUE(
      writeCheckpoint(path, {{"step", "1"}}, {withName("keep")}, &error))
      << error;
  std::string original = readFile(path);
  for (const Case &test : cases) {
    SCOPED_TRACE(test.name);
    error.clear();
    EXPECT_FALSE(writeCheckpoint(path, test.metadata, test.tensors, &error));
    EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << error;
    EXPECT_NE(error.find(test.expected), std::string::npos) << error;
    EXPECT_EQ(readFile(path), original);
    EXPECT_EQ(listDir(), std::vector<std::string>{"ckpt.safetensors"});
  }
  // Without an error string, too.
  EXPECT_FALSE(writeCheckpoint(path, {}, {withName("")}, nullptr));
  EXPECT_EQ(readFile(path), original);
}

TEST_F(CheckpointTest, WriteToMissingDirectory) {
  std::string path = tempPath("missing/ckpt.safetensors");
  std::vector<float> one = {1.0f};
  std::string error;
  EXPECT_FALSE(writeCheckpoint(path, {}, {view("a", "F32", {1}, one)}, &error));
  EXPECT_EQ(error.rfind(path + ": cannot create ", 0), 0u) << error;
  EXPECT_TRUE(listDir().empty());
}

TEST_F(CheckpointTest, FailedWriteLeavesDestinationUnchanged) {
  std::string path = tempPath("ckpt.safetensors");
  std::vector<float> one = {1.0f};
  std::string error;
  ASSERT_TRUE(writeCheckpoint(path, {{"step", "1"}},
                              {view("a", "F32", {1}, one)}, &error))
      << error;
  std::string original = readFile(path);

  // A bad argument.
  EXPECT_FALSE(writeCheckpoint(path, {}, {view("a", "F64", {1}, one)}, &error));
  EXPECT_EQ(readFile(path), original);
  EXPECT_FALSE(hasTemporaryFile());

  // A file system failure: the destination's directory is missing.
  std::string elsewhere = tempPath("gone/ckpt.safetensors");
  EXPECT_FALSE(
      writeCheckpoint(elsewhere, {}, {view("a", "F32", {1}, one)}, &error));
  EXPECT_EQ(readFile(path), original);
  EXPECT_EQ(listDir(), std::vector<std::string>{"ckpt.safetensors"});
}

TEST_F(CheckpointTest, FailedRenameRemovesTemporaryFile) {
  // The destination is a non-empty directory: the temporary file is fully
  // written, then the rename fails, and it must be removed.
  std::string path = tempPath("ckpt.safetensors");
  fs::create_directory(path);
  writeFile(path + "/inside", "x");
  std::vector<float> one = {1.0f};
  std::string error;
  EXPECT_FALSE(writeCheckpoint(path, {}, {view("a", "F32", {1}, one)}, &error));
  EXPECT_EQ(error.rfind(path + ": cannot rename ", 0), 0u) << error;
  EXPECT_EQ(listDir(), std::vector<std::string>{"ckpt.safetensors"});
  EXPECT_TRUE(fs::is_directory(path));
  EXPECT_EQ(readFile(path + "/inside"), "x");
}

TEST_F(CheckpointTest, WriteRemovesStaleTemporaryFiles) {
  // A writer killed with SIGKILL leaves "<path>.tmp.XXXXXX" behind; the next
  // write to the same path removes such files unless a live writer holds
  // their lock.
  std::string path = tempPath("ckpt.safetensors");
  writeFile(path + ".tmp.Ab3xY9", "stale");
  writeFile(path + ".tmp.Held01", "live writer");
  // Not temporary names of this path: kept.
  writeFile(path + ".tmp.abc", "short");
  writeFile(path + ".tmp.1234567", "long");
  writeFile(tempPath("other.safetensors.tmp.Ab3xY9"), "other path");
  fs::create_directory(path + ".tmp.Dir001");
  int held = ::open((path + ".tmp.Held01").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(held, 0);
  ASSERT_EQ(::flock(held, LOCK_EX), 0);
  std::vector<float> one = {1.0f};
  std::string error;
  ASSERT_TRUE(writeCheckpoint(path, {}, {view("a", "F32", {1}, one)}, &error))
      << error;
  ::close(held);
  std::vector<std::string> expected = {"ckpt.safetensors",
                                       "ckpt.safetensors.tmp.1234567",
                                       "ckpt.safetensors.tmp.Dir001",
                                       "ckpt.safetensors.tmp.Held01",
                                       "ckpt.safetensors.tmp.abc",
                                       "other.safetensors.tmp.Ab3xY9"};
  EXPECT_EQ(listDir(), expected);
  // Once its writer is gone, the next write removes it too.
  ASSERT_TRUE(kiln::driver::writeFileAtomically(path, {{"x", 1}}, &error))
      << error;
  expected.erase(expected.begin() + 3);
  EXPECT_EQ(listDir(), expected);
}

//===----------------------------------------------------------------------===//
// Corrupt files
//===----------------------------------------------------------------------===//

/// A tensor entry of a hand-written header.
std::string entry(const std::string &dtype, const std::string &shape,
                  const std::string &offsets) {
  return "{\"dtype\":" + dtype + ",\"shape\":" + shape +
         ",\"data_offsets\":" + offsets + "}";
}

TEST_F(CheckpointTest, CorruptFiles) {
  const std::string data24(24, '\0');
  struct Case {
    const char *name;
    std::string bytes;
    std::string expected;
  };
  std::vector<Case> cases = {
      {"empty file", "", "file is 0 bytes, shorter than the 8-byte header"},
      {"short file", std::string("\x02\0\0\0\0", 5), "file is 5 bytes"},
      {"header past end", u64le(1000) + "{}",
       "header length 1000 runs past "
       "the end of the file (10 bytes)"},
      {"header past end by one", u64le(3) + "{}", "header length 3 runs past"},
      {"header above 100 MB", u64le(100'000'001) + "{}",
       "header length 100000001 is above the limit of 100000000 bytes"},
      {"huge header length", u64le(~uint64_t(0)) + "{}",
       "header length 18446744073709551615 is above the limit"},
      {"not JSON", safetensors("{\"a\":"), "header is not valid JSON"},
      {"trailing garbage", safetensors("{} x"), "header is not valid JSON"},
      {"invalid UTF-8", safetensors("{\"\xFF\":1}"),
       "header is not valid JSON"},
      {"NUL padding", safetensors(std::string("{}\0\0", 4)),
       "header is not valid JSON: NUL byte at header offset 2"},
      {"NUL then garbage", safetensors(std::string("{}\0 x", 5)),
       "header is not valid JSON: NUL byte"},
      {"array", safetensors("[1,2]"), "header is not a JSON object: [1,2]"},
      // dump() of the error excerpt recursed 200,000 times (stack overflow).
      {"nested 200,000 deep",
       safetensors(std::string(200'000, '[') + std::string(200'000, ']')),
       "not a safetensors header: JSON nested more than 64 levels deep at "
       "header offset 64"},
      {"nested metadata",
       safetensors("{\"__metadata__\":" + std::string(100'000, '{') +
                   std::string(100'000, '}') + "}"),
       "JSON nested more than 64 levels deep at header offset 79"},
      {"brackets in strings do not nest",
       safetensors("{\"__metadata__\":{\"a\":\"" + std::string(100, '[') +
                   "\\\"" + std::string(100, '{') + "\"},\"t\":1}"),
       "tensor 't': entry is not an object: 1"},
      {"string", safetensors("\"x\""), "header is not a JSON object"},
      {"duplicate name",
       safetensors("{\"a\":" + entry("\"U8\"", "[1]", "[0,1]") +
                       ",\"a\":" + entry("\"U8\"", "[1]", "[1,2]") + "}",
                   "xy"),
       "header has more than one entry 'a'"},
      {"metadata not object", safetensors("{\"__metadata__\":[\"a\"]}"),
       "__metadata__ is not an object of strings"},
      {"metadata null", safetensors("{\"__metadata__\":null}"),
       "__metadata__ is not an object of strings"},
      {"metadata value number",
       safetensors("{\"__metadata__\":{\"ok\":\"1\",\"step\":7}}"),
       "__metadata__ entry 'step' is not a string: 7"},
      {"metadata value object",
       safetensors("{\"__metadata__\":{\"nested\":{\"a\":\"b\"}}}"),
       "__metadata__ entry 'nested' is not a string"},
      {"entry not object", safetensors("{\"t\":[1,2]}"),
       "tensor 't': entry is not an object"},
      {"missing dtype",
       safetensors("{\"t\":{\"shape\":[1],\"data_offsets\":[0,1]}}", "x"),
       "tensor 't': missing \"dtype\""},
      {"dtype not string",
       safetensors("{\"t\":" + entry("4", "[1]", "[0,4]") + "}", "abcd"),
       "tensor 't': dtype is not a string: 4"},
      {"unknown dtype",
       safetensors("{\"t\":" + entry("\"F8_E4M3\"", "[1]", "[0,1]") + "}", "x"),
       "tensor 't': unknown dtype 'F8_E4M3'"},
      {"missing shape",
       safetensors("{\"t\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", "x"),
       "tensor 't': missing \"shape\""},
      {"shape not list",
       safetensors("{\"t\":" + entry("\"U8\"", "3", "[0,3]") + "}", "xyz"),
       "tensor 't': shape is not a list of non-negative integers: 3"},
      {"shape negative",
       safetensors("{\"t\":" + entry("\"U8\"", "[2,-1]", "[0,0]") + "}"),
       "shape is not a list of non-negative integers: element 1 is -1"},
      {"shape float",
       safetensors("{\"t\":" + entry("\"U8\"", "[1.0]", "[0,1]") + "}", "x"),
       "element 0 is 1.0"},
      {"shape bool",
       safetensors("{\"t\":" + entry("\"U8\"", "[true]", "[0,1]") + "}", "x"),
       "element 0 is true"},
      {"shape string",
       safetensors("{\"t\":" + entry("\"U8\"", "[\"1\"]", "[0,1]") + "}", "x"),
       "element 0 is \"1\""},
      {"shape element above int64",
       safetensors(
           "{\"t\":" + entry("\"U8\"", "[9223372036854775808]", "[0,1]") + "}",
           "x"),
       "shape element 0 (9223372036854775808) overflows int64"},
      {"shape product overflow",
       safetensors(
           "{\"t\":" + entry("\"U8\"", "[4294967296,4294967296]", "[0,1]") +
               "}",
           "x"),
       "element count of shape [4294967296, 4294967296] overflows int64"},
      {"byte size overflow",
       safetensors(
           "{\"t\":" + entry("\"F64\"", "[4611686018427387904]", "[0,1]") + "}",
           "x"),
       "hold 1 bytes but F64[4611686018427387904] needs more than 2^64 - 1"},
      {"missing data_offsets",
       safetensors("{\"t\":{\"dtype\":\"U8\",\"shape\":[1]}}", "x"),
       "tensor 't': missing \"data_offsets\""},
      {"data_offsets three",
       safetensors("{\"t\":" + entry("\"U8\"", "[1]", "[0,1,2]") + "}", "xy"),
       "data_offsets is not a list of two non-negative integers: [0,1,2]"},
      {"data_offsets one",
       safetensors("{\"t\":" + entry("\"U8\"", "[1]", "[1]") + "}", "x"),
       "data_offsets is not a list of two non-negative integers"},
      {"data_offsets negative",
       safetensors("{\"t\":" + entry("\"U8\"", "[0]", "[-1,-1]") + "}", "x"),
       "data_offsets is not a list of two non-negative integers"},
      {"data_offsets float",
       safetensors("{\"t\":" + entry("\"U8\"", "[1]", "[0,1.0]") + "}", "x"),
       "data_offsets is not a list of two non-negative integers"},
      {"data_offsets object",
       safetensors("{\"t\":" + entry("\"U8\"", "[1]", "{\"a\":0}") + "}", "x"),
       "data_offsets is not a list of two non-negative integers"},
      {"begin after end",
       safetensors("{\"t\":" + entry("\"U8\"", "[1]", "[2,1]") + "}", "xyz"),
       "tensor 't': data_offsets [2, 1] has begin > end"},
      {"end past data",
       safetensors("{\"t\":" + entry("\"U8\"", "[4]", "[0,4]") + "}", "xyz"),
       "tensor 't': data_offsets [0, 4] runs past the end of the data section "
       "(3 bytes)"},
      {"size mismatch",
       safetensors("{\"dense/kernel\":" + entry("\"F32\"", "[2,3]", "[0,12]") +
                       "}",
                   data24),
       "tensor 'dense/kernel': data_offsets [0, 12] hold 12 bytes but "
       "F32[2, 3] needs 24"},
      {"overlap",
       safetensors("{\"a\":" + entry("\"U8\"", "[4]", "[0,4]") +
                       ",\"b\":" + entry("\"U8\"", "[4]", "[2,6]") + "}",
                   "abcdef"),
       "tensor 'b': data_offsets [2, 6] overlap those of tensor 'a' [0, 4]"},
      {"same range",
       safetensors("{\"a\":" + entry("\"U8\"", "[4]", "[0,4]") +
                       ",\"b\":" + entry("\"U8\"", "[4]", "[0,4]") + "}",
                   "abcd"),
       "overlap those of tensor"},
  };

  std::string path = tempPath("ckpt.safetensors");
  for (const Case &test : cases) {
    SCOPED_TRACE(test.name);
    writeFile(path, test.bytes);
    LoadedCheckpoint loaded;
    loaded.metadata["sentinel"] = "untouched";
    std::string error;
    EXPECT_FALSE(readCheckpoint(path, &loaded, &error));
    EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << error;
    EXPECT_NE(error.find(test.expected), std::string::npos) << error;
    // The output is only assigned on success.
    EXPECT_EQ(loaded.metadata.size(), 1u);
    EXPECT_TRUE(loaded.tensors.empty());
    // And without an error string.
    EXPECT_FALSE(readCheckpoint(path, &loaded, nullptr));
  }
}

TEST_F(CheckpointTest, SizeMismatchMessage) {
  // The whole message for the example of the documentation.
  std::string path = tempPath("ckpt.safetensors");
  writeFile(path, safetensors("{\"dense/kernel\":" +
                                  entry("\"F32\"", "[2,3]", "[0,12]") + "}",
                              std::string(12, '\0')));
  LoadedCheckpoint loaded;
  std::string error;
  EXPECT_FALSE(readCheckpoint(path, &loaded, &error));
  EXPECT_EQ(error, path + ": tensor 'dense/kernel': data_offsets [0, 12] hold "
                          "12 bytes but F32[2, 3] needs 24");
}

TEST_F(CheckpointTest, ReadMissingOrNotAFile) {
  LoadedCheckpoint loaded;
  std::string error;
  std::string missing = tempPath("missing.safetensors");
  EXPECT_FALSE(readCheckpoint(missing, &loaded, &error));
  EXPECT_EQ(error.rfind(missing + ": cannot open: ", 0), 0u) << error;

  EXPECT_FALSE(readCheckpoint(dir, &loaded, &error));
  EXPECT_EQ(error, dir + ": is a directory");

  std::string path = tempPath("ok.safetensors");
  ASSERT_TRUE(writeCheckpoint(path, {}, {}, &error)) << error;
  EXPECT_FALSE(readCheckpoint(path, nullptr, &error));
  EXPECT_NE(error.find("no output checkpoint"), std::string::npos) << error;
}

} // namespace
