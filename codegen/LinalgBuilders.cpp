//===- LinalgBuilders.cpp - tensor builders of convert-kiln-to-linalg -----===//
//
// Definitions of the tensor builders declared in LinalgBuilders.h.
//
//===----------------------------------------------------------------------===//

#include "codegen/LinalgBuilders.h"
#include "ir/ElementwiseScalar.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/IR/AffineMap.h"
#include "llvm/ADT/STLExtras.h"

#include <limits>

using namespace mlir;
using namespace mlir::kiln;
using scalar::floatConst;

Value kiln::i64Const(OpBuilder &b, Location loc, uint64_t value) {
  return b.create<arith::ConstantOp>(
      loc, b.getI64IntegerAttr(static_cast<int64_t>(value)));
}

Value kiln::emptyTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                        Type elementType) {
  return b.create<tensor::EmptyOp>(loc, shape, elementType);
}

/// A tensor of `shape` filled with the scalar `value` (linalg.fill).
Value kiln::filledTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
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
Value kiln::buildMap(OpBuilder &b, Location loc, RankedTensorType resultType,
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
Value kiln::buildMapLike(OpBuilder &b, Location loc, Value like,
                         ValueRange inputs, ScalarFn fn) {
  return buildMap(b, loc, cast<RankedTensorType>(like.getType()), inputs, fn);
}

/// Reshapes `value` to `target` (same element count): one
/// tensor.collapse_shape or tensor.expand_shape when a reassociation exists,
/// else a collapse to rank 1 followed by an expand (always possible).
Value kiln::buildReshape(OpBuilder &b, Location loc, Value value,
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

/// Reduces `input` over `axes` with a linalg.generic (reduction iterators on
/// the axes); the result drops the reduced axes. The init is a linalg.fill
/// of 0 (sum) or -inf (max); max uses arith.maximumf so NaN propagates.
Value kiln::buildReduce(OpBuilder &b, Location loc, Value input,
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
Value kiln::buildBroadcast(OpBuilder &b, Location loc, Value operand,
                           RankedTensorType resultType,
                           ArrayRef<int64_t> dims) {
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
Value kiln::buildBroadcastLastAxis(OpBuilder &b, Location loc, Value reduced,
                                   Value full) {
  auto fullType = cast<RankedTensorType>(full.getType());
  SmallVector<int64_t> dims;
  for (int64_t i = 0; i + 1 < fullType.getRank(); ++i)
    dims.push_back(i);
  return buildBroadcast(b, loc, reduced, fullType, dims);
}
