//===- KerasWeights.h - reading stored Keras weights (HDF5) -----*- C++ -*-===//
//
// Keras stores weights in HDF5: a Keras 3 `.keras` archive's
// `model.weights.h5` (`layers/<snake_case_class>[_N]/.../vars/<i>`), and
// the legacy Keras 2 `.h5` file (`model_config` root attribute, datasets
// `model_weights/<layer>/<weight name>` listed by the `layer_names` and
// `weight_names` attributes). H5File opens such a file from memory with the
// HDF5 C library (core driver over a file image) and reads datasets and
// string attributes with every size bounded: the file is untrusted input.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_FRONTEND_KERAS_KERASWEIGHTS_H
#define KILN_FRONTEND_KERAS_KERASWEIGHTS_H

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir::kiln::keras {

/// The most bytes of an HDF5 weights file kilnc reads (4 GiB).
constexpr uint64_t kMaxWeightsFileBytes = uint64_t(4) << 30;
/// The most strings in one string attribute (layer_names, weight_names)
/// and the most bytes of all of them together.
constexpr uint64_t kMaxAttributeStrings = uint64_t(1) << 20;
constexpr uint64_t kMaxAttributeBytes = uint64_t(256) << 20;
/// The most objects (groups, datasets) H5File::datasets visits.
constexpr uint64_t kMaxH5Objects = uint64_t(1) << 20;

/// An HDF5 file read from memory (read-only). Not thread-safe: the HDF5
/// library is built without its thread-safe option on Debian.
class H5File {
public:
  /// Opens the HDF5 image `bytes` (kept alive by the object). `what` names
  /// the file in messages. Errors: not HDF5, or a structure the library
  /// refuses; the message carries HDF5's innermost error.
  static llvm::Expected<std::unique_ptr<H5File>> open(std::string bytes,
                                                      llvm::StringRef what);
  ~H5File();
  H5File(const H5File &) = delete;
  H5File &operator=(const H5File &) = delete;

  /// Whether `path` ("a/b/c", from the root) names an existing object.
  /// Each component is checked in turn, so a missing parent is false.
  bool exists(llvm::StringRef path) const;
  /// Whether `path` exists and is a dataset.
  bool isDataset(llvm::StringRef path) const;
  /// The shape of the dataset at `path`. Errors: not a dataset, not a
  /// floating-point dataset (class H5T_FLOAT), a rank above 32.
  llvm::Expected<llvm::SmallVector<int64_t>>
  floatShape(llvm::StringRef path) const;
  /// Reads the floating-point dataset at `path` converted to f32
  /// (`f64` false) or f64 into `out`, which must hold exactly its
  /// elements' bytes. Errors: size mismatch, HDF5 read errors.
  llvm::Error readFloats(llvm::StringRef path, bool f64, char *out,
                         size_t bytes) const;
  /// The strings of the string attribute `name` of the object at `path`
  /// (scalar: one string; 1-D: each element; fixed-length strings end at
  /// their first NUL). std::nullopt when there is no such attribute.
  /// Errors: not a string attribute, above kMaxAttributeStrings /
  /// kMaxAttributeBytes.
  llvm::Expected<std::optional<std::vector<std::string>>>
  stringAttribute(llvm::StringRef path, llvm::StringRef name) const;
  /// Every dataset under the group `path` (recursively), as paths from
  /// the root. Errors: above kMaxH5Objects objects.
  llvm::Expected<std::vector<std::string>> datasets(llvm::StringRef path) const;

private:
  H5File() = default;
  std::string bytes;
  std::string what;
  int64_t file = -1; // hid_t
};

/// The text of HDF5's innermost error on the default error stack, cleared
/// (empty when none).
std::string takeH5ErrorMessage();

} // namespace mlir::kiln::keras

#endif // KILN_FRONTEND_KERAS_KERASWEIGHTS_H
