//===- LowerElementwise.cpp - kiln elementwise ops -> linalg --------------===//
//
// convert-kiln-to-linalg patterns for the elementwise ops: ONE pattern for
// every op with ElementwiseScalarOpInterface (a linalg.generic with identity
// maps and parallel iterators whose body is the op's buildScalar, so that
// linalg elementwise fusion sees it), plus constant, stop_gradient, iota and
// dropout (which read the element index).
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
// Ops with a scalar body, constant, stop_gradient
//===----------------------------------------------------------------------===//

/// Any op with a scalar body: one linalg.generic whose body is buildScalar.
struct ElementwiseLowering
    : OpInterfaceRewritePattern<ElementwiseScalarOpInterface> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;
  LogicalResult matchAndRewrite(ElementwiseScalarOpInterface op,
                                PatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op->getResult(0).getType());
    Value r = buildMap(rewriter, op.getLoc(), type, op->getOperands(),
                       [&](OpBuilder &b, Location loc, ValueRange args) {
                         return op.buildScalar(b, loc, args);
                       });
    rewriter.replaceOp(op, r);
    return success();
  }
};

struct ConstantLowering : OpRewritePattern<ConstantOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConstantOp op,
                                PatternRewriter &rewriter) const override {
    auto value = dyn_cast<TypedAttr>(op.getValue());
    if (!value || value.getType() != op.getType())
      return rewriter.notifyMatchFailure(op, "value is not a typed attribute");
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(op, op.getType(), value);
    return success();
  }
};

struct StopGradientLowering : OpRewritePattern<StopGradientOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(StopGradientOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, op.getOperand());
    return success();
  }
};

/// kiln.iota: a generic writing linalg.index of `dimension`, converted to the
/// element type.
struct IotaLowering : OpRewritePattern<IotaOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(IotaOp op,
                                PatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op.getType());
    int64_t dimension = op.getDimension();
    Type elementType = type.getElementType();
    Value result =
        buildMap(rewriter, op.getLoc(), type, ValueRange{},
                 [&](OpBuilder &b, Location loc, ValueRange) -> Value {
                   Value index = b.create<linalg::IndexOp>(loc, dimension);
                   Value i64 =
                       b.create<arith::IndexCastOp>(loc, b.getI64Type(), index);
                   if (isa<FloatType>(elementType))
                     return b.create<arith::SIToFPOp>(loc, elementType, i64);
                   if (elementType.isInteger(64))
                     return i64;
                   return b.create<arith::TruncIOp>(loc, elementType, i64);
                 });
    rewriter.replaceOp(op, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Dropout
//===----------------------------------------------------------------------===//

// The keep decision of kiln.dropout (cited by docs/spec.md). All arithmetic
// is on uint64 with wrap-around; G = 0x9E3779B97F4A7C15 (splitmix64 gamma);
// mix64 is the splitmix64 finalizer:
//   mix64(z): z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
//             z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
//             return z ^ (z >> 31);
// For seed s (the i64 attribute, as its bits), counter c (the rank-0 operand,
// sign-extended to 64 bits) and element i (row-major linear index):
//   key  = mix64((s * G) ^ c)
//   h    = mix64(key + i * G)
//   u    = (h >> 40) / 2^24               (top 24 bits, in [0, 1))
//   keep = u >= rate, evaluated exactly as (h >> 40) >= ceil(rate * 2^24)
//   out  = keep ? x / (1 - rate) : 0
constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

Value buildMix64(OpBuilder &b, Location loc, Value z) {
  auto step = [&](Value v, int64_t shift, uint64_t mul) -> Value {
    Value s = b.create<arith::ShRUIOp>(loc, v, i64Const(b, loc, shift));
    Value x = b.create<arith::XOrIOp>(loc, v, s);
    return b.create<arith::MulIOp>(loc, x, i64Const(b, loc, mul));
  };
  z = step(z, 30, 0xBF58476D1CE4E5B9ULL);
  z = step(z, 27, 0x94D049BB133111EBULL);
  return b.create<arith::XOrIOp>(
      loc, z, b.create<arith::ShRUIOp>(loc, z, i64Const(b, loc, 31)));
}

struct DropoutLowering : OpRewritePattern<DropoutOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(DropoutOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getType());
    double rate = op.getRate().convertToDouble();
    Type i64 = rewriter.getI64Type();

    // key = mix64((seed * G) ^ counter), computed once per call.
    Value counter =
        rewriter.create<tensor::ExtractOp>(loc, op.getCounter(), ValueRange{});
    if (counter.getType() != i64)
      counter = rewriter.create<arith::ExtSIOp>(loc, i64, counter);
    uint64_t seedMix = static_cast<uint64_t>(op.getSeed()) * kGolden;
    Value key = buildMix64(rewriter, loc,
                           rewriter.create<arith::XOrIOp>(
                               loc, i64Const(rewriter, loc, seedMix), counter));
    uint64_t threshold =
        static_cast<uint64_t>(std::ceil(rate * static_cast<double>(1 << 24)));

    SmallVector<int64_t> strides(type.getRank(), 1);
    for (int64_t d = type.getRank() - 2; d >= 0; --d)
      strides[d] = strides[d + 1] * type.getDimSize(d + 1);

    Value r = buildMap(
        rewriter, loc, type, op.getInput(),
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          // Row-major linear index: sum_d index(d) * stride(d), in i64.
          Value linear;
          for (int64_t d = 0; d < type.getRank(); ++d) {
            Value term = b.create<arith::IndexCastOp>(
                l, i64, b.create<linalg::IndexOp>(l, d));
            if (strides[d] != 1)
              term =
                  b.create<arith::MulIOp>(l, term, i64Const(b, l, strides[d]));
            linear = linear ? b.create<arith::AddIOp>(l, linear, term) : term;
          }
          if (!linear)
            linear = i64Const(b, l, 0);
          Value state = b.create<arith::AddIOp>(
              l, key,
              b.create<arith::MulIOp>(l, linear, i64Const(b, l, kGolden)));
          Value h = buildMix64(b, l, state);
          Value top24 = b.create<arith::ShRUIOp>(l, h, i64Const(b, l, 40));
          Value keep = b.create<arith::CmpIOp>(
              l, arith::CmpIPredicate::uge, top24, i64Const(b, l, threshold));
          Type ft = args[0].getType();
          Value scaled = b.create<arith::DivFOp>(
              l, args[0], floatConst(b, l, ft, 1.0 - rate));
          return b.create<arith::SelectOp>(l, keep, scaled,
                                           floatConst(b, l, ft, 0.0));
        });
    rewriter.replaceOp(op, r);
    return success();
  }
};

} // namespace

void kiln::populateKilnElementwiseToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<ElementwiseLowering, ConstantLowering, StopGradientLowering,
               IotaLowering, DropoutLowering>(patterns.getContext());
}
