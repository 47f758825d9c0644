//===- H5SnapshotTest.cpp - the HDF5 child's snapshot stream --------------===//
//
// H5File::parseSnapshot takes the output of the HDF5 child process
// (frontend/keras/H5Snapshot.h) as untrusted bytes: a well-formed stream
// answers the importer's questions, and every truncation or inconsistent
// size is an error, never a crash. H5File::open runs the child: a file
// that is not HDF5 comes back as the child's error record. (Files that
// crash or hang libhdf5: tests/lit/frontend/keras/hdf5_isolation.test.)
//
//===----------------------------------------------------------------------===//

#include "frontend/keras/H5Snapshot.h"
#include "frontend/keras/KerasWeights.h"

#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

using namespace mlir::kiln::keras;
namespace snap = mlir::kiln::keras::snapshot;

namespace {

/// A stream with the root attribute model_config, the group model_weights
/// (attribute layer_names = ["d"]), the f64 dataset model_weights/d/k of
/// shape [2, 3] holding `values`, and an integer dataset model_weights/d/n
/// with one element, -7 (record 'I', after its shape's error; with
/// `integerOf` another path, the 'I' record names that one instead).
std::string stream(const std::vector<double> &values,
                   std::vector<uint64_t> shape = {2, 3},
                   const char *integerOf = "model_weights/d/n") {
  std::string s;
  llvm::raw_string_ostream out(s);
  out << snap::kMagic << snap::kFileOk;
  out << snap::kAttribute;
  snap::writeString(out, "");
  snap::writeString(out, "model_config");
  out << snap::kOk;
  snap::writeU64(out, 1);
  snap::writeString(out, "{\"class_name\": \"Sequential\"}");
  for (const char *group : {"model_weights", "model_weights/d"}) {
    out << snap::kObject;
    snap::writeString(out, group);
    out << char(0);
  }
  out << snap::kAttribute;
  snap::writeString(out, "model_weights");
  snap::writeString(out, "layer_names");
  out << snap::kOk;
  snap::writeU64(out, 1);
  snap::writeString(out, "d");
  out << snap::kList;
  snap::writeString(out, "model_weights");
  out << snap::kOk;
  snap::writeU64(out, 3);
  for (const char *name : {"d", "d/k", "d/n"})
    snap::writeString(out, name);
  out << snap::kObject;
  snap::writeString(out, "model_weights/d/k");
  out << char(1) << snap::kShape;
  snap::writeString(out, "model_weights/d/k");
  out << snap::kOk;
  snap::writeU64(out, shape.size());
  for (uint64_t d : shape)
    snap::writeU64(out, d);
  snap::writeU64(out, 8);
  out << snap::kData;
  snap::writeString(out, "model_weights/d/k");
  out << snap::kOk;
  snap::writeString(
      out, llvm::StringRef(reinterpret_cast<const char *>(values.data()),
                           values.size() * 8));
  out << snap::kObject;
  snap::writeString(out, "model_weights/d/n");
  out << char(1) << snap::kShape;
  snap::writeString(out, "model_weights/d/n");
  out << snap::kError;
  snap::writeString(out, "'model_weights/d/n' is not a floating-point "
                         "dataset");
  out << snap::kInteger;
  snap::writeString(out, integerOf);
  snap::writeU64(out, uint64_t(int64_t(-7)));
  out << snap::kEnd;
  return s;
}

const std::vector<double> kValues = {1, -2.5, 3, 1e300, -1e300, 0.1};

TEST(H5Snapshot, AnswersFromAWellFormedStream) {
  auto file = H5File::parseSnapshot(stream(kValues), "m.h5");
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  EXPECT_TRUE((*file)->exists(""));
  EXPECT_TRUE((*file)->exists("model_weights//d/"));
  EXPECT_FALSE((*file)->exists("model_weights/e"));
  EXPECT_TRUE((*file)->isDataset("model_weights/d/k"));
  EXPECT_FALSE((*file)->isDataset("model_weights/d"));

  auto config = (*file)->stringAttribute("", "model_config");
  ASSERT_TRUE(bool(config));
  ASSERT_TRUE(config->has_value());
  EXPECT_EQ((**config)[0], "{\"class_name\": \"Sequential\"}");
  auto missing = (*file)->stringAttribute("", "training_config");
  ASSERT_TRUE(bool(missing));
  EXPECT_FALSE(missing->has_value());

  auto all = (*file)->datasets("model_weights");
  ASSERT_TRUE(bool(all));
  EXPECT_EQ(*all, (std::vector<std::string>{"model_weights/d/k",
                                            "model_weights/d/n"}));

  auto shape = (*file)->floatShape("model_weights/d/k");
  ASSERT_TRUE(bool(shape));
  EXPECT_EQ(*shape, (llvm::SmallVector<int64_t>{2, 3}));
  auto integer = (*file)->floatShape("model_weights/d/n");
  ASSERT_FALSE(bool(integer));
  EXPECT_EQ(llvm::toString(integer.takeError()),
            "'model_weights/d/n' is not a floating-point dataset");
  auto counter = (*file)->integerScalar("model_weights/d/n");
  ASSERT_TRUE(bool(counter)) << llvm::toString(counter.takeError());
  EXPECT_EQ(*counter, -7);
  auto notInteger = (*file)->integerScalar("model_weights/d/k");
  ASSERT_FALSE(bool(notInteger));
  EXPECT_EQ(llvm::toString(notInteger.takeError()),
            "'model_weights/d/k' is not an integer dataset with one element");

  double f64[6];
  ASSERT_FALSE(bool((*file)->readFloats("model_weights/d/k", true,
                                        reinterpret_cast<char *>(f64), 48)));
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(f64[i], kValues[i]);
  // To f32: rounded to nearest; outside the f32 range, +-inf (as HDF5).
  float f32[6];
  ASSERT_FALSE(bool((*file)->readFloats("model_weights/d/k", false,
                                        reinterpret_cast<char *>(f32), 24)));
  EXPECT_EQ(f32[1], -2.5f);
  EXPECT_EQ(f32[5], 0.1f);
  EXPECT_TRUE(std::isinf(f32[3]) && f32[3] > 0);
  EXPECT_TRUE(std::isinf(f32[4]) && f32[4] < 0);
  llvm::Error wrongSize = (*file)->readFloats(
      "model_weights/d/k", false, reinterpret_cast<char *>(f32), 20);
  ASSERT_TRUE(bool(wrongSize));
  EXPECT_EQ(llvm::toString(std::move(wrongSize)),
            "'model_weights/d/k' holds 6 elements, expected 5");
}

TEST(H5Snapshot, EveryTruncationIsAnError) {
  std::string whole = stream(kValues);
  for (size_t n = 0; n < whole.size(); ++n) {
    auto file = H5File::parseSnapshot(whole.substr(0, n), "m.h5");
    ASSERT_FALSE(bool(file)) << "prefix of " << n << " bytes accepted";
    EXPECT_NE(llvm::toString(file.takeError())
                  .find("cannot read HDF5 file m.h5: the HDF5 reader's "
                        "output is malformed"),
              std::string::npos);
  }
  auto extra = H5File::parseSnapshot(whole + "x", "m.h5");
  ASSERT_FALSE(bool(extra));
  EXPECT_NE(llvm::toString(extra.takeError()).find("bytes after the end"),
            std::string::npos);
}

TEST(H5Snapshot, ValuesMustMatchTheShape) {
  // The shape says 2 x 4 = 8 values, the stream holds 6.
  auto file = H5File::parseSnapshot(stream(kValues, {2, 4}), "m.h5");
  ASSERT_FALSE(bool(file));
  EXPECT_NE(llvm::toString(file.takeError())
                .find("'model_weights/d/k' has 48 bytes of values, its shape "
                      "needs 64"),
            std::string::npos);
  // A shape whose byte count overflows 64 bits.
  auto huge = H5File::parseSnapshot(
      stream(kValues, {uint64_t(1) << 62, uint64_t(1) << 62}), "m.h5");
  ASSERT_FALSE(bool(huge));
  EXPECT_NE(llvm::toString(huge.takeError()).find("its shape needs"),
            std::string::npos);
}

TEST(H5Snapshot, IntegerValueOnlyAfterTheShapeError) {
  // An integer value for a float dataset (whose shape was read) or for an
  // object that is not a dataset is a malformed stream.
  for (const char *path : {"model_weights/d/k", "model_weights/d"}) {
    auto file = H5File::parseSnapshot(stream(kValues, {2, 3}, path), "m.h5");
    ASSERT_FALSE(bool(file)) << path;
    EXPECT_NE(llvm::toString(file.takeError())
                  .find("integer value of '" + std::string(path) + "'"),
              std::string::npos);
  }
}

TEST(H5Snapshot, ChildReportsAFileThatIsNotHdf5) {
  auto file = H5File::open("not an HDF5 file at all", "x.h5", {});
  ASSERT_FALSE(bool(file));
  EXPECT_EQ(llvm::toString(file.takeError()),
            "x.h5 is not an HDF5 file (no HDF5 signature)");
}

} // namespace
