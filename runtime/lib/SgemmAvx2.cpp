//===- SgemmAvx2.cpp - f32 GEMM tile kernel for AVX2 + FMA ------*- C++ -*-===//
//
// SgemmKernel.inc for AVX2 + FMA: 8-float vectors, 6 x 16 register blocks
// (12 accumulators, 2 B vectors, 1 broadcast: 15 of the 16 ymm registers).
// Compiled with -mavx2 -mfma (runtime/CMakeLists.txt); called only when
// cpuid reports both (SgemmKernels.h).
//
//===----------------------------------------------------------------------===//

#include "SgemmKernels.h"

#include <immintrin.h>

namespace kiln {
namespace runtime {
namespace sgemm_avx2 {

struct Isa {
  using V = __m256;
  static constexpr int W = 8;
  static constexpr int MR = 6;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V load(const float *p) { return _mm256_loadu_ps(p); }
  static V broadcast(const float *p) { return _mm256_broadcast_ss(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static void store(float *p, V v) { _mm256_storeu_ps(p, v); }
  /// Lanes [0, n) set (their sign bit), for maskload/maskstore.
  static __m256i mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V loadPartial(const float *p, int n) {
    return _mm256_maskload_ps(p, mask(n));
  }
  static void storePartial(float *p, V v, int n) {
    _mm256_maskstore_ps(p, mask(n), v);
  }
};

#define SGEMM_TILE_NAME tileEntry
#include "SgemmKernel.inc"
#undef SGEMM_TILE_NAME

} // namespace sgemm_avx2

void sgemmTileAvx2(int64_t rows, int64_t cols, int64_t depth, const float *a,
                   int64_t lda, bool transA, const float *b, int64_t ldb,
                   bool transB, float *c, int64_t ldc, float alpha) {
  sgemm_avx2::tileEntry(rows, cols, depth, a, lda, transA, b, ldb, transB, c,
                        ldc, alpha);
}

} // namespace runtime
} // namespace kiln
