//===- SgemmAvx512.cpp - f32 GEMM tile kernel for AVX-512F ------*- C++ -*-===//
//
// SgemmKernel.inc for AVX-512F: 16-float vectors, 12 x 32 register blocks
// (24 accumulators, 2 B vectors, broadcasts folded into the FMAs: 26 of the
// 32 zmm registers). Compiled with -mavx512f -mfma (runtime/CMakeLists.txt);
// called only when cpuid reports AVX-512F (SgemmKernels.h).
//
//===----------------------------------------------------------------------===//

#include "SgemmKernels.h"

#include <immintrin.h>

namespace kiln {
namespace runtime {
namespace sgemm_avx512 {

struct Isa {
  using V = __m512;
  static constexpr int W = 16;
  static constexpr int MR = 12;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(const float *p) { return _mm512_loadu_ps(p); }
  static V broadcast(const float *p) { return _mm512_set1_ps(*p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static void store(float *p, V v) { _mm512_storeu_ps(p, v); }
  static __mmask16 mask(int n) { return __mmask16((1u << n) - 1u); }
  static V loadPartial(const float *p, int n) {
    return _mm512_maskz_loadu_ps(mask(n), p);
  }
  static void storePartial(float *p, V v, int n) {
    _mm512_mask_storeu_ps(p, mask(n), v);
  }
};

#define SGEMM_TILE_NAME tileEntry
#include "SgemmKernel.inc"
#undef SGEMM_TILE_NAME

} // namespace sgemm_avx512

void sgemmTileAvx512(int64_t rows, int64_t cols, int64_t depth, const float *a,
                     int64_t lda, bool transA, const float *b, int64_t ldb,
                     bool transB, float *c, int64_t ldc, float alpha) {
  sgemm_avx512::tileEntry(rows, cols, depth, a, lda, transA, b, ldb, transB, c,
                          ldc, alpha);
}

} // namespace runtime
} // namespace kiln
