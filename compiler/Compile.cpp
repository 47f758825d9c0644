//===- Compile.cpp - the kiln compile library -----------------------------===//
//
// The stages of docs/architecture.md as methods of Compiler, the training
// configuration in effect (explicit, or a Keras compile_config with the
// command line's overrides), the JIT path and the compile summary.
//
//===----------------------------------------------------------------------===//

#include "compiler/Compile.h"

#include "codegen/Pipelines.h"
#include "frontend/Import.h"
#include "frontend/keras/CompileConfig.h"
#include "frontend/keras/KerasArchive.h"
#include "frontend/onnx/OnnxExporter.h"
#include "ir/KilnDialect.h"
#include "passes/Passes.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <chrono>
#include <cstring>
#include <limits>

using namespace mlir;
using namespace mlir::kiln;

namespace {
llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// "1.5 MiB", "300 B".
std::string bytesText(uint64_t bytes) {
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
} // namespace

TrainingConfig TrainingOverrides::applyTo(TrainingConfig config) const {
  if (fromLogits)
    config.fromLogits = *fromLogits;
  if (metrics)
    config.metrics = *metrics;
  if (optimizer)
    config.optimizer = *optimizer;
  if (lrSchedule) {
    config.optimizer.learningRate = lrSchedule->learningRate;
    config.optimizer.learningRateSchedule = lrSchedule->learningRateSchedule;
  }
  config.convention = convention;
  return config;
}

llvm::Error kiln::applyTrainingFlags(const TrainingFlags &flags,
                                     CompileOptions &options) {
  if (flags.loss && flags.loss->empty())
    return error("--loss needs a loss name");
  TrainingOverrides &overrides = options.overrides;
  overrides.convention = flags.convention.value_or("keras");
  overrides.fromLogits = flags.fromLogits;
  if (flags.metrics)
    overrides.metrics = parseMetricList(*flags.metrics);
  if (flags.optimizer || flags.loss) {
    llvm::Expected<OptimizerConfig> optimizer =
        parseOptimizerSpec(flags.optimizer.value_or("sgd"));
    if (!optimizer)
      return optimizer.takeError();
    overrides.optimizer = std::move(*optimizer);
  }
  if (flags.lrSchedule) {
    if (overrides.optimizer && overrides.optimizer->isGiven("learning_rate"))
      return error("give --optimizer's learning_rate or --lr-schedule, not "
                   "both");
    OptimizerConfig scheduled;
    if (llvm::Error e =
            applyLearningRateScheduleSpec(*flags.lrSchedule, scheduled))
      return e;
    overrides.lrSchedule = std::move(scheduled);
  }
  if (flags.loss) {
    TrainingConfig config;
    config.loss = *flags.loss;
    options.training = overrides.applyTo(std::move(config));
  }
  return llvm::Error::success();
}

std::string kiln::cIdentifier(StringRef text) {
  std::string id;
  for (char c : text)
    id += llvm::isAlnum(c) ? c : '_';
  if (id.empty() || llvm::isDigit(id.front()))
    id.insert(id.begin(), '_');
  return id;
}

bool kiln::hasCompileConfig(ModuleOp module) {
  return static_cast<bool>(
      getOpAttr<KilnDialect::CompileConfigAttrHelper>(module));
}

Compiler::Compiler(MLIRContext &context, CompileOptions options,
                   TimingScope *timing)
    : context(context), opts(std::move(options)), timing(timing) {}

LogicalResult
Compiler::runStage(ModuleOp module, StringRef name,
                   llvm::function_ref<void(OpPassManager &)> build) {
  PassManager pm(&context);
  if (opts.passManagerCLOptions && failed(applyPassManagerCLOptions(pm)))
    return failure();
  std::optional<TimingScope> stageTiming;
  if (timing) {
    stageTiming = timing->nest(name);
    pm.enableTiming(*stageTiming);
  }
  build(pm);
  auto start = std::chrono::steady_clock::now();
  LogicalResult result = pm.run(module);
  recordStage(name, std::chrono::duration<double>(
                        std::chrono::steady_clock::now() - start)
                        .count());
  return result;
}

/// The location `loc` of another context, rebuilt in `context`: its first
/// file:line:column (what diagnostics print), else unknown.
static Location translateLocation(Location loc, MLIRContext &context) {
  FileLineColLoc found;
  loc->walk([&](Location inner) {
    if (auto file = dyn_cast<FileLineColLoc>(inner)) {
      found = file;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (!found)
    return UnknownLoc::get(&context);
  return FileLineColLoc::get(&context, found.getFilename().getValue(),
                             found.getLine(), found.getColumn());
}

/// Parses MLIR text from `sourceMgr` with only the dialects the forward form
/// may contain (kiln, func, arith; builtin is always there), so that an op,
/// attribute or type of any other dialect is refused by the parser
/// ("dialect 'linalg' is unknown") before that dialect's own parser runs.
/// Upstream parsers trust their input more than kiln may: linalg.generic
/// with `iterator_types = [1]` crashed MLIR's parser. The parsed module is
/// moved into `context` as bytecode (locations kept); diagnostics of the
/// restricted context go to `context`'s handler.
static OwningOpRef<ModuleOp> parseForwardIR(llvm::SourceMgr &sourceMgr,
                                            MLIRContext &context) {
  DialectRegistry registry;
  registerKilnDialect(registry);
  registry.insert<arith::ArithDialect, func::FuncDialect>();
  MLIRContext parseContext(registry, MLIRContext::Threading::DISABLED);
  parseContext.printOpOnDiagnostic(context.shouldPrintOpOnDiagnostic());
  ScopedDiagnosticHandler forward(&parseContext, [&](Diagnostic &diag) {
    InFlightDiagnostic copy = context.getDiagEngine().emit(
        translateLocation(diag.getLocation(), context), diag.getSeverity());
    copy << diag.str();
    for (Diagnostic &note : diag.getNotes())
      copy.attachNote(translateLocation(note.getLocation(), context))
          << note.str();
    return success();
  });
  OwningOpRef<ModuleOp> parsed =
      parseSourceFile<ModuleOp>(sourceMgr, &parseContext);
  if (!parsed)
    return nullptr;
  std::string bytecode;
  llvm::raw_string_ostream os(bytecode);
  if (failed(writeBytecodeToFile(*parsed, os))) {
    emitError(translateLocation(parsed->getLoc(), context))
        << "cannot serialize the parsed module";
    return nullptr;
  }
  os.flush();
  // The bytecode reader wants an aligned buffer.
  std::unique_ptr<llvm::WritableMemoryBuffer> buffer =
      llvm::WritableMemoryBuffer::getNewUninitMemBuffer(
          bytecode.size(), sourceMgr.getMemoryBuffer(1)->getBufferIdentifier(),
          llvm::Align(64));
  std::memcpy(buffer->getBufferStart(), bytecode.data(), bytecode.size());
  llvm::SourceMgr bytecodeMgr;
  bytecodeMgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
  return parseSourceFile<ModuleOp>(
      bytecodeMgr, ParserConfig(&context, /*verifyAfterParse=*/false));
}

OwningOpRef<ModuleOp> Compiler::importFile(StringRef path,
                                           llvm::SourceMgr &sourceMgr) {
  OwningOpRef<ModuleOp> module;
  {
    std::optional<TimingScope> parseTiming;
    if (timing)
      parseTiming = timing->nest("parse");
    auto start = std::chrono::steady_clock::now();
    auto recordImport = llvm::make_scope_exit([&] {
      recordStage("import", std::chrono::duration<double>(
                                std::chrono::steady_clock::now() - start)
                                .count());
    });
    StringRef extension = llvm::sys::path::extension(path);
    ImportOptions importOptions;
    importOptions.batchSize = opts.batchSize;
    importOptions.sequenceLength = opts.sequenceLength;
    importOptions.noWeights = opts.noWeights;
    importOptions.noOptimizerState = opts.noOptimizerState;
    if (extension == ".onnx")
      module = importOnnxModel(path, &context, importOptions);
    else if (extension == ".json" || extension == ".keras" ||
             extension == ".h5" || extension == ".hdf5")
      module = importKerasModel(path, &context, importOptions);
    else
      module = parseForwardIR(sourceMgr, context);
    // The config as written, for the manifest (export --output m.keras).
    kerasConfigText.reset();
    if (module && extension == ".keras") {
      if (auto text = keras::readZipMember(path, "config.json"))
        kerasConfigText = std::move(*text);
      else
        llvm::consumeError(text.takeError());
    } else if (module && extension == ".json") {
      if (auto buffer = llvm::MemoryBuffer::getFile(path))
        kerasConfigText = (*buffer)->getBuffer().str();
    }
  }
  if (!module || failed(verifyForward(*module)))
    return nullptr;
  if (opts.maxOps > 0) {
    int64_t ops = 0;
    module->walk([&](Operation *op) {
      if (!isa<ModuleOp, func::FuncOp, func::ReturnOp>(op))
        ++ops;
    });
    if (ops > opts.maxOps) {
      emitError(module->getLoc())
          << "the model has " << ops << " ops, above the limit of "
          << opts.maxOps
          << " (compile time grows faster than linearly with the "
             "model's depth); kilnc --max-ops=N raises the limit, 0 removes "
             "it";
      return nullptr;
    }
  }
  if (opts.maxTensorElements > 0 && failed(checkTensorSizes(*module)))
    return nullptr;
  return module;
}

LogicalResult Compiler::checkTensorSizes(ModuleOp module) {
  const uint64_t limit = static_cast<uint64_t>(opts.maxTensorElements);
  // False (after an error at `loc`) when `type` has more elements than the
  // limit; dynamic dimensions count as 1.
  auto check = [&](Type type, Location loc, const llvm::Twine &what) {
    auto shaped = dyn_cast<ShapedType>(type);
    if (!shaped || !shaped.hasRank())
      return true;
    uint64_t count = 1;
    bool overflow = false;
    for (int64_t d : shaped.getShape()) {
      if (ShapedType::isDynamic(d) || d <= 0) {
        count = d == 0 ? 0 : count;
        continue;
      }
      if (count > std::numeric_limits<uint64_t>::max() / uint64_t(d))
        overflow = true;
      count *= uint64_t(d);
    }
    if (!overflow && count <= limit)
      return true;
    InFlightDiagnostic diag = emitError(loc);
    diag << what << " has type " << type << " (";
    if (overflow)
      diag << "more than 2^64";
    else
      diag << count;
    diag << " elements), above the limit of " << limit
         << " elements per tensor; kilnc --max-tensor-elements=N raises the "
            "limit, 0 removes it";
    return false;
  };
  WalkResult walked = module.walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (auto func = dyn_cast<func::FuncOp>(op)) {
      for (BlockArgument arg : func.getArguments())
        if (!check(arg.getType(), arg.getLoc(),
                   "argument " + llvm::Twine(arg.getArgNumber()) + " of @" +
                       func.getSymName()))
          return WalkResult::interrupt();
      return WalkResult::advance();
    }
    for (OpResult result : op->getResults())
      if (!check(result.getType(), op->getLoc(),
                 "result " + llvm::Twine(result.getResultNumber()) + " of '" +
                     op->getName().getStringRef() + "'"))
        return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return failure(walked.wasInterrupted());
}

LogicalResult Compiler::verifyForward(ModuleOp module) {
  return runStage(module, "verify", [](OpPassManager &pm) {
    pm.addPass(createKilnVerifyStagePass());
  });
}

/// Whether the f32 GEMMs take bf16 operands: kilnc --precision=bf16, or a
/// Keras mixed_bfloat16 dtype policy (kiln.precision on the module).
static bool usesBf16(const CompileOptions &opts, ModuleOp module) {
  if (opts.bf16)
    return true;
  StringAttr precision = getOpAttr<KilnDialect::PrecisionAttrHelper>(module);
  return precision && precision.getValue() == "bf16";
}

llvm::Error Compiler::collectModelInfo(ModuleOp module) {
  llvm::Expected<ModelInfo> collected = collectForwardInfo(module, opts.source);
  if (!collected)
    return collected.takeError();
  info = std::move(*collected);
  info->kerasConfig = kerasConfigText;
  info->precision = usesBf16(opts, module) ? "bf16" : "f32";
  return llvm::Error::success();
}

FailureOr<std::optional<TrainingConfig>>
Compiler::trainingConfig(ModuleOp module) {
  auto fail = [&](llvm::Error e) {
    mlir::emitError(module.getLoc(), llvm::toString(std::move(e)));
    return failure();
  };
  std::optional<TrainingConfig> result = opts.training;
  if (!result) {
    auto compileConfig =
        getOpAttr<KilnDialect::CompileConfigAttrHelper>(module);
    if (!compileConfig)
      return std::optional<TrainingConfig>();
    llvm::Expected<TrainingConfig> fromKeras =
        trainingConfigFromCompileConfig(compileConfig);
    if (!fromKeras)
      return fail(fromKeras.takeError());
    result = opts.overrides.applyTo(std::move(*fromKeras));
  }
  if (llvm::Error e = result->validate()) {
    // Name where the values were written: the user fixes them there.
    StringRef origin = opts.training ? "the training options"
                       : opts.overrides.empty()
                           ? "the model's compile_config"
                           : "the compile_config with the command-line "
                             "overrides";
    return fail(
        llvm::createStringError(llvm::inconvertibleErrorCode(),
                                origin + ": " + llvm::toString(std::move(e))));
  }
  return result;
}

LogicalResult Compiler::applyTraining(ModuleOp module) {
  FailureOr<std::optional<TrainingConfig>> training = trainingConfig(module);
  if (failed(training))
    return failure();
  config = std::move(*training);
  if (info && failed(prepareOnnxExport(module)))
    return failure();
  if (config) {
    config->dataParallel = opts.dataParallel;
    notesList = config->optimizer.notes;
    if (info) {
      info->loss = config->loss;
      info->fromLogits = config->fromLogits;
      info->optimizer = config->optimizer.name;
      info->convention = config->convention;
      info->metrics = config->metrics;
      // The learning rate reaches the program as the manifest's default of
      // train_step's runtime argument.
      info->learningRate = config->optimizer.learningRateOrDefault();
      info->learningRateSchedule = config->optimizer.learningRateSchedule;
    }
    if (failed(
            runStage(module, "kiln-training-pipeline", [&](OpPassManager &pm) {
              buildTrainingPipeline(pm, *config);
            })))
      return failure();
  } else if (opts.dataParallel) {
    // grad_step and apply_step split a training step the model lacks.
    mlir::emitError(module.getLoc())
        << "data-parallel compilation needs a training step, but the model "
           "has no loss (no compile_config and no training options)";
    return failure();
  } else if (info) {
    // A model compiled without a loss is a predict function: inference mode
    // (dropout off, as Keras outside fit), like a training build's
    // @predict.
    if (failed(runStage(module, "kiln-inference-form", [](OpPassManager &pm) {
          pm.addPass(createKilnInferenceFormPass());
        })))
      return failure();
  }
  if (info)
    collectTrainingInfo(module, *info);
  return success();
}

LogicalResult Compiler::prepareOnnxExport(ModuleOp module) {
  // The inference form of a copy: what @predict computes.
  OwningOpRef<ModuleOp> copy = module.clone();
  if (failed(runStage(*copy, "onnx-export", [](OpPassManager &pm) {
        pm.addPass(createKilnInferenceFormPass());
      })))
    return failure();
  auto start = std::chrono::steady_clock::now();
  func::FuncOp forward;
  for (auto func : copy->getOps<func::FuncOp>())
    if (func.isPublic() && !func.isExternal())
      forward = func;
  ModelInfo::OnnxExport result;
  if (!forward) {
    result.problems.push_back("the model has no public function");
  } else {
    OnnxGraphExport graph = exportOnnxGraph(
        forward, info->modelName.empty() ? opts.name : info->modelName);
    result.problems = std::move(graph.problems);
    if (result.problems.empty()) {
      while (info->initialValues.size() % 8)
        info->initialValues.push_back(0);
      result.offset = static_cast<int64_t>(info->initialValues.size());
      result.size = static_cast<int64_t>(graph.model.size());
      result.opset = kOnnxExportOpset;
      result.initializers = std::move(graph.initializers);
      info->initialValues.insert(info->initialValues.end(), graph.model.begin(),
                                 graph.model.end());
    }
  }
  info->onnxExport = std::move(result);
  seconds.back().second +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return success();
}

LogicalResult Compiler::lowerToLinalg(ModuleOp module) {
  return runStage(module, "kiln-lower-to-linalg", buildKilnToLinalgPipeline);
}

LogicalResult Compiler::renameEntryPoints(ModuleOp module) {
  // Entry points get C names `<prefix>_<name>` (the function name made a C
  // identifier) before the region ABI is recorded; two names that become
  // the same identifier are an error.
  llvm::StringMap<StringRef> taken;
  SmallVector<std::pair<func::FuncOp, std::string>> renames;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (!func.isPublic() || func.isExternal())
      continue;
    std::string symbol = opts.name + "_" + cIdentifier(func.getSymName());
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

FailureOr<std::vector<EntryPointAbi>> Compiler::bufferize(ModuleOp module) {
  Precision precision =
      usesBf16(opts, module) ? Precision::Bf16 : Precision::F32;
  if (failed(runStage(module, "kiln-bufferize", [&](OpPassManager &pm) {
        buildBufferizePipeline(pm, precision);
      })))
    return failure();
  llvm::Expected<std::vector<EntryPointAbi>> abi = collectAbi(module);
  if (!abi) {
    mlir::emitError(module.getLoc(), llvm::toString(abi.takeError()));
    return failure();
  }
  manifestText.clear();
  if (info) {
    llvm::Expected<std::string> built =
        buildManifest(*info, *abi, opts.name, opts.seed);
    if (built) {
      manifestText = std::move(*built);
    } else {
      // Not one model (e.g. kiln IR with helper entry points): no
      // descriptor; clients that need one say so.
      manifestError = llvm::toString(built.takeError());
      info.reset();
    }
  }
  return std::move(*abi);
}

llvm::Error
Compiler::checkProgramModel(llvm::ArrayRef<EntryPointAbi> abi) const {
  for (const EntryPointAbi &e : abi) {
    // The predict entry point, or an inference-only model's one function.
    if (e.symbol != opts.name + "_predict" &&
        !(abi.size() == 1 && (!info || info->loss.empty())))
      continue;
    int inputs = 0, outputs = 0;
    for (const AbiTensor &t : e.tensors) {
      inputs += t.kind == KILN_TENSOR_INPUT;
      outputs += t.kind == KILN_TENSOR_OUTPUT;
    }
    if (inputs != 1 || outputs != 1)
      return error("the model has " + llvm::Twine(inputs) + " input(s) and " +
                   llvm::Twine(outputs) +
                   " output(s); a generated program (--emit=exe) handles "
                   "one of each. Embed the model instead (--emit=obj,header "
                   "or --emit=lib) and feed its entry points yourself");
  }
  return llvm::Error::success();
}

llvm::Error Compiler::checkBatchAxes(llvm::ArrayRef<EntryPointAbi> abi) const {
  auto shapeText = [](llvm::ArrayRef<int64_t> shape) {
    std::string text = "[";
    for (auto [i, d] : llvm::enumerate(shape))
      text += (i ? ", " : "") + std::to_string(d);
    return text + "]";
  };
  for (const EntryPointAbi &e : abi) {
    if (e.symbol != opts.name + "_predict" &&
        !(abi.size() == 1 && (!info || info->loss.empty())))
      continue;
    const AbiTensor *first = nullptr;
    for (const AbiTensor &t : e.tensors)
      if (t.kind == KILN_TENSOR_INPUT) {
        first = &t;
        break;
      }
    if (!first)
      return error("the model has no input");
    if (first->shape.empty() || first->shape[0] < 1)
      return error("the model input '" + first->name + "' has shape " +
                   shapeText(first->shape) +
                   ", without a batch axis first; a generated program feeds "
                   "one sample per row of the batch");
    int64_t batch = first->shape[0];
    for (const AbiTensor &t : e.tensors) {
      if (t.kind != KILN_TENSOR_INPUT && t.kind != KILN_TENSOR_OUTPUT)
        continue;
      if (!t.shape.empty() && t.shape[0] == batch)
        continue;
      return error(
          llvm::Twine("the model ") +
          (t.kind == KILN_TENSOR_INPUT ? "input '" : "output '") + t.name +
          "' has shape " + shapeText(t.shape) +
          ", whose first axis is not the batch axis (input '" + first->name +
          "' has shape " + shapeText(first->shape) + ", batch size " +
          llvm::Twine(batch) +
          "); a generated program reads and writes one sample per row of "
          "the batch, so every input and output needs the batch size as "
          "its first axis (an ONNX Flatten with axis = 0 loses it)");
    }
  }
  return llvm::Error::success();
}

LogicalResult Compiler::lowerToLLVM(ModuleOp module) {
  return runStage(module, "kiln-lower-to-llvm", buildLowerToLLVMPipeline);
}

namespace {
using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}
} // namespace

llvm::Expected<std::unique_ptr<llvm::Module>>
Compiler::translateModule(ModuleOp module, llvm::LLVMContext &llvmContext,
                          llvm::TargetMachine &machine) {
  std::optional<TimingScope> llvmTiming;
  if (timing)
    llvmTiming = timing->nest("llvm-translate");
  auto start = Clock::now();
  auto translated = translateToLLVMIR(module, llvmContext, machine);
  recordStage("llvm-translate", secondsSince(start));
  return translated;
}

llvm::Error Compiler::addDescriptor(llvm::Module &llvmModule, bool mainAlias) {
  if (!hasManifest())
    return llvm::Error::success();
  return addModelDescriptor(llvmModule, opts.name, manifestText,
                            info->initialValues, mainAlias);
}

llvm::Expected<std::unique_ptr<llvm::Module>>
Compiler::emitLLVMModule(ModuleOp module, llvm::LLVMContext &llvmContext,
                         llvm::TargetMachine &machine, bool mainAlias) {
  auto llvmModule = translateModule(module, llvmContext, machine);
  if (!llvmModule)
    return llvmModule.takeError();
  {
    std::optional<TimingScope> llvmTiming;
    if (timing)
      llvmTiming = timing->nest("llvm-optimize");
    auto start = Clock::now();
    llvm::Error err = optimizeLLVMModule(**llvmModule, machine);
    recordStage("llvm-optimize (-O" + std::to_string(opts.target.optLevel) +
                    ")",
                secondsSince(start));
    if (err)
      return std::move(err);
  }
  if (llvm::Error err = addDescriptor(**llvmModule, mainAlias))
    return std::move(err);
  return llvmModule;
}

llvm::Expected<std::vector<llvm::SmallString<0>>>
Compiler::emitObjects(ModuleOp module, unsigned jobs, bool mainAlias) {
  auto machine = createTargetMachine(opts.target);
  if (!machine)
    return machine.takeError();
  llvm::LLVMContext llvmContext;
  auto llvmModule = translateModule(module, llvmContext, **machine);
  if (!llvmModule)
    return llvmModule.takeError();
  if (llvm::Error err = addDescriptor(**llvmModule, mainAlias))
    return std::move(err);
  ParallelEmitTimes times;
  std::optional<TimingScope> llvmTiming;
  if (timing)
    llvmTiming = timing->nest("llvm-optimize-and-codegen");
  auto objects =
      emitObjectsInParallel(std::move(*llvmModule), opts.target, jobs, times);
  recordStage("llvm-split", times.split);
  std::string label = "llvm-optimize-and-codegen (-O" +
                      std::to_string(opts.target.optLevel) + ", " +
                      std::to_string(times.threads) +
                      (times.threads == 1 ? " thread" : " threads");
  if (times.partitions > 1) {
    // How evenly the partitions split the work.
    double total = 0, largest = 0;
    for (double cpu : times.partitionCpuSeconds) {
      total += cpu;
      largest = std::max(largest, cpu);
    }
    label += llvm::formatv(", {0} partitions: {1:f2} s CPU, largest {2:f2}",
                           times.partitions, total, largest)
                 .str();
  }
  recordStage(label + ")", times.optimizeAndCodegen);
  return objects;
}

llvm::Expected<std::unique_ptr<JitModel>>
kiln::compileToJit(ModuleOp module, const CompileOptions &options) {
  Compiler compiler(*module.getContext(), options);
  if (llvm::Error e = compiler.collectModelInfo(module))
    return std::move(e);
  if (failed(compiler.applyTraining(module)))
    return error("deriving the training step failed");
  if (failed(compiler.lowerToLinalg(module)) ||
      failed(compiler.renameEntryPoints(module)))
    return error("lowering to linalg failed");
  FailureOr<std::vector<EntryPointAbi>> abi = compiler.bufferize(module);
  if (failed(abi))
    return error("bufferization failed");
  if (!compiler.hasManifest())
    return error("no model descriptor: " + compiler.manifestErrorText());
  if (failed(compiler.lowerToLLVM(module)))
    return error("lowering to LLVM failed");
  auto result = std::make_unique<JitModel>();
  llvm::Expected<std::unique_ptr<JitModule>> jit =
      JitModule::create(module, options.target.optLevel);
  if (!jit)
    return jit.takeError();
  result->jit = std::move(*jit);
  result->manifest = compiler.manifest();
  result->abi = std::move(*abi);
  result->initialValues = compiler.modelInfo()->initialValues;
  kiln_model_t &model = result->model;
  model.abi_version = KILN_MODEL_ABI_VERSION;
  model.manifest = result->manifest.c_str();
  bool training = compiler.training().has_value();
  std::pair<kiln_entry_point_t *, const char *> roles[] = {
      {&model.train_step, "train_step"},
      {&model.eval_step, "eval_step"},
      {&model.predict, "predict"},
      {&model.grad_step, "grad_step"},
      {&model.apply_step, "apply_step"}};
  for (auto [slot, role] : roles) {
    if (!training && llvm::StringRef(role) != "predict")
      continue;
    if (!options.dataParallel && (llvm::StringRef(role) == "grad_step" ||
                                  llvm::StringRef(role) == "apply_step"))
      continue;
    // An inference-only model's one function is its predict.
    std::string symbol =
        training ? options.name + "_" + role : result->abi.front().symbol;
    llvm::Expected<EntryPoint> fn = result->jit->lookup(symbol);
    if (!fn)
      return fn.takeError();
    *slot = *fn;
  }
  if (!result->initialValues.empty()) {
    model.initial_values = result->initialValues.data();
    model.initial_values_size = result->initialValues.size();
  }
  return std::move(result);
}

EntryPointSignature kiln::getEntryPointSignature(const EntryPointAbi &abi) {
  EntryPointSignature signature;
  for (const AbiTensor &t : abi.tensors)
    (t.kind == KILN_TENSOR_OUTPUT ? signature.results : signature.arguments)
        .push_back(&t);
  for (const AbiTensor *t : signature.arguments)
    if (t->updated)
      signature.results.push_back(t);
  return signature;
}

/// kiln dtype names of the ABI ("f32") as runtime array dtypes.
static std::optional<kiln_dtype_t> toArrayDType(StringRef dtype) {
  return llvm::StringSwitch<std::optional<kiln_dtype_t>>(dtype)
      .Case("f32", KILN_DTYPE_F32)
      .Case("f64", KILN_DTYPE_F64)
      .Case("i32", KILN_DTYPE_I32)
      .Case("i64", KILN_DTYPE_I64)
      .Case("i1", KILN_DTYPE_BOOL)
      .Default(std::nullopt);
}

llvm::Expected<std::vector<ArrayPtr>>
kiln::runEntryPoint(EntryPoint function, const EntryPointAbi &abi,
                    llvm::ArrayRef<const kiln_array_t *> inputs,
                    llvm::ArrayRef<std::string> sources) {
  EntryPointSignature signature = getEntryPointSignature(abi);
  if (inputs.size() != signature.arguments.size() ||
      sources.size() != inputs.size())
    return error(abi.symbol + " takes " +
                 llvm::Twine(signature.arguments.size()) + " arguments, got " +
                 llvm::Twine(inputs.size()));
  kiln_region_sizes_t sizes = {};
  sizes.params_size = abi.paramsSize;
  sizes.opt_state_size = abi.optStateSize;
  sizes.io_size = abi.ioSize;
  sizes.scratch_size = abi.scratchSize;
  sizes.alignment = abi.alignment;
  kiln_regions_t *regions = nullptr;
  if (kiln_status_t status = kiln_regions_create(&sizes, &regions))
    return error(kiln_status_message(status));
  auto regionsGuard =
      llvm::make_scope_exit([&] { kiln_regions_destroy(regions); });
  auto regionBase = [&](const AbiTensor &t) {
    void *base = t.region == KILN_REGION_PARAMS      ? regions->params
                 : t.region == KILN_REGION_OPT_STATE ? regions->opt_state
                                                     : regions->io;
    return static_cast<char *>(base) + t.offset;
  };
  auto describe = [](StringRef type, ArrayRef<int64_t> shape) {
    std::string text = type.str() + "[";
    for (auto [i, d] : llvm::enumerate(shape))
      text += (i ? ", " : "") + std::to_string(d);
    return text + "]";
  };
  for (auto [array, tensor, source] :
       llvm::zip(inputs, signature.arguments, sources)) {
    std::optional<kiln_dtype_t> dtype = toArrayDType(tensor->dtype);
    bool shapeMatches =
        array->rank == static_cast<int32_t>(tensor->shape.size()) &&
        std::equal(tensor->shape.begin(), tensor->shape.end(), array->shape);
    if (!dtype || *dtype != array->dtype || !shapeMatches)
      return error(source + ": argument '" + tensor->name + "' needs " +
                   describe(tensor->dtype, tensor->shape) +
                   ", the file holds " +
                   describe(kiln_dtype_name(array->dtype),
                            ArrayRef<int64_t>(array->shape, array->rank)));
    std::memcpy(regionBase(*tensor), array->data, array->nbytes);
  }

  function(regions->params, regions->opt_state, regions->io, regions->scratch);

  std::vector<ArrayPtr> results;
  for (const AbiTensor *tensor : signature.results) {
    std::optional<kiln_dtype_t> dtype = toArrayDType(tensor->dtype);
    if (!dtype)
      return error("result '" + tensor->name + "' has unsupported dtype " +
                   tensor->dtype);
    kiln_array_t *array = nullptr;
    if (kiln_array_create(*dtype, tensor->shape.size(), tensor->shape.data(),
                          &array) != KILN_OK)
      return error("out of memory");
    results.emplace_back(array, kiln_array_destroy);
    std::memcpy(array->data, regionBase(*tensor), array->nbytes);
  }
  return std::move(results);
}

void kiln::printCompileSummary(
    llvm::raw_ostream &os, const Compiler &compiler, StringRef inputPath,
    llvm::ArrayRef<EntryPointAbi> abi,
    llvm::ArrayRef<std::pair<std::string, uint64_t>> written, bool verbose) {
  const CompileOptions &opts = compiler.options();
  const std::optional<ModelInfo> &info = compiler.modelInfo();
  std::string name =
      info && !info->modelName.empty() ? info->modelName : opts.name;
  os << "kilnc: model '" << name << "' from " << inputPath << " (C symbols "
     << opts.name << "_*)\n";
  if (info) {
    int64_t total = 0, trainable = 0, bytes = 0;
    for (const ManifestParam &p : info->params) {
      int64_t count = 1;
      for (int64_t d : p.shape)
        count *= d;
      total += count;
      trainable += p.trainable ? count : 0;
      bytes += count * (p.dtype == "f64" || p.dtype == "i64" ? 8 : 4);
    }
    os << llvm::formatv("  parameters   {0} ({1} trainable), {2}\n", total,
                        trainable, bytesText(bytes));
    if (!info->loss.empty())
      os << llvm::formatv("  training     {0}, {1}\n", info->loss,
                          info->optimizer);
    if (!info->loss.empty())
      os << llvm::formatv("  FLOPs        {0:e2} per train step, {1:e2} per "
                          "predict batch\n",
                          info->trainStepFlops, info->predictFlops);
    else
      os << llvm::formatv("  FLOPs        {0:e2} per batch\n",
                          info->predictFlops);
  }
  uint64_t params = 0, state = 0, io = 0, scratch = 0;
  for (const EntryPointAbi &e : abi) {
    params = std::max<uint64_t>(params, e.paramsSize);
    state = std::max<uint64_t>(state, e.optStateSize);
    io = std::max<uint64_t>(io, e.ioSize);
    scratch = std::max<uint64_t>(scratch, e.scratchSize);
  }
  os << "  regions      params " << bytesText(params) << ", opt_state "
     << bytesText(state) << ", io " << bytesText(io) << ", scratch "
     << bytesText(scratch) << "\n";
  for (auto &[path, size] : written)
    os << "  wrote        " << path << " (" << bytesText(size) << ")\n";
  // Only under --verbose: a model that ONNX cannot express still compiles,
  // and `prog export --output F.onnx` gives the same list.
  if (verbose && info && info->onnxExport &&
      !info->onnxExport->problems.empty()) {
    os << "  warning: ONNX export unavailable ("
       << info->onnxExport->problems.size() << " problem(s)):\n";
    for (const std::string &problem : info->onnxExport->problems)
      os << "    " << problem << "\n";
  }
  if (verbose)
    for (auto &[stage, secondsTaken] : compiler.stageSeconds())
      os << llvm::formatv("  {0,-44} {1:f3} s\n", stage, secondsTaken);
}
