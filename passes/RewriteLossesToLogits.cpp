//===- RewriteLossesToLogits.cpp - stable logits forms of losses ----------===//
//
// Implements kiln-rewrite-losses-to-logits: a cross-entropy on the output
// of the activation that produces its probabilities takes the logits
// instead (see the pass description for the effect on extreme values).
//
//===----------------------------------------------------------------------===//

#include "ir/KilnOps.h"
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_KILNREWRITELOSSESTOLOGITSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace {
/// The logits `z` when `predictions` is `Activation(z)` (for softmax,
/// normalized over the last axis). Other users of the probabilities (the
/// metrics) keep them; the activation disappears when the loss was its only
/// user.
template <typename Activation> Value getLogits(Value predictions) {
  auto activation = predictions.getDefiningOp<Activation>();
  if (!activation)
    return {};
  if constexpr (std::is_same_v<Activation, SoftmaxOp>) {
    if (static_cast<int64_t>(activation.getAxis()) !=
        activation.getType().getRank() - 1)
      return {};
    return activation.getInput();
  } else {
    return activation.getOperand();
  }
}

template <typename LossOp, typename Activation>
struct LossOnActivation : OpRewritePattern<LossOp> {
  using OpRewritePattern<LossOp>::OpRewritePattern;
  LogicalResult matchAndRewrite(LossOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getFromLogits())
      return failure();
    Value logits = getLogits<Activation>(op.getPredictions());
    // Through a reshape that keeps the last axis (kiln-attach-loss
    // flattens [N, T, C] predictions to [N*T, C] for a Keras mask): the
    // same reshape of the logits.
    if (auto reshape = op.getPredictions().template getDefiningOp<ReshapeOp>();
        !logits && reshape && reshape.getInput().getType().getRank() >= 1 &&
        reshape.getInput().getType().getShape().back() ==
            reshape.getType().getShape().back()) {
      if (Value inner = getLogits<Activation>(reshape.getInput()))
        logits =
            rewriter.create<ReshapeOp>(op.getLoc(), reshape.getType(), inner);
    }
    if (!logits)
      return failure();
    rewriter.replaceOpWithNewOp<LossOp>(op, logits, op.getLabels(),
                                        op.getSampleWeight(),
                                        rewriter.getBoolAttr(true));
    return success();
  }
};

struct KilnRewriteLossesToLogitsPass
    : public kiln::impl::KilnRewriteLossesToLogitsPassBase<
          KilnRewriteLossesToLogitsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<LossOnActivation<BinaryCrossentropyOp, SigmoidOp>,
                 LossOnActivation<CategoricalCrossentropyOp, SoftmaxOp>,
                 LossOnActivation<SparseCategoricalCrossentropyOp, SoftmaxOp>>(
        &getContext());
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
