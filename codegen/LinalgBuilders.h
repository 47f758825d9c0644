//===- LinalgBuilders.h - tensor builders of kiln-to-linalg -----*- C++ -*-===//
//
// The linalg/tensor building blocks that the convert-kiln-to-linalg
// patterns share (codegen/Lower*.cpp): elementwise maps, reductions,
// broadcasts and reshapes on tensors in destination-passing style
// (tensor.empty plus linalg.fill for the inits), and the per-family pattern
// populate functions that ConvertKilnToLinalg.cpp combines. Internal to
// codegen/.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_CODEGEN_LINALGBUILDERS_H
#define KILN_CODEGEN_LINALGBUILDERS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/STLFunctionalExtras.h"

namespace mlir::kiln {

//===----------------------------------------------------------------------===//
// Tensor builders
//===----------------------------------------------------------------------===//

/// An i64 scalar constant holding the bits of `value`.
Value i64Const(OpBuilder &b, Location loc, uint64_t value);

/// Builds a scalar result from scalar operands.
using ScalarFn = llvm::function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// A tensor.empty of `shape` x `elementType`.
Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                  Type elementType);

/// A tensor of `shape` filled with the scalar `value` (linalg.fill).
Value filledTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                   Value value);

/// Elementwise map: a linalg.generic with identity maps and parallel
/// iterators over operands of `resultType`'s shape; `fn` receives the scalar
/// operands and returns the scalar result.
Value buildMap(OpBuilder &b, Location loc, RankedTensorType resultType,
               ValueRange inputs, ScalarFn fn);

/// buildMap whose result type is the type of `like`.
Value buildMapLike(OpBuilder &b, Location loc, Value like, ValueRange inputs,
                   ScalarFn fn);

/// Reshapes `value` to `target` (same element count): one
/// tensor.collapse_shape or tensor.expand_shape when a reassociation exists,
/// else a collapse to rank 1 followed by an expand (always possible).
Value buildReshape(OpBuilder &b, Location loc, Value value,
                   RankedTensorType target);

enum class ReduceKind { Sum, Max };

/// Reduces `input` over `axes` with a linalg.generic (reduction iterators on
/// the axes); the result drops the reduced axes. The init is a linalg.fill
/// of 0 (sum) or -inf (max); max uses arith.maximumf so NaN propagates.
Value buildReduce(OpBuilder &b, Location loc, Value input,
                  ArrayRef<int64_t> axes, ReduceKind kind);

/// Broadcasts `operand` to `resultType`: operand axis i is result axis
/// dims[i]; an operand axis of size 1 mapped to a larger result axis reads
/// index 0 (affine constant 0 in the input map).
Value buildBroadcast(OpBuilder &b, Location loc, Value operand,
                     RankedTensorType resultType, ArrayRef<int64_t> dims);

/// Broadcasts `reduced` (the shape of `full` without its last axis) back
/// along the last axis of `full`.
Value buildBroadcastLastAxis(OpBuilder &b, Location loc, Value reduced,
                             Value full);

//===----------------------------------------------------------------------===//
// Patterns by op family (populateKilnToLinalgPatterns adds them all)
//===----------------------------------------------------------------------===//

/// Every ElementwiseScalarOpInterface op, constant, stop_gradient, iota,
/// dropout (codegen/LowerElementwise.cpp).
void populateKilnElementwiseToLinalgPatterns(RewritePatternSet &patterns);
/// reduce_sum/mean/max, argmax, softmax/log_softmax
/// (codegen/LowerReductions.cpp).
void populateKilnReductionToLinalgPatterns(RewritePatternSet &patterns);
/// matmul (codegen/LowerContraction.cpp).
void populateKilnContractionToLinalgPatterns(RewritePatternSet &patterns);
/// reshape, transpose, concat, slice, pad, broadcast_in_dim
/// (codegen/LowerShape.cpp).
void populateKilnShapeToLinalgPatterns(RewritePatternSet &patterns);
/// The losses (codegen/LowerLosses.cpp).
void populateKilnLossToLinalgPatterns(RewritePatternSet &patterns);
/// conv, conv_transpose, conv_filter_grad, max_pool(_grad), avg_pool(_grad):
/// kiln_rt.kernel_call of the runtime kernels (codegen/LowerConvolution.cpp).
void populateKilnConvolutionToRuntimePatterns(RewritePatternSet &patterns);

} // namespace mlir::kiln

#endif // KILN_CODEGEN_LINALGBUILDERS_H
