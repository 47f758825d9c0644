//===- KerasWeights.h - reading stored Keras weights (HDF5) -----*- C++ -*-===//
//
// Keras stores weights in HDF5: a Keras 3 `.keras` archive's
// `model.weights.h5` (`layers/<snake_case_class>[_N]/.../vars/<i>`), and
// the legacy Keras 2 `.h5` file (`model_config` root attribute, datasets
// `model_weights/<layer>/<weight name>` listed by the `layer_names` and
// `weight_names` attributes).
//
// The HDF5 C library (Debian's libhdf5 1.10) parses the untrusted file, and
// some corrupt files make it crash or loop (a variable-length string
// pointing at a broken global-heap entry: H5HG_read). So kiln never calls
// libhdf5 on such a file in its own process: H5File::open forks a child
// that opens the image with libhdf5 (core driver, from memory), reads
// everything the importer may ask for (the root's attributes, and under the
// requested data roots every object, every group's attributes, every
// dataset's shape and values) with every size bounded, and writes it as a
// snapshot stream (writeH5Snapshot) to a pipe, under a time limit and an
// address-space limit (setrlimit RLIMIT_AS). The parent checks the stream
// (parseH5Snapshot: every length against what is left, shapes against data
// sizes) and answers the importer's questions from it. A child that
// crashes, hangs or runs out of memory is an error naming the file; kilnc
// does not crash or hang. docs/architecture.md, "Stored weights".
//
//===----------------------------------------------------------------------===//

#ifndef KILN_FRONTEND_KERAS_KERASWEIGHTS_H
#define KILN_FRONTEND_KERAS_KERASWEIGHTS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir::kiln::keras {

/// The most bytes of an HDF5 weights file kilnc reads (4 GiB).
constexpr uint64_t kMaxWeightsFileBytes = uint64_t(4) << 30;
/// The most strings in one string attribute (layer_names, weight_names)
/// and the most bytes of all of them together; also the most bytes of all
/// string attributes of one file together.
constexpr uint64_t kMaxAttributeStrings = uint64_t(1) << 20;
constexpr uint64_t kMaxAttributeBytes = uint64_t(256) << 20;
/// The most objects (groups, datasets) listed under one data root.
constexpr uint64_t kMaxH5Objects = uint64_t(1) << 20;
/// The most bytes of dataset values one file yields (as f32/f64).
constexpr uint64_t kMaxWeightsDataBytes = uint64_t(4) << 30;

/// Limits of the child process that runs libhdf5 (H5File::open).
struct H5ReadLimits {
  /// Wall-clock seconds the child may take; 0: 5 s + 1 s per 32 MiB of
  /// file (environment KILN_HDF5_TIMEOUT, seconds, overrides the default).
  double timeoutSeconds = 0;
  /// MiB of address space the child may add to what it inherits
  /// (RLIMIT_AS); 0: 1024 MiB + 2 x the file size (environment
  /// KILN_HDF5_MEMORY_MB overrides the default).
  uint64_t memoryMiB = 0;
  /// The limits for a file of `fileBytes` bytes: the fields given, else
  /// the environment, else the defaults above.
  H5ReadLimits resolve(uint64_t fileBytes) const;
};

/// One HDF5 file as read by the isolated child (read-only, in memory; no
/// libhdf5 call after open). Paths are "a/b/c" from the root; empty
/// components are ignored. Only hard links are followed: a soft, external
/// or user-defined link makes the path not exist (a weights file must not
/// make kiln read another object or another file).
class H5File {
public:
  /// Reads the HDF5 image `bytes` in a child process: the root's string
  /// attributes, and for each group in `dataRoots` (top-level names such
  /// as "layers", "model_weights") that exists, every object under it, the
  /// attributes of its groups and the shapes and values of its float
  /// datasets. `what` names the file in messages. Errors: not HDF5, a
  /// structure libhdf5 refuses (with HDF5's innermost message), "cannot
  /// read HDF5 file <what>: the HDF5 library crashed (signal N)" / "did
  /// not finish within N s" / "needed more than N MiB of memory", or a
  /// malformed snapshot.
  static llvm::Expected<std::unique_ptr<H5File>>
  open(llvm::StringRef bytes, llvm::StringRef what,
       llvm::ArrayRef<std::string> dataRoots, H5ReadLimits limits = {});

  /// Whether `path` names an existing object reached by hard links.
  bool exists(llvm::StringRef path) const;
  /// Whether `path` exists and is a dataset.
  bool isDataset(llvm::StringRef path) const;
  /// The shape of the dataset at `path`. Errors: not a dataset (or not
  /// under a data root), not a floating-point dataset (class H5T_FLOAT),
  /// values outside the file (external storage, virtual dataset).
  llvm::Expected<llvm::SmallVector<int64_t>>
  floatShape(llvm::StringRef path) const;
  /// The floating-point dataset at `path` converted to f32 (`f64` false)
  /// or f64 into `out`, which must hold exactly its elements' bytes
  /// (f64 values above the f32 range become +-inf). Errors: size mismatch,
  /// HDF5 read errors.
  llvm::Error readFloats(llvm::StringRef path, bool f64, char *out,
                         size_t bytes) const;
  /// The value of the integer dataset with one element at `path` (e.g. the
  /// `optimizer/vars/0` iteration counter of a Keras 3 file), under a data
  /// root. Errors: not a dataset, not read, not an integer dataset with
  /// exactly one element.
  llvm::Expected<int64_t> integerScalar(llvm::StringRef path) const;
  /// The strings of the string attribute `name` of the object at `path`
  /// (the root, or a group under a data root; scalar: one string; 1-D:
  /// each element; fixed-length strings end at their first NUL).
  /// std::nullopt when there is no such attribute. Errors: not a string
  /// attribute, above kMaxAttributeStrings / kMaxAttributeBytes.
  llvm::Expected<std::optional<std::vector<std::string>>>
  stringAttribute(llvm::StringRef path, llvm::StringRef name) const;
  /// Every dataset under the data root `path` (recursively), as paths
  /// from the root. Errors: above kMaxH5Objects objects, HDF5 errors.
  llvm::Expected<std::vector<std::string>> datasets(llvm::StringRef path) const;

  /// The file described by the snapshot stream `stream` (writeH5Snapshot's
  /// output, from an untrusted child): every record and length is checked.
  /// Errors: "malformed HDF5 snapshot of <what>: ..." or the error the
  /// child recorded for the whole file.
  static llvm::Expected<std::unique_ptr<H5File>>
  parseSnapshot(std::string stream, llvm::StringRef what);

private:
  H5File() = default;
  struct Dataset {
    /// Set when the shape was read; else shapeError.
    std::optional<llvm::SmallVector<int64_t>> shape;
    std::string shapeError;
    /// 4 (values as f32) or 8 (as f64).
    unsigned elementBytes = 0;
    /// The values, in `stream`.
    std::optional<llvm::StringRef> data;
    std::string dataError;
    /// An integer dataset with one element: its value.
    std::optional<int64_t> integer;
  };
  struct Attribute {
    std::optional<std::vector<std::string>> strings;
    std::string error;
  };
  struct Listing {
    std::optional<std::vector<std::string>> names;
    std::string error;
  };
  /// The snapshot stream the values point into.
  std::string stream;
  /// Kind of each object: 0 group, 1 dataset, 2 other.
  llvm::StringMap<uint8_t> objects;
  llvm::StringMap<Dataset> datasetInfo;
  /// By "<object>\0<attribute>".
  llvm::StringMap<Attribute> attributes;
  /// Objects whose attributes could not be listed: the error.
  llvm::StringMap<std::string> attributeListErrors;
  llvm::StringMap<Listing> listings;
};

/// The child's side of H5File::open, in the calling process: opens `bytes`
/// with libhdf5 and writes the snapshot stream to `out` (an error opening
/// the file is a record of the stream). Calls libhdf5 on untrusted bytes:
/// only for a child process, or for a trusted file (tests). When the
/// values of a dataset cannot be allocated, `outOfMemory` is called (the
/// child exits), or without one the dataset's values are an error record.
void writeH5Snapshot(llvm::StringRef bytes, llvm::StringRef what,
                     llvm::ArrayRef<std::string> dataRoots,
                     llvm::raw_ostream &out, void (*outOfMemory)() = nullptr);

} // namespace mlir::kiln::keras

#endif // KILN_FRONTEND_KERAS_KERASWEIGHTS_H
