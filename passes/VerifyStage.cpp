//===- VerifyStage.cpp - stage-contract legality checks -------------------===//
//
// Implements kiln-verify-stage: checks that a module meets the contract of a
// pipeline stage (docs/architecture.md) and reports every offending op or
// value, not only the first.
//
//===----------------------------------------------------------------------===//

#include "ir/KilnDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

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

/// Checks the forward-stage contract; returns the number of violations.
unsigned checkForwardStage(ModuleOp module) {
  unsigned violations = 0;
  auto checkValue = [&](Operation *owner, Value value, StringRef role,
                        unsigned index) {
    if (isForwardType(value.getType()))
      return;
    ++violations;
    owner->emitError() << role << " " << index << " of '"
                       << owner->getName() << "' has type " << value.getType()
                       << "; the forward stage needs static shapes of f32, "
                          "f64, i32, i64 or i1";
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
    if (auto func = dyn_cast<func::FuncOp>(op)) {
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

struct KilnVerifyStagePass
    : public kiln::impl::KilnVerifyStagePassBase<KilnVerifyStagePass> {
  using KilnVerifyStagePassBase::KilnVerifyStagePassBase;

  void runOnOperation() override {
    if (stage != "forward") {
      getOperation().emitError()
          << "kiln-verify-stage: unknown stage '" << stage
          << "' (known: forward)";
      return signalPassFailure();
    }
    if (checkForwardStage(getOperation()) != 0)
      signalPassFailure();
  }
};
} // namespace
