//===- RuntimeDataTest.cpp - tests of the runtime's data I/O --------------===//
//
// Element types, arrays, and the NPY, IDX and CSV readers and the NPY writer
// of kiln/data.h. Fixtures live in tests/unit/data (KILN_TEST_DATA_DIR),
// written by tests/unit/data/make_fixtures.py with numpy, so that .npy
// support is checked against numpy's own files; files that a test writes go
// to a fresh temporary directory.
//
//===----------------------------------------------------------------------===//

#include "kiln/data.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#ifndef KILN_TEST_DATA_DIR
#error "KILN_TEST_DATA_DIR must name the tests/unit/data directory"
#endif

namespace {

namespace fs = std::filesystem;

struct ArrayDeleter {
  void operator()(kiln_array_t *array) const { kiln_array_destroy(array); }
};
using ArrayPtr = std::unique_ptr<kiln_array_t, ArrayDeleter>;

const kiln_dtype_t kDtypes[] = {KILN_DTYPE_F32, KILN_DTYPE_F64,
                                KILN_DTYPE_I32, KILN_DTYPE_I64,
                                KILN_DTYPE_U8,  KILN_DTYPE_BOOL};

/// A value no API returns, to check that outputs are overwritten.
kiln_array_t *sentinel() {
  static kiln_array_t dummy;
  return &dummy;
}

std::string dataPath(const std::string &name) {
  return std::string(KILN_TEST_DATA_DIR) + "/" + name;
}

std::string readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void writeBytes(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

ArrayPtr makeArray(kiln_dtype_t dtype, std::vector<int64_t> shape) {
  kiln_array_t *array = nullptr;
  kiln_status_t status = kiln_array_create(
      dtype, static_cast<int32_t>(shape.size()), shape.data(), &array);
  EXPECT_EQ(status, KILN_OK);
  return ArrayPtr(array);
}

template <typename T>
ArrayPtr makeArray(kiln_dtype_t dtype, std::vector<int64_t> shape,
                   const std::vector<T> &values) {
  ArrayPtr array = makeArray(dtype, std::move(shape));
  EXPECT_EQ(array->nbytes, values.size() * sizeof(T));
  if (!values.empty())
    std::memcpy(array->data, values.data(), array->nbytes);
  return array;
}

template <typename T> std::vector<T> elements(const kiln_array_t &array) {
  std::vector<T> out(array.nbytes / sizeof(T));
  if (!out.empty())
    std::memcpy(out.data(), array.data, array.nbytes);
  return out;
}

std::vector<int64_t> shapeOf(const kiln_array_t &array) {
  return std::vector<int64_t>(array.shape, array.shape + array.rank);
}

/// Gives each test an empty directory, removed afterwards.
class DataFileTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "kiln-data-XXXXXX";
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

  std::string dir;
  char error[512] = {};
};

//===----------------------------------------------------------------------===//
// Element types and arrays
//===----------------------------------------------------------------------===//

// Tests that the dtype values (ABI), sizes and names are the documented ones.
TEST(RuntimeDtypeTest, ValuesSizesAndNamesAreFixed) {
  EXPECT_EQ(KILN_DTYPE_F32, 0);
  EXPECT_EQ(KILN_DTYPE_F64, 1);
  EXPECT_EQ(KILN_DTYPE_I32, 2);
  EXPECT_EQ(KILN_DTYPE_I64, 3);
  EXPECT_EQ(KILN_DTYPE_U8, 4);
  EXPECT_EQ(KILN_DTYPE_BOOL, 5);
  const size_t sizes[] = {4, 8, 4, 8, 1, 1};
  const char *names[] = {"f32", "f64", "i32", "i64", "u8", "bool"};
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(kiln_dtype_size(kDtypes[i]), sizes[i]) << i;
    EXPECT_STREQ(kiln_dtype_name(kDtypes[i]), names[i]) << i;
  }
  EXPECT_EQ(kiln_dtype_size(static_cast<kiln_dtype_t>(6)), 0u);
  EXPECT_STREQ(kiln_dtype_name(static_cast<kiln_dtype_t>(7)), "unknown");
}

// Tests that a new array has the requested shape, zeroed 64-byte-aligned
// data and zeros in the unused shape entries.
TEST(RuntimeArrayTest, CreateGivesZeroedAlignedData) {
  // The data is zeroed even in reused memory, not just in the allocator's
  // fresh pages: glibc hands out a freed block of this size (too large for
  // its per-thread cache) again.
  for (int round = 0; round < 2; ++round) {
    ArrayPtr reused = makeArray(KILN_DTYPE_F64, {512});
    for (double value : elements<double>(*reused))
      ASSERT_EQ(value, 0.0) << "round " << round;
    std::memset(reused->data, 0xab, reused->nbytes);
  }
  ArrayPtr array = makeArray(KILN_DTYPE_F64, {2, 3, 4});
  ASSERT_TRUE(array);
  EXPECT_EQ(array->dtype, KILN_DTYPE_F64);
  EXPECT_EQ(array->rank, 3);
  EXPECT_EQ(shapeOf(*array), (std::vector<int64_t>{2, 3, 4}));
  for (int i = 3; i < KILN_MAX_RANK; ++i)
    EXPECT_EQ(array->shape[i], 0) << i;
  EXPECT_EQ(kiln_array_element_count(array.get()), 24);
  EXPECT_EQ(array->nbytes, 24 * sizeof(double));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(array->data) % 64, 0u);
  for (double value : elements<double>(*array))
    EXPECT_EQ(value, 0.0);
}

// Tests rank 0 (one element, NULL shape allowed) and a zero dimension (no
// elements, data still non-NULL).
TEST(RuntimeArrayTest, ScalarAndEmptyArrays) {
  kiln_array_t *scalar = nullptr;
  ASSERT_EQ(kiln_array_create(KILN_DTYPE_I32, 0, nullptr, &scalar), KILN_OK);
  ArrayPtr scalarOwner(scalar);
  EXPECT_EQ(kiln_array_element_count(scalar), 1);
  EXPECT_EQ(scalar->nbytes, 4u);

  ArrayPtr empty = makeArray(KILN_DTYPE_U8, {0, 5});
  EXPECT_EQ(kiln_array_element_count(empty.get()), 0);
  EXPECT_EQ(empty->nbytes, 0u);
  EXPECT_NE(empty->data, nullptr);
  EXPECT_EQ(kiln_array_element_count(nullptr), 0);
}

// Tests every rejected argument of kiln_array_create, and that the output is
// reset to NULL.
TEST(RuntimeArrayTest, CreateRejectsBadArguments) {
  int64_t shape[KILN_MAX_RANK + 1] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  struct Case {
    kiln_dtype_t dtype;
    int32_t rank;
    const int64_t *shape;
    kiln_status_t expected;
  };
  int64_t negative[] = {2, -1};
  int64_t huge[] = {INT64_MAX / 2, 4};
  const Case cases[] = {
      {static_cast<kiln_dtype_t>(7), 1, shape, KILN_ERROR_INVALID_ARGUMENT},
      {KILN_DTYPE_F32, -1, shape, KILN_ERROR_INVALID_ARGUMENT},
      {KILN_DTYPE_F32, KILN_MAX_RANK + 1, shape, KILN_ERROR_INVALID_ARGUMENT},
      {KILN_DTYPE_F32, 1, nullptr, KILN_ERROR_INVALID_ARGUMENT},
      {KILN_DTYPE_F32, 2, negative, KILN_ERROR_INVALID_ARGUMENT},
      {KILN_DTYPE_F32, 2, huge, KILN_ERROR_OUT_OF_MEMORY},
  };
  for (const Case &c : cases) {
    kiln_array_t *array = sentinel();
    EXPECT_EQ(kiln_array_create(c.dtype, c.rank, c.shape, &array), c.expected)
        << "rank " << c.rank;
    EXPECT_EQ(array, nullptr);
  }
  EXPECT_EQ(kiln_array_create(KILN_DTYPE_F32, 1, shape, nullptr),
            KILN_ERROR_INVALID_ARGUMENT);
  kiln_array_destroy(nullptr);
}

//===----------------------------------------------------------------------===//
// NPY
//===----------------------------------------------------------------------===//

using RuntimeNpyTest = DataFileTest;

// Tests that save then load reproduces dtype, shape and every byte for each
// dtype and ranks 0 to 3 (including a zero dimension), that the data starts
// at a multiple of 64 bytes, and that no temporary file is left behind.
TEST_F(RuntimeNpyTest, RoundTripsEveryDtypeAndRank) {
  const std::vector<std::vector<int64_t>> shapes = {
      {}, {5}, {2, 3}, {2, 1, 3}, {3, 0, 2}};
  std::mt19937 random(42);
  for (kiln_dtype_t dtype : kDtypes) {
    for (const auto &shape : shapes) {
      SCOPED_TRACE(std::string(kiln_dtype_name(dtype)) + " rank " +
                   std::to_string(shape.size()));
      ArrayPtr array = makeArray(dtype, shape);
      auto *bytes = static_cast<unsigned char *>(array->data);
      // Any bit pattern is a valid number (NaN payloads included) except for
      // bool, whose bytes must be 0 or 1.
      for (size_t i = 0; i < array->nbytes; ++i)
        bytes[i] = static_cast<unsigned char>(
            dtype == KILN_DTYPE_BOOL ? random() % 2 : random() % 256);

      std::string path = tempPath("a.npy");
      ASSERT_EQ(kiln_npy_save(path.c_str(), array.get(), error, sizeof error),
                KILN_OK)
          << error;
      EXPECT_STREQ(error, "");
      for (const auto &entry :
           fs::directory_iterator(fs::path(path).parent_path()))
        EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos)
            << entry.path();
      uint64_t fileSize = fs::file_size(path);
      EXPECT_EQ((fileSize - array->nbytes) % 64, 0u);

      kiln_array_t *loaded = nullptr;
      ASSERT_EQ(kiln_npy_load(path.c_str(), &loaded, error, sizeof error),
                KILN_OK)
          << error;
      ArrayPtr loadedOwner(loaded);
      EXPECT_EQ(loaded->dtype, dtype);
      EXPECT_EQ(shapeOf(*loaded), shape);
      ASSERT_EQ(loaded->nbytes, array->nbytes);
      EXPECT_EQ(std::memcmp(loaded->data, array->data, array->nbytes), 0);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(loaded->data) % 64, 0u);
    }
  }
}

// Tests that kiln_npy_save writes exactly the bytes numpy.save wrote for the
// same arrays (header text, growth space, padding, data).
TEST_F(RuntimeNpyTest, SaveMatchesNumpyByteForByte) {
  std::vector<std::pair<std::string, ArrayPtr>> cases;
  cases.emplace_back(
      "f32_2x3.npy",
      makeArray<float>(KILN_DTYPE_F32, {2, 3}, {-2, -0.5f, 1, 2.5f, 4, 5.5f}));
  cases.emplace_back(
      "f64_3.npy", makeArray<double>(KILN_DTYPE_F64, {3}, {0.1, -2.5, 1e300}));
  cases.emplace_back(
      "i32_2x2x2.npy",
      makeArray<int32_t>(KILN_DTYPE_I32, {2, 2, 2},
                         {INT32_MIN, -1, 0, 1, 2, 3, 4, INT32_MAX}));
  cases.emplace_back(
      "i64_scalar.npy",
      makeArray<int64_t>(KILN_DTYPE_I64, {}, {-(int64_t(1) << 62) - 5}));
  cases.emplace_back("u8_4.npy",
                     makeArray<uint8_t>(KILN_DTYPE_U8, {4}, {0, 1, 127, 255}));
  cases.emplace_back("bool_2x3.npy", makeArray<uint8_t>(KILN_DTYPE_BOOL, {2, 3},
                                                        {1, 0, 1, 0, 0, 1}));
  cases.emplace_back("f32_0x3.npy",
                     makeArray<float>(KILN_DTYPE_F32, {0, 3}, {}));
  for (const auto &[name, array] : cases) {
    std::string path = tempPath(name);
    ASSERT_EQ(kiln_npy_save(path.c_str(), array.get(), error, sizeof error),
              KILN_OK)
        << name << ": " << error;
    std::string expected = readBytes(dataPath(name));
    ASSERT_FALSE(expected.empty()) << "missing fixture " << name;
    EXPECT_EQ(readBytes(path), expected) << name;
  }
}

// Tests loading numpy-written files: dtype, shape and values.
TEST_F(RuntimeNpyTest, LoadsNumpyFiles) {
  auto load = [&](const std::string &name) {
    kiln_array_t *array = nullptr;
    EXPECT_EQ(
        kiln_npy_load(dataPath(name).c_str(), &array, error, sizeof error),
        KILN_OK)
        << name << ": " << error;
    return ArrayPtr(array);
  };
  ArrayPtr f32 = load("f32_2x3.npy");
  ASSERT_TRUE(f32);
  EXPECT_EQ(f32->dtype, KILN_DTYPE_F32);
  EXPECT_EQ(shapeOf(*f32), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(elements<float>(*f32),
            (std::vector<float>{-2, -0.5f, 1, 2.5f, 4, 5.5f}));

  ArrayPtr f64 = load("f64_3.npy");
  ASSERT_TRUE(f64);
  EXPECT_EQ(f64->dtype, KILN_DTYPE_F64);
  EXPECT_EQ(elements<double>(*f64), (std::vector<double>{0.1, -2.5, 1e300}));

  ArrayPtr i32 = load("i32_2x2x2.npy");
  ASSERT_TRUE(i32);
  EXPECT_EQ(i32->dtype, KILN_DTYPE_I32);
  EXPECT_EQ(shapeOf(*i32), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ(elements<int32_t>(*i32).front(), INT32_MIN);
  EXPECT_EQ(elements<int32_t>(*i32).back(), INT32_MAX);

  ArrayPtr i64 = load("i64_scalar.npy");
  ASSERT_TRUE(i64);
  EXPECT_EQ(i64->dtype, KILN_DTYPE_I64);
  EXPECT_EQ(i64->rank, 0);
  EXPECT_EQ(elements<int64_t>(*i64),
            (std::vector<int64_t>{-(int64_t(1) << 62) - 5}));

  ArrayPtr u8 = load("u8_4.npy");
  ASSERT_TRUE(u8);
  EXPECT_EQ(u8->dtype, KILN_DTYPE_U8);
  EXPECT_EQ(elements<uint8_t>(*u8), (std::vector<uint8_t>{0, 1, 127, 255}));

  ArrayPtr flags = load("bool_2x3.npy");
  ASSERT_TRUE(flags);
  EXPECT_EQ(flags->dtype, KILN_DTYPE_BOOL);
  EXPECT_EQ(elements<uint8_t>(*flags),
            (std::vector<uint8_t>{1, 0, 1, 0, 0, 1}));

  ArrayPtr empty = load("f32_0x3.npy");
  ASSERT_TRUE(empty);
  EXPECT_EQ(shapeOf(*empty), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(empty->nbytes, 0u);
}

// Tests format versions 2.0 and 3.0 (4-byte header length).
TEST_F(RuntimeNpyTest, LoadsFormatVersions2And3) {
  kiln_array_t *v2 = nullptr, *v3 = nullptr;
  ASSERT_EQ(
      kiln_npy_load(dataPath("f32_v2.npy").c_str(), &v2, error, sizeof error),
      KILN_OK)
      << error;
  ArrayPtr v2Owner(v2);
  EXPECT_EQ(elements<float>(*v2), (std::vector<float>{1, 2, 3}));
  ASSERT_EQ(
      kiln_npy_load(dataPath("f32_v3.npy").c_str(), &v3, error, sizeof error),
      KILN_OK)
      << error;
  ArrayPtr v3Owner(v3);
  EXPECT_EQ(elements<float>(*v3), (std::vector<float>{4, 5}));
}

// Tests headers that numpy does not write but that are valid: free spacing,
// other key order, trailing commas, '=' byte order, Python 2 "3L" integers,
// and (kiln only) an extra key with a nested value.
TEST_F(RuntimeNpyTest, LoadsUnusualHeaders) {
  for (const char *name :
       {"header_spacing.npy", "py2_long.npy", "extra_key.npy"}) {
    kiln_array_t *array = nullptr;
    ASSERT_EQ(
        kiln_npy_load(dataPath(name).c_str(), &array, error, sizeof error),
        KILN_OK)
        << name << ": " << error;
    ArrayPtr owner(array);
    EXPECT_EQ(array->dtype, KILN_DTYPE_F32) << name;
    EXPECT_EQ(shapeOf(*array), (std::vector<int64_t>{2, 3})) << name;
    EXPECT_EQ(elements<float>(*array), (std::vector<float>{0, 1, 2, 3, 4, 5}))
        << name;
  }
  kiln_array_t *native = nullptr;
  ASSERT_EQ(kiln_npy_load(dataPath("native_order.npy").c_str(), &native, error,
                          sizeof error),
            KILN_OK)
      << error;
  ArrayPtr nativeOwner(native);
  EXPECT_EQ(native->dtype, KILN_DTYPE_F64);
  EXPECT_EQ(elements<double>(*native), (std::vector<double>{1.25, -8.0}));
}

struct LoadErrorCase {
  const char *file;
  kiln_status_t status;
  const char *message;
};

// Tests that each malformed or unsupported .npy fixture is rejected with the
// right status, no array, and a message that starts with the path.
TEST_F(RuntimeNpyTest, RejectsBadFiles) {
  const LoadErrorCase cases[] = {
      {"truncated.npy", KILN_ERROR_FORMAT,
       "truncated: the shape (2, 3) of f32 needs 24 bytes of data after the "
       "128-byte header, but the file has 20"},
      {"trailing.npy", KILN_ERROR_FORMAT, "needs 24 bytes of data"},
      {"big_endian.npy", KILN_ERROR_FORMAT,
       "big-endian dtype '>f4' is not supported"},
      {"fortran.npy", KILN_ERROR_FORMAT,
       "Fortran-order arrays are not supported"},
      {"float16.npy", KILN_ERROR_FORMAT,
       "dtype '<f2' is not supported (supported: f32, f64, i32, i64, u8, "
       "bool)"},
      {"structured.npy", KILN_ERROR_FORMAT,
       "structured dtypes are not supported"},
      {"bad_magic.npy", KILN_ERROR_FORMAT, "not a .npy file (bad magic"},
      {"bool_bad_value.npy", KILN_ERROR_FORMAT,
       "bool element 2 at byte 130 is 2, not 0 or 1"},
      {"missing_shape.npy", KILN_ERROR_FORMAT, "no 'shape' key"},
      {"rank9.npy", KILN_ERROR_FORMAT, "rank 9 is not supported"},
      {"images_2x3x4.idx", KILN_ERROR_FORMAT, "not a .npy file"},
      {"no_such_file.npy", KILN_ERROR_IO, "cannot open: No such file"},
  };
  for (const LoadErrorCase &c : cases) {
    std::string path = dataPath(c.file);
    kiln_array_t *array = sentinel();
    EXPECT_EQ(kiln_npy_load(path.c_str(), &array, error, sizeof error),
              c.status)
        << c.file;
    EXPECT_EQ(array, nullptr) << c.file;
    EXPECT_EQ(std::string(error).rfind(path + ": ", 0), 0u) << error;
    EXPECT_NE(std::string(error).find(c.message), std::string::npos)
        << "message: " << error;
  }
}

// Tests that a header syntax error names its byte offset, and that an .npz
// (zip) archive is recognized.
TEST_F(RuntimeNpyTest, ReportsHeaderOffsetAndZipArchives) {
  std::string header = "{'descr' '<f4'}";
  std::string path = tempPath("syntax.npy");
  writeBytes(path, std::string("\x93NUMPY\x01\x00", 8) + char(header.size()) +
                       '\0' + header);
  kiln_array_t *array = nullptr;
  EXPECT_EQ(kiln_npy_load(path.c_str(), &array, error, sizeof error),
            KILN_ERROR_FORMAT);
  // The header starts at byte 10; the value after 'descr' at 10 + 9.
  EXPECT_NE(std::string(error).find(
                "malformed header: byte 19: expected ':' after the key "
                "'descr'"),
            std::string::npos)
      << error;

  path = tempPath("archive.npz");
  writeBytes(path, std::string("PK\x03\x04", 4) + std::string(40, '\0'));
  EXPECT_EQ(kiln_npy_load(path.c_str(), &array, error, sizeof error),
            KILN_ERROR_FORMAT);
  EXPECT_NE(std::string(error).find("zip archive"), std::string::npos) << error;
}

// Tests that saving replaces an existing file, and that a failed save (here:
// the temporary path is a directory) reports an I/O error naming the path
// and leaves the old file untouched.
TEST_F(RuntimeNpyTest, SaveReplacesAtomically) {
  std::string path = tempPath("model.npy");
  ArrayPtr first = makeArray<int32_t>(KILN_DTYPE_I32, {2}, {1, 2});
  ArrayPtr second = makeArray<int32_t>(KILN_DTYPE_I32, {3}, {7, 8, 9});
  ASSERT_EQ(kiln_npy_save(path.c_str(), first.get(), error, sizeof error),
            KILN_OK);
  ASSERT_EQ(kiln_npy_save(path.c_str(), second.get(), error, sizeof error),
            KILN_OK);
  kiln_array_t *loaded = nullptr;
  ASSERT_EQ(kiln_npy_load(path.c_str(), &loaded, error, sizeof error), KILN_OK);
  ArrayPtr loadedOwner(loaded);
  EXPECT_EQ(elements<int32_t>(*loaded), (std::vector<int32_t>{7, 8, 9}));

  // The temporary file has a unique name: an existing "<path>.tmp" (here a
  // directory; it could be the user's data) is left alone.
  ASSERT_TRUE(fs::create_directory(path + ".tmp"));
  EXPECT_EQ(kiln_npy_save(path.c_str(), first.get(), error, sizeof error),
            KILN_OK)
      << error;
  EXPECT_TRUE(fs::is_directory(path + ".tmp"));

  // A failed save (the rename target is a non-empty directory) leaves no
  // temporary file, and a missing directory is reported by name.
  std::string blocked = tempPath("blocked.npy");
  ASSERT_TRUE(fs::create_directories(blocked + "/inside"));
  EXPECT_EQ(kiln_npy_save(blocked.c_str(), first.get(), error, sizeof error),
            KILN_ERROR_IO);
  size_t leftovers = 0;
  for (const auto &entry :
       fs::directory_iterator(fs::path(blocked).parent_path()))
    leftovers += entry.path().string().rfind(blocked + ".tmp.", 0) == 0;
  EXPECT_EQ(leftovers, 0u);
  std::string missing = tempPath("no/such/dir/x.npy");
  EXPECT_EQ(kiln_npy_save(missing.c_str(), first.get(), error, sizeof error),
            KILN_ERROR_IO);
  EXPECT_EQ(std::string(error).rfind(
                missing + ": cannot create " + missing + ".tmp.", 0),
            0u)
      << error;

  std::string missingDir = tempPath("no/such/dir/x.npy");
  EXPECT_EQ(kiln_npy_save(missingDir.c_str(), first.get(), error, sizeof error),
            KILN_ERROR_IO);
  EXPECT_NE(std::string(error).find("No such file or directory"),
            std::string::npos)
      << error;
}

// Tests that kiln_npy_save accepts a caller-described array over the
// caller's memory, and rejects inconsistent ones without creating a file.
TEST_F(RuntimeNpyTest, SaveChecksCallerArrays) {
  float values[4] = {1.5f, -2, 3, 0};
  kiln_array_t view = {};
  view.dtype = KILN_DTYPE_F32;
  view.rank = 2;
  view.shape[0] = 2;
  view.shape[1] = 2;
  view.data = values;
  view.nbytes = sizeof values;
  std::string path = tempPath("view.npy");
  ASSERT_EQ(kiln_npy_save(path.c_str(), &view, error, sizeof error), KILN_OK)
      << error;
  kiln_array_t *loaded = nullptr;
  ASSERT_EQ(kiln_npy_load(path.c_str(), &loaded, error, sizeof error), KILN_OK);
  ArrayPtr loadedOwner(loaded);
  EXPECT_EQ(elements<float>(*loaded), (std::vector<float>{1.5f, -2, 3, 0}));

  std::string badPath = tempPath("bad.npy");
  kiln_array_t wrongSize = view;
  wrongSize.nbytes = 12;
  EXPECT_EQ(kiln_npy_save(badPath.c_str(), &wrongSize, error, sizeof error),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(error).find("nbytes is 12"), std::string::npos)
      << error;
  uint8_t flags[3] = {0, 1, 2};
  kiln_array_t badBool = {};
  badBool.dtype = KILN_DTYPE_BOOL;
  badBool.rank = 1;
  badBool.shape[0] = 3;
  badBool.data = flags;
  badBool.nbytes = 3;
  EXPECT_EQ(kiln_npy_save(badPath.c_str(), &badBool, error, sizeof error),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(error).find("bool element 2 is 2"), std::string::npos)
      << error;
  EXPECT_FALSE(fs::exists(badPath));
  EXPECT_EQ(kiln_npy_save(badPath.c_str(), nullptr, error, sizeof error),
            KILN_ERROR_INVALID_ARGUMENT);
}

// Tests the error buffer: optional, truncated to its size with a NUL, and
// cleared on success.
TEST_F(RuntimeNpyTest, ErrorBufferIsOptionalTruncatedAndCleared) {
  std::string path = dataPath("fortran.npy");
  kiln_array_t *array = nullptr;
  EXPECT_EQ(kiln_npy_load(path.c_str(), &array, nullptr, 0), KILN_ERROR_FORMAT);
  char small[8];
  std::memset(small, 'x', sizeof small);
  EXPECT_EQ(kiln_npy_load(path.c_str(), &array, small, sizeof small),
            KILN_ERROR_FORMAT);
  EXPECT_EQ(std::string(small), path.substr(0, 7));

  std::strcpy(error, "stale");
  ASSERT_EQ(
      kiln_npy_load(dataPath("u8_4.npy").c_str(), &array, error, sizeof error),
      KILN_OK);
  kiln_array_destroy(array);
  EXPECT_STREQ(error, "");
}

//===----------------------------------------------------------------------===//
// IDX
//===----------------------------------------------------------------------===//

using RuntimeIdxTest = DataFileTest;

// Tests loading an image file (3 dimensions) and a label file (1 dimension).
TEST_F(RuntimeIdxTest, LoadsImagesAndLabels) {
  kiln_array_t *images = nullptr;
  ASSERT_EQ(kiln_idx_load(dataPath("images_2x3x4.idx").c_str(), &images, error,
                          sizeof error),
            KILN_OK)
      << error;
  ArrayPtr imagesOwner(images);
  EXPECT_EQ(images->dtype, KILN_DTYPE_U8);
  EXPECT_EQ(shapeOf(*images), (std::vector<int64_t>{2, 3, 4}));
  std::vector<uint8_t> pixels = elements<uint8_t>(*images);
  ASSERT_EQ(pixels.size(), 24u);
  for (size_t i = 0; i < pixels.size(); ++i)
    EXPECT_EQ(pixels[i], (i * 10) % 256) << i;

  kiln_array_t *labels = nullptr;
  ASSERT_EQ(kiln_idx_load(dataPath("labels_5.idx").c_str(), &labels, error,
                          sizeof error),
            KILN_OK)
      << error;
  ArrayPtr labelsOwner(labels);
  EXPECT_EQ(shapeOf(*labels), (std::vector<int64_t>{5}));
  EXPECT_EQ(elements<uint8_t>(*labels), (std::vector<uint8_t>{7, 2, 1, 0, 4}));
}

// Tests that truncated, foreign, unsupported and compressed files are
// rejected with a message naming the file.
TEST_F(RuntimeIdxTest, RejectsBadFiles) {
  const LoadErrorCase cases[] = {
      {"truncated.idx", KILN_ERROR_FORMAT,
       "truncated: the dimensions (2, 3, 4) need 24 bytes of data after the "
       "16-byte header, but the file has 19"},
      {"bad_magic.idx", KILN_ERROR_FORMAT, "bad magic number 0x12340803"},
      {"f32.idx", KILN_ERROR_FORMAT,
       "IDX data type 0x0D (f32) is not supported"},
      {"images.idx.gz", KILN_ERROR_FORMAT, "gzip-compressed"},
      {"no_such_file.idx", KILN_ERROR_IO, "cannot open"},
  };
  for (const LoadErrorCase &c : cases) {
    std::string path = dataPath(c.file);
    kiln_array_t *array = sentinel();
    EXPECT_EQ(kiln_idx_load(path.c_str(), &array, error, sizeof error),
              c.status)
        << c.file;
    EXPECT_EQ(array, nullptr) << c.file;
    EXPECT_EQ(std::string(error).rfind(path + ": ", 0), 0u) << error;
    EXPECT_NE(std::string(error).find(c.message), std::string::npos)
        << "message: " << error;
  }
}

//===----------------------------------------------------------------------===//
// CSV
//===----------------------------------------------------------------------===//

using RuntimeCsvTest = DataFileTest;

// mixed.csv, column by column (header: a, label, "b, with comma",
// say "hi"); the NaN is compared separately.
const float kNan = NAN;
const float kInf = INFINITY;

void expectFloats(const kiln_array_t &array, const std::vector<float> &want) {
  std::vector<float> got = elements<float>(array);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i]))
      EXPECT_TRUE(std::isnan(got[i])) << i;
    else
      EXPECT_EQ(got[i], want[i]) << i;
  }
}

// Tests a label column selected by name from the middle of the row, with
// quoted names, spaces, '+', nan, -inf, CRLF and trailing empty lines.
TEST_F(RuntimeCsvTest, SplitsLabelColumnByName) {
  kiln_csv_options_t options;
  kiln_csv_options_init(&options);
  options.label_column = "label";
  kiln_array_t *features = nullptr, *labels = nullptr;
  ASSERT_EQ(kiln_csv_load(dataPath("mixed.csv").c_str(), &options, &features,
                          &labels, error, sizeof error),
            KILN_OK)
      << error;
  ArrayPtr featuresOwner(features), labelsOwner(labels);
  EXPECT_EQ(features->dtype, KILN_DTYPE_F32);
  EXPECT_EQ(shapeOf(*features), (std::vector<int64_t>{3, 3}));
  expectFloats(*features, {1, 2.5f, -3, 4, 0.5f, 6, 7, kNan, -kInf});
  EXPECT_EQ(labels->dtype, KILN_DTYPE_F32);
  EXPECT_EQ(shapeOf(*labels), (std::vector<int64_t>{3}));
  expectFloats(*labels, {0, 1, 2});
}

// Tests kiln_csv_load_weighted: the weight column leaves the features like
// the label column; naming an unknown or the label column is an error, and
// kiln_csv_load refuses weight_column rather than keep it as a feature.
TEST_F(RuntimeCsvTest, SplitsSampleWeightColumn) {
  kiln_csv_options_t options;
  kiln_csv_options_init(&options);
  EXPECT_EQ(options.weight_column, nullptr);
  options.label_column = "label";
  options.weight_column = "a";
  kiln_array_t *features = nullptr, *labels = nullptr, *weights = nullptr;
  ASSERT_EQ(kiln_csv_load_weighted(dataPath("mixed.csv").c_str(), &options,
                                   &features, &labels, &weights, error,
                                   sizeof error),
            KILN_OK)
      << error;
  ArrayPtr featuresOwner(features), labelsOwner(labels), weightsOwner(weights);
  EXPECT_EQ(shapeOf(*features), (std::vector<int64_t>{3, 2}));
  expectFloats(*features, {2.5f, -3, 0.5f, 6, kNan, -kInf});
  expectFloats(*labels, {0, 1, 2});
  EXPECT_EQ(shapeOf(*weights), (std::vector<int64_t>{3}));
  expectFloats(*weights, {1, 4, 7});

  options.weight_column = "nope";
  EXPECT_EQ(kiln_csv_load_weighted(dataPath("mixed.csv").c_str(), &options,
                                   &features, &labels, &weights, error,
                                   sizeof error),
            KILN_ERROR_FORMAT);
  EXPECT_NE(std::string(error).find("no sample-weight column named 'nope'"),
            std::string::npos)
      << error;
  EXPECT_EQ(weights, nullptr);
  options.weight_column = "label";
  EXPECT_EQ(kiln_csv_load_weighted(dataPath("mixed.csv").c_str(), &options,
                                   &features, &labels, &weights, error,
                                   sizeof error),
            KILN_ERROR_FORMAT);
  EXPECT_NE(std::string(error).find("is both the label and the sample-weight "
                                    "column"),
            std::string::npos)
      << error;
  options.weight_column = "a";
  EXPECT_EQ(kiln_csv_load(dataPath("mixed.csv").c_str(), &options, &features,
                          &labels, error, sizeof error),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_csv_load_weighted(dataPath("mixed.csv").c_str(), &options,
                                   &features, &labels, nullptr, error,
                                   sizeof error),
            KILN_ERROR_INVALID_ARGUMENT);
}

// Tests selecting the label column by a name that was quoted with a ""
// escape, and by an index that points at a name containing a comma.
TEST_F(RuntimeCsvTest, SelectsQuotedNamesAndIndexes) {
  kiln_csv_options_t options;
  kiln_csv_options_init(&options);
  options.label_column = "say \"hi\"";
  kiln_array_t *features = nullptr, *labels = nullptr;
  ASSERT_EQ(kiln_csv_load(dataPath("mixed.csv").c_str(), &options, &features,
                          &labels, error, sizeof error),
            KILN_OK)
      << error;
  ArrayPtr featuresOwner(features), labelsOwner(labels);
  expectFloats(*features, {1, 0, 2.5f, 4, 1, 0.5f, 7, 2, kNan});
  expectFloats(*labels, {-3, 6, -kInf});

  kiln_csv_options_init(&options);
  options.label_index = 2;
  ASSERT_EQ(kiln_csv_load(dataPath("mixed.csv").c_str(), &options, &features,
                          &labels, error, sizeof error),
            KILN_OK)
      << error;
  featuresOwner.reset(features);
  labelsOwner.reset(labels);
  EXPECT_EQ(shapeOf(*features), (std::vector<int64_t>{3, 3}));
  expectFloats(*labels, {2.5f, 0.5f, kNan});
}

// Tests loading without a label column (NULL options = defaults): all
// columns are features and the label output is set to NULL.
TEST_F(RuntimeCsvTest, LoadsWithoutLabels) {
  kiln_array_t *features = nullptr, *labels = sentinel();
  ASSERT_EQ(kiln_csv_load(dataPath("mixed.csv").c_str(), nullptr, &features,
                          &labels, error, sizeof error),
            KILN_OK)
      << error;
  ArrayPtr featuresOwner(features);
  EXPECT_EQ(labels, nullptr);
  EXPECT_EQ(shapeOf(*features), (std::vector<int64_t>{3, 4}));
  expectFloats(*features, {1, 0, 2.5f, -3, 4, 1, 0.5f, 6, 7, 2, kNan, -kInf});
}

// Tests another delimiter, a last line without a newline, and a file with
// a header but no records.
TEST_F(RuntimeCsvTest, SemicolonsAndHeaderOnly) {
  kiln_csv_options_t options;
  kiln_csv_options_init(&options);
  EXPECT_EQ(options.delimiter, ',');
  EXPECT_EQ(options.label_index, -1);
  EXPECT_EQ(options.label_column, nullptr);
  options.delimiter = ';';
  kiln_array_t *features = nullptr;
  ASSERT_EQ(kiln_csv_load(dataPath("semicolon.csv").c_str(), &options,
                          &features, nullptr, error, sizeof error),
            KILN_OK)
      << error;
  ArrayPtr featuresOwner(features);
  EXPECT_EQ(shapeOf(*features), (std::vector<int64_t>{2, 2}));
  expectFloats(*features, {1, 2, 3, 4});

  kiln_csv_options_init(&options);
  options.label_column = "label";
  kiln_array_t *labels = nullptr;
  ASSERT_EQ(kiln_csv_load(dataPath("header_only.csv").c_str(), &options,
                          &features, &labels, error, sizeof error),
            KILN_OK)
      << error;
  featuresOwner.reset(features);
  ArrayPtr labelsOwner(labels);
  EXPECT_EQ(shapeOf(*features), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(shapeOf(*labels), (std::vector<int64_t>{0}));
}

// Tests that a UTF-8 byte-order mark (as written by Excel) is not part of
// the first column name.
TEST_F(RuntimeCsvTest, SkipsByteOrderMark) {
  std::string path = tempPath("bom.csv");
  writeBytes(path, "\xEF\xBB\xBFy,x\n1,2\n");
  kiln_csv_options_t options;
  kiln_csv_options_init(&options);
  options.label_column = "y";
  kiln_array_t *features = nullptr, *labels = nullptr;
  ASSERT_EQ(kiln_csv_load(path.c_str(), &options, &features, &labels, error,
                          sizeof error),
            KILN_OK)
      << error;
  ArrayPtr featuresOwner(features), labelsOwner(labels);
  expectFloats(*features, {2});
  expectFloats(*labels, {1});
}

// Tests number parsing at the edges of f32: rounding from the decimal value,
// underflow beyond f64 to zero, the largest value that rounds to FLT_MAX.
TEST_F(RuntimeCsvTest, ParsesNumbersAtTheEdgesOfF32) {
  std::string path = tempPath("edges.csv");
  writeBytes(path, "x\n0.1\n1e-400\n-1e-50\n3.4028235e38\n-7\n");
  kiln_array_t *features = nullptr;
  ASSERT_EQ(kiln_csv_load(path.c_str(), nullptr, &features, nullptr, error,
                          sizeof error),
            KILN_OK)
      << error;
  ArrayPtr featuresOwner(features);
  std::vector<float> got = elements<float>(*features);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0], 0.1f);
  EXPECT_EQ(got[1], 0.0f);
  EXPECT_EQ(got[2], 0.0f);
  EXPECT_TRUE(std::signbit(got[2]));
  EXPECT_EQ(got[3], FLT_MAX);
  EXPECT_EQ(got[4], -7.0f);
}

// Tests that each malformed CSV fixture is rejected with a message that
// starts with "<path>:<line>: " and explains the problem.
TEST_F(RuntimeCsvTest, RejectsBadFilesNamingTheLine) {
  struct Case {
    const char *file;
    const char *where;
    const char *message;
  };
  const Case cases[] = {
      {"bad_row.csv", ":3: ", "field 2 ('b'): 'oops' is not a number"},
      {"short_row.csv", ":4: ", "expected 3 fields, got 2"},
      {"blank_middle.csv", ":3: ", "empty line before the record on line 4"},
      {"unterminated.csv", ":2: ", "unterminated quoted field"},
      {"out_of_range.csv", ":2: ", "'1e39' is out of the f32 range"},
      {"empty.csv", ": ", "the file is empty"},
  };
  for (const Case &c : cases) {
    std::string path = dataPath(c.file);
    kiln_array_t *features = sentinel(), *labels = sentinel();
    EXPECT_EQ(kiln_csv_load(path.c_str(), nullptr, &features, &labels, error,
                            sizeof error),
              KILN_ERROR_FORMAT)
        << c.file;
    EXPECT_EQ(features, nullptr) << c.file;
    EXPECT_EQ(labels, nullptr) << c.file;
    EXPECT_EQ(std::string(error).rfind(path + c.where, 0), 0u) << error;
    EXPECT_NE(std::string(error).find(c.message), std::string::npos)
        << "message: " << error;
  }
}

// Tests label columns that do not exist, by name and by index.
TEST_F(RuntimeCsvTest, RejectsUnknownLabelColumns) {
  std::string path = dataPath("mixed.csv");
  kiln_csv_options_t options;
  kiln_csv_options_init(&options);
  options.label_column = "species";
  kiln_array_t *features = sentinel(), *labels = sentinel();
  EXPECT_EQ(kiln_csv_load(path.c_str(), &options, &features, &labels, error,
                          sizeof error),
            KILN_ERROR_FORMAT);
  EXPECT_EQ(features, nullptr);
  EXPECT_EQ(labels, nullptr);
  EXPECT_EQ(std::string(error).rfind(
                path + ":1: no column named 'species' in the header "
                       "(columns: 'a', 'label', 'b, with comma', "
                       "'say \"hi\"')",
                0),
            0u)
      << error;

  kiln_csv_options_init(&options);
  options.label_index = 4;
  EXPECT_EQ(kiln_csv_load(path.c_str(), &options, &features, &labels, error,
                          sizeof error),
            KILN_ERROR_FORMAT);
  EXPECT_NE(std::string(error).find(
                ":1: label column index 4 is out of range (the header has 4 "
                "columns)"),
            std::string::npos)
      << error;
}

// Tests the argument checks of kiln_csv_load.
TEST_F(RuntimeCsvTest, RejectsBadOptions) {
  std::string path = dataPath("mixed.csv");
  kiln_array_t *features = nullptr, *labels = nullptr;
  kiln_csv_options_t options;
  kiln_csv_options_init(&options);
  options.label_column = "label";
  options.label_index = 1;
  EXPECT_EQ(kiln_csv_load(path.c_str(), &options, &features, &labels, error,
                          sizeof error),
            KILN_ERROR_INVALID_ARGUMENT);
  options.label_index = -1;
  EXPECT_EQ(kiln_csv_load(path.c_str(), &options, &features, nullptr, error,
                          sizeof error),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(error).find("out_labels is NULL"), std::string::npos)
      << error;
  kiln_csv_options_init(&options);
  options.delimiter = '"';
  EXPECT_EQ(kiln_csv_load(path.c_str(), &options, &features, &labels, error,
                          sizeof error),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_csv_load(path.c_str(), nullptr, nullptr, &labels, error,
                          sizeof error),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_csv_load(tempPath("missing.csv").c_str(), nullptr, &features,
                          &labels, error, sizeof error),
            KILN_ERROR_IO);
  EXPECT_EQ(features, nullptr);
}

} // namespace
