//===- Memory.cpp - aligned allocation and model regions --------*- C++ -*-===//
//
// kiln_aligned_alloc / kiln_aligned_free on top of posix_memalign (or
// _aligned_malloc on Windows), and kiln_regions_create / destroy, which
// allocate the four zero-filled regions (params, optimizer state, io,
// scratch) that a compiled model's entry points work in.
//
//===----------------------------------------------------------------------===//

#include "kiln/runtime.h"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(_WIN32)
#include <malloc.h>
#endif

namespace {
bool isPowerOfTwo(size_t value) {
  return value != 0 && (value & (value - 1)) == 0;
}
} // namespace

extern "C" kiln_status_t kiln_aligned_alloc(size_t size, size_t alignment,
                                            void **out_ptr) {
  if (!out_ptr)
    return KILN_ERROR_INVALID_ARGUMENT;
  *out_ptr = nullptr;
  if (alignment == 0)
    alignment = KILN_DEFAULT_ALIGNMENT;
  if (!isPowerOfTwo(alignment))
    return KILN_ERROR_INVALID_ARGUMENT;
  // posix_memalign needs a multiple of sizeof(void *); a stronger alignment
  // is still a multiple of the requested power of two.
  if (alignment < sizeof(void *))
    alignment = sizeof(void *);
  // A zero-byte request still gets a distinct pointer, so that callers can
  // treat NULL as "allocation failed" without a special case.
  if (size == 0)
    size = 1;
#if defined(_WIN32)
  void *ptr = _aligned_malloc(size, alignment);
  if (!ptr)
    return KILN_ERROR_OUT_OF_MEMORY;
#else
  void *ptr = nullptr;
  int error = posix_memalign(&ptr, alignment, size);
  if (error == EINVAL)
    return KILN_ERROR_INVALID_ARGUMENT;
  if (error != 0 || !ptr)
    return KILN_ERROR_OUT_OF_MEMORY;
#endif
  *out_ptr = ptr;
  return KILN_OK;
}

extern "C" void kiln_aligned_free(void *ptr) {
#if defined(_WIN32)
  _aligned_free(ptr);
#else
  std::free(ptr);
#endif
}

namespace {
/// Allocates one zero-filled region; on failure frees nothing (the caller
/// unwinds through kiln_regions_destroy).
kiln_status_t allocateRegion(size_t size, size_t alignment, void **outPtr) {
  kiln_status_t status = kiln_aligned_alloc(size, alignment, outPtr);
  if (status == KILN_OK)
    std::memset(*outPtr, 0, size);
  return status;
}
} // namespace

extern "C" kiln_status_t kiln_regions_create(const kiln_region_sizes_t *sizes,
                                             kiln_regions_t **out_regions) {
  if (!out_regions)
    return KILN_ERROR_INVALID_ARGUMENT;
  *out_regions = nullptr;
  if (!sizes)
    return KILN_ERROR_INVALID_ARGUMENT;
  size_t alignment =
      sizes->alignment == 0 ? size_t(KILN_DEFAULT_ALIGNMENT) : sizes->alignment;
  if (!isPowerOfTwo(alignment))
    return KILN_ERROR_INVALID_ARGUMENT;

  auto *regions = new (std::nothrow) kiln_regions_t();
  if (!regions)
    return KILN_ERROR_OUT_OF_MEMORY;
  regions->sizes = *sizes;
  regions->sizes.alignment = alignment;

  kiln_status_t status =
      allocateRegion(sizes->params_size, alignment, &regions->params);
  if (status == KILN_OK)
    status =
        allocateRegion(sizes->opt_state_size, alignment, &regions->opt_state);
  if (status == KILN_OK)
    status = allocateRegion(sizes->io_size, alignment, &regions->io);
  if (status == KILN_OK)
    status = allocateRegion(sizes->scratch_size, alignment, &regions->scratch);
  if (status != KILN_OK) {
    kiln_regions_destroy(regions);
    return status;
  }
  *out_regions = regions;
  return KILN_OK;
}

extern "C" void kiln_regions_destroy(kiln_regions_t *regions) {
  if (!regions)
    return;
  kiln_aligned_free(regions->params);
  kiln_aligned_free(regions->opt_state);
  kiln_aligned_free(regions->io);
  kiln_aligned_free(regions->scratch);
  delete regions;
}

extern "C" kiln_status_t kiln_regions_call(const kiln_regions_t *regions,
                                           const kiln_region_sizes_t *required,
                                           kiln_entry_point_t entry) {
  if (!regions || !entry)
    return KILN_ERROR_INVALID_ARGUMENT;
  if (required && (regions->sizes.params_size < required->params_size ||
                   regions->sizes.opt_state_size < required->opt_state_size ||
                   regions->sizes.io_size < required->io_size ||
                   regions->sizes.scratch_size < required->scratch_size ||
                   regions->sizes.alignment < required->alignment))
    return KILN_ERROR_INVALID_ARGUMENT;
  entry(regions->params, regions->opt_state, regions->io, regions->scratch);
  return KILN_OK;
}
