//===- Gather.cpp - gather and scatter-add kernels --------------*- C++ -*-===//
//
// kiln_gather_{f32,f64} and kiln_scatter_add_{f32,f64} (runtime.h): the
// embedding lookup and its gradient. The gathered tensor is viewed as
// [outer, V, inner] and the gathered side as [outer, count, inner], so every
// index moves one contiguous slice of `inner` elements.
//
// The gather copies slices; large copies are split into blocks of slices.
// The scatter-add accumulates in index order; with several threads each one
// owns a block of the `inner` columns, so no two threads add to the same
// element and the sums (and their rounding) do not depend on the thread
// count.
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

void validate(const char *function, const kiln_gather_desc_t *d, const void *in,
              const void *indices, const void *out) {
  if (!d)
    fatal(function, "descriptor is NULL");
  if (d->outer < 0 || d->axis_size < 0 || d->inner < 0 || d->count < 0)
    fatal(function,
          "outer = %" PRId64 ", axis_size = %" PRId64 ", inner = %" PRId64
          ", count = %" PRId64 " (need >= 0 each)",
          d->outer, d->axis_size, d->inner, d->count);
  if (d->index_bytes != 4 && d->index_bytes != 8)
    fatal(function, "index_bytes = %" PRId64 " is not 4 or 8", d->index_bytes);
  for (int64_t r : d->reserved)
    if (r != 0)
      fatal(function, "reserved fields must be 0");
  bool empty = d->outer == 0 || d->inner == 0;
  if (!out && !empty)
    fatal(function, "output pointer is NULL");
  if (!empty && d->count > 0 && (!in || !indices))
    fatal(function, "input or indices pointer is NULL");
}

/// The row of index `j` in [0, V), or -1 when it is outside [-V, V).
inline int64_t rowOf(const kiln_gather_desc_t &d, const void *indices,
                     int64_t j) {
  int64_t v = d.index_bytes == 4 ? static_cast<const int32_t *>(indices)[j]
                                 : static_cast<const int64_t *>(indices)[j];
  if (v < 0)
    v += d.axis_size;
  return v >= 0 && v < d.axis_size ? v : -1;
}

/// Bytes below which a kernel runs on the calling thread only.
constexpr int64_t kParallelBytes = 256 * 1024;

template <typename T>
void gather(const char *function, const kiln_gather_desc_t *d, const T *x,
            const void *indices, T *y) {
  validate(function, d, x, indices, y);
  int64_t slices = d->outer * d->count;
  if (slices == 0 || d->inner == 0)
    return;
  struct Ctx {
    const kiln_gather_desc_t &d;
    const T *x;
    const void *indices;
    T *y;
    int64_t perItem;
  } ctx{*d, x, indices, y, slices};
  int64_t bytes = slices * d->inner * static_cast<int64_t>(sizeof(T));
  int64_t items = 1;
  if (bytes >= kParallelBytes) {
    items = std::min<int64_t>(slices, 64);
    ctx.perItem = (slices + items - 1) / items;
    items = (slices + ctx.perItem - 1) / ctx.perItem;
  }
  parallelFor(
      items,
      [](void *p, int64_t item) {
        Ctx &k = *static_cast<Ctx *>(p);
        const kiln_gather_desc_t &d = k.d;
        int64_t begin = item * k.perItem;
        int64_t end = std::min(begin + k.perItem, d.outer * d.count);
        size_t sliceBytes = static_cast<size_t>(d.inner) * sizeof(T);
        for (int64_t s = begin; s < end; ++s) {
          int64_t o = s / d.count, j = s % d.count;
          int64_t row = rowOf(d, k.indices, j);
          T *dst = k.y + s * d.inner;
          if (row < 0)
            std::memset(dst, 0, sliceBytes);
          else
            std::memcpy(dst, k.x + (o * d.axis_size + row) * d.inner,
                        sliceBytes);
        }
      },
      &ctx);
}

/// Columns per work item of the parallel scatter-add (a multiple of every
/// vector width).
constexpr int64_t kColumnBlock = 256;

template <typename T>
void scatterAdd(const char *function, const kiln_gather_desc_t *d, const T *u,
                const void *indices, T *y) {
  validate(function, d, u, indices, y);
  if (d->outer == 0 || d->inner == 0)
    return;
  std::memset(y, 0,
              static_cast<size_t>(d->outer * d->axis_size * d->inner) *
                  sizeof(T));
  if (d->count == 0)
    return;
  struct Ctx {
    const kiln_gather_desc_t &d;
    const T *u;
    const void *indices;
    T *y;
    int64_t columnBlocks;
  } ctx{*d, u, indices, y, 1};
  int64_t bytes =
      d->outer * d->count * d->inner * static_cast<int64_t>(sizeof(T));
  if (bytes >= kParallelBytes)
    ctx.columnBlocks = (d->inner + kColumnBlock - 1) / kColumnBlock;
  parallelFor(
      d->outer * ctx.columnBlocks,
      [](void *p, int64_t item) {
        Ctx &k = *static_cast<Ctx *>(p);
        const kiln_gather_desc_t &d = k.d;
        int64_t o = item / k.columnBlocks, block = item % k.columnBlocks;
        int64_t c0 = k.columnBlocks == 1 ? 0 : block * kColumnBlock;
        int64_t c1 = k.columnBlocks == 1 ? d.inner
                                         : std::min(c0 + kColumnBlock, d.inner);
        for (int64_t j = 0; j < d.count; ++j) {
          int64_t row = rowOf(d, k.indices, j);
          if (row < 0)
            continue;
          const T *src = k.u + (o * d.count + j) * d.inner;
          T *dst = k.y + (o * d.axis_size + row) * d.inner;
          for (int64_t c = c0; c < c1; ++c)
            dst[c] += src[c];
        }
      },
      &ctx);
}

} // namespace

extern "C" {

void kiln_gather_f32(const kiln_gather_desc_t *d, const float *x,
                     const void *indices, float *y) {
  gather("kiln_gather_f32", d, x, indices, y);
}

void kiln_gather_f64(const kiln_gather_desc_t *d, const double *x,
                     const void *indices, double *y) {
  gather("kiln_gather_f64", d, x, indices, y);
}

void kiln_scatter_add_f32(const kiln_gather_desc_t *d, const float *u,
                          const void *indices, float *y) {
  scatterAdd("kiln_scatter_add_f32", d, u, indices, y);
}

void kiln_scatter_add_f64(const kiln_gather_desc_t *d, const double *u,
                          const void *indices, double *y) {
  scatterAdd("kiln_scatter_add_f64", d, u, indices, y);
}

} // extern "C"
