//===- Manifest.h - the model manifest, read by the driver ------*- C++ -*-===//
//
// The JSON manifest kilnc embeds in every model (kiln/model.h; its fields are
// specified in docs/spec.md, "Model manifest") as C++ structures. Parsing
// validates every field the driver uses, so a driver never indexes past a
// region because of a malformed manifest.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_DRIVER_MANIFEST_H
#define KILN_DRIVER_MANIFEST_H

#include "LearningRateSchedule.h"

#include "kiln/data.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kiln::driver {

/// One tensor of an entry point's regions. Kinds and regions are the enums
/// of kiln/runtime.h that the compiler writes (kiln_tensor_kind_name,
/// kiln_region_name); the region always agrees with the kind
/// (kiln_tensor_kind_region), which parsing checks.
struct TensorInfo {
  std::string name;
  kiln_tensor_kind_t kind = KILN_TENSOR_INPUT;
  kiln_region_t region = KILN_REGION_IO;
  int64_t offset = 0; // bytes from the region start
  std::vector<int64_t> shape;
  std::string dtype; // "f32", "f64", "i32", "i64", "i1"
  bool updated = false;
  int64_t count() const;
  size_t bytes() const;
};

/// One entry point and its region layout.
struct EntryInfo {
  std::string symbol;
  int64_t alignment = 64;
  int64_t paramsSize = 0, optStateSize = 0, ioSize = 0, scratchSize = 0;
  std::vector<TensorInfo> tensors;
  /// The tensor of `kind` named `name`, or null.
  const TensorInfo *find(kiln_tensor_kind_t kind,
                         const std::string &name) const;
  /// The tensor of `region` named `name` (a param or state tensor in the
  /// params region), or null.
  const TensorInfo *findIn(kiln_region_t region, const std::string &name) const;
  /// The tensors of `kind`, in order.
  std::vector<const TensorInfo *> all(kiln_tensor_kind_t kind) const;
};

/// A parameter: its initializer and Normalization adaptation.
struct ParamInfo {
  std::string name, dtype;
  std::vector<int64_t> shape;
  bool trainable = false;
  /// Non-trainable state that train_step updates (manifest "state": true).
  bool state = false;
  /// Initializer name and arguments ("glorot_uniform", "constant" value...).
  std::string initName;
  double value = 0, minval = -0.05, maxval = 0.05, mean = 0, stddev = 0.05,
         gain = 1;
  std::optional<int64_t> initSeed;
  /// Byte offset into kiln_model_t::initial_values for stored values.
  std::optional<int64_t> stored;
  /// Normalization.adapt: the statistic ("mean"/"variance"), the model
  /// input it is computed from ("" if the layer does not read an input
  /// directly) and the kept axes of that input.
  std::string adaptStatistic, adaptInput;
  std::vector<int64_t> adaptAxes;
};

struct MetricInfo {
  std::string name; // as the user wrote it ("accuracy")
  std::string kind; // resolved ("binary_accuracy", "precision", ...)
};

struct LayerInfo {
  std::string name, className;
  std::vector<int64_t> shape;
};

struct Manifest {
  std::string name, source, fingerprint;
  uint64_t seed = 0;
  std::optional<EntryInfo> trainStep, evalStep;
  /// The data-parallel halves of train_step (kilnc --data-parallel).
  std::optional<EntryInfo> gradStep, applyStep;
  EntryInfo predict;
  std::vector<ParamInfo> params;
  std::map<std::string, double> optStateInit;
  /// Optimizer-state tensors with stored initial values (`opt_state_init`
  /// `{"stored": offset}`, a Keras file's optimizer state): byte offset
  /// into kiln_model_t::initial_values.
  std::map<std::string, int64_t> optStateStored;
  bool training = false;
  std::string loss, optimizer;
  bool fromLogits = false;
  double learningRate = 0.01;
  /// training.lr_schedule: a Keras schedule the rate of each step follows.
  std::optional<kiln::schedule::LearningRateSchedule> schedule;
  std::vector<MetricInfo> metrics;
  int64_t paramCount = 0, trainableParamCount = 0;
  double trainStepFlops = 0, predictFlops = 0;
  std::vector<LayerInfo> layers;
  /// input_ranges: the valid values [low, high) of integer inputs (token
  /// ids of an Embedding), by input name.
  std::map<std::string, std::pair<int64_t, int64_t>> inputRanges;
  /// keras.variables: each parameter's Keras 3 variable path
  /// ("layers/dense/vars/0"), for `export` (empty: not a Keras model).
  std::map<std::string, std::string> kerasVariables;
  /// keras.config: the Keras model config's JSON text as imported.
  std::optional<std::string> kerasConfig;
  /// precision: "f32", or "bf16" (GEMMs with bf16 operands, f32 sums; kilnc
  /// --precision=bf16). Absent in older manifests: f32.
  std::string precision = "f32";
};

/// Parses and checks `text`. Throws std::runtime_error with a message
/// naming the field on malformed input.
Manifest parseManifest(const char *text);

/// A Keras learning-rate schedule from `text`: its JSON serialization
/// ({"class_name": "ExponentialDecay", "config": {...}}, optionally with
/// "module" and "registered_name", as keras.optimizers.schedules.serialize
/// writes it) when `text` starts with '{', else the command line's compact
/// form CLASS:key=value,... (lists in brackets: boundaries=[100,200]; true,
/// false, null). Throws std::runtime_error starting with `what`.
kiln::schedule::LearningRateSchedule
parseLearningRateSchedule(const std::string &text, const std::string &what);

/// kiln_dtype_t of a manifest dtype ("f32" -> KILN_DTYPE_F32, "i1" ->
/// KILN_DTYPE_BOOL); throws for unknown names.
kiln_dtype_t toDtype(const std::string &dtype);

} // namespace kiln::driver

#endif // KILN_DRIVER_MANIFEST_H
