//===- H5Snapshot.h - the HDF5 child's snapshot stream ----------*- C++ -*-===//
//
// The stream the HDF5 child (writeH5Snapshot) writes to its parent
// (H5File::parseSnapshot). Integers are u64 little-endian; a string is its
// length (u64) then its bytes.
//
//   stream    = magic ("KILNH5S1") ( 'E' string | 'F' record* 'Z' )
//   record    = 'O' path kind(u8: 0 group, 1 dataset, 2 other)
//             | 'A' object name ( 'k' count string* | 'e' string )
//             | 'a' object 'e' string          (attributes not listed)
//             | 'S' path ( 'k' rank dim* elementBytes(4|8) | 'e' string )
//             | 'D' path ( 'k' string(values) | 'e' string )
//             | 'L' root ( 'k' count name* | 'e' string )
//             | 'I' path value(u64: an int64's bits)
//
// 'E' is the whole file's error (not HDF5, refused by libhdf5). 'S' and 'D'
// follow the 'O' of their dataset; the values are the dataset's elements
// as f32 (elementBytes 4) or f64 (8), in row-major order, native (x86-64:
// little-endian) byte order. 'I' follows the 'S' error record of an integer
// dataset with one element (a Keras optimizer's `iteration` counter).
//
//===----------------------------------------------------------------------===//

#ifndef KILN_FRONTEND_KERAS_H5SNAPSHOT_H
#define KILN_FRONTEND_KERAS_H5SNAPSHOT_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>

namespace mlir::kiln::keras::snapshot {

constexpr llvm::StringLiteral kMagic = "KILNH5S1";
constexpr char kFileError = 'E', kFileOk = 'F', kEnd = 'Z';
constexpr char kObject = 'O', kAttribute = 'A', kAttributeList = 'a',
               kShape = 'S', kData = 'D', kList = 'L', kInteger = 'I';
constexpr char kOk = 'k', kError = 'e';

inline void writeU64(llvm::raw_ostream &out, uint64_t value) {
  char bytes[8];
  llvm::support::endian::write64le(bytes, value);
  out.write(bytes, 8);
}

inline void writeString(llvm::raw_ostream &out, llvm::StringRef s) {
  writeU64(out, s.size());
  out << s;
}

} // namespace mlir::kiln::keras::snapshot

#endif // KILN_FRONTEND_KERAS_H5SNAPSHOT_H
