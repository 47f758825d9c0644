//===- KerasWeights.cpp - the HDF5 reader of the isolated child
//------------===//
//
// The code that calls libhdf5 on an untrusted weights file: it runs in the
// child process H5File::open forks (H5Snapshot.cpp), or in a test on a
// trusted file. H5Reader is a thin bounded layer over the HDF5 C API;
// writeH5Snapshot walks what the importer may need and writes the snapshot
// stream (format in H5Snapshot.h).
//
//===----------------------------------------------------------------------===//

#include "frontend/keras/KerasWeights.h"
#include "frontend/keras/H5Snapshot.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Twine.h"

#include <hdf5.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

using namespace mlir::kiln::keras;
namespace snap = mlir::kiln::keras::snapshot;

namespace {
llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// HDF5 prints its error stack to stderr unless told not to; the messages
/// are taken with takeH5ErrorMessage instead.
void quietHdf5() {
  static bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

herr_t firstError(unsigned n, const H5E_error2_t *e, void *data) {
  auto *out = static_cast<std::string *>(data);
  if (n == 0 && e && e->desc)
    *out = e->desc;
  return 0;
}

/// The text of HDF5's innermost error on the default error stack, cleared
/// (empty when none).
std::string takeH5ErrorMessage() {
  std::string message;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, firstError, &message);
  H5Eclear2(H5E_DEFAULT);
  return message;
}

std::string withH5Error(const llvm::Twine &message) {
  std::string detail = takeH5ErrorMessage();
  return detail.empty() ? message.str()
                        : (message + " (HDF5: " + detail + ")").str();
}

/// Closes an HDF5 identifier with `close` when it goes out of scope.
struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Handle() {
    if (id >= 0)
      close(id);
  }
  operator hid_t() const { return id; }
};

/// A float dataset's shape and the size of the values as read (4: as f32,
/// for stored floats of up to 4 bytes; 8: as f64).
struct FloatShape {
  llvm::SmallVector<int64_t> dims;
  unsigned elementBytes;
};

/// An HDF5 image opened with libhdf5 (core driver, read-only).
class H5Reader {
public:
  static llvm::Expected<std::unique_ptr<H5Reader>> open(llvm::StringRef bytes,
                                                        llvm::StringRef what);
  ~H5Reader() {
    if (file >= 0)
      H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
  }
  bool exists(llvm::StringRef path) const;
  /// 0 group, 1 dataset, 2 other (after exists).
  uint8_t kind(llvm::StringRef path) const;
  llvm::Expected<FloatShape> floatShape(llvm::StringRef path) const;
  /// The value of an integer dataset with one element (a rank-0 counter
  /// such as a Keras optimizer's `iteration`), read as int64; std::nullopt
  /// for any other dataset or when libhdf5 cannot read it.
  std::optional<int64_t> integerScalar(llvm::StringRef path) const;
  llvm::Error read(llvm::StringRef path, unsigned elementBytes, char *out,
                   size_t bytes) const;
  llvm::Expected<std::vector<std::string>>
  attributeNames(llvm::StringRef path) const;
  /// `budget`: bytes of strings left for the whole file (decreased).
  llvm::Expected<std::vector<std::string>>
  stringAttribute(llvm::StringRef path, llvm::StringRef name,
                  uint64_t &budget) const;
  llvm::Expected<std::vector<std::string>> list(llvm::StringRef path) const;

private:
  H5Reader() = default;
  int64_t file = -1; // hid_t
};
} // namespace

llvm::Expected<std::unique_ptr<H5Reader>> H5Reader::open(llvm::StringRef bytes,
                                                         llvm::StringRef what) {
  quietHdf5();
  if (bytes.size() > kMaxWeightsFileBytes)
    return error(what + " is " + llvm::Twine(bytes.size()) +
                 " bytes, above the limit of " +
                 llvm::Twine(kMaxWeightsFileBytes) + " bytes");
  // The HDF5 signature sits at byte 0 (or 512, 1024, ... after a user
  // block); HDF5 checks it again, this gives the plain message.
  static const char signature[] = "\x89HDF\r\n\x1a\n";
  bool found = false;
  for (size_t at = 0; at + 8 <= bytes.size() && !found; at = at ? at * 2 : 512)
    found = std::memcmp(bytes.data() + at, signature, 8) == 0;
  if (!found)
    return error(what + " is not an HDF5 file (no HDF5 signature)");
  std::unique_ptr<H5Reader> reader(new H5Reader());
  Handle fapl{H5Pcreate(H5P_FILE_ACCESS), H5Pclose};
  // H5Pset_file_image copies the image.
  if (fapl < 0 || H5Pset_fapl_core(fapl, 1 << 20, /*backing_store=*/0) < 0 ||
      H5Pset_file_image(fapl, const_cast<char *>(bytes.data()), bytes.size()) <
          0)
    return error(withH5Error("cannot set up HDF5 to read " + what));
  // The name is not opened: the core driver reads the image given above.
  reader->file = H5Fopen("kiln-weights.h5", H5F_ACC_RDONLY, fapl);
  if (reader->file < 0)
    return error(withH5Error("cannot read " + what + " as HDF5"));
  return reader;
}

bool H5Reader::exists(llvm::StringRef path) const {
  if (path.empty() || path == "/")
    return true;
  std::string prefix;
  llvm::SmallVector<llvm::StringRef> parts;
  path.split(parts, '/', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef part : parts) {
    if (!prefix.empty())
      prefix += "/";
    prefix += part.str();
    // Only hard links: a soft or external link (or a user-defined one)
    // would make a weights file read another object or another file on
    // this machine (an external link to /etc/passwd, a FIFO that blocks).
    // H5Lget_info does not traverse the link; H5Oexists_by_name would.
    H5L_info_t link;
    if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0 ||
        H5Lget_info(file, prefix.c_str(), &link, H5P_DEFAULT) < 0 ||
        link.type != H5L_TYPE_HARD ||
        H5Oexists_by_name(file, prefix.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
  }
  return true;
}

uint8_t H5Reader::kind(llvm::StringRef path) const {
  H5O_info_t info;
  std::string name = path.empty() ? "/" : path.str();
  uint8_t k = 2;
  if (H5Oget_info_by_name(file, name.c_str(), &info, H5P_DEFAULT) >= 0)
    k = info.type == H5O_TYPE_GROUP ? 0 : info.type == H5O_TYPE_DATASET ? 1 : 2;
  H5Eclear2(H5E_DEFAULT);
  return k;
}

llvm::Expected<FloatShape> H5Reader::floatShape(llvm::StringRef path) const {
  Handle dataset{H5Dopen2(file, path.str().c_str(), H5P_DEFAULT), H5Dclose};
  if (dataset < 0)
    return error(withH5Error("cannot open '" + path + "'"));
  // The values must be inside the file: external raw storage and virtual
  // datasets name other files, which a model file must not make kiln read.
  Handle creation{H5Dget_create_plist(dataset), H5Pclose};
  if (creation < 0 || H5Pget_layout(creation) == H5D_VIRTUAL ||
      H5Pget_external_count(creation) != 0)
    return error("'" + path +
                 "' keeps its values outside the file (external storage or "
                 "a virtual dataset); kiln reads only values stored in the "
                 "weights file itself");
  Handle type{H5Dget_type(dataset), H5Tclose};
  if (type < 0 || H5Tget_class(type) != H5T_FLOAT)
    return error("'" + path +
                 "' is not a floating-point dataset (kiln reads float16, "
                 "float32 and float64 weights)");
  Handle space{H5Dget_space(dataset), H5Sclose};
  int rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
  if (rank < 0 || rank > H5S_MAX_RANK)
    return error(withH5Error("cannot read the shape of '" + path + "'"));
  hsize_t dims[H5S_MAX_RANK];
  if (H5Sget_simple_extent_dims(space, dims, nullptr) < 0)
    return error(withH5Error("cannot read the shape of '" + path + "'"));
  FloatShape shape;
  for (int i = 0; i < rank; ++i) {
    if (dims[i] > uint64_t(INT64_MAX))
      return error("'" + path + "' has a dimension above 2^63");
    shape.dims.push_back(static_cast<int64_t>(dims[i]));
  }
  shape.elementBytes = H5Tget_size(type) > 4 ? 8 : 4;
  return shape;
}

std::optional<int64_t> H5Reader::integerScalar(llvm::StringRef path) const {
  Handle dataset{H5Dopen2(file, path.str().c_str(), H5P_DEFAULT), H5Dclose};
  if (dataset < 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  Handle creation{H5Dget_create_plist(dataset), H5Pclose};
  Handle type{H5Dget_type(dataset), H5Tclose};
  Handle space{H5Dget_space(dataset), H5Sclose};
  int64_t value = 0;
  bool ok = creation >= 0 && H5Pget_layout(creation) != H5D_VIRTUAL &&
            H5Pget_external_count(creation) == 0 && type >= 0 &&
            H5Tget_class(type) == H5T_INTEGER && space >= 0 &&
            H5Sget_simple_extent_npoints(space) == 1 &&
            H5Dread(dataset, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                    &value) >= 0;
  H5Eclear2(H5E_DEFAULT);
  return ok ? std::optional<int64_t>(value) : std::nullopt;
}

llvm::Error H5Reader::read(llvm::StringRef path, unsigned elementBytes,
                           char *out, size_t bytes) const {
  if (bytes == 0)
    return llvm::Error::success();
  Handle dataset{H5Dopen2(file, path.str().c_str(), H5P_DEFAULT), H5Dclose};
  Handle space{dataset < 0 ? -1 : H5Dget_space(dataset), H5Sclose};
  hssize_t points = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
  if (points < 0 || uint64_t(points) * elementBytes != bytes)
    return error(withH5Error("cannot read '" + path + "'"));
  if (H5Dread(dataset, elementBytes == 8 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT,
              H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    return error(withH5Error("cannot read '" + path + "'"));
  return llvm::Error::success();
}

namespace {
herr_t addAttributeName(hid_t, const char *name, const H5A_info_t *,
                        void *data) {
  auto *names = static_cast<std::vector<std::string> *>(data);
  if (names->size() >= kMaxH5Objects)
    return 1; // stop
  names->emplace_back(name, strnlen(name, 1 << 16));
  return 0;
}
} // namespace

llvm::Expected<std::vector<std::string>>
H5Reader::attributeNames(llvm::StringRef path) const {
  std::string object = path.empty() ? "/" : path.str();
  std::vector<std::string> names;
  hsize_t index = 0;
  if (H5Aiterate_by_name(file, object.c_str(), H5_INDEX_NAME, H5_ITER_INC,
                         &index, addAttributeName, &names, H5P_DEFAULT) < 0)
    return error(withH5Error("cannot list the attributes of '" + object + "'"));
  return names;
}

llvm::Expected<std::vector<std::string>>
H5Reader::stringAttribute(llvm::StringRef path, llvm::StringRef name,
                          uint64_t &budget) const {
  std::string object = path.empty() ? "/" : path.str();
  std::string attrName = name.str();
  std::string where = "the attribute '" + attrName + "' of '" + object + "'";
  Handle attr{H5Aopen_by_name(file, object.c_str(), attrName.c_str(),
                              H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose};
  if (attr < 0)
    return error(withH5Error("cannot open " + where));
  Handle type{H5Aget_type(attr), H5Tclose};
  if (type < 0 || H5Tget_class(type) != H5T_STRING)
    return error(where + " is not a string");
  Handle space{H5Aget_space(attr), H5Sclose};
  int rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
  if (rank < 0 || rank > 1)
    return error(where + " is not a string or a list of strings");
  hssize_t count = H5Sget_simple_extent_npoints(space);
  if (count < 0 || uint64_t(count) > kMaxAttributeStrings)
    return error(where + " has more than " + llvm::Twine(kMaxAttributeStrings) +
                 " strings");
  std::vector<std::string> strings;
  if (count == 0)
    return strings;
  uint64_t limit = std::min(budget, kMaxAttributeBytes);
  uint64_t total = 0;
  auto tooLong = [&] {
    return error(where + " is longer than " + llvm::Twine(limit) + " bytes" +
                 (limit < kMaxAttributeBytes
                      ? " (the file's attributes reached " +
                            llvm::Twine(kMaxAttributeBytes) + " bytes)"
                      : ""));
  };
  if (H5Tis_variable_str(type) > 0) {
    Handle memType{H5Tcopy(H5T_C_S1), H5Tclose};
    H5Tset_size(memType, H5T_VARIABLE);
    H5Tset_cset(memType, H5Tget_cset(type));
    std::vector<char *> pointers(size_t(count), nullptr);
    // The read that Debian's libhdf5 1.10 may crash or loop in (H5HG_read
    // on a corrupt global-heap entry): this runs in the child.
    if (H5Aread(attr, memType, pointers.data()) < 0)
      return error(withH5Error("cannot read " + where));
    auto reclaim = llvm::make_scope_exit(
        [&] { H5Dvlen_reclaim(memType, space, H5P_DEFAULT, pointers.data()); });
    for (char *p : pointers) {
      size_t n = p ? strnlen(p, limit + 1) : 0;
      total += n;
      if (total > limit)
        return tooLong();
      strings.emplace_back(p ? p : "", n);
    }
  } else {
    size_t size = H5Tget_size(type);
    if (size == 0 || uint64_t(size) * uint64_t(count) > limit)
      return tooLong();
    // One more byte per string than stored: the memory type is
    // NUL-terminated, so a string that fills its stored size (NUL- or
    // space-padded in the file) keeps its last character.
    size_t stride = size + 1;
    Handle memType{H5Tcopy(H5T_C_S1), H5Tclose};
    H5Tset_size(memType, stride);
    std::vector<char> buffer(stride * size_t(count));
    if (H5Aread(attr, memType, buffer.data()) < 0)
      return error(withH5Error("cannot read " + where));
    for (hssize_t i = 0; i < count; ++i) {
      const char *p = buffer.data() + size_t(i) * stride;
      strings.emplace_back(p, strnlen(p, stride));
      total += strings.back().size();
    }
  }
  budget -= std::min(budget, total);
  return strings;
}

namespace {
struct VisitState {
  std::vector<std::string> names;
  bool tooMany = false;
};

herr_t visitLink(hid_t, const char *name, const H5L_info_t *, void *data) {
  auto *state = static_cast<VisitState *>(data);
  if (state->names.size() >= kMaxH5Objects) {
    state->tooMany = true;
    return 1; // stop
  }
  state->names.emplace_back(name);
  return 0;
}
} // namespace

llvm::Expected<std::vector<std::string>>
H5Reader::list(llvm::StringRef path) const {
  VisitState state;
  std::string group = path.str();
  if (H5Lvisit_by_name(file, group.c_str(), H5_INDEX_NAME, H5_ITER_INC,
                       visitLink, &state, H5P_DEFAULT) < 0)
    return error(withH5Error("cannot list the objects under '" + path + "'"));
  if (state.tooMany)
    return error("'" + path + "' holds more than " +
                 llvm::Twine(kMaxH5Objects) + " objects");
  return std::move(state.names);
}

void mlir::kiln::keras::writeH5Snapshot(llvm::StringRef bytes,
                                        llvm::StringRef what,
                                        llvm::ArrayRef<std::string> dataRoots,
                                        llvm::raw_ostream &out,
                                        void (*outOfMemory)()) {
  out << snap::kMagic;
  auto reader = H5Reader::open(bytes, what);
  if (!reader) {
    out << snap::kFileError;
    snap::writeString(out, llvm::toString(reader.takeError()));
    return;
  }
  out << snap::kFileOk;
  uint64_t attributeBudget = kMaxAttributeBytes;
  auto writeError = [&](llvm::Error e) {
    out << snap::kError;
    snap::writeString(out, llvm::toString(std::move(e)));
  };
  auto attributes = [&](llvm::StringRef object) {
    auto names = (*reader)->attributeNames(object);
    if (!names) {
      // Recorded as a listing error of the object's attributes.
      out << snap::kAttributeList;
      snap::writeString(out, object);
      writeError(names.takeError());
      return;
    }
    for (const std::string &name : *names) {
      out << snap::kAttribute;
      snap::writeString(out, object);
      snap::writeString(out, name);
      auto strings = (*reader)->stringAttribute(object, name, attributeBudget);
      if (!strings) {
        writeError(strings.takeError());
        continue;
      }
      out << snap::kOk;
      snap::writeU64(out, strings->size());
      for (const std::string &s : *strings)
        snap::writeString(out, s);
    }
  };
  attributes("");
  uint64_t dataLeft = kMaxWeightsDataBytes;
  auto object = [&](const std::string &path) {
    uint8_t kind = (*reader)->kind(path);
    out << snap::kObject;
    snap::writeString(out, path);
    out << char(kind);
    if (kind == 0) {
      attributes(path);
      return;
    }
    if (kind != 1)
      return;
    out << snap::kShape;
    snap::writeString(out, path);
    auto shape = (*reader)->floatShape(path);
    if (!shape) {
      writeError(shape.takeError());
      // An integer counter (a Keras optimizer's `iteration`): its value.
      if (std::optional<int64_t> value = (*reader)->integerScalar(path)) {
        out << snap::kInteger;
        snap::writeString(out, path);
        snap::writeU64(out, uint64_t(*value));
      }
      return;
    }
    out << snap::kOk;
    snap::writeU64(out, shape->dims.size());
    uint64_t elements = 1;
    bool tooLarge = false;
    for (int64_t d : shape->dims) {
      snap::writeU64(out, uint64_t(d));
      if (d != 0 && elements > UINT64_MAX / 8 / uint64_t(d))
        tooLarge = true;
      else
        elements *= uint64_t(d);
    }
    snap::writeU64(out, shape->elementBytes);
    out << snap::kData;
    snap::writeString(out, path);
    uint64_t size = elements * shape->elementBytes;
    if (tooLarge || size > dataLeft) {
      writeError(error("'" + path + "' is too large: the values of a " +
                       "weights file are limited to " +
                       llvm::Twine(kMaxWeightsDataBytes) + " bytes"));
      return;
    }
    // malloc, not new: a failed allocation (the child's RLIMIT_AS, or a
    // sanitizer's allocator with allocator_may_return_null) is reported
    // as running out of memory rather than aborting.
    std::unique_ptr<char, void (*)(void *)> buffer(
        static_cast<char *>(std::malloc(size ? size : 1)), std::free);
    if (!buffer) {
      if (outOfMemory)
        outOfMemory();
      writeError(error("'" + path + "': cannot allocate " + llvm::Twine(size) +
                       " bytes for its values"));
      return;
    }
    if (llvm::Error e =
            (*reader)->read(path, shape->elementBytes, buffer.get(), size)) {
      writeError(std::move(e));
      return;
    }
    dataLeft -= size;
    out << snap::kOk;
    snap::writeString(out, llvm::StringRef(buffer.get(), size));
  };
  for (const std::string &root : dataRoots) {
    if (!(*reader)->exists(root))
      continue;
    object(root);
    out << snap::kList;
    snap::writeString(out, root);
    auto names = (*reader)->list(root);
    if (!names) {
      writeError(names.takeError());
      continue;
    }
    out << snap::kOk;
    snap::writeU64(out, names->size());
    for (const std::string &name : *names)
      snap::writeString(out, name);
    for (const std::string &name : *names) {
      std::string full = root + "/" + name;
      if ((*reader)->exists(full))
        object(full);
    }
  }
  out << snap::kEnd;
}
