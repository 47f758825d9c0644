//===- LowerConvolution.cpp - ops computed by runtime kernels -------------===//
//
// convert-kiln-to-linalg patterns for the convolution, pooling, gather,
// scatter-add and recurrent ops: each becomes one kiln_rt.kernel_call of its
// runtime kernel (runtime.h: kiln_conv_{fwd,bwd_data,bwd_filter}_*,
// kiln_{max,avg}_pool_{fwd,bwd}_*, kiln_gather_*, kiln_scatter_add_*,
// kiln_rnn_{fwd,bwd}_*)
// on tensors, with the kernel's descriptor struct as a constant i64 array
// and a tensor.empty output (the kernels overwrite every output element).
// kiln-lower-kernel-calls turns the call into a C call after the memory
// plan (codegen/LowerKernelCalls.cpp).
//
//===----------------------------------------------------------------------===//

#include "codegen/LinalgBuilders.h"
#include "ir/KilnOps.h"
#include "ir/KilnRuntime.h"
#include "kiln/runtime.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#include <cstring>

using namespace mlir;
using namespace mlir::kiln;

namespace {

/// The descriptor struct as the int64 array the op carries.
template <typename Desc> SmallVector<int64_t> toI64Array(const Desc &desc) {
  static_assert(sizeof(Desc) % sizeof(int64_t) == 0,
                "runtime descriptors are int64_t fields only");
  SmallVector<int64_t> fields(sizeof(Desc) / sizeof(int64_t));
  std::memcpy(fields.data(), &desc, sizeof(Desc));
  return fields;
}

/// "<base>_f32" or "<base>_f64".
std::string kernelName(StringRef base, Type elementType) {
  return (base + (elementType.isF32() ? "_f32" : "_f64")).str();
}

/// The descriptor of the convolution with channels-last input `x` [N, S.., C],
/// output `y` [N, O.., F] and filter `w` [K.., C/groups, F] (shapes).
kiln_conv_desc_t convDescriptor(ConvWindow window, ArrayRef<int64_t> x,
                                ArrayRef<int64_t> w, ArrayRef<int64_t> y) {
  kiln_conv_desc_t d;
  std::memset(&d, 0, sizeof(d));
  int64_t rank = x.size() - 2;
  d.spatial_rank = rank;
  d.groups = window.groups;
  d.batch = x[0];
  d.in_channels = x.back();
  d.out_channels = y.back();
  for (int64_t i = 0; i < 3; ++i) {
    bool used = i < rank;
    d.in_size[i] = used ? x[1 + i] : 1;
    d.out_size[i] = used ? y[1 + i] : 1;
    d.kernel[i] = used ? w[i] : 1;
    d.stride[i] = used ? window.strides[i] : 1;
    d.dilation[i] = used ? window.dilations[i] : 1;
    d.pad_low[i] = used ? window.padLow[i] : 0;
    d.pad_high[i] = used ? window.padHigh[i] : 0;
  }
  d.epilogue = KILN_EPILOGUE_NONE;
  return d;
}

/// The descriptor of the pooling of channels-last `x` [N, S.., C] to `y`
/// [N, O.., C] (shapes).
kiln_pool_desc_t poolDescriptor(PoolWindow window, bool countIncludePad,
                                ArrayRef<int64_t> x, ArrayRef<int64_t> y) {
  kiln_pool_desc_t d;
  std::memset(&d, 0, sizeof(d));
  int64_t rank = x.size() - 2;
  d.spatial_rank = rank;
  d.batch = x[0];
  d.channels = x.back();
  for (int64_t i = 0; i < 3; ++i) {
    bool used = i < rank;
    d.in_size[i] = used ? x[1 + i] : 1;
    d.out_size[i] = used ? y[1 + i] : 1;
    d.window[i] = used ? window.window[i] : 1;
    d.stride[i] = used ? window.strides[i] : 1;
    d.pad_low[i] = used ? window.padLow[i] : 0;
    d.pad_high[i] = used ? window.padHigh[i] : 0;
  }
  d.count_include_pad = countIncludePad ? 1 : 0;
  return d;
}

ArrayRef<int64_t> shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

/// Replaces `op` (one tensor result) by a kernel call of `base`_f32/_f64
/// reading `inputs` into a fresh tensor of the result type.
void replaceWithKernelCall(PatternRewriter &rewriter, Operation *op,
                           StringRef base, ArrayRef<int64_t> descriptor,
                           ValueRange inputs,
                           ArrayRef<int64_t> nullPointers = {}) {
  Location loc = op->getLoc();
  auto type = cast<RankedTensorType>(op->getResult(0).getType());
  Value init =
      emptyTensor(rewriter, loc, type.getShape(), type.getElementType());
  auto call = rewriter.create<kiln_rt::KernelCallOp>(
      loc, TypeRange{type},
      FlatSymbolRefAttr::get(rewriter.getContext(),
                             kernelName(base, type.getElementType())),
      rewriter.getDenseI64ArrayAttr(descriptor),
      rewriter.getDenseI64ArrayAttr(nullPointers), inputs, ValueRange{init});
  rewriter.replaceOp(op, call.getResults());
}

struct ConvLowering : OpRewritePattern<ConvOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConvOp op,
                                PatternRewriter &rewriter) const override {
    kiln_conv_desc_t d =
        convDescriptor(op.getWindow(), shapeOf(op.getInput()),
                       shapeOf(op.getFilter()), shapeOf(op.getResult()));
    // (x, w, bias = NULL, y)
    replaceWithKernelCall(rewriter, op, "kiln_conv_fwd", toI64Array(d),
                          {op.getInput(), op.getFilter()},
                          /*nullPointers=*/{2});
    return success();
  }
};

struct ConvTransposeLowering : OpRewritePattern<ConvTransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConvTransposeOp op,
                                PatternRewriter &rewriter) const override {
    // The convolution's input is this op's result, its output the operand.
    kiln_conv_desc_t d =
        convDescriptor(op.getWindow(), shapeOf(op.getResult()),
                       shapeOf(op.getFilter()), shapeOf(op.getInput()));
    replaceWithKernelCall(rewriter, op, "kiln_conv_bwd_data", toI64Array(d),
                          {op.getInput(), op.getFilter()});
    return success();
  }
};

struct ConvFilterGradLowering : OpRewritePattern<ConvFilterGradOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConvFilterGradOp op,
                                PatternRewriter &rewriter) const override {
    // The kernel size comes from the result (the filter's shape).
    kiln_conv_desc_t d =
        convDescriptor(op.getWindow(), shapeOf(op.getInput()),
                       shapeOf(op.getResult()), shapeOf(op.getOutputGrad()));
    replaceWithKernelCall(rewriter, op, "kiln_conv_bwd_filter", toI64Array(d),
                          {op.getInput(), op.getOutputGrad()});
    return success();
  }
};

struct MaxPoolLowering : OpRewritePattern<MaxPoolOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MaxPoolOp op,
                                PatternRewriter &rewriter) const override {
    kiln_pool_desc_t d =
        poolDescriptor(op.getPoolWindow(), false, shapeOf(op.getInput()),
                       shapeOf(op.getResult()));
    replaceWithKernelCall(rewriter, op, "kiln_max_pool_fwd", toI64Array(d),
                          {op.getInput()});
    return success();
  }
};

struct MaxPoolGradLowering : OpRewritePattern<MaxPoolGradOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MaxPoolGradOp op,
                                PatternRewriter &rewriter) const override {
    kiln_pool_desc_t d =
        poolDescriptor(op.getPoolWindow(), false, shapeOf(op.getInput()),
                       shapeOf(op.getOutputGrad()));
    replaceWithKernelCall(rewriter, op, "kiln_max_pool_bwd", toI64Array(d),
                          {op.getInput(), op.getOutputGrad()});
    return success();
  }
};

struct AvgPoolLowering : OpRewritePattern<AvgPoolOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AvgPoolOp op,
                                PatternRewriter &rewriter) const override {
    kiln_pool_desc_t d =
        poolDescriptor(op.getPoolWindow(), op.getCountIncludePad(),
                       shapeOf(op.getInput()), shapeOf(op.getResult()));
    replaceWithKernelCall(rewriter, op, "kiln_avg_pool_fwd", toI64Array(d),
                          {op.getInput()});
    return success();
  }
};

struct AvgPoolGradLowering : OpRewritePattern<AvgPoolGradOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AvgPoolGradOp op,
                                PatternRewriter &rewriter) const override {
    // The pooled input is this op's result.
    kiln_pool_desc_t d =
        poolDescriptor(op.getPoolWindow(), op.getCountIncludePad(),
                       shapeOf(op.getResult()), shapeOf(op.getOutputGrad()));
    replaceWithKernelCall(rewriter, op, "kiln_avg_pool_bwd", toI64Array(d),
                          {op.getOutputGrad()});
    return success();
  }
};

/// The descriptor of a gather from `table` along `axis` with `indices`
/// (shapes and index element type).
kiln_gather_desc_t gatherDescriptor(ArrayRef<int64_t> table, int64_t axis,
                                    RankedTensorType indices) {
  kiln_gather_desc_t d;
  std::memset(&d, 0, sizeof(d));
  d.outer = 1;
  for (int64_t i = 0; i < axis; ++i)
    d.outer *= table[i];
  d.axis_size = table[axis];
  d.inner = 1;
  for (size_t i = axis + 1; i < table.size(); ++i)
    d.inner *= table[i];
  d.count = indices.getNumElements();
  d.index_bytes = indices.getElementType().getIntOrFloatBitWidth() / 8;
  return d;
}

struct GatherLowering : OpRewritePattern<GatherOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GatherOp op,
                                PatternRewriter &rewriter) const override {
    kiln_gather_desc_t d = gatherDescriptor(
        shapeOf(op.getInput()), op.getAxis(), op.getIndices().getType());
    replaceWithKernelCall(rewriter, op, "kiln_gather", toI64Array(d),
                          {op.getInput(), op.getIndices()});
    return success();
  }
};

struct ScatterAddLowering : OpRewritePattern<ScatterAddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ScatterAddOp op,
                                PatternRewriter &rewriter) const override {
    // The gathered-from tensor is this op's result.
    kiln_gather_desc_t d = gatherDescriptor(
        shapeOf(op.getResult()), op.getAxis(), op.getIndices().getType());
    replaceWithKernelCall(rewriter, op, "kiln_scatter_add", toI64Array(d),
                          {op.getUpdates(), op.getIndices()});
    return success();
  }
};

/// The kiln_epilogue_t of a recurrent activation name (verified by the op).
int64_t rnnActivation(StringRef name) {
  if (name == "tanh")
    return KILN_EPILOGUE_TANH;
  if (name == "sigmoid")
    return KILN_EPILOGUE_SIGMOID;
  if (name == "relu")
    return KILN_EPILOGUE_RELU;
  return KILN_EPILOGUE_NONE;
}

/// The descriptor of a kiln.rnn / kiln.rnn_grad (same attributes).
template <typename OpTy> kiln_rnn_desc_t rnnDescriptor(OpTy op) {
  kiln_rnn_desc_t d;
  std::memset(&d, 0, sizeof(d));
  ArrayRef<int64_t> x = shapeOf(op.getInput());
  StringRef cell = op.getCell();
  d.cell = cell == "lstm"  ? KILN_RNN_LSTM
           : cell == "gru" ? KILN_RNN_GRU
                           : KILN_RNN_SIMPLE;
  d.batch = x[0];
  d.steps = x[1];
  d.input_size = x[2];
  d.units = shapeOf(op.getRecurrentKernel())[0];
  d.activation = rnnActivation(op.getActivation());
  d.recurrent_activation = rnnActivation(op.getRecurrentActivation());
  d.go_backwards = op.getGoBackwards() ? 1 : 0;
  d.reverse_output = op.getReverseOutput() ? 1 : 0;
  d.reset_after = cell == "gru" && op.getResetAfter() ? 1 : 0;
  d.zero_output_for_mask = op.getZeroOutputForMask() ? 1 : 0;
  return d;
}

/// Replaces `op` by a kernel call of `base`_f32/_f64 writing fresh tensors
/// of its result types.
void replaceWithMultiResultKernelCall(PatternRewriter &rewriter, Operation *op,
                                      StringRef base,
                                      ArrayRef<int64_t> descriptor,
                                      ValueRange inputs,
                                      ArrayRef<int64_t> nullPointers) {
  Location loc = op->getLoc();
  SmallVector<Value> inits;
  for (Type type : op->getResultTypes()) {
    auto tensor = cast<RankedTensorType>(type);
    inits.push_back(
        emptyTensor(rewriter, loc, tensor.getShape(), tensor.getElementType()));
  }
  Type element =
      cast<RankedTensorType>(op->getResult(0).getType()).getElementType();
  auto call = rewriter.create<kiln_rt::KernelCallOp>(
      loc, op->getResultTypes(),
      FlatSymbolRefAttr::get(rewriter.getContext(), kernelName(base, element)),
      rewriter.getDenseI64ArrayAttr(descriptor),
      rewriter.getDenseI64ArrayAttr(nullPointers), inputs, inits);
  rewriter.replaceOp(op, call.getResults());
}

/// The recurrent kernels' first arguments: x, then the mask, or a NULL
/// pointer (position 1) when `op` has none.
template <typename OpTy>
void rnnInputAndMask(OpTy op, SmallVectorImpl<Value> &inputs,
                     SmallVectorImpl<int64_t> &nullPointers) {
  inputs.push_back(op.getInput());
  if (Value mask = op.getMask())
    inputs.push_back(mask);
  else
    nullPointers.push_back(1);
}

struct RnnLowering : OpRewritePattern<RnnOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RnnOp op,
                                PatternRewriter &rewriter) const override {
    // (x, mask, kernel, recurrent_kernel, bias, initial_state (NULL: zero
    //  states), y, final_state, workspace).
    SmallVector<Value> inputs;
    SmallVector<int64_t> nullPointers;
    rnnInputAndMask(op, inputs, nullPointers);
    inputs.append({op.getKernel(), op.getRecurrentKernel(), op.getBias()});
    if (Value initial = op.getInitialState())
      inputs.push_back(initial);
    else
      nullPointers.push_back(5);
    replaceWithMultiResultKernelCall(rewriter, op, "kiln_rnn_fwd",
                                     toI64Array(rnnDescriptor(op)), inputs,
                                     nullPointers);
    return success();
  }
};

struct RnnGradLowering : OpRewritePattern<RnnGradOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RnnGradOp op,
                                PatternRewriter &rewriter) const override {
    // (x, mask, kernel, recurrent_kernel, y = NULL (unread), workspace, dy,
    //  dfinal_state, dx, dkernel, drecurrent_kernel, dbias,
    //  dinitial_state).
    SmallVector<Value> inputs;
    SmallVector<int64_t> nullPointers;
    rnnInputAndMask(op, inputs, nullPointers);
    inputs.append({op.getKernel(), op.getRecurrentKernel(), op.getWorkspace(),
                   op.getResultGrad(), op.getFinalStateGrad()});
    nullPointers.push_back(4);
    replaceWithMultiResultKernelCall(rewriter, op, "kiln_rnn_bwd",
                                     toI64Array(rnnDescriptor(op)), inputs,
                                     nullPointers);
    return success();
  }
};

} // namespace

void kiln::populateKilnConvolutionToRuntimePatterns(
    RewritePatternSet &patterns) {
  patterns.add<ConvLowering, ConvTransposeLowering, ConvFilterGradLowering,
               MaxPoolLowering, MaxPoolGradLowering, AvgPoolLowering,
               AvgPoolGradLowering, GatherLowering, ScatterAddLowering,
               RnnLowering, RnnGradLowering>(patterns.getContext());
}
