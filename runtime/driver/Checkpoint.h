//===- Checkpoint.h - safetensors checkpoints -------------------*- C++ -*-===//
//
// Reading and writing training checkpoints in the safetensors format
// (https://huggingface.co/docs/safetensors), so that they are readable
// outside kiln (Python `safetensors`, or by hand: an 8-byte little-endian
// header length N, N bytes of JSON, then the raw tensor bytes).
//
// The JSON header maps each tensor name to {"dtype", "shape",
// "data_offsets": [begin, end)} (offsets relative to the end of the header)
// and may hold a "__metadata__" object of string -> string entries, where
// kiln stores the step, the epoch, the RNG state and the model fingerprint.
//
// Writes are atomic: the file is written to a new, uniquely named temporary
// file in the same directory (mkstemp), flushed with fsync, renamed over the
// destination, and the directory is fsynced, so a crash (even SIGKILL) leaves
// either the old checkpoint or the new one, never a torn file.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_DRIVER_CHECKPOINT_H
#define KILN_DRIVER_CHECKPOINT_H

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace kiln::driver {

/// One tensor to write: `data` points to `nbytes` bytes, row-major.
/// `dtype` is a safetensors dtype name: "F32", "F64", "I32", "I64", "U8",
/// "BOOL". nbytes must equal product(shape) * size of dtype.
struct TensorView {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  const void *data = nullptr;
  size_t nbytes = 0;
};

/// A checkpoint read back: tensors own their bytes.
struct LoadedTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<unsigned char> bytes;
};
struct LoadedCheckpoint {
  std::map<std::string, std::string> metadata;
  std::map<std::string, LoadedTensor> tensors;
};

/// Writes `tensors` and `metadata` to `path` atomically (see above). Tensor
/// names must be unique and non-empty, and must not be "__metadata__".
/// Returns false and sets `*error` to a message naming the path (and the
/// tensor, for bad arguments) on failure; `path` is then untouched and no
/// temporary file is left behind.
bool writeCheckpoint(const std::string &path,
                     const std::map<std::string, std::string> &metadata,
                     const std::vector<TensorView> &tensors,
                     std::string *error);

/// Reads a safetensors file. Validates everything a corrupt or foreign file
/// could get wrong: file shorter than 8 bytes, header length past the end of
/// the file or above 100 MB, header not JSON or not an object, unknown
/// dtype, negative or overflowing shape, data_offsets not [begin, end) within
/// the data section or not matching product(shape) * dtype size, metadata
/// values that are not strings. Returns false with `*error` naming the path
/// and the problem.
bool readCheckpoint(const std::string &path, LoadedCheckpoint *out,
                    std::string *error);

/// Writes the concatenation of `parts` to `path` as writeCheckpoint does:
/// a new uniquely named temporary file "<path>.tmp.XXXXXX", fsync, rename,
/// fsync of the directory. Used for every file the driver writes (history
/// files, predictions). Returns false with `*error` naming the path on
/// failure; `path` is then untouched and no temporary file is left.
bool writeFileAtomically(
    const std::string &path,
    const std::vector<std::pair<const void *, size_t>> &parts,
    std::string *error);

/// `text` for an error message: whole when at most `limit` bytes, else its
/// first `limit` bytes, "..." and its length (a checkpoint's names and
/// metadata values may be megabytes long).
std::string excerpt(const std::string &text, size_t limit = 200);

/// Size in bytes of one element of a safetensors dtype, or 0 if unknown.
size_t dtypeSize(const std::string &dtype);

} // namespace kiln::driver

#endif // KILN_DRIVER_CHECKPOINT_H
