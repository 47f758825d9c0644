//===- FuseElementwise.cpp - elementwise fusion with recomputation --------===//
//
// Implements kiln-fuse-elementwise: upstream linalg elementwise fusion with
// a control function that also fuses small multi-use producers (their work
// is recomputed by every consumer instead of stored and reloaded) and never
// fuses a producer into a consumer that reads it through a broadcast.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "ir/KilnRuntime.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_KILNFUSEELEMENTWISEPASS
#include "codegen/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;

namespace {
/// True for a linalg.generic whose loops are all parallel (pure
/// elementwise or broadcasting work).
bool isParallelGeneric(Operation *op) {
  auto generic = dyn_cast_or_null<linalg::GenericOp>(op);
  return generic && generic.getNumLoops() == generic.getNumParallelLoops();
}

/// True for elementwise work on a kernel call's result, directly or through
/// one more elementwise op (`act(C + bias)` before fusion merged the two).
bool isConvEpilogue(Operation *op, int depth = 2) {
  if (!isParallelGeneric(op))
    return false;
  return llvm::any_of(op->getOperands(), [&](Value operand) {
    Operation *def = operand.getDefiningOp();
    return isa_and_nonnull<kiln_rt::KernelCallOp>(def) ||
           (depth > 1 && isConvEpilogue(def, depth - 1));
  });
}

struct KilnFuseElementwisePass
    : public kiln::impl::KilnFuseElementwisePassBase<KilnFuseElementwisePass> {
  using KilnFuseElementwisePassBase::KilnFuseElementwisePassBase;

  void runOnOperation() override {
    unsigned limit = maxRecomputedOps;
    linalg::ControlFusionFn control = [limit](OpOperand *fused) {
      Operation *producer = fused->get().getDefiningOp();
      if (!producer)
        return false;
      // A producer the consumer reads through a broadcast (a scalar bias
      // correction, a per-row statistic) stays separate: fused, its work
      // would be redone for every element of the larger consumer.
      auto consumer = dyn_cast<linalg::LinalgOp>(fused->getOwner());
      if (consumer && consumer.getMatchingIndexingMap(fused).getNumResults() <
                          consumer.getNumLoops())
        return false;
      if (producer->hasOneUse())
        return true;
      // The epilogue of a convolution (its bias and activation) is not
      // recomputed by other consumers, so that it stays one op that
      // kiln-fuse-conv-epilogues can move into the kernel; recomputed, it
      // would keep the kernel's raw output alive.
      if (isConvEpilogue(producer))
        return false;
      // Several users: recompute only cheap elementwise work.
      if (!isParallelGeneric(producer) || !isParallelGeneric(fused->getOwner()))
        return false;
      Block &body = cast<linalg::GenericOp>(producer).getRegion().front();
      return body.getOperations().size() <= limit + 1; // + the yield
    };
    RewritePatternSet patterns(&getContext());
    linalg::populateElementwiseOpsFusionPatterns(patterns, control);
    linalg::populateEraseUnusedOperandsAndResultsPatterns(patterns);
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
