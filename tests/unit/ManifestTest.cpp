//===- ManifestTest.cpp - tests of the driver's manifest reader -----------===//
//
// Tensor kinds and regions in runtime/driver/Manifest.cpp: names parse to
// the kiln/runtime.h enums, unknown names and a region that does not match
// the kind are errors naming the tensor, and state parameters are read.
//
//===----------------------------------------------------------------------===//

#include "Manifest.h"
#include "ExportOnnx.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

using namespace kiln::driver;

namespace {
/// A predict-only manifest whose one extra tensor has `kind` and `region`.
std::string manifestWith(const std::string &kind, const std::string &region) {
  return R"({"format": "kiln-model", "version": 1, "name": "m",
    "source": "m.mlir", "fingerprint": "0", "seed": 0,
    "entry_points": {"predict": {"symbol": "m_predict", "alignment": 64,
      "params_size": 64, "opt_state_size": 0, "io_size": 128,
      "scratch_size": 0, "tensors": [
        {"name": "t", "kind": ")" +
         kind + R"(", "region": ")" + region +
         R"(", "offset": 0, "shape": [4], "dtype": "f32", "updated": false},
        {"name": "x", "kind": "input", "region": "io", "offset": 0,
         "shape": [2, 4], "dtype": "f32", "updated": false}]}},
    "params": [{"name": "t", "dtype": "f32", "shape": [4],
      "trainable": false, "state": true, "init": {"name": "zeros"}}],
    "training": null, "param_count": 4, "trainable_param_count": 0})";
}

std::string errorOf(const std::string &text) {
  try {
    parseManifest(text.c_str());
  } catch (const std::runtime_error &e) {
    return e.what();
  }
  return "";
}

TEST(DriverManifest, ReadsKindsAndRegions) {
  Manifest m = parseManifest(manifestWith("state", "params").c_str());
  ASSERT_EQ(m.predict.tensors.size(), 2u);
  EXPECT_EQ(m.predict.tensors[0].kind, KILN_TENSOR_STATE);
  EXPECT_EQ(m.predict.tensors[0].region, KILN_REGION_PARAMS);
  EXPECT_EQ(m.predict.tensors[1].kind, KILN_TENSOR_INPUT);
  EXPECT_EQ(m.predict.tensors[1].region, KILN_REGION_IO);
  EXPECT_EQ(m.predict.findIn(KILN_REGION_PARAMS, "t"), &m.predict.tensors[0]);
  EXPECT_EQ(m.predict.find(KILN_TENSOR_PARAM, "t"), nullptr);
  EXPECT_EQ(m.predict.all(KILN_TENSOR_INPUT).size(), 1u);
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_TRUE(m.params[0].state);
  EXPECT_FALSE(m.params[0].trainable);
}

TEST(DriverManifest, RejectsUnknownKindsAndRegions) {
  EXPECT_NE(errorOf(manifestWith("moving", "params"))
                .find("tensor 't': unknown kind 'moving'"),
            std::string::npos);
  EXPECT_NE(errorOf(manifestWith("param", "weights"))
                .find("tensor 't': unknown region 'weights'"),
            std::string::npos);
  EXPECT_NE(errorOf(manifestWith("param", "scratch"))
                .find("tensor 't': unknown region 'scratch'"),
            std::string::npos);
}

// Tests the optional precision field (kilnc --precision): absent means f32,
// bf16 is read, anything else is an error naming the value.
TEST(DriverManifest, ReadsPrecision) {
  std::string text = manifestWith("state", "params");
  EXPECT_EQ(parseManifest(text.c_str()).precision, "f32");
  std::string bf16 = text;
  bf16.insert(bf16.find("\"seed\""), "\"precision\": \"bf16\", ");
  EXPECT_EQ(parseManifest(bf16.c_str()).precision, "bf16");
  std::string fp8 = text;
  fp8.insert(fp8.find("\"seed\""), "\"precision\": \"fp8\", ");
  EXPECT_NE(errorOf(fp8).find("precision 'fp8' is not f32 or bf16"),
            std::string::npos);
}

TEST(DriverManifest, RejectsARegionThatDoesNotMatchTheKind) {
  EXPECT_NE(errorOf(manifestWith("state", "io"))
                .find("tensor 't': a tensor of kind 'state' does not live "
                      "in the 'io' region"),
            std::string::npos);
  EXPECT_NE(errorOf(manifestWith("opt_state", "params"))
                .find("a tensor of kind 'opt_state' does not live in the "
                      "'params' region"),
            std::string::npos);
}
} // namespace

// The protobuf varints of prog export's ONNX initializers
// (runtime/driver/ExportOnnx.cpp), against the encoding guide's examples
// (https://protobuf.dev/programming-guides/encoding/: 1 is 01, 150 is
// 96 01) and the base-128 rule at the group boundaries.
TEST(ExportOnnx, Varints) {
  auto encode = [](uint64_t value) {
    std::string out;
    kiln::driver::appendVarint(out, value);
    return std::vector<unsigned char>(out.begin(), out.end());
  };
  using Bytes = std::vector<unsigned char>;
  EXPECT_EQ(encode(0), Bytes({0x00}));
  EXPECT_EQ(encode(1), Bytes({0x01}));
  EXPECT_EQ(encode(127), Bytes({0x7f}));
  EXPECT_EQ(encode(128), Bytes({0x80, 0x01}));
  EXPECT_EQ(encode(150), Bytes({0x96, 0x01}));
  EXPECT_EQ(encode(300), Bytes({0xac, 0x02}));
  EXPECT_EQ(encode(UINT64_MAX), Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0x01}));
}
