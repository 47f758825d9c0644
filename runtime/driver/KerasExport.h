//===- KerasExport.h - trained weights out in Keras 3 formats ---*- C++ -*-===//
//
// `prog export --output model.weights.h5 | model.keras` writes a session's
// parameters (and state, such as BatchNormalization's moving statistics) in
// the layout Keras 3's saving_lib reads (docs/spec.md, "Export"):
// `layers/<snake_case class>[_N]/.../vars/<i>`, each variable at the path the
// Keras importer recorded in the manifest's `keras.variables`. A `.keras`
// archive adds the model's config.json (the manifest's `keras.config`, the
// config as imported) and a metadata.json.
//
// Built into kiln_main (generated executables) only, not kiln_driver: the
// HDF5 and libzip libraries are then linked into executables, never into
// programs that embed a model.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_DRIVER_KERASEXPORT_H
#define KILN_DRIVER_KERASEXPORT_H

#include <string>

namespace kiln::driver {

class Session;

/// The bytes of a Keras 3 model.weights.h5 holding `session`'s parameters.
/// Throws std::runtime_error when the model has no Keras variable paths
/// (not imported from Keras) or HDF5 fails.
std::string kerasWeightsFile(const Session &session);

/// Writes `path` atomically: a `.keras` archive (config.json, metadata.json,
/// model.weights.h5) or, for any other name (model.weights.h5), the weights
/// file alone. Throws std::runtime_error naming the problem; a `.keras`
/// output needs the Keras config in the manifest.
void exportKeras(const Session &session, const std::string &path);

/// The exporter kiln_cli_main's `export` calls for .keras / .h5 outputs
/// (null: the program was linked without it).
using KerasExporter = void (*)(const Session &, const std::string &);
extern KerasExporter kerasExporter;

} // namespace kiln::driver

extern "C" {
/// Installs exportKeras as the command line's exporter (generated
/// executables' main() calls it; declared for C in CliMain.c).
void kiln_cli_register_keras_export(void);
}

#endif // KILN_DRIVER_KERASEXPORT_H
