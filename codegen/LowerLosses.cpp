//===- LowerLosses.cpp - kiln losses -> linalg ----------------------------===//
//
// convert-kiln-to-linalg patterns for the losses, built directly from the
// tensor builders because they need clipping constants and an on-the-fly
// one-hot that kiln has no op for. Per-element terms are reduced to
// per-sample losses [N] (mean over the non-batch axes), then to the
// sample-weighted batch mean sum(w l) / sum(w) (0 when sum(w) == 0).
//
//===----------------------------------------------------------------------===//

#include "codegen/LinalgBuilders.h"
#include "ir/ElementwiseScalar.h"
#include "ir/KilnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::kiln;
using scalar::floatConst;

#include <limits>

namespace {

/// Keras' probability clipping epsilon (`keras.config.epsilon()`).
constexpr double kProbEpsilon = 1e-7;
constexpr double kInfinity = std::numeric_limits<double>::infinity();

/// Picks x[..., label[...]] along the last axis of `x` (one-hot on the fly:
/// linalg.index of the last axis compared with the label); NaN when the
/// label is out of range, so that the loss of a batch with an invalid label
/// is NaN (a training driver stops on it) instead of a plausible number.
/// `labels` (i32/i64) has the shape of `x` without the last axis, and so has
/// the result.
Value buildPickLastAxis(OpBuilder &b, Location loc, Value x, Value labels) {
  auto xType = cast<RankedTensorType>(x.getType());
  int64_t rank = xType.getRank();
  Type elementType = xType.getElementType();
  auto labelType = cast<RankedTensorType>(labels.getType());
  Value init =
      filledTensor(b, loc, labelType.getShape(),
                   floatConst(b, loc, elementType,
                              std::numeric_limits<double>::quiet_NaN()));
  SmallVector<AffineExpr> outer;
  for (int64_t d = 0; d + 1 < rank; ++d)
    outer.push_back(b.getAffineDimExpr(d));
  AffineMap outerMap = AffineMap::get(rank, 0, outer, b.getContext());
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank), outerMap,
                                 outerMap};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;
  auto generic = b.create<linalg::GenericOp>(
      loc, TypeRange{init.getType()}, ValueRange{x, labels}, ValueRange{init},
      maps, iterators, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value idx = nb.create<linalg::IndexOp>(nloc, rank - 1);
        Value idxInt =
            nb.create<arith::IndexCastOp>(nloc, args[1].getType(), idx);
        Value hit = nb.create<arith::CmpIOp>(nloc, arith::CmpIPredicate::eq,
                                             idxInt, args[1]);
        Value r = nb.create<arith::SelectOp>(nloc, hit, args[0], args[2]);
        nb.create<linalg::YieldOp>(nloc, r);
      });
  return generic.getResult(0);
}

/// Mean over every axis but the leading (batch) one: [N, ...] -> [N].
Value buildPerSampleMean(OpBuilder &b, Location loc, Value t) {
  auto type = cast<RankedTensorType>(t.getType());
  if (type.getRank() <= 1)
    return t;
  SmallVector<int64_t> axes;
  int64_t count = 1;
  for (int64_t d = 1; d < type.getRank(); ++d) {
    axes.push_back(d);
    count *= type.getDimSize(d);
  }
  Value sum = buildReduce(b, loc, t, axes, ReduceKind::Sum);
  return buildMapLike(
      b, loc, sum, sum, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value c =
            floatConst(nb, nloc, args[0].getType(), static_cast<double>(count));
        return nb.create<arith::DivFOp>(nloc, args[0], c);
      });
}

/// Sample-weighted batch mean of the per-sample losses `l` [N] with weights
/// `w` [N]: sum_n(w_n * l_n) / sum_n(w_n), and 0 when sum_n(w_n) == 0.
/// Returns a rank-0 tensor.
Value buildWeightedMean(OpBuilder &b, Location loc, Value l, Value w) {
  Type elementType = cast<RankedTensorType>(l.getType()).getElementType();
  auto scalarType = RankedTensorType::get({}, elementType);
  Value zero = floatConst(b, loc, elementType, 0.0);
  Value num = filledTensor(b, loc, {}, zero);
  Value den = filledTensor(b, loc, {}, zero);
  AffineMap id = b.getMultiDimIdentityMap(1);
  AffineMap toScalar = AffineMap::get(1, 0, {}, b.getContext());
  auto sums = b.create<linalg::GenericOp>(
      loc, TypeRange{scalarType, scalarType}, ValueRange{l, w},
      ValueRange{num, den}, ArrayRef<AffineMap>{id, id, toScalar, toScalar},
      ArrayRef<utils::IteratorType>{utils::IteratorType::reduction},
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        // A row of weight 0 adds 0 even when its loss is infinite (0 * inf
        // would be NaN); a NaN loss (an invalid label) stays NaN.
        Type ft = args[1].getType();
        Value zero = floatConst(nb, nloc, ft, 0.0);
        Value zeroWeight = nb.create<arith::CmpFOp>(
            nloc, arith::CmpFPredicate::OEQ, args[1], zero);
        Value infiniteLoss =
            nb.create<arith::CmpFOp>(nloc, arith::CmpFPredicate::OEQ,
                                     nb.create<math::AbsFOp>(nloc, args[0]),
                                     floatConst(nb, nloc, ft, kInfinity));
        Value wl = nb.create<arith::SelectOp>(
            nloc, nb.create<arith::AndIOp>(nloc, zeroWeight, infiniteLoss),
            zero, nb.create<arith::MulFOp>(nloc, args[1], args[0]));
        Value n = nb.create<arith::AddFOp>(nloc, args[2], wl);
        Value d = nb.create<arith::AddFOp>(nloc, args[3], args[1]);
        nb.create<linalg::YieldOp>(nloc, ValueRange{n, d});
      });
  return buildMap(b, loc, scalarType, sums.getResults(),
                  [&](OpBuilder &nb, Location nloc, ValueRange args) {
                    Value z = floatConst(nb, nloc, args[0].getType(), 0.0);
                    Value isZero = nb.create<arith::CmpFOp>(
                        nloc, arith::CmpFPredicate::OEQ, args[1], z);
                    Value q = nb.create<arith::DivFOp>(nloc, args[0], args[1]);
                    return nb.create<arith::SelectOp>(nloc, isZero, z, q);
                  });
}

/// Shifted logits along the last axis: d = z - max(z) and log(sum(exp(d))),
/// the stable pieces of log_softmax(z) = d - log(sum(exp(d))). When the
/// maximum m is infinite, z - m would be inf - inf = NaN: the limit is taken
/// instead, d = 0 where z == m and -inf elsewhere (the logits equal to an
/// infinite maximum share the probability evenly).
std::pair<Value, Value> buildShiftedLogits(OpBuilder &b, Location loc,
                                           Value z) {
  int64_t last = cast<RankedTensorType>(z.getType()).getRank() - 1;
  Value m = buildReduce(b, loc, z, {last}, ReduceKind::Max);
  Value mb = buildBroadcastLastAxis(b, loc, m, z);
  Value d =
      buildMapLike(b, loc, z, ValueRange{z, mb},
                   [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
                     Type ft = args[0].getType();
                     Value inf = floatConst(nb, nloc, ft, kInfinity);
                     Value isInf = nb.create<arith::CmpFOp>(
                         nloc, arith::CmpFPredicate::OEQ,
                         nb.create<math::AbsFOp>(nloc, args[1]), inf);
                     Value atMax = nb.create<arith::CmpFOp>(
                         nloc, arith::CmpFPredicate::OEQ, args[0], args[1]);
                     Value limit = nb.create<arith::SelectOp>(
                         nloc, atMax, floatConst(nb, nloc, ft, 0.0),
                         floatConst(nb, nloc, ft, -kInfinity));
                     return nb.create<arith::SelectOp>(
                         nloc, isInf, limit,
                         nb.create<arith::SubFOp>(nloc, args[0], args[1]));
                   });
  Value e = buildMapLike(b, loc, d, d,
                         [](OpBuilder &nb, Location nloc, ValueRange args) {
                           return nb.create<math::ExpOp>(nloc, args[0]);
                         });
  Value s = buildReduce(b, loc, e, {last}, ReduceKind::Sum);
  Value logS = buildMapLike(b, loc, s, s,
                            [](OpBuilder &nb, Location nloc, ValueRange args) {
                              return nb.create<math::LogOp>(nloc, args[0]);
                            });
  return {d, logS};
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

/// Per-element terms reduced to per-sample losses [N] (mean over the
/// non-batch axes), then the sample-weighted batch mean.
template <typename OpTy> struct LossLowering : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;

  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value p = op.getPredictions();
    Value y = op.getLabels();
    int64_t rank = cast<RankedTensorType>(p.getType()).getRank();
    Value perSample;

    if constexpr (std::is_same_v<OpTy, MeanSquaredErrorOp> ||
                  std::is_same_v<OpTy, MeanAbsoluteErrorOp>) {
      // (y - p)^2 or |y - p|, mean over the non-batch axes.
      Value t =
          buildMapLike(rewriter, loc, p, ValueRange{p, y},
                       [](OpBuilder &b, Location l, ValueRange args) -> Value {
                         Value diff =
                             b.create<arith::SubFOp>(l, args[1], args[0]);
                         if constexpr (std::is_same_v<OpTy, MeanSquaredErrorOp>)
                           return b.create<arith::MulFOp>(l, diff, diff);
                         return b.create<math::AbsFOp>(l, diff);
                       });
      perSample = buildPerSampleMean(rewriter, loc, t);
    } else if constexpr (std::is_same_v<OpTy, BinaryCrossentropyOp>) {
      bool fromLogits = op.getFromLogits();
      Value t = buildMapLike(
          rewriter, loc, p, ValueRange{p, y},
          [&](OpBuilder &b, Location l, ValueRange args) -> Value {
            Value x = args[0], label = args[1];
            if (fromLogits) {
              // max(z, 0) - z y + log1p(exp(-|z|)) = softplus(z) - z y,
              // and at z = +-inf (where that is inf - inf or 0 * inf) its
              // limit: (1 - y) * inf at +inf (0 for y = 1), y * inf at -inf
              // (0 for y = 0).
              Type ft = x.getType();
              Value zy = b.create<arith::MulFOp>(l, x, label);
              Value t =
                  b.create<arith::SubFOp>(l, scalar::softplus(b, l, x), zy);
              Value zero = floatConst(b, l, ft, 0.0);
              Value inf = floatConst(b, l, ft, kInfinity);
              auto eq = [&](Value u, Value v) -> Value {
                return b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OEQ, u,
                                               v);
              };
              Value atPos = b.create<arith::SelectOp>(
                  l, eq(label, floatConst(b, l, ft, 1.0)), zero, inf);
              Value atNeg =
                  b.create<arith::SelectOp>(l, eq(label, zero), zero, inf);
              t = b.create<arith::SelectOp>(
                  l, eq(x, floatConst(b, l, ft, -kInfinity)), atNeg, t);
              return b.create<arith::SelectOp>(l, eq(x, inf), atPos, t);
            }
            // -(y log pc + (1 - y) log(1 - pc)), pc = clip(p, eps, 1 - eps).
            Type ft = x.getType();
            Value one = floatConst(b, l, ft, 1.0);
            Value pc = scalar::clip(b, l, x, kProbEpsilon, 1.0 - kProbEpsilon);
            Value a =
                b.create<arith::MulFOp>(l, label, b.create<math::LogOp>(l, pc));
            Value q =
                b.create<math::LogOp>(l, b.create<arith::SubFOp>(l, one, pc));
            Value c = b.create<arith::MulFOp>(
                l, b.create<arith::SubFOp>(l, one, label), q);
            return b.create<arith::NegFOp>(l, b.create<arith::AddFOp>(l, a, c));
          });
      perSample = buildPerSampleMean(rewriter, loc, t);
    } else if constexpr (std::is_same_v<OpTy, CategoricalCrossentropyOp>) {
      if (rank < 2)
        return rewriter.notifyMatchFailure(
            op, "categorical_crossentropy needs a class axis after the batch "
                "axis");
      int64_t last = rank - 1;
      Value t;
      if (op.getFromLogits()) {
        // -sum_c y_c (d_c - log(sum exp d)), d = z - max(z): equals
        // logsumexp(z) - sum_c y_c z_c for labels summing to 1, without
        // the cancellation of logsumexp(z) - z_c at large |z|.
        auto [d, logS] = buildShiftedLogits(rewriter, loc, p);
        Value lsb = buildBroadcastLastAxis(rewriter, loc, logS, p);
        t = buildMapLike(
            rewriter, loc, p, ValueRange{y, d, lsb},
            [](OpBuilder &b, Location l, ValueRange args) {
              // y_c = 0 adds 0, also where d_c = -inf.
              Value diff = b.create<arith::SubFOp>(l, args[2], args[1]);
              Value zero = floatConst(b, l, args[0].getType(), 0.0);
              Value noLabel = b.create<arith::CmpFOp>(
                  l, arith::CmpFPredicate::OEQ, args[0], zero);
              return b.create<arith::SelectOp>(
                  l, noLabel, zero, b.create<arith::MulFOp>(l, args[0], diff));
            });
      } else {
        // Keras: p / sum_c(p), clipped to [eps, 1 - eps]; -y log(pc).
        Value s = buildReduce(rewriter, loc, p, {last}, ReduceKind::Sum);
        Value sb = buildBroadcastLastAxis(rewriter, loc, s, p);
        t = buildMapLike(rewriter, loc, p, ValueRange{p, sb, y},
                         [](OpBuilder &b, Location l, ValueRange args) {
                           Value q =
                               b.create<arith::DivFOp>(l, args[0], args[1]);
                           Value pc = scalar::clip(b, l, q, kProbEpsilon,
                                                   1.0 - kProbEpsilon);
                           Value ylog = b.create<arith::MulFOp>(
                               l, args[2], b.create<math::LogOp>(l, pc));
                           return b.create<arith::NegFOp>(l, ylog);
                         });
      }
      Value l0 = buildReduce(rewriter, loc, t, {last}, ReduceKind::Sum);
      perSample = buildPerSampleMean(rewriter, loc, l0);
    } else {
      static_assert(std::is_same_v<OpTy, SparseCategoricalCrossentropyOp>);
      Value l0;
      if (op.getFromLogits()) {
        // log(sum exp d) - d[label], d = z - max(z).
        auto [d, logS] = buildShiftedLogits(rewriter, loc, p);
        Value picked = buildPickLastAxis(rewriter, loc, d, y);
        l0 = buildMapLike(rewriter, loc, logS, ValueRange{logS, picked},
                          [](OpBuilder &b, Location l, ValueRange args) {
                            return b.create<arith::SubFOp>(l, args[0], args[1]);
                          });
      } else {
        // -log(clip(p[label], eps, 1 - eps)).
        Value picked = buildPickLastAxis(rewriter, loc, p, y);
        l0 = buildMapLike(
            rewriter, loc, picked, picked,
            [](OpBuilder &b, Location l, ValueRange args) {
              Value pc =
                  scalar::clip(b, l, args[0], kProbEpsilon, 1.0 - kProbEpsilon);
              return b.create<arith::NegFOp>(l, b.create<math::LogOp>(l, pc));
            });
      }
      perSample = buildPerSampleMean(rewriter, loc, l0);
    }
    Value r = buildWeightedMean(rewriter, loc, perSample, op.getSampleWeight());
    rewriter.replaceOp(op, r);
    return success();
  }
};

} // namespace

void kiln::populateKilnLossToLinalgPatterns(RewritePatternSet &patterns) {
  patterns
      .add<LossLowering<MeanSquaredErrorOp>, LossLowering<MeanAbsoluteErrorOp>,
           LossLowering<BinaryCrossentropyOp>,
           LossLowering<CategoricalCrossentropyOp>,
           LossLowering<SparseCategoricalCrossentropyOp>>(
          patterns.getContext());
}
