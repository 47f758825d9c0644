//===- ConvKernelTest.cpp - tests of the convolution and pooling kernels --===//
//
// Convolution: the f64 direct loops against hand-computed cases, then every
// f32 kernel (im2col + GEMM) against the f64 loops over a table of shapes
// (1-D, 2-D, 3-D; strides, dilation, asymmetric pads, groups, depthwise,
// pointwise, bias and epilogues), on inputs rounded to f32 so that only the
// arithmetic differs. Tolerance: 1e-5 * sqrt(terms) * (1 + |ref|), terms the
// length of the sums (inputs in [-1, 1]). Also: outputs are overwritten,
// results do not depend on the thread count.
//
// Pooling: f32 and f64 kernels against a naive reference written here
// (double), hand-computed average-pooling divisors (count_include_pad both
// ways, asymmetric pads, a ceil-mode window past S + pad_high), ties, NaN,
// overlapping windows.
//
//===----------------------------------------------------------------------===//

#include "kiln/runtime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

struct ThreadCount {
  explicit ThreadCount(int n) { kiln_set_num_threads(n); }
  ~ThreadCount() { kiln_set_num_threads(0); }
};

/// Uniform values in [-1, 1], exactly representable in f32.
std::vector<double> randomValues(size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<double> v(count);
  for (double &e : v)
    e = dist(rng);
  return v;
}

std::vector<float> toFloat(const std::vector<double> &v) {
  return std::vector<float>(v.begin(), v.end());
}

//===----------------------------------------------------------------------===//
// Convolution
//===----------------------------------------------------------------------===//

struct ConvCase {
  std::string name;
  int rank;
  int64_t groups, batch, C, F;
  std::vector<int64_t> S, K, stride, dilation, padLow, padHigh;
  bool bias;
  kiln_epilogue_t epilogue;
};

kiln_conv_desc_t makeDesc(const ConvCase &t) {
  kiln_conv_desc_t d = {};
  d.spatial_rank = t.rank;
  d.groups = t.groups;
  d.batch = t.batch;
  d.in_channels = t.C;
  d.out_channels = t.F;
  for (int i = 0; i < 3; ++i) {
    bool used = i < t.rank;
    d.in_size[i] = used ? t.S[i] : 1;
    d.kernel[i] = used ? t.K[i] : 1;
    d.stride[i] = used ? t.stride[i] : 1;
    d.dilation[i] = used ? t.dilation[i] : 1;
    d.pad_low[i] = used ? t.padLow[i] : 0;
    d.pad_high[i] = used ? t.padHigh[i] : 0;
    d.out_size[i] = (d.in_size[i] + d.pad_low[i] + d.pad_high[i] -
                     d.dilation[i] * (d.kernel[i] - 1) - 1) /
                        d.stride[i] +
                    1;
  }
  d.epilogue = t.epilogue;
  return d;
}

int64_t product(const int64_t *v) { return v[0] * v[1] * v[2]; }

// Hand-computed: x = [[1,2,3],[4,5,6],[7,8,9]] (N = C = F = 1), w = [[1,2],
// [3,4]], stride 1, no padding:
//   y[0,0] = 1*1 + 2*2 + 4*3 + 5*4 = 37     y[0,1] = 2 + 6 + 15 + 24 = 47
//   y[1,0] = 4 + 10 + 21 + 32 = 67         y[1,1] = 5 + 12 + 24 + 36 = 77
// With dy = [[1,0],[0,1]]: the o = (0,0) window gets w at (0..1, 0..1), the
// o = (1,1) window w at (1..2, 1..2):
//   dx = [[1,2,0],[3,4+1,2],[0,3,4]]
//   dw[k] = x[k] + x[k + (1,1)] = [[1+5, 2+6], [4+8, 5+9]] = [[6,8],[12,14]]
TEST(ConvKernel, F64HandComputed2D) {
  kiln_conv_desc_t d = makeDesc({"hand",
                                 2,
                                 1,
                                 1,
                                 1,
                                 1,
                                 {3, 3},
                                 {2, 2},
                                 {1, 1},
                                 {1, 1},
                                 {0, 0},
                                 {0, 0},
                                 false,
                                 KILN_EPILOGUE_NONE});
  std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w = {1, 2, 3, 4};
  std::vector<double> y(4, kNaN), dy = {1, 0, 0, 1}, dx(9, kNaN), dw(4, kNaN);
  kiln_conv_fwd_f64(&d, x.data(), w.data(), nullptr, y.data());
  EXPECT_EQ(y, (std::vector<double>{37, 47, 67, 77}));
  kiln_conv_bwd_data_f64(&d, dy.data(), w.data(), dx.data());
  EXPECT_EQ(dx, (std::vector<double>{1, 2, 0, 3, 5, 2, 0, 3, 4}));
  kiln_conv_bwd_filter_f64(&d, x.data(), dy.data(), dw.data());
  EXPECT_EQ(dw, (std::vector<double>{6, 8, 12, 14}));
}

// Hand-computed 1-D, pads 1/1, x = [1,2,3,4], w = [1,-1], bias 0.5, relu:
// O = (4 + 2 - 1 - 1) / 1 + 1 = 5, y[o] = x[o-1] - x[o] (x[-1] = x[4] = 0):
//   pre-activation [0-1, 1-2, 2-3, 3-4, 4-0] + 0.5 = [-0.5,-0.5,-0.5,-0.5,4.5]
//   relu: [0, 0, 0, 0, 4.5]
// Two groups on top (C = F = 2, channel 1 = 10 * channel 0, weight of group
// 1 = [2, 0], bias 0.5): y1[o] = 2 * x1[o-1] + 0.5 = [0.5, 20.5, 40.5, 60.5,
// 80.5].
TEST(ConvKernel, F64HandComputed1DGroupsPadsBiasRelu) {
  kiln_conv_desc_t d = makeDesc({"hand1d",
                                 1,
                                 2,
                                 1,
                                 2,
                                 2,
                                 {4},
                                 {2},
                                 {1},
                                 {1},
                                 {1},
                                 {1},
                                 true,
                                 KILN_EPILOGUE_RELU});
  // x[s, c], w[k, c/groups = 0, f].
  std::vector<double> x = {1, 10, 2, 20, 3, 30, 4, 40};
  std::vector<double> w = {1, 2, -1, 0}, bias = {0.5, 0.5};
  std::vector<double> y(10, kNaN);
  kiln_conv_fwd_f64(&d, x.data(), w.data(), bias.data(), y.data());
  EXPECT_EQ(
      y, (std::vector<double>{0, 0.5, 0, 20.5, 0, 40.5, 0, 60.5, 4.5, 80.5}));
}

std::vector<ConvCase> convCases() {
  using E = kiln_epilogue_t;
  const E none = KILN_EPILOGUE_NONE, relu = KILN_EPILOGUE_RELU;
  return {
      {"1d_basic", 1, 1, 3, 4, 5, {11}, {3}, {1}, {1}, {0}, {0}, true, none},
      {"1d_s2_d2_asym_g3",
       1,
       3,
       3,
       3,
       6,
       {12},
       {3},
       {2},
       {2},
       {2},
       {1},
       true,
       relu},
      {"1d_depthwise_pad",
       1,
       4,
       3,
       4,
       4,
       {9},
       {4},
       {1},
       {1},
       {0},
       {3},
       false,
       none},
      {"2d_same",
       2,
       1,
       3,
       3,
       8,
       {9, 7},
       {3, 3},
       {1, 1},
       {1, 1},
       {1, 1},
       {1, 1},
       true,
       relu},
      {"2d_s2_asym_g2",
       2,
       2,
       3,
       4,
       6,
       {13, 11},
       {3, 2},
       {2, 2},
       {1, 1},
       {0, 1},
       {2, 0},
       false,
       none},
      {"2d_dil2_depthwise",
       2,
       5,
       3,
       5,
       5,
       {10, 9},
       {3, 3},
       {1, 1},
       {2, 2},
       {2, 2},
       {2, 2},
       true,
       none},
      {"2d_depthwise_mult2_s2",
       2,
       3,
       3,
       3,
       6,
       {8, 9},
       {3, 3},
       {2, 1},
       {1, 1},
       {1, 0},
       {1, 1},
       true,
       relu},
      {"2d_pointwise",
       2,
       1,
       3,
       6,
       4,
       {5, 5},
       {1, 1},
       {1, 1},
       {1, 1},
       {0, 0},
       {0, 0},
       true,
       relu},
      {"2d_pointwise_g2",
       2,
       2,
       3,
       6,
       4,
       {5, 3},
       {1, 1},
       {1, 1},
       {1, 1},
       {0, 0},
       {0, 0},
       false,
       none},
      {"2d_1x1_s2_pad",
       2,
       1,
       3,
       5,
       3,
       {7, 6},
       {1, 1},
       {2, 2},
       {1, 1},
       {0, 1},
       {1, 0},
       true,
       none},
      {"2d_mnist_conv2",
       2,
       1,
       3,
       32,
       64,
       {13, 13},
       {3, 3},
       {1, 1},
       {1, 1},
       {0, 0},
       {0, 0},
       true,
       relu},
      {"2d_sigmoid",
       2,
       1,
       3,
       2,
       3,
       {6, 5},
       {2, 3},
       {1, 2},
       {1, 1},
       {1, 0},
       {0, 2},
       true,
       KILN_EPILOGUE_SIGMOID},
      {"2d_tanh",
       2,
       1,
       3,
       2,
       3,
       {6, 5},
       {2, 3},
       {1, 1},
       {2, 1},
       {0, 1},
       {1, 0},
       true,
       KILN_EPILOGUE_TANH},
      // At least 8 channels per group and unit strides: backward data runs
      // as a forward convolution with flipped weights.
      {"2d_wide_g2_dil2_asym",
       2,
       2,
       3,
       16,
       6,
       {9, 10},
       {3, 2},
       {1, 1},
       {2, 1},
       {1, 0},
       {3, 1},
       true,
       relu},
      {"1d_wide_pad", 1, 1, 2, 9, 5, {7}, {3}, {1}, {1}, {2}, {0}, false, none},
      // GEMM depth < 16 with 16-wide column blocks and a tail (MNIST conv1).
      {"2d_one_channel_f40",
       2,
       1,
       3,
       1,
       40,
       {9, 8},
       {3, 3},
       {1, 1},
       {1, 1},
       {0, 0},
       {0, 0},
       true,
       relu},
      {"3d_asym",
       3,
       1,
       2,
       3,
       4,
       {5, 6, 4},
       {3, 2, 2},
       {1, 2, 1},
       {1, 1, 2},
       {1, 0, 1},
       {1, 1, 0},
       true,
       relu},
  };
}

class ConvF32VsF64 : public ::testing::TestWithParam<ConvCase> {};

void expectNear(const std::vector<float> &got, const std::vector<double> &ref,
                double terms, const char *what) {
  ASSERT_EQ(got.size(), ref.size());
  double tol = 1e-5 * std::sqrt(std::max(terms, 1.0));
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], ref[i], tol * (1 + std::fabs(ref[i])))
        << what << " element " << i;
}

TEST_P(ConvF32VsF64, AllThreeKernels) {
  const ConvCase &t = GetParam();
  kiln_conv_desc_t d = makeDesc(t);
  int64_t xSize = t.batch * product(d.in_size) * t.C;
  int64_t ySize = t.batch * product(d.out_size) * t.F;
  int64_t kvol = product(d.kernel);
  int64_t wSize = kvol * (t.C / t.groups) * t.F;
  std::vector<double> x = randomValues(xSize, 1), w = randomValues(wSize, 2),
                      bias = randomValues(t.F, 3), dy = randomValues(ySize, 4);
  std::vector<float> xf = toFloat(x), wf = toFloat(w), bf = toFloat(bias),
                     dyf = toFloat(dy);
  const double *b64 = t.bias ? bias.data() : nullptr;
  const float *b32 = t.bias ? bf.data() : nullptr;

  std::vector<double> y(ySize, kNaN), dx(xSize, kNaN), dw(wSize, kNaN);
  kiln_conv_fwd_f64(&d, x.data(), w.data(), b64, y.data());
  kiln_conv_bwd_data_f64(&d, dy.data(), w.data(), dx.data());
  kiln_conv_bwd_filter_f64(&d, x.data(), dy.data(), dw.data());

  for (int threads : {1, 2}) {
    ThreadCount count(threads);
    std::vector<float> yf(ySize, NAN), dxf(xSize, NAN), dwf(wSize, NAN);
    kiln_conv_fwd_f32(&d, xf.data(), wf.data(), b32, yf.data());
    kiln_conv_bwd_data_f32(&d, dyf.data(), wf.data(), dxf.data());
    kiln_conv_bwd_filter_f32(&d, xf.data(), dyf.data(), dwf.data());
    expectNear(yf, y, double(kvol * t.C / t.groups), "y");
    expectNear(dxf, dx, double(kvol * t.F / t.groups), "dx");
    expectNear(dwf, dw, double(t.batch * product(d.out_size)), "dw");
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, ConvF32VsF64, ::testing::ValuesIn(convCases()),
                         [](const ::testing::TestParamInfo<ConvCase> &info) {
                           return info.param.name;
                         });

TEST(ConvKernel, F32ResultsIndependentOfThreadCount) {
  // Large enough for several row blocks and filter parts.
  ConvCase t = {
      "big",  2,      1,      8,      16,     32,   {16, 16},
      {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, true, KILN_EPILOGUE_RELU};
  kiln_conv_desc_t d = makeDesc(t);
  int64_t xSize = 8 * 16 * 16 * 16, ySize = 8 * 16 * 16 * 32,
          wSize = 9 * 16 * 32;
  std::vector<float> x = toFloat(randomValues(xSize, 5)),
                     w = toFloat(randomValues(wSize, 6)),
                     b = toFloat(randomValues(32, 7)),
                     dy = toFloat(randomValues(ySize, 8));
  std::vector<float> out[2][3];
  for (int threads : {1, 2}) {
    ThreadCount count(threads);
    std::vector<float> *o = out[threads - 1];
    o[0].assign(ySize, 0);
    o[1].assign(xSize, 0);
    o[2].assign(wSize, 0);
    kiln_conv_fwd_f32(&d, x.data(), w.data(), b.data(), o[0].data());
    kiln_conv_bwd_data_f32(&d, dy.data(), w.data(), o[1].data());
    kiln_conv_bwd_filter_f32(&d, x.data(), dy.data(), o[2].data());
  }
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(out[0][i], out[1][i]) << "output " << i;
}

TEST(ConvKernelDeathTest, BadDescriptorAborts) {
  kiln_conv_desc_t d = makeDesc({"bad",
                                 2,
                                 1,
                                 1,
                                 1,
                                 1,
                                 {3, 3},
                                 {2, 2},
                                 {1, 1},
                                 {1, 1},
                                 {0, 0},
                                 {0, 0},
                                 false,
                                 KILN_EPILOGUE_NONE});
  d.out_size[0] = 3;
  float x[9] = {}, w[4] = {}, y[6] = {};
  EXPECT_DEATH(kiln_conv_fwd_f32(&d, x, w, nullptr, y), "out_size = 3");
  d = makeDesc({"bad",
                2,
                2,
                1,
                3,
                2,
                {3, 3},
                {2, 2},
                {1, 1},
                {1, 1},
                {0, 0},
                {0, 0},
                false,
                KILN_EPILOGUE_NONE});
  EXPECT_DEATH(kiln_conv_fwd_f32(&d, x, w, nullptr, y), "does not divide");
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

struct PoolCase {
  std::string name;
  int rank;
  int64_t batch, C;
  std::vector<int64_t> S, O, window, stride, padLow, padHigh;
};

kiln_pool_desc_t makePool(const PoolCase &t, int includePad) {
  kiln_pool_desc_t d = {};
  d.spatial_rank = t.rank;
  d.batch = t.batch;
  d.channels = t.C;
  for (int i = 0; i < 3; ++i) {
    bool used = i < t.rank;
    d.in_size[i] = used ? t.S[i] : 1;
    d.out_size[i] = used ? t.O[i] : 1;
    d.window[i] = used ? t.window[i] : 1;
    d.stride[i] = used ? t.stride[i] : 1;
    d.pad_low[i] = used ? t.padLow[i] : 0;
    d.pad_high[i] = used ? t.padHigh[i] : 0;
  }
  d.count_include_pad = includePad;
  return d;
}

/// Naive reference over (n, o, c) with explicit window loops; max follows
/// the documented rule (first maximum, first NaN wins).
struct PoolRef {
  const kiln_pool_desc_t &d;
  int64_t at(int64_t n, const int64_t *pos, const int64_t *size,
             int64_t c) const {
    return (((n * size[0] + pos[0]) * size[1] + pos[1]) * size[2] + pos[2]) *
               d.channels +
           c;
  }
  template <typename Fn> void each(Fn fn) const {
    int64_t o[3], i[3], k[3];
    for (int64_t n = 0; n < d.batch; ++n)
      for (o[0] = 0; o[0] < d.out_size[0]; ++o[0])
        for (o[1] = 0; o[1] < d.out_size[1]; ++o[1])
          for (o[2] = 0; o[2] < d.out_size[2]; ++o[2])
            for (int64_t c = 0; c < d.channels; ++c) {
              std::vector<int64_t> inside;
              int64_t divisor = 1;
              for (int j = 0; j < 3; ++j) {
                int64_t start = o[j] * d.stride[j] - d.pad_low[j];
                int64_t lo = d.count_include_pad ? -d.pad_low[j] : 0;
                int64_t hi = d.count_include_pad ? d.in_size[j] + d.pad_high[j]
                                                 : d.in_size[j];
                int64_t cnt = 0;
                for (int64_t e = start; e < start + d.window[j]; ++e)
                  cnt += e >= lo && e < hi;
                divisor *= cnt;
              }
              for (k[0] = 0; k[0] < d.window[0]; ++k[0])
                for (k[1] = 0; k[1] < d.window[1]; ++k[1])
                  for (k[2] = 0; k[2] < d.window[2]; ++k[2]) {
                    bool ok = true;
                    for (int j = 0; j < 3; ++j) {
                      i[j] = o[j] * d.stride[j] - d.pad_low[j] + k[j];
                      ok = ok && i[j] >= 0 && i[j] < d.in_size[j];
                    }
                    if (ok)
                      inside.push_back(at(n, i, d.in_size, c));
                  }
              fn(at(n, o, d.out_size, c), inside, divisor);
            }
  }
  void maxFwd(const std::vector<double> &x, std::vector<double> &y,
              std::vector<double> &dx, const std::vector<double> &dy) const {
    std::fill(dx.begin(), dx.end(), 0.0);
    each([&](int64_t oi, const std::vector<int64_t> &in, int64_t) {
      int64_t best = in[0];
      for (int64_t e : in)
        if (std::isnan(x[e]) ? !std::isnan(x[best]) : x[e] > x[best])
          best = e;
      y[oi] = x[best];
      dx[best] += dy[oi];
    });
  }
  void avg(const std::vector<double> &x, std::vector<double> &y,
           std::vector<double> &dx, const std::vector<double> &dy) const {
    std::fill(dx.begin(), dx.end(), 0.0);
    each([&](int64_t oi, const std::vector<int64_t> &in, int64_t divisor) {
      double sum = 0;
      for (int64_t e : in) {
        sum += x[e];
        dx[e] += dy[oi] / divisor;
      }
      y[oi] = sum / divisor;
    });
  }
};

struct PoolOut {
  std::vector<double> y, dx;
};

template <typename T>
PoolOut runPool(const kiln_pool_desc_t &d, bool isMax,
                const std::vector<double> &x64,
                const std::vector<double> &dy64) {
  std::vector<T> x(x64.begin(), x64.end()), dy(dy64.begin(), dy64.end());
  std::vector<T> y(dy.size(), T(NAN)), dx(x.size(), T(NAN));
  if constexpr (std::is_same_v<T, float>) {
    if (isMax) {
      kiln_max_pool_fwd_f32(&d, x.data(), y.data());
      kiln_max_pool_bwd_f32(&d, x.data(), dy.data(), dx.data());
    } else {
      kiln_avg_pool_fwd_f32(&d, x.data(), y.data());
      kiln_avg_pool_bwd_f32(&d, dy.data(), dx.data());
    }
  } else {
    if (isMax) {
      kiln_max_pool_fwd_f64(&d, x.data(), y.data());
      kiln_max_pool_bwd_f64(&d, x.data(), dy.data(), dx.data());
    } else {
      kiln_avg_pool_fwd_f64(&d, x.data(), y.data());
      kiln_avg_pool_bwd_f64(&d, dy.data(), dx.data());
    }
  }
  return {std::vector<double>(y.begin(), y.end()),
          std::vector<double>(dx.begin(), dx.end())};
}

std::vector<PoolCase> poolCases() {
  return {
      {"1d", 1, 3, 5, {10}, {4}, {3}, {2}, {0}, {0}},
      {"1d_pad_overlap", 1, 2, 3, {9}, {9}, {3}, {1}, {1}, {1}},
      {"2d_2x2", 2, 3, 4, {8, 6}, {4, 3}, {2, 2}, {2, 2}, {0, 0}, {0, 0}},
      // Disjoint windows that leave the last row and column uncovered, and
      // windows with gaps between them: dx there must be 0 (the max
      // backward stores instead of accumulating when windows are disjoint).
      {"2d_2x2_uncovered",
       2,
       2,
       5,
       {9, 7},
       {4, 3},
       {2, 2},
       {2, 2},
       {0, 0},
       {0, 0}},
      {"1d_gaps", 1, 2, 3, {11}, {4}, {2}, {3}, {0}, {0}},
      {"2d_3x3_s2_asym",
       2,
       3,
       70,
       {9, 8},
       {5, 4},
       {3, 3},
       {2, 2},
       {1, 0},
       {1, 2}},
      // Ceil mode: floor gives 3 x 3, the fourth window in each dimension
      // starts inside x and reaches past S + pad_high.
      {"2d_ceil", 2, 2, 3, {7, 7}, {4, 4}, {3, 3}, {2, 2}, {1, 1}, {0, 0}},
      {"3d",
       3,
       2,
       3,
       {5, 4, 6},
       {3, 2, 3},
       {2, 2, 3},
       {2, 2, 2},
       {1, 0, 1},
       {0, 0, 1}},
  };
}

class PoolVsReference : public ::testing::TestWithParam<PoolCase> {};

TEST_P(PoolVsReference, MaxAndAvgBothDirections) {
  const PoolCase &t = GetParam();
  for (int includePad : {0, 1}) {
    kiln_pool_desc_t d = makePool(t, includePad);
    int64_t xSize =
        d.batch * d.channels * d.in_size[0] * d.in_size[1] * d.in_size[2];
    int64_t ySize =
        d.batch * d.channels * d.out_size[0] * d.out_size[1] * d.out_size[2];
    // Values on a coarse grid so that ties occur.
    std::vector<double> x = randomValues(xSize, 11),
                        dy = randomValues(ySize, 12);
    for (double &v : x)
      v = std::round(v * 4) / 4;
    PoolRef ref{d};
    std::vector<double> y(ySize), dx(xSize);
    for (bool isMax : {true, false}) {
      if (isMax)
        ref.maxFwd(x, y, dx, dy);
      else
        ref.avg(x, y, dx, dy);
      for (int threads : {1, 2}) {
        ThreadCount count(threads);
        PoolOut o64 = runPool<double>(d, isMax, x, dy);
        PoolOut o32 = runPool<float>(d, isMax, x, dy);
        for (int64_t i = 0; i < ySize; ++i) {
          ASSERT_NEAR(o64.y[i], y[i], 1e-12) << "y f64 " << i;
          ASSERT_NEAR(o32.y[i], y[i], 1e-6) << "y f32 " << i;
        }
        for (int64_t i = 0; i < xSize; ++i) {
          ASSERT_NEAR(o64.dx[i], dx[i], 1e-12) << "dx f64 " << i;
          ASSERT_NEAR(o32.dx[i], dx[i], 1e-5) << "dx f32 " << i;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, PoolVsReference,
                         ::testing::ValuesIn(poolCases()),
                         [](const ::testing::TestParamInfo<PoolCase> &info) {
                           return info.param.name;
                         });

kiln_pool_desc_t pool1d(int64_t S, int64_t O, int64_t window, int64_t stride,
                        int64_t padLow, int64_t padHigh, int includePad) {
  return makePool(
      {"", 1, 1, 1, {S}, {O}, {window}, {stride}, {padLow}, {padHigh}},
      includePad);
}

TEST(PoolKernel, MaxTiesRouteToTheFirstElement) {
  // 2x2 windows, stride 2, every value equal: the gradient goes to the
  // window's first (top-left) element only.
  kiln_pool_desc_t d = makePool(
      {"", 2, 1, 1, {2, 4}, {1, 2}, {2, 2}, {2, 2}, {0, 0}, {0, 0}}, 0);
  std::vector<float> x(8, 1.5f), dy = {3, 7}, y(2), dx(8, NAN);
  kiln_max_pool_fwd_f32(&d, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{1.5f, 1.5f}));
  kiln_max_pool_bwd_f32(&d, x.data(), dy.data(), dx.data());
  EXPECT_EQ(dx, (std::vector<float>{3, 0, 7, 0, 0, 0, 0, 0}));
}

TEST(PoolKernel, MaxOverlappingWindowsAccumulate) {
  // Windows [0,2) and [1,3) share their maximum x[1].
  kiln_pool_desc_t d = pool1d(3, 2, 2, 1, 0, 0, 0);
  std::vector<double> x = {0, 5, 0}, dy = {2, 3}, y(2), dx(3, kNaN);
  kiln_max_pool_fwd_f64(&d, x.data(), y.data());
  kiln_max_pool_bwd_f64(&d, x.data(), dy.data(), dx.data());
  EXPECT_EQ(y, (std::vector<double>{5, 5}));
  EXPECT_EQ(dx, (std::vector<double>{0, 5, 0}));
}

TEST(PoolKernel, MaxPaddingNeverWins) {
  // All-negative x with padding: the maximum is an element of x, not 0.
  kiln_pool_desc_t d = pool1d(3, 2, 3, 2, 1, 1, 0);
  std::vector<float> x = {-3, -1, -2}, y(2), dy = {1, 1}, dx(3);
  kiln_max_pool_fwd_f32(&d, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{-1, -1}));
  kiln_max_pool_bwd_f32(&d, x.data(), dy.data(), dx.data());
  EXPECT_EQ(dx, (std::vector<float>{0, 2, 0}));
}

TEST(PoolKernel, MaxNaNPropagatesAndTakesTheGradient) {
  // Windows [0,3) and [3,6); the first holds a NaN after a larger value,
  // the second two NaNs: y is NaN, the gradient goes to the first NaN.
  kiln_pool_desc_t d = pool1d(6, 2, 3, 3, 0, 0, 0);
  for (int threads : {1, 2}) {
    ThreadCount count(threads);
    std::vector<float> x = {9, NAN, 1, -1, NAN, NAN}, y(2), dy = {2, 3}, dx(6);
    kiln_max_pool_fwd_f32(&d, x.data(), y.data());
    EXPECT_TRUE(std::isnan(y[0]));
    EXPECT_TRUE(std::isnan(y[1]));
    kiln_max_pool_bwd_f32(&d, x.data(), dy.data(), dx.data());
    EXPECT_EQ(dx, (std::vector<float>{0, 2, 0, 0, 3, 0}));
    std::vector<double> x64(x.begin(), x.end()), y64(2);
    kiln_max_pool_fwd_f64(&d, x64.data(), y64.data());
    EXPECT_TRUE(std::isnan(y64[0]) && std::isnan(y64[1]));
  }
}

TEST(PoolKernel, NonOverlappingWindowsConserveTheGradient) {
  // 3x3 windows, stride 3, 2 channels: dx summed over each window is dy.
  kiln_pool_desc_t d = makePool(
      {"", 2, 2, 2, {6, 9}, {2, 3}, {3, 3}, {3, 3}, {0, 0}, {0, 0}}, 0);
  std::vector<double> x = randomValues(2 * 54 * 2, 21),
                      dy = randomValues(2 * 6 * 2, 22), dx(x.size());
  for (bool isMax : {true, false}) {
    if (isMax)
      kiln_max_pool_bwd_f64(&d, x.data(), dy.data(), dx.data());
    else
      kiln_avg_pool_bwd_f64(&d, dy.data(), dx.data());
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t o0 = 0; o0 < 2; ++o0)
        for (int64_t o1 = 0; o1 < 3; ++o1)
          for (int64_t c = 0; c < 2; ++c) {
            double sum = 0;
            int nonzero = 0;
            for (int64_t k0 = 0; k0 < 3; ++k0)
              for (int64_t k1 = 0; k1 < 3; ++k1) {
                double v =
                    dx[((n * 6 + o0 * 3 + k0) * 9 + o1 * 3 + k1) * 2 + c];
                sum += v;
                nonzero += v != 0;
              }
            double g = dy[((n * 2 + o0) * 3 + o1) * 2 + c];
            EXPECT_NEAR(sum, g, 1e-14);
            if (isMax)
              EXPECT_EQ(nonzero, 1);
          }
  }
}

// x = [1, 2, 3, 4, 5, 6], window 3, stride 2, pads 1/1. Floor mode gives
// (6 + 2 - 3) / 2 + 1 = 3 windows, ceil mode 4; windows [-1,2), [1,4),
// [3,6), [5,8). Sums: 1+2 = 3, 2+3+4 = 9, 4+5+6 = 15, 6.
//   count_include_pad = 1, divisors clipped to [-1, 7): 3, 3, 3, 2
//     -> [1, 3, 5, 3] (the last window's part beyond S + pad_high = 7 is
//        not counted, as PyTorch's ceil_mode)
//   count_include_pad = 0, divisors clipped to [0, 6): 2, 3, 3, 1
//     -> [1.5, 3, 5, 6]
// Backward with dy = 1 (include_pad = 1): x0 gets 1/3, x1 1/3 + 1/3, x2 1/3,
// x3 1/3 + 1/3, x4 1/3, x5 1/3 + 1/2.
TEST(PoolKernel, AvgDivisorsCeilModeHandComputed) {
  std::vector<float> x = {1, 2, 3, 4, 5, 6}, y(4), dy(4, 1.0f), dx(6);
  kiln_pool_desc_t inc = pool1d(6, 4, 3, 2, 1, 1, 1);
  kiln_avg_pool_fwd_f32(&inc, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{1, 3, 5, 3}));
  kiln_pool_desc_t exc = pool1d(6, 4, 3, 2, 1, 1, 0);
  kiln_avg_pool_fwd_f32(&exc, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{1.5f, 3, 5, 6}));
  kiln_avg_pool_bwd_f32(&inc, dy.data(), dx.data());
  const float third = 1.0f / 3.0f;
  std::vector<float> want = {third,         third + third, third,
                             third + third, third,         third + 0.5f};
  for (int i = 0; i < 6; ++i)
    EXPECT_FLOAT_EQ(dx[i], want[i]) << i;
}

// Asymmetric pads, x = [1, 2, 3, 4], window 3, stride 1, pad_low 2,
// pad_high 0: O = (4 + 2 - 3) + 1 = 4, windows [-2,1), [-1,2), [0,3), [1,4);
// sums 1, 3, 6, 9. include_pad divisors (extent [-2, 4)): 3 each
// -> [1/3, 1, 2, 3]; exclude: 1, 2, 3, 3 -> [1, 1.5, 2, 3].
TEST(PoolKernel, AvgAsymmetricPadsHandComputed) {
  std::vector<double> x = {1, 2, 3, 4}, y(4);
  kiln_pool_desc_t inc = pool1d(4, 4, 3, 1, 2, 0, 1);
  kiln_avg_pool_fwd_f64(&inc, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<double>{1.0 / 3.0, 1, 2, 3}));
  kiln_pool_desc_t exc = pool1d(4, 4, 3, 1, 2, 0, 0);
  kiln_avg_pool_fwd_f64(&exc, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<double>{1, 1.5, 2, 3}));
}

TEST(PoolKernelDeathTest, EmptyWindowAborts) {
  // pad_low = window: the first window lies in the padding.
  kiln_pool_desc_t d = pool1d(4, 3, 2, 1, 2, 0, 0);
  float x[4] = {}, y[3] = {};
  EXPECT_DEATH(kiln_max_pool_fwd_f32(&d, x, y), "no element inside");
}

} // namespace
