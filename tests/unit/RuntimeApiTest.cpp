//===- RuntimeApiTest.cpp - tests of the runtime's support API ------------===//
//
// Status messages, the thread-count setting, aligned allocation and model
// regions of kiln/runtime.h.
//
//===----------------------------------------------------------------------===//

#include "kiln/runtime.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

// Values outside the enums, passed from C (EnumOutOfRange.c).
extern "C" const char *kiln_test_status_message(int code);
extern "C" const char *kiln_test_region_name(int code);

namespace {

const kiln_status_t kStatuses[] = {KILN_OK,
                                   KILN_ERROR_INVALID_ARGUMENT,
                                   KILN_ERROR_OUT_OF_MEMORY,
                                   KILN_ERROR_IO,
                                   KILN_ERROR_FORMAT,
                                   KILN_ERROR_UNIMPLEMENTED,
                                   KILN_ERROR_INTERNAL};

bool isAligned(const void *ptr, size_t alignment) {
  return reinterpret_cast<uintptr_t>(ptr) % alignment == 0;
}

//===----------------------------------------------------------------------===//
// Status
//===----------------------------------------------------------------------===//

// Tests that every status has its own non-empty message and that unknown
// values still get a string.
TEST(RuntimeStatusTest, EveryStatusHasADistinctMessage) {
  std::set<std::string> messages;
  for (kiln_status_t status : kStatuses) {
    const char *message = kiln_status_message(status);
    ASSERT_NE(message, nullptr) << status;
    EXPECT_GT(std::strlen(message), 0u) << status;
    messages.insert(message);
  }
  EXPECT_EQ(messages.size(), sizeof(kStatuses) / sizeof(kStatuses[0]));
  EXPECT_STREQ(kiln_status_message(KILN_OK), "success");
  EXPECT_STREQ(kiln_test_status_message(-3), "unknown status code");
}

//===----------------------------------------------------------------------===//
// Threads
//===----------------------------------------------------------------------===//

// Tests that the thread count can be set, is clamped, and resets to a
// positive default.
TEST(RuntimeThreadsTest, SetAndGetNumThreads) {
  int saved = kiln_get_num_threads();
  EXPECT_GE(saved, 1);
  kiln_set_num_threads(3);
  EXPECT_EQ(kiln_get_num_threads(), 3);
  kiln_set_num_threads(KILN_MAX_THREADS + 100);
  EXPECT_EQ(kiln_get_num_threads(), KILN_MAX_THREADS);
  kiln_set_num_threads(0);
  EXPECT_GE(kiln_get_num_threads(), 1);
  EXPECT_LE(kiln_get_num_threads(), KILN_MAX_THREADS);
  kiln_set_num_threads(saved);
  EXPECT_EQ(kiln_get_num_threads(), saved);
}

//===----------------------------------------------------------------------===//
// Aligned allocation
//===----------------------------------------------------------------------===//

// Tests that allocations honour alignments from 1 byte to a page and are
// writable over their whole size.
TEST(RuntimeMemoryTest, AlignedAllocHonoursAlignment) {
  for (size_t alignment = 1; alignment <= 4096; alignment *= 2) {
    for (size_t size : {size_t(1), size_t(100), size_t(1) << 20}) {
      void *ptr = reinterpret_cast<void *>(uintptr_t(1));
      ASSERT_EQ(kiln_aligned_alloc(size, alignment, &ptr), KILN_OK);
      ASSERT_NE(ptr, nullptr);
      EXPECT_TRUE(isAligned(ptr, alignment))
          << ptr << " alignment " << alignment;
      std::memset(ptr, 0x5a, size);
      kiln_aligned_free(ptr);
    }
  }
  void *ptr = nullptr;
  ASSERT_EQ(kiln_aligned_alloc(10, 0, &ptr), KILN_OK);
  EXPECT_TRUE(isAligned(ptr, KILN_DEFAULT_ALIGNMENT));
  kiln_aligned_free(ptr);
}

// Tests that a zero-byte request yields distinct non-NULL pointers.
TEST(RuntimeMemoryTest, ZeroSizeGivesUniquePointers) {
  void *first = nullptr, *second = nullptr;
  ASSERT_EQ(kiln_aligned_alloc(0, 64, &first), KILN_OK);
  ASSERT_EQ(kiln_aligned_alloc(0, 64, &second), KILN_OK);
  EXPECT_NE(first, nullptr);
  EXPECT_NE(first, second);
  kiln_aligned_free(first);
  kiln_aligned_free(second);
  kiln_aligned_free(nullptr);
}

// Tests the error statuses, and that *out_ptr is cleared on error.
TEST(RuntimeMemoryTest, AlignedAllocRejectsBadArguments) {
  void *ptr = reinterpret_cast<void *>(uintptr_t(1));
  EXPECT_EQ(kiln_aligned_alloc(16, 48, &ptr), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ptr, nullptr);
  EXPECT_EQ(kiln_aligned_alloc(16, 64, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  ptr = reinterpret_cast<void *>(uintptr_t(1));
  EXPECT_EQ(kiln_aligned_alloc(SIZE_MAX - 4096, 64, &ptr),
            KILN_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(ptr, nullptr);
}

//===----------------------------------------------------------------------===//
// Regions
//===----------------------------------------------------------------------===//

bool allZero(const void *ptr, size_t size) {
  const auto *bytes = static_cast<const unsigned char *>(ptr);
  for (size_t i = 0; i < size; ++i)
    if (bytes[i] != 0)
      return false;
  return true;
}

// Tests that regions have the requested sizes and alignment and are zeroed,
// even when the allocator hands back memory that was just dirtied.
TEST(RuntimeRegionsTest, CreateGivesAlignedZeroedRegions) {
  kiln_region_sizes_t sizes = {};
  sizes.params_size = 100000;
  sizes.opt_state_size = 200000;
  sizes.io_size = 3000;
  sizes.scratch_size = 50000;
  sizes.alignment = 128;
  // Dirty blocks of the same sizes first so that the allocator is likely to
  // reuse non-zero memory.
  for (size_t size : {sizes.params_size, sizes.opt_state_size, sizes.io_size,
                      sizes.scratch_size}) {
    void *ptr = nullptr;
    ASSERT_EQ(kiln_aligned_alloc(size, 128, &ptr), KILN_OK);
    std::memset(ptr, 0xab, size);
    kiln_aligned_free(ptr);
  }

  kiln_regions_t *regions = nullptr;
  ASSERT_EQ(kiln_regions_create(&sizes, &regions), KILN_OK);
  ASSERT_NE(regions, nullptr);
  EXPECT_EQ(regions->sizes.params_size, sizes.params_size);
  EXPECT_EQ(regions->sizes.opt_state_size, sizes.opt_state_size);
  EXPECT_EQ(regions->sizes.io_size, sizes.io_size);
  EXPECT_EQ(regions->sizes.scratch_size, sizes.scratch_size);
  EXPECT_EQ(regions->sizes.alignment, 128u);
  struct {
    void *ptr;
    size_t size;
  } all[] = {{regions->params, sizes.params_size},
             {regions->opt_state, sizes.opt_state_size},
             {regions->io, sizes.io_size},
             {regions->scratch, sizes.scratch_size}};
  for (const auto &region : all) {
    ASSERT_NE(region.ptr, nullptr);
    EXPECT_TRUE(isAligned(region.ptr, 128));
    EXPECT_TRUE(allZero(region.ptr, region.size));
    std::memset(region.ptr, 1, region.size); // writable to the end
  }
  kiln_regions_destroy(regions);
  kiln_regions_destroy(nullptr);
}

// Tests that empty regions still get distinct non-NULL pointers and that
// alignment 0 selects the default.
TEST(RuntimeRegionsTest, EmptyRegionsAndDefaultAlignment) {
  kiln_region_sizes_t sizes = {};
  kiln_regions_t *regions = nullptr;
  ASSERT_EQ(kiln_regions_create(&sizes, &regions), KILN_OK);
  EXPECT_EQ(regions->sizes.alignment, size_t(KILN_DEFAULT_ALIGNMENT));
  std::set<void *> pointers = {regions->params, regions->opt_state, regions->io,
                               regions->scratch};
  EXPECT_EQ(pointers.size(), 4u);
  EXPECT_EQ(pointers.count(nullptr), 0u);
  for (void *ptr : pointers)
    EXPECT_TRUE(isAligned(ptr, KILN_DEFAULT_ALIGNMENT));
  kiln_regions_destroy(regions);
}

// Tests the error statuses of kiln_regions_create, including a failing
// allocation after successful ones (nothing leaks; checked under ASan).
TEST(RuntimeRegionsTest, CreateRejectsBadArguments) {
  kiln_region_sizes_t sizes = {};
  kiln_regions_t *regions = reinterpret_cast<kiln_regions_t *>(uintptr_t(1));
  EXPECT_EQ(kiln_regions_create(nullptr, &regions),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(regions, nullptr);
  EXPECT_EQ(kiln_regions_create(&sizes, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  sizes.alignment = 24;
  EXPECT_EQ(kiln_regions_create(&sizes, &regions), KILN_ERROR_INVALID_ARGUMENT);
  sizes.alignment = 64;
  sizes.params_size = 1024;
  sizes.scratch_size = SIZE_MAX - 4096;
  regions = reinterpret_cast<kiln_regions_t *>(uintptr_t(1));
  EXPECT_EQ(kiln_regions_create(&sizes, &regions), KILN_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(regions, nullptr);
}

} // namespace

namespace {
/// A stand-in entry point: records the regions it was given and writes a
/// value into io.
void *seenParams, *seenState, *seenIo, *seenScratch;
void recordingEntry(void *params, void *optState, void *io, void *scratch) {
  seenParams = params;
  seenState = optState;
  seenIo = io;
  seenScratch = scratch;
  static_cast<float *>(io)[0] = 42.0f;
}
} // namespace

TEST(RuntimeRegionsTest, CallPassesTheRegionsAndChecksSizes) {
  kiln_region_sizes_t sizes = {};
  sizes.params_size = 64;
  sizes.io_size = 64;
  sizes.scratch_size = 128;
  kiln_regions_t *regions = nullptr;
  ASSERT_EQ(kiln_regions_create(&sizes, &regions), KILN_OK);
  EXPECT_EQ(kiln_regions_call(regions, &sizes, recordingEntry), KILN_OK);
  EXPECT_EQ(seenParams, regions->params);
  EXPECT_EQ(seenState, regions->opt_state);
  EXPECT_EQ(seenIo, regions->io);
  EXPECT_EQ(seenScratch, regions->scratch);
  EXPECT_EQ(static_cast<float *>(regions->io)[0], 42.0f);

  // A model needing a larger scratch arena than allocated is refused.
  kiln_region_sizes_t tooLarge = sizes;
  tooLarge.scratch_size = 256;
  seenIo = nullptr;
  EXPECT_EQ(kiln_regions_call(regions, &tooLarge, recordingEntry),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(seenIo, nullptr);
  // Regions aligned to fewer bytes than the model declares are refused
  // (the generated code assumes its *_ALIGNMENT); a requirement of 0 is
  // none.
  kiln_region_sizes_t aligned64 = sizes, aligned16 = sizes;
  aligned64.alignment = 64;
  aligned16.alignment = 16;
  kiln_regions_t *loose = nullptr;
  ASSERT_EQ(kiln_regions_create(&aligned16, &loose), KILN_OK);
  EXPECT_EQ(kiln_regions_call(loose, &aligned64, recordingEntry),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(seenIo, nullptr);
  EXPECT_EQ(kiln_regions_call(loose, &aligned16, recordingEntry), KILN_OK);
  EXPECT_EQ(kiln_regions_call(loose, &sizes, recordingEntry), KILN_OK);
  kiln_regions_destroy(loose);
  EXPECT_EQ(kiln_regions_call(regions, &aligned64, recordingEntry), KILN_OK);
  EXPECT_EQ(kiln_regions_call(nullptr, &sizes, recordingEntry),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_regions_call(regions, &sizes, nullptr),
            KILN_ERROR_INVALID_ARGUMENT);
  kiln_regions_destroy(regions);
}

//===----------------------------------------------------------------------===//
// Regions and tensor kinds
//===----------------------------------------------------------------------===//

TEST(RuntimeRegions, NamesRoundTrip) {
  const char *expected[KILN_REGION_COUNT] = {"params", "opt_state", "io",
                                             "scratch"};
  for (int r = 0; r < KILN_REGION_COUNT; ++r) {
    const char *name = kiln_region_name(static_cast<kiln_region_t>(r));
    ASSERT_NE(name, nullptr);
    EXPECT_STREQ(name, expected[r]);
    kiln_region_t parsed = KILN_REGION_SCRATCH;
    EXPECT_EQ(kiln_region_from_name(name, &parsed), 1);
    EXPECT_EQ(parsed, static_cast<kiln_region_t>(r));
  }
  EXPECT_EQ(kiln_test_region_name(KILN_REGION_COUNT), nullptr);
}

TEST(RuntimeRegions, UnknownNamesAreRejected) {
  kiln_region_t region = KILN_REGION_IO;
  for (const char *name : {"", "param", "paramsx", "PARAMS", "opt"})
    EXPECT_EQ(kiln_region_from_name(name, &region), 0) << name;
  EXPECT_EQ(kiln_region_from_name(nullptr, &region), 0);
  EXPECT_EQ(region, KILN_REGION_IO); // untouched on failure
  kiln_tensor_kind_t kind = KILN_TENSOR_INPUT;
  for (const char *name : {"", "params", "states", "inputs", "Output"})
    EXPECT_EQ(kiln_tensor_kind_from_name(name, &kind), 0) << name;
  EXPECT_EQ(kind, KILN_TENSOR_INPUT);
}

TEST(RuntimeRegions, KindsRoundTripAndLiveInTheirRegion) {
  struct {
    kiln_tensor_kind_t kind;
    const char *name;
    kiln_region_t region;
  } cases[] = {{KILN_TENSOR_PARAM, "param", KILN_REGION_PARAMS},
               {KILN_TENSOR_STATE, "state", KILN_REGION_PARAMS},
               {KILN_TENSOR_OPT_STATE, "opt_state", KILN_REGION_OPT_STATE},
               {KILN_TENSOR_INPUT, "input", KILN_REGION_IO},
               {KILN_TENSOR_OUTPUT, "output", KILN_REGION_IO}};
  static_assert(sizeof(cases) / sizeof(cases[0]) == KILN_TENSOR_KIND_COUNT,
                "one case per kind");
  for (const auto &c : cases) {
    EXPECT_STREQ(kiln_tensor_kind_name(c.kind), c.name);
    kiln_tensor_kind_t parsed = KILN_TENSOR_OUTPUT;
    EXPECT_EQ(kiln_tensor_kind_from_name(c.name, &parsed), 1);
    EXPECT_EQ(parsed, c.kind);
    EXPECT_EQ(kiln_tensor_kind_region(c.kind), c.region) << c.name;
  }
}
