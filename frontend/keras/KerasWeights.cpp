//===- KerasWeights.cpp - HDF5 weights files with the HDF5 C library ------===//

#include "frontend/keras/KerasWeights.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Twine.h"

#include <hdf5.h>

#include <cstring>

using namespace mlir::kiln::keras;

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
} // namespace

std::string mlir::kiln::keras::takeH5ErrorMessage() {
  std::string message;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, firstError, &message);
  H5Eclear2(H5E_DEFAULT);
  return message;
}

llvm::Expected<std::unique_ptr<H5File>> H5File::open(std::string bytes,
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
  std::unique_ptr<H5File> file(new H5File());
  file->bytes = std::move(bytes);
  file->what = what.str();
  Handle fapl{H5Pcreate(H5P_FILE_ACCESS), H5Pclose};
  if (fapl < 0 || H5Pset_fapl_core(fapl, 1 << 20, /*backing_store=*/0) < 0 ||
      H5Pset_file_image(fapl, file->bytes.data(), file->bytes.size()) < 0)
    return error(withH5Error("cannot set up HDF5 to read " + what));
  // The name is not opened: the core driver reads the image given above.
  file->file = H5Fopen("kiln-weights.h5", H5F_ACC_RDONLY, fapl);
  if (file->file < 0)
    return error(withH5Error("cannot read " + what + " as HDF5"));
  // The image was copied into the file; the bytes are not needed again.
  file->bytes.clear();
  file->bytes.shrink_to_fit();
  return file;
}

H5File::~H5File() {
  if (file >= 0)
    H5Fclose(file);
  H5Eclear2(H5E_DEFAULT);
}

bool H5File::exists(llvm::StringRef path) const {
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

bool H5File::isDataset(llvm::StringRef path) const {
  if (!exists(path))
    return false;
  H5O_info_t info;
  bool dataset =
      H5Oget_info_by_name(file, path.str().c_str(), &info, H5P_DEFAULT) >= 0 &&
      info.type == H5O_TYPE_DATASET;
  H5Eclear2(H5E_DEFAULT);
  return dataset;
}

llvm::Expected<llvm::SmallVector<int64_t>>
H5File::floatShape(llvm::StringRef path) const {
  if (!isDataset(path))
    return error("'" + path + "' is not a dataset");
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
  llvm::SmallVector<int64_t> shape;
  for (int i = 0; i < rank; ++i) {
    if (dims[i] > uint64_t(INT64_MAX))
      return error("'" + path + "' has a dimension above 2^63");
    shape.push_back(static_cast<int64_t>(dims[i]));
  }
  return shape;
}

llvm::Error H5File::readFloats(llvm::StringRef path, bool f64, char *out,
                               size_t bytes) const {
  auto shape = floatShape(path);
  if (!shape)
    return shape.takeError();
  uint64_t elements = 1;
  for (int64_t d : *shape) {
    if (d != 0 && elements > UINT64_MAX / 8 / uint64_t(d))
      return error("'" + path + "' is too large");
    elements *= uint64_t(d);
  }
  if (elements * (f64 ? 8 : 4) != bytes)
    return error("'" + path + "' holds " + llvm::Twine(elements) +
                 " elements, expected " + llvm::Twine(bytes / (f64 ? 8 : 4)));
  if (elements == 0)
    return llvm::Error::success();
  Handle dataset{H5Dopen2(file, path.str().c_str(), H5P_DEFAULT), H5Dclose};
  if (dataset < 0 ||
      H5Dread(dataset, f64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT, H5S_ALL,
              H5S_ALL, H5P_DEFAULT, out) < 0)
    return error(withH5Error("cannot read '" + path + "'"));
  return llvm::Error::success();
}

llvm::Expected<std::optional<std::vector<std::string>>>
H5File::stringAttribute(llvm::StringRef path, llvm::StringRef name) const {
  std::string object = path.empty() ? "/" : path.str();
  std::string attrName = name.str();
  if (!exists(path))
    return std::nullopt;
  htri_t has =
      H5Aexists_by_name(file, object.c_str(), attrName.c_str(), H5P_DEFAULT);
  if (has <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
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
  uint64_t total = 0;
  if (H5Tis_variable_str(type) > 0) {
    Handle memType{H5Tcopy(H5T_C_S1), H5Tclose};
    H5Tset_size(memType, H5T_VARIABLE);
    H5Tset_cset(memType, H5Tget_cset(type));
    std::vector<char *> pointers(size_t(count), nullptr);
    if (H5Aread(attr, memType, pointers.data()) < 0)
      return error(withH5Error("cannot read " + where));
    auto reclaim = llvm::make_scope_exit(
        [&] { H5Dvlen_reclaim(memType, space, H5P_DEFAULT, pointers.data()); });
    for (char *p : pointers) {
      size_t n = p ? strnlen(p, kMaxAttributeBytes + 1) : 0;
      total += n;
      if (total > kMaxAttributeBytes)
        return error(where + " is longer than " +
                     llvm::Twine(kMaxAttributeBytes) + " bytes");
      strings.emplace_back(p ? p : "", n);
    }
  } else {
    size_t size = H5Tget_size(type);
    if (size == 0 || uint64_t(size) * uint64_t(count) > kMaxAttributeBytes)
      return error(where + " is longer than " +
                   llvm::Twine(kMaxAttributeBytes) + " bytes");
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
    }
  }
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
H5File::datasets(llvm::StringRef path) const {
  std::vector<std::string> out;
  if (!exists(path))
    return out;
  VisitState state;
  std::string group = path.str();
  if (H5Lvisit_by_name(file, group.c_str(), H5_INDEX_NAME, H5_ITER_INC,
                       visitLink, &state, H5P_DEFAULT) < 0)
    return error(withH5Error("cannot list the objects under '" + path + "'"));
  if (state.tooMany)
    return error("'" + path + "' holds more than " +
                 llvm::Twine(kMaxH5Objects) + " objects");
  for (const std::string &name : state.names) {
    std::string full = group + "/" + name;
    if (isDataset(full))
      out.push_back(std::move(full));
  }
  return out;
}
