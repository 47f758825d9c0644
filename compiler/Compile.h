//===- Compile.h - the kiln compile library ---------------------*- C++ -*-===//
//
// One library drives the stages for every client: `kilnc` (files in, the
// emission ladder, executables and libraries out), `kilnc run` and the C++
// builder (JIT). A model comes in from any frontend (a file by extension:
// .onnx, .json/.keras, MLIR text; or an already-built ModuleOp), typed
// options say what to compile (CompileOptions, TrainingConfig), and each
// stage of docs/architecture.md is one method of Compiler, so a client can
// stop at any rung and print the module there:
//
//   importFile / verifyForward        forward form (kiln-verify-stage)
//   applyTraining                     training step or inference form
//   lowerToLinalg                     linalg on tensors
//   renameEntryPoints + bufferize     region ABI (+ manifest, C header)
//   lowerToLLVM                       LLVM dialect
//   emitLLVMModule / emitMachineCode  LLVM IR with the model descriptor, .o
//   emitObjects                       the same as .o files, on several threads
//
// compileToJit runs them all and gives a JIT-compiled model with its
// in-memory kiln_model_t, the input of the session API (kiln/session.h).
// Linking is in compiler/Link.h.
//
// Errors: MLIR failures are reported through the context's diagnostic
// handler and give failure(); the others are llvm::Error with a message.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_COMPILER_COMPILE_H
#define KILN_COMPILER_COMPILE_H

#include "codegen/Emit.h"
#include "codegen/Jit.h"
#include "codegen/Manifest.h"
#include "compiler/TrainingConfig.h"
#include "kiln/data.h"
#include "kiln/model.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/SourceMgr.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir::kiln {

/// The parts of a training step that the command line replaces in a Keras
/// model's compile_config (unset: the compile_config's).
struct TrainingOverrides {
  std::optional<bool> fromLogits;
  std::optional<std::vector<std::string>> metrics;
  /// The whole optimizer, with its hyperparameters and learning rate.
  std::optional<OptimizerConfig> optimizer;
  /// A learning-rate schedule (kilnc --lr-schedule), applied after
  /// `optimizer`: its learningRateSchedule and learningRate replace the
  /// optimizer's.
  std::optional<OptimizerConfig> lrSchedule;
  /// The convention always comes from the client (default "keras").
  std::string convention = "keras";

  bool empty() const {
    return !fromLogits && !metrics && !optimizer && !lrSchedule;
  }
  /// `config` with the overridden parts replaced.
  TrainingConfig applyTo(TrainingConfig config) const;
};

/// Training flags as a command line wrote them (unset: not given), e.g.
/// kilnc's --loss, --from-logits, --metrics=a,b,
/// --optimizer=NAME[:key=value,...], --lr-schedule=CLASS:key=value,...,
/// --convention.
struct TrainingFlags {
  std::optional<std::string> loss, metrics, optimizer, lrSchedule, convention;
  std::optional<bool> fromLogits;
};

struct CompileOptions;

/// The command-line adapter of the TrainingConfig. With a non-empty loss
/// the flags describe the whole training step (`options.training`; the
/// optimizer defaults to sgd); without, --optimizer (with its
/// hyperparameters and learning rate), --metrics and --from-logits replace
/// parts of a Keras compile_config (`options.overrides`). The convention
/// is the flag's, else "keras". Errors: an empty loss ("--loss needs a
/// loss name"), a bad --optimizer (parseOptimizerSpec). Values are
/// checked later, by TrainingConfig::validate().
llvm::Error applyTrainingFlags(const TrainingFlags &flags,
                               CompileOptions &options);

/// What to compile.
struct CompileOptions {
  /// C symbol prefix: entry points become `<name>_<function>`. A C
  /// identifier (cIdentifier makes one).
  std::string name = "model";
  /// The model's file name, for the manifest's "source" and messages.
  std::string source;
  /// Imported models: the batch size of a dynamic leading dimension.
  std::optional<int64_t> batchSize;
  /// Keras models: the length of a variable-length time axis.
  std::optional<int64_t> sequenceLength;
  /// Keras models: ignore the stored weights (ImportOptions::noWeights).
  bool noWeights = false;
  /// Keras models: ignore the stored optimizer state
  /// (ImportOptions::noOptimizerState).
  bool noOptimizerState = false;
  /// Recorded in the manifest: the seed of initializers and shuffles.
  uint64_t seed = 0;
  /// The most ops the imported forward form may have (0: no limit).
  /// Compile time grows faster than linearly with model depth (1,000
  /// Dropout layers take about 40 s), so an absurd model is an error that
  /// names the limit rather than a compile that seems to hang.
  int64_t maxOps = kDefaultMaxOps;
  static constexpr int64_t kDefaultMaxOps = 10000;
  /// The most elements one tensor of the imported model may have (kilnc
  /// --max-tensor-elements; 0: no limit): a function argument or an op
  /// result above it is an error naming the tensor, its type and the limit.
  /// 2^32 elements is 16 GiB of f32 in one tensor; a layer of 2^40 units
  /// otherwise compiled into a program that asked for 131,072 GiB.
  int64_t maxTensorElements = kDefaultMaxTensorElements;
  static constexpr int64_t kDefaultMaxTensorElements = int64_t(1) << 32;
  /// The training step. Unset: the one a Keras model's compile_config
  /// describes (with `overrides` applied), else none (inference form).
  std::optional<TrainingConfig> training;
  TrainingOverrides overrides;
  /// Training builds: also emit @grad_step and @apply_step (kilnc
  /// --data-parallel), which generated programs run under mpirun. Set
  /// for a model without a training configuration, compilation fails.
  bool dataParallel = false;
  /// Operand precision of the f32 GEMMs (kilnc --precision=bf16: bf16
  /// operands, f32 sums; params, optimizer state and everything else stay
  /// f32). Recorded in the manifest, so the program can say when its CPU
  /// lacks AVX512_BF16 and the GEMMs run in f32.
  bool bf16 = false;
  /// Target of machine code (default: the host).
  TargetSelection target;
  /// Apply the MLIR pass-manager command-line options (--mlir-timing,
  /// --mlir-print-ir-after-all) to every stage (kilnc).
  bool passManagerCLOptions = false;
};

/// A C identifier made from `text` ("my-model" -> "my_model").
std::string cIdentifier(llvm::StringRef text);

/// Whether `module` carries a Keras compile_config (kiln.compile_config).
bool hasCompileConfig(ModuleOp module);

/// Runs the stages on one module. Not thread-safe; one per compilation.
class Compiler {
public:
  /// `timing` (may be null) receives one nested scope per stage.
  Compiler(MLIRContext &context, CompileOptions options,
           TimingScope *timing = nullptr);

  const CompileOptions &options() const { return opts; }

  /// Reads a model file by extension: .onnx (frontend/onnx), .json and
  /// .keras (frontend/keras), anything else MLIR text from `sourceMgr`
  /// (which holds the file), then verifyForward. Null after a reported
  /// error.
  OwningOpRef<ModuleOp> importFile(llvm::StringRef path,
                                   llvm::SourceMgr &sourceMgr);

  /// Checks the forward-form contract (kiln-verify-stage).
  LogicalResult verifyForward(ModuleOp module);

  /// Checks every function argument and op result against
  /// options().maxTensorElements (importFile calls it); the first tensor
  /// above the limit is reported at its location.
  LogicalResult checkTensorSizes(ModuleOp module);

  /// Gathers the manifest's forward-form parts (collectForwardInfo) so
  /// that a model descriptor can be emitted. Errors: a module that is not
  /// one model (e.g. several public functions).
  llvm::Error collectModelInfo(ModuleOp module);
  /// The manifest's parts, after collectModelInfo succeeded.
  const std::optional<ModelInfo> &modelInfo() const { return info; }

  /// The training step in effect: options().training, else the module's
  /// compile_config with the overrides applied, validated
  /// (TrainingConfig::validate). Nullopt: no training step. Errors are
  /// reported at the module's location.
  FailureOr<std::optional<TrainingConfig>> trainingConfig(ModuleOp module);

  /// Derives the training step (kiln-training-pipeline) when
  /// trainingConfig() gives one, else, for a model (collectModelInfo
  /// done), the inference form; records the training parts of the
  /// manifest. Other modules are left as they are.
  LogicalResult applyTraining(ModuleOp module);
  /// The training step applyTraining compiled (nullopt: none).
  const std::optional<TrainingConfig> &training() const { return config; }
  /// Warnings about the training step for the user (e.g. a learning-rate
  /// schedule that is not applied).
  llvm::ArrayRef<std::string> notes() const { return notesList; }

  /// Translates the inference form of a copy of the forward-form `module`
  /// to ONNX (frontend/onnx/OnnxExporter.h) and records it, or why it
  /// cannot be, in the model info (applyTraining calls it; needs
  /// collectModelInfo). Untranslatable ops are not errors.
  LogicalResult prepareOnnxExport(ModuleOp module);

  /// kiln -> linalg on tensors (buildKilnToLinalgPipeline).
  LogicalResult lowerToLinalg(ModuleOp module);
  /// Gives every public function with a body its C symbol
  /// `<name>_<function>`; errors: none, or two with the same symbol.
  LogicalResult renameEntryPoints(ModuleOp module);
  /// Bufferization and the memory plan; returns every entry point's region
  /// layout and, with model info, builds the manifest.
  FailureOr<std::vector<EntryPointAbi>> bufferize(ModuleOp module);
  /// The manifest JSON built by bufferize (empty without model info).
  const std::string &manifest() const { return manifestText; }
  /// Whether bufferize produced a manifest, i.e. the module is one model.
  bool hasManifest() const { return !manifestText.empty(); }
  /// Why bufferize produced no manifest although collectModelInfo
  /// succeeded (e.g. entry points of unknown roles); "" otherwise.
  const std::string &manifestErrorText() const { return manifestError; }
  /// Checks that a model with the entry points `abi` (of bufferize) fits a
  /// generated program (--emit=exe), which feeds one input and writes one
  /// output; other models are embedded instead. Errors say so.
  llvm::Error checkProgramModel(llvm::ArrayRef<EntryPointAbi> abi) const;
  /// Checks that every input and output of the predict entry point (or of
  /// an inference-only model's one function) has the batch size as its
  /// first axis, as the session API and generated programs need (they
  /// read and write one sample per batch row): an error names the tensor
  /// and its shape (an ONNX Flatten with axis = 0 gives an output without
  /// a batch axis).
  llvm::Error checkBatchAxes(llvm::ArrayRef<EntryPointAbi> abi) const;
  /// Bufferized -> LLVM dialect.
  LogicalResult lowerToLLVM(ModuleOp module);

  /// Optimized LLVM IR (at `machine`'s optimization level) with the model
  /// descriptor `<name>_model` when there is a manifest (and the alias
  /// kiln_main_model with `mainAlias`): the one module of --emit=llvm-ir,
  /// asm and obj.
  llvm::Expected<std::unique_ptr<llvm::Module>>
  emitLLVMModule(ModuleOp module, llvm::LLVMContext &llvmContext,
                 llvm::TargetMachine &machine, bool mainAlias);

  /// The same code as object files for linking, optimized and compiled on
  /// up to `jobs` threads (emitObjectsInParallel): the descriptor is added
  /// before the module is split, so it is compiled with the rest.
  llvm::Expected<std::vector<llvm::SmallString<0>>>
  emitObjects(ModuleOp module, unsigned jobs, bool mainAlias);

  /// Wall time of each stage run so far, in order (seconds).
  llvm::ArrayRef<std::pair<std::string, double>> stageSeconds() const {
    return seconds;
  }
  /// Adds a stage time measured outside (e.g. linking).
  void recordStage(llvm::StringRef name, double secondsTaken) {
    seconds.push_back({name.str(), secondsTaken});
  }

private:
  llvm::Expected<std::unique_ptr<llvm::Module>>
  translateModule(ModuleOp module, llvm::LLVMContext &llvmContext,
                  llvm::TargetMachine &machine);
  llvm::Error addDescriptor(llvm::Module &llvmModule, bool mainAlias);
  LogicalResult runStage(ModuleOp module, llvm::StringRef name,
                         llvm::function_ref<void(OpPassManager &)> build);

  MLIRContext &context;
  CompileOptions opts;
  TimingScope *timing;
  std::optional<ModelInfo> info;
  /// The Keras config text of the imported file (ModelInfo::kerasConfig).
  std::optional<std::string> kerasConfigText;
  std::optional<TrainingConfig> config;
  std::vector<std::string> notesList;
  std::string manifestText, manifestError;
  std::vector<std::pair<std::string, double>> seconds;
};

/// A model compiled in process: the JIT-compiled entry points and the
/// model descriptor that kiln_session_create (kiln/session.h) takes.
/// Owns everything `model` points to; keep it alive as long as a session
/// uses the model.
struct JitModel {
  std::unique_ptr<JitModule> jit;
  std::string manifest;
  std::vector<EntryPointAbi> abi;
  std::vector<char> initialValues;
  kiln_model_t model = {};
};

/// Compiles the forward-form `module` (verified; it is modified) with
/// `options` through every stage into a JitModel. Errors: every stage's
/// diagnostics (through the context's handler) and a message.
llvm::Expected<std::unique_ptr<JitModel>>
compileToJit(ModuleOp module, const CompileOptions &options);

/// The tensors an entry point reads, in argument order, and writes: its
/// outputs, then the arguments it updates in place (new parameters and
/// optimizer state of a training step).
struct EntryPointSignature {
  std::vector<const AbiTensor *> arguments, results;
};
EntryPointSignature getEntryPointSignature(const EntryPointAbi &abi);

/// An array owned by its holder (kiln_array_destroy).
using ArrayPtr = std::unique_ptr<kiln_array_t, void (*)(kiln_array_t *)>;

/// Runs `function` (the JIT-compiled entry point of `abi`) once on fresh
/// zeroed regions: `inputs[i]` (dtype and shape exactly those of argument
/// i of getEntryPointSignature) is copied in, and the results come back as
/// new arrays. `sources[i]` names input i in messages (e.g. its file).
/// Errors: a count, dtype or shape mismatch (naming the argument), an
/// unsupported result dtype, out of memory.
llvm::Expected<std::vector<ArrayPtr>>
runEntryPoint(EntryPoint function, const EntryPointAbi &abi,
              llvm::ArrayRef<const kiln_array_t *> inputs,
              llvm::ArrayRef<std::string> sources);

/// The compile summary kilnc prints on stderr: the model and `inputPath`,
/// parameters, training step, FLOPs, regions, `written` files with their
/// sizes, and with `verbose` the time of each stage.
void printCompileSummary(
    llvm::raw_ostream &os, const Compiler &compiler, llvm::StringRef inputPath,
    llvm::ArrayRef<EntryPointAbi> abi,
    llvm::ArrayRef<std::pair<std::string, uint64_t>> written, bool verbose);

} // namespace mlir::kiln

#endif // KILN_COMPILER_COMPILE_H
