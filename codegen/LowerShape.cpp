//===- LowerShape.cpp - kiln shape ops -> linalg/tensor -------------------===//
//
// convert-kiln-to-linalg patterns for the shape ops: reshape (tensor
// collapse/expand), transpose (linalg.transpose), concat and pad (tensor
// insert_slice / pad), slice (tensor.extract_slice), broadcast_in_dim (a
// linalg.generic with a broadcasting input map).
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

namespace {

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

struct ReshapeLowering : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, buildReshape(rewriter, op.getLoc(), op.getInput(),
                                        cast<RankedTensorType>(op.getType())));
    return success();
  }
};

struct TransposeLowering : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TransposeOp op,
                                PatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op.getType());
    Value init = emptyTensor(rewriter, op.getLoc(), type.getShape(),
                             type.getElementType());
    Value r = rewriter
                  .create<linalg::TransposeOp>(op.getLoc(), op.getInput(), init,
                                               op.getPermutation())
                  ->getResult(0);
    rewriter.replaceOp(op, r);
    return success();
  }
};

/// concat: tensor.empty of the result, then one tensor.insert_slice per
/// input at its running offset along `axis`.
struct ConcatLowering : OpRewritePattern<ConcatOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConcatOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getType());
    int64_t axis = op.getAxis();
    Value result =
        emptyTensor(rewriter, loc, type.getShape(), type.getElementType());
    int64_t offset = 0;
    for (Value input : op.getInputs()) {
      auto inType = cast<RankedTensorType>(input.getType());
      SmallVector<OpFoldResult> offsets, sizes, strides;
      for (int64_t d = 0; d < type.getRank(); ++d) {
        offsets.push_back(rewriter.getIndexAttr(d == axis ? offset : 0));
        sizes.push_back(rewriter.getIndexAttr(inType.getDimSize(d)));
        strides.push_back(rewriter.getIndexAttr(1));
      }
      result = rewriter.create<tensor::InsertSliceOp>(loc, input, result,
                                                      offsets, sizes, strides);
      offset += inType.getDimSize(axis);
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct SliceLowering : OpRewritePattern<SliceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SliceOp op,
                                PatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op.getType());
    SmallVector<OpFoldResult> offsets, sizes, strides;
    for (int64_t d = 0; d < type.getRank(); ++d) {
      offsets.push_back(rewriter.getIndexAttr(op.getStart()[d]));
      sizes.push_back(rewriter.getIndexAttr(type.getDimSize(d)));
      strides.push_back(rewriter.getIndexAttr(op.getStrides()[d]));
    }
    rewriter.replaceOpWithNewOp<tensor::ExtractSliceOp>(
        op, type, op.getInput(), offsets, sizes, strides);
    return success();
  }
};

struct PadLowering : OpRewritePattern<PadOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(PadOp op,
                                PatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op.getType());
    Location loc = op.getLoc();
    Value value = floatConst(rewriter, loc, type.getElementType(),
                             op.getPaddingValue().convertToDouble());
    ArrayRef<int64_t> interior = op.getInterior();
    if (llvm::all_of(interior, [](int64_t v) { return v == 0; })) {
      SmallVector<OpFoldResult> low, high;
      for (int64_t v : op.getLow())
        low.push_back(rewriter.getIndexAttr(v));
      for (int64_t v : op.getHigh())
        high.push_back(rewriter.getIndexAttr(v));
      rewriter.replaceOpWithNewOp<tensor::PadOp>(op, type, op.getInput(), low,
                                                 high, value);
      return success();
    }
    // Interior padding: the input goes into a filled tensor at offset `low`
    // with stride interior + 1 on each axis.
    Value filled = filledTensor(rewriter, loc, type.getShape(), value);
    auto inputType = cast<RankedTensorType>(op.getInput().getType());
    SmallVector<OpFoldResult> offsets, sizes, strides;
    for (int64_t i = 0; i < type.getRank(); ++i) {
      offsets.push_back(rewriter.getIndexAttr(op.getLow()[i]));
      sizes.push_back(rewriter.getIndexAttr(inputType.getDimSize(i)));
      strides.push_back(rewriter.getIndexAttr(interior[i] + 1));
    }
    rewriter.replaceOpWithNewOp<tensor::InsertSliceOp>(
        op, op.getInput(), filled, offsets, sizes, strides);
    return success();
  }
};

struct BroadcastInDimLowering : OpRewritePattern<BroadcastInDimOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(BroadcastInDimOp op,
                                PatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op.getType());
    if (op.getOperand().getType() == type) {
      rewriter.replaceOp(op, op.getOperand());
      return success();
    }
    rewriter.replaceOp(op,
                       buildBroadcast(rewriter, op.getLoc(), op.getOperand(),
                                      type, op.getBroadcastDimensions()));
    return success();
  }
};

} // namespace

void kiln::populateKilnShapeToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<ReshapeLowering, TransposeLowering, ConcatLowering,
               SliceLowering, PadLowering, BroadcastInDimLowering>(
      patterns.getContext());
}
