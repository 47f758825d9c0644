//===- ShapeInference.h - shape rules of the kiln ops -----------*- C++ -*-===//
//
// The shape rule of every kiln op whose result shape follows from its
// operands and attributes, as free functions over plain integer shapes. The
// op verifiers and type-inference hooks call them, and so do the unit tests
// (tests/unit/ShapeInferenceTest.cpp), so a rule is written once.
//
// Each failed constraint is an llvm::Error whose message starts with the
// constraint label in brackets, e.g. "[matmul_c4] contraction sizes differ:
// 3 vs 4". The labels are listed in docs/spec.md and each has a negative lit
// test in tests/lit/ir/invalid.mlir.
//
// Sizes are int64_t throughout: element counts of large tensors exceed 2^31.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_IR_SHAPEINFERENCE_H
#define KILN_IR_SHAPEINFERENCE_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"

#include <cstdint>

namespace mlir::kiln {

/// A static tensor shape: one non-negative size per axis.
using Shape = llvm::SmallVector<int64_t, 4>;

/// Number of elements of `shape` (1 for rank 0), or an error when the count
/// overflows int64_t.
llvm::Expected<int64_t> getElementCount(llvm::ArrayRef<int64_t> shape);

/// kiln.matmul. Both operands have equal rank >= 2 (matmul_c1); batch axes
/// (all but the last two) are equal (matmul_c3); the contraction sizes agree
/// after applying the transpose flags (matmul_c4). Returns
/// `batch... x M x N`.
llvm::Expected<Shape> inferMatmulShape(llvm::ArrayRef<int64_t> lhs,
                                       llvm::ArrayRef<int64_t> rhs,
                                       bool transposeLhs, bool transposeRhs);

/// kiln.reduce_sum / reduce_mean / reduce_max. Each axis is in [0, rank)
/// (reduce_c1) and appears once (reduce_c2). Reduced axes become 1 with
/// `keepDims`, else disappear.
llvm::Expected<Shape> inferReduceShape(llvm::ArrayRef<int64_t> input,
                                       llvm::ArrayRef<int64_t> axes,
                                       bool keepDims);

/// kiln.gather. `axis` is in [0, rank(input)) (gather_c1). Returns
/// `input[:axis] ++ indices ++ input[axis + 1:]`.
llvm::Expected<Shape> inferGatherShape(llvm::ArrayRef<int64_t> input,
                                       llvm::ArrayRef<int64_t> indices,
                                       int64_t axis);

/// kiln.scatter_add. `axis` is in [0, rank(updates) - rank(indices)] and
/// `size` >= 1 (scatter_add_c1); updates[axis : axis + rank(indices)] equals
/// the indices' shape (scatter_add_c2). Returns `updates[:axis] ++ [size] ++
/// updates[axis + rank(indices):]`.
llvm::Expected<Shape> inferScatterAddShape(llvm::ArrayRef<int64_t> updates,
                                           llvm::ArrayRef<int64_t> indices,
                                           int64_t axis, int64_t size);

/// The shapes of a kiln.rnn / kiln.rnn_grad (see inferRnnShapes).
struct RnnShapes {
  Shape result;      ///< [N, T, H]
  Shape bias;        ///< [G*H], or [2, 3H] for a GRU with reset_after
  int64_t workspace; ///< elements: runtime.h's kiln_rnn_workspace_size
};

/// kiln.rnn with `gates` G (1 SimpleRNN, 4 LSTM, 3 GRU) and `gru` /
/// `resetAfter` for the GRU's bias and workspace: `input` is [N, T, I] with
/// T >= 1 (rnn_c2); `kernel` is [I, G*H] with H >= 1 (rnn_c2);
/// `recurrentKernel` is [H, G*H] (rnn_c3). The workspace size formula is
/// runtime.h's kiln_rnn_workspace_size (a unit test checks they agree).
llvm::Expected<RnnShapes>
inferRnnShapes(llvm::ArrayRef<int64_t> input, llvm::ArrayRef<int64_t> kernel,
               llvm::ArrayRef<int64_t> recurrentKernel, int64_t gates, bool gru,
               bool resetAfter);

/// kiln.argmax. `axis` is in [0, rank) (argmax_c1).
llvm::Expected<Shape> inferArgmaxShape(llvm::ArrayRef<int64_t> input,
                                       int64_t axis, bool keepDims);

/// kiln.transpose. `permutation` is a permutation of [0, rank)
/// (transpose_c1). Returns `input[permutation[i]]` for each i.
llvm::Expected<Shape> inferTransposeShape(llvm::ArrayRef<int64_t> input,
                                          llvm::ArrayRef<int64_t> permutation);

/// kiln.concat. At least one input (concat_c1); axis in [0, rank)
/// (concat_c2); equal ranks (concat_c3); equal sizes off `axis` (concat_c4).
llvm::Expected<Shape>
inferConcatShape(llvm::ArrayRef<llvm::ArrayRef<int64_t>> inputs, int64_t axis);

/// kiln.slice. One start/limit/stride per axis (slice_c1);
/// 0 <= start <= limit <= size (slice_c2); stride >= 1 (slice_c3). Each
/// result axis has ceil((limit - start) / stride) elements.
llvm::Expected<Shape> inferSliceShape(llvm::ArrayRef<int64_t> input,
                                      llvm::ArrayRef<int64_t> start,
                                      llvm::ArrayRef<int64_t> limit,
                                      llvm::ArrayRef<int64_t> strides);

/// kiln.pad. One low/high entry per axis, and one interior entry per axis
/// or none (pad_c1); all non-negative (pad_c2). Each axis becomes
/// low + size + max(size - 1, 0) * interior + high.
llvm::Expected<Shape> inferPadShape(llvm::ArrayRef<int64_t> input,
                                    llvm::ArrayRef<int64_t> low,
                                    llvm::ArrayRef<int64_t> high,
                                    llvm::ArrayRef<int64_t> interior = {});

/// kiln.iota: `dimension` in [0, rank) (iota_c1).
llvm::Error verifyIotaDimension(int64_t rank, int64_t dimension);

/// kiln.reshape: equal element counts (reshape_c1).
llvm::Error verifyReshapeShapes(llvm::ArrayRef<int64_t> input,
                                llvm::ArrayRef<int64_t> result);

/// kiln.broadcast_in_dim: one dimension per operand axis
/// (broadcast_in_dim_c1); dimensions strictly increasing in [0, result rank)
/// (broadcast_in_dim_c2); each mapped operand axis has size 1 or the result
/// size (broadcast_in_dim_c3).
llvm::Error verifyBroadcastInDimShapes(llvm::ArrayRef<int64_t> operand,
                                       llvm::ArrayRef<int64_t> dimensions,
                                       llvm::ArrayRef<int64_t> result);

/// The axis operand of softmax / log_softmax: in [0, rank) (softmax_c1).
llvm::Error verifySoftmaxAxis(int64_t rank, int64_t axis);

/// The window attributes of kiln.conv, kiln.conv_transpose and
/// kiln.conv_filter_grad: one entry per spatial axis.
struct ConvWindow {
  llvm::ArrayRef<int64_t> strides;
  llvm::ArrayRef<int64_t> dilations;
  llvm::ArrayRef<int64_t> padLow;
  llvm::ArrayRef<int64_t> padHigh;
  int64_t groups = 1;
};

/// kiln.conv on channels-last `input` [N, S_1..S_d, C] and `filter`
/// [K_1..K_d, C/groups, F], d in 1..3 (conv_c1: both of rank d + 2); one
/// stride, dilation and pad per spatial axis (conv_c2); strides and
/// dilations >= 1, pads >= 0 (conv_c3); groups >= 1 divides C and F, and
/// the filter has C/groups input channels (conv_c4); the dilated window
/// (K - 1) * dilation + 1 fits the padded size S + pad_low + pad_high
/// (conv_c5). Returns [N, O_1..O_d, F] with
/// O = floor((S + pad_low + pad_high - dilation * (K - 1) - 1) / stride) + 1.
/// Reports every violated rule, not only the first (joined llvm::Errors).
llvm::Expected<Shape> inferConvShape(llvm::ArrayRef<int64_t> input,
                                     llvm::ArrayRef<int64_t> filter,
                                     const ConvWindow &window);

/// The result shape of a transposed convolution of `input` [N, O.., F]
/// with `filter` [K.., C/groups, F]: [N, S.., C] with
/// S = (O - 1) * stride + dilation * (K - 1) + 1 - pad_low - pad_high +
/// outputPadding (ONNX ConvTranspose, Keras Conv2DTranspose). Checks the
/// rules of inferConvShape on the implied convolution, that the padding
/// leaves S >= 1 and outputPadding in [0, max(stride, dilation))
/// (conv_transpose_c2, as ONNX and PyTorch require).
llvm::Expected<Shape> inferConvTransposeShape(
    llvm::ArrayRef<int64_t> input, llvm::ArrayRef<int64_t> filter,
    const ConvWindow &window, llvm::ArrayRef<int64_t> outputPadding);

/// The window attributes of the pooling ops: one entry per spatial axis.
struct PoolWindow {
  llvm::ArrayRef<int64_t> window;
  llvm::ArrayRef<int64_t> strides;
  llvm::ArrayRef<int64_t> padLow;
  llvm::ArrayRef<int64_t> padHigh;
  bool ceilMode = false;
};

/// kiln.max_pool / kiln.avg_pool on channels-last `input` [N, S_1..S_d, C],
/// d in 1..3 (pool_c1); one window, stride and pad per spatial axis
/// (pool_c2); windows and strides >= 1, pads >= 0 (pool_c3); pads smaller
/// than the window, so that every window holds an input element (pool_c4);
/// the window fits the padded size (pool_c5). Returns [N, O_1..O_d, C] with
/// O = floor((S + pad_low + pad_high - window) / stride) + 1, or with
/// `ceilMode` the ceiling, minus one when that last window would start at or
/// after S + pad_low (PyTorch's rule, which ONNX follows). Reports every
/// violated rule.
llvm::Expected<Shape> inferPoolShape(llvm::ArrayRef<int64_t> input,
                                     const PoolWindow &window);

/// How a loss relates its labels to its predictions.
enum class LossLabels {
  /// Labels have the predictions' shape (regression, binary).
  Dense,
  /// Labels have the predictions' shape, whose last axis (after the batch
  /// axis) holds the classes: rank >= 2.
  Categorical,
  /// Labels are class indices: the predictions' shape without the last axis.
  Sparse,
};

/// Every kiln loss op. Predictions have rank >= 1, rank >= 2 for
/// categorical and sparse labels (loss_c1); labels have the shape `kind`
/// demands (loss_c2); `sampleWeight` is `[N]` with N the leading axis of
/// predictions (loss_c3). Returns the scalar shape `[]`.
llvm::Expected<Shape> inferLossShape(llvm::ArrayRef<int64_t> predictions,
                                     llvm::ArrayRef<int64_t> labels,
                                     llvm::ArrayRef<int64_t> sampleWeight,
                                     LossLabels kind);

} // namespace mlir::kiln

#endif // KILN_IR_SHAPEINFERENCE_H
