//===- SgemmKernelTest.cpp - kiln's own f32 GEMM tile kernels -------------===//
//
// Runs kiln_gemm_f32 with each f32 tile kernel this CPU supports (AVX-512,
// AVX2, Eigen; runtime/lib/SgemmKernels.h) and checks:
// - results against a double-precision reference on shapes that hit every
//   path of the kernels: full and partial register blocks (rows around the
//   12- and 6-row blocks, columns around the 16- and 32-column vectors),
//   1-4-row tiles that read B in place, depths across the 256-deep blocks,
//   all four transpose combinations, padded leading dimensions, alpha and
//   beta;
// - that an element's value does not depend on the tile or block shape that
//   computed it (the claim behind thread-count independence): each row of a
//   128-row product equals, bit for bit, the same row computed alone (a
//   1-row tile through the short-row path), and the first 10 columns of a
//   512-column product equal a 10-column product (one-vector blocks);
// - that C's elements outside M x N (padding) are never written.
// The whole of RuntimeGemmTest also runs once per kernel (ctest entries
// avx2.* and eigen.*, KILN_SGEMM_KERNEL; tests/unit/CMakeLists.txt).
//
//===----------------------------------------------------------------------===//

#include "SgemmKernels.h"
#include "kiln/runtime.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace rt = kiln::runtime;

namespace {

constexpr float kPadding = 12345.0f;

/// Restores the kernel chosen for the CPU at the end of a test.
class KernelGuard {
public:
  KernelGuard() : saved(rt::selectedSgemmKernel()) {}
  ~KernelGuard() { rt::setSgemmKernelForTesting(saved); }

private:
  rt::SgemmKernel saved;
};

std::vector<rt::SgemmKernel> supportedKernels() {
  std::vector<rt::SgemmKernel> kernels;
  for (rt::SgemmKernel k :
       {rt::SgemmKernel::Avx512, rt::SgemmKernel::Avx2, rt::SgemmKernel::Eigen})
    if (rt::sgemmKernelSupported(k))
      kernels.push_back(k);
  return kernels;
}

std::vector<float> randomMatrix(int64_t rows, int64_t cols, int64_t ld,
                                unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> m(size_t(std::max<int64_t>(rows * ld, 1)), kPadding);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      m[size_t(i * ld + j)] = uniform(rng);
  return m;
}

struct Case {
  int64_t M, N, K;
  bool transA, transB;
  float alpha, beta;
  int64_t padding;
};

/// Runs one case with the current kernel and compares with the reference:
/// |C - ref| <= 1e-5 * sqrt(K) * (sum_k |alpha a b| + |beta c| + |ref|).
void checkCase(const Case &c, unsigned seed) {
  const int64_t rowsA = c.transA ? c.K : c.M, colsA = c.transA ? c.M : c.K;
  const int64_t rowsB = c.transB ? c.N : c.K, colsB = c.transB ? c.K : c.N;
  const int64_t lda = colsA + c.padding, ldb = colsB + c.padding,
                ldc = c.N + c.padding;
  std::vector<float> A = randomMatrix(rowsA, colsA, lda, seed),
                     B = randomMatrix(rowsB, colsB, ldb, seed + 1),
                     C = randomMatrix(c.M, c.N, ldc, seed + 2);
  const std::vector<float> C0 = C;
  kiln_gemm_f32(c.M, c.N, c.K, c.transA, c.transB, c.alpha, A.data(), lda,
                B.data(), ldb, c.beta, C.data(), ldc, nullptr,
                KILN_EPILOGUE_NONE);
  int failures = 0;
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.N; ++j) {
      double sum = 0, scale = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        double a = c.transA ? A[size_t(k * lda + i)] : A[size_t(i * lda + k)];
        double b = c.transB ? B[size_t(j * ldb + k)] : B[size_t(k * ldb + j)];
        sum += a * b;
        scale += std::fabs(a * b);
      }
      double want = double(c.alpha) * sum;
      scale *= std::fabs(double(c.alpha));
      if (c.beta != 0.0f) {
        want += double(c.beta) * C0[size_t(i * ldc + j)];
        scale += std::fabs(double(c.beta) * C0[size_t(i * ldc + j)]);
      }
      double got = C[size_t(i * ldc + j)];
      double bound = 1e-5 * std::max(1.0, std::sqrt(double(c.K))) *
                     (scale + std::fabs(want));
      if (!(std::fabs(got - want) <= bound) && failures++ < 5)
        ADD_FAILURE() << "C(" << i << ", " << j << ") = " << got
                      << ", reference " << want;
    }
    for (int64_t j = c.N; j < ldc; ++j)
      if (C[size_t(i * ldc + j)] != kPadding && failures++ < 5)
        ADD_FAILURE() << "padding C(" << i << ", " << j << ") overwritten";
  }
  EXPECT_EQ(failures, 0);
}

// Tests every kernel against the reference on shapes around its block
// sizes, with every transpose combination.
TEST(SgemmKernelTest, EveryKernelMatchesTheReference) {
  KernelGuard guard;
  const int64_t rows[] = {1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 25, 130};
  const int64_t cols[] = {1, 10, 16, 17, 31, 32, 33, 129};
  const int64_t depths[] = {1, 7, 256, 257, 600};
  for (rt::SgemmKernel kernel : supportedKernels()) {
    ASSERT_TRUE(rt::setSgemmKernelForTesting(kernel));
    unsigned seed = 1;
    for (int64_t M : rows)
      for (int64_t N : cols) {
        // Depth, transposes, padding and scalars cycle with the seed so that
        // each appears with many row and column counts (all 12 x 8 x 5 x 4
        // would take minutes against the naive reference).
        ++seed;
        const int64_t K = depths[seed % 5];
        Case c{M,
               N,
               K,
               bool(seed & 1),
               bool(seed & 2),
               (seed % 3) ? 1.0f : -0.75f,
               (seed % 4) ? 0.0f : 0.5f,
               int64_t(seed % 2) * 3};
        SCOPED_TRACE(std::string(rt::sgemmKernelName(kernel)) +
                     " M=" + std::to_string(M) + " N=" + std::to_string(N) +
                     " K=" + std::to_string(K) +
                     " transA=" + std::to_string(c.transA) +
                     " transB=" + std::to_string(c.transB));
        checkCase(c, seed);
      }
  }
}

// Tests all four transposes on a model-sized product (several row and
// column tiles, direct and packed A panels, three depth blocks).
TEST(SgemmKernelTest, EveryKernelMatchesTheReferenceOnLayerShapes) {
  KernelGuard guard;
  for (rt::SgemmKernel kernel : supportedKernels()) {
    ASSERT_TRUE(rt::setSgemmKernelForTesting(kernel));
    for (int trans = 0; trans < 4; ++trans) {
      SCOPED_TRACE(std::string(rt::sgemmKernelName(kernel)) +
                   " trans=" + std::to_string(trans));
      checkCase(
          {150, 140, 600, bool(trans & 1), bool(trans & 2), 1.0f, 1.0f, 1},
          unsigned(trans) + 100);
    }
  }
}

/// C = A B (A: M x K row-major, B: K x N row-major) with the current kernel.
std::vector<float> product(const std::vector<float> &A,
                           const std::vector<float> &B, int64_t M, int64_t N,
                           int64_t K, int64_t ldb, bool transA) {
  std::vector<float> C(size_t(M * N), 0.0f);
  kiln_gemm_f32(M, N, K, transA, 0, 1.0f, A.data(), transA ? M : K, B.data(),
                ldb, 0.0f, C.data(), N, nullptr, KILN_EPILOGUE_NONE);
  return C;
}

// Tests that an element's value does not depend on the shape of the block
// or tile that computes it (kiln's kernels): rows computed alone (1-row tiles,
// B read in place, wide register blocks) and columns computed in a skinny
// product (one-vector blocks) equal, bit for bit, the same elements of a 128 x
// 512 product (12-row blocks, packed B, several tiles).
TEST(SgemmKernelTest, ElementsDoNotDependOnTheBlockShape) {
  KernelGuard guard;
  const int64_t M = 128, N = 512, K = 600;
  std::vector<float> A = randomMatrix(M, K, K, 7), B = randomMatrix(K, N, N, 8);
  for (rt::SgemmKernel kernel : supportedKernels()) {
    // Eigen's blocking depends on the shape; kiln's kernels do not.
    if (kernel == rt::SgemmKernel::Eigen)
      continue;
    ASSERT_TRUE(rt::setSgemmKernelForTesting(kernel));
    SCOPED_TRACE(rt::sgemmKernelName(kernel));
    std::vector<float> full = product(A, B, M, N, K, N, false);
    for (int64_t i : {int64_t(0), int64_t(5), int64_t(127)}) {
      std::vector<float> row(A.begin() + i * K, A.begin() + (i + 1) * K);
      std::vector<float> alone = product(row, B, 1, N, K, N, false);
      EXPECT_EQ(0, std::memcmp(alone.data(), full.data() + i * N,
                               size_t(N) * sizeof(float)))
          << "row " << i;
    }
    // The first 10 columns as a 10-column product (B with ldb = N).
    std::vector<float> skinny = product(A, B, M, 10, K, N, false);
    int mismatches = 0;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < 10; ++j)
        mismatches += skinny[size_t(i * 10 + j)] != full[size_t(i * N + j)];
    EXPECT_EQ(mismatches, 0);
  }
}

/// x rounded to bfloat16 (nearest even), as VCVTNE2PS2BF16 does for the
/// finite, normal values the tests use.
float toBf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u += 0x7FFFu + ((u >> 16) & 1u);
  u &= 0xFFFF0000u;
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}

// Tests kiln_gemm_bf16_f32 against a double reference of the bf16-rounded
// operands (the products are then exact, so only the f32 sums may differ:
// the f32 tolerance applies), on every transpose combination and on shapes
// with odd depths (a half-empty last pair), partial row and column blocks
// and several depth blocks. Without AVX512_BF16 it must equal the f32 GEMM.
TEST(SgemmKernelTest, Bf16GemmMatchesTheRoundedReference) {
  struct Shape {
    int64_t M, N, K;
  };
  const Shape shapes[] = {{1, 1, 1},     {3, 17, 7},      {13, 33, 255},
                          {25, 10, 513}, {130, 70, 1030}, {1, 129, 784}};
  unsigned seed = 40;
  for (const Shape &sh : shapes)
    for (int trans = 0; trans < 4; ++trans) {
      const bool tA = trans & 1, tB = trans & 2;
      const int64_t lda = (tA ? sh.M : sh.K) + 1, ldb = (tB ? sh.K : sh.N) + 2;
      const int64_t ldc = sh.N + 3;
      std::vector<float> A = randomMatrix(tA ? sh.K : sh.M, tA ? sh.M : sh.K,
                                          lda, ++seed),
                         B = randomMatrix(tB ? sh.N : sh.K, tB ? sh.K : sh.N,
                                          ldb, ++seed),
                         C = randomMatrix(sh.M, sh.N, ldc, ++seed);
      std::vector<float> C0 = C, Cf32 = C;
      const float alpha = 0.5f, beta = -1.0f;
      kiln_gemm_bf16_f32(sh.M, sh.N, sh.K, tA, tB, alpha, A.data(), lda,
                         B.data(), ldb, beta, C.data(), ldc, nullptr,
                         KILN_EPILOGUE_NONE);
      SCOPED_TRACE("M=" + std::to_string(sh.M) + " N=" + std::to_string(sh.N) +
                   " K=" + std::to_string(sh.K) +
                   " trans=" + std::to_string(trans));
      if (!kiln_cpu_has_bf16()) {
        kiln_gemm_f32(sh.M, sh.N, sh.K, tA, tB, alpha, A.data(), lda, B.data(),
                      ldb, beta, Cf32.data(), ldc, nullptr, KILN_EPILOGUE_NONE);
        EXPECT_EQ(0,
                  std::memcmp(C.data(), Cf32.data(), C.size() * sizeof(float)));
        continue;
      }
      int failures = 0;
      for (int64_t i = 0; i < sh.M; ++i) {
        for (int64_t j = 0; j < sh.N; ++j) {
          double sum = 0, scale = 0;
          for (int64_t k = 0; k < sh.K; ++k) {
            double a =
                toBf16(tA ? A[size_t(k * lda + i)] : A[size_t(i * lda + k)]);
            double b =
                toBf16(tB ? B[size_t(j * ldb + k)] : B[size_t(k * ldb + j)]);
            sum += a * b;
            scale += std::fabs(a * b);
          }
          double c0 = C0[size_t(i * ldc + j)];
          double want = alpha * sum + beta * c0;
          double bound =
              1e-5 * std::max(1.0, std::sqrt(double(sh.K))) *
              (std::fabs(alpha) * scale + std::fabs(c0) + std::fabs(want));
          double got = C[size_t(i * ldc + j)];
          if (!(std::fabs(got - want) <= bound) && failures++ < 5)
            ADD_FAILURE() << "C(" << i << ", " << j << ") = " << got
                          << ", reference " << want;
        }
        for (int64_t j = sh.N; j < ldc; ++j)
          if (C[size_t(i * ldc + j)] != kPadding && failures++ < 5)
            ADD_FAILURE() << "padding C(" << i << ", " << j << ") overwritten";
      }
      EXPECT_EQ(failures, 0);
    }
}

// Tests that the bf16 GEMM really rounds its operands where the CPU has
// AVX512_BF16: 1 + 2^-10 is not a bf16 value (8 significant bits) and
// rounds to 1, so a K = 64 dot product of it with ones is exactly 64, where
// f32 gives 64.0625.
TEST(SgemmKernelTest, Bf16GemmRoundsOperands) {
  const int64_t K = 64;
  std::vector<float> a(K, 1.0f + 1.0f / 1024.0f), b(K, 1.0f);
  float c = 0, cf32 = 0;
  kiln_gemm_bf16_f32(1, 1, K, 0, 0, 1.0f, a.data(), K, b.data(), 1, 0.0f, &c, 1,
                     nullptr, KILN_EPILOGUE_NONE);
  kiln_gemm_f32(1, 1, K, 0, 0, 1.0f, a.data(), K, b.data(), 1, 0.0f, &cf32, 1,
                nullptr, KILN_EPILOGUE_NONE);
  EXPECT_EQ(cf32, 64.0625f);
  EXPECT_EQ(c, kiln_cpu_has_bf16() ? 64.0f : 64.0625f);
}

// Tests that a kernel the CPU cannot run is refused and changes nothing.
TEST(SgemmKernelTest, UnsupportedKernelIsRefused) {
  KernelGuard guard;
  const rt::SgemmKernel before = rt::selectedSgemmKernel();
  EXPECT_TRUE(rt::sgemmKernelSupported(rt::SgemmKernel::Eigen));
  for (rt::SgemmKernel k : {rt::SgemmKernel::Avx512, rt::SgemmKernel::Avx2})
    if (!rt::sgemmKernelSupported(k)) {
      EXPECT_FALSE(rt::setSgemmKernelForTesting(k));
      EXPECT_EQ(rt::selectedSgemmKernel(), before);
    }
  EXPECT_STREQ(rt::sgemmKernelName(rt::SgemmKernel::Avx512), "avx512");
}

} // namespace
