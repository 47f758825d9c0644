//===- InferenceForm.cpp - forward functions in inference mode ------------===//
//
// Implements kiln-inference-form (see the pass description): every op with
// InferenceFormOpInterface (dropout, batch_norm) is replaced by its
// inference form, the step counter and sample-weight arguments, which no op
// reads any more, disappear, and state is read but not updated (results
// marked kiln.state_update_of are dropped, and so is a kiln.loss_mask).
//
//===----------------------------------------------------------------------===//

#include "ir/KilnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/BitVector.h"

#include "passes/Passes.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_KILNINFERENCEFORMPASS
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace {
/// Removes the results marked kiln.state_update_of (inference reads state
/// and never writes it) and kiln.loss_mask (only a loss reads it).
void eraseStateUpdates(func::FuncOp func) {
  llvm::BitVector erase(func.getNumResults());
  for (unsigned r = 0, e = func.getNumResults(); r < e; ++r)
    if (hasResultAttr<KilnDialect::StateUpdateOfAttrHelper>(func, r) ||
        hasResultAttr<KilnDialect::LossMaskAttrHelper>(func, r))
      erase.set(r);
  if (erase.none())
    return;
  func.walk([&](func::ReturnOp ret) {
    for (int r = static_cast<int>(erase.size()) - 1; r >= 0; --r)
      if (erase.test(r))
        ret->eraseOperand(r);
  });
  func.eraseResults(erase);
}

struct KilnInferenceFormPass
    : kiln::impl::KilnInferenceFormPassBase<KilnInferenceFormPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      func.walk([](InferenceFormOpInterface op) {
        OpBuilder builder(op);
        SmallVector<Value> replacements;
        op.buildInferenceForm(builder, replacements);
        op->replaceAllUsesWith(replacements);
        op->erase();
      });
      llvm::BitVector erase(func.getNumArguments());
      for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
        if ((hasArgAttr<KilnDialect::StepAttrHelper>(func, i) ||
             hasArgAttr<KilnDialect::SampleWeightAttrHelper>(func, i)) &&
            func.getArgument(i).use_empty())
          erase.set(i);
      func.eraseArguments(erase);
      eraseStateUpdates(func);
    }
  }
};
} // namespace
