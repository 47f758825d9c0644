//===- KerasExport.cpp - model.weights.h5 and .keras with HDF5 and libzip -===//

#include "KerasExport.h"

#include "Checkpoint.h"
#include "Session.h"

#include <hdf5.h>
#include <zip.h>

#include <ctime>
#include <memory>
#include <stdexcept>
#include <vector>

using namespace kiln::driver;

namespace {
[[noreturn]] void fail(const std::string &message) {
  std::string detail;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t *e, void *data) -> herr_t {
        if (n == 0 && e && e->desc)
          *static_cast<std::string *>(data) = e->desc;
        return 0;
      },
      &detail);
  H5Eclear2(H5E_DEFAULT);
  throw std::runtime_error(
      detail.empty() ? message : message + " (HDF5: " + detail + ")");
}

/// Closes an HDF5 identifier when it goes out of scope.
struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Handle() {
    if (id >= 0)
      close(id);
  }
  operator hid_t() const { return id; }
};

/// A variable-length UTF-8 string attribute, as h5py writes a str.
void setNameAttribute(hid_t object, const std::string &value) {
  Handle type{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  Handle space{H5Screate(H5S_SCALAR), H5Sclose};
  Handle attr{H5Acreate2(object, "name", type, space, H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose};
  const char *text = value.c_str();
  if (attr < 0 || H5Awrite(attr, type, &text) < 0)
    fail("cannot write the attribute 'name' = '" + value + "'");
}

/// The group at `path`, created with its parents when missing.
hid_t makeGroups(hid_t file, const std::string &path) {
  size_t at = 0;
  while (true) {
    size_t slash = path.find('/', at);
    std::string prefix = path.substr(0, slash);
    if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) {
      hid_t g = H5Gcreate2(file, prefix.c_str(), H5P_DEFAULT, H5P_DEFAULT,
                           H5P_DEFAULT);
      if (g < 0)
        fail("cannot create the group '" + prefix + "'");
      H5Gclose(g);
    }
    if (slash == std::string::npos)
      break;
    at = slash + 1;
  }
  hid_t g = H5Gopen2(file, path.c_str(), H5P_DEFAULT);
  if (g < 0)
    fail("cannot open the group '" + path + "'");
  return g;
}

std::string today() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d@%H:%M:%S", &tm);
  return text;
}

/// JSON string literal of `text` (metadata.json holds only known text).
std::string quoted(const std::string &text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}
} // namespace

std::string kiln::driver::kerasWeightsFile(const Session &session) {
  const Manifest &m = session.manifest();
  if (m.kerasVariables.empty())
    throw std::runtime_error(
        "the model was not imported from a Keras model (kilnc MODEL.keras, "
        ".json or .h5), so it has no Keras variable layout to export");
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  Handle fapl{H5Pcreate(H5P_FILE_ACCESS), H5Pclose};
  // The core driver without a backing store: the file lives in memory and
  // its image is taken below.
  if (fapl < 0 || H5Pset_fapl_core(fapl, 1 << 20, /*backing_store=*/0) < 0)
    fail("cannot set up HDF5");
  Handle file{
      H5Fcreate("kiln-export.weights.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl),
      H5Fclose};
  if (file < 0)
    fail("cannot create an HDF5 file in memory");
  {
    // saving_lib: the model's own (empty) entry, named.
    Handle vars{makeGroups(file, "vars"), H5Gclose};
    setNameAttribute(vars, m.name);
  }
  for (const auto &[param, path] : m.kerasVariables) {
    const TensorInfo *info = nullptr;
    const char *data = session.parameter(param, &info);
    size_t slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0)
      throw std::runtime_error("keras.variables: bad path '" + path + "'");
    std::string group = path.substr(0, slash), index = path.substr(slash + 1);
    // H5IOStore.make(path, metadata={"name": layer.name}): each layer of
    // model.layers has its entry `layers/<x>/vars` carrying its name, also
    // when its variables sit in a nested layer (`layers/lstm/cell/vars`).
    size_t second = path.find('/', path.find('/') + 1);
    std::string top = path.substr(0, second) + "/vars";
    if (second != std::string::npos &&
        (H5Lexists(file, path.substr(0, second).c_str(), H5P_DEFAULT) <= 0 ||
         H5Lexists(file, top.c_str(), H5P_DEFAULT) <= 0)) {
      Handle entry{makeGroups(file, top), H5Gclose};
      setNameAttribute(entry, param.substr(0, param.find('/')));
    }
    Handle vars{makeGroups(file, group), H5Gclose};
    hid_t fileType, memType;
    if (info->dtype == "f32") {
      fileType = H5T_IEEE_F32LE;
      memType = H5T_NATIVE_FLOAT;
    } else if (info->dtype == "f64") {
      fileType = H5T_IEEE_F64LE;
      memType = H5T_NATIVE_DOUBLE;
    } else {
      throw std::runtime_error("the parameter '" + param + "' is " +
                               info->dtype + "; Keras weights are floats");
    }
    std::vector<hsize_t> dims(info->shape.begin(), info->shape.end());
    Handle space{dims.empty() ? H5Screate(H5S_SCALAR)
                              : H5Screate_simple(static_cast<int>(dims.size()),
                                                 dims.data(), nullptr),
                 H5Sclose};
    Handle dataset{H5Dcreate2(vars, index.c_str(), fileType, space, H5P_DEFAULT,
                              H5P_DEFAULT, H5P_DEFAULT),
                   H5Dclose};
    if (dataset < 0 ||
        H5Dwrite(dataset, memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
      fail("cannot write '" + path + "' (parameter '" + param + "')");
  }
  if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
    fail("cannot flush the HDF5 file");
  ssize_t size = H5Fget_file_image(file, nullptr, 0);
  if (size <= 0)
    fail("cannot take the HDF5 file's image");
  std::string bytes(static_cast<size_t>(size), '\0');
  if (H5Fget_file_image(file, bytes.data(), bytes.size()) != size)
    fail("cannot take the HDF5 file's image");
  return bytes;
}

void kiln::driver::exportKeras(const Session &session,
                               const std::string &path) {
  std::string weights = kerasWeightsFile(session);
  std::string error;
  bool archive =
      path.size() >= 6 && path.compare(path.size() - 6, 6, ".keras") == 0;
  if (!archive) {
    if (!writeFileAtomically(path, {{weights.data(), weights.size()}}, &error))
      throw std::runtime_error(error);
    return;
  }
  const Manifest &m = session.manifest();
  if (!m.kerasConfig)
    throw std::runtime_error(
        "the program holds no Keras 3 config (the model came from a Keras 2 "
        ".h5 file); export --output model.weights.h5 writes the weights");
  // The archive is built in memory, then written like every driver output.
  zip_error_t zerror;
  zip_error_init(&zerror);
  zip_source_t *buffer = zip_source_buffer_create(nullptr, 0, 0, &zerror);
  if (!buffer)
    throw std::runtime_error("libzip: " +
                             std::string(zip_error_strerror(&zerror)));
  zip_source_keep(buffer);
  std::unique_ptr<zip_source_t, void (*)(zip_source_t *)> keep(buffer,
                                                               zip_source_free);
  zip_t *zip = zip_open_from_source(buffer, ZIP_TRUNCATE, &zerror);
  if (!zip)
    throw std::runtime_error("libzip: " +
                             std::string(zip_error_strerror(&zerror)));
  std::string metadata =
      "{\"keras_version\": \"3.5.0\", \"date_saved\": " + quoted(today()) +
      ", \"exported_by\": \"kiln\"}";
  const std::pair<const char *, const std::string *> members[] = {
      {"metadata.json", &metadata},
      {"config.json", &*m.kerasConfig},
      {"model.weights.h5", &weights}};
  for (const auto &[name, text] : members) {
    zip_source_t *source =
        zip_source_buffer(zip, text->data(), text->size(), 0);
    if (!source || zip_file_add(zip, name, source, ZIP_FL_ENC_UTF_8) < 0) {
      if (source)
        zip_source_free(source);
      std::string message = zip_strerror(zip);
      zip_discard(zip);
      throw std::runtime_error("libzip: cannot add " + std::string(name) +
                               ": " + message);
    }
  }
  if (zip_close(zip) < 0) {
    std::string message = zip_strerror(zip);
    zip_discard(zip);
    throw std::runtime_error("libzip: " + message);
  }
  zip_stat_t stat;
  if (zip_source_stat(buffer, &stat) < 0 || zip_source_open(buffer) < 0)
    throw std::runtime_error("libzip: cannot read the archive back");
  std::string bytes(static_cast<size_t>(stat.size), '\0');
  zip_int64_t read = zip_source_read(buffer, bytes.data(), bytes.size());
  zip_source_close(buffer);
  if (read != static_cast<zip_int64_t>(bytes.size()))
    throw std::runtime_error("libzip: cannot read the archive back");
  if (!writeFileAtomically(path, {{bytes.data(), bytes.size()}}, &error))
    throw std::runtime_error(error);
}

extern "C" void kiln_cli_register_keras_export(void) {
  kerasExporter = exportKeras;
}
