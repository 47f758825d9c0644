//===- ConvertKilnToLinalg.cpp - kiln -> linalg/tensor/arith/math ---------===//
//
// The `convert-kiln-to-linalg` pass: lowers every kiln op to linalg, tensor,
// arith and math ops on tensors, in destination-passing style (`tensor.empty`
// plus `linalg.fill` for the inits), so that upstream one-shot-bufferize can
// take the result.
//
// Structure:
// - Scalar formulas. `buildScalarBody` holds the per-element computation of
//   every elementwise op (one TypeSwitch case per op); shared formulas
//   (softplus, clip, ...) are small functions used by the activations and
//   the losses alike, so that each formula exists once.
// - Tensor builders: elementwise map, reduction, broadcast, reshape, "pick
//   along the last axis" and the sample-weighted batch mean. Op lowerings
//   and the losses are written in terms of them.
// - Patterns. softmax / log_softmax decompose into kiln primitives first
//   (reduce_max, broadcast_in_dim, sub, exp, reduce_sum, ...), which the
//   dialect conversion then legalizes with the primitive patterns; the
//   losses are built directly from the tensor builders because they need
//   clipping constants and an on-the-fly one-hot that kiln has no op for.
//
// Elementwise results are plain `linalg.generic` ops with identity maps and
// parallel iterators, so that linalg elementwise fusion sees them. No
// fast-math flags are set (numerics-conventions.md: no reassociation by
// default). NaN propagates through max/min/relu (`arith.maximumf`).
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "ir/KilnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/DialectConversion.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <limits>

namespace mlir::kiln {
#define GEN_PASS_DEF_CONVERTKILNTOLINALGPASS
#include "codegen/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace {

//===----------------------------------------------------------------------===//
// Scalar formulas
//===----------------------------------------------------------------------===//

/// A floating-point scalar constant of type `type` (f32 or f64).
Value floatConst(OpBuilder &b, Location loc, Type type, double value) {
  return b.create<arith::ConstantOp>(loc, b.getFloatAttr(type, value));
}

/// An i64 scalar constant holding the bits of `value`.
Value i64Const(OpBuilder &b, Location loc, uint64_t value) {
  return b.create<arith::ConstantOp>(
      loc, b.getI64IntegerAttr(static_cast<int64_t>(value)));
}

/// clip(x, lo, hi) = min(max(x, lo), hi); NaN propagates.
Value buildClip(OpBuilder &b, Location loc, Value x, double lo, double hi) {
  Type t = x.getType();
  Value low = b.create<arith::MaximumFOp>(loc, x, floatConst(b, loc, t, lo));
  return b.create<arith::MinimumFOp>(loc, low, floatConst(b, loc, t, hi));
}

/// Keras' probability clipping epsilon (`keras.config.epsilon()`).
constexpr double kProbEpsilon = 1e-7;

/// Stable softplus: max(x, 0) + log1p(exp(-|x|)). Never overflows; equals
/// ln(1 + e^x) in exact arithmetic. Also the first term of binary
/// cross-entropy from logits (TensorFlow `sigmoid_cross_entropy_with_logits`).
Value buildSoftplus(OpBuilder &b, Location loc, Value x) {
  Type t = x.getType();
  Value pos = b.create<arith::MaximumFOp>(loc, x, floatConst(b, loc, t, 0.0));
  Value negAbs = b.create<arith::NegFOp>(loc, b.create<math::AbsFOp>(loc, x));
  Value tail = b.create<math::Log1pOp>(loc, b.create<math::ExpOp>(loc, negAbs));
  return b.create<arith::AddFOp>(loc, pos, tail);
}

/// Sigmoid 1 / (1 + exp(-x)). Stable in IEEE arithmetic: for very negative
/// x, exp(-x) overflows to +inf and the quotient is exactly 0.
Value buildSigmoid(OpBuilder &b, Location loc, Value x) {
  Type t = x.getType();
  Value one = floatConst(b, loc, t, 1.0);
  Value e = b.create<math::ExpOp>(loc, b.create<arith::NegFOp>(loc, x));
  return b.create<arith::DivFOp>(loc, one,
                                 b.create<arith::AddFOp>(loc, one, e));
}

/// GELU. Exact: 0.5 x (1 + erf(x / sqrt(2))); approximate (tanh form):
/// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (Hendrycks & Gimpel).
Value buildGelu(OpBuilder &b, Location loc, Value x, bool approximate) {
  Type t = x.getType();
  Value inner;
  if (approximate) {
    Value x3 =
        b.create<arith::MulFOp>(loc, b.create<arith::MulFOp>(loc, x, x), x);
    Value poly = b.create<arith::AddFOp>(
        loc, x,
        b.create<arith::MulFOp>(loc, floatConst(b, loc, t, 0.044715), x3));
    Value arg = b.create<arith::MulFOp>(
        loc, floatConst(b, loc, t, 0.7978845608028654), poly); // sqrt(2/pi)
    inner = b.create<math::TanhOp>(loc, arg);
  } else {
    Value arg = b.create<arith::MulFOp>(
        loc, x, floatConst(b, loc, t, 0.70710678118654752)); // 1/sqrt(2)
    inner = b.create<math::ErfOp>(loc, arg);
  }
  Value onePlus =
      b.create<arith::AddFOp>(loc, floatConst(b, loc, t, 1.0), inner);
  Value half = b.create<arith::MulFOp>(loc, floatConst(b, loc, t, 0.5), x);
  return b.create<arith::MulFOp>(loc, half, onePlus);
}

arith::CmpFPredicate floatPredicate(ComparisonDirection dir) {
  switch (dir) {
  case ComparisonDirection::eq:
    return arith::CmpFPredicate::OEQ;
  case ComparisonDirection::ne:
    return arith::CmpFPredicate::UNE; // true when either side is NaN (IEEE)
  case ComparisonDirection::lt:
    return arith::CmpFPredicate::OLT;
  case ComparisonDirection::le:
    return arith::CmpFPredicate::OLE;
  case ComparisonDirection::gt:
    return arith::CmpFPredicate::OGT;
  case ComparisonDirection::ge:
    return arith::CmpFPredicate::OGE;
  }
  llvm_unreachable("covered switch");
}

arith::CmpIPredicate intPredicate(ComparisonDirection dir) {
  switch (dir) {
  case ComparisonDirection::eq:
    return arith::CmpIPredicate::eq;
  case ComparisonDirection::ne:
    return arith::CmpIPredicate::ne;
  case ComparisonDirection::lt:
    return arith::CmpIPredicate::slt;
  case ComparisonDirection::le:
    return arith::CmpIPredicate::sle;
  case ComparisonDirection::gt:
    return arith::CmpIPredicate::sgt;
  case ComparisonDirection::ge:
    return arith::CmpIPredicate::sge;
  }
  llvm_unreachable("covered switch");
}

/// The per-element computation of every elementwise kiln op (unary, binary,
/// compare, select), given the scalar operands in operand order. Returns a
/// null value for an op that is not elementwise.
Value buildScalarBody(Operation *op, OpBuilder &b, Location loc,
                      ValueRange args) {
  auto cst = [&](double v) { return floatConst(b, loc, args[0].getType(), v); };
  return llvm::TypeSwitch<Operation *, Value>(op)
      // Binary arithmetic.
      .Case([&](AddOp) -> Value {
        return b.create<arith::AddFOp>(loc, args[0], args[1]);
      })
      .Case([&](SubOp) -> Value {
        return b.create<arith::SubFOp>(loc, args[0], args[1]);
      })
      .Case([&](MulOp) -> Value {
        return b.create<arith::MulFOp>(loc, args[0], args[1]);
      })
      .Case([&](DivOp) -> Value {
        return b.create<arith::DivFOp>(loc, args[0], args[1]);
      })
      .Case([&](MaximumOp) -> Value {
        return b.create<arith::MaximumFOp>(loc, args[0], args[1]);
      })
      .Case([&](MinimumOp) -> Value {
        return b.create<arith::MinimumFOp>(loc, args[0], args[1]);
      })
      .Case([&](PowOp) -> Value {
        return b.create<math::PowFOp>(loc, args[0], args[1]);
      })
      // Unary math.
      .Case(
          [&](NegOp) -> Value { return b.create<arith::NegFOp>(loc, args[0]); })
      .Case([&](ExpOp) -> Value { return b.create<math::ExpOp>(loc, args[0]); })
      .Case([&](LogOp) -> Value { return b.create<math::LogOp>(loc, args[0]); })
      .Case([&](Log1pOp) -> Value {
        return b.create<math::Log1pOp>(loc, args[0]);
      })
      .Case(
          [&](SqrtOp) -> Value { return b.create<math::SqrtOp>(loc, args[0]); })
      .Case([&](RsqrtOp) -> Value {
        // 1 / sqrt(x): two correctly rounded operations (math.rsqrt has no
        // libm lowering and LLVM's expansion is the same division).
        Value root = b.create<math::SqrtOp>(loc, args[0]);
        return b.create<arith::DivFOp>(loc, cst(1.0), root);
      })
      .Case(
          [&](AbsOp) -> Value { return b.create<math::AbsFOp>(loc, args[0]); })
      .Case([&](SquareOp) -> Value {
        return b.create<arith::MulFOp>(loc, args[0], args[0]);
      })
      // Activations.
      .Case(
          [&](TanhOp) -> Value { return b.create<math::TanhOp>(loc, args[0]); })
      .Case([&](SigmoidOp) -> Value { return buildSigmoid(b, loc, args[0]); })
      .Case([&](ReluOp) -> Value {
        // max(x, 0), NaN propagating.
        return b.create<arith::MaximumFOp>(loc, args[0], cst(0.0));
      })
      .Case([&](SoftplusOp) -> Value { return buildSoftplus(b, loc, args[0]); })
      .Case([&](LeakyReluOp lr) -> Value {
        // x >= 0 ? x : alpha * x (NaN -> alpha * NaN = NaN).
        Value x = args[0];
        Value isPos = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGE, x,
                                              cst(0.0));
        Value scaled = b.create<arith::MulFOp>(
            loc, cst(lr.getAlpha().convertToDouble()), x);
        return b.create<arith::SelectOp>(loc, isPos, x, scaled);
      })
      .Case([&](EluOp elu) -> Value {
        // x > 0 ? x : alpha * expm1(x) (Keras: alpha * ops.expm1(x)).
        Value x = args[0];
        Value isPos = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGT, x,
                                              cst(0.0));
        Value neg =
            b.create<arith::MulFOp>(loc, cst(elu.getAlpha().convertToDouble()),
                                    b.create<math::ExpM1Op>(loc, x));
        return b.create<arith::SelectOp>(loc, isPos, x, neg);
      })
      .Case([&](GeluOp gelu) -> Value {
        return buildGelu(b, loc, args[0], gelu.getApproximate());
      })
      // Comparison and selection.
      .Case([&](CompareOp cmp) -> Value {
        ComparisonDirection dir = cmp.getComparisonDirection();
        if (isa<FloatType>(args[0].getType()))
          return b.create<arith::CmpFOp>(loc, floatPredicate(dir), args[0],
                                         args[1]);
        return b.create<arith::CmpIOp>(loc, intPredicate(dir), args[0],
                                       args[1]);
      })
      .Case([&](SelectOp) -> Value {
        return b.create<arith::SelectOp>(loc, args[0], args[1], args[2]);
      })
      .Default([](Operation *) { return Value(); });
}

//===----------------------------------------------------------------------===//
// Tensor builders
//===----------------------------------------------------------------------===//

using ScalarFn = llvm::function_ref<Value(OpBuilder &, Location, ValueRange)>;

Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                  Type elementType) {
  return b.create<tensor::EmptyOp>(loc, shape, elementType);
}

/// A tensor of `shape` filled with the scalar `value` (linalg.fill).
Value filledTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                   Value value) {
  Value init = emptyTensor(b, loc, shape, value.getType());
  return b
      .create<linalg::FillOp>(loc, TypeRange{init.getType()}, ValueRange{value},
                              ValueRange{init})
      .getResult(0);
}

/// Elementwise map: a linalg.generic with identity maps and parallel
/// iterators over operands of `resultType`'s shape; `fn` receives the scalar
/// operands and returns the scalar result.
Value buildMap(OpBuilder &b, Location loc, RankedTensorType resultType,
               ValueRange inputs, ScalarFn fn) {
  int64_t rank = resultType.getRank();
  Value init =
      emptyTensor(b, loc, resultType.getShape(), resultType.getElementType());
  SmallVector<AffineMap> maps(inputs.size() + 1,
                              b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = b.create<linalg::GenericOp>(
      loc, TypeRange{resultType}, inputs, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value r = fn(nb, nloc, args.drop_back());
        nb.create<linalg::YieldOp>(nloc, r);
      });
  return generic.getResult(0);
}

/// buildMap whose result type is the type of `like`.
Value buildMapLike(OpBuilder &b, Location loc, Value like, ValueRange inputs,
                   ScalarFn fn) {
  return buildMap(b, loc, cast<RankedTensorType>(like.getType()), inputs, fn);
}

/// Reshapes `value` to `target` (same element count): one
/// tensor.collapse_shape or tensor.expand_shape when a reassociation exists,
/// else a collapse to rank 1 followed by an expand (always possible).
Value buildReshape(OpBuilder &b, Location loc, Value value,
                   RankedTensorType target) {
  auto source = cast<RankedTensorType>(value.getType());
  if (source == target)
    return value;
  if (target.getRank() == 0)
    return b.create<tensor::CollapseShapeOp>(loc, target, value,
                                             ArrayRef<ReassociationIndices>{});
  if (source.getRank() == 0)
    return b.create<tensor::ExpandShapeOp>(loc, target, value,
                                           ArrayRef<ReassociationIndices>{});
  if (source.getRank() != target.getRank()) {
    if (std::optional<SmallVector<ReassociationIndices>> re =
            getReassociationIndicesForReshape(source, target)) {
      if (source.getRank() > target.getRank())
        return b.create<tensor::CollapseShapeOp>(loc, target, value, *re);
      return b.create<tensor::ExpandShapeOp>(loc, target, value, *re);
    }
  }
  auto flatType =
      RankedTensorType::get({source.getNumElements()}, source.getElementType());
  auto allDims = [](int64_t rank) {
    ReassociationIndices all;
    for (int64_t i = 0; i < rank; ++i)
      all.push_back(i);
    return SmallVector<ReassociationIndices>{all};
  };
  Value flat = value;
  if (source.getRank() != 1)
    flat = b.create<tensor::CollapseShapeOp>(loc, flatType, value,
                                             allDims(source.getRank()));
  if (target.getRank() == 1)
    return flat;
  return b.create<tensor::ExpandShapeOp>(loc, target, flat,
                                         allDims(target.getRank()));
}

enum class ReduceKind { Sum, Max };

/// Reduces `input` over `axes` with a linalg.generic (reduction iterators on
/// the axes); the result drops the reduced axes. The init is a linalg.fill
/// of 0 (sum) or -inf (max); max uses arith.maximumf so NaN propagates.
Value buildReduce(OpBuilder &b, Location loc, Value input,
                  ArrayRef<int64_t> axes, ReduceKind kind) {
  auto inType = cast<RankedTensorType>(input.getType());
  int64_t rank = inType.getRank();
  Type elementType = inType.getElementType();
  SmallVector<bool> reduced(rank, false);
  for (int64_t a : axes)
    reduced[a] = true;
  SmallVector<int64_t> outShape;
  SmallVector<AffineExpr> outExprs;
  SmallVector<utils::IteratorType> iterators;
  for (int64_t d = 0; d < rank; ++d) {
    if (reduced[d]) {
      iterators.push_back(utils::IteratorType::reduction);
      continue;
    }
    iterators.push_back(utils::IteratorType::parallel);
    outShape.push_back(inType.getDimSize(d));
    outExprs.push_back(b.getAffineDimExpr(d));
  }
  double initValue =
      kind == ReduceKind::Sum ? 0.0 : -std::numeric_limits<double>::infinity();
  Value init = filledTensor(b, loc, outShape,
                            floatConst(b, loc, elementType, initValue));
  SmallVector<AffineMap> maps = {
      b.getMultiDimIdentityMap(rank),
      AffineMap::get(rank, 0, outExprs, b.getContext())};
  auto generic = b.create<linalg::GenericOp>(
      loc, TypeRange{init.getType()}, ValueRange{input}, ValueRange{init}, maps,
      iterators, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value r;
        if (kind == ReduceKind::Sum)
          r = nb.create<arith::AddFOp>(nloc, args[1], args[0]);
        else
          r = nb.create<arith::MaximumFOp>(nloc, args[1], args[0]);
        nb.create<linalg::YieldOp>(nloc, r);
      });
  return generic.getResult(0);
}

/// Broadcasts `operand` to `resultType`: operand axis i is result axis
/// dims[i]; an operand axis of size 1 mapped to a larger result axis reads
/// index 0 (affine constant 0 in the input map).
Value buildBroadcast(OpBuilder &b, Location loc, Value operand,
                     RankedTensorType resultType, ArrayRef<int64_t> dims) {
  auto opType = cast<RankedTensorType>(operand.getType());
  int64_t rank = resultType.getRank();
  SmallVector<AffineExpr> exprs;
  for (auto [i, d] : llvm::enumerate(dims)) {
    if (opType.getDimSize(i) == 1 && resultType.getDimSize(d) != 1)
      exprs.push_back(b.getAffineConstantExpr(0));
    else
      exprs.push_back(b.getAffineDimExpr(d));
  }
  Value init =
      emptyTensor(b, loc, resultType.getShape(), resultType.getElementType());
  SmallVector<AffineMap> maps = {AffineMap::get(rank, 0, exprs, b.getContext()),
                                 b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = b.create<linalg::GenericOp>(
      loc, TypeRange{resultType}, ValueRange{operand}, ValueRange{init}, maps,
      iterators, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        nb.create<linalg::YieldOp>(nloc, args[0]);
      });
  return generic.getResult(0);
}

/// Broadcasts `reduced` (the shape of `full` without its last axis) back
/// along the last axis of `full`.
Value buildBroadcastLastAxis(OpBuilder &b, Location loc, Value reduced,
                             Value full) {
  auto fullType = cast<RankedTensorType>(full.getType());
  SmallVector<int64_t> dims;
  for (int64_t i = 0; i + 1 < fullType.getRank(); ++i)
    dims.push_back(i);
  return buildBroadcast(b, loc, reduced, fullType, dims);
}

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
        Value wl = nb.create<arith::MulFOp>(nloc, args[1], args[0]);
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
/// the stable pieces of log_softmax(z) = d - log(sum(exp(d))).
std::pair<Value, Value> buildShiftedLogits(OpBuilder &b, Location loc,
                                           Value z) {
  int64_t last = cast<RankedTensorType>(z.getType()).getRank() - 1;
  Value m = buildReduce(b, loc, z, {last}, ReduceKind::Max);
  Value mb = buildBroadcastLastAxis(b, loc, m, z);
  Value d =
      buildMapLike(b, loc, z, ValueRange{z, mb},
                   [](OpBuilder &nb, Location nloc, ValueRange args) {
                     return nb.create<arith::SubFOp>(nloc, args[0], args[1]);
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
// Elementwise, constant, stop_gradient
//===----------------------------------------------------------------------===//

/// Any elementwise op: one linalg.generic whose body is buildScalarBody.
template <typename OpTy> struct ElementwiseLowering : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op->getResult(0).getType());
    Value r = buildMap(rewriter, op.getLoc(), type, op->getOperands(),
                       [&](OpBuilder &b, Location loc, ValueRange args) {
                         return buildScalarBody(op, b, loc, args);
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

/// kiln.convert: arith casts in an elementwise generic. i1 converts as
/// unsigned (true -> 1); other integers are signed.
struct ConvertLowering : OpRewritePattern<ConvertOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConvertOp op,
                                PatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op.getType());
    Type to = type.getElementType();
    Type from =
        cast<RankedTensorType>(op.getOperand().getType()).getElementType();
    Value result = buildMap(
        rewriter, op.getLoc(), type, ValueRange{op.getOperand()},
        [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
          Value x = args[0];
          bool fromFloat = isa<FloatType>(from), toFloat = isa<FloatType>(to);
          if (from == to)
            return x;
          if (fromFloat && toFloat)
            return from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth()
                       ? b.create<arith::ExtFOp>(loc, to, x).getResult()
                       : b.create<arith::TruncFOp>(loc, to, x).getResult();
          if (!fromFloat && toFloat)
            return from.isInteger(1)
                       ? b.create<arith::UIToFPOp>(loc, to, x).getResult()
                       : b.create<arith::SIToFPOp>(loc, to, x).getResult();
          if (fromFloat && !toFloat) {
            if (to.isInteger(1))
              return b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::UNE, x,
                                             floatConst(b, loc, from, 0.0));
            return b.create<arith::FPToSIOp>(loc, to, x);
          }
          unsigned fw = from.getIntOrFloatBitWidth();
          unsigned tw = to.getIntOrFloatBitWidth();
          if (to.isInteger(1))
            return b.create<arith::CmpIOp>(
                loc, arith::CmpIPredicate::ne, x,
                b.create<arith::ConstantIntOp>(loc, 0, fw));
          if (fw < tw)
            return from.isInteger(1)
                       ? b.create<arith::ExtUIOp>(loc, to, x).getResult()
                       : b.create<arith::ExtSIOp>(loc, to, x).getResult();
          return b.create<arith::TruncIOp>(loc, to, x);
        });
    rewriter.replaceOp(op, result);
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
    Value d = rewriter.create<SubOp>(loc, x, broadcast(m));
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
              // max(z, 0) - z y + log1p(exp(-|z|)) = softplus(z) - z y.
              Value zy = b.create<arith::MulFOp>(l, x, label);
              return b.create<arith::SubFOp>(l, buildSoftplus(b, l, x), zy);
            }
            // -(y log pc + (1 - y) log(1 - pc)), pc = clip(p, eps, 1 - eps).
            Type ft = x.getType();
            Value one = floatConst(b, l, ft, 1.0);
            Value pc = buildClip(b, l, x, kProbEpsilon, 1.0 - kProbEpsilon);
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
        t = buildMapLike(rewriter, loc, p, ValueRange{y, d, lsb},
                         [](OpBuilder &b, Location l, ValueRange args) {
                           Value diff =
                               b.create<arith::SubFOp>(l, args[2], args[1]);
                           return b.create<arith::MulFOp>(l, args[0], diff);
                         });
      } else {
        // Keras: p / sum_c(p), clipped to [eps, 1 - eps]; -y log(pc).
        Value s = buildReduce(rewriter, loc, p, {last}, ReduceKind::Sum);
        Value sb = buildBroadcastLastAxis(rewriter, loc, s, p);
        t = buildMapLike(
            rewriter, loc, p, ValueRange{p, sb, y},
            [](OpBuilder &b, Location l, ValueRange args) {
              Value q = b.create<arith::DivFOp>(l, args[0], args[1]);
              Value pc = buildClip(b, l, q, kProbEpsilon, 1.0 - kProbEpsilon);
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
                  buildClip(b, l, args[0], kProbEpsilon, 1.0 - kProbEpsilon);
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

//===----------------------------------------------------------------------===//
// Pass
//===----------------------------------------------------------------------===//

struct ConvertKilnToLinalgPass
    : kiln::impl::ConvertKilnToLinalgPassBase<ConvertKilnToLinalgPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    MLIRContext *ctx = &getContext();
    RewritePatternSet patternList(ctx);
    populateKilnToLinalgPatterns(patternList);
    FrozenRewritePatternSet patterns(std::move(patternList));

    ConversionTarget target(*ctx);
    target.addIllegalDialect<KilnDialect>();
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                           math::MathDialect, tensor::TensorDialect>();

    // The conversion reports only the first op it cannot legalize; silence
    // it and report every offender below instead.
    LogicalResult converted = failure();
    {
      ScopedDiagnosticHandler silence(ctx,
                                      [](Diagnostic &) { return success(); });
      converted = applyPartialConversion(func, target, patterns);
    }
    if (succeeded(converted))
      return;

    // The conversion rolled back: find which kiln ops no pattern lowers.
    DenseSet<Operation *> legalizable;
    ConversionConfig config;
    config.legalizableOps = &legalizable;
    {
      ScopedDiagnosticHandler silence(ctx,
                                      [](Diagnostic &) { return success(); });
      (void)applyAnalysisConversion(func, target, patterns, config);
    }
    bool reported = false;
    func.walk([&](Operation *op) {
      if (!isa_and_nonnull<KilnDialect>(op->getDialect()) ||
          legalizable.contains(op))
        return;
      op->emitError() << "convert-kiln-to-linalg: no lowering for '"
                      << op->getName() << "'";
      reported = true;
    });
    if (!reported)
      func.emitError() << "convert-kiln-to-linalg: conversion failed";
    signalPassFailure();
  }
};

} // namespace

void mlir::kiln::populateKilnToLinalgPatterns(RewritePatternSet &patterns) {
  MLIRContext *ctx = patterns.getContext();
  patterns.add<
      // Elementwise.
      ElementwiseLowering<AddOp>, ElementwiseLowering<SubOp>,
      ElementwiseLowering<MulOp>, ElementwiseLowering<DivOp>,
      ElementwiseLowering<MaximumOp>, ElementwiseLowering<MinimumOp>,
      ElementwiseLowering<PowOp>, ElementwiseLowering<NegOp>,
      ElementwiseLowering<ExpOp>, ElementwiseLowering<LogOp>,
      ElementwiseLowering<Log1pOp>, ElementwiseLowering<SqrtOp>,
      ElementwiseLowering<RsqrtOp>, ElementwiseLowering<AbsOp>,
      ElementwiseLowering<SquareOp>, ElementwiseLowering<TanhOp>,
      ElementwiseLowering<SigmoidOp>, ElementwiseLowering<ReluOp>,
      ElementwiseLowering<SoftplusOp>, ElementwiseLowering<LeakyReluOp>,
      ElementwiseLowering<EluOp>, ElementwiseLowering<GeluOp>,
      ElementwiseLowering<CompareOp>, ElementwiseLowering<SelectOp>,
      ConstantLowering, StopGradientLowering,
      // Reductions.
      ReduceLowering<ReduceSumOp>, ReduceLowering<ReduceMeanOp>,
      ReduceLowering<ReduceMaxOp>, ArgmaxLowering,
      // Contraction and shape ops.
      MatmulLowering, ReshapeLowering, TransposeLowering, ConcatLowering,
      SliceLowering, PadLowering, IotaLowering, ConvertLowering,
      BroadcastInDimLowering,
      // Composites.
      SoftmaxDecomposition<SoftmaxOp>, SoftmaxDecomposition<LogSoftmaxOp>,
      LossLowering<MeanSquaredErrorOp>, LossLowering<MeanAbsoluteErrorOp>,
      LossLowering<BinaryCrossentropyOp>,
      LossLowering<CategoricalCrossentropyOp>,
      LossLowering<SparseCategoricalCrossentropyOp>, DropoutLowering>(ctx);
}
