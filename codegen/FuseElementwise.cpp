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

/// The number of ops in the body of `op` (a linalg op), counting at most
/// `cap + 1` so that the check stays O(cap) however large the body is.
unsigned bodySize(Operation *op, unsigned cap) {
  auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
  if (!linalgOp || op->getNumRegions() == 0 || op->getRegion(0).empty())
    return 0;
  unsigned n = 0;
  for (auto it = op->getRegion(0).front().begin(),
            end = op->getRegion(0).front().end();
       it != end && n <= cap; ++it)
    ++n;
  return n;
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
    unsigned maxBody = maxFusedOps;
    linalg::ControlFusionFn control = [limit, maxBody](OpOperand *fused) {
      Operation *producer = fused->get().getDefiningOp();
      if (!producer)
        return false;
      // Bound the fused body (both yields go, one comes back).
      if (bodySize(producer, maxBody) + bodySize(fused->getOwner(), maxBody) >
          maxBody + 1)
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
