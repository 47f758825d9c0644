//===- RuntimeGemmTest.cpp - tests of the runtime GEMM kernels ------------===//
//
// Checks kiln_gemm_{f32,f64} and the batched forms against a naive
// triple-loop reference evaluated in double precision: every transpose
// combination, alpha/beta, padded leading dimensions, bias and each epilogue,
// sizes of 1 and sizes that are not multiples of the tile or register blocks;
// plus the BLAS conventions on what is not read (beta == 0, alpha == 0),
// NaN propagation, stable sigmoid, thread-count independence and the
// argument checks.
//
// Tolerance: the reference gives, per element, the exact-ish value and the
// magnitude scale = |alpha| * sum_k |a_ik b_kj| + |beta c_ij| + |bias_j|. The
// error of a length-K dot product in precision u is at most about K * u *
// scale; the tests allow tol * max(1, sqrt(K)) * (scale + |ref|), with tol =
// 1e-5 for f32 (u = 6e-8) and 1e-12 for f64 (u = 1.1e-16), which covers the
// worst case for the sizes used and still flags a single wrong term.
//
//===----------------------------------------------------------------------===//

#include "kiln/runtime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

// A value outside the enum, passed from C (EnumOutOfRange.c).
extern "C" const char *kiln_test_epilogue_name(int code);

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

void gemm(int64_t M, int64_t N, int64_t K, int32_t transA, int32_t transB,
          float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
          float beta, float *C, int64_t ldc, const float *bias,
          int32_t epilogue) {
  kiln_gemm_f32(M, N, K, transA, transB, alpha, A, lda, B, ldb, beta, C, ldc,
                bias, epilogue);
}
void gemm(int64_t M, int64_t N, int64_t K, int32_t transA, int32_t transB,
          double alpha, const double *A, int64_t lda, const double *B,
          int64_t ldb, double beta, double *C, int64_t ldc, const double *bias,
          int32_t epilogue) {
  kiln_gemm_f64(M, N, K, transA, transB, alpha, A, lda, B, ldb, beta, C, ldc,
                bias, epilogue);
}
void gemmBatched(int64_t batch, int64_t M, int64_t N, int64_t K, int32_t transA,
                 int32_t transB, float alpha, const float *A, int64_t lda,
                 const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
                 const float *bias, int32_t epilogue, int64_t strideA,
                 int64_t strideB, int64_t strideC) {
  kiln_gemm_batched_f32(batch, M, N, K, transA, transB, alpha, A, lda, B, ldb,
                        beta, C, ldc, bias, epilogue, strideA, strideB,
                        strideC);
}
void gemmBatched(int64_t batch, int64_t M, int64_t N, int64_t K, int32_t transA,
                 int32_t transB, double alpha, const double *A, int64_t lda,
                 const double *B, int64_t ldb, double beta, double *C,
                 int64_t ldc, const double *bias, int32_t epilogue,
                 int64_t strideA, int64_t strideB, int64_t strideC) {
  kiln_gemm_batched_f64(batch, M, N, K, transA, transB, alpha, A, lda, B, ldb,
                        beta, C, ldc, bias, epilogue, strideA, strideB,
                        strideC);
}

template <typename T> double tolerance();
template <> double tolerance<float>() { return 1e-5; }
template <> double tolerance<double>() { return 1e-12; }

/// Written into padding between rows; must survive every call.
constexpr double kPadding = 12345.0;

double activate(double x, kiln_epilogue_t epilogue) {
  switch (epilogue) {
  case KILN_EPILOGUE_NONE:
    return x;
  case KILN_EPILOGUE_RELU:
    return std::isnan(x) ? x : std::max(x, 0.0);
  case KILN_EPILOGUE_SIGMOID:
    return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x));
  case KILN_EPILOGUE_TANH:
    return std::tanh(x);
  }
  return std::numeric_limits<double>::quiet_NaN();
}

/// One GEMM problem with random operands in [-1, 1] and its reference
/// result. Matrices are stored with their leading dimensions; padding
/// elements hold kPadding.
template <typename T> struct Problem {
  int64_t M, N, K;
  bool transA, transB;
  T alpha, beta;
  int64_t lda, ldb, ldc;
  kiln_epilogue_t epilogue;
  std::vector<T> A, B, C, bias;
  std::vector<double> reference, scale;

  Problem(int64_t M, int64_t N, int64_t K, bool transA, bool transB, T alpha,
          T beta, int64_t padding, bool withBias, kiln_epilogue_t epilogue,
          unsigned seed)
      : M(M), N(N), K(K), transA(transA), transB(transB), alpha(alpha),
        beta(beta), epilogue(epilogue) {
    // Stored shapes: A is M x K (or K x M), B is K x N (or N x K).
    int64_t rowsA = transA ? K : M, colsA = transA ? M : K;
    int64_t rowsB = transB ? N : K, colsB = transB ? K : N;
    lda = colsA + padding;
    ldb = colsB + padding;
    ldc = N + padding;
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    auto fill = [&](std::vector<T> &v, int64_t rows, int64_t cols, int64_t ld) {
      v.assign(std::max<int64_t>(rows * ld, 1), T(kPadding));
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j)
          v[i * ld + j] = T(uniform(rng));
    };
    fill(A, rowsA, colsA, lda);
    fill(B, rowsB, colsB, ldb);
    fill(C, M, N, ldc);
    if (withBias)
      fill(bias, 1, N, N);
    computeReference();
  }

  T a(int64_t i, int64_t k) const {
    return transA ? A[k * lda + i] : A[i * lda + k];
  }
  T b(int64_t k, int64_t j) const {
    return transB ? B[j * ldb + k] : B[k * ldb + j];
  }

  void computeReference() {
    reference.assign(M * N, 0.0);
    scale.assign(M * N, 0.0);
    for (int64_t i = 0; i < M; ++i) {
      for (int64_t j = 0; j < N; ++j) {
        double sum = 0, sumAbs = 0;
        for (int64_t k = 0; k < K; ++k) {
          double product = double(a(i, k)) * double(b(k, j));
          sum += product;
          sumAbs += std::fabs(product);
        }
        double x = double(alpha) * sum;
        double s = std::fabs(double(alpha)) * sumAbs;
        if (beta != T(0)) {
          x += double(beta) * double(C[i * ldc + j]);
          s += std::fabs(double(beta) * double(C[i * ldc + j]));
        }
        if (!bias.empty()) {
          x += double(bias[j]);
          s += std::fabs(double(bias[j]));
        }
        reference[i * N + j] = activate(x, epilogue);
        scale[i * N + j] = s;
      }
    }
  }

  void run() {
    gemm(M, N, K, transA, transB, alpha, A.data(), lda, B.data(), ldb, beta,
         C.data(), ldc, bias.empty() ? nullptr : bias.data(), epilogue);
  }

  /// Compares C with the reference and checks that C's padding is intact.
  void check() const {
    double tol = tolerance<T>() * std::max(1.0, std::sqrt(double(K)));
    int64_t failures = 0;
    for (int64_t i = 0; i < M; ++i) {
      for (int64_t j = 0; j < N; ++j) {
        double got = double(C[i * ldc + j]);
        double want = reference[i * N + j];
        double bound = tol * (scale[i * N + j] + std::fabs(want));
        if (!(std::fabs(got - want) <= bound) && failures++ < 5)
          ADD_FAILURE() << "C(" << i << ", " << j << ") = " << got
                        << ", reference " << want << ", allowed error "
                        << bound;
      }
      for (int64_t j = N; j < ldc; ++j)
        if (C[i * ldc + j] != T(kPadding) && failures++ < 5)
          ADD_FAILURE() << "padding C(" << i << ", " << j << ") overwritten";
    }
    EXPECT_EQ(failures, 0);
  }

  std::string describe() const {
    return "M=" + std::to_string(M) + " N=" + std::to_string(N) +
           " K=" + std::to_string(K) + " transA=" + std::to_string(transA) +
           " transB=" + std::to_string(transB) +
           " alpha=" + std::to_string(alpha) + " beta=" + std::to_string(beta) +
           " lda=" + std::to_string(lda) +
           " bias=" + std::to_string(!bias.empty()) +
           " epilogue=" + kiln_epilogue_name(epilogue);
  }
};

const kiln_epilogue_t kEpilogues[] = {KILN_EPILOGUE_NONE, KILN_EPILOGUE_RELU,
                                      KILN_EPILOGUE_SIGMOID,
                                      KILN_EPILOGUE_TANH};

/// Restores the thread count at the end of a test that changes it.
class ThreadCountGuard {
public:
  ThreadCountGuard() : saved(kiln_get_num_threads()) {}
  ~ThreadCountGuard() { kiln_set_num_threads(saved); }

private:
  int saved;
};

template <typename T> class RuntimeGemmTest : public ::testing::Test {};
using ElementTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(RuntimeGemmTest, ElementTypes);

//===----------------------------------------------------------------------===//
// Results against the reference
//===----------------------------------------------------------------------===//

// Tests that every combination of transposes, epilogue, alpha/beta, padding
// and bias matches the reference, for sizes of 1, odd sizes, and sizes that
// need several row and column tiles.
TYPED_TEST(RuntimeGemmTest, MatchesReference) {
  using T = TypeParam;
  struct Shape {
    int64_t M, N, K;
  };
  const Shape shapes[] = {{1, 1, 1},     {7, 13, 5},  {300, 129, 70},
                          {130, 601, 9}, {1, 37, 64}, {45, 1, 17}};
  struct Scalars {
    T alpha, beta;
  };
  const Scalars scalars[] = {{T(1), T(0)}, {T(-0.75), T(0.5)}, {T(2), T(1)}};
  unsigned seed = 1;
  for (const Shape &shape : shapes) {
    for (int trans = 0; trans < 4; ++trans) {
      for (kiln_epilogue_t epilogue : kEpilogues) {
        for (const Scalars &s : scalars) {
          // Padding and bias alternate so that each appears with every
          // transpose and epilogue.
          ++seed;
          int64_t padding = (seed % 2) ? 3 : 0;
          bool withBias = (seed / 2) % 2;
          Problem<T> p(shape.M, shape.N, shape.K, trans & 1, trans & 2, s.alpha,
                       s.beta, padding, withBias, epilogue, seed);
          SCOPED_TRACE(p.describe());
          p.run();
          p.check();
        }
      }
    }
  }
}

// Tests that beta == 0 does not read C: NaN in C must not reach the result.
TYPED_TEST(RuntimeGemmTest, BetaZeroIgnoresNaNInC) {
  using T = TypeParam;
  for (kiln_epilogue_t epilogue : kEpilogues) {
    Problem<T> p(33, 17, 9, false, true, T(1), T(0), 2, true, epilogue, 7);
    for (int64_t i = 0; i < p.M; ++i)
      for (int64_t j = 0; j < p.N; ++j)
        p.C[i * p.ldc + j] = std::numeric_limits<T>::quiet_NaN();
    SCOPED_TRACE(p.describe());
    p.run();
    p.check();
  }
}

// Tests that alpha == 0 does not read A or B (NaN there must not reach C),
// and that K == 0 accepts NULL operands; both leave epilogue(beta*C + bias).
TYPED_TEST(RuntimeGemmTest, ZeroAlphaOrDepthSkipsTheProduct) {
  using T = TypeParam;
  Problem<T> p(20, 30, 8, false, false, T(0), T(0.5), 1, true,
               KILN_EPILOGUE_TANH, 11);
  std::fill(p.A.begin(), p.A.end(), std::numeric_limits<T>::quiet_NaN());
  std::fill(p.B.begin(), p.B.end(), std::numeric_limits<T>::quiet_NaN());
  p.run();
  p.check();

  Problem<T> q(20, 30, 0, true, false, T(1), T(2), 0, true, KILN_EPILOGUE_RELU,
               12);
  gemm(q.M, q.N, q.K, 1, 0, q.alpha, static_cast<const T *>(nullptr), q.M,
       static_cast<const T *>(nullptr), q.N, q.beta, q.C.data(), q.ldc,
       q.bias.data(), q.epilogue);
  q.check();
}

// Tests that M == 0 or N == 0 touches nothing, with or without a C pointer.
TYPED_TEST(RuntimeGemmTest, EmptyOutputIsANoOp) {
  using T = TypeParam;
  std::vector<T> A(16, T(1)), B(16, T(1)), C(16, T(kPadding));
  gemm(0, 4, 4, 0, 0, T(1), A.data(), 4, B.data(), 4, T(0), C.data(), 4,
       nullptr, KILN_EPILOGUE_SIGMOID);
  gemm(4, 0, 4, 0, 0, T(1), A.data(), 4, B.data(), 1, T(0), C.data(), 1,
       nullptr, KILN_EPILOGUE_SIGMOID);
  gemm(0, 0, 4, 0, 0, T(1), static_cast<const T *>(nullptr), 4,
       static_cast<const T *>(nullptr), 1, T(0), static_cast<T *>(nullptr), 1,
       nullptr, KILN_EPILOGUE_NONE);
  for (T value : C)
    EXPECT_EQ(value, T(kPadding));
}

//===----------------------------------------------------------------------===//
// Epilogue numerics
//===----------------------------------------------------------------------===//

/// Runs a K = 1 GEMM whose pre-activation output is exactly `x` (A = 1,
/// B = 0, bias = x) and returns the outputs.
template <typename T>
std::vector<T> applyEpilogue(const std::vector<T> &x,
                             kiln_epilogue_t epilogue) {
  int64_t n = static_cast<int64_t>(x.size());
  std::vector<T> A = {T(1)}, B(n, T(0)), C(n, T(0));
  gemm(1, n, 1, 0, 0, T(1), A.data(), 1, B.data(), n, T(0), C.data(), n,
       x.data(), epilogue);
  return C;
}

// Tests that relu keeps NaN (a plain `x > 0 ? x : 0` would turn it into 0),
// maps negatives and -0 to +0, and keeps positives.
TYPED_TEST(RuntimeGemmTest, ReluPropagatesNaN) {
  using T = TypeParam;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  std::vector<T> y =
      applyEpilogue<T>({nan, T(-2), T(-0.0), T(3)}, KILN_EPILOGUE_RELU);
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], T(0));
  EXPECT_EQ(y[2], T(0));
  EXPECT_FALSE(std::signbit(y[2]));
  EXPECT_EQ(y[3], T(3));

  // A NaN inside op(A) reaches its whole output row through the product.
  Problem<T> p(6, 5, 4, false, false, T(1), T(0), 0, true, KILN_EPILOGUE_RELU,
               21);
  p.A[2 * p.lda + 1] = nan;
  p.run();
  for (int64_t j = 0; j < p.N; ++j) {
    EXPECT_TRUE(std::isnan(p.C[2 * p.ldc + j])) << "column " << j;
    EXPECT_FALSE(std::isnan(p.C[3 * p.ldc + j])) << "column " << j;
  }
}

// Tests that sigmoid and tanh saturate without overflow (no NaN from
// inf / inf) and propagate NaN.
TYPED_TEST(RuntimeGemmTest, SigmoidAndTanhAreStableForLargeInputs) {
  using T = TypeParam;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  std::vector<T> x = {T(1000), T(-1000), T(0), T(30), T(-30), nan};
  std::vector<T> s = applyEpilogue<T>(x, KILN_EPILOGUE_SIGMOID);
  EXPECT_EQ(s[0], T(1));
  EXPECT_EQ(s[1], T(0));
  EXPECT_EQ(s[2], T(0.5));
  EXPECT_NEAR(double(s[3]), 1.0, 1e-12);
  EXPECT_NEAR(double(s[4]) / std::exp(-30.0), 1.0, 1e-5);
  EXPECT_TRUE(std::isnan(s[5]));

  std::vector<T> t = applyEpilogue<T>(x, KILN_EPILOGUE_TANH);
  EXPECT_EQ(t[0], T(1));
  EXPECT_EQ(t[1], T(-1));
  EXPECT_EQ(t[2], T(0));
  EXPECT_TRUE(std::isnan(t[5]));
}

/// Largest relative error allowed for the sigmoid and tanh epilogues: 4.5
/// ulp for f32 (the vectorized forms are within 4 ulp), 10 ulp for f64.
template <typename T> double activationTolerance();
template <> double activationTolerance<float>() { return 4.5 * 0x1p-23; }
template <> double activationTolerance<double>() { return 10 * 0x1p-52; }

// Tests sigmoid and tanh against double-precision references over magnitudes
// from 1e-30 to 100 and a dense sweep of [-8, 8], both through whole vectors
// (one long row) and through short rows that leave scalar remainders.
TYPED_TEST(RuntimeGemmTest, SigmoidAndTanhAreAccurate) {
  using T = TypeParam;
  std::vector<T> x;
  for (double m = 1e-30; m < 100; m *= 1.01) {
    x.push_back(T(m));
    x.push_back(T(-m));
  }
  for (double v = -8; v <= 8; v += 1.0 / 1024)
    x.push_back(T(v));
  for (kiln_epilogue_t epilogue : {KILN_EPILOGUE_SIGMOID, KILN_EPILOGUE_TANH}) {
    SCOPED_TRACE(kiln_epilogue_name(epilogue));
    std::vector<T> whole = applyEpilogue<T>(x, epilogue);
    std::vector<T> pieces;
    for (size_t i = 0; i < x.size(); i += 3) {
      std::vector<T> piece(x.begin() + i,
                           x.begin() + std::min(i + 3, x.size()));
      piece = applyEpilogue<T>(piece, epilogue);
      pieces.insert(pieces.end(), piece.begin(), piece.end());
    }
    int failures = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      double want = activate(double(x[i]), epilogue);
      // The absolute term admits sigmoid results that are subnormal.
      double bound = activationTolerance<T>() * std::fabs(want) +
                     double(std::numeric_limits<T>::min());
      for (T got : {whole[i], pieces[i]})
        if (!(std::fabs(double(got) - want) <= bound) && failures++ < 5)
          ADD_FAILURE() << "x = " << x[i] << ": got " << got << ", want "
                        << want;
    }
    EXPECT_EQ(failures, 0);
  }
}

//===----------------------------------------------------------------------===//
// Batched
//===----------------------------------------------------------------------===//

// Tests that a batched call equals separate calls bit for bit, with padded
// strides, a shared operand (stride 0), transposes and an epilogue; and that
// batch == 0 is a no-op.
TYPED_TEST(RuntimeGemmTest, BatchedMatchesSeparateCalls) {
  using T = TypeParam;
  const int64_t batch = 3, M = 150, N = 70, K = 40;
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  auto random = [&](int64_t n) {
    std::vector<T> v(n);
    for (T &x : v)
      x = T(uniform(rng));
    return v;
  };
  for (bool transposed : {true, false}) {
    SCOPED_TRACE(transposed ? "transposed, shared B" : "shared A");
    const int64_t lda = (transposed ? M : K) + 1;
    const int64_t ldb = (transposed ? K : N) + 2, ldc = N + 3;
    const int64_t sizeA = (transposed ? K : M) * lda;
    const int64_t sizeB = (transposed ? N : K) * ldb;
    const int64_t strideA = transposed ? sizeA + 5 : 0;
    const int64_t strideB = transposed ? 0 : sizeB + 4;
    const int64_t strideC = M * ldc + 7;
    std::vector<T> A = random(batch * sizeA + 5 * batch),
                   B = random(batch * sizeB + 4 * batch),
                   C = random(batch * strideC), bias = random(N);
    const std::vector<T> original = C;
    std::vector<T> expected = C;
    for (int64_t b = 0; b < batch; ++b)
      gemm(M, N, K, transposed, transposed, T(0.5), A.data() + b * strideA, lda,
           B.data() + b * strideB, ldb, T(-1), expected.data() + b * strideC,
           ldc, bias.data(), KILN_EPILOGUE_SIGMOID);
    gemmBatched(batch, M, N, K, transposed, transposed, T(0.5), A.data(), lda,
                B.data(), ldb, T(-1), C.data(), ldc, bias.data(),
                KILN_EPILOGUE_SIGMOID, strideA, strideB, strideC);
    EXPECT_EQ(std::memcmp(C.data(), expected.data(), C.size() * sizeof(T)), 0);
    EXPECT_NE(std::memcmp(C.data(), original.data(), C.size() * sizeof(T)), 0);
    // The padding between the outputs is not written.
    EXPECT_EQ(C[strideC - 1], original[strideC - 1]);

    std::vector<T> before = C;
    gemmBatched(0, M, N, K, transposed, transposed, T(0.5), A.data(), lda,
                B.data(), ldb, T(-1), C.data(), ldc, bias.data(),
                KILN_EPILOGUE_SIGMOID, strideA, strideB, strideC);
    EXPECT_EQ(std::memcmp(C.data(), before.data(), C.size() * sizeof(T)), 0);
  }
}

//===----------------------------------------------------------------------===//
// Threads
//===----------------------------------------------------------------------===//

// Tests that results are bitwise identical for 1 to 4 threads on a problem
// large enough to be split (several row and column tiles).
TYPED_TEST(RuntimeGemmTest, ResultsDoNotDependOnThreadCount) {
  using T = TypeParam;
  ThreadCountGuard guard;
  Problem<T> p(300, 700, 100, false, true, T(1), T(0.25), 1, true,
               KILN_EPILOGUE_TANH, 31);
  const std::vector<T> C0 = p.C;
  std::vector<T> first;
  for (int threads = 1; threads <= 4; ++threads) {
    kiln_set_num_threads(threads);
    ASSERT_EQ(kiln_get_num_threads(), threads);
    p.C = C0;
    p.run();
    if (threads == 1) {
      p.check();
      first = p.C;
    } else {
      EXPECT_EQ(std::memcmp(p.C.data(), first.data(), first.size() * sizeof(T)),
                0)
          << threads << " threads";
    }
  }
}

// Tests that GEMMs called from several threads at once (which contend for
// the worker pool) all get the single-threaded result.
TYPED_TEST(RuntimeGemmTest, ConcurrentCallersGetCorrectResults) {
  using T = TypeParam;
  ThreadCountGuard guard;
  kiln_set_num_threads(1);
  Problem<T> p(256, 200, 120, false, false, T(1), T(0), 0, true,
               KILN_EPILOGUE_RELU, 41);
  p.run();
  p.check();
  const std::vector<T> expected = p.C;

  kiln_set_num_threads(2);
  std::vector<std::vector<T>> results(4, std::vector<T>(expected.size()));
  std::vector<std::thread> callers;
  for (auto &result : results)
    callers.emplace_back([&p, &result] {
      for (int repeat = 0; repeat < 5; ++repeat)
        gemm(p.M, p.N, p.K, 0, 0, T(1), p.A.data(), p.lda, p.B.data(), p.ldb,
             T(0), result.data(), p.ldc, p.bias.data(), KILN_EPILOGUE_RELU);
    });
  for (std::thread &caller : callers)
    caller.join();
  for (const auto &result : results)
    EXPECT_EQ(std::memcmp(result.data(), expected.data(),
                          expected.size() * sizeof(T)),
              0);
}

//===----------------------------------------------------------------------===//
// Argument checks
//===----------------------------------------------------------------------===//

// Tests that violated preconditions abort with a message naming the
// argument.
TYPED_TEST(RuntimeGemmTest, InvalidArgumentsAbortWithAMessage) {
  using T = TypeParam;
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::vector<T> A(64, T(1)), B(64, T(1)), C(64, T(0));
  EXPECT_DEATH(gemm(4, 4, 5, 0, 0, T(1), A.data(), 3, B.data(), 4, T(0),
                    C.data(), 4, nullptr, KILN_EPILOGUE_NONE),
               "lda = 3 is less than max\\(K, 1\\) = 5");
  EXPECT_DEATH(gemm(4, 4, 4, 0, 1, T(1), A.data(), 4, B.data(), 2, T(0),
                    C.data(), 4, nullptr, KILN_EPILOGUE_NONE),
               "ldb = 2 is less than max\\(K, 1\\) = 4");
  EXPECT_DEATH(gemm(4, 4, 4, 0, 0, T(1), A.data(), 4, B.data(), 4, T(0),
                    C.data(), 4, nullptr, 7),
               "unknown epilogue 7");
  EXPECT_DEATH(gemm(4, 4, 4, 0, 0, T(1), A.data(), 4, B.data(), 4, T(0),
                    static_cast<T *>(nullptr), 4, nullptr, KILN_EPILOGUE_NONE),
               "C is NULL");
  EXPECT_DEATH(gemm(-1, 4, 4, 0, 0, T(1), A.data(), 4, B.data(), 4, T(0),
                    C.data(), 4, nullptr, KILN_EPILOGUE_NONE),
               "negative size");
  EXPECT_DEATH(gemmBatched(2, 4, 4, 4, 0, 0, T(1), A.data(), 4, B.data(), 4,
                           T(0), C.data(), 4, nullptr, KILN_EPILOGUE_NONE, 0, 0,
                           8),
               "stride_c = 8 is less than");
}

TEST(RuntimeEpilogueTest, NamesMatchIRSpelling) {
  EXPECT_STREQ(kiln_epilogue_name(KILN_EPILOGUE_NONE), "none");
  EXPECT_STREQ(kiln_epilogue_name(KILN_EPILOGUE_RELU), "relu");
  EXPECT_STREQ(kiln_epilogue_name(KILN_EPILOGUE_SIGMOID), "sigmoid");
  EXPECT_STREQ(kiln_epilogue_name(KILN_EPILOGUE_TANH), "tanh");
  EXPECT_STREQ(kiln_test_epilogue_name(42), "unknown");
}

} // namespace
