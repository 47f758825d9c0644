//===- LowerReductions.cpp - kiln reductions and softmax -> linalg --------===//
//
// convert-kiln-to-linalg patterns for reduce_sum/mean/max (linalg.generic
// reductions), argmax (one generic with two outputs) and softmax /
// log_softmax, which decompose into kiln primitives (reduce_max,
// broadcast_in_dim, sub, exp, reduce_sum, ...) that the dialect conversion
// then legalizes with the other patterns.
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

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

template <typename OpTy> struct ReduceLowering : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto resultType = cast<RankedTensorType>(op.getType());
    auto inType = cast<RankedTensorType>(op.getInput().getType());
    if (op.getAxes().empty()) {
      rewriter.replaceOp(op, op.getInput());
      return success();
    }
    SmallVector<int64_t> axes(op.getAxes());
    llvm::sort(axes);
    constexpr bool isMax = std::is_same_v<OpTy, ReduceMaxOp>;
    Value r = buildReduce(rewriter, loc, op.getInput(), axes,
                          isMax ? ReduceKind::Max : ReduceKind::Sum);
    if constexpr (std::is_same_v<OpTy, ReduceMeanOp>) {
      int64_t count = 1;
      for (int64_t a : axes)
        count *= inType.getDimSize(a);
      r = buildMapLike(
          rewriter, loc, r, r, [&](OpBuilder &b, Location l, ValueRange args) {
            Value c =
                floatConst(b, l, args[0].getType(), static_cast<double>(count));
            return b.create<arith::DivFOp>(l, args[0], c);
          });
    }
    // keep_dims: the reduced axes come back with size 1.
    rewriter.replaceOp(op, buildReshape(rewriter, loc, r, resultType));
    return success();
  }
};

/// argmax: one generic with two outputs (running max, its index as i64).
/// An element replaces the running max when it is strictly greater (so the
/// first index wins at ties) or when it is NaN and the running max is not
/// (so the first NaN wins and stays).
struct ArgmaxLowering : OpRewritePattern<ArgmaxOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ArgmaxOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto inType = cast<RankedTensorType>(op.getInput().getType());
    auto resultType = cast<RankedTensorType>(op.getType());
    int64_t rank = inType.getRank();
    int64_t axis = op.getAxis();
    Type elementType = inType.getElementType();
    Type i64 = rewriter.getI64Type();

    SmallVector<int64_t> outShape;
    SmallVector<AffineExpr> outExprs;
    SmallVector<utils::IteratorType> iterators;
    for (int64_t d = 0; d < rank; ++d) {
      if (d == axis) {
        iterators.push_back(utils::IteratorType::reduction);
        continue;
      }
      iterators.push_back(utils::IteratorType::parallel);
      outShape.push_back(inType.getDimSize(d));
      outExprs.push_back(rewriter.getAffineDimExpr(d));
    }
    Value maxInit =
        filledTensor(rewriter, loc, outShape,
                     floatConst(rewriter, loc, elementType,
                                -std::numeric_limits<double>::infinity()));
    Value idxInit = filledTensor(
        rewriter, loc, outShape,
        rewriter.create<arith::ConstantOp>(loc, rewriter.getI64IntegerAttr(0)));
    AffineMap outMap = AffineMap::get(rank, 0, outExprs, getContext());
    SmallVector<AffineMap> maps = {rewriter.getMultiDimIdentityMap(rank),
                                   outMap, outMap};
    auto generic = rewriter.create<linalg::GenericOp>(
        loc, TypeRange{maxInit.getType(), idxInit.getType()},
        ValueRange{op.getInput()}, ValueRange{maxInit, idxInit}, maps,
        iterators, [&](OpBuilder &b, Location l, ValueRange args) {
          Value x = args[0], curMax = args[1], curIdx = args[2];
          Value greater =
              b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OGT, x, curMax);
          Value xIsNan =
              b.create<arith::CmpFOp>(l, arith::CmpFPredicate::UNO, x, x);
          Value maxIsNum = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::ORD,
                                                   curMax, curMax);
          Value firstNan = b.create<arith::AndIOp>(l, xIsNan, maxIsNum);
          Value take = b.create<arith::OrIOp>(l, greater, firstNan);
          Value idx = b.create<arith::IndexCastOp>(
              l, i64, b.create<linalg::IndexOp>(l, axis));
          Value newMax = b.create<arith::SelectOp>(l, take, x, curMax);
          Value newIdx = b.create<arith::SelectOp>(l, take, idx, curIdx);
          b.create<linalg::YieldOp>(l, ValueRange{newMax, newIdx});
        });
    rewriter.replaceOp(
        op, buildReshape(rewriter, loc, generic.getResult(1), resultType));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// softmax / log_softmax: decomposed into kiln primitives
//===----------------------------------------------------------------------===//

/// m = reduce_max(x, axis, keep_dims); d = x - broadcast(m); e = exp(d);
/// s = reduce_sum(e, axis, keep_dims);
/// softmax = e / broadcast(s); log_softmax = d - broadcast(log(s)).
template <typename OpTy> struct SoftmaxDecomposition : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = op.getInput();
    auto type = cast<RankedTensorType>(x.getType());
    SmallVector<int64_t> allDims;
    for (int64_t d = 0; d < type.getRank(); ++d)
      allDims.push_back(d);
    DenseI64ArrayAttr axes =
        rewriter.getDenseI64ArrayAttr({static_cast<int64_t>(op.getAxis())});
    BoolAttr keep = rewriter.getBoolAttr(true);
    auto broadcast = [&](Value v) -> Value {
      return rewriter.create<BroadcastInDimOp>(loc, type, v, allDims);
    };
    Value m = rewriter.create<ReduceMaxOp>(loc, x, axes, keep);
    Value mb = broadcast(m);
    // An infinite maximum would make x - m = inf - inf = NaN: take the
    // limit, d = 0 where x == m and -inf elsewhere (the entries equal to an
    // infinite maximum share the probability evenly).
    auto splat = [&](double v) -> Value {
      return rewriter.create<ConstantOp>(
          loc, DenseElementsAttr::get(
                   type, rewriter.getFloatAttr(type.getElementType(), v)));
    };
    double inf = std::numeric_limits<double>::infinity();
    Value isInf =
        rewriter.create<CompareOp>(loc, ComparisonDirection::eq,
                                   rewriter.create<AbsOp>(loc, mb), splat(inf));
    Value atMax =
        rewriter.create<CompareOp>(loc, ComparisonDirection::eq, x, mb);
    Value limit =
        rewriter.create<SelectOp>(loc, atMax, splat(0.0), splat(-inf));
    Value d = rewriter.create<SelectOp>(loc, isInf, limit,
                                        rewriter.create<SubOp>(loc, x, mb));
    Value e = rewriter.create<ExpOp>(loc, d);
    Value s = rewriter.create<ReduceSumOp>(loc, e, axes, keep);
    Value r;
    if constexpr (std::is_same_v<OpTy, SoftmaxOp>)
      r = rewriter.create<DivOp>(loc, e, broadcast(s));
    else
      r = rewriter.create<SubOp>(loc, d,
                                 broadcast(rewriter.create<LogOp>(loc, s)));
    rewriter.replaceOp(op, r);
    return success();
  }
};

} // namespace

void kiln::populateKilnReductionToLinalgPatterns(RewritePatternSet &patterns) {
  patterns
      .add<ReduceLowering<ReduceSumOp>, ReduceLowering<ReduceMeanOp>,
           ReduceLowering<ReduceMaxOp>, ArgmaxLowering,
           SoftmaxDecomposition<SoftmaxOp>, SoftmaxDecomposition<LogSoftmaxOp>>(
          patterns.getContext());
}
