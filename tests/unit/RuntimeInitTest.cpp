//===- RuntimeInitTest.cpp - tests of the Keras initializers --------------===//
//
// kiln/init.h: every initializer's distribution against its closed form
// (bounds, mean and standard deviation within statistical tolerances on
// 100k draws), the Keras fan rules, determinism per seed, and errors.
//
//===----------------------------------------------------------------------===//

#include "kiln/init.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace {
struct Moments {
  double mean, stddev, min, max;
};

Moments draw(const char *name, std::vector<int64_t> shape, uint64_t seed,
             std::vector<float> *values = nullptr) {
  kiln_initializer_t init;
  EXPECT_EQ(kiln_initializer_from_name(name, &init), KILN_OK) << name;
  int64_t count = 1;
  for (int64_t d : shape)
    count *= d;
  std::vector<float> out(count);
  EXPECT_EQ(
      kiln_initialize_f32(&init, seed, shape.size(), shape.data(), out.data()),
      KILN_OK);
  double sum = 0, sq = 0, lo = INFINITY, hi = -INFINITY;
  for (float v : out) {
    sum += v;
    sq += double(v) * v;
    lo = std::fmin(lo, v);
    hi = std::fmax(hi, v);
  }
  double mean = sum / count;
  if (values)
    *values = out;
  return {mean, std::sqrt(sq / count - mean * mean), lo, hi};
}

// 100k draws: the sample mean is within 5 standard errors of the truth and
// the sample stddev within 2 %.
constexpr int64_t kRows = 400, kCols = 250;
} // namespace

TEST(RuntimeInitTest, VarianceScalingUniform) {
  // glorot: limit sqrt(6 / (in + out)); he: sqrt(6 / in); lecun: sqrt(3 / in).
  struct Case {
    const char *name;
    double limit;
  } cases[] = {{"glorot_uniform", std::sqrt(6.0 / (kRows + kCols))},
               {"he_uniform", std::sqrt(6.0 / kRows)},
               {"lecun_uniform", std::sqrt(3.0 / kRows)}};
  for (const Case &c : cases) {
    Moments m = draw(c.name, {kRows, kCols}, 1);
    double stddev = c.limit / std::sqrt(3.0);
    EXPECT_LE(m.max, c.limit) << c.name;
    EXPECT_GE(m.min, -c.limit) << c.name;
    EXPECT_GT(m.max, 0.99 * c.limit) << c.name;
    EXPECT_NEAR(m.mean, 0.0, 5 * stddev / std::sqrt(kRows * kCols)) << c.name;
    EXPECT_NEAR(m.stddev, stddev, 0.02 * stddev) << c.name;
  }
}

TEST(RuntimeInitTest, VarianceScalingTruncatedNormal) {
  // Keras: stddev sqrt(s / n) / 0.8796..., truncated at 2 of those stddevs,
  // so the result has stddev sqrt(s / n).
  struct Case {
    const char *name;
    double stddev;
  } cases[] = {{"glorot_normal", std::sqrt(2.0 / (kRows + kCols))},
               {"he_normal", std::sqrt(2.0 / kRows)},
               {"lecun_normal", std::sqrt(1.0 / kRows)}};
  for (const Case &c : cases) {
    Moments m = draw(c.name, {kRows, kCols}, 2);
    double bound = 2 * c.stddev / 0.87962566103423978;
    EXPECT_LE(m.max, bound * (1 + 1e-6)) << c.name;
    EXPECT_GE(m.min, -bound * (1 + 1e-6)) << c.name;
    EXPECT_NEAR(m.mean, 0.0, 5 * c.stddev / std::sqrt(kRows * kCols)) << c.name;
    EXPECT_NEAR(m.stddev, c.stddev, 0.02 * c.stddev) << c.name;
  }
}

TEST(RuntimeInitTest, PlainDistributionsAndConstants) {
  Moments u = draw("random_uniform", {kRows, kCols}, 3);
  EXPECT_GE(u.min, -0.05);
  EXPECT_LT(u.max, 0.05);
  EXPECT_NEAR(u.stddev, 0.1 / std::sqrt(12.0), 0.002);
  Moments n = draw("random_normal", {kRows, kCols}, 4);
  EXPECT_NEAR(n.stddev, 0.05, 0.001);
  EXPECT_GT(n.max, 0.1); // untruncated: beyond 2 stddev happens
  Moments t = draw("truncated_normal", {kRows, kCols}, 5);
  EXPECT_LE(t.max, 0.1 + 1e-7);
  EXPECT_GE(t.min, -0.1 - 1e-7);
  EXPECT_NEAR(t.stddev, 0.05 * 0.87962566103423978, 0.001);
  Moments z = draw("zeros", {3, 4}, 6), o = draw("ones", {3, 4}, 6);
  EXPECT_EQ(z.min, 0.0);
  EXPECT_EQ(z.max, 0.0);
  EXPECT_EQ(o.min, 1.0);
  EXPECT_EQ(o.max, 1.0);
  kiln_initializer_t c;
  ASSERT_EQ(kiln_initializer_from_name("Constant", &c), KILN_OK);
  c.value = 2.5;
  float out[6];
  int64_t shape[] = {2, 3};
  ASSERT_EQ(kiln_initialize_f32(&c, 0, 2, shape, out), KILN_OK);
  for (float v : out)
    EXPECT_EQ(v, 2.5f);
}

TEST(RuntimeInitTest, FansOfHigherRankKernels) {
  // A [3, 3, 16, 32] conv kernel: fan_in = 9 * 16, fan_out = 9 * 32.
  Moments m = draw("glorot_uniform", {3, 3, 16, 32}, 7);
  double limit = std::sqrt(6.0 / (9 * 16 + 9 * 32));
  EXPECT_LE(m.max, limit);
  EXPECT_GT(m.max, 0.98 * limit);
}

TEST(RuntimeInitTest, DeterministicPerSeed) {
  std::vector<float> a, b, c;
  draw("he_normal", {64, 32}, 42, &a);
  draw("he_normal", {64, 32}, 42, &b);
  draw("he_normal", {64, 32}, 43, &c);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(RuntimeInitTest, Errors) {
  kiln_initializer_t init;
  EXPECT_EQ(kiln_initializer_from_name("no_such_initializer", &init),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_initializer_from_name(nullptr, &init),
            KILN_ERROR_INVALID_ARGUMENT);
  ASSERT_EQ(kiln_initializer_from_name("random_normal", &init), KILN_OK);
  float out[4];
  int64_t bad[] = {2, -2};
  EXPECT_EQ(kiln_initialize_f32(&init, 0, 2, bad, out),
            KILN_ERROR_INVALID_ARGUMENT);
  init.stddev = -1;
  int64_t shape[] = {2, 2};
  EXPECT_EQ(kiln_initialize_f32(&init, 0, 2, shape, out),
            KILN_ERROR_INVALID_ARGUMENT);
}

namespace {
/// max |W W^T - gain^2 I| over the rows of a [rows, cols] matrix (rows <=
/// cols), or of W^T W over the columns (rows > cols).
double orthogonalityError(const std::vector<float> &w, int64_t rows,
                          int64_t cols, double gain) {
  bool byRows = rows <= cols;
  int64_t k = byRows ? rows : cols, len = byRows ? cols : rows;
  double worst = 0;
  for (int64_t a = 0; a < k; ++a)
    for (int64_t b = 0; b < k; ++b) {
      double dot = 0;
      for (int64_t e = 0; e < len; ++e)
        dot += byRows ? double(w[a * cols + e]) * w[b * cols + e]
                      : double(w[e * cols + a]) * w[e * cols + b];
      worst = std::fmax(worst, std::fabs(dot - (a == b ? gain * gain : 0)));
    }
  return worst;
}
} // namespace

// Keras Orthogonal: an LSTM recurrent kernel [H, 4H] has orthonormal rows,
// a tall [4H, H] matrix orthonormal columns; gain scales; deterministic.
TEST(RuntimeInit, OrthogonalRowsAndColumns) {
  for (auto [rows, cols] :
       {std::pair<int64_t, int64_t>{8, 32}, {32, 8}, {16, 16}}) {
    std::vector<float> w;
    draw("orthogonal", {rows, cols}, 7, &w);
    EXPECT_LT(orthogonalityError(w, rows, cols, 1.0), 1e-5)
        << rows << "x" << cols;
    std::vector<float> again;
    draw("orthogonal", {rows, cols}, 7, &again);
    EXPECT_EQ(w, again);
  }
  kiln_initializer_t init;
  ASSERT_EQ(kiln_initializer_from_name("Orthogonal", &init), KILN_OK);
  EXPECT_EQ(init.gain, 1.0);
  init.gain = 2.0;
  int64_t shape[] = {3, 3, 4, 6}; // viewed as [36, 6]
  std::vector<float> w(3 * 3 * 4 * 6);
  ASSERT_EQ(kiln_initialize_f32(&init, 1, 4, shape, w.data()), KILN_OK);
  EXPECT_LT(orthogonalityError(w, 36, 6, 2.0), 1e-4);
}
