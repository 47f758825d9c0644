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
// The stages, the training configuration, linking and the compile summary
// are the compile library's (compiler/Compile.h); this file holds the
// command line and the handling of outputs.
//
//===----------------------------------------------------------------------===//

#include "codegen/Pipelines.h"
#include "compiler/Compile.h"
#include "compiler/Link.h"
#include "frontend/Import.h"
#include "kiln/data.h"
#include "kiln/runtime.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/Threading.h"
#include "llvm/Support/ToolOutputFile.h"

#include <chrono>

using namespace mlir;
namespace cl = llvm::cl;

namespace {

/// SourceMgrDiagnosticHandler, except that a diagnostic on a source line
/// longer than kMaxQuotedLine characters quotes at most that many
/// characters around its column (with a caret) instead of the whole line
/// and a caret line as long: a syntax error in a one-line 2 MB model.json
/// printed 4 MB.
class BoundedSourceDiagnosticHandler : public SourceMgrDiagnosticHandler {
public:
  static constexpr size_t kMaxQuotedLine = 200;

  BoundedSourceDiagnosticHandler(llvm::SourceMgr &mgr, MLIRContext *context)
      : SourceMgrDiagnosticHandler(mgr, context) {
    setHandler([this](Diagnostic &diag) { emit(diag); });
  }

private:
  /// The excerpt to print for `loc` when its line is too long to quote.
  std::optional<std::string> longLineExcerpt(Location loc) {
    FileLineColLoc found;
    loc->walk([&](Location inner) {
      if (auto file = dyn_cast<FileLineColLoc>(inner)) {
        found = file;
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (!found || found.getLine() == 0)
      return std::nullopt;
    const llvm::MemoryBuffer *buffer =
        getBufferForFile(found.getFilename().getValue());
    if (!buffer)
      return std::nullopt;
    StringRef text = buffer->getBuffer();
    for (unsigned line = 1; line < found.getLine(); ++line) {
      size_t end = text.find('\n');
      if (end == StringRef::npos)
        return std::nullopt;
      text = text.drop_front(end + 1);
    }
    StringRef lineText = text.take_until([](char c) { return c == '\n'; });
    if (lineText.size() <= kMaxQuotedLine)
      return std::nullopt;
    size_t column = found.getColumn() ? found.getColumn() - 1 : 0;
    column = std::min(column, lineText.size());
    size_t begin =
        column > kMaxQuotedLine / 2 ? column - kMaxQuotedLine / 2 : 0;
    begin = std::min(begin, lineText.size() - kMaxQuotedLine);
    std::string quote = begin ? "..." : "";
    quote += lineText.substr(begin, kMaxQuotedLine).str();
    if (begin + kMaxQuotedLine < lineText.size())
      quote += "...";
    // Tabs stay tabs, so the caret lines up with the column.
    std::string caret;
    for (size_t i = 0, at = (begin ? 3 : 0) + column - begin; i < at; ++i)
      caret += quote[i] == '\t' ? '\t' : ' ';
    return "near column " + std::to_string(column + 1) + " of line " +
           std::to_string(found.getLine()) + " (" +
           std::to_string(lineText.size()) + " characters long):\n" + quote +
           "\n" + caret + "^";
  }

  void emit(Diagnostic &diag) {
    std::optional<std::string> quote = longLineExcerpt(diag.getLocation());
    bool longNote = false;
    for (Diagnostic &note : diag.getNotes())
      longNote |= longLineExcerpt(note.getLocation()).has_value();
    if (!quote && !longNote) {
      emitDiagnostic(diag);
      return;
    }
    auto emitOne = [&](Location loc, const std::string &message,
                       DiagnosticSeverity severity) {
      std::optional<std::string> excerpt = longLineExcerpt(loc);
      emitDiagnostic(loc, excerpt ? message + "\n" + *excerpt : message,
                     severity, /*displaySourceLine=*/!excerpt);
    };
    emitOne(diag.getLocation(), diag.str(), diag.getSeverity());
    for (Diagnostic &note : diag.getNotes())
      emitOne(note.getLocation(), note.str(), note.getSeverity());
  }
};
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

cl::opt<std::string>
    inputFilename(cl::Positional,
                  cl::desc("<model.mlir|.onnx|.json|.keras|.h5>"),
                  cl::init("-"), cl::cat(kilncCategory));
cl::opt<bool> listOnnxOps(
    "list-onnx-ops",
    cl::desc("Print the ONNX op types the importer supports and exit"),
    cl::init(false), cl::cat(kilncCategory));
cl::opt<std::string> outputFilename(
    "o", cl::desc("Output file (one --emit kind) or base name (several)"),
    cl::value_desc("path"), cl::init(""), cl::cat(kilncCategory));
cl::list<EmitKind> emitKinds(
    "emit", cl::desc("What to emit (comma-separated; default exe)"),
    cl::CommaSeparated, cl::cat(kilncCategory),
    cl::values(
        clEnumValN(EmitKind::Kiln, "kiln",
                   "verified kiln IR: the forward form as imported, before "
                   "the training step (whose flags are still checked)"),
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
cl::opt<unsigned> optLevel(
    "O",
    cl::desc("LLVM optimization level of the generated code, -O0 to -O3 "
             "(default -O2: as fast as -O3 on kiln's loops, compiled in about "
             "half the time)"),
    cl::Prefix, cl::init(2), cl::cat(kilncCategory));
cl::opt<unsigned> jobs(
    "j",
    cl::desc("exe/lib: optimize and compile the generated code on this many "
             "threads (default: the CPUs this process may run on, at most "
             "16); the code does not depend on it"),
    cl::Prefix, cl::init(0), cl::cat(kilncCategory));
cl::alias jobsLong("jobs", cl::desc("Alias for -j"), cl::aliasopt(jobs),
                   cl::cat(kilncCategory));
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
cl::opt<std::string> lrScheduleSpec(
    "lr-schedule",
    cl::desc("A Keras learning-rate schedule the program follows by default: "
             "CLASS:key=value,... or Keras' JSON, e.g. "
             "ExponentialDecay:initial_learning_rate=0.01,decay_steps=100,"
             "decay_rate=0.9"),
    cl::init(""), cl::cat(kilncCategory));
cl::opt<bool> dataParallel(
    "data-parallel",
    cl::desc("Training builds: also emit grad_step and apply_step, so that "
             "the program trains data-parallel when started under mpirun "
             "(docs/spec.md, \"Data-parallel training\")"),
    cl::init(false), cl::cat(kilncCategory));
cl::opt<std::string> precisionName(
    "precision",
    cl::desc("Operand precision of the f32 matrix products: f32 (default) or "
             "bf16 (bf16 operands, f32 sums through AVX512_BF16; params, "
             "optimizer state, activations and losses stay f32; a CPU without "
             "AVX512_BF16 runs f32 and the program says so)"),
    cl::init("f32"), cl::cat(kilncCategory));
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

cl::opt<int64_t> sequenceLength(
    "sequence-length",
    cl::desc("Keras models: the length of a variable-length time axis "
             "(an input shape (None, ...) after the batch)"),
    cl::init(0), cl::cat(kilncCategory));

cl::opt<bool> noWeights(
    "no-weights",
    cl::desc("Keras .keras/.h5 models: ignore the stored weights and draw "
             "fresh initial values from the initializers"),
    cl::init(false), cl::cat(kilncCategory));

cl::opt<bool> noOptimizerState(
    "no-optimizer-state",
    cl::desc("Keras .keras/.h5 models: ignore the stored optimizer state "
             "(optimizer/vars, Keras 2 optimizer_weights) and start training "
             "with fresh slots and step "
             "0; the stored weights are still used"),
    cl::init(false), cl::cat(kilncCategory));

cl::opt<int64_t>
    maxOps("max-ops",
           cl::desc("The most ops a model may have after import (0: no limit)"),
           cl::init(kiln::CompileOptions::kDefaultMaxOps),
           cl::cat(kilncCategory));

cl::opt<int64_t> maxTensorElements(
    "max-tensor-elements",
    cl::desc("The most elements one tensor of the model may have (0: no "
             "limit)"),
    cl::init(kiln::CompileOptions::kDefaultMaxTensorElements),
    cl::cat(kilncCategory));

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

/// Threads for optimizing and compiling the generated code (-j).
unsigned compileJobs() {
  if (jobs > 0)
    return jobs;
  return std::min(16u, llvm::hardware_concurrency().compute_thread_count());
}

/// Compiles one input through the compile library and writes the outputs;
/// every failure has already been reported when a method returns failure.
class Driver {
public:
  Driver(MLIRContext &context, llvm::SourceMgr &sourceMgr,
         kiln::CompileOptions options, TimingScope &timing)
      : sourceMgr(sourceMgr), compiler(context, std::move(options), &timing) {}
  ~Driver() {
    for (const kiln::LinkedFile &link : pendingLinks)
      llvm::sys::fs::remove(link.temporary);
  }

  /// Compiles for the emission ladder (`kilnc MODEL --emit=...`).
  LogicalResult run();
  /// Compiles, JIT-runs one entry point on .npy inputs (`kilnc run`).
  LogicalResult runJit();
  /// Keeps every output file (call after success).
  LogicalResult commitOutputs();

private:
  bool wants(EmitKind kind) const {
    return llvm::is_contained(emitKinds, kind);
  }
  /// The file a rung goes to.
  std::string outputPathFor(EmitKind kind) const;
  /// Fails (with a message) when an output would replace the input model or
  /// something that is not a regular file.
  LogicalResult checkOutputs() const;
  LogicalResult writeText(EmitKind kind,
                          function_ref<void(llvm::raw_ostream &)> write);
  /// The LLVM-dialect `module` as one optimized LLVM module: writes the
  /// llvm-ir, asm and obj rungs asked for and, with `linked`, appends the
  /// object to `objects`.
  LogicalResult emitSingleModule(ModuleOp module, bool linked,
                                 std::vector<SmallString<0>> &objects);
  /// Fails when --optimizer, --lr-schedule, --metrics or --from-logits were
  /// given for a model without --loss or a compile_config to apply them to.
  LogicalResult checkTrainingOptions(ModuleOp module) const;

  llvm::SourceMgr &sourceMgr;
  kiln::Compiler compiler;
  /// Files written so far; kept only when the whole compilation succeeds,
  /// so a failure leaves no partial set of outputs behind.
  SmallVector<std::unique_ptr<llvm::ToolOutputFile>> pending;
  /// Linked outputs, at temporary names until commitOutputs.
  SmallVector<kiln::LinkedFile> pendingLinks;
  /// Bytes of each linked output, for the summary.
  SmallVector<std::pair<std::string, uint64_t>> writtenFiles;
};

LogicalResult fail(const Twine &message) {
  llvm::errs() << "kilnc: error: " << message << "\n";
  return failure();
}

LogicalResult Driver::emitSingleModule(ModuleOp module, bool linked,
                                       std::vector<SmallString<0>> &objects) {
  auto machine = kiln::createTargetMachine(compiler.options().target);
  if (!machine)
    return fail(llvm::toString(machine.takeError()));
  llvm::LLVMContext llvmContext;
  auto llvmModule = compiler.emitLLVMModule(module, llvmContext, **machine,
                                            wants(EmitKind::Exe));
  if (!llvmModule)
    return fail(llvm::toString(llvmModule.takeError()));
  if (wants(EmitKind::LLVMIR) &&
      failed(writeText(EmitKind::LLVMIR, [&](llvm::raw_ostream &os) {
        (*llvmModule)->print(os, nullptr);
      })))
    return failure();
  for (EmitKind kind : {EmitKind::Asm, EmitKind::Obj}) {
    if (!wants(kind) && !(kind == EmitKind::Obj && linked))
      continue;
    // Emit into memory: object writers seek, which a pipe cannot.
    SmallString<0> buffer;
    llvm::raw_svector_ostream stream(buffer);
    auto start = std::chrono::steady_clock::now();
    if (llvm::Error err = kiln::emitMachineCode(**llvmModule, **machine,
                                                kind == EmitKind::Obj, stream))
      return fail(llvm::toString(std::move(err)));
    compiler.recordStage(
        kind == EmitKind::Obj ? "llvm-codegen-object" : "llvm-codegen-assembly",
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
    if (wants(kind) && failed(writeText(kind, [&](llvm::raw_ostream &os) {
          os.write(buffer.data(), buffer.size());
        })))
      return failure();
    if (kind == EmitKind::Obj && linked)
      objects.push_back(std::move(buffer));
  }
  return success();
}

LogicalResult Driver::commitOutputs() {
  for (auto &file : pending)
    file->keep();
  for (const kiln::LinkedFile &link : pendingLinks)
    if (std::error_code ec = llvm::sys::fs::rename(link.temporary, link.path)) {
      llvm::sys::fs::remove(link.temporary);
      return fail("cannot write '" + link.path + "': " + ec.message());
    }
  pendingLinks.clear();
  return success();
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
  return compiler.options().name + extensionFor(kind);
}

LogicalResult Driver::checkOutputs() const {
  // No output may replace the model file itself.
  for (EmitKind kind : emitKinds) {
    std::string path = outputPathFor(kind);
    if (path == "-")
      continue;
    if (inputFilename != "-" && llvm::sys::fs::equivalent(path, inputFilename))
      return fail("the output " + path +
                  " is the input model; choose another -o");
    // Text and object rungs are written in place (so -o /dev/null works);
    // executables and libraries are linked to a temporary name and renamed,
    // which would replace a device or a FIFO.
    if (kind != EmitKind::Exe && kind != EmitKind::Lib)
      continue;
    llvm::sys::fs::file_status status;
    if (!llvm::sys::fs::status(path, status) && llvm::sys::fs::exists(status) &&
        !llvm::sys::fs::is_regular_file(status))
      return fail("cannot write '" + path +
                  "': it exists and is not a regular file");
  }
  return success();
}

LogicalResult Driver::writeText(EmitKind kind,
                                function_ref<void(llvm::raw_ostream &)> write) {
  std::string error;
  std::unique_ptr<llvm::ToolOutputFile> file =
      openOutputFile(outputPathFor(kind), &error);
  if (!file)
    return fail(error);
  write(file->os());
  pending.push_back(std::move(file));
  return success();
}

LogicalResult Driver::checkTrainingOptions(ModuleOp module) const {
  if (compiler.options().training || kiln::hasCompileConfig(module))
    return success();
  for (const cl::Option *option :
       {static_cast<const cl::Option *>(&optimizerSpec),
        static_cast<const cl::Option *>(&lrScheduleSpec),
        static_cast<const cl::Option *>(&metricsList),
        static_cast<const cl::Option *>(&fromLogits),
        static_cast<const cl::Option *>(&dataParallel)})
    if (option->getNumOccurrences() > 0)
      return fail("--" + option->ArgStr +
                  " configures the training step, but the model has no "
                  "compile_config; give --loss too");
  return success();
}

LogicalResult Driver::run() {
  if (failed(checkOutputs()))
    return failure();
  OwningOpRef<ModuleOp> module = compiler.importFile(inputFilename, sourceMgr);
  if (!module)
    return failure();
  // Object code carries the model descriptor (kiln/model.h) when the module
  // is one model; programs and libraries require it.
  bool linked = wants(EmitKind::Exe) || wants(EmitKind::Lib);
  if (linked || wants(EmitKind::Obj) || wants(EmitKind::Asm) ||
      wants(EmitKind::LLVMIR) || wants(EmitKind::Header))
    if (llvm::Error err = compiler.collectModelInfo(*module)) {
      if (linked)
        return fail(inputFilename + ": " + llvm::toString(std::move(err)));
      llvm::consumeError(std::move(err));
    }
  // The training flags are checked even when only the forward form is
  // wanted: a bad --optimizer is an error at every rung.
  if (failed(checkTrainingOptions(*module)) ||
      failed(compiler.trainingConfig(*module)))
    return failure();
  // `--emit=kiln` shows the model as imported (the forward form, without
  // the training step).
  if (wants(EmitKind::Kiln) &&
      failed(writeText(EmitKind::Kiln,
                       [&](llvm::raw_ostream &os) { module->print(os); })))
    return failure();

  // The furthest rung needed; the header is a side output of bufferization.
  EmitKind last = EmitKind::Kiln;
  for (EmitKind kind : emitKinds)
    last = std::max(last, kind == EmitKind::Header ? EmitKind::Linalg : kind);
  if (last == EmitKind::Kiln)
    return success();
  if (failed(compiler.applyTraining(*module)))
    return failure();
  for (const std::string &note : compiler.notes())
    llvm::errs() << "kilnc: warning: " << note << "\n";

  if (failed(compiler.lowerToLinalg(*module)))
    return failure();
  if (wants(EmitKind::Linalg) &&
      failed(writeText(EmitKind::Linalg,
                       [&](llvm::raw_ostream &os) { module->print(os); })))
    return failure();
  if (last == EmitKind::Linalg && !wants(EmitKind::Header))
    return success();

  if (failed(compiler.renameEntryPoints(*module)))
    return failure();
  FailureOr<std::vector<kiln::EntryPointAbi>> abi = compiler.bufferize(*module);
  if (failed(abi))
    return failure();
  const std::string &name = compiler.options().name;
  if (linked && !compiler.hasManifest())
    return fail(inputFilename + ": " + compiler.manifestErrorText());
  if (wants(EmitKind::Exe))
    if (llvm::Error err = compiler.checkProgramModel(*abi))
      return fail(inputFilename + ": " + llvm::toString(std::move(err)));
  if (linked)
    if (llvm::Error err = compiler.checkBatchAxes(*abi))
      return fail(inputFilename + ": " + llvm::toString(std::move(err)));
  if (wants(EmitKind::Header)) {
    std::string header;
    llvm::raw_string_ostream headerStream(header);
    if (llvm::Error err = kiln::emitHeader(
            *abi, name, llvm::sys::path::filename(inputFilename),
            compiler.hasManifest(), headerStream))
      return fail(llvm::toString(std::move(err)));
    if (failed(writeText(EmitKind::Header,
                         [&](llvm::raw_ostream &os) { os << header; })))
      return failure();
  }
  if (last == EmitKind::Linalg)
    return success();

  if (failed(compiler.lowerToLLVM(*module)))
    return failure();
  if (wants(EmitKind::LLVMDialect) &&
      failed(writeText(EmitKind::LLVMDialect,
                       [&](llvm::raw_ostream &os) { module->print(os); })))
    return failure();
  if (last == EmitKind::LLVMDialect)
    return success();

  // The objects to link: one from the whole module when a single module is
  // emitted too (llvm-ir, asm, obj), else several compiled in parallel.
  std::vector<SmallString<0>> objects;
  if (linked && !wants(EmitKind::LLVMIR) && !wants(EmitKind::Asm) &&
      !wants(EmitKind::Obj)) {
    auto parts =
        compiler.emitObjects(*module, compileJobs(), wants(EmitKind::Exe));
    if (!parts)
      return fail(llvm::toString(parts.takeError()));
    objects = std::move(*parts);
  } else if (failed(emitSingleModule(*module, linked, objects))) {
    return failure();
  }
  for (EmitKind kind : {EmitKind::Exe, EmitKind::Lib}) {
    if (!wants(kind))
      continue;
    kiln::LinkOptions options;
    options.sharedLibrary = kind == EmitKind::Lib;
    options.runtimeDir = runtimeDir;
    options.linker = linker;
    options.name = name;
    auto start = std::chrono::steady_clock::now();
    llvm::Expected<kiln::LinkedFile> linkedFile =
        kiln::linkModel(objects, outputPathFor(kind), options);
    compiler.recordStage("link", std::chrono::duration<double>(
                                     std::chrono::steady_clock::now() - start)
                                     .count());
    if (!linkedFile)
      return fail(llvm::toString(linkedFile.takeError()));
    writtenFiles.push_back({linkedFile->path, linkedFile->size});
    pendingLinks.push_back(std::move(*linkedFile));
  }
  if (linked || verbose)
    kiln::printCompileSummary(llvm::errs(), compiler, inputFilename, *abi,
                              writtenFiles, verbose);
  return success();
}

LogicalResult Driver::runJit() {
  OwningOpRef<ModuleOp> module = compiler.importFile(inputFilename, sourceMgr);
  if (!module || failed(checkTrainingOptions(*module)) ||
      failed(compiler.applyTraining(*module)))
    return failure();
  auto failRun = [](const llvm::Twine &message) {
    llvm::errs() << "kilnc run: error: " << message << "\n";
    return failure();
  };
  auto entryFunc = module->lookupSymbol<func::FuncOp>(runEntry);
  if (!entryFunc || entryFunc.isExternal()) {
    std::string known;
    for (auto func : module->getOps<func::FuncOp>())
      if (!func.isExternal())
        known += (known.empty() ? "@" : ", @") + func.getSymName().str();
    return failRun("no function @" + runEntry + " with a body in " +
                   inputFilename + " (functions: " + known + ")");
  }
  std::string symbol = compiler.options().name + "_" + runEntry;
  if (failed(compiler.lowerToLinalg(*module)) ||
      failed(compiler.renameEntryPoints(*module)))
    return failure();
  FailureOr<std::vector<kiln::EntryPointAbi>> abis =
      compiler.bufferize(*module);
  if (failed(abis))
    return failure();
  const kiln::EntryPointAbi *abi = nullptr;
  for (const kiln::EntryPointAbi &candidate : *abis)
    if (candidate.symbol == symbol)
      abi = &candidate;
  if (!abi)
    return failRun("no interface recorded for @" + runEntry);
  if (failed(compiler.lowerToLLVM(*module)))
    return failure();
  auto jit =
      kiln::JitModule::create(*module, compiler.options().target.optLevel);
  if (!jit)
    return failRun(llvm::toString(jit.takeError()));
  auto entry = (*jit)->lookup(symbol);
  if (!entry)
    return failRun(llvm::toString(entry.takeError()));

  kiln::EntryPointSignature signature = kiln::getEntryPointSignature(*abi);
  if (runInputs.size() != signature.arguments.size())
    return failRun("@" + runEntry + " takes " +
                   Twine(signature.arguments.size()) + " arguments but " +
                   Twine(runInputs.size()) + " --input files were given");
  if (!runOutputs.empty() && runOutputs.size() != signature.results.size())
    return failRun("@" + runEntry + " has " + Twine(signature.results.size()) +
                   " results but " + Twine(runOutputs.size()) +
                   " --output files were given");
  std::vector<kiln::ArrayPtr> inputs;
  for (const std::string &path : runInputs) {
    char error[512] = "";
    kiln_array_t *array = nullptr;
    if (kiln_npy_load(path.c_str(), &array, error, sizeof error) != KILN_OK)
      return failRun(error);
    inputs.emplace_back(array, kiln_array_destroy);
  }
  SmallVector<const kiln_array_t *> arrays;
  for (const kiln::ArrayPtr &array : inputs)
    arrays.push_back(array.get());
  auto results = kiln::runEntryPoint(*entry, *abi, arrays, runInputs);
  if (!results)
    return failRun(llvm::toString(results.takeError()));
  for (auto [index, array] : llvm::enumerate(*results)) {
    if (runOutputs.empty()) {
      printArray(llvm::outs(), signature.results[index]->name, *array);
      continue;
    }
    char error[512] = "";
    if (kiln_npy_save(runOutputs[index].c_str(), array.get(), error,
                      sizeof error) != KILN_OK)
      return failRun(error);
  }
  return success();
}

/// kilnc's training flags as written, for the command-line adapter.
kiln::TrainingFlags trainingFlags() {
  kiln::TrainingFlags flags;
  if (lossName.getNumOccurrences())
    flags.loss = lossName;
  if (fromLogits.getNumOccurrences())
    flags.fromLogits = fromLogits;
  if (metricsList.getNumOccurrences())
    flags.metrics = metricsList;
  if (optimizerSpec.getNumOccurrences())
    flags.optimizer = optimizerSpec;
  if (lrScheduleSpec.getNumOccurrences())
    flags.lrSchedule = lrScheduleSpec;
  if (convention.getNumOccurrences())
    flags.convention = convention;
  return flags;
}
/// Whether `path` names a Keras model file (.json, .keras, .h5, .hdf5).
bool isKerasFile(StringRef path) {
  StringRef extension = llvm::sys::path::extension(path);
  return extension.equals_insensitive(".json") ||
         extension.equals_insensitive(".keras") ||
         extension.equals_insensitive(".h5") ||
         extension.equals_insensitive(".hdf5");
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
      "  kilnc MODEL.json|.keras|.h5|.onnx|.mlir [--loss=...] [--emit=...] -o "
      "OUT\n"
      "  kilnc run MODEL.mlir --entry F --input a.npy ... [--output y.npy]\n"
      "\n  MLIR and LLVM options (--mlir-timing, --mlir-print-ir-after-all, "
      "...) are listed by --help-hidden.\n");
  if (listOnnxOps) {
    for (llvm::StringRef op : kiln::getSupportedOnnxOps())
      llvm::outs() << op << "\n";
    return 0;
  }
  if (emitKinds.empty())
    emitKinds.push_back(EmitKind::Exe);
  // Options that only mean something together with others.
  auto given = [](const cl::Option &option) {
    return option.getNumOccurrences() > 0;
  };
  if (lossName.empty())
    for (const cl::Option *option :
         {static_cast<const cl::Option *>(&optimizerSpec),
          static_cast<const cl::Option *>(&lrScheduleSpec),
          static_cast<const cl::Option *>(&metricsList),
          static_cast<const cl::Option *>(&fromLogits),
          static_cast<const cl::Option *>(&convention),
          static_cast<const cl::Option *>(&dataParallel)})
      if (given(*option) && !isKerasFile(inputFilename)) {
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
    if (extension != ".onnx" && !isKerasFile(inputFilename)) {
      llvm::errs() << "kilnc: error: --batch-size applies to imported "
                      "models (.onnx, .json, .keras, .h5); a .mlir model has "
                      "static shapes\n";
      return 1;
    }
  }
  if (given(noWeights) &&
      (!isKerasFile(inputFilename) ||
       llvm::sys::path::extension(inputFilename).equals_insensitive(".json"))) {
    llvm::errs() << "kilnc: error: --no-weights applies to Keras models "
                    "(.keras, .h5) that store weights\n";
    return 1;
  }
  if (given(noOptimizerState) &&
      (!isKerasFile(inputFilename) ||
       llvm::sys::path::extension(inputFilename).equals_insensitive(".json"))) {
    llvm::errs() << "kilnc: error: --no-optimizer-state applies to Keras "
                    "models (.keras, .h5) that store an optimizer state\n";
    return 1;
  }
  if (given(sequenceLength)) {
    if (sequenceLength <= 0) {
      llvm::errs() << "kilnc: error: --sequence-length must be positive, got "
                   << sequenceLength << "\n";
      return 1;
    }
    if (!isKerasFile(inputFilename)) {
      llvm::errs() << "kilnc: error: --sequence-length applies to Keras "
                      "models (.json, .keras, .h5)\n";
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
  // A user's error names the file, line and problem; the generic dump of the
  // whole failing op is for compiler developers
  // (--mlir-print-op-on-diagnostic).
  if (cl::getRegisteredOptions()
          .lookup("mlir-print-op-on-diagnostic")
          ->getNumOccurrences() == 0)
    context.printOpOnDiagnostic(false);

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
  BoundedSourceDiagnosticHandler diagnostics(sourceMgr, &context);

  DefaultTimingManager timingManager;
  applyDefaultTimingManagerCLOptions(timingManager);
  TimingScope timing = timingManager.getRootScope();

  kiln::CompileOptions options;
  options.name = !symbolPrefix.empty() ? kiln::cIdentifier(symbolPrefix)
                 : inputFilename == "-"
                     ? std::string("model")
                     : kiln::cIdentifier(llvm::sys::path::stem(inputFilename));
  options.source = llvm::sys::path::filename(inputFilename).str();
  if (batchSize > 0)
    options.batchSize = batchSize;
  if (sequenceLength > 0)
    options.sequenceLength = sequenceLength;
  options.noWeights = noWeights;
  options.noOptimizerState = noOptimizerState;
  if (maxOps < 0) {
    llvm::errs() << "kilnc: error: --max-ops must be >= 0, got " << maxOps
                 << "\n";
    return 1;
  }
  options.maxOps = maxOps;
  if (maxTensorElements < 0) {
    llvm::errs() << "kilnc: error: --max-tensor-elements must be >= 0, got "
                 << maxTensorElements << "\n";
    return 1;
  }
  options.maxTensorElements = maxTensorElements;
  options.seed = seed;
  options.dataParallel = dataParallel;
  if (precisionName != "f32" && precisionName != "bf16") {
    llvm::errs() << "kilnc: error: --precision must be f32 or bf16, got '"
                 << precisionName << "'\n";
    return 1;
  }
  options.bf16 = precisionName == "bf16";
  if (optLevel > 3) {
    llvm::errs() << "kilnc: error: -O must be 0, 1, 2 or 3, got -O" << optLevel
                 << "\n";
    return 1;
  }
  options.target = {targetTriple, targetCpu, optLevel};
  options.passManagerCLOptions = true;
  if (llvm::Error err = kiln::applyTrainingFlags(trainingFlags(), options)) {
    llvm::errs() << "kilnc: error: " << llvm::toString(std::move(err)) << "\n";
    return 1;
  }
  Driver driver(context, sourceMgr, std::move(options), timing);
  if (failed(jitMode ? driver.runJit() : driver.run()))
    return 1;
  return failed(driver.commitOutputs()) ? 1 : 0;
}
