//===- data_fuzzer.cpp - the generated programs' data readers -------------===//
//
// One source, three harnesses (KILN_FUZZ_FORMAT): the readers the driver
// calls for --data/--labels files (runtime/lib/Data.cpp, kiln/data.h):
//   1 csv: kiln_csv_load; the first byte picks the options (delimiter, label
//          column by index or by name), the rest is the file;
//   2 npy: kiln_npy_load;
//   3 idx: kiln_idx_load.
// A reader must return a status for any bytes, and a loaded array must be
// consistent (nbytes = element count * element size).
//
//===----------------------------------------------------------------------===//

#include "FuzzUtil.h"
#include "kiln/data.h"

#include <cstdlib>

namespace {
void checkArray(const kiln_array_t *array) {
  if (!array)
    return;
  int64_t count = kiln_array_element_count(array);
  if (count < 0 ||
      static_cast<uint64_t>(count) * kiln_dtype_size(array->dtype) !=
          array->nbytes)
    std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char error[512];
  kiln_array_t *a = nullptr, *b = nullptr;
#if KILN_FUZZ_FORMAT == 1
  if (size < 1)
    return -1;
  uint8_t mode = data[0];
  std::string path =
      kiln_fuzz::writeScratchFile("data.csv", data + 1, size - 1);
  kiln_csv_options_t options;
  kiln_csv_options_init(&options);
  static const char delimiters[] = {',', ';', '\t', ' ', '"', '\n', 0, 'x'};
  options.delimiter = delimiters[mode & 7];
  switch ((mode >> 3) & 3) {
  case 1:
    options.label_index = (mode >> 5) - 1; // -1..6
    break;
  case 2:
    options.label_column = "label";
    break;
  case 3:
    options.label_column = "";
    break;
  default:
    break;
  }
  if (kiln_csv_load(path.c_str(), &options, &a, &b, error, sizeof error) ==
      KILN_OK) {
    checkArray(a);
    checkArray(b);
    // The features are [R, C] and the labels [R].
    if (b && (a->rank != 2 || b->rank != 1 || a->shape[0] != b->shape[0]))
      std::abort();
  } else if (a || b) {
    std::abort();
  }
#elif KILN_FUZZ_FORMAT == 2
  std::string path = kiln_fuzz::writeScratchFile("data.npy", data, size);
  if (kiln_npy_load(path.c_str(), &a, error, sizeof error) == KILN_OK)
    checkArray(a);
#elif KILN_FUZZ_FORMAT == 3
  std::string path = kiln_fuzz::writeScratchFile("data.idx", data, size);
  if (kiln_idx_load(path.c_str(), &a, error, sizeof error) == KILN_OK)
    checkArray(a);
#else
#error "KILN_FUZZ_FORMAT must be 1 (csv), 2 (npy) or 3 (idx)"
#endif
  kiln_array_destroy(a);
  kiln_array_destroy(b);
  return 0;
}
