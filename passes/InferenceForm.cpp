//===- InferenceForm.cpp - forward functions in inference mode ------------===//
//
// Implements kiln-inference-form (see the pass description): dropout
// becomes the identity and the dropout counter argument disappears.
//
//===----------------------------------------------------------------------===//

#include "ir/KilnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
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
struct KilnInferenceFormPass
    : kiln::impl::KilnInferenceFormPassBase<KilnInferenceFormPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      func.walk([](DropoutOp dropout) {
        dropout.getResult().replaceAllUsesWith(dropout.getInput());
        dropout.erase();
      });
      llvm::BitVector erase(func.getNumArguments());
      for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
        if (func.getArgAttr(i, "kiln.step") && func.getArgument(i).use_empty())
          erase.set(i);
      func.eraseArguments(erase);
    }
  }
};
} // namespace
