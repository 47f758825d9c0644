//===- LowerContraction.cpp - kiln.matmul -> linalg -----------------------===//
//
// convert-kiln-to-linalg pattern for kiln.matmul: linalg.matmul and its
// transposed / batched variants, which kiln-lower-matmul-to-runtime later
// turns into runtime GEMM calls (codegen/LowerMatmulToRuntime.cpp).
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
// Matmul
//===----------------------------------------------------------------------===//

/// Rank 2: linalg.matmul / matmul_transpose_a / matmul_transpose_b; both
/// flags: linalg.transpose of lhs, then matmul_transpose_b. Rank >= 3: the
/// batch axes are collapsed to one (rank > 3) and the batch_matmul variants
/// used, the result expanded back. The output init is a zero fill.
struct MatmulLowering : OpRewritePattern<MatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatmulOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value lhs = op.getLhs(), rhs = op.getRhs();
    auto resultType = cast<RankedTensorType>(op.getType());
    Type elementType = resultType.getElementType();
    int64_t rank = resultType.getRank();
    bool transposeLhs = op.getTransposeLhs();
    bool transposeRhs = op.getTransposeRhs();

    // Collapse the batch axes into one.
    auto collapseBatch = [&](Value v) -> Value {
      auto type = cast<RankedTensorType>(v.getType());
      if (rank <= 3)
        return v;
      int64_t batch = 1;
      for (int64_t d = 0; d < rank - 2; ++d)
        batch *= type.getDimSize(d);
      auto collapsed = RankedTensorType::get(
          {batch, type.getDimSize(rank - 2), type.getDimSize(rank - 1)},
          type.getElementType());
      return buildReshape(rewriter, loc, v, collapsed);
    };
    lhs = collapseBatch(lhs);
    rhs = collapseBatch(rhs);
    int64_t r = std::min<int64_t>(rank, 3);

    if (transposeLhs && transposeRhs) {
      auto type = cast<RankedTensorType>(lhs.getType());
      SmallVector<int64_t> perm;
      for (int64_t d = 0; d < r; ++d)
        perm.push_back(d);
      std::swap(perm[r - 1], perm[r - 2]);
      SmallVector<int64_t> shape;
      for (int64_t p : perm)
        shape.push_back(type.getDimSize(p));
      Value init = emptyTensor(rewriter, loc, shape, elementType);
      lhs = rewriter.create<linalg::TransposeOp>(loc, lhs, init, perm)
                ->getResult(0);
      transposeLhs = false;
    }

    SmallVector<int64_t> outShape;
    if (r == 3)
      outShape.push_back(cast<RankedTensorType>(lhs.getType()).getDimSize(0));
    outShape.push_back(resultType.getDimSize(rank - 2));
    outShape.push_back(resultType.getDimSize(rank - 1));
    Value init = filledTensor(rewriter, loc, outShape,
                              floatConst(rewriter, loc, elementType, 0.0));
    // Owning storage: a ValueRange over a braced list would dangle.
    SmallVector<Type, 1> types = {init.getType()};
    SmallVector<Value, 2> ins = {lhs, rhs};
    SmallVector<Value, 1> outs = {init};
    Operation *mm;
    if (r == 2) {
      if (transposeLhs)
        mm = rewriter.create<linalg::MatmulTransposeAOp>(loc, types, ins, outs);
      else if (transposeRhs)
        mm = rewriter.create<linalg::MatmulTransposeBOp>(loc, types, ins, outs);
      else
        mm = rewriter.create<linalg::MatmulOp>(loc, types, ins, outs);
    } else {
      if (transposeLhs)
        mm = rewriter.create<linalg::BatchMatmulTransposeAOp>(loc, types, ins,
                                                              outs);
      else if (transposeRhs)
        mm = rewriter.create<linalg::BatchMatmulTransposeBOp>(loc, types, ins,
                                                              outs);
      else
        mm = rewriter.create<linalg::BatchMatmulOp>(loc, types, ins, outs);
    }
    rewriter.replaceOp(
        op, buildReshape(rewriter, loc, mm->getResult(0), resultType));
    return success();
  }
};

} // namespace

void kiln::populateKilnContractionToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<MatmulLowering>(patterns.getContext());
}
