//===- Conv.cpp - convolution kernels (channels-last) -----------*- C++ -*-===//
//
// kiln_conv_{fwd,bwd_data,bwd_filter}_{f32,f64} on channels-last tensors
// (x: [N, S1..Sd, C], w: [K1..Kd, C/groups, F], y: [N, O1..Od, F]).
//
// f32: im2col + kiln_gemm_f32 (bench/results/conv_kernels.md has the
// measurements behind that choice). The N * O1 * .. * Od output positions are
// the rows of a matrix; blocks of rows are the work items of a parallelFor:
//   - forward: per block and group, gather the windows into a column matrix
//     [rows, K1..Kd * C/groups] (a thread-local workspace) and multiply by the
//     group's weight columns; bias and epilogue are the GEMM's own;
//   - backward data: per image, dcol = dy * W^T by blocks, scattered back
//     (col2im) into that image's dx, so items never write the same dx;
//   - backward filter: dW = col^T * dy, the rows split into a number of parts
//     fixed by the shapes; each part accumulates its own partial dW and the
//     partials are added in part order, so results do not depend on the
//     thread count.
// A 1x1 kernel with unit stride and no padding multiplies x directly.
//
// f64: direct loops in the order of the formulas (the oracle of the tests and
// of gradient checks); bias and epilogue through kiln_gemm_f64 with K = 0, so
// the activations are exactly the GEMM's.
//
//===----------------------------------------------------------------------===//

#include "Fatal.h"
#include "ThreadPool.h"

#include "kiln/runtime.h"

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace kiln::runtime;

namespace {

using kiln::runtime::fatal;

/// A validated kiln_conv_desc_t with the unused dimensions normalized
/// (size 1, kernel 1, stride 1, dilation 1, no padding) and derived sizes.
struct Conv {
  int rank;
  int64_t G, N, C, F, Cg, Fg;
  int64_t S[3], O[3], K[3], st[3], dl[3], pl[3], ph[3];
  int64_t kernelVolume; ///< K1 * K2 * K3
  int64_t outPositions; ///< O1 * O2 * O3 (per image)
  int64_t inPositions;  ///< S1 * S2 * S3 (per image)
  int64_t colWidth;     ///< kernelVolume * Cg
  int32_t epilogue;
  bool pointwise; ///< 1x1x1 kernel, unit strides, no padding
};

Conv validate(const char *function, const kiln_conv_desc_t *d, bool isForward,
              const void *a, const void *b, const void *out) {
  if (!d)
    fatal(function, "descriptor is NULL");
  Conv c;
  if (d->spatial_rank < 1 || d->spatial_rank > 3)
    fatal(function, "spatial_rank = %" PRId64 " is not 1, 2 or 3",
          d->spatial_rank);
  c.rank = static_cast<int>(d->spatial_rank);
  c.G = d->groups;
  c.N = d->batch;
  c.C = d->in_channels;
  c.F = d->out_channels;
  if (c.N < 0)
    fatal(function, "batch = %" PRId64 " is negative", c.N);
  if (c.G < 1 || c.C < 1 || c.F < 1)
    fatal(function,
          "groups = %" PRId64 ", in_channels = %" PRId64
          ", out_channels = %" PRId64 " must be >= 1",
          c.G, c.C, c.F);
  if (c.C % c.G || c.F % c.G)
    fatal(function,
          "groups = %" PRId64 " does not divide in_channels = %" PRId64
          " and out_channels = %" PRId64,
          c.G, c.C, c.F);
  c.Cg = c.C / c.G;
  c.Fg = c.F / c.G;
  for (int i = 0; i < 3; ++i) {
    if (i >= c.rank) {
      c.S[i] = c.O[i] = c.K[i] = c.st[i] = c.dl[i] = 1;
      c.pl[i] = c.ph[i] = 0;
      continue;
    }
    c.S[i] = d->in_size[i];
    c.O[i] = d->out_size[i];
    c.K[i] = d->kernel[i];
    c.st[i] = d->stride[i];
    c.dl[i] = d->dilation[i];
    c.pl[i] = d->pad_low[i];
    c.ph[i] = d->pad_high[i];
    if (c.S[i] < 1 || c.K[i] < 1 || c.st[i] < 1 || c.dl[i] < 1 || c.pl[i] < 0 ||
        c.ph[i] < 0)
      fatal(function,
            "dimension %d: in_size = %" PRId64 ", kernel = %" PRId64
            ", stride = %" PRId64 ", dilation = %" PRId64
            " must be >= 1 and pad_low = %" PRId64 ", pad_high = %" PRId64
            " >= 0",
            i, c.S[i], c.K[i], c.st[i], c.dl[i], c.pl[i], c.ph[i]);
    int64_t span = c.S[i] + c.pl[i] + c.ph[i] - c.dl[i] * (c.K[i] - 1) - 1;
    if (span < 0 || c.O[i] != span / c.st[i] + 1)
      fatal(function,
            "dimension %d: out_size = %" PRId64
            " does not match in_size %" PRId64 ", kernel %" PRId64
            ", stride %" PRId64 ", dilation %" PRId64 ", pads %" PRId64
            "/%" PRId64,
            i, c.O[i], c.S[i], c.K[i], c.st[i], c.dl[i], c.pl[i], c.ph[i]);
  }
  if (d->epilogue < KILN_EPILOGUE_NONE || d->epilogue > KILN_EPILOGUE_TANH)
    fatal(function, "unknown epilogue %" PRId64, d->epilogue);
  for (int64_t r : d->reserved)
    if (r != 0)
      fatal(function, "reserved fields must be 0");
  // The backward kernels ignore the epilogue (the caller may pass the
  // forward descriptor as it is).
  c.epilogue = isForward ? static_cast<int32_t>(d->epilogue) : 0;
  c.kernelVolume = c.K[0] * c.K[1] * c.K[2];
  c.outPositions = c.O[0] * c.O[1] * c.O[2];
  c.inPositions = c.S[0] * c.S[1] * c.S[2];
  c.colWidth = c.kernelVolume * c.Cg;
  c.pointwise = c.kernelVolume == 1;
  for (int i = 0; i < 3; ++i)
    c.pointwise = c.pointwise && c.st[i] == 1 && c.pl[i] == 0 && c.ph[i] == 0;
  if (c.N > 0 && (!a || !b || !out))
    fatal(function, "a tensor pointer is NULL");
  return c;
}

/// Calls fn(kflat, inPos) for every kernel offset of output position `p`
/// (flattened O1..O3) whose input position is inside the image; inPos is the
/// flattened S1..S3 index.
template <typename Fn> inline void forWindow(const Conv &c, int64_t p, Fn fn) {
  int64_t o2 = p % c.O[2], o1 = (p / c.O[2]) % c.O[1], o0 = p / c.O[2] / c.O[1];
  int64_t b0 = o0 * c.st[0] - c.pl[0], b1 = o1 * c.st[1] - c.pl[1],
          b2 = o2 * c.st[2] - c.pl[2];
  int64_t k = 0;
  for (int64_t k0 = 0; k0 < c.K[0]; ++k0) {
    int64_t i0 = b0 + k0 * c.dl[0];
    if (i0 < 0 || i0 >= c.S[0]) {
      k += c.K[1] * c.K[2];
      continue;
    }
    for (int64_t k1 = 0; k1 < c.K[1]; ++k1) {
      int64_t i1 = b1 + k1 * c.dl[1];
      if (i1 < 0 || i1 >= c.S[1]) {
        k += c.K[2];
        continue;
      }
      for (int64_t k2 = 0; k2 < c.K[2]; ++k2, ++k) {
        int64_t i2 = b2 + k2 * c.dl[2];
        if (i2 < 0 || i2 >= c.S[2])
          continue;
        fn(k, (i0 * c.S[1] + i1) * c.S[2] + i2);
      }
    }
  }
}

/// Bias and epilogue on the rows x F output through the GEMM with K = 0
/// (C = epilogue(C + bias)), so that they are exactly the GEMM's.
void applyEpilogue(double *y, int64_t rows, int64_t F, const double *bias,
                   int32_t epilogue) {
  if (!bias && epilogue == KILN_EPILOGUE_NONE)
    return;
  kiln_gemm_f64(rows, F, 0, 0, 0, 1.0, nullptr, 1, nullptr, F, 1.0, y, F, bias,
                epilogue);
}
/// f32 convolutions whose GEMM depth (kernel volume * channels per group)
/// is below this use the small products below instead of kiln_gemm_f32: a
/// GEMM that short is mostly packing (MNIST conv1, 3x3 x 1 channel: 7
/// GFLOP/s through the GEMM).
constexpr int64_t kMinGemmDepth = 16;

/// y[r, f] = sum_j col[r, j] * w[j, f] for R rows and n columns, without
/// packing: 16 columns at a time in R x 16 accumulators held in registers.
/// Sums run over j in order.
template <int R>
void smallProductRows(const float *col, int64_t cw, const float *w, int64_t ldw,
                      int64_t n, float *y, int64_t ldy) {
  for (int64_t f0 = 0; f0 < n; f0 += 16) {
    float acc[R][16] = {};
    if (f0 + 16 <= n) {
      for (int64_t j = 0; j < cw; ++j) {
        const float *wr = w + j * ldw + f0;
        for (int r = 0; r < R; ++r) {
          float a = col[r * cw + j];
          for (int t = 0; t < 16; ++t)
            acc[r][t] += a * wr[t];
        }
      }
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < 16; ++t)
          y[r * ldy + f0 + t] = acc[r][t];
      continue;
    }
    int64_t nf = n - f0;
    for (int64_t j = 0; j < cw; ++j) {
      const float *wr = w + j * ldw + f0;
      for (int r = 0; r < R; ++r) {
        float a = col[r * cw + j];
        for (int64_t t = 0; t < nf; ++t)
          acc[r][t] += a * wr[t];
      }
    }
    for (int r = 0; r < R; ++r)
      for (int64_t t = 0; t < nf; ++t)
        y[r * ldy + f0 + t] = acc[r][t];
  }
}

/// y = col * w for `rows` rows (see smallProductRows).
void smallProduct(const float *col, int64_t rows, int64_t cw, const float *w,
                  int64_t ldw, int64_t n, float *y, int64_t ldy) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4)
    smallProductRows<4>(col + r * cw, cw, w, ldw, n, y + r * ldy, ldy);
  for (; r < rows; ++r)
    smallProductRows<1>(col + r * cw, cw, w, ldw, n, y + r * ldy, ldy);
}

/// dw[j, f] += sum_r col[r, j] * dy[r, f] for j < J, f < n: J rows of dw
/// and 16 columns at a time in registers, sums over r in order.
template <int J>
void smallFilterRows(const float *col, int64_t rows, int64_t cw,
                     const float *dy, int64_t lddy, int64_t n, float *dw,
                     int64_t lddw) {
  for (int64_t f0 = 0; f0 < n; f0 += 16) {
    int64_t nf = std::min<int64_t>(16, n - f0);
    float acc[J][16] = {};
    for (int j = 0; j < J; ++j)
      for (int64_t t = 0; t < nf; ++t)
        acc[j][t] = dw[j * lddw + f0 + t];
    if (nf == 16) {
      for (int64_t r = 0; r < rows; ++r) {
        const float *d = dy + r * lddy + f0;
        for (int j = 0; j < J; ++j) {
          float a = col[r * cw + j];
          for (int t = 0; t < 16; ++t)
            acc[j][t] += a * d[t];
        }
      }
    } else {
      for (int64_t r = 0; r < rows; ++r) {
        const float *d = dy + r * lddy + f0;
        for (int j = 0; j < J; ++j) {
          float a = col[r * cw + j];
          for (int64_t t = 0; t < nf; ++t)
            acc[j][t] += a * d[t];
        }
      }
    }
    for (int j = 0; j < J; ++j)
      for (int64_t t = 0; t < nf; ++t)
        dw[j * lddw + f0 + t] = acc[j][t];
  }
}

/// dw += col^T * dy for all cw rows of dw (see smallFilterRows).
void smallFilter(const float *col, int64_t rows, int64_t cw, const float *dy,
                 int64_t lddy, int64_t n, float *dw, int64_t lddw) {
  int64_t j = 0;
  for (; j + 4 <= cw; j += 4)
    smallFilterRows<4>(col + j, rows, cw, dy, lddy, n, dw + j * lddw, lddw);
  for (; j < cw; ++j)
    smallFilterRows<1>(col + j, rows, cw, dy, lddy, n, dw + j * lddw, lddw);
}

//===----------------------------------------------------------------------===//
// f64: direct loops
//===----------------------------------------------------------------------===//

template <typename T>
void directForward(const Conv &c, const T *x, const T *w, T *y) {
  struct Ctx {
    const Conv &c;
    const T *x, *w;
    T *y;
  } ctx{c, x, w, y};
  parallelFor(
      c.N,
      [](void *p, int64_t n) {
        Ctx &k = *static_cast<Ctx *>(p);
        const Conv &c = k.c;
        const T *xn = k.x + n * c.inPositions * c.C;
        for (int64_t o = 0; o < c.outPositions; ++o) {
          T *yo = k.y + (n * c.outPositions + o) * c.F;
          std::fill(yo, yo + c.F, T(0));
          forWindow(c, o, [&](int64_t kk, int64_t i) {
            const T *xi = xn + i * c.C;
            const T *wk = k.w + kk * c.Cg * c.F;
            for (int64_t g = 0; g < c.G; ++g)
              for (int64_t ci = 0; ci < c.Cg; ++ci) {
                T xv = xi[g * c.Cg + ci];
                const T *wr = wk + ci * c.F + g * c.Fg;
                T *yr = yo + g * c.Fg;
                for (int64_t f = 0; f < c.Fg; ++f)
                  yr[f] += xv * wr[f];
              }
          });
        }
      },
      &ctx);
}

template <typename T>
void directBackwardData(const Conv &c, const T *dy, const T *w, T *dx) {
  struct Ctx {
    const Conv &c;
    const T *dy, *w;
    T *dx;
  } ctx{c, dy, w, dx};
  parallelFor(
      c.N,
      [](void *p, int64_t n) {
        Ctx &k = *static_cast<Ctx *>(p);
        const Conv &c = k.c;
        T *dxn = k.dx + n * c.inPositions * c.C;
        std::fill(dxn, dxn + c.inPositions * c.C, T(0));
        for (int64_t o = 0; o < c.outPositions; ++o) {
          const T *dyo = k.dy + (n * c.outPositions + o) * c.F;
          forWindow(c, o, [&](int64_t kk, int64_t i) {
            T *dxi = dxn + i * c.C;
            const T *wk = k.w + kk * c.Cg * c.F;
            for (int64_t g = 0; g < c.G; ++g)
              for (int64_t ci = 0; ci < c.Cg; ++ci) {
                const T *wr = wk + ci * c.F + g * c.Fg;
                const T *dyr = dyo + g * c.Fg;
                T sum = 0;
                for (int64_t f = 0; f < c.Fg; ++f)
                  sum += dyr[f] * wr[f];
                dxi[g * c.Cg + ci] += sum;
              }
          });
        }
      },
      &ctx);
}

template <typename T>
void directBackwardFilter(const Conv &c, const T *x, const T *dy, T *dw) {
  // Items are kernel offsets: each writes its own slice dw[k, :, :].
  struct Ctx {
    const Conv &c;
    const T *x, *dy;
    T *dw;
  } ctx{c, x, dy, dw};
  parallelFor(
      c.kernelVolume,
      [](void *p, int64_t kk) {
        Ctx &k = *static_cast<Ctx *>(p);
        const Conv &c = k.c;
        T *dwk = k.dw + kk * c.Cg * c.F;
        std::fill(dwk, dwk + c.Cg * c.F, T(0));
        for (int64_t n = 0; n < c.N; ++n)
          for (int64_t o = 0; o < c.outPositions; ++o) {
            const T *dyo = k.dy + (n * c.outPositions + o) * c.F;
            forWindow(c, o, [&](int64_t k2, int64_t i) {
              if (k2 != kk)
                return;
              const T *xi = k.x + (n * c.inPositions + i) * c.C;
              for (int64_t g = 0; g < c.G; ++g)
                for (int64_t ci = 0; ci < c.Cg; ++ci) {
                  T xv = xi[g * c.Cg + ci];
                  T *dwr = dwk + ci * c.F + g * c.Fg;
                  const T *dyr = dyo + g * c.Fg;
                  for (int64_t f = 0; f < c.Fg; ++f)
                    dwr[f] += xv * dyr[f];
                }
            });
          }
      },
      &ctx);
}

//===----------------------------------------------------------------------===//
// f32: im2col + GEMM
//===----------------------------------------------------------------------===//

/// Rows (output positions) per block: the column block stays around 256 KiB
/// (L2), between 32 and 512 rows, and a problem of at least 64 rows has at
/// least two blocks, so that a small batch (batch-1 inference) still keeps
/// two threads busy. Depends only on the shapes, never on the thread count
/// (the GEMM's blocking, and so the summation order, depends on the rows).
int64_t blockRows(const Conv &c) {
  int64_t rows = (256 * 1024 / 4) / std::max<int64_t>(c.colWidth, 1);
  rows = std::clamp<int64_t>(rows, 32, 512);
  int64_t total = c.N * c.outPositions;
  if (total >= 64)
    rows = std::min(rows, (total + 1) / 2);
  return rows;
}

/// A per-thread workspace of at least `count` floats.
float *workspace(int64_t count) {
  thread_local std::vector<float> buffer;
  if (static_cast<int64_t>(buffer.size()) < count)
    buffer.resize(count);
  return buffer.data();
}

/// Calls, for each row r in [r0, r0 + rows) (row = n * outPositions + o) in
/// order, either interior(r - r0, xOffset) when the row's whole window lies
/// inside image n (xOffset: the window's first element in x, in floats from
/// x, channel 0), or border(r - r0, n, o). Rows are walked a line at a time
/// along the innermost spatial dimension, so no division per row.
template <typename Interior, typename Border>
void forEachRow(const Conv &c, int64_t r0, int64_t rows, Interior interior,
                Border border) {
  int L = c.rank - 1;
  // Output positions along L whose window lies inside [0, S_L).
  int64_t reach = c.dl[L] * (c.K[L] - 1);
  int64_t loL = (c.pl[L] + c.st[L] - 1) / c.st[L];
  int64_t hiL = c.S[L] - 1 - reach + c.pl[L] < 0
                    ? 0
                    : (c.S[L] - 1 - reach + c.pl[L]) / c.st[L] + 1;
  hiL = std::min(hiL, c.O[L]);
  int64_t stride[3] = {c.O[1] * c.O[2], c.O[2], 1};
  int64_t inStride[3] = {c.S[1] * c.S[2] * c.C, c.S[2] * c.C, c.C};
  for (int64_t r = r0, end = r0 + rows; r < end;) {
    int64_t n = r / c.outPositions, o = r % c.outPositions;
    int64_t oc[3] = {o / stride[0], o / stride[1] % c.O[1], o % c.O[2]};
    int64_t len = std::min(c.O[L] - oc[L], end - r);
    bool outerInside = true;
    int64_t base = n * c.inPositions * c.C;
    for (int d = 0; d < L; ++d) {
      int64_t b = oc[d] * c.st[d] - c.pl[d];
      outerInside =
          outerInside && b >= 0 && b + c.dl[d] * (c.K[d] - 1) < c.S[d];
      base += b * inStride[d];
    }
    for (int64_t p = oc[L]; p < oc[L] + len; ++p, ++r) {
      if (outerInside && p >= loL && p < hiL)
        interior(r - r0, base + (p * c.st[L] - c.pl[L]) * inStride[L]);
      else
        border(r - r0, n, o + (p - oc[L]) * stride[L]);
    }
  }
}

/// How a window's elements are laid out in x relative to its first element:
/// `spanOffset.size()` runs of `spanLength` contiguous floats, the s-th
/// starting `spanOffset[s]` floats after the window's first element and
/// filling col[s * spanLength, ..). A run is a whole kernel row along the
/// innermost spatial dimension (K * C floats) when groups = 1 and that
/// dimension's dilation is 1, else one kernel position (Cg floats).
struct WindowSpans {
  std::vector<int64_t> spanOffset;
  int64_t spanLength;
  explicit WindowSpans(const Conv &c) {
    int last = c.rank - 1;
    bool wholeRows = c.G == 1 && c.dl[last] == 1;
    spanLength = wholeRows ? c.K[last] * c.C : c.Cg;
    int64_t K[3] = {c.K[0], c.K[1], c.K[2]};
    if (wholeRows)
      K[last] = 1;
    for (int64_t k0 = 0; k0 < K[0]; ++k0)
      for (int64_t k1 = 0; k1 < K[1]; ++k1)
        for (int64_t k2 = 0; k2 < K[2]; ++k2)
          spanOffset.push_back(
              ((k0 * c.dl[0] * c.S[1] + k1 * c.dl[1]) * c.S[2] + k2 * c.dl[2]) *
              c.C);
  }
};

/// Copies n floats; short runs (first layers: K3 * C = 3) inline.
inline void copyFloats(float *dst, const float *src, int64_t n) {
  if (n <= 8) {
    for (int64_t i = 0; i < n; ++i)
      dst[i] = src[i];
    return;
  }
  std::memcpy(dst, src, sizeof(float) * n);
}

/// col[r - r0, kk * Cg + ci] = x[image of r, window position kk of r,
/// g * Cg + ci] (0 outside the image) for rows r in [r0, r0 + rows), where a
/// row is n * outPositions + o. Rows whose window lies inside the image copy
/// contiguous spans; the others go element by element.
void im2col(const Conv &c, const WindowSpans &ws, const float *x, int64_t g,
            int64_t r0, int64_t rows, float *col) {
  const float *xg = x + g * c.Cg;
  int64_t len = ws.spanLength, spans = ws.spanOffset.size();
  const int64_t *offsets = ws.spanOffset.data();
  forEachRow(
      c, r0, rows,
      [&](int64_t r, int64_t xOffset) {
        float *row = col + r * c.colWidth;
        const float *xw = xg + xOffset;
        for (int64_t s = 0; s < spans; ++s)
          copyFloats(row + s * len, xw + offsets[s], len);
      },
      [&](int64_t r, int64_t n, int64_t o) {
        float *row = col + r * c.colWidth;
        const float *xn = xg + n * c.inPositions * c.C;
        std::memset(row, 0, sizeof(float) * c.colWidth);
        forWindow(c, o, [&](int64_t kk, int64_t i) {
          copyFloats(row + kk * c.Cg, xn + i * c.C, c.Cg);
        });
      });
}

/// dx[image of r, window position kk of r, g * Cg + ci] += col[r - r0,
/// kk * Cg + ci].
void col2im(const Conv &c, const WindowSpans &ws, const float *col, int64_t g,
            int64_t r0, int64_t rows, float *dx) {
  float *dxg = dx + g * c.Cg;
  int64_t len = ws.spanLength, spans = ws.spanOffset.size();
  const int64_t *offsets = ws.spanOffset.data();
  forEachRow(
      c, r0, rows,
      [&](int64_t r, int64_t xOffset) {
        const float *row = col + r * c.colWidth;
        float *dw = dxg + xOffset;
        for (int64_t s = 0; s < spans; ++s) {
          float *dst = dw + offsets[s];
          const float *src = row + s * len;
          for (int64_t i = 0; i < len; ++i)
            dst[i] += src[i];
        }
      },
      [&](int64_t r, int64_t n, int64_t o) {
        const float *row = col + r * c.colWidth;
        float *dxn = dxg + n * c.inPositions * c.C;
        forWindow(c, o, [&](int64_t kk, int64_t i) {
          float *dst = dxn + i * c.C;
          const float *src = row + kk * c.Cg;
          for (int64_t ci = 0; ci < c.Cg; ++ci)
            dst[ci] += src[ci];
        });
      });
}

void gemmForward(const Conv &c, const float *x, const float *w,
                 const float *bias, float *y) {
  WindowSpans spans(c);
  struct Ctx {
    const Conv &c;
    const WindowSpans &spans;
    const float *x, *w, *bias;
    float *y;
    int64_t block, rows;
  } ctx{c, spans, x, w, bias, y, blockRows(c), c.N * c.outPositions};
  int64_t blocks = (ctx.rows + ctx.block - 1) / ctx.block;
  parallelFor(
      blocks,
      [](void *p, int64_t b) {
        Ctx &k = *static_cast<Ctx *>(p);
        const Conv &c = k.c;
        int64_t r0 = b * k.block, rows = std::min(k.block, k.rows - r0);
        float *col = c.pointwise ? nullptr : workspace(rows * c.colWidth);
        for (int64_t g = 0; g < c.G; ++g) {
          const float *a = k.x + r0 * c.C + g * c.Cg;
          int64_t lda = c.C;
          if (!c.pointwise) {
            im2col(c, k.spans, k.x, g, r0, rows, col);
            a = col;
            lda = c.colWidth;
          }
          if (c.colWidth < kMinGemmDepth && !c.pointwise) {
            float *yb = k.y + r0 * c.F + g * c.Fg;
            smallProduct(col, rows, c.colWidth, k.w + g * c.Fg, c.F, c.Fg, yb,
                         c.F);
            // Bias and activation exactly as the GEMM's (K = 0).
            if (k.bias || c.epilogue != KILN_EPILOGUE_NONE)
              kiln_gemm_f32(rows, c.Fg, 0, 0, 0, 1.0f, nullptr, 1, nullptr, c.F,
                            1.0f, yb, c.F, k.bias ? k.bias + g * c.Fg : nullptr,
                            c.epilogue);
            continue;
          }
          kiln_gemm_f32(rows, c.Fg, c.colWidth, 0, 0, 1.0f, a, lda,
                        k.w + g * c.Fg, c.F, 0.0f, k.y + r0 * c.F + g * c.Fg,
                        c.F, k.bias ? k.bias + g * c.Fg : nullptr, c.epilogue);
        }
      },
      &ctx);
}

/// For unit strides, backward data is a forward convolution of dy with the
/// flipped, transposed weights w'[k', f, c] = w[K-1-k', c, f] (per group),
/// dilation as before and pads dilation*(K-1) - pad. Returns false when that
/// form does not apply (a stride > 1, or a pad larger than the dilated
/// kernel extent).
bool transposedAsForward(const Conv &c, Conv &t) {
  t = c;
  for (int i = 0; i < 3; ++i) {
    int64_t extent = c.dl[i] * (c.K[i] - 1);
    if (c.st[i] != 1 || c.pl[i] > extent || c.ph[i] > extent)
      return false;
    t.S[i] = c.O[i];
    t.O[i] = c.S[i];
    t.pl[i] = extent - c.pl[i];
    t.ph[i] = extent - c.ph[i];
  }
  std::swap(t.C, t.F);
  std::swap(t.Cg, t.Fg);
  std::swap(t.inPositions, t.outPositions);
  t.colWidth = t.kernelVolume * t.Cg;
  t.epilogue = KILN_EPILOGUE_NONE;
  t.pointwise = c.pointwise;
  return true;
}

void gemmForward(const Conv &c, const float *x, const float *w,
                 const float *bias, float *y);

void gemmBackwardData(const Conv &c, const float *dy, const float *w,
                      float *dx) {
  // The forward form multiplies by Cg-wide weight columns; the col2im form
  // by Kvol*Cg-wide ones but scatters. Measured (bench/conv_kernels.cpp):
  // the forward form wins from about 8 input channels per group.
  // The forward form also multiplies the zero padding of dy (its im2col
  // runs over the S input positions, col2im over the O output positions),
  // so it is used only while S is at most 1.25 O ('same'-like padding; for
  // MNIST conv2, 13x13 from 11x11, the col2im form was as fast or faster).
  Conv t;
  if (c.Cg >= 8 && 4 * c.inPositions <= 5 * c.outPositions &&
      transposedAsForward(c, t)) {
    thread_local std::vector<float> flipped;
    flipped.resize(c.kernelVolume * c.Fg * c.C);
    for (int64_t k = 0; k < c.kernelVolume; ++k)
      for (int64_t g = 0; g < c.G; ++g)
        for (int64_t ci = 0; ci < c.Cg; ++ci) {
          const float *src =
              w + ((c.kernelVolume - 1 - k) * c.Cg + ci) * c.F + g * c.Fg;
          float *dst = flipped.data() + k * c.Fg * c.C + g * c.Cg + ci;
          for (int64_t f = 0; f < c.Fg; ++f)
            dst[f * c.C] = src[f];
        }
    gemmForward(t, dy, flipped.data(), nullptr, dx);
    return;
  }

  WindowSpans spans(c);
  struct Ctx {
    const Conv &c;
    const WindowSpans &spans;
    const float *dy, *w;
    float *dx;
    int64_t block;
  } ctx{c, spans, dy, w, dx, blockRows(c)};
  // Items are images: col2im of one image only writes that image's dx.
  parallelFor(
      c.N,
      [](void *p, int64_t n) {
        Ctx &k = *static_cast<Ctx *>(p);
        const Conv &c = k.c;
        float *dxn = k.dx + n * c.inPositions * c.C;
        if (!c.pointwise)
          std::memset(dxn, 0, sizeof(float) * c.inPositions * c.C);
        for (int64_t p0 = 0; p0 < c.outPositions; p0 += k.block) {
          int64_t r0 = n * c.outPositions + p0;
          int64_t rows = std::min(k.block, c.outPositions - p0);
          float *col = c.pointwise ? nullptr : workspace(rows * c.colWidth);
          for (int64_t g = 0; g < c.G; ++g) {
            const float *a = k.dy + r0 * c.F + g * c.Fg;
            const float *b = k.w + g * c.Fg;
            if (c.pointwise) {
              kiln_gemm_f32(rows, c.Cg, c.Fg, 0, 1, 1.0f, a, c.F, b, c.F, 0.0f,
                            k.dx + r0 * c.C + g * c.Cg, c.C, nullptr,
                            KILN_EPILOGUE_NONE);
              continue;
            }
            kiln_gemm_f32(rows, c.colWidth, c.Fg, 0, 1, 1.0f, a, c.F, b, c.F,
                          0.0f, col, c.colWidth, nullptr, KILN_EPILOGUE_NONE);
            col2im(c, k.spans, col, g, r0, rows, k.dx);
          }
        }
      },
      &ctx);
}

void gemmBackwardFilter(const Conv &c, const float *x, const float *dy,
                        float *dw) {
  int64_t block = blockRows(c), rows = c.N * c.outPositions;
  int64_t blocks = (rows + block - 1) / block;
  int64_t dwSize = c.colWidth * c.F;
  // Parts: at most 16, at most one per block, and their partial sums at most
  // 32 MiB. Depends only on the shapes.
  int64_t parts =
      std::min<int64_t>({16, blocks, std::max<int64_t>(1, (8 << 20) / dwSize)});
  parts = std::max<int64_t>(parts, 1);
  float *partials = nullptr;
  std::vector<float> partialStorage;
  if (parts > 1) {
    partialStorage.resize((parts - 1) * dwSize);
    partials = partialStorage.data();
  }
  WindowSpans spans(c);
  struct Ctx {
    const Conv &c;
    const WindowSpans &spans;
    const float *x, *dy;
    float *dw, *partials;
    int64_t block, rows, blocks, parts, dwSize;
  } ctx{c, spans, x, dy, dw, partials, block, rows, blocks, parts, dwSize};
  parallelFor(
      parts,
      [](void *p, int64_t part) {
        Ctx &k = *static_cast<Ctx *>(p);
        const Conv &c = k.c;
        float *out = part == 0 ? k.dw : k.partials + (part - 1) * k.dwSize;
        int64_t bBegin = part * k.blocks / k.parts;
        int64_t bEnd = (part + 1) * k.blocks / k.parts;
        if (bBegin == bEnd) {
          std::memset(out, 0, sizeof(float) * k.dwSize);
          return;
        }
        float *col = c.pointwise ? nullptr : workspace(k.block * c.colWidth);
        for (int64_t b = bBegin; b < bEnd; ++b) {
          int64_t r0 = b * k.block, rows = std::min(k.block, k.rows - r0);
          float beta = b == bBegin ? 0.0f : 1.0f;
          for (int64_t g = 0; g < c.G; ++g) {
            const float *a = k.x + r0 * c.C + g * c.Cg;
            int64_t lda = c.C;
            if (!c.pointwise) {
              im2col(c, k.spans, k.x, g, r0, rows, col);
              a = col;
              lda = c.colWidth;
            }
            if (c.colWidth < kMinGemmDepth && !c.pointwise) {
              if (b == bBegin)
                for (int64_t j = 0; j < c.colWidth; ++j)
                  std::fill(out + j * c.F + g * c.Fg,
                            out + j * c.F + (g + 1) * c.Fg, 0.0f);
              smallFilter(col, rows, c.colWidth, k.dy + r0 * c.F + g * c.Fg,
                          c.F, c.Fg, out + g * c.Fg, c.F);
              continue;
            }
            kiln_gemm_f32(c.colWidth, c.Fg, rows, 1, 0, 1.0f, a, lda,
                          k.dy + r0 * c.F + g * c.Fg, c.F, beta, out + g * c.Fg,
                          c.F, nullptr, KILN_EPILOGUE_NONE);
          }
        }
      },
      &ctx);
  if (parts == 1)
    return;
  // dw += partials in part order, in chunks of elements.
  constexpr int64_t kChunk = 4096;
  parallelFor((dwSize + kChunk - 1) / kChunk,
              [](void *p, int64_t chunk) {
                Ctx &k = *static_cast<Ctx *>(p);
                int64_t begin = chunk * kChunk,
                        end = std::min(k.dwSize, begin + kChunk);
                for (int64_t j = 1; j < k.parts; ++j) {
                  const float *src = k.partials + (j - 1) * k.dwSize;
                  for (int64_t i = begin; i < end; ++i)
                    k.dw[i] += src[i];
                }
              },
              &ctx);
}

} // namespace

//===----------------------------------------------------------------------===//
// C API
//===----------------------------------------------------------------------===//

extern "C" void kiln_conv_fwd_f32(const kiln_conv_desc_t *d, const float *x,
                                  const float *w, const float *bias, float *y) {
  Conv c = validate("kiln_conv_fwd_f32", d, true, x, w, y);
  if (c.N == 0)
    return;
  gemmForward(c, x, w, bias, y);
}

extern "C" void kiln_conv_bwd_data_f32(const kiln_conv_desc_t *d,
                                       const float *dy, const float *w,
                                       float *dx) {
  Conv c = validate("kiln_conv_bwd_data_f32", d, false, dy, w, dx);
  if (c.N == 0)
    return;
  gemmBackwardData(c, dy, w, dx);
}

extern "C" void kiln_conv_bwd_filter_f32(const kiln_conv_desc_t *d,
                                         const float *x, const float *dy,
                                         float *dw) {
  Conv c = validate("kiln_conv_bwd_filter_f32", d, false, x, dy, dw);
  if (c.N == 0) {
    if (dw)
      std::memset(dw, 0, sizeof(float) * c.colWidth * c.F);
    return;
  }
  gemmBackwardFilter(c, x, dy, dw);
}

extern "C" void kiln_conv_fwd_f64(const kiln_conv_desc_t *d, const double *x,
                                  const double *w, const double *bias,
                                  double *y) {
  Conv c = validate("kiln_conv_fwd_f64", d, true, x, w, y);
  if (c.N == 0)
    return;
  directForward(c, x, w, y);
  applyEpilogue(y, c.N * c.outPositions, c.F, bias, c.epilogue);
}

extern "C" void kiln_conv_bwd_data_f64(const kiln_conv_desc_t *d,
                                       const double *dy, const double *w,
                                       double *dx) {
  Conv c = validate("kiln_conv_bwd_data_f64", d, false, dy, w, dx);
  if (c.N == 0)
    return;
  directBackwardData(c, dy, w, dx);
}

extern "C" void kiln_conv_bwd_filter_f64(const kiln_conv_desc_t *d,
                                         const double *x, const double *dy,
                                         double *dw) {
  Conv c = validate("kiln_conv_bwd_filter_f64", d, false, x, dy, dw);
  if (c.N == 0) {
    if (dw)
      std::memset(dw, 0, sizeof(double) * c.colWidth * c.F);
    return;
  }
  directBackwardFilter(c, x, dy, dw);
}
