//===- SgemmBf16.cpp - GEMM tile with bf16 operands, f32 sums --*- C++ -*-===//
//
// The tile kernel of kiln_gemm_bf16_f32 (SgemmKernels.h) on AVX512_BF16:
// op(A) and op(B) are rounded to bfloat16 (round to nearest even, NaN kept
// quiet: VCVTNE2PS2BF16) while they are packed, and `vdpbf16ps` adds the
// products of each pair of consecutive depth indices into f32 sums, so every
// product is exact and only the f32 sums round (the mixed-precision GEMM of
// Kalamkar et al., "A Study of BFLOAT16 for Deep Learning Training", 2019;
// Intel's AVX512_BF16 definition of VDPBF16PS: sums in f32, denormal inputs
// and outputs flushed to zero, round to nearest even).
//
// Structure as SgemmKernel.inc (same tiles, depth blocks and register blocks:
// 12 x 32 f32 accumulators), with both operands always packed, since both
// need converting: B into k-pair-major panels of 32 columns, B'[p][j] =
// (B(2p, j), B(2p+1, j)) as one 32-bit word, A likewise per 12-row panel,
// A'[p][i] = (A(i, 2p), A(i, 2p+1)); an odd depth block is padded with a
// zero pair half. Compiled with -mavx512f -mavx512bw -mavx512bf16; called
// only when cpuid reports AVX512_BF16.
//
//===----------------------------------------------------------------------===//

#include "SgemmKernels.h"

#include <immintrin.h>

#include <cstring>

namespace kiln {
namespace runtime {
namespace {

constexpr int W = 16;  // f32 lanes (and bf16 pairs) per vector
constexpr int MR = 12; // rows of a register block
constexpr int NR = 32; // columns of a register block (2 vectors)

inline int64_t minI64(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t ceilDivI64(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// The bf16 pair (lo, hi) of two floats as one 32-bit word, rounded as
/// VCVTNE2PS2BF16 does (nearest even; NaN becomes a quiet NaN; denormals
/// are not flushed here, vdpbf16ps flushes them).
inline uint32_t pairScalar(float lo, float hi) {
  __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  __m512i packed = (__m512i)_mm512_cvtne2ps_pbh(vhi, vlo);
  // Lane 0 holds lo (from the second operand), lane 16 hi.
  uint16_t halves[32];
  _mm512_storeu_si512(halves, packed);
  return uint32_t(halves[0]) | (uint32_t(halves[16]) << 16);
}

/// Interleaves two rows of n floats (x0 = row 2p, x1 = row 2p + 1) into n
/// bf16 pairs: out[x] = (x0[x], x1[x]).
inline void interleaveRows(const float *x0, const float *x1, int64_t n,
                           uint32_t *out) {
  // vpermw index: pair x takes element x (x0, low half of the converted
  // vector) and element 16 + x (x1, high half).
  alignas(64) static const uint16_t kIndex[32] = {
      0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
      8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i index = _mm512_load_si512(kIndex);
  int64_t x = 0;
  for (; x + W <= n; x += W) {
    __m512i both = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(x1 + x),
                                                _mm512_loadu_ps(x0 + x));
    _mm512_storeu_si512(out + x, _mm512_permutexvar_epi16(index, both));
  }
  if (x < n) {
    const __mmask16 mask = __mmask16((1u << (n - x)) - 1u);
    __m512i both =
        (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(mask, x1 + x),
                                     _mm512_maskz_loadu_ps(mask, x0 + x));
    _mm512_mask_storeu_epi32(out + x, mask,
                             _mm512_permutexvar_epi16(index, both));
  }
}

/// Converts kc floats that are contiguous along the depth (src[k]) into
/// ceil(kc / 2) pairs written with a stride: out[p * stride] = (src[2p],
/// src[2p + 1]), the last half zero when kc is odd.
inline void pairsAlongDepth(const float *src, int64_t kc, uint32_t *out,
                            int64_t stride) {
  alignas(64) uint32_t pairs[W];
  int64_t k = 0;
  for (; k + 2 * W <= kc; k += 2 * W) {
    // cvtne2ps(hi, lo) puts lo's 16 values in the low half: 32 bf16 in
    // depth order, i.e. 16 pairs in order.
    __m512i both = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + k + W),
                                                _mm512_loadu_ps(src + k));
    _mm512_store_si512(pairs, both);
    for (int p = 0; p < W; ++p)
      out[(k / 2 + p) * stride] = pairs[p];
  }
  for (; k < kc; k += 2)
    out[(k / 2) * stride] = pairScalar(src[k], k + 1 < kc ? src[k + 1] : 0.0f);
}

/// Packs op(B)'s block (kc rows from b, cols columns) into panels of NR
/// columns of kc2 = ceil(kc / 2) pairs: panel q at out + q * kc2 * NR.
void packB(int64_t kc, int64_t cols, const float *b, int64_t ldb, bool transB,
           uint32_t *out) {
  const int64_t kc2 = ceilDivI64(kc, 2);
  for (int64_t j0 = 0; j0 < cols; j0 += NR) {
    const int64_t n = minI64(NR, cols - j0);
    uint32_t *panel = out + (j0 / NR) * kc2 * NR;
    if (!transB) {
      static const float zeros[NR] = {};
      for (int64_t p = 0; p < kc2; ++p) {
        const float *x0 = b + (2 * p) * ldb + j0;
        const float *x1 = 2 * p + 1 < kc ? x0 + ldb : zeros;
        interleaveRows(x0, x1, n, panel + p * NR);
      }
    } else {
      for (int64_t j = 0; j < n; ++j)
        pairsAlongDepth(b + (j0 + j) * ldb, kc, panel + j, NR);
    }
    if (n < NR)
      for (int64_t p = 0; p < kc2; ++p)
        std::memset(panel + p * NR + n, 0, size_t(NR - n) * sizeof(uint32_t));
  }
}

/// Packs m <= MR rows of op(A)'s block (a at the panel's first row and the
/// block's first column) into kc2 x MR pairs, zero rows past m.
void packA(int64_t kc, int64_t m, const float *a, int64_t lda, bool transA,
           uint32_t *out) {
  const int64_t kc2 = ceilDivI64(kc, 2);
  if (transA) {
    static const float zeros[MR] = {};
    for (int64_t p = 0; p < kc2; ++p) {
      const float *x0 = a + (2 * p) * lda;
      const float *x1 = 2 * p + 1 < kc ? x0 + lda : zeros;
      interleaveRows(x0, x1, m, out + p * MR);
    }
  } else {
    for (int64_t i = 0; i < m; ++i)
      pairsAlongDepth(a + i * lda, kc, out + i, MR);
  }
  if (m < MR)
    for (int64_t p = 0; p < kc2; ++p)
      std::memset(out + p * MR + m, 0, size_t(MR - m) * sizeof(uint32_t));
}

/// c[i][j] += alpha * sum_p A'[p][i] . B'[p][j] for i < m, j < n.
template <int NV, int Rows>
inline void registerBlock(int64_t kc2, const uint32_t *__restrict a,
                          const uint32_t *__restrict b, int64_t ldb,
                          float *__restrict c, int64_t ldc, int m, int n,
                          float alpha) {
  __m512 acc[Rows][NV];
  for (int i = 0; i < Rows; ++i)
    for (int v = 0; v < NV; ++v)
      acc[i][v] = _mm512_setzero_ps();
#if defined(__clang__)
#pragma clang loop unroll(disable)
#endif
  for (int64_t p = 0; p < kc2; ++p) {
    __m512bh bv[NV];
    for (int v = 0; v < NV; ++v)
      bv[v] = (__m512bh)_mm512_loadu_si512(b + p * ldb + v * W);
    for (int i = 0; i < Rows; ++i) {
      __m512bh ai = (__m512bh)_mm512_set1_epi32(int(a[p * MR + i]));
      for (int v = 0; v < NV; ++v)
        acc[i][v] = _mm512_dpbf16_ps(acc[i][v], ai, bv[v]);
    }
  }
  const __m512 scale = _mm512_set1_ps(alpha);
  for (int i = 0; i < Rows; ++i) {
    if (i >= m)
      break;
    for (int v = 0; v < NV; ++v) {
      int lanes = n - v * W;
      if (lanes <= 0)
        break;
      float *p = c + i * ldc + v * W;
      if (lanes >= W) {
        _mm512_storeu_ps(p,
                         _mm512_fmadd_ps(acc[i][v], scale, _mm512_loadu_ps(p)));
      } else {
        const __mmask16 mask = __mmask16((1u << lanes) - 1u);
        _mm512_mask_storeu_ps(
            p, mask,
            _mm512_fmadd_ps(acc[i][v], scale, _mm512_maskz_loadu_ps(mask, p)));
      }
    }
  }
}

template <int NV>
void rowPanel(int64_t kc2, const uint32_t *a, const uint32_t *b, float *c,
              int64_t ldc, int m, int n, float alpha) {
  if (m <= 1)
    registerBlock<NV, 1>(kc2, a, b, NR, c, ldc, m, n, alpha);
  else if (m <= 2)
    registerBlock<NV, 2>(kc2, a, b, NR, c, ldc, m, n, alpha);
  else if (m <= 4)
    registerBlock<NV, 4>(kc2, a, b, NR, c, ldc, m, n, alpha);
  else if (m <= 6)
    registerBlock<NV, 6>(kc2, a, b, NR, c, ldc, m, n, alpha);
  else
    registerBlock<NV, MR>(kc2, a, b, NR, c, ldc, m, n, alpha);
}

} // namespace

void sgemmTileBf16(int64_t rows, int64_t cols, int64_t depth, const float *a,
                   int64_t lda, bool transA, const float *b, int64_t ldb,
                   bool transB, float *c, int64_t ldc, float alpha) {
  // Depth blocks of at most 2 * 256: a 32-column panel of pairs is then
  // 32 KiB, as an f32 panel of depth 256.
  const int64_t depthBlocks = ceilDivI64(depth, 2 * kSgemmDepthBlock);
  const int64_t kcMax = ceilDivI64(depth, depthBlocks);
  const int64_t kc2Max = ceilDivI64(kcMax, 2);
  const int64_t panelsB = ceilDivI64(cols, NR);
  const int64_t rowPanels = ceilDivI64(rows, MR);
  const size_t wordsB = size_t(panelsB * kc2Max * NR);
  const size_t wordsA = size_t(rowPanels * kc2Max * MR);
  uint32_t *packedB = static_cast<uint32_t *>(
      sgemmPackingBuffer((wordsB + wordsA) * sizeof(uint32_t)));
  uint32_t *packedA = packedB + wordsB;

  for (int64_t k0 = 0; k0 < depth; k0 += kcMax) {
    const int64_t kc = minI64(kcMax, depth - k0);
    const int64_t kc2 = ceilDivI64(kc, 2);
    packB(kc, cols, transB ? b + k0 : b + k0 * ldb, ldb, transB, packedB);
    for (int64_t r = 0; r < rowPanels; ++r) {
      const int64_t i0 = r * MR;
      packA(kc, minI64(MR, rows - i0),
            transA ? a + k0 * lda + i0 : a + i0 * lda + k0, lda, transA,
            packedA + r * kc2Max * MR);
    }
    for (int64_t q = 0; q < panelsB; ++q) {
      const int64_t j0 = q * NR;
      const int n = int(minI64(NR, cols - j0));
      const uint32_t *bp = packedB + q * kc2 * NR;
      for (int64_t r = 0; r < rowPanels; ++r) {
        const int64_t i0 = r * MR;
        const int m = int(minI64(MR, rows - i0));
        const uint32_t *ap = packedA + r * kc2Max * MR;
        if (n <= W)
          rowPanel<1>(kc2, ap, bp, c + i0 * ldc + j0, ldc, m, n, alpha);
        else
          rowPanel<2>(kc2, ap, bp, c + i0 * ldc + j0, ldc, m, n, alpha);
      }
    }
  }
}

} // namespace runtime
} // namespace kiln
