//===- kilnc.cpp - the kiln compiler driver -------------------------------===//
//
// kilnc compiles kiln IR into native code through the staged pipeline of
// codegen/Pipelines.h and writes any rungs of the emission ladder:
//
//   kiln -> linalg -> llvm-dialect -> llvm-ir -> asm | obj, plus header
//
// `kilnc model.mlir --emit=obj,header -o out/mlp` writes out/mlp.o and
// out/mlp.h; with a single --emit value, -o names the file itself. The
// upstream --mlir-print-ir-after-all and --mlir-timing options apply to every
// stage. Errors name the file, line and column, and exit with status 1.
//
//===----------------------------------------------------------------------===//

#include "codegen/Emit.h"
#include "codegen/Pipelines.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
namespace cl = llvm::cl;

namespace {
/// The rungs of the emission ladder, in pipeline order.
enum class EmitKind { Kiln, Linalg, LLVMDialect, LLVMIR, Asm, Obj, Header };

cl::OptionCategory kilncCategory("kilnc options");

cl::opt<std::string> inputFilename(cl::Positional, cl::desc("<model.mlir>"),
                                   cl::init("-"), cl::cat(kilncCategory));
cl::opt<std::string> outputFilename(
    "o", cl::desc("Output file (one --emit kind) or base name (several)"),
    cl::value_desc("path"), cl::init(""), cl::cat(kilncCategory));
cl::list<EmitKind> emitKinds(
    "emit", cl::desc("What to emit (comma-separated; default obj)"),
    cl::CommaSeparated, cl::cat(kilncCategory),
    cl::values(
        clEnumValN(EmitKind::Kiln, "kiln", "verified kiln IR"),
        clEnumValN(EmitKind::Linalg, "linalg", "linalg on tensors, fused"),
        clEnumValN(EmitKind::LLVMDialect, "llvm-dialect",
                   "MLIR in the LLVM dialect"),
        clEnumValN(EmitKind::LLVMIR, "llvm-ir", "optimized LLVM IR"),
        clEnumValN(EmitKind::Asm, "asm", "target assembly"),
        clEnumValN(EmitKind::Obj, "obj", "object file"),
        clEnumValN(EmitKind::Header, "header", "C header of the interface")));
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
  Driver(MLIRContext &context, llvm::SourceMgr &sourceMgr,
         TimingScope &timing)
      : context(context), sourceMgr(sourceMgr), timing(timing) {}

  LogicalResult run();

private:
  bool wants(EmitKind kind) const {
    return llvm::is_contained(emitKinds, kind);
  }
  /// The file a rung goes to.
  std::string outputPathFor(EmitKind kind) const;
  LogicalResult runStage(ModuleOp module, StringRef name,
                         function_ref<void(OpPassManager &)> build);
  LogicalResult writeText(EmitKind kind,
                          function_ref<void(llvm::raw_ostream &)> write);
  std::string prefix() const;

  MLIRContext &context;
  llvm::SourceMgr &sourceMgr;
  TimingScope &timing;
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
  if (single && !outputFilename.empty())
    return outputFilename;
  bool binary = kind == EmitKind::Obj;
  if (outputFilename.empty())
    return binary || kind == EmitKind::Header ? prefix() + extensionFor(kind)
                                              : "-";
  return outputFilename + extensionFor(kind);
}

LogicalResult Driver::runStage(ModuleOp module, StringRef name,
                               function_ref<void(OpPassManager &)> build) {
  PassManager pm(&context);
  if (failed(applyPassManagerCLOptions(pm)))
    return failure();
  TimingScope stageTiming = timing.nest(name);
  pm.enableTiming(stageTiming);
  build(pm);
  return pm.run(module);
}

LogicalResult
Driver::writeText(EmitKind kind,
                  function_ref<void(llvm::raw_ostream &)> write) {
  std::string error;
  std::string path = outputPathFor(kind);
  std::unique_ptr<llvm::ToolOutputFile> file = openOutputFile(path, &error);
  if (!file) {
    llvm::errs() << "kilnc: error: " << error << "\n";
    return failure();
  }
  write(file->os());
  file->keep();
  return success();
}

LogicalResult Driver::run() {
  OwningOpRef<ModuleOp> module;
  {
    TimingScope parseTiming = timing.nest("parse");
    module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  }
  if (!module)
    return failure();

  // Rung 0: the kiln contract of the frontend stage.
  if (failed(runStage(*module, "verify", [](OpPassManager &pm) {
        pm.addPass(kiln::createKilnVerifyStagePass());
      })))
    return failure();
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

  if (failed(runStage(*module, "kiln-lower-to-linalg",
                      kiln::buildKilnToLinalgPipeline)))
    return failure();
  if (wants(EmitKind::Linalg) &&
      failed(writeText(EmitKind::Linalg,
                       [&](llvm::raw_ostream &os) { module->print(os); })))
    return failure();
  if (last == EmitKind::Linalg && !wants(EmitKind::Header))
    return success();

  // Entry points get their C names before the region ABI is recorded.
  std::string p = prefix();
  for (auto func : module->getOps<func::FuncOp>())
    if (func.isPublic() && !func.isExternal())
      SymbolTable::setSymbolName(func, p + "_" + func.getSymName().str());

  if (failed(runStage(*module, "kiln-bufferize",
                      kiln::buildBufferizePipeline)))
    return failure();
  llvm::Expected<std::vector<kiln::EntryPointAbi>> abi =
      kiln::collectAbi(*module);
  if (!abi) {
    llvm::errs() << "kilnc: error: " << llvm::toString(abi.takeError())
                 << "\n";
    return failure();
  }
  if (wants(EmitKind::Header) &&
      failed(writeText(EmitKind::Header, [&](llvm::raw_ostream &os) {
        kiln::emitHeader(*abi, p, llvm::sys::path::filename(inputFilename),
                         os);
      })))
    return failure();
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
      llvm::errs() << "kilnc: error: "
                   << llvm::toString(translated.takeError()) << "\n";
      return failure();
    }
    llvmModule = std::move(*translated);
  }
  if (wants(EmitKind::LLVMIR) &&
      failed(writeText(EmitKind::LLVMIR, [&](llvm::raw_ostream &os) {
        llvmModule->print(os, nullptr);
      })))
    return failure();

  for (EmitKind kind : {EmitKind::Asm, EmitKind::Obj}) {
    if (!wants(kind))
      continue;
    TimingScope codegenTiming = timing.nest("llvm-codegen");
    std::string error;
    std::unique_ptr<llvm::ToolOutputFile> file =
        openOutputFile(outputPathFor(kind), &error);
    if (!file) {
      llvm::errs() << "kilnc: error: " << error << "\n";
      return failure();
    }
    if (llvm::Error err = kiln::emitMachineCode(
            *llvmModule, **machine, kind == EmitKind::Obj, file->os())) {
      llvm::errs() << "kilnc: error: " << llvm::toString(std::move(err))
                   << "\n";
      return failure();
    }
    file->keep();
  }
  return success();
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  cl::ParseCommandLineOptions(
      argc, argv,
      "kilnc: compiles kiln IR to native code (object file + C header)\n");
  if (emitKinds.empty())
    emitKinds.push_back(EmitKind::Obj);

  DialectRegistry registry;
  kiln::registerCodegenDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

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
  return failed(driver.run()) ? 1 : 0;
}
