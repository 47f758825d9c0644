//===- Pool.cpp - max and average pooling (channels-last) -------*- C++ -*-===//
//
// kiln_{max,avg}_pool_{fwd,bwd}_{f32,f64} on x: [N, S1..Sd, C] and
// y: [N, O1..Od, C]. One template for both element types. Channels-last makes
// the channel axis contiguous, so every inner loop runs over the channels and
// vectorizes (the max uses selects, not branches).
//
// Forward kernels split the work by (image, first output coordinate); the
// backward kernels scatter into dx, so they split by (image, block of
// channels) and no two items write the same element. Each output element is
// computed by one item in a fixed order, so results do not depend on the
// thread count.
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

using namespace kiln::runtime;

namespace {

using kiln::runtime::fatal;

/// Channels per work item of the backward kernels.
constexpr int64_t kChannelBlock = 64;

/// A validated kiln_pool_desc_t, unused dimensions normalized (size 1,
/// window 1, stride 1, no padding).
struct Pool {
  int64_t N, C;
  int64_t S[3], O[3], K[3], st[3], pl[3], ph[3];
  int64_t inPositions, outPositions;
  bool includePad;
};

Pool validate(const char *function, const kiln_pool_desc_t *d, const void *a,
              const void *b, const void *out) {
  if (!d)
    fatal(function, "descriptor is NULL");
  if (d->spatial_rank < 1 || d->spatial_rank > 3)
    fatal(function, "spatial_rank = %" PRId64 " is not 1, 2 or 3",
          d->spatial_rank);
  Pool p;
  p.N = d->batch;
  p.C = d->channels;
  if (p.N < 0 || p.C < 1)
    fatal(function, "batch = %" PRId64 " < 0 or channels = %" PRId64 " < 1",
          p.N, p.C);
  if (d->count_include_pad != 0 && d->count_include_pad != 1)
    fatal(function, "count_include_pad = %" PRId64 " is not 0 or 1",
          d->count_include_pad);
  p.includePad = d->count_include_pad == 1;
  for (int64_t r : d->reserved)
    if (r != 0)
      fatal(function, "reserved fields must be 0");
  for (int i = 0; i < 3; ++i) {
    if (i >= d->spatial_rank) {
      p.S[i] = p.O[i] = p.K[i] = p.st[i] = 1;
      p.pl[i] = p.ph[i] = 0;
      continue;
    }
    p.S[i] = d->in_size[i];
    p.O[i] = d->out_size[i];
    p.K[i] = d->window[i];
    p.st[i] = d->stride[i];
    p.pl[i] = d->pad_low[i];
    p.ph[i] = d->pad_high[i];
    if (p.S[i] < 1 || p.O[i] < 1 || p.K[i] < 1 || p.st[i] < 1 || p.pl[i] < 0 ||
        p.ph[i] < 0)
      fatal(function,
            "dimension %d: in_size = %" PRId64 ", out_size = %" PRId64
            ", window = %" PRId64 ", stride = %" PRId64
            " must be >= 1 and pad_low = %" PRId64 ", pad_high = %" PRId64
            " >= 0",
            i, p.S[i], p.O[i], p.K[i], p.st[i], p.pl[i], p.ph[i]);
    // Every window holds at least one element of x: the first ends after 0
    // and the last starts before S (window starts only grow).
    if (p.pl[i] >= p.K[i] || (p.O[i] - 1) * p.st[i] - p.pl[i] >= p.S[i])
      fatal(function,
            "dimension %d: a window has no element inside the input "
            "(in_size %" PRId64 ", out_size %" PRId64 ", window %" PRId64
            ", stride %" PRId64 ", pad_low %" PRId64 ")",
            i, p.S[i], p.O[i], p.K[i], p.st[i], p.pl[i]);
  }
  p.inPositions = p.S[0] * p.S[1] * p.S[2];
  p.outPositions = p.O[0] * p.O[1] * p.O[2];
  if (p.N > 0 && (!a || !b || !out))
    fatal(function, "a tensor pointer is NULL");
  return p;
}

/// The window of output position (o0, o1, o2): per dimension, the clipped
/// input range [lo, hi) and the divisor of the average.
struct Window {
  int64_t lo[3], hi[3];
  int64_t divisor;
};

Window window(const Pool &p, const int64_t o[3]) {
  Window w;
  w.divisor = 1;
  for (int i = 0; i < 3; ++i) {
    int64_t start = o[i] * p.st[i] - p.pl[i], end = start + p.K[i];
    w.lo[i] = std::max<int64_t>(start, 0);
    w.hi[i] = std::min(end, p.S[i]);
    int64_t countLo = p.includePad ? -p.pl[i] : 0;
    int64_t countHi = p.includePad ? p.S[i] + p.ph[i] : p.S[i];
    w.divisor *= std::min(end, countHi) - std::max(start, countLo);
  }
  return w;
}

/// Calls fn(inPos) for the window's input positions in row-major order.
template <typename Fn>
inline void forWindow(const Pool &p, const Window &w, Fn fn) {
  for (int64_t i0 = w.lo[0]; i0 < w.hi[0]; ++i0)
    for (int64_t i1 = w.lo[1]; i1 < w.hi[1]; ++i1)
      for (int64_t i2 = w.lo[2]; i2 < w.hi[2]; ++i2)
        fn((i0 * p.S[1] + i1) * p.S[2] + i2);
}

/// Whether `v` replaces `best` as the window's maximum: strictly greater,
/// or the first NaN.
template <typename T> inline bool takes(T v, T best) {
  return v > best || (v != v && best == best);
}

/// For each channel c < n: when x[c] is the window's maximum `best[c]` (a
/// NaN maximum: x[c] is NaN too) and `pending[c]` was not given yet, dx[c]
/// gets pending[c] (added, or stored when `store`: windows do not overlap)
/// and pending[c] becomes 0; otherwise dx[c] gets 0. Branch-free, so it
/// vectorizes.
template <bool store, typename T>
inline void routeToFirstMax(const T *__restrict x, const T *__restrict best,
                            T *__restrict pending, T *__restrict dx,
                            int64_t n) {
  for (int64_t c = 0; c < n; ++c) {
    T v = x[c], b = best[c], g = pending[c];
    bool hit = (v == b) | ((v != v) & (b != b));
    if (store)
      dx[c] = hit ? g : T(0);
    else
      dx[c] += hit ? g : T(0);
    pending[c] = hit ? T(0) : g;
  }
}

template <typename T> struct Args {
  const Pool &p;
  const T *x, *dy;
  T *out;
};

/// Forward item: image n, first output coordinate o0.
template <typename T, bool isMax>
void forwardItem(void *context, int64_t item) {
  Args<T> &a = *static_cast<Args<T> *>(context);
  const Pool &p = a.p;
  int64_t n = item / p.O[0];
  int64_t o[3] = {item % p.O[0], 0, 0};
  const T *xn = a.x + n * p.inPositions * p.C;
  for (o[1] = 0; o[1] < p.O[1]; ++o[1])
    for (o[2] = 0; o[2] < p.O[2]; ++o[2]) {
      T *y =
          a.out +
          (n * p.outPositions + (o[0] * p.O[1] + o[1]) * p.O[2] + o[2]) * p.C;
      Window w = window(p, o);
      bool first = true;
      forWindow(p, w, [&](int64_t i) {
        const T *xi = xn + i * p.C;
        if (first) {
          std::memcpy(y, xi, sizeof(T) * p.C);
          first = false;
          return;
        }
        if (isMax) {
          for (int64_t c = 0; c < p.C; ++c)
            y[c] = takes(xi[c], y[c]) ? xi[c] : y[c];
        } else {
          for (int64_t c = 0; c < p.C; ++c)
            y[c] += xi[c];
        }
      });
      if (!isMax) {
        T divisor = static_cast<T>(w.divisor);
        for (int64_t c = 0; c < p.C; ++c)
          y[c] /= divisor;
      }
    }
}

/// Backward item: image n, channels [cb * kChannelBlock, ...).
template <typename T, bool isMax>
void backwardItem(void *context, int64_t item) {
  Args<T> &a = *static_cast<Args<T> *>(context);
  const Pool &p = a.p;
  int64_t blocks = (p.C + kChannelBlock - 1) / kChannelBlock;
  int64_t n = item / blocks, c0 = item % blocks * kChannelBlock;
  int64_t nc = std::min(kChannelBlock, p.C - c0);
  T *dxn = a.out + n * p.inPositions * p.C + c0;
  // Max pooling with windows that do not overlap writes each covered dx
  // element once; only positions outside every window need the zeros.
  bool disjoint = isMax;
  bool covered = true;
  for (int d = 0; d < 3; ++d) {
    disjoint = disjoint && p.st[d] >= p.K[d];
    covered = covered && p.st[d] == p.K[d] && p.pl[d] == 0 &&
              p.O[d] * p.st[d] >= p.S[d];
  }
  if (!(disjoint && covered))
    for (int64_t i = 0; i < p.inPositions; ++i)
      std::fill(dxn + i * p.C, dxn + i * p.C + nc, T(0));
  const T *xn = isMax ? a.x + n * p.inPositions * p.C + c0 : nullptr;
  T best[kChannelBlock];
  T pending[kChannelBlock]; ///< max: dy not yet given to a position
  int64_t o[3];
  for (o[0] = 0; o[0] < p.O[0]; ++o[0])
    for (o[1] = 0; o[1] < p.O[1]; ++o[1])
      for (o[2] = 0; o[2] < p.O[2]; ++o[2]) {
        const T *dy =
            a.dy +
            (n * p.outPositions + (o[0] * p.O[1] + o[1]) * p.O[2] + o[2]) *
                p.C +
            c0;
        Window w = window(p, o);
        if (isMax) {
          // Two passes over contiguous channels (no scatter, so both
          // vectorize): the window's maximum as the forward computes it,
          // then dy goes to the first position holding it (for a NaN
          // maximum, the first NaN): the forward's argmax.
          bool first = true;
          forWindow(p, w, [&](int64_t i) {
            const T *xi = xn + i * p.C;
            if (first) {
              std::memcpy(best, xi, sizeof(T) * nc);
              first = false;
              return;
            }
            for (int64_t c = 0; c < nc; ++c)
              best[c] = takes(xi[c], best[c]) ? xi[c] : best[c];
          });
          for (int64_t c = 0; c < nc; ++c)
            pending[c] = dy[c];
          forWindow(p, w, [&](int64_t i) {
            if (disjoint)
              routeToFirstMax<true>(xn + i * p.C, best, pending, dxn + i * p.C,
                                    nc);
            else
              routeToFirstMax<false>(xn + i * p.C, best, pending, dxn + i * p.C,
                                     nc);
          });
        } else {
          T divisor = static_cast<T>(w.divisor);
          for (int64_t c = 0; c < nc; ++c)
            best[c] = dy[c] / divisor;
          forWindow(p, w, [&](int64_t i) {
            T *dxi = dxn + i * p.C;
            for (int64_t c = 0; c < nc; ++c)
              dxi[c] += best[c];
          });
        }
      }
}

template <typename T, bool isMax>
void forward(const char *function, const kiln_pool_desc_t *d, const T *x,
             T *y) {
  Pool p = validate(function, d, x, x, y);
  Args<T> args{p, x, nullptr, y};
  parallelFor(p.N * p.O[0], forwardItem<T, isMax>, &args);
}

template <typename T, bool isMax>
void backward(const char *function, const kiln_pool_desc_t *d, const T *x,
              const T *dy, T *dx) {
  Pool p = validate(function, d, isMax ? x : dy, dy, dx);
  Args<T> args{p, x, dy, dx};
  parallelFor(p.N * ((p.C + kChannelBlock - 1) / kChannelBlock),
              backwardItem<T, isMax>, &args);
}

} // namespace

extern "C" void kiln_max_pool_fwd_f32(const kiln_pool_desc_t *d, const float *x,
                                      float *y) {
  forward<float, true>("kiln_max_pool_fwd_f32", d, x, y);
}
extern "C" void kiln_max_pool_bwd_f32(const kiln_pool_desc_t *d, const float *x,
                                      const float *dy, float *dx) {
  backward<float, true>("kiln_max_pool_bwd_f32", d, x, dy, dx);
}
extern "C" void kiln_avg_pool_fwd_f32(const kiln_pool_desc_t *d, const float *x,
                                      float *y) {
  forward<float, false>("kiln_avg_pool_fwd_f32", d, x, y);
}
extern "C" void kiln_avg_pool_bwd_f32(const kiln_pool_desc_t *d,
                                      const float *dy, float *dx) {
  backward<float, false>("kiln_avg_pool_bwd_f32", d, nullptr, dy, dx);
}
extern "C" void kiln_max_pool_fwd_f64(const kiln_pool_desc_t *d,
                                      const double *x, double *y) {
  forward<double, true>("kiln_max_pool_fwd_f64", d, x, y);
}
extern "C" void kiln_max_pool_bwd_f64(const kiln_pool_desc_t *d,
                                      const double *x, const double *dy,
                                      double *dx) {
  backward<double, true>("kiln_max_pool_bwd_f64", d, x, dy, dx);
}
extern "C" void kiln_avg_pool_fwd_f64(const kiln_pool_desc_t *d,
                                      const double *x, double *y) {
  forward<double, false>("kiln_avg_pool_fwd_f64", d, x, y);
}
extern "C" void kiln_avg_pool_bwd_f64(const kiln_pool_desc_t *d,
                                      const double *dy, double *dx) {
  backward<double, false>("kiln_avg_pool_bwd_f64", d, nullptr, dy, dx);
}
