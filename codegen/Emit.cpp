//===- Emit.cpp - LLVM IR, machine code and C header emission -------------===//
//
// Implements Emit.h.
//
//===----------------------------------------------------------------------===//

#include "codegen/Emit.h"
#include "ir/KilnDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"
#include "llvm/Transforms/Utils/SplitModule.h"

#include <atomic>
#include <chrono>
#include <ctime>
#include <thread>

using namespace mlir;
using namespace mlir::kiln;

llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
kiln::createTargetMachine(const TargetSelection &target) {
  llvm::InitializeAllTargetInfos();
  llvm::InitializeAllTargets();
  llvm::InitializeAllTargetMCs();
  llvm::InitializeAllAsmPrinters();

  std::string host = llvm::sys::getDefaultTargetTriple();
  std::string triple = target.triple.empty() ? host : target.triple;
  std::string error;
  const llvm::Target *llvmTarget =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!llvmTarget)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "unknown target triple '%s': %s",
                                   triple.c_str(), error.c_str());
  llvm::Triple parsed(triple);
  // Generated code is tested on x86-64 and AArch64; other architectures
  // fail inside LLVM on some float operations (soft-float legalization).
  if (parsed.getArch() != llvm::Triple::x86_64 &&
      parsed.getArch() != llvm::Triple::aarch64)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "target architecture '%s' is not supported (supported: x86_64, "
        "aarch64)",
        parsed.getArchName().str().c_str());
  bool isHost = parsed.getArch() == llvm::Triple(host).getArch();
  std::string cpu = target.cpu;
  std::string features;
  if (cpu.empty() || cpu == "native") {
    cpu = isHost ? llvm::sys::getHostCPUName().str() : "generic";
    if (isHost) {
      llvm::SubtargetFeatures list;
      for (const auto &feature : llvm::sys::getHostCPUFeatures())
        list.AddFeature(feature.first(), feature.second);
      features = list.getString();
    }
  }
  std::unique_ptr<llvm::MCSubtargetInfo> subtarget(
      llvmTarget->createMCSubtargetInfo(triple, cpu, features));
  if (!subtarget || !subtarget->isCPUStringValid(cpu))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "unknown CPU '%s' for target '%s'",
                                   cpu.c_str(), triple.c_str());
  std::optional<llvm::CodeGenOptLevel> level =
      llvm::CodeGenOpt::getLevel(static_cast<int>(target.optLevel));
  if (!level)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "optimization level %u is not 0-3",
                                   target.optLevel);
  llvm::TargetOptions options;
  std::unique_ptr<llvm::TargetMachine> machine(llvmTarget->createTargetMachine(
      triple, cpu, features, options, llvm::Reloc::PIC_, std::nullopt, *level));
  if (!machine)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "cannot create a target machine for '%s'",
                                   triple.c_str());
  return std::move(machine);
}

llvm::Expected<std::unique_ptr<llvm::Module>>
kiln::translateToLLVMIR(ModuleOp module, llvm::LLVMContext &context,
                        llvm::TargetMachine &machine) {
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, context, "kiln");
  if (!llvmModule)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "cannot translate the module to LLVM IR (is it fully lowered to "
        "the LLVM dialect?)");
  llvmModule->setTargetTriple(machine.getTargetTriple().str());
  llvmModule->setDataLayout(machine.createDataLayout());
  return std::move(llvmModule);
}

llvm::Error kiln::optimizeLLVMModule(llvm::Module &module,
                                     llvm::TargetMachine &machine) {
  auto optimize =
      makeOptimizingTransformer(static_cast<unsigned>(machine.getOptLevel()),
                                /*sizeLevel=*/0, &machine);
  return optimize(&module);
}

llvm::Error kiln::emitMachineCode(llvm::Module &module,
                                  llvm::TargetMachine &machine, bool asObject,
                                  llvm::raw_pwrite_stream &os) {
  llvm::legacy::PassManager passes;
  auto fileType = asObject ? llvm::CodeGenFileType::ObjectFile
                           : llvm::CodeGenFileType::AssemblyFile;
  if (machine.addPassesToEmitFile(passes, os, nullptr, fileType))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the target cannot emit this file type");
  passes.run(module);
  return llvm::Error::success();
}

llvm::Expected<std::vector<llvm::SmallString<0>>>
kiln::emitObjectsInParallel(std::unique_ptr<llvm::Module> module,
                            const TargetSelection &target, unsigned threads,
                            ParallelEmitTimes &times) {
  using Clock = std::chrono::steady_clock;
  auto since = [](Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  auto start = Clock::now();
  unsigned bodies = 0;
  for (llvm::Function &f : *module)
    bodies += !f.isDeclaration();
  threads = std::max(1u, threads);
  // Several partitions per thread balance the work (see below); each costs
  // a target machine and a pass pipeline, a few milliseconds.
  unsigned partitions =
      std::max(1u, std::min(threads == 1 ? 1u : 4 * threads, bodies));
  // Each partition travels as bitcode: a module belongs to its
  // LLVMContext, and a context to one thread at a time.
  std::vector<llvm::SmallString<0>> bitcode;
  auto write = [&](const llvm::Module &part) {
    bitcode.emplace_back();
    llvm::raw_svector_ostream os(bitcode.back());
    llvm::WriteBitcodeToFile(part, os);
  };
  if (partitions == 1)
    write(*module);
  else
    llvm::SplitModule(
        *module, partitions,
        [&](std::unique_ptr<llvm::Module> part) { write(*part); },
        /*PreserveLocals=*/false, /*RoundRobin=*/true);
  module.reset();
  times.partitions = bitcode.size();
  times.threads = std::min<size_t>(threads, bitcode.size());
  // The target machines are made here, not on the workers: target
  // registration is not meant to run concurrently.
  std::vector<std::unique_ptr<llvm::TargetMachine>> machines;
  for (size_t i = 0; i < bitcode.size(); ++i) {
    auto machine = createTargetMachine(target);
    if (!machine)
      return machine.takeError();
    machines.push_back(std::move(*machine));
  }
  times.split = since(start);

  start = Clock::now();
  std::vector<llvm::SmallString<0>> objects(bitcode.size());
  std::vector<std::string> errors(bitcode.size());
  times.partitionCpuSeconds.assign(bitcode.size(), 0.0);
  auto compile = [&](size_t i) {
    auto threadSeconds = [] {
      timespec t{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
      return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
    };
    double cpuStart = threadSeconds();
    auto recordCpu = llvm::make_scope_exit(
        [&] { times.partitionCpuSeconds[i] = threadSeconds() - cpuStart; });
    llvm::LLVMContext context;
    auto part = llvm::parseBitcodeFile(
        llvm::MemoryBufferRef(
            llvm::StringRef(bitcode[i].data(), bitcode[i].size()), "partition"),
        context);
    llvm::Error err =
        part ? optimizeLLVMModule(**part, *machines[i]) : part.takeError();
    if (!err) {
      llvm::raw_svector_ostream os(objects[i]);
      err = emitMachineCode(**part, *machines[i], /*asObject=*/true, os);
    }
    if (err)
      errors[i] = "partition " + std::to_string(i + 1) + " of " +
                  std::to_string(bitcode.size()) + ": " +
                  llvm::toString(std::move(err));
  };
  {
    // Each thread takes the next partition until none is left: partitions
    // are cut finer than the threads (and largest first), so that one big
    // function does not leave the other threads idle.
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i; (i = next.fetch_add(1)) < bitcode.size();)
        compile(i);
    };
    std::vector<std::thread> workers;
    for (unsigned t = 1; t < std::min<size_t>(threads, bitcode.size()); ++t)
      workers.emplace_back(work);
    work();
    for (std::thread &worker : workers)
      worker.join();
  }
  times.optimizeAndCodegen = since(start);
  for (std::string &e : errors)
    if (!e.empty())
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "code generation failed in " + e);
  return std::move(objects);
}

llvm::Expected<std::vector<EntryPointAbi>> kiln::collectAbi(ModuleOp module) {
  std::vector<EntryPointAbi> entries;
  auto malformed = [](StringRef symbol) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "malformed kiln.abi attribute on '%s'",
                                   symbol.str().c_str());
  };
  for (Operation &op : module.getBody()->getOperations()) {
    auto abi = getOpAttr<KilnDialect::AbiAttrHelper>(&op);
    auto symbol =
        op.getAttrOfType<StringAttr>(SymbolTable::getSymbolAttrName());
    if (!abi || !symbol)
      continue;
    auto integer = [&](StringRef key) -> std::optional<int64_t> {
      if (auto attr = abi.getAs<IntegerAttr>(key))
        return attr.getInt();
      return std::nullopt;
    };
    EntryPointAbi entry;
    entry.symbol = symbol.str();
    auto alignment = integer("alignment"), params = integer("params_size"),
         state = integer("opt_state_size"), io = integer("io_size"),
         scratch = integer("scratch_size"),
         total = integer("temporaries_total"),
         count = integer("num_temporaries");
    auto tensors = abi.getAs<ArrayAttr>("tensors");
    if (!alignment || !params || !state || !io || !scratch || !total ||
        !count || !tensors)
      return malformed(entry.symbol);
    entry.alignment = *alignment;
    entry.paramsSize = *params;
    entry.optStateSize = *state;
    entry.ioSize = *io;
    entry.scratchSize = *scratch;
    entry.temporariesTotal = *total;
    entry.numTemporaries = *count;
    for (Attribute attr : tensors) {
      auto dict = dyn_cast<DictionaryAttr>(attr);
      if (!dict)
        return malformed(entry.symbol);
      auto name = dict.getAs<StringAttr>("name");
      auto kind = dict.getAs<StringAttr>("kind");
      auto region = dict.getAs<StringAttr>("region");
      auto offset = dict.getAs<IntegerAttr>("offset");
      auto shape = dict.getAs<DenseI64ArrayAttr>("shape");
      auto dtype = dict.getAs<StringAttr>("dtype");
      auto updated = dict.getAs<BoolAttr>("updated");
      kiln_tensor_kind_t kindValue;
      kiln_region_t regionValue;
      if (!name || !kind || !region || !offset || !shape || !dtype ||
          !updated ||
          !kiln_tensor_kind_from_name(kind.str().c_str(), &kindValue) ||
          !kiln_region_from_name(region.str().c_str(), &regionValue))
        return malformed(entry.symbol);
      entry.tensors.push_back({name.str(), kindValue, regionValue,
                               offset.getInt(),
                               std::vector<int64_t>(shape.asArrayRef().begin(),
                                                    shape.asArrayRef().end()),
                               dtype.str(), updated.getValue()});
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

namespace {
/// "dense/kernel" -> "DENSE_KERNEL": a C identifier fragment.
std::string macroName(StringRef name) {
  std::string out;
  for (char c : name)
    out += llvm::isAlnum(c) ? llvm::toUpper(c) : '_';
  if (out.empty() || llvm::isDigit(out.front()))
    out.insert(out.begin(), '_');
  return out;
}

int64_t dtypeBytes(StringRef dtype) {
  if (dtype == "f64" || dtype == "i64")
    return 8;
  if (dtype == "i1")
    return 1;
  return 4;
}

/// `text` with "*/" broken up, so that it cannot end a C comment.
std::string commentSafe(StringRef text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if (text[i] == '*' && i + 1 < text.size() && text[i + 1] == '/')
      out += ' ';
  }
  return out;
}

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::interleave(
      shape, [&](int64_t d) { s += std::to_string(d); }, [&] { s += ", "; });
  return s + "]";
}
} // namespace

llvm::Error kiln::emitHeader(ArrayRef<EntryPointAbi> entries, StringRef prefix,
                             StringRef source, bool declareModel,
                             llvm::raw_ostream &os) {
  std::string p = macroName(prefix);
  // Every tensor gets macros named after its entry point, kind and name;
  // names that map to the same C identifier would redefine a macro.
  for (const EntryPointAbi &e : entries) {
    llvm::StringMap<StringRef> seen;
    for (const AbiTensor &t : e.tensors) {
      std::string macro = macroName(e.symbol) + "_" +
                          macroName(kiln_tensor_kind_name(t.kind)) + "_" +
                          macroName(t.name);
      auto [it, inserted] = seen.try_emplace(macro, t.name);
      if (!inserted)
        return llvm::createStringError(
            llvm::inconvertibleErrorCode(),
            "%s: tensors '%s' and '%s' would both define the header macros "
            "%s_*; rename one (kiln.param / kiln.name)",
            e.symbol.c_str(), it->second.str().c_str(), t.name.c_str(),
            macro.c_str());
    }
  }
  int64_t alignment = 64, params = 0, state = 0, io = 0, scratch = 0;
  for (const EntryPointAbi &e : entries) {
    alignment = std::max(alignment, e.alignment);
    params = std::max(params, e.paramsSize);
    state = std::max(state, e.optStateSize);
    io = std::max(io, e.ioSize);
    scratch = std::max(scratch, e.scratchSize);
  }
  os << "/* " << prefix << ".h: interface of the code kilnc generated from "
     << commentSafe(source) << ".\n"
     << " * Generated file; do not edit.\n"
     << " *\n"
     << " * Memory: the caller owns every byte. Allocate each region with " << p
     << "_ALIGNMENT\n"
     << " * alignment (kiln_regions_create in kiln/runtime.h does so) and "
        "pass it to the\n"
     << " * entry points; the generated code never allocates. Tensors are "
        "dense, row-major,\n"
     << " * at the byte offsets below. Entry points are reentrant across "
        "distinct\n"
     << " * regions; calls sharing a scratch or io region must not overlap. "
        "*/\n";
  std::string guard = p + "_H";
  os << "#ifndef " << guard << "\n#define " << guard << "\n\n"
     << "#include <stdint.h>\n\n"
     << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n";
  os << "/* Region sizes in bytes (the maximum over the entry points). */\n"
     << "#define " << p << "_ALIGNMENT " << alignment << "\n"
     << "#define " << p << "_PARAMS_SIZE " << params << "\n"
     << "#define " << p << "_OPT_STATE_SIZE " << state << "\n"
     << "#define " << p << "_IO_SIZE " << io << "\n"
     << "#define " << p << "_SCRATCH_SIZE " << scratch << "\n\n";
  for (const EntryPointAbi &e : entries) {
    std::string ep = macroName(e.symbol);
    os << "/* Entry point " << e.symbol << ": params " << e.paramsSize
       << " B, opt_state " << e.optStateSize << " B, io " << e.ioSize
       << " B, scratch arena " << e.scratchSize << " B for " << e.numTemporaries
       << " temporaries that would take " << e.temporariesTotal
       << " B unshared. */\n";
    os << "#define " << ep << "_PARAMS_SIZE " << e.paramsSize << "\n"
       << "#define " << ep << "_OPT_STATE_SIZE " << e.optStateSize << "\n"
       << "#define " << ep << "_IO_SIZE " << e.ioSize << "\n"
       << "#define " << ep << "_SCRATCH_SIZE " << e.scratchSize << "\n";
    for (const AbiTensor &t : e.tensors) {
      int64_t count = 1;
      for (int64_t d : t.shape)
        count *= d;
      std::string tm = ep + "_" + macroName(kiln_tensor_kind_name(t.kind)) +
                       "_" + macroName(t.name);
      os << "/* " << kiln_tensor_kind_name(t.kind) << " '"
         << commentSafe(t.name) << "': " << t.dtype << shapeString(t.shape)
         << " in the " << kiln_region_name(t.region) << " region at byte "
         << t.offset << (t.updated ? ", updated in place" : "") << " */\n"
         << "#define " << tm << "_OFFSET " << t.offset << "\n"
         << "#define " << tm << "_SIZE " << count * dtypeBytes(t.dtype)
         << " /* bytes */\n"
         << "#define " << tm << "_COUNT " << count << " /* elements */\n";
    }
    os << "/* Runs " << e.symbol
       << ". params, opt_state: read, and updated in place by training "
          "steps;\n * io: inputs are read and outputs written at their "
          "offsets; scratch: the\n * arena (contents undefined on return). "
          "*/\n"
       << "void " << e.symbol
       << "(void *params, void *opt_state, void *io, void *scratch);\n\n";
  }
  if (declareModel)
    os << "/* The whole model for the session API (kiln/model.h,\n"
          " * kiln/session.h): entry points, manifest, initial values. */\n"
          "struct kiln_model_t;\n"
       << "extern const struct kiln_model_t " << prefix << "_model;\n\n";
  os << "#ifdef __cplusplus\n} /* extern \"C\" */\n#endif\n\n#endif /* "
     << guard << " */\n";
  return llvm::Error::success();
}
