//===- ShapeInference.cpp - shape rules of the kiln ops -------------------===//
//
// Implements the free shape functions declared in ShapeInference.h. Every
// error message starts with its constraint label.
//
//===----------------------------------------------------------------------===//

#include "ir/ShapeInference.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir::kiln;
using llvm::ArrayRef;

namespace {
/// An error whose message starts with "[label] ".
template <typename... Ts>
llvm::Error violation(const char *label, const char *fmt, Ts &&...vals) {
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      "[" + std::string(label) + "] " +
          llvm::formatv(fmt, std::forward<Ts>(vals)...).str());
}

std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::interleave(
      shape, [&](int64_t d) { s += std::to_string(d); }, [&] { s += ", "; });
  return s + "]";
}
} // namespace

llvm::Expected<int64_t> mlir::kiln::getElementCount(ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return violation("shape", "negative size {0} in {1}", d, shapeStr(shape));
    if (llvm::MulOverflow(count, d, count))
      return violation("shape", "element count of {0} overflows 64 bits",
                       shapeStr(shape));
  }
  return count;
}

llvm::Expected<Shape> mlir::kiln::inferMatmulShape(ArrayRef<int64_t> lhs,
                                                   ArrayRef<int64_t> rhs,
                                                   bool transposeLhs,
                                                   bool transposeRhs) {
  if (lhs.size() < 2 || lhs.size() != rhs.size())
    return violation("matmul_c1",
                     "operands must have equal rank >= 2, got {0} and {1}",
                     lhs.size(), rhs.size());
  size_t rank = lhs.size();
  for (size_t i = 0; i + 2 < rank; ++i)
    if (lhs[i] != rhs[i])
      return violation("matmul_c3", "batch axis {0} differs: {1} vs {2}", i,
                       lhs[i], rhs[i]);
  int64_t m = transposeLhs ? lhs[rank - 1] : lhs[rank - 2];
  int64_t kl = transposeLhs ? lhs[rank - 2] : lhs[rank - 1];
  int64_t kr = transposeRhs ? rhs[rank - 1] : rhs[rank - 2];
  int64_t n = transposeRhs ? rhs[rank - 2] : rhs[rank - 1];
  if (kl != kr)
    return violation("matmul_c4", "contraction sizes differ: {0} vs {1}", kl,
                     kr);
  Shape result(lhs.begin(), lhs.end() - 2);
  result.push_back(m);
  result.push_back(n);
  return result;
}

llvm::Expected<Shape> mlir::kiln::inferReduceShape(ArrayRef<int64_t> input,
                                                   ArrayRef<int64_t> axes,
                                                   bool keepDims) {
  int64_t rank = input.size();
  llvm::SmallBitVector reduced(rank);
  for (int64_t axis : axes) {
    if (axis < 0 || axis >= rank)
      return violation("reduce_c1", "axis {0} is out of range [0, {1})", axis,
                       rank);
    if (reduced.test(axis))
      return violation("reduce_c2", "axis {0} appears more than once", axis);
    reduced.set(axis);
  }
  Shape result;
  for (int64_t i = 0; i < rank; ++i) {
    if (!reduced.test(i))
      result.push_back(input[i]);
    else if (keepDims)
      result.push_back(1);
  }
  return result;
}

llvm::Expected<Shape> mlir::kiln::inferArgmaxShape(ArrayRef<int64_t> input,
                                                   int64_t axis,
                                                   bool keepDims) {
  int64_t rank = input.size();
  if (axis < 0 || axis >= rank)
    return violation("argmax_c1", "axis {0} is out of range [0, {1})", axis,
                     rank);
  Shape result;
  for (int64_t i = 0; i < rank; ++i) {
    if (i != axis)
      result.push_back(input[i]);
    else if (keepDims)
      result.push_back(1);
  }
  return result;
}

llvm::Expected<Shape> mlir::kiln::inferGatherShape(ArrayRef<int64_t> input,
                                                   ArrayRef<int64_t> indices,
                                                   int64_t axis) {
  int64_t rank = input.size();
  if (axis < 0 || axis >= rank)
    return violation("gather_c1", "axis {0} is out of range [0, {1})", axis,
                     rank);
  Shape result(input.begin(), input.begin() + axis);
  result.append(indices.begin(), indices.end());
  result.append(input.begin() + axis + 1, input.end());
  return result;
}

llvm::Expected<Shape>
mlir::kiln::inferScatterAddShape(ArrayRef<int64_t> updates,
                                 ArrayRef<int64_t> indices, int64_t axis,
                                 int64_t size) {
  int64_t rank = updates.size(), indexRank = indices.size();
  if (axis < 0 || indexRank > rank || axis > rank - indexRank)
    return violation("scatter_add_c1",
                     "axis {0} with rank-{1} indices does not fit rank-{2} "
                     "updates",
                     axis, indexRank, rank);
  if (size < 1)
    return violation("scatter_add_c1", "size {0} must be >= 1", size);
  if (updates.slice(axis, indexRank) != indices)
    return violation("scatter_add_c2",
                     "updates {0} do not have the indices' shape {1} at axis "
                     "{2}",
                     shapeStr(updates), shapeStr(indices), axis);
  Shape result(updates.begin(), updates.begin() + axis);
  result.push_back(size);
  result.append(updates.begin() + axis + indexRank, updates.end());
  return result;
}

llvm::Expected<RnnShapes>
mlir::kiln::inferRnnShapes(ArrayRef<int64_t> input, ArrayRef<int64_t> kernel,
                           ArrayRef<int64_t> recurrentKernel, int64_t gates,
                           bool gru, bool resetAfter) {
  if (input.size() != 3 || input[1] < 1 || input[2] < 1)
    return violation("rnn_c2",
                     "the input must be [N, T, I] with T, I >= 1, got {0}",
                     shapeStr(input));
  int64_t n = input[0], t = input[1], i = input[2];
  if (kernel.size() != 2 || kernel[0] != i || kernel[1] < gates ||
      kernel[1] % gates != 0)
    return violation("rnn_c2",
                     "the kernel must be [I, {0}*H] = [{1}, {0}*H] with H >= "
                     "1, got {2}",
                     gates, i, shapeStr(kernel));
  int64_t h = kernel[1] / gates;
  if (recurrentKernel.size() != 2 || recurrentKernel[0] != h ||
      recurrentKernel[1] != gates * h)
    return violation("rnn_c3",
                     "the recurrent kernel must be [H, {0}*H] = [{1}, {2}], "
                     "got {3}",
                     gates, h, gates * h, shapeStr(recurrentKernel));
  RnnShapes shapes;
  shapes.result = {n, t, h};
  if (gru && resetAfter)
    shapes.bias = {2, 3 * h};
  else
    shapes.bias = {gates * h};
  // kiln_rnn_workspace_size: P = N*T rows of gates [G*H] and h_prev [H];
  // LSTM adds c_prev and act(c) [H] per row; GRU adds one [H] per row
  // (hz_h, or r * h_prev) and, with reset_after, one step's [N, 3H].
  int64_t perRow = gates * h + h;
  if (gates == 4)
    perRow += 2 * h;
  else if (gru)
    perRow += h;
  llvm::Expected<int64_t> rows = getElementCount({n, t, perRow});
  if (!rows)
    return rows.takeError();
  shapes.workspace = *rows + (gru && resetAfter ? n * 3 * h : 0);
  return shapes;
}

llvm::Expected<Shape>
mlir::kiln::inferTransposeShape(ArrayRef<int64_t> input,
                                ArrayRef<int64_t> permutation) {
  int64_t rank = input.size();
  if (static_cast<int64_t>(permutation.size()) != rank)
    return violation("transpose_c1",
                     "permutation has {0} entries for a rank-{1} input",
                     permutation.size(), rank);
  llvm::SmallBitVector seen(rank);
  Shape result;
  for (int64_t p : permutation) {
    if (p < 0 || p >= rank || seen.test(p))
      return violation("transpose_c1", "{0} is not a permutation of [0, {1})",
                       shapeStr(permutation), rank);
    seen.set(p);
    result.push_back(input[p]);
  }
  return result;
}

llvm::Expected<Shape>
mlir::kiln::inferConcatShape(ArrayRef<ArrayRef<int64_t>> inputs, int64_t axis) {
  if (inputs.empty())
    return violation("concat_c1", "needs at least one input");
  int64_t rank = inputs.front().size();
  if (axis < 0 || axis >= rank)
    return violation("concat_c2", "axis {0} is out of range [0, {1})", axis,
                     rank);
  Shape result(inputs.front().begin(), inputs.front().end());
  for (auto [index, shape] : llvm::enumerate(inputs.drop_front())) {
    if (static_cast<int64_t>(shape.size()) != rank)
      return violation("concat_c3", "input {0} has rank {1}, expected {2}",
                       index + 1, shape.size(), rank);
    for (int64_t i = 0; i < rank; ++i) {
      if (i == axis)
        continue;
      if (shape[i] != result[i])
        return violation("concat_c4",
                         "input {0} has size {1} on axis {2}, expected {3}",
                         index + 1, shape[i], i, result[i]);
    }
    result[axis] += shape[axis];
  }
  return result;
}

llvm::Expected<Shape> mlir::kiln::inferSliceShape(ArrayRef<int64_t> input,
                                                  ArrayRef<int64_t> start,
                                                  ArrayRef<int64_t> limit,
                                                  ArrayRef<int64_t> strides) {
  size_t rank = input.size();
  if (start.size() != rank || limit.size() != rank || strides.size() != rank)
    return violation("slice_c1",
                     "start, limit and strides need {0} entries each, got "
                     "{1}, {2} and {3}",
                     rank, start.size(), limit.size(), strides.size());
  Shape result;
  for (size_t i = 0; i < rank; ++i) {
    if (start[i] < 0 || start[i] > limit[i] || limit[i] > input[i])
      return violation("slice_c2",
                       "axis {0}: need 0 <= start ({1}) <= limit ({2}) <= "
                       "size ({3})",
                       i, start[i], limit[i], input[i]);
    if (strides[i] < 1)
      return violation("slice_c3", "axis {0}: stride {1} must be >= 1", i,
                       strides[i]);
    result.push_back(llvm::divideCeil(limit[i] - start[i], strides[i]));
  }
  return result;
}

llvm::Expected<Shape> mlir::kiln::inferPadShape(ArrayRef<int64_t> input,
                                                ArrayRef<int64_t> low,
                                                ArrayRef<int64_t> high,
                                                ArrayRef<int64_t> interior) {
  size_t rank = input.size();
  if (low.size() != rank || high.size() != rank ||
      (!interior.empty() && interior.size() != rank))
    return violation("pad_c1",
                     "low, high (and interior) need {0} entries each, got "
                     "{1}, {2} and {3}",
                     rank, low.size(), high.size(), interior.size());
  Shape result;
  for (size_t i = 0; i < rank; ++i) {
    int64_t in = interior.empty() ? 0 : interior[i];
    if (low[i] < 0 || high[i] < 0 || in < 0)
      return violation("pad_c2",
                       "axis {0}: padding (low {1}, high {2}, interior {3}) "
                       "must be non-negative",
                       i, low[i], high[i], in);
    result.push_back(low[i] + input[i] +
                     std::max<int64_t>(input[i] - 1, 0) * in + high[i]);
  }
  return result;
}

llvm::Error mlir::kiln::verifyIotaDimension(int64_t rank, int64_t dimension) {
  if (dimension < 0 || dimension >= rank)
    return violation("iota_c1", "dimension {0} is out of range [0, {1})",
                     dimension, rank);
  return llvm::Error::success();
}

llvm::Error mlir::kiln::verifyReshapeShapes(ArrayRef<int64_t> input,
                                            ArrayRef<int64_t> result) {
  llvm::Expected<int64_t> in = getElementCount(input);
  if (!in)
    return in.takeError();
  llvm::Expected<int64_t> out = getElementCount(result);
  if (!out)
    return out.takeError();
  if (*in != *out)
    return violation("reshape_c1", "{0} has {1} elements but {2} has {3}",
                     shapeStr(input), *in, shapeStr(result), *out);
  return llvm::Error::success();
}

llvm::Error mlir::kiln::verifyBroadcastInDimShapes(ArrayRef<int64_t> operand,
                                                   ArrayRef<int64_t> dimensions,
                                                   ArrayRef<int64_t> result) {
  if (dimensions.size() != operand.size())
    return violation("broadcast_in_dim_c1",
                     "{0} broadcast dimensions for a rank-{1} operand",
                     dimensions.size(), operand.size());
  int64_t resultRank = result.size();
  for (auto [i, dim] : llvm::enumerate(dimensions)) {
    if (dim < 0 || dim >= resultRank || (i > 0 && dim <= dimensions[i - 1]))
      return violation("broadcast_in_dim_c2",
                       "dimensions {0} must be strictly increasing in [0, "
                       "{1})",
                       shapeStr(dimensions), resultRank);
    if (operand[i] != 1 && operand[i] != result[dim])
      return violation("broadcast_in_dim_c3",
                       "operand axis {0} has size {1}, result axis {2} has "
                       "{3}; need 1 or equal",
                       i, operand[i], dim, result[dim]);
  }
  return llvm::Error::success();
}

llvm::Error mlir::kiln::verifySoftmaxAxis(int64_t rank, int64_t axis) {
  if (axis < 0 || axis >= rank)
    return violation("softmax_c1", "axis {0} is out of range [0, {1})", axis,
                     rank);
  return llvm::Error::success();
}

llvm::Expected<Shape> mlir::kiln::inferLossShape(ArrayRef<int64_t> predictions,
                                                 ArrayRef<int64_t> labels,
                                                 ArrayRef<int64_t> sampleWeight,
                                                 LossLabels kind) {
  size_t minRank = kind == LossLabels::Dense ? 1 : 2;
  if (predictions.size() < minRank)
    return violation("loss_c1",
                     "predictions need rank >= {0} with a leading batch "
                     "axis, got rank {1}",
                     minRank, predictions.size());
  ArrayRef<int64_t> expected =
      kind == LossLabels::Sparse ? predictions.drop_back() : predictions;
  if (labels != expected)
    return violation("loss_c2", "labels have shape {0}, expected {1}",
                     shapeStr(labels), shapeStr(expected));
  if (sampleWeight.size() != 1 || sampleWeight[0] != predictions[0])
    return violation("loss_c3", "sample_weight has shape {0}, expected [{1}]",
                     shapeStr(sampleWeight), predictions[0]);
  return Shape{};
}

//===----------------------------------------------------------------------===//
// Convolution and pooling
//===----------------------------------------------------------------------===//

namespace {
/// Collects every violated rule of one op into one joined llvm::Error.
struct Violations {
  llvm::Error all = llvm::Error::success();
  template <typename... Ts>
  void add(const char *label, const char *fmt, Ts &&...vals) {
    all = llvm::joinErrors(std::move(all),
                           violation(label, fmt, std::forward<Ts>(vals)...));
  }
};

/// Checks that each attribute list has `rank` entries; `names` and `lists`
/// are parallel.
bool checkEntryCounts(Violations &v, const char *label, int64_t rank,
                      ArrayRef<const char *> names,
                      ArrayRef<ArrayRef<int64_t>> lists) {
  bool ok = true;
  for (auto [name, list] : llvm::zip(names, lists))
    if (static_cast<int64_t>(list.size()) != rank) {
      v.add(label, "{0} has {1} entries, the input has {2} spatial axes", name,
            list.size(), rank);
      ok = false;
    }
  return ok;
}
} // namespace

llvm::Expected<Shape> mlir::kiln::inferConvShape(ArrayRef<int64_t> input,
                                                 ArrayRef<int64_t> filter,
                                                 const ConvWindow &w) {
  int64_t rank = static_cast<int64_t>(input.size()) - 2;
  if (rank < 1 || rank > 3)
    return violation("conv_c1",
                     "the input {0} needs rank 3, 4 or 5 ([N, spatial..., C])",
                     shapeStr(input));
  if (static_cast<int64_t>(filter.size()) != rank + 2)
    return violation("conv_c1",
                     "the filter {0} needs rank {1} ([K..., C/groups, F]) for "
                     "the input {2}",
                     shapeStr(filter), rank + 2, shapeStr(input));
  Violations v;
  bool entries = checkEntryCounts(
      v, "conv_c2", rank, {"strides", "dilations", "pad_low", "pad_high"},
      {w.strides, w.dilations, w.padLow, w.padHigh});
  int64_t c = input.back(), f = filter.back(), fc = filter[rank];
  if (w.groups < 1) {
    v.add("conv_c4", "groups is {0}, must be >= 1", w.groups);
  } else {
    if (c % w.groups != 0)
      v.add("conv_c4", "{0} input channels are not divisible by {1} groups", c,
            w.groups);
    if (f % w.groups != 0)
      v.add("conv_c4", "{0} output channels are not divisible by {1} groups", f,
            w.groups);
    if (c % w.groups == 0 && fc != c / w.groups)
      v.add("conv_c4",
            "the filter {0} has {1} input channels, expected {2} ({3} "
            "channels / {4} groups)",
            shapeStr(filter), fc, c / w.groups, c, w.groups);
  }
  Shape result{input.front()};
  if (entries) {
    for (int64_t i = 0; i < rank; ++i) {
      bool ok = true;
      if (w.strides[i] < 1) {
        v.add("conv_c3", "stride {0} of spatial axis {1} must be >= 1",
              w.strides[i], i);
        ok = false;
      }
      if (w.dilations[i] < 1) {
        v.add("conv_c3", "dilation {0} of spatial axis {1} must be >= 1",
              w.dilations[i], i);
        ok = false;
      }
      if (w.padLow[i] < 0 || w.padHigh[i] < 0) {
        v.add("conv_c3", "padding ({0}, {1}) of spatial axis {2} is negative",
              w.padLow[i], w.padHigh[i], i);
        ok = false;
      }
      if (filter[i] < 1) {
        v.add("conv_c5", "kernel size {0} of spatial axis {1} must be >= 1",
              filter[i], i);
        ok = false;
      }
      if (!ok)
        continue;
      int64_t padded, extent;
      if (llvm::AddOverflow(input[i + 1], w.padLow[i], padded) ||
          llvm::AddOverflow(padded, w.padHigh[i], padded) ||
          llvm::MulOverflow(w.dilations[i], filter[i] - 1, extent) ||
          llvm::AddOverflow(extent, int64_t(1), extent)) {
        v.add("conv_c5",
              "spatial axis {0}: the padded input ({1} + {2} + {3}) or the "
              "dilated window (kernel {4}, dilation {5}) overflows 64 bits",
              i, input[i + 1], w.padLow[i], w.padHigh[i], filter[i],
              w.dilations[i]);
        continue;
      }
      if (extent > padded) {
        v.add("conv_c5",
              "spatial axis {0}: the window (kernel {1}, dilation {2}: {3} "
              "positions) is larger than the padded input ({4} + {5} + {6} = "
              "{7}), the output would be empty",
              i, filter[i], w.dilations[i], extent, input[i + 1], w.padLow[i],
              w.padHigh[i], padded);
        continue;
      }
      result.push_back((padded - extent) / w.strides[i] + 1);
    }
  }
  if (v.all)
    return std::move(v.all);
  result.push_back(f);
  return result;
}

llvm::Expected<Shape> mlir::kiln::inferConvTransposeShape(
    ArrayRef<int64_t> input, ArrayRef<int64_t> filter, const ConvWindow &w,
    ArrayRef<int64_t> outputPadding) {
  int64_t rank = static_cast<int64_t>(input.size()) - 2;
  if (rank < 1 || rank > 3 || static_cast<int64_t>(filter.size()) != rank + 2)
    return violation("conv_c1",
                     "the input {0} and filter {1} need ranks d + 2 with d in "
                     "1..3 ([N, spatial..., F] and [K..., C/groups, F])",
                     shapeStr(input), shapeStr(filter));
  Violations v;
  bool entries = checkEntryCounts(
      v, "conv_c2", rank,
      {"strides", "dilations", "pad_low", "pad_high", "output_padding"},
      {w.strides, w.dilations, w.padLow, w.padHigh, outputPadding});
  if (w.groups < 1 || input.back() % w.groups != 0)
    v.add("conv_c4", "{0} input channels are not divisible by {1} groups",
          input.back(), w.groups);
  if (!entries || v.all)
    return std::move(v.all);
  Shape result{input.front()};
  for (int64_t i = 0; i < rank; ++i) {
    if (outputPadding[i] < 0 ||
        outputPadding[i] >= std::max(w.strides[i], w.dilations[i])) {
      v.add("conv_transpose_c2",
            "output padding {0} of spatial axis {1} must be in [0, max(stride "
            "{2}, dilation {3}))",
            outputPadding[i], i, w.strides[i], w.dilations[i]);
      continue;
    }
    int64_t span, extent, size;
    if (w.strides[i] < 1 || w.dilations[i] < 1 || filter[i] < 1 ||
        input[i + 1] < 1 || w.padLow[i] < 0 || w.padHigh[i] < 0) {
      v.add("conv_c3",
            "spatial axis {0}: stride {1}, dilation {2} and kernel {3} must "
            "be >= 1 and the padding ({4}, {5}) >= 0",
            i, w.strides[i], w.dilations[i], filter[i], w.padLow[i],
            w.padHigh[i]);
      continue;
    }
    if (llvm::MulOverflow(input[i + 1] - 1, w.strides[i], span) ||
        llvm::MulOverflow(w.dilations[i], filter[i] - 1, extent) ||
        llvm::AddOverflow(span, extent, size) ||
        llvm::AddOverflow(size, int64_t(1) + outputPadding[i], size) ||
        llvm::SubOverflow(size, w.padLow[i], size) ||
        llvm::SubOverflow(size, w.padHigh[i], size)) {
      v.add("conv_transpose_c2",
            "spatial axis {0}: the output size overflows 64 bits", i);
      continue;
    }
    if (size < 1)
      v.add("conv_transpose_c2",
            "spatial axis {0}: the padding ({1}, {2}) leaves an output size "
            "of {3}",
            i, w.padLow[i], w.padHigh[i], size);
    result.push_back(size);
  }
  int64_t channels;
  if (!v.all && llvm::MulOverflow(filter[rank], w.groups, channels))
    v.add("conv_c4", "{0} filter channels times {1} groups overflow 64 bits",
          filter[rank], w.groups);
  if (v.all)
    return std::move(v.all);
  result.push_back(channels);
  // The implied convolution must map the result back onto the input.
  llvm::Expected<Shape> conv = inferConvShape(result, filter, w);
  if (!conv)
    return conv.takeError();
  if (ArrayRef<int64_t>(*conv) != input)
    return violation("conv_transpose_c1",
                     "the convolution of {0} gives {1}, not the input {2}",
                     shapeStr(result), shapeStr(*conv), shapeStr(input));
  return result;
}

llvm::Expected<Shape> mlir::kiln::inferPoolShape(ArrayRef<int64_t> input,
                                                 const PoolWindow &w) {
  int64_t rank = static_cast<int64_t>(input.size()) - 2;
  if (rank < 1 || rank > 3)
    return violation("pool_c1",
                     "the input {0} needs rank 3, 4 or 5 ([N, spatial..., C])",
                     shapeStr(input));
  Violations v;
  if (!checkEntryCounts(v, "pool_c2", rank,
                        {"window", "strides", "pad_low", "pad_high"},
                        {w.window, w.strides, w.padLow, w.padHigh}))
    return std::move(v.all);
  Shape result{input.front()};
  for (int64_t i = 0; i < rank; ++i) {
    if (w.window[i] < 1 || w.strides[i] < 1) {
      v.add("pool_c3",
            "spatial axis {0}: window {1} and stride {2} must be >= 1", i,
            w.window[i], w.strides[i]);
      continue;
    }
    if (w.padLow[i] < 0 || w.padHigh[i] < 0) {
      v.add("pool_c3", "padding ({0}, {1}) of spatial axis {2} is negative",
            w.padLow[i], w.padHigh[i], i);
      continue;
    }
    if (w.padLow[i] >= w.window[i] || w.padHigh[i] >= w.window[i]) {
      v.add("pool_c4",
            "spatial axis {0}: padding ({1}, {2}) must be smaller than the "
            "window {3}, or a window could hold only padding",
            i, w.padLow[i], w.padHigh[i], w.window[i]);
      continue;
    }
    int64_t padded;
    if (llvm::AddOverflow(input[i + 1], w.padLow[i], padded) ||
        llvm::AddOverflow(padded, w.padHigh[i], padded)) {
      v.add("pool_c5",
            "spatial axis {0}: the padded input ({1} + {2} + {3}) overflows "
            "64 bits",
            i, input[i + 1], w.padLow[i], w.padHigh[i]);
      continue;
    }
    if (w.window[i] > padded) {
      v.add("pool_c5",
            "spatial axis {0}: the window {1} is larger than the padded input "
            "({2} + {3} + {4} = {5}), the output would be empty",
            i, w.window[i], input[i + 1], w.padLow[i], w.padHigh[i], padded);
      continue;
    }
    int64_t span = padded - w.window[i];
    int64_t size = w.ceilMode ? llvm::divideCeil(span, w.strides[i]) + 1
                              : span / w.strides[i] + 1;
    if (w.ceilMode && (size - 1) * w.strides[i] >= input[i + 1] + w.padLow[i])
      --size;
    result.push_back(size);
  }
  if (v.all)
    return std::move(v.all);
  result.push_back(input.back());
  return result;
}
