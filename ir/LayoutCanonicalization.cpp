//===- LayoutCanonicalization.cpp - sinking kiln.transpose ----------------===//
//
// Canonicalization patterns of kiln.transpose (TransposeOp::
// getCanonicalizationPatterns) that move transposes towards the uses of a
// value, so that layout changes cancel: the ONNX importer wraps every
// channels-last conv/pool in NCHW -> NHWC and NHWC -> NCHW transposes, and
// these patterns (with TransposeOp::fold, which composes and cancels
// transpose(transpose(x))) leave a conv -> batch_norm -> relu -> conv chain
// channels-last between its entry and exit transposes.
//
//   elementwise(transpose(a, p), transpose(b, p)) -> transpose(elementwise(a,
//   b), p)
//       (operands may also be splat constants or kiln.broadcast_in_dim,
//        which are rebuilt in the un-transposed layout)
//   batch_norm(transpose(x, p), axis = a) -> transpose(batch_norm(x, axis =
//   p[a]), p) reduce(transpose(x, p), axes) -> transpose(reduce(x, p[axes]), q)
//   transpose(x) that keeps the order of the non-unit axes -> reshape(x)
//
// A transpose is a copy and these patterns never add one on a path that had
// none: each rewrite replaces the transposes of its operands by one on its
// result (a transpose with other users stays for them).
//
//===----------------------------------------------------------------------===//

#include "ir/KilnOps.h"

#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::kiln;

namespace {

RankedTensorType tensorType(Value v) {
  return dyn_cast<RankedTensorType>(v.getType());
}

/// The type whose transpose by `perm` is `type`: axis perm[i] has size
/// type[i].
RankedTensorType untransposedType(RankedTensorType type,
                                  ArrayRef<int64_t> perm) {
  SmallVector<int64_t> shape(type.getRank());
  for (auto [i, p] : llvm::enumerate(perm))
    shape[p] = type.getDimSize(i);
  return RankedTensorType::get(shape, type.getElementType());
}

Value transpose(PatternRewriter &rewriter, Location loc, Value v,
                ArrayRef<int64_t> perm) {
  return rewriter.create<TransposeOp>(loc, v, perm);
}

/// An operand of an op being sunk past, in the un-transposed layout: the
/// transpose's input, a splat constant or a broadcast rebuilt; null if none.
Value untransposed(PatternRewriter &rewriter, Location loc, Value v,
                   ArrayRef<int64_t> perm, bool build) {
  RankedTensorType type = tensorType(v);
  if (!type || type.getRank() != static_cast<int64_t>(perm.size()))
    return {};
  if (auto t = v.getDefiningOp<TransposeOp>())
    return t.getPermutation() == perm ? t.getInput() : Value();
  DenseElementsAttr dense;
  if (matchPattern(v, m_Constant(&dense)) && dense.isSplat()) {
    if (!build)
      return v;
    return rewriter.create<ConstantOp>(
        loc, dense.reshape(untransposedType(type, perm)));
  }
  if (auto b = v.getDefiningOp<BroadcastInDimOp>()) {
    // Operand axis k reaches result axis dims[k], which is axis
    // perm[dims[k]] before the transpose.
    SmallVector<int64_t> dims;
    for (int64_t d : b.getBroadcastDimensions())
      dims.push_back(perm[d]);
    for (size_t k = 1; k < dims.size(); ++k)
      if (dims[k - 1] >= dims[k])
        return {};
    if (!build)
      return v;
    return rewriter.create<BroadcastInDimOp>(loc, untransposedType(type, perm),
                                             b.getOperand(), dims);
  }
  return {};
}

/// elementwise(transpose(a, p), ...) -> transpose(elementwise(a, ...), p).
struct SinkTransposeThroughElementwise : RewritePattern {
  explicit SinkTransposeThroughElementwise(MLIRContext *context)
      : RewritePattern(MatchAnyOpTypeTag(), 1, context) {}

  LogicalResult matchAndRewrite(Operation *op,
                                PatternRewriter &rewriter) const override {
    if (!isa<ElementwiseScalarOpInterface>(op) || op->getNumResults() != 1 ||
        op->getNumRegions() != 0 || op->getNumOperands() == 0)
      return failure();
    RankedTensorType resultType = tensorType(op->getResult(0));
    if (!resultType)
      return failure();
    ArrayRef<int64_t> perm;
    for (Value v : op->getOperands())
      if (auto t = v.getDefiningOp<TransposeOp>()) {
        perm = t.getPermutation();
        break;
      }
    if (perm.empty())
      return failure();
    for (Value v : op->getOperands()) {
      RankedTensorType type = tensorType(v);
      if (!type || type.getShape() != resultType.getShape() ||
          !untransposed(rewriter, op->getLoc(), v, perm, false))
        return failure();
    }
    SmallVector<Value> operands;
    for (Value v : op->getOperands())
      operands.push_back(untransposed(rewriter, op->getLoc(), v, perm, true));
    OperationState state(op->getLoc(), op->getName());
    state.addOperands(operands);
    state.addAttributes(op->getAttrs());
    state.addTypes(untransposedType(resultType, perm));
    Operation *sunk = rewriter.create(state);
    rewriter.replaceOp(
        op, transpose(rewriter, op->getLoc(), sunk->getResult(0), perm));
    return success();
  }
};

/// batch_norm(transpose(x, p), axis = a) ->
/// transpose(batch_norm(x, axis = p[a]), p); the statistics are per channel
/// and do not move.
struct SinkTransposeThroughBatchNorm : OpRewritePattern<BatchNormOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(BatchNormOp op,
                                PatternRewriter &rewriter) const override {
    auto t = op.getInput().getDefiningOp<TransposeOp>();
    if (!t)
      return failure();
    ArrayRef<int64_t> perm = t.getPermutation();
    // Operands after the five tensors index the batch axis 0: it must stay.
    if (op->getNumOperands() > 5 && perm[0] != 0)
      return failure();
    SmallVector<Value> operands(op->getOperands());
    operands[0] = t.getInput();
    OperationState state(op.getLoc(), op->getName());
    state.addOperands(operands);
    state.addAttributes(op->getAttrs());
    state.addAttribute(op.getAxisAttrName(),
                       rewriter.getI64IntegerAttr(perm[op.getAxis()]));
    state.addTypes({t.getInput().getType(), op->getResult(1).getType(),
                    op->getResult(2).getType()});
    Operation *sunk = rewriter.create(state);
    rewriter.replaceOp(
        op, {transpose(rewriter, op.getLoc(), sunk->getResult(0), perm),
             sunk->getResult(1), sunk->getResult(2)});
    return success();
  }
};

/// reduce(transpose(x, p), axes) -> transpose(reduce(x, p[axes]), q), q
/// ordering the kept axes as before (the identity, folded away, when they
/// stay in order).
template <typename OpT>
struct SinkTransposeThroughReduce : OpRewritePattern<OpT> {
  using OpRewritePattern<OpT>::OpRewritePattern;

  LogicalResult matchAndRewrite(OpT op,
                                PatternRewriter &rewriter) const override {
    auto t = op.getInput().template getDefiningOp<TransposeOp>();
    if (!t)
      return failure();
    ArrayRef<int64_t> perm = t.getPermutation();
    int64_t rank = perm.size();
    SmallVector<bool> reduced(rank, false);
    for (int64_t a : op.getAxes())
      reduced[perm[a]] = true;
    SmallVector<int64_t> axes;
    for (int64_t j = 0; j < rank; ++j)
      if (reduced[j])
        axes.push_back(j);
    RankedTensorType inputType = tensorType(t.getInput());
    bool keep = op.getKeepDims();
    // Result axes of the new reduction: x's axes (kept ones as 1 with
    // keep_dims), in order; position of x axis j among them.
    SmallVector<int64_t> shape, position(rank, -1);
    for (int64_t j = 0; j < rank; ++j) {
      if (reduced[j] && !keep)
        continue;
      position[j] = shape.size();
      shape.push_back(reduced[j] ? 1 : inputType.getDimSize(j));
    }
    // The old result's axis order: axis i of transpose(x) is x's perm[i].
    SmallVector<int64_t> order;
    for (int64_t i = 0; i < rank; ++i)
      if (position[perm[i]] >= 0)
        order.push_back(position[perm[i]]);
    OperationState state(op.getLoc(), op->getName());
    state.addOperands(t.getInput());
    state.addAttributes(op->getAttrs());
    state.addAttribute(op.getAxesAttrName(),
                       rewriter.getDenseI64ArrayAttr(axes));
    state.addTypes(RankedTensorType::get(shape, inputType.getElementType()));
    Operation *sunk = rewriter.create(state);
    rewriter.replaceOp(
        op, transpose(rewriter, op.getLoc(), sunk->getResult(0), order));
    return success();
  }
};

/// A transpose that only moves size-1 axes is a reshape.
struct TransposeOfUnitAxesToReshape : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(TransposeOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType type = tensorType(op.getInput());
    int64_t last = -1;
    for (int64_t p : op.getPermutation()) {
      if (type.getDimSize(p) == 1)
        continue;
      if (p < last)
        return failure();
      last = p;
    }
    rewriter.replaceOpWithNewOp<ReshapeOp>(op, op.getType(), op.getInput());
    return success();
  }
};

} // namespace

void TransposeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                              MLIRContext *context) {
  results.add<SinkTransposeThroughElementwise, SinkTransposeThroughBatchNorm,
              SinkTransposeThroughReduce<ReduceSumOp>,
              SinkTransposeThroughReduce<ReduceMeanOp>,
              SinkTransposeThroughReduce<ReduceMaxOp>,
              TransposeOfUnitAxesToReshape>(context);
}
