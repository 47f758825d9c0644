//===- VerifyStage.cpp - stage-contract legality checks -------------------===//
//
// Implements kiln-verify-stage: checks that a module meets the contract of a
// pipeline stage (docs/architecture.md) and reports every offending op or
// value, not only the first.
//
//===----------------------------------------------------------------------===//

#include "ir/KilnDialect.h"
#include "ir/KilnRuntime.h"
#include "passes/Passes.h"

#include "ir/ShapeInference.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/MathExtras.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_KILNVERIFYSTAGEPASS
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace {
/// True for the types the forward stage allows: statically shaped ranked
/// tensors of f32, f64, i32, i64 or i1.
bool isForwardType(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape())
    return false;
  Type element = tensor.getElementType();
  return element.isF32() || element.isF64() || element.isInteger(1) ||
         element.isInteger(32) || element.isInteger(64);
}

/// Byte size of a static tensor type, or nullopt when it overflows int64.
std::optional<int64_t> getByteSize(RankedTensorType type) {
  llvm::Expected<int64_t> count = getElementCount(type.getShape());
  if (!count) {
    llvm::consumeError(count.takeError());
    return std::nullopt;
  }
  int64_t bytes;
  int64_t width = llvm::divideCeil(type.getElementTypeBitWidth(), 8);
  if (llvm::MulOverflow(*count, width, bytes))
    return std::nullopt;
  return bytes;
}

/// The stage-protocol attributes the forward stage allows on arguments and
/// results (docs/architecture.md, "Forward form"). Their types, placement
/// and argument references are checked by the dialect's verifier hooks
/// (ir/KilnDialect.cpp) whenever IR is verified; this stage check only
/// rejects attributes of later stages (kiln.updated, ...).
bool isForwardArgAttr(StringRef name) {
  using D = KilnDialect;
  return llvm::is_contained(
      {D::ParamAttrHelper::getNameStr(), D::NameAttrHelper::getNameStr(),
       D::OptStateAttrHelper::getNameStr(),
       D::TrainableAttrHelper::getNameStr(), D::StateAttrHelper::getNameStr(),
       D::StepAttrHelper::getNameStr(), D::SampleWeightAttrHelper::getNameStr(),
       D::L1AttrHelper::getNameStr(), D::L2AttrHelper::getNameStr(),
       D::InitialValueAttrHelper::getNameStr(), D::InitAttrHelper::getNameStr(),
       D::InitializerAttrHelper::getNameStr(), D::AdaptAttrHelper::getNameStr(),
       D::IndexRangeAttrHelper::getNameStr()},
      name);
}
bool isForwardResultAttr(StringRef name) {
  using D = KilnDialect;
  return llvm::is_contained({D::NameAttrHelper::getNameStr(),
                             D::UpdateOfAttrHelper::getNameStr(),
                             D::GradientOfAttrHelper::getNameStr(),
                             D::StateUpdateOfAttrHelper::getNameStr(),
                             D::LossMaskAttrHelper::getNameStr()},
                            name);
}

/// Checks which kiln.* attributes a function's arguments and results carry
/// in the forward stage (that no argument gets two new values is the
/// dialect verifier's rule); returns the number of violations.
unsigned checkInterfaceAttributes(func::FuncOp func) {
  unsigned violations = 0;
  auto check = [&](DictionaryAttr attrs, StringRef role, unsigned index,
                   function_ref<bool(StringRef)> allowed) {
    if (!attrs)
      return;
    for (NamedAttribute attr : attrs) {
      StringRef name = attr.getName().getValue();
      if (!name.starts_with("kiln.") || allowed(name))
        continue;
      ++violations;
      func.emitError() << "@" << func.getSymName() << ": " << role << " "
                       << index << " has the attribute '" << name
                       << "', which the forward stage does not allow";
    }
  };
  for (unsigned i = 0; i < func.getNumArguments(); ++i)
    check(func.getArgAttrDict(i), "argument", i, isForwardArgAttr);
  for (unsigned i = 0; i < func.getNumResults(); ++i)
    check(func.getResultAttrDict(i), "result", i, isForwardResultAttr);
  return violations;
}

/// Checks the forward-stage contract; returns the number of violations.
unsigned checkForwardStage(ModuleOp module) {
  unsigned violations = 0;
  auto checkValue = [&](Operation *owner, Value value, StringRef role,
                        unsigned index) {
    if (!isForwardType(value.getType())) {
      ++violations;
      owner->emitError() << role << " " << index << " of '" << owner->getName()
                         << "' has type " << value.getType()
                         << "; the forward stage needs static shapes of f32, "
                            "f64, i32, i64 or i1";
      return;
    }
    if (!getByteSize(cast<RankedTensorType>(value.getType()))) {
      ++violations;
      owner->emitError() << role << " " << index << " of '" << owner->getName()
                         << "' has type " << value.getType()
                         << ", whose size in bytes does not fit in 64 bits";
    }
  };
  module.walk([&](Operation *op) {
    if (op == module.getOperation())
      return;
    Dialect *dialect = op->getDialect();
    bool allowed = isa<KilnDialect, func::FuncDialect>(dialect) ||
                   isa<arith::ConstantOp>(op);
    if (!allowed) {
      ++violations;
      op->emitError() << "'" << op->getName()
                      << "' is not allowed in the forward stage (only kiln, "
                         "func and arith.constant ops)";
      return;
    }
    if (auto call = dyn_cast<func::CallOp>(op)) {
      auto callee = module.lookupSymbol<func::FuncOp>(call.getCalleeAttr());
      if (!callee || callee.isExternal()) {
        ++violations;
        call.emitError() << "calls @" << call.getCallee()
                         << ", which has no body: kiln compiles whole "
                            "programs and cannot call external functions";
      }
    }
    if (auto func = dyn_cast<func::FuncOp>(op)) {
      violations += checkInterfaceAttributes(func);
      if (func.isExternal())
        return;
      for (BlockArgument arg : func.getArguments())
        checkValue(op, arg, "argument", arg.getArgNumber());
      return;
    }
    for (OpResult result : op->getResults())
      checkValue(op, result, "result", result.getResultNumber());
  });
  return violations;
}

/// Reports every value of `module` (op results and block arguments) whose
/// type `isBad` rejects, and every op `isBadOp` rejects; returns the count.
unsigned checkModule(ModuleOp module, StringRef stage,
                     function_ref<bool(Operation *)> isBadOp, StringRef opRule,
                     function_ref<bool(Type)> isBadType, StringRef typeRule) {
  unsigned violations = 0;
  module.walk([&](Operation *op) {
    if (op == module.getOperation())
      return;
    if (isBadOp(op)) {
      ++violations;
      op->emitError() << "'" << op->getName() << "' is not allowed in the "
                      << stage << " stage (" << opRule << ")";
      return;
    }
    for (OpResult result : op->getResults())
      if (isBadType(result.getType())) {
        ++violations;
        op->emitError() << "result " << result.getResultNumber() << " has type "
                        << result.getType() << "; the " << stage
                        << " stage has " << typeRule;
      }
    for (Region &region : op->getRegions())
      for (Block &block : region)
        for (BlockArgument arg : block.getArguments())
          if (isBadType(arg.getType())) {
            ++violations;
            op->emitError() << "block argument " << arg.getArgNumber()
                            << " has type " << arg.getType() << "; the "
                            << stage << " stage has " << typeRule;
          }
  });
  return violations;
}

/// After convert-kiln-to-linalg: no kiln ops (runtime kernel calls,
/// kiln_rt.kernel_call on tensors, stand for the ops the runtime computes),
/// no buffers yet.
unsigned checkLinalgStage(ModuleOp module) {
  return checkModule(
      module, "linalg",
      [](Operation *op) { return isa<KilnDialect>(op->getDialect()); },
      "every kiln op is lowered",
      [](Type type) { return isa<BaseMemRefType>(type); }, "no memrefs");
}

/// After kiln-bufferize: no tensors, no allocation, no kiln_rt op left (the
/// kernel calls are func.call of the runtime), and every public
/// function takes the four byte regions (params, opt_state, io, scratch).
unsigned checkBufferizedStage(ModuleOp module) {
  unsigned violations = checkModule(
      module, "bufferized",
      [](Operation *op) {
        return isa<memref::AllocOp, memref::AllocaOp, memref::DeallocOp,
                   kiln_rt::KernelCallOp>(op);
      },
      "all memory is planned into the regions and kernel calls are C calls",
      [](Type type) { return isa<TensorType>(type); }, "no tensors");
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isExternal() || !func.isPublic())
      continue;
    auto isRegion = [](Type type) {
      auto memref = dyn_cast<MemRefType>(type);
      return memref && memref.getRank() == 1 && memref.hasStaticShape() &&
             memref.getElementType().isInteger(8);
    };
    if (func.getNumArguments() != 4 ||
        !llvm::all_of(func.getArgumentTypes(), isRegion) ||
        func.getNumResults() != 0 ||
        !getOpAttr<KilnDialect::AbiAttrHelper>(func)) {
      ++violations;
      func.emitError() << "entry point @" << func.getSymName()
                       << " does not have the region signature (params, "
                          "opt_state, io, scratch: memref<Nxi8>) with a "
                          "kiln.abi layout";
    }
  }
  return violations;
}

/// After kiln-lower-to-llvm: only the LLVM dialect.
unsigned checkLLVMStage(ModuleOp module) {
  return checkModule(
      module, "llvm",
      [](Operation *op) { return !isa<LLVM::LLVMDialect>(op->getDialect()); },
      "only the LLVM dialect", [](Type) { return false; }, "");
}

struct KilnVerifyStagePass
    : public kiln::impl::KilnVerifyStagePassBase<KilnVerifyStagePass> {
  using KilnVerifyStagePassBase::KilnVerifyStagePassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    unsigned violations;
    if (stage == "forward")
      violations = checkForwardStage(module);
    else if (stage == "linalg")
      violations = checkLinalgStage(module);
    else if (stage == "bufferized")
      violations = checkBufferizedStage(module);
    else if (stage == "llvm")
      violations = checkLLVMStage(module);
    else {
      mlir::emitError(module.getLoc())
          << "kiln-verify-stage: unknown stage '" << stage
          << "' (known: forward, linalg, bufferized, llvm)";
      return signalPassFailure();
    }
    if (violations != 0)
      signalPassFailure();
  }
};
} // namespace
