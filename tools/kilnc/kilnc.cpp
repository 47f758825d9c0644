//===- kilnc.cpp - the kiln compiler driver -------------------------------===//
//
// kilnc compiles kiln IR into native code through the staged pipeline of
// codegen/Pipelines.h and writes any rungs of the emission ladder:
//
//   kiln -> linalg -> llvm-dialect -> llvm-ir -> asm | obj, plus header
//
// `kilnc model.mlir --emit=obj,header -o out/mlp` writes out/mlp.o and
// out/mlp.h; with a single --emit value, -o names the file itself. Without
// -o, a single text rung goes to stdout and files are named after the input.
//
// `kilnc run model.mlir --entry forward --input x.npy [--output y.npy]`
// compiles the same way, JIT-compiles in-process, feeds the .npy inputs to
// the entry point (its arguments in order: params and inputs alike) and
// prints the outputs or saves them as .npy files. The
// upstream --mlir-print-ir-after-all and --mlir-timing options apply to every
// stage. Errors name the file, line and column, and exit with status 1.
//
//===----------------------------------------------------------------------===//

#include "codegen/Emit.h"
#include "codegen/Jit.h"
#include "codegen/Manifest.h"
#include "codegen/Pipelines.h"
#include "frontend/Import.h"
#include "kiln/data.h"
#include "kiln/runtime.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

#include <chrono>
#include <cmath>
#include <cstring>

using namespace mlir;
namespace cl = llvm::cl;

namespace {
/// The rungs of the emission ladder, in pipeline order.
enum class EmitKind {
  Kiln,
  Linalg,
  LLVMDialect,
  LLVMIR,
  Asm,
  Obj,
  Header,
  Exe,
  Lib
};

cl::OptionCategory kilncCategory("kilnc options");

cl::opt<std::string> inputFilename(cl::Positional,
                                   cl::desc("<model.mlir|.onnx|.json|.keras>"),
                                   cl::init("-"), cl::cat(kilncCategory));
cl::opt<std::string> outputFilename(
    "o", cl::desc("Output file (one --emit kind) or base name (several)"),
    cl::value_desc("path"), cl::init(""), cl::cat(kilncCategory));
cl::list<EmitKind> emitKinds(
    "emit", cl::desc("What to emit (comma-separated; default exe)"),
    cl::CommaSeparated, cl::cat(kilncCategory),
    cl::values(
        clEnumValN(EmitKind::Kiln, "kiln", "verified kiln IR"),
        clEnumValN(EmitKind::Linalg, "linalg", "linalg on tensors, fused"),
        clEnumValN(EmitKind::LLVMDialect, "llvm-dialect",
                   "MLIR in the LLVM dialect"),
        clEnumValN(EmitKind::LLVMIR, "llvm-ir", "optimized LLVM IR"),
        clEnumValN(EmitKind::Asm, "asm", "target assembly"),
        clEnumValN(EmitKind::Obj, "obj", "object file"),
        clEnumValN(EmitKind::Header, "header", "C header of the interface"),
        clEnumValN(EmitKind::Exe, "exe",
                   "executable with fit/evaluate/predict/summary commands"),
        clEnumValN(EmitKind::Lib, "lib",
                   "shared library: the model, the runtime and the session "
                   "API of kiln/session.h")));
cl::opt<uint64_t> seed("seed",
                       cl::desc("Seed of the parameter initializers and of "
                                "shuffling in generated programs"),
                       cl::init(0), cl::cat(kilncCategory));
cl::opt<bool> verbose("verbose",
                      cl::desc("Print the compile summary for every output "
                               "and the time of each stage"),
                      cl::init(false), cl::cat(kilncCategory));
cl::opt<std::string>
    runtimeDir("runtime-dir",
               cl::desc("exe/lib: directory holding libkiln_main.a, "
                        "libkiln_driver.a and libkiln_runtime.a (default: "
                        "those kilnc was built with, then <kilnc>/../lib)"),
               cl::init(""), cl::cat(kilncCategory));
cl::opt<std::string> linker("linker",
                            cl::desc("exe/lib: the C++ compiler driver used to "
                                     "link (default: clang++-19, clang++, "
                                     "c++, g++ on PATH)"),
                            cl::init(""), cl::cat(kilncCategory));
cl::opt<std::string> targetCpu("target-cpu",
                               cl::desc("CPU to generate code for (default: "
                                        "the host CPU)"),
                               cl::init(""), cl::cat(kilncCategory));
cl::opt<std::string> targetTriple("target-triple",
                                  cl::desc("Target triple (default: host)"),
                                  cl::init(""), cl::cat(kilncCategory));
cl::opt<std::string> symbolPrefix(
    "name",
    cl::desc("C symbol prefix of the entry points (default: input file "
             "stem)"),
    cl::init(""), cl::cat(kilncCategory));

// Training: with --loss, kilnc runs kiln-training-pipeline first and the
// entry points are train_step, eval_step and predict.
cl::opt<std::string> lossName(
    "loss",
    cl::desc("Compile a training step with this loss (mean_squared_error, "
             "mean_absolute_error, binary_crossentropy, "
             "categorical_crossentropy, sparse_categorical_crossentropy)"),
    cl::init(""), cl::cat(kilncCategory));
cl::opt<bool> fromLogits("from-logits", cl::desc("The model outputs logits"),
                         cl::init(false), cl::cat(kilncCategory));
cl::opt<std::string> metricsList("metrics", cl::desc("Comma-separated metrics"),
                                 cl::init(""), cl::cat(kilncCategory));
cl::opt<std::string> optimizerSpec(
    "optimizer",
    cl::desc("NAME[:key=value,...], e.g. adam:beta_1=0.9,epsilon=1e-7 "
             "(sgd, rmsprop, adam, adamw, adagrad; keys as in "
             "kiln-training-pipeline)"),
    cl::init("sgd"), cl::cat(kilncCategory));
cl::opt<std::string> convention("convention",
                                cl::desc("Optimizer formulas: keras or "
                                         "pytorch"),
                                cl::init("keras"), cl::cat(kilncCategory));

// Options of the model importers (.onnx, .json/.keras inputs).
cl::opt<int64_t>
    batchSize("batch-size",
              cl::desc("Imported models: the size of a dynamic leading (batch) "
                       "dimension of the inputs"),
              cl::init(0), cl::cat(kilncCategory));

// Options of `kilnc run`.
cl::opt<std::string> runEntry("entry",
                              cl::desc("run: entry point (function name)"),
                              cl::init("forward"), cl::cat(kilncCategory));
cl::list<std::string>
    runInputs("input", cl::desc("run: .npy file for each argument, in order"),
              cl::value_desc("file.npy"), cl::cat(kilncCategory));
cl::list<std::string>
    runOutputs("output",
               cl::desc("run: .npy file for each result, then for each "
                        "argument updated in place, in order (default: "
                        "print)"),
               cl::value_desc("file.npy"), cl::cat(kilncCategory));

const char *extensionFor(EmitKind kind) {
  switch (kind) {
  case EmitKind::Kiln:
    return ".kiln.mlir";
  case EmitKind::Linalg:
    return ".linalg.mlir";
  case EmitKind::LLVMDialect:
    return ".llvm.mlir";
  case EmitKind::LLVMIR:
    return ".ll";
  case EmitKind::Asm:
    return ".s";
  case EmitKind::Obj:
    return ".o";
  case EmitKind::Header:
    return ".h";
  case EmitKind::Exe:
    return "";
  case EmitKind::Lib:
    return ".so";
  }
  return "";
}

/// A C identifier made from `text` ("my-model" -> "my_model").
std::string cIdentifier(StringRef text) {
  std::string id;
  for (char c : text)
    id += llvm::isAlnum(c) ? c : '_';
  if (id.empty() || llvm::isDigit(id.front()))
    id.insert(id.begin(), '_');
  return id;
}

/// Compiles one input; every failure has already been reported when it
/// returns failure.
class Driver {
public:
  Driver(MLIRContext &context, llvm::SourceMgr &sourceMgr, TimingScope &timing)
      : context(context), sourceMgr(sourceMgr), timing(timing) {}

  /// Compiles for the emission ladder (`kilnc MODEL --emit=...`).
  LogicalResult run();
  /// Compiles, JIT-runs one entry point on .npy inputs (`kilnc run`).
  LogicalResult runJit();

private:
  /// Parses and verifies the input; null after a reported error.
  OwningOpRef<ModuleOp> parseAndVerify();
  /// Runs the training pipeline when --loss or a Keras compile_config asks
  /// for a training step; otherwise leaves the module as it is.
  LogicalResult applyTraining(ModuleOp module);
  /// Gives every entry point its C symbol; fails without entry points or on
  /// colliding names.
  LogicalResult renameEntryPoints(ModuleOp module);
  bool wants(EmitKind kind) const {
    return llvm::is_contained(emitKinds, kind);
  }
  /// The file a rung goes to.
  std::string outputPathFor(EmitKind kind) const;
  /// Fails (with a message) when an output would replace the input model or
  /// something that is not a regular file.
  LogicalResult checkOutputs() const;
  LogicalResult runStage(ModuleOp module, StringRef name,
                         function_ref<void(OpPassManager &)> build);
  LogicalResult writeText(EmitKind kind,
                          function_ref<void(llvm::raw_ostream &)> write);
  std::string prefix() const;
  /// Links `object` (the model's machine code) with the driver and runtime
  /// archives into an executable (Exe) or a shared library (Lib).
  LogicalResult link(EmitKind kind, llvm::ArrayRef<char> object);
  /// The compile summary on stderr: parameters, FLOPs, regions, outputs
  /// (and stage times with --verbose).
  void printSummary(llvm::ArrayRef<kiln::EntryPointAbi> abi);

  MLIRContext &context;
  llvm::SourceMgr &sourceMgr;
  TimingScope &timing;
  /// Files written so far; kept only when the whole compilation succeeds,
  /// so a failure leaves no partial set of outputs behind.
  SmallVector<std::unique_ptr<llvm::ToolOutputFile>> pending;
  /// Linked outputs, written to temporary names: (temporary, final).
  SmallVector<std::pair<std::string, std::string>> pendingLinks;
  /// The manifest's parts (when an object file is produced for a model).
  std::optional<kiln::ModelInfo> modelInfo;
  /// Wall time of each stage, for --verbose.
  SmallVector<std::pair<std::string, double>> stageSeconds;
  /// Bytes of each linked output, for the summary.
  SmallVector<std::pair<std::string, uint64_t>> writtenFiles;

public:
  /// Keeps every output file (call after success).
  LogicalResult commitOutputs() {
    for (auto &file : pending)
      file->keep();
    for (auto &[temporary, path] : pendingLinks)
      if (std::error_code ec = llvm::sys::fs::rename(temporary, path)) {
        llvm::errs() << "kilnc: error: cannot write '" << path
                     << "': " << ec.message() << "\n";
        llvm::sys::fs::remove(temporary);
        return failure();
      }
    pendingLinks.clear();
    return success();
  }
  ~Driver() {
    for (auto &link : pendingLinks)
      llvm::sys::fs::remove(link.first);
  }
};

std::string Driver::prefix() const {
  if (!symbolPrefix.empty())
    return cIdentifier(symbolPrefix);
  if (inputFilename == "-")
    return "model";
  return cIdentifier(llvm::sys::path::stem(inputFilename));
}

std::string Driver::outputPathFor(EmitKind kind) const {
  bool single = emitKinds.size() == 1;
  if (!outputFilename.empty())
    return single ? outputFilename.getValue()
                  : outputFilename + extensionFor(kind);
  // Without -o: one text rung goes to stdout; an object file, or several
  // rungs, go to files named after the input.
  if (single && kind != EmitKind::Obj && kind != EmitKind::Exe &&
      kind != EmitKind::Lib)
    return "-";
  return prefix() + extensionFor(kind);
}

LogicalResult Driver::checkOutputs() const {
  // No output may replace the model file itself.
  for (EmitKind kind : emitKinds) {
    std::string path = outputPathFor(kind);
    if (path == "-")
      continue;
    if (inputFilename != "-" &&
        llvm::sys::fs::equivalent(path, inputFilename)) {
      llvm::errs() << "kilnc: error: the output " << path
                   << " is the input model; choose another -o\n";
      return failure();
    }
    // Text and object rungs are written in place (so -o /dev/null works);
    // executables and libraries are linked to a temporary name and renamed,
    // which would replace a device or a FIFO.
    if (kind != EmitKind::Exe && kind != EmitKind::Lib)
      continue;
    llvm::sys::fs::file_status status;
    if (!llvm::sys::fs::status(path, status) && llvm::sys::fs::exists(status) &&
        !llvm::sys::fs::is_regular_file(status)) {
      llvm::errs() << "kilnc: error: cannot write '" << path
                   << "': it exists and is not a regular file\n";
      return failure();
    }
  }
  return success();
}

LogicalResult Driver::runStage(ModuleOp module, StringRef name,
                               function_ref<void(OpPassManager &)> build) {
  PassManager pm(&context);
  if (failed(applyPassManagerCLOptions(pm)))
    return failure();
  TimingScope stageTiming = timing.nest(name);
  pm.enableTiming(stageTiming);
  build(pm);
  auto start = std::chrono::steady_clock::now();
  LogicalResult result = pm.run(module);
  stageSeconds.push_back(
      {name.str(),
       std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
           .count()});
  return result;
}

LogicalResult Driver::writeText(EmitKind kind,
                                function_ref<void(llvm::raw_ostream &)> write) {
  std::string error;
  std::string path = outputPathFor(kind);
  std::unique_ptr<llvm::ToolOutputFile> file = openOutputFile(path, &error);
  if (!file) {
    llvm::errs() << "kilnc: error: " << error << "\n";
    return failure();
  }
  write(file->os());
  pending.push_back(std::move(file));
  return success();
}

LogicalResult Driver::renameEntryPoints(ModuleOp module) {
  // Entry points get C names `<prefix>_<name>` (the function name made a C
  // identifier) before the region ABI is recorded; two names that become
  // the same identifier are an error.
  llvm::StringMap<StringRef> taken;
  SmallVector<std::pair<func::FuncOp, std::string>> renames;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (!func.isPublic() || func.isExternal())
      continue;
    std::string symbol = prefix() + "_" + cIdentifier(func.getSymName());
    auto [it, inserted] = taken.try_emplace(symbol, func.getSymName());
    if (!inserted)
      return func.emitError("entry points @")
             << it->second << " and @" << func.getSymName()
             << " would both be the C function '" << symbol << "'";
    renames.push_back({func, symbol});
  }
  if (renames.empty())
    return mlir::emitError(module.getLoc(),
                           "no entry point: the module has no public "
                           "function with a body");
  for (auto &[func, symbol] : renames)
    SymbolTable::setSymbolName(func, symbol);
  return success();
}

/// The kiln-training-pipeline option string of the command line, e.g.
/// "loss=mse optimizer=adam beta_1=0.8 convention=keras".
std::string trainingOptions() {
  std::string text = "loss=" + lossName.getValue();
  if (fromLogits)
    text += " from_logits=1";
  if (!metricsList.empty())
    text += " metrics=" + metricsList.getValue();
  StringRef spec = optimizerSpec;
  auto [name, rest] = spec.split(':');
  text += " optimizer=" + name.str();
  // learning_rate is a runtime argument of train_step: it becomes the
  // generated program's default (applyTraining reads it), not an option.
  for (StringRef item : llvm::split(rest, ','))
    if (!item.trim().empty() && !item.trim().starts_with("learning_rate="))
      text += " " + item.trim().str();
  text += " convention=" + convention.getValue();
  return text;
}

/// The training options a Keras model's `kiln.compile_config` asks for (the
/// Keras importer records it): loss, from_logits, metrics, the optimizer and
/// its hyperparameters. The learning rate is a runtime argument, so
/// `learning_rate` is not a compile option; settings kiln does not have
/// (amsgrad, EMA, ...) must be off. Errors name the key.
FailureOr<std::string> trainingOptionsFromCompileConfig(DictionaryAttr config,
                                                        Location loc) {
  auto fail = [&](const Twine &message) {
    return mlir::emitError(loc, "kiln.compile_config: ") << message;
  };
  auto loss = config.getAs<StringAttr>("loss");
  if (!loss)
    return fail("no loss name"), failure();
  std::string text = "loss=" + loss.str();
  if (auto lossConfig = config.getAs<DictionaryAttr>("loss_config"))
    if (auto logits = lossConfig.getAs<BoolAttr>("from_logits"))
      if (logits.getValue())
        text += " from_logits=1";
  if (auto metrics = config.getAs<ArrayAttr>("metrics")) {
    std::string list;
    for (Attribute m : metrics)
      if (auto name = dyn_cast<StringAttr>(m))
        list += (list.empty() ? "" : ",") + name.str();
    if (!list.empty())
      text += " metrics=" + list;
  }
  if (auto optimizer = config.getAs<StringAttr>("optimizer"))
    text += " optimizer=" + optimizer.str();
  if (auto options = config.getAs<DictionaryAttr>("optimizer_config")) {
    static const char *const passed[] = {"beta_1",
                                         "beta_2",
                                         "epsilon",
                                         "momentum",
                                         "nesterov",
                                         "rho",
                                         "centered",
                                         "weight_decay",
                                         "clipvalue",
                                         "global_clipnorm",
                                         "initial_accumulator_value"};
    static const char *const ignored[] = {"name",
                                          "learning_rate",
                                          "ema_momentum",
                                          "ema_overwrite_frequency",
                                          "loss_scale_factor",
                                          "gradient_accumulation_steps"};
    for (NamedAttribute option : options) {
      StringRef key = option.getName().getValue();
      Attribute value = option.getValue();
      if (llvm::is_contained(ignored, key))
        continue;
      bool off = isa<UnitAttr>(value) ||
                 (isa<BoolAttr>(value) && !cast<BoolAttr>(value).getValue());
      if (llvm::is_contained(passed, key)) {
        if (auto f = dyn_cast<FloatAttr>(value))
          // Full precision: std::to_string would print 1e-7 as "0.000000".
          text += " " + key.str() + "=" +
                  llvm::formatv("{0:e16}", f.getValueAsDouble()).str();
        else if (auto i = dyn_cast<IntegerAttr>(value))
          text += " " + key.str() + "=" + std::to_string(i.getInt());
        else if (auto flag = dyn_cast<BoolAttr>(value))
          text += " " + key.str() + "=" + (flag.getValue() ? "1" : "0");
        continue;
      }
      if (off)
        continue;
      // e.g. amsgrad = true, use_ema = true, clipnorm (per variable).
      return fail("optimizer option '" + key +
                  "' is not supported by kiln (give --loss and --optimizer "
                  "to choose the training step yourself)"),
             failure();
    }
  }
  return text;
}

LogicalResult Driver::applyTraining(ModuleOp module) {
  // Training: the same pipeline function kiln-opt registers as
  // kiln-training-pipeline. With --loss the command line describes the whole
  // training step; otherwise a Keras model's compile_config does, and
  // --optimizer, --metrics and --from-logits replace its parts.
  auto given = [](const cl::Option &option) {
    return option.getNumOccurrences() > 0;
  };
  if (given(lossName) && lossName.empty()) {
    llvm::errs() << "kilnc: error: --loss needs a loss name\n";
    return failure();
  }
  // --optimizer=NAME:key=value,...: name the unknown keys here rather than
  // leave them to the pass-option parser.
  {
    static const char *const known[] = {
        "learning_rate", "momentum",
        "nesterov",      "rho",
        "centered",      "beta_1",
        "beta_2",        "epsilon",
        "weight_decay",  "initial_accumulator_value",
        "clipvalue",     "global_clipnorm"};
    for (StringRef item :
         llvm::split(StringRef(optimizerSpec).split(':').second, ',')) {
      StringRef key = item.trim().split('=').first;
      if (item.trim().empty())
        continue;
      if (!llvm::is_contained(known, key) || !item.contains('=')) {
        llvm::errs() << "kilnc: error: --optimizer: unknown setting '"
                     << item.trim() << "' (known: "
                     << llvm::join(ArrayRef<const char *>(known), ", ")
                     << "; each as key=value)\n";
        return failure();
      }
    }
  }
  std::string text;
  bool optimizerFromCommandLine = !lossName.empty() || given(optimizerSpec);
  if (!lossName.empty()) {
    text = trainingOptions();
  } else if (auto config =
                 kiln::getOpAttr<kiln::KilnDialect::CompileConfigAttrHelper>(
                     module)) {
    FailureOr<std::string> fromConfig =
        trainingOptionsFromCompileConfig(config, module.getLoc());
    if (failed(fromConfig))
      return failure();
    // Merge: keep the config's loss; the command line's optimizer (with its
    // hyperparameters), metrics and from_logits win.
    SmallVector<std::string> tokens;
    for (StringRef token : llvm::split(*fromConfig, ' ')) {
      StringRef key = token.split('=').first;
      if (token.empty() || key == "convention")
        continue;
      bool isOptimizer = key != "loss" && key != "from_logits" &&
                         key != "metrics" && key != "stable_losses";
      if ((isOptimizer && given(optimizerSpec)) ||
          (key == "metrics" && given(metricsList)) ||
          (key == "from_logits" && given(fromLogits)))
        continue;
      tokens.push_back(token.str());
    }
    if (given(optimizerSpec)) {
      auto [name, rest] = StringRef(optimizerSpec).split(':');
      tokens.push_back("optimizer=" + name.str());
      for (StringRef item : llvm::split(rest, ','))
        if (!item.trim().empty() && !item.trim().starts_with("learning_rate="))
          tokens.push_back(item.trim().str());
    }
    if (given(metricsList) && !metricsList.empty())
      tokens.push_back("metrics=" + metricsList.getValue());
    if (given(fromLogits) && fromLogits)
      tokens.push_back("from_logits=1");
    tokens.push_back("convention=" + convention.getValue());
    text = llvm::join(tokens, " ");
  } else {
    for (const cl::Option *option :
         {static_cast<const cl::Option *>(&optimizerSpec),
          static_cast<const cl::Option *>(&metricsList),
          static_cast<const cl::Option *>(&fromLogits)})
      if (given(*option)) {
        llvm::errs() << "kilnc: error: --" << option->ArgStr
                     << " configures the training step, but the model has no "
                        "compile_config; give --loss too\n";
        return failure();
      }
    return success();
  }
  auto options = kiln::TrainingPipelineOptions::createFromString(text);
  if (!options) {
    llvm::errs() << "kilnc: error: invalid training options '" << text << "'\n";
    return failure();
  }
  // The learning rate: a runtime argument whose default the program keeps.
  // The command line's optimizer brings its own (or the optimizer's Keras
  // default), never the compile_config's.
  if (optimizerFromCommandLine && modelInfo)
    modelInfo->learningRate.reset();
  if (optimizerFromCommandLine)
    for (StringRef item :
         llvm::split(StringRef(optimizerSpec).split(':').second, ',')) {
      StringRef value = item.trim();
      if (value.consume_front("learning_rate=")) {
        double lr = 0;
        if (value.getAsDouble(lr) || !(lr > 0) || !std::isfinite(lr)) {
          llvm::errs() << "kilnc: error: --optimizer: learning_rate must be a "
                          "positive number, got '"
                       << value << "'\n";
          return failure();
        }
        if (modelInfo)
          modelInfo->learningRate = lr;
      }
    }
  if (modelInfo && modelInfo->learningRate &&
      !(std::isfinite(*modelInfo->learningRate) &&
        *modelInfo->learningRate > 0)) {
    llvm::errs() << "kilnc: error: the learning rate "
                 << *modelInfo->learningRate
                 << " is not a finite positive number\n";
    return failure();
  }
  if (modelInfo && !optimizerFromCommandLine)
    for (const std::string &note : modelInfo->notes)
      llvm::errs() << "kilnc: warning: " << note << "\n";
  if (modelInfo) {
    modelInfo->loss = options->loss;
    modelInfo->fromLogits = options->fromLogits;
    modelInfo->optimizer = options->optimizer;
    modelInfo->convention = options->convention;
    modelInfo->metrics.clear();
    for (StringRef m : llvm::split(StringRef(options->metrics), ','))
      if (!m.trim().empty())
        modelInfo->metrics.push_back(m.trim().str());
  }
  if (failed(runStage(module, "kiln-training-pipeline", [&](OpPassManager &pm) {
        kiln::buildTrainingPipeline(pm, *options);
      })))
    return failure();
  return success();
}

OwningOpRef<ModuleOp> Driver::parseAndVerify() {
  OwningOpRef<ModuleOp> module;
  {
    TimingScope parseTiming = timing.nest("parse");
    StringRef extension = llvm::sys::path::extension(inputFilename);
    kiln::ImportOptions options;
    if (batchSize > 0)
      options.batchSize = batchSize;
    if (extension == ".onnx")
      module = kiln::importOnnxModel(inputFilename, &context, options);
    else if (extension == ".json" || extension == ".keras")
      module = kiln::importKerasModel(inputFilename, &context, options);
    else
      module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  }
  if (!module)
    return nullptr;
  // Rung 0: the kiln contract of the frontend stage.
  if (failed(runStage(*module, "verify", [](OpPassManager &pm) {
        pm.addPass(kiln::createKilnVerifyStagePass());
      })))
    return nullptr;
  return module;
}

LogicalResult Driver::run() {
  if (failed(checkOutputs()))
    return failure();
  OwningOpRef<ModuleOp> module = parseAndVerify();
  if (!module)
    return failure();
  // Object code carries the model descriptor (kiln/model.h) when the module
  // is one model; programs and libraries require it.
  bool linked = wants(EmitKind::Exe) || wants(EmitKind::Lib);
  if (linked || wants(EmitKind::Obj) || wants(EmitKind::Asm) ||
      wants(EmitKind::LLVMIR) || wants(EmitKind::Header)) {
    llvm::Expected<kiln::ModelInfo> info = kiln::collectForwardInfo(
        *module, llvm::sys::path::filename(inputFilename));
    if (info) {
      modelInfo = std::move(*info);
    } else if (linked) {
      llvm::errs() << "kilnc: error: " << inputFilename << ": "
                   << llvm::toString(info.takeError()) << "\n";
      return failure();
    } else {
      llvm::consumeError(info.takeError());
    }
  }
  if (wants(EmitKind::Kiln) &&
      failed(writeText(EmitKind::Kiln,
                       [&](llvm::raw_ostream &os) { module->print(os); })))
    return failure();

  // The furthest rung of the pipeline needed; the header is a side output of
  // the bufferization stage.
  EmitKind last = EmitKind::Kiln;
  for (EmitKind kind : emitKinds)
    last = std::max(last, kind == EmitKind::Header ? EmitKind::Linalg : kind);
  if (last == EmitKind::Kiln)
    return success();
  // `--emit=kiln` shows the model as imported (the forward form); the
  // training step is derived from it here.
  if (failed(applyTraining(*module)))
    return failure();
  // A model compiled without a loss is a predict function: inference mode
  // (dropout off, as Keras outside fit), like the @predict of a training
  // build.
  if (modelInfo && !module->lookupSymbol("train_step") &&
      failed(runStage(*module, "kiln-inference-form", [](OpPassManager &pm) {
        pm.addPass(kiln::createKilnInferenceFormPass());
      })))
    return failure();
  if (modelInfo)
    kiln::collectTrainingInfo(*module, *modelInfo);

  if (failed(runStage(*module, "kiln-lower-to-linalg",
                      kiln::buildKilnToLinalgPipeline)))
    return failure();
  if (wants(EmitKind::Linalg) &&
      failed(writeText(EmitKind::Linalg,
                       [&](llvm::raw_ostream &os) { module->print(os); })))
    return failure();
  if (last == EmitKind::Linalg && !wants(EmitKind::Header))
    return success();

  if (failed(renameEntryPoints(*module)))
    return failure();
  std::string p = prefix();

  if (failed(runStage(*module, "kiln-bufferize", kiln::buildBufferizePipeline)))
    return failure();
  llvm::Expected<std::vector<kiln::EntryPointAbi>> abi =
      kiln::collectAbi(*module);
  if (!abi) {
    llvm::errs() << "kilnc: error: " << llvm::toString(abi.takeError()) << "\n";
    return failure();
  }
  std::string manifest;
  if (modelInfo) {
    llvm::Expected<std::string> built =
        kiln::buildManifest(*modelInfo, *abi, p, seed);
    if (built && wants(EmitKind::Exe)) {
      // The generated program feeds one input and writes one output;
      // other models are embedded (--emit=obj,header or lib) instead.
      for (const kiln::EntryPointAbi &e : *abi) {
        if (e.symbol != p + "_predict" &&
            !(abi->size() == 1 && modelInfo->loss.empty()))
          continue;
        int inputs = 0, outputs = 0;
        for (const kiln::AbiTensor &t : e.tensors) {
          inputs += t.kind == KILN_TENSOR_INPUT;
          outputs += t.kind == KILN_TENSOR_OUTPUT;
        }
        if (inputs != 1 || outputs != 1) {
          llvm::errs() << "kilnc: error: " << inputFilename
                       << ": the model has " << inputs << " input(s) and "
                       << outputs
                       << " output(s); a generated program (--emit=exe) "
                          "handles one of each. Embed the model instead "
                          "(--emit=obj,header or --emit=lib) and feed its "
                          "entry points yourself\n";
          return failure();
        }
      }
    }
    if (built) {
      manifest = std::move(*built);
    } else if (linked) {
      llvm::errs() << "kilnc: error: " << inputFilename << ": "
                   << llvm::toString(built.takeError()) << "\n";
      return failure();
    } else {
      llvm::consumeError(built.takeError());
      modelInfo.reset();
    }
  }
  if (wants(EmitKind::Header)) {
    std::string header;
    llvm::raw_string_ostream headerStream(header);
    if (llvm::Error err =
            kiln::emitHeader(*abi, p, llvm::sys::path::filename(inputFilename),
                             modelInfo.has_value(), headerStream)) {
      llvm::errs() << "kilnc: error: " << llvm::toString(std::move(err))
                   << "\n";
      return failure();
    }
    if (failed(writeText(EmitKind::Header,
                         [&](llvm::raw_ostream &os) { os << header; })))
      return failure();
  }
  if (last == EmitKind::Linalg)
    return success();

  if (failed(runStage(*module, "kiln-lower-to-llvm",
                      kiln::buildLowerToLLVMPipeline)))
    return failure();
  if (wants(EmitKind::LLVMDialect) &&
      failed(writeText(EmitKind::LLVMDialect,
                       [&](llvm::raw_ostream &os) { module->print(os); })))
    return failure();
  if (last == EmitKind::LLVMDialect)
    return success();

  auto machine = kiln::createTargetMachine({targetTriple, targetCpu});
  if (!machine) {
    llvm::errs() << "kilnc: error: " << llvm::toString(machine.takeError())
                 << "\n";
    return failure();
  }
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule;
  {
    TimingScope llvmTiming = timing.nest("llvm-translate-and-optimize");
    auto translated =
        kiln::translateAndOptimize(*module, llvmContext, **machine);
    if (!translated) {
      llvm::errs() << "kilnc: error: " << llvm::toString(translated.takeError())
                   << "\n";
      return failure();
    }
    llvmModule = std::move(*translated);
  }
  if (modelInfo)
    if (llvm::Error err = kiln::addModelDescriptor(*llvmModule, p, manifest,
                                                   modelInfo->initialValues,
                                                   wants(EmitKind::Exe))) {
      llvm::errs() << "kilnc: error: " << llvm::toString(std::move(err))
                   << "\n";
      return failure();
    }
  if (wants(EmitKind::LLVMIR) &&
      failed(writeText(EmitKind::LLVMIR, [&](llvm::raw_ostream &os) {
        llvmModule->print(os, nullptr);
      })))
    return failure();

  SmallString<0> object;
  for (EmitKind kind : {EmitKind::Asm, EmitKind::Obj}) {
    if (!wants(kind) && !(kind == EmitKind::Obj && linked))
      continue;
    TimingScope codegenTiming = timing.nest("llvm-codegen");
    // Emit into memory: object writers seek, which a pipe cannot.
    SmallString<0> buffer;
    llvm::raw_svector_ostream stream(buffer);
    if (llvm::Error err = kiln::emitMachineCode(
            *llvmModule, **machine, kind == EmitKind::Obj, stream)) {
      llvm::errs() << "kilnc: error: " << llvm::toString(std::move(err))
                   << "\n";
      return failure();
    }
    if (wants(kind) && failed(writeText(kind, [&](llvm::raw_ostream &os) {
          os.write(buffer.data(), buffer.size());
        })))
      return failure();
    if (kind == EmitKind::Obj)
      object = std::move(buffer);
  }
  for (EmitKind kind : {EmitKind::Exe, EmitKind::Lib})
    if (wants(kind) && failed(link(kind, object)))
      return failure();
  if (linked || verbose)
    printSummary(*abi);
  return success();
}

/// The archive `name` (e.g. "libkiln_driver.a"): in --runtime-dir, where
/// kilnc's build put it, or in <kilnc dir>/../lib.
static std::optional<std::string> findArchive(StringRef name,
                                              StringRef builtPath) {
  SmallVector<std::string> candidates;
  if (!runtimeDir.empty()) {
    candidates.push_back((runtimeDir + "/" + name).str());
  } else {
    candidates.push_back(builtPath.str());
    std::string self = llvm::sys::fs::getMainExecutable(
        nullptr, reinterpret_cast<void *>(&findArchive));
    SmallString<256> lib(
        llvm::sys::path::parent_path(llvm::sys::path::parent_path(self)));
    llvm::sys::path::append(lib, "lib", name);
    candidates.push_back(lib.str().str());
  }
  for (const std::string &path : candidates)
    if (llvm::sys::fs::exists(path))
      return path;
  return std::nullopt;
}

LogicalResult Driver::link(EmitKind kind, ArrayRef<char> object) {
  auto fail = [](const Twine &message) {
    llvm::errs() << "kilnc: error: " << message << "\n";
    return failure();
  };
  // The archives, in link order.
  SmallVector<std::pair<StringRef, StringRef>> wanted;
  if (kind == EmitKind::Exe)
    wanted.push_back({"libkiln_main.a", KILN_MAIN_ARCHIVE});
  wanted.push_back({"libkiln_driver.a", KILN_DRIVER_ARCHIVE});
  wanted.push_back({"libkiln_runtime.a", KILN_RUNTIME_ARCHIVE});
  SmallVector<std::string> archives;
  for (auto [name, built] : wanted) {
    std::optional<std::string> path = findArchive(name, built);
    if (!path)
      return fail("cannot find " + name +
                  (runtimeDir.empty() ? Twine(" (give --runtime-dir)")
                                      : " in " + runtimeDir));
    archives.push_back(*path);
  }
  std::string linkerPath = linker;
  if (!linkerPath.empty() && !llvm::StringRef(linkerPath).contains('/')) {
    // A bare name is looked up on PATH, as a shell would.
    auto found = llvm::sys::findProgramByName(linkerPath);
    if (!found)
      return fail("--linker: no program '" + linker + "' on PATH");
    linkerPath = *found;
  }
  if (linkerPath.empty()) {
    for (StringRef candidate : {"clang++-19", "clang++", "c++", "g++"})
      if (auto found = llvm::sys::findProgramByName(candidate)) {
        linkerPath = *found;
        break;
      }
    if (linkerPath.empty())
      return fail("no C++ compiler driver to link with (clang++-19, clang++, "
                  "c++ or g++ on PATH); give --linker");
  }

  // The object goes to a temporary file that is removed afterwards.
  SmallString<128> objectPath;
  int fd = -1;
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
          "kilnc-" + prefix(), "o", fd, objectPath))
    return fail("cannot create a temporary file: " + ec.message());
  llvm::FileRemover removeObject(objectPath);
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os.write(object.data(), object.size());
    if (os.has_error())
      return fail("cannot write " + objectPath + ": " + os.error().message());
  }

  std::string path = outputPathFor(kind);
  // checkOutputs has refused a directory or a device at `path`. A unique
  // temporary name never replaces an existing file.
  SmallString<256> temporaryName;
  llvm::sys::fs::createUniquePath(path + ".kilnc-tmp-%%%%%%", temporaryName,
                                  /*MakeAbsolute=*/false);
  std::string temporary = temporaryName.str().str();
  SmallVector<std::string> args = {linkerPath, "-o", temporary};
  if (kind == EmitKind::Lib)
    args.push_back("-shared");
  args.push_back(objectPath.str().str());
  if (kind == EmitKind::Lib)
    args.push_back("-Wl,--whole-archive");
  args.append(archives.begin(), archives.end());
  if (kind == EmitKind::Lib)
    args.push_back("-Wl,--no-whole-archive");
  args.append({"-pthread", "-lm"});
  SmallVector<StringRef> argRefs(args.begin(), args.end());
  std::string message;
  auto start = std::chrono::steady_clock::now();
  int status = llvm::sys::ExecuteAndWait(linkerPath, argRefs, std::nullopt, {},
                                         0, 0, &message);
  stageSeconds.push_back({"link", std::chrono::duration<double>(
                                      std::chrono::steady_clock::now() - start)
                                      .count()});
  if (status != 0) {
    llvm::sys::fs::remove(temporary);
    std::string command = llvm::join(args, " ");
    return fail("linking failed (status " + Twine(status) + ")" +
                (message.empty() ? "" : ": " + message) + "\n  " + command);
  }
  pendingLinks.push_back({temporary, path});
  uint64_t size = 0;
  llvm::sys::fs::file_size(temporary, size);
  writtenFiles.push_back({path, size});
  return success();
}

/// "1.5 MiB", "300 B".
static std::string bytesText(uint64_t bytes) {
  if (bytes < 1024)
    return std::to_string(bytes) + " B";
  const char *units[] = {"KiB", "MiB", "GiB"};
  double value = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (value >= 1024 && unit < 2) {
    value /= 1024;
    ++unit;
  }
  return llvm::formatv("{0:f1} {1}", value, units[unit]).str();
}

void Driver::printSummary(ArrayRef<kiln::EntryPointAbi> abi) {
  llvm::raw_ostream &os = llvm::errs();
  std::string name = modelInfo && !modelInfo->modelName.empty()
                         ? modelInfo->modelName
                         : prefix();
  os << "kilnc: model '" << name << "' from " << inputFilename << " (C symbols "
     << prefix() << "_*)\n";
  if (modelInfo) {
    int64_t total = 0, trainable = 0, bytes = 0;
    for (const kiln::ManifestParam &p : modelInfo->params) {
      int64_t count = 1;
      for (int64_t d : p.shape)
        count *= d;
      total += count;
      trainable += p.trainable ? count : 0;
      bytes += count * (p.dtype == "f64" || p.dtype == "i64" ? 8 : 4);
    }
    os << llvm::formatv("  parameters   {0} ({1} trainable), {2}\n", total,
                        trainable, bytesText(bytes));
    if (!modelInfo->loss.empty())
      os << llvm::formatv("  training     {0}, {1}\n", modelInfo->loss,
                          modelInfo->optimizer);
    if (!modelInfo->loss.empty())
      os << llvm::formatv("  FLOPs        {0:e2} per train step, {1:e2} per "
                          "predict batch\n",
                          modelInfo->trainStepFlops, modelInfo->predictFlops);
    else
      os << llvm::formatv("  FLOPs        {0:e2} per batch\n",
                          modelInfo->predictFlops);
  }
  uint64_t params = 0, state = 0, io = 0, scratch = 0;
  for (const kiln::EntryPointAbi &e : abi) {
    params = std::max<uint64_t>(params, e.paramsSize);
    state = std::max<uint64_t>(state, e.optStateSize);
    io = std::max<uint64_t>(io, e.ioSize);
    scratch = std::max<uint64_t>(scratch, e.scratchSize);
  }
  os << "  regions      params " << bytesText(params) << ", opt_state "
     << bytesText(state) << ", io " << bytesText(io) << ", scratch "
     << bytesText(scratch) << "\n";
  for (auto &[path, size] : writtenFiles)
    os << "  wrote        " << path << " (" << bytesText(size) << ")\n";
  if (verbose)
    for (auto &[name, seconds] : stageSeconds)
      os << llvm::formatv("  {0,-26} {1:f3} s\n", name, seconds);
}

/// kiln dtype names of the ABI ("f32") as runtime array dtypes.
std::optional<kiln_dtype_t> toArrayDType(StringRef dtype) {
  return llvm::StringSwitch<std::optional<kiln_dtype_t>>(dtype)
      .Case("f32", KILN_DTYPE_F32)
      .Case("f64", KILN_DTYPE_F64)
      .Case("i32", KILN_DTYPE_I32)
      .Case("i64", KILN_DTYPE_I64)
      .Case("i1", KILN_DTYPE_BOOL)
      .Default(std::nullopt);
}

/// Prints `array` as "name: f32[2, 3] = [v0, v1, ...]" with round-trip
/// precision.
void printArray(llvm::raw_ostream &os, StringRef name,
                const kiln_array_t &array) {
  os << name << ": " << kiln_dtype_name(array.dtype) << "[";
  for (int32_t i = 0; i < array.rank; ++i)
    os << (i ? ", " : "") << array.shape[i];
  os << "] = [";
  int64_t count = kiln_array_element_count(&array);
  for (int64_t i = 0; i < count; ++i) {
    if (i)
      os << ", ";
    switch (array.dtype) {
    case KILN_DTYPE_F32:
      os << llvm::format("%.9g", static_cast<const float *>(array.data)[i]);
      break;
    case KILN_DTYPE_F64:
      os << llvm::format("%.17g", static_cast<const double *>(array.data)[i]);
      break;
    case KILN_DTYPE_I32:
      os << static_cast<const int32_t *>(array.data)[i];
      break;
    case KILN_DTYPE_I64:
      os << static_cast<const int64_t *>(array.data)[i];
      break;
    default:
      os << static_cast<int>(static_cast<const uint8_t *>(array.data)[i]);
      break;
    }
  }
  os << "]\n";
}

LogicalResult Driver::runJit() {
  OwningOpRef<ModuleOp> module = parseAndVerify();
  if (!module || failed(applyTraining(*module)))
    return failure();
  auto fail = [](const llvm::Twine &message) {
    llvm::errs() << "kilnc run: error: " << message << "\n";
    return failure();
  };
  auto entryFunc = module->lookupSymbol<func::FuncOp>(runEntry);
  if (!entryFunc || entryFunc.isExternal()) {
    std::string known;
    for (auto func : module->getOps<func::FuncOp>())
      if (!func.isExternal())
        known += (known.empty() ? "@" : ", @") + func.getSymName().str();
    return fail("no function @" + runEntry + " with a body in " +
                inputFilename + " (functions: " + known + ")");
  }
  std::string symbol = prefix() + "_" + runEntry;
  if (failed(runStage(*module, "kiln-lower-to-linalg",
                      kiln::buildKilnToLinalgPipeline)))
    return failure();
  if (failed(renameEntryPoints(*module)))
    return failure();
  if (failed(runStage(*module, "kiln-bufferize", kiln::buildBufferizePipeline)))
    return failure();
  llvm::Expected<std::vector<kiln::EntryPointAbi>> abis =
      kiln::collectAbi(*module);
  if (!abis)
    return fail(llvm::toString(abis.takeError()));
  const kiln::EntryPointAbi *abi = nullptr;
  for (const kiln::EntryPointAbi &candidate : *abis)
    if (candidate.symbol == symbol)
      abi = &candidate;
  if (!abi)
    return fail("no interface recorded for @" + runEntry);
  if (failed(runStage(*module, "kiln-lower-to-llvm",
                      kiln::buildLowerToLLVMPipeline)))
    return failure();
  auto jit = kiln::JitModule::create(*module);
  if (!jit)
    return fail(llvm::toString(jit.takeError()));
  auto entry = (*jit)->lookup(symbol);
  if (!entry)
    return fail(llvm::toString(entry.takeError()));

  // Results: the outputs, then the arguments the entry point updates in
  // place (new parameters and optimizer state of a training step).
  SmallVector<const kiln::AbiTensor *> arguments, results;
  for (const kiln::AbiTensor &t : abi->tensors)
    (t.kind == KILN_TENSOR_OUTPUT ? results : arguments).push_back(&t);
  for (const kiln::AbiTensor *t : arguments)
    if (t->updated)
      results.push_back(t);
  if (runInputs.size() != arguments.size())
    return fail("@" + runEntry + " takes " + llvm::Twine(arguments.size()) +
                " arguments but " + llvm::Twine(runInputs.size()) +
                " --input files were given");
  if (!runOutputs.empty() && runOutputs.size() != results.size())
    return fail("@" + runEntry + " has " + llvm::Twine(results.size()) +
                " results but " + llvm::Twine(runOutputs.size()) +
                " --output files were given");

  kiln_region_sizes_t sizes = {};
  sizes.params_size = abi->paramsSize;
  sizes.opt_state_size = abi->optStateSize;
  sizes.io_size = abi->ioSize;
  sizes.scratch_size = abi->scratchSize;
  sizes.alignment = abi->alignment;
  kiln_regions_t *regions = nullptr;
  if (kiln_status_t status = kiln_regions_create(&sizes, &regions))
    return fail(kiln_status_message(status));
  auto regionsGuard =
      llvm::make_scope_exit([&] { kiln_regions_destroy(regions); });
  auto regionBase = [&](const kiln::AbiTensor &t) {
    void *base = t.region == KILN_REGION_PARAMS      ? regions->params
                 : t.region == KILN_REGION_OPT_STATE ? regions->opt_state
                                                     : regions->io;
    return static_cast<char *>(base) + t.offset;
  };

  for (auto [path, tensor] : llvm::zip(runInputs, arguments)) {
    char error[512] = "";
    kiln_array_t *array = nullptr;
    if (kiln_npy_load(path.c_str(), &array, error, sizeof error) != KILN_OK)
      return fail(error);
    auto arrayGuard = llvm::make_scope_exit([&] { kiln_array_destroy(array); });
    std::optional<kiln_dtype_t> dtype = toArrayDType(tensor->dtype);
    bool shapeMatches =
        array->rank == static_cast<int32_t>(tensor->shape.size()) &&
        std::equal(tensor->shape.begin(), tensor->shape.end(), array->shape);
    if (!dtype || *dtype != array->dtype || !shapeMatches) {
      auto describe = [](StringRef type, ArrayRef<int64_t> shape) {
        std::string text = type.str() + "[";
        for (auto [i, d] : llvm::enumerate(shape))
          text += (i ? ", " : "") + std::to_string(d);
        return text + "]";
      };
      return fail(path + ": argument '" + tensor->name + "' needs " +
                  describe(tensor->dtype, tensor->shape) + ", the file holds " +
                  describe(kiln_dtype_name(array->dtype),
                           ArrayRef<int64_t>(array->shape, array->rank)));
    }
    std::memcpy(regionBase(*tensor), array->data, array->nbytes);
  }

  (*entry)(regions->params, regions->opt_state, regions->io, regions->scratch);

  for (auto [index, tensor] : llvm::enumerate(results)) {
    kiln_array_t *array = nullptr;
    std::optional<kiln_dtype_t> dtype = toArrayDType(tensor->dtype);
    if (!dtype)
      return fail("result '" + tensor->name + "' has unsupported dtype " +
                  tensor->dtype);
    if (kiln_array_create(*dtype, tensor->shape.size(), tensor->shape.data(),
                          &array) != KILN_OK)
      return fail("out of memory");
    auto arrayGuard = llvm::make_scope_exit([&] { kiln_array_destroy(array); });
    std::memcpy(array->data, regionBase(*tensor), array->nbytes);
    if (runOutputs.empty()) {
      printArray(llvm::outs(), tensor->name, *array);
      continue;
    }
    char error[512] = "";
    if (kiln_npy_save(runOutputs[index].c_str(), array, error, sizeof error) !=
        KILN_OK)
      return fail(error);
  }
  return success();
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // `kilnc run ...` selects the JIT mode; the remaining options are shared.
  bool jitMode = argc > 1 && llvm::StringRef(argv[1]) == "run";
  SmallVector<char *> args(argv, argv + argc);
  if (jitMode)
    args.erase(args.begin() + 1);
  argc = static_cast<int>(args.size());
  argv = args.data();
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  // --help lists kilnc's options; the MLIR options (--mlir-timing,
  // --mlir-print-ir-after-all, ...) and LLVM's stay available, listed by
  // --help-hidden.
  cl::HideUnrelatedOptions(kilncCategory);
  cl::ParseCommandLineOptions(
      argc, argv,
      "kilnc: compiles a model (Keras config, ONNX, kiln IR) to native code: "
      "a training program (default), a shared library, or an object file "
      "and C header\n\n"
      "  kilnc MODEL.json|.keras|.onnx|.mlir [--loss=...] [--emit=...] -o "
      "OUT\n"
      "  kilnc run MODEL.mlir --entry F --input a.npy ... [--output y.npy]\n"
      "\n  MLIR and LLVM options (--mlir-timing, --mlir-print-ir-after-all, "
      "...) are listed by --help-hidden.\n");
  if (emitKinds.empty())
    emitKinds.push_back(EmitKind::Exe);
  // Options that only mean something together with others.
  auto given = [](const cl::Option &option) {
    return option.getNumOccurrences() > 0;
  };
  if (lossName.empty())
    for (const cl::Option *option :
         {static_cast<const cl::Option *>(&optimizerSpec),
          static_cast<const cl::Option *>(&metricsList),
          static_cast<const cl::Option *>(&fromLogits),
          static_cast<const cl::Option *>(&convention)})
      if (given(*option) &&
          !llvm::sys::path::extension(inputFilename)
               .equals_insensitive(".json") &&
          !llvm::sys::path::extension(inputFilename)
               .equals_insensitive(".keras")) {
        llvm::errs() << "kilnc: error: --" << option->ArgStr
                     << " configures the training step; give --loss too\n";
        return 1;
      }
  if (given(batchSize)) {
    StringRef extension = llvm::sys::path::extension(inputFilename);
    if (batchSize <= 0) {
      llvm::errs() << "kilnc: error: --batch-size must be positive, got "
                   << batchSize << "\n";
      return 1;
    }
    if (extension != ".onnx" && extension != ".json" && extension != ".keras") {
      llvm::errs() << "kilnc: error: --batch-size applies to imported "
                      "models (.onnx, .json, .keras); a .mlir model has "
                      "static shapes\n";
      return 1;
    }
  }
  if (!jitMode && outputFilename == "-" &&
      (llvm::is_contained(emitKinds, EmitKind::Exe) ||
       llvm::is_contained(emitKinds, EmitKind::Lib))) {
    llvm::errs() << "kilnc: error: -o - cannot take an executable or a "
                    "library; name a file\n";
    return 1;
  }
  if (!jitMode && emitKinds.size() > 1 && outputFilename == "-") {
    llvm::errs() << "kilnc: error: -o - takes a single --emit kind; with "
                    "several, -o names the base of the output files\n";
    return 1;
  }

  DialectRegistry registry;
  kiln::registerCodegenDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  // A FIFO or a device would block or never end.
  if (inputFilename != "-") {
    llvm::sys::fs::file_status status;
    if (!llvm::sys::fs::status(inputFilename, status) &&
        llvm::sys::fs::exists(status) &&
        !llvm::sys::fs::is_regular_file(status)) {
      llvm::errs() << "kilnc: error: " << inputFilename
                   << " is not a regular file\n";
      return 1;
    }
  }
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input =
      openInputFile(inputFilename, &error);
  if (!input) {
    llvm::errs() << "kilnc: error: " << error << "\n";
    return 1;
  }
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(input), llvm::SMLoc());
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);

  DefaultTimingManager timingManager;
  applyDefaultTimingManagerCLOptions(timingManager);
  TimingScope timing = timingManager.getRootScope();

  Driver driver(context, sourceMgr, timing);
  if (failed(jitMode ? driver.runJit() : driver.run()))
    return 1;
  return failed(driver.commitOutputs()) ? 1 : 0;
}
