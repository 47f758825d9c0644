//===- Manifest.h - the model manifest of generated programs ----*- C++ -*-===//
//
// kilnc embeds in every object file a `kiln_model_t <name>_model`
// (runtime/include/kiln/model.h): the entry points plus a JSON manifest that
// the session API and generated programs read (docs/spec.md, "Model
// manifest"). This file gathers the manifest from the three stages that know
// its parts:
//
//   - the forward form (collectForwardInfo): parameters with their
//     initializers (kiln.initializer, stored kiln.init values), trainability
//     and Normalization adaptation (kiln.adapt), the Keras layers
//     (kiln.layers) and the model name;
//   - the training form (collectTrainingInfo): metrics, opt_state initial
//     values, FLOPs per step; the loss, optimizer and learning rate come
//     from the TrainingConfig (compiler/Compile.cpp sets them);
//   - the bufferized form (collectAbi in Emit.h): region sizes and offsets.
//
// and adds the descriptor global to the translated LLVM module
// (addModelDescriptor).
//
//===----------------------------------------------------------------------===//

#ifndef KILN_CODEGEN_MANIFEST_H
#define KILN_CODEGEN_MANIFEST_H

#include "codegen/Emit.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mlir::kiln {

/// What the manifest says about one parameter.
struct ManifestParam {
  std::string name;
  std::string dtype; // "f32", "f64", "i32", "i64", "i1"
  std::vector<int64_t> shape;
  bool trainable = false;
  /// Non-trainable state a training step updates (kiln.state).
  bool state = false;
  /// The initializer as JSON: {"name": "glorot_uniform", "seed": 3, ...}
  /// (kiln.initializer), {"stored": byte offset} (kiln.init values, kept
  /// in the object's initial_values), or a default chosen by rank.
  llvm::json::Object init;
  /// kiln.adapt as JSON ({"statistic", "input", "axes"}), if any.
  std::optional<llvm::json::Object> adapt;
};

/// The parts of the manifest known before lowering.
struct ModelInfo {
  std::string modelName;
  std::string source; // input file name
  /// Operand precision of the f32 GEMMs: "f32" or "bf16" (kilnc
  /// --precision).
  std::string precision = "f32";
  std::vector<ManifestParam> params;
  /// Bytes of every stored initial value, little-endian, 8-byte aligned.
  std::vector<char> initialValues;
  /// kiln.layers records ({name, class_name, shape}).
  llvm::json::Array layers;
  /// Training (empty loss: inference only).
  std::string loss, optimizer, convention;
  bool fromLogits = false;
  std::vector<std::string> metrics;         // as reported ("accuracy")
  std::vector<std::string> resolvedMetrics; // kiln.metrics ("binary_accuracy")
  std::optional<double> learningRate;
  /// A Keras learning-rate schedule's canonical JSON (training.lr_schedule).
  std::optional<std::string> learningRateSchedule;
  std::map<std::string, double> optStateInit; // kiln.opt_state -> value
  /// Optimizer-state tensors with stored initial values (`kiln.init` on a
  /// @train_step argument: a Keras file's optimizer state): byte offset
  /// into initialValues; the manifest's `opt_state_init` says
  /// `{"stored": offset}` for them.
  std::map<std::string, int64_t> optStateStored;
  /// kiln.index_range of integer inputs: name -> [low, high).
  std::map<std::string, std::pair<int64_t, int64_t>> inputRanges;
  /// Keras models: each parameter's Keras 3 variable path
  /// (kiln.keras_variables), and the model config's JSON text as imported
  /// (a .keras archive's config.json or a .json file; none for Keras 2 .h5
  /// files). The manifest's `keras` field, read by `export`.
  std::map<std::string, std::string> kerasVariables;
  std::optional<std::string> kerasConfig;
  /// Multiply-adds count twice; other ops one per output element.
  double trainStepFlops = 0, predictFlops = 0;
  /// The ONNX form of the inference graph (`prog export --output F.onnx`,
  /// frontend/onnx/OnnxExporter.h): a serialized ModelProto without the
  /// parameters at [offset, offset + size) of initialValues and the
  /// parameters to append as initializers, or why there is none. Unset:
  /// not attempted (the manifest then says so).
  struct OnnxExport {
    int64_t offset = 0, size = 0, opset = 0;
    std::vector<std::string> initializers;
    std::vector<std::string> problems;
  };
  std::optional<OnnxExport> onnxExport;
};

/// Reads the forward form: the single public function's parameters and
/// module attributes. `source` is the input file name.
llvm::Expected<ModelInfo> collectForwardInfo(ModuleOp module,
                                             llvm::StringRef source);

/// Reads the training form (after kiln-training-pipeline, or the forward
/// form for inference-only models): metrics, opt_state initial values,
/// FLOPs. `loss`... are the training options in effect.
void collectTrainingInfo(ModuleOp module, ModelInfo &info);

/// The manifest JSON of a model whose entry points are `entries` (C symbols
/// `<prefix>_train_step`, `_eval_step`, `_predict`, or the inference-only
/// model's one function). Fails when the entry points disagree on the
/// parameter layout, or an inference-only module has several functions.
llvm::Expected<std::string> buildManifest(const ModelInfo &info,
                                          llvm::ArrayRef<EntryPointAbi> entries,
                                          llvm::StringRef prefix,
                                          uint64_t seed);

/// Adds `const kiln_model_t <prefix>_model` (manifest, entry points,
/// initial values) to `module`; with `mainAlias`, also the alias
/// `kiln_main_model` that generated executables' main() reads.
llvm::Error addModelDescriptor(llvm::Module &module, llvm::StringRef prefix,
                               llvm::StringRef manifest,
                               llvm::ArrayRef<char> initialValues,
                               bool mainAlias);

} // namespace mlir::kiln

#endif // KILN_CODEGEN_MANIFEST_H
