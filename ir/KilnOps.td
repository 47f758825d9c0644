//===- KilnOps.td - kiln dialect operations -----------------*- tablegen -*-===//
//
// Every kiln op, grouped by family. Shape rules live in ShapeInference.h as
// free functions shared by the op hooks and the unit tests; each constraint
// carries a label (e.g. `matmul_c4`) used in diagnostics, docs/spec.md and
// the negative test in tests/lit/ir/invalid.mlir.
//
// This file is the op table: each record also says whether the op has a
// gradient (DifferentiableOpInterface, rule in ir/VJP*.cpp, or the
// ZeroGradient trait), how an elementwise op computes one element
// (ElementwiseScalarOpInterface, body in ir/ElementwiseScalar.cpp), its
// FLOPs (FlopCountOpInterface) and, for dropout, its inference form
// (InferenceFormOpInterface). KilnInterfaces.td describes the interfaces.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_OPS_TD
#define KILN_OPS_TD

include "ir/KilnBase.td"
include "ir/KilnInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

//===----------------------------------------------------------------------===//
// FLOP counts shared by the records below (FlopCountOpInterface)
//===----------------------------------------------------------------------===//

/// Ops that only move or create data: no floating-point operations.
defvar Kiln_NoFlops = [{
  /// FLOPs (FlopCountOpInterface): none, the op moves or creates data.
  double getFlops() { return 0; }
}];
/// One floating-point operation per result element.
defvar Kiln_FlopsPerResultElement = [{
  /// FLOPs (FlopCountOpInterface): one per result element.
  double getFlops() { return ::mlir::kiln::countResultElements(*this); }
}];

//===----------------------------------------------------------------------===//
// Elementwise binary ops
//===----------------------------------------------------------------------===//

/// An elementwise binary op. Each op defines its scalar body `buildScalar`
/// (ir/ElementwiseScalar.cpp) and its VJP rule `vjp` (ir/VJPElementwise.cpp);
/// the family implements DifferentiableOpInterface on top of `vjp`. `flops`
/// is the count per result element.
class Kiln_BinaryOp<string mnemonic, string formula, list<Trait> traits = [],
                    int flops = 1>
    : Kiln_Op<mnemonic, traits # [Pure, Elementwise, SameOperandsAndResultType,
          InferTypeOpInterface, Kiln_DifferentiableOpInterface,
          DeclareOpInterfaceMethods<Kiln_ElementwiseScalarOpInterface>,
          Kiln_FlopCountOpInterface]> {
  let summary = "Elementwise " # formula;
  let description = [{
    Computes `}] # formula # [{` element by element. Both operands and the
    result have one type; broadcasting is explicit through
    `kiln.broadcast_in_dim`.

    Example:
    ```mlir
    %r = kiln.}] # mnemonic # [{ %a, %b : tensor<2x3xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$lhs, Kiln_FloatTensor:$rhs);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
  let extraClassDeclaration = [{
    /// The VJP rule (ir/VJPElementwise.cpp): the (lhs, rhs) gradients for
    /// the result gradient `g`.
    std::pair<::mlir::Value, ::mlir::Value> vjp(::mlir::kiln::VJPBuilder &vb,
                                                ::mlir::Value g);
    ::llvm::LogicalResult
    buildVJP(::mlir::OpBuilder &builder, ::mlir::ValueRange resultGrads,
             ::llvm::SmallVectorImpl<::mlir::Value> &operandGrads);
    /// FLOPs (FlopCountOpInterface) per result element.
    static constexpr double kFlopsPerElement = }] # flops # [{;
    double getFlops() {
      return kFlopsPerElement * ::mlir::kiln::countResultElements(*this);
    }
  }];
  let extraClassDefinition = [{
    ::llvm::LogicalResult
    $cppClass::buildVJP(::mlir::OpBuilder &builder,
                        ::mlir::ValueRange resultGrads,
                        ::llvm::SmallVectorImpl<::mlir::Value> &operandGrads) {
      ::mlir::kiln::VJPBuilder vb{builder, getLoc()};
      auto [lhsGrad, rhsGrad] = vjp(vb, resultGrads[0]);
      operandGrads.push_back(lhsGrad);
      operandGrads.push_back(rhsGrad);
      return ::mlir::success();
    }
  }];
}

def Kiln_AddOp : Kiln_BinaryOp<"add", "lhs + rhs", [Commutative]> {
  let hasFolder = 1;
}
def Kiln_SubOp : Kiln_BinaryOp<"sub", "lhs - rhs"> { let hasFolder = 1; }
def Kiln_MulOp : Kiln_BinaryOp<"mul", "lhs * rhs", [Commutative]> {
  let hasFolder = 1;
}
def Kiln_DivOp : Kiln_BinaryOp<"div", "lhs / rhs"> { let hasFolder = 1; }
def Kiln_MaximumOp : Kiln_BinaryOp<"maximum", "max(lhs, rhs) (NaN propagating)",
                                   [Commutative]>;
def Kiln_MinimumOp : Kiln_BinaryOp<"minimum", "min(lhs, rhs) (NaN propagating)",
                                   [Commutative]>;
def Kiln_PowOp : Kiln_BinaryOp<"pow", "lhs ^ rhs">;

//===----------------------------------------------------------------------===//
// Elementwise unary ops and activations
//===----------------------------------------------------------------------===//

/// An elementwise unary op or activation. Each op defines its scalar body
/// `buildScalar` (ir/ElementwiseScalar.cpp) and its VJP rule `vjp`
/// (ir/VJPElementwise.cpp); the family implements DifferentiableOpInterface
/// on top of `vjp`. `flops` is the count per result element.
class Kiln_UnaryOp<string mnemonic, string formula, list<Trait> traits = [],
                   int flops = 1>
    : Kiln_Op<mnemonic, traits # [Pure, Elementwise, SameOperandsAndResultType,
          InferTypeOpInterface, Kiln_DifferentiableOpInterface,
          DeclareOpInterfaceMethods<Kiln_ElementwiseScalarOpInterface>,
          Kiln_FlopCountOpInterface]> {
  let summary = "Elementwise " # formula;
  let description = [{
    Computes `}] # formula # [{` element by element; the result has the type
    of the operand.

    Example:
    ```mlir
    %r = kiln.}] # mnemonic # [{ %x : tensor<4xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$operand);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$operand attr-dict `:` type($result)";
  let extraClassDeclaration = [{
    /// The VJP rule (ir/VJPElementwise.cpp): the operand gradient for the
    /// result gradient `g`.
    ::mlir::Value vjp(::mlir::kiln::VJPBuilder &vb, ::mlir::Value g);
    ::llvm::LogicalResult
    buildVJP(::mlir::OpBuilder &builder, ::mlir::ValueRange resultGrads,
             ::llvm::SmallVectorImpl<::mlir::Value> &operandGrads);
    /// FLOPs (FlopCountOpInterface) per result element.
    static constexpr double kFlopsPerElement = }] # flops # [{;
    double getFlops() {
      return kFlopsPerElement * ::mlir::kiln::countResultElements(*this);
    }
  }];
  let extraClassDefinition = [{
    ::llvm::LogicalResult
    $cppClass::buildVJP(::mlir::OpBuilder &builder,
                        ::mlir::ValueRange resultGrads,
                        ::llvm::SmallVectorImpl<::mlir::Value> &operandGrads) {
      ::mlir::kiln::VJPBuilder vb{builder, getLoc()};
      operandGrads.push_back(vjp(vb, resultGrads[0]));
      return ::mlir::success();
    }
  }];
}

def Kiln_NegOp : Kiln_UnaryOp<"neg", "-x">;
def Kiln_ExpOp : Kiln_UnaryOp<"exp", "e^x">;
def Kiln_LogOp : Kiln_UnaryOp<"log", "ln(x)">;
def Kiln_Log1pOp : Kiln_UnaryOp<"log1p", "ln(1 + x)">;
def Kiln_SqrtOp : Kiln_UnaryOp<"sqrt", "sqrt(x)">;
def Kiln_RsqrtOp : Kiln_UnaryOp<"rsqrt", "1 / sqrt(x)">;
def Kiln_AbsOp : Kiln_UnaryOp<"abs", "|x|">;
def Kiln_SquareOp : Kiln_UnaryOp<"square", "x * x">;
def Kiln_TanhOp : Kiln_UnaryOp<"tanh", "tanh(x)">;
def Kiln_SigmoidOp : Kiln_UnaryOp<"sigmoid", "1 / (1 + e^-x)">;
def Kiln_ReluOp : Kiln_UnaryOp<"relu", "max(x, 0) (NaN propagating)">;
def Kiln_ErfOp : Kiln_UnaryOp<"erf", "erf(x)"> {
  let description = [{
    The error function `erf(x) = 2/sqrt(pi) * integral_0^x e^(-t^2) dt`
    (Abramowitz & Stegun 7.1.1; ONNX `Erf`, as exporters emit the exact
    GELU `0.5 x (1 + erf(x / sqrt 2))` decomposed), lowered to libm's
    `erff`/`erf`. Its VJP is `g * 2/sqrt(pi) * e^(-x^2)`.

    Example:
    ```mlir
    %r = kiln.erf %x : tensor<4xf32>
    ```
  }];
}
def Kiln_SoftplusOp : Kiln_UnaryOp<"softplus", "ln(1 + e^x)"> {
  let description = [{
    Softplus `ln(1 + e^x)`, computed in the overflow-free form
    `max(x, 0) + log1p(exp(-|x|))` (exact for large |x|).

    Example:
    ```mlir
    %r = kiln.softplus %x : tensor<4xf32>
    ```
  }];
}

def Kiln_LeakyReluOp : Kiln_UnaryOp<"leaky_relu", "x >= 0 ? x : alpha * x"> {
  let description = [{
    Leaky rectified linear unit: `x` where `x >= 0`, `alpha * x` elsewhere.
    `alpha` defaults to 0.3, the Keras `LeakyReLU` default (ONNX uses 0.01
    and its importer sets it explicitly).

    Example:
    ```mlir
    %r = kiln.leaky_relu %x {alpha = 0.2 : f64} : tensor<4xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$operand,
                   DefaultValuedAttr<Kiln_FiniteF64Attr, "0.3">:$alpha);
}

def Kiln_EluOp : Kiln_UnaryOp<"elu", "x > 0 ? x : alpha * (e^x - 1)"> {
  let description = [{
    Exponential linear unit (Clevert et al. 2016): `x` where `x > 0`,
    `alpha * (exp(x) - 1)` elsewhere; `alpha` defaults to 1.0 (Keras, ONNX).

    Example:
    ```mlir
    %r = kiln.elu %x {alpha = 1.0 : f64} : tensor<4xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$operand,
                   DefaultValuedAttr<Kiln_FiniteF64Attr, "1.0">:$alpha);
}

def Kiln_GeluOp : Kiln_UnaryOp<"gelu", "x * Phi(x)"> {
  let description = [{
    Gaussian error linear unit (Hendrycks & Gimpel 2016). Exact form
    `0.5 * x * (1 + erf(x / sqrt(2)))`; with `approximate` the tanh form
    `0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))` (Keras
    `approximate=True`, PyTorch `approximate='tanh'`).

    Example:
    ```mlir
    %r = kiln.gelu %x {approximate = true} : tensor<4xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$operand,
                   DefaultValuedAttr<BoolAttr, "false">:$approximate);
}

def Kiln_HardSigmoidOp
    : Kiln_UnaryOp<"hard_sigmoid", "max(0, min(1, alpha * x + beta))"> {
  let description = [{
    Piecewise-linear sigmoid: `max(0, min(1, alpha * x + beta))`, NaN
    propagating. The defaults alpha = 1/6, beta = 0.5 are Keras 3's
    `hard_sigmoid` (`relu6(x + 3) / 6`: 0 for x <= -3, 1 for x >= 3); ONNX
    `HardSigmoid` defaults to alpha = 0.2, beta = 0.5 (Keras 2's form), set
    explicitly by its importer.

    Example:
    ```mlir
    %r = kiln.hard_sigmoid %x {alpha = 2.000000e-01 : f64} : tensor<4xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$operand,
                   DefaultValuedAttr<Kiln_FiniteF64Attr, "1.0 / 6.0">:$alpha,
                   DefaultValuedAttr<Kiln_FiniteF64Attr, "0.5">:$beta);
}

//===----------------------------------------------------------------------===//
// Comparison and selection
//===----------------------------------------------------------------------===//

def Kiln_CompareOp : Kiln_Op<"compare", [Pure, Elementwise,
    SameTypeOperands, SameOperandsAndResultShape, InferTypeOpAdaptor,
    Kiln_ZeroGradient,
    DeclareOpInterfaceMethods<Kiln_ElementwiseScalarOpInterface>,
    Kiln_FlopCountOpInterface]> {
  let summary = "Elementwise comparison producing i1";
  let description = [{
    Compares `lhs` and `rhs` element by element with `comparison_direction`
    (eq, ne, lt, le, gt, ge) and yields an `i1` tensor of the same shape.
    Floating-point comparisons follow IEEE 754: every comparison with a NaN
    is false except `ne`, which is true. Integer comparisons are signed.

    Example:
    ```mlir
    %m = kiln.compare gt, %a, %b : tensor<4xf32>
    ```
  }];
  let arguments = (ins Kiln_ComparisonDirection:$comparison_direction,
                   Kiln_Tensor:$lhs, Kiln_Tensor:$rhs);
  let results = (outs Kiln_BoolTensor:$result);
  let assemblyFormat = [{
    $comparison_direction `,` $lhs `,` $rhs attr-dict `:` type($lhs)
  }];
  let extraClassDeclaration = Kiln_FlopsPerResultElement;
}

def Kiln_SelectOp : Kiln_Op<"select", [Pure, Elementwise,
    AllTypesMatch<["on_true", "on_false", "result"]>,
    AllShapesMatch<["pred", "on_true"]>,
    DeclareOpInterfaceMethods<InferTypeOpInterface>,
    DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>,
    DeclareOpInterfaceMethods<Kiln_ElementwiseScalarOpInterface>,
    Kiln_FlopCountOpInterface]> {
  let summary = "Elementwise choice between two tensors";
  let description = [{
    `result[i] = pred[i] ? on_true[i] : on_false[i]`. `pred` is an `i1`
    tensor of the operands' shape.

    Example:
    ```mlir
    %r = kiln.select %m, %a, %b : tensor<4xi1>, tensor<4xf32>
    ```
  }];
  let arguments = (ins Kiln_BoolTensor:$pred, Kiln_Tensor:$on_true,
                   Kiln_Tensor:$on_false);
  let results = (outs Kiln_Tensor:$result);
  let assemblyFormat = [{
    $pred `,` $on_true `,` $on_false attr-dict `:` type($pred) `,` type($result)
  }];
  let hasFolder = 1;
  let extraClassDeclaration = Kiln_FlopsPerResultElement;
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

class Kiln_ReduceOp<string mnemonic, string what>
    : Kiln_Op<mnemonic, [Pure, InferTypeOpAdaptor,
        DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>,
        Kiln_FlopCountOpInterface]> {
  let summary = "Reduces " # what # " over a list of axes";
  let description = [{
    Reduces `input` with }] # what # [{ over each axis in `axes` (unique,
    in `[0, rank)`). With `keep_dims` the reduced axes stay with size 1;
    without, they are removed. An empty `axes` list leaves the input as it
    is. Shape rule: `inferReduceShape` (labels `reduce_c1` axis in range,
    `reduce_c2` axes unique).

    Example:
    ```mlir
    %r = kiln.}] # mnemonic # [{ %x {axes = array<i64: 1>} : tensor<2x3xf32> -> tensor<2xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, DenseI64ArrayAttr:$axes,
                   DefaultValuedAttr<BoolAttr, "false">:$keep_dims);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` type($result)
  }];
  let hasFolder = 1;
  let extraClassDeclaration = Kiln_FlopsPerResultElement;
}

def Kiln_ReduceSumOp : Kiln_ReduceOp<"reduce_sum", "the sum">;
def Kiln_ReduceMeanOp : Kiln_ReduceOp<"reduce_mean", "the arithmetic mean">;
def Kiln_ReduceMaxOp : Kiln_ReduceOp<"reduce_max",
                                     "the maximum (NaN propagating)">;

def Kiln_ArgmaxOp : Kiln_Op<"argmax", [Pure, InferTypeOpAdaptor,
                                        Kiln_ZeroGradient,
                                        Kiln_FlopCountOpInterface]> {
  let summary = "Index of the maximum along one axis";
  let description = [{
    Index (i64) of the largest element along `axis`; at ties the first index
    in row-major order wins; a NaN counts as larger than any number. With
    `keep_dims` the axis stays with size 1. Not differentiable. Shape rule:
    `inferArgmaxShape` (label `argmax_c1` axis in range).

    Example:
    ```mlir
    %i = kiln.argmax %x {axis = 1 : i64} : tensor<8x10xf32> -> tensor<8xi64>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, I64Attr:$axis,
                   DefaultValuedAttr<BoolAttr, "false">:$keep_dims);
  let results = (outs StaticShapeTensorOf<[I64]>:$result);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` type($result)
  }];
  let extraClassDeclaration = Kiln_FlopsPerResultElement;
}

//===----------------------------------------------------------------------===//
// Contraction
//===----------------------------------------------------------------------===//

def Kiln_MatmulOp : Kiln_Op<"matmul", [Pure, InferTypeOpAdaptor,
    DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>,
    DeclareOpInterfaceMethods<Kiln_FlopCountOpInterface>]> {
  let summary = "Matrix product, plain or batched, with transpose flags";
  let description = [{
    `result[..., i, j] = sum_k A[..., i, k] * B[..., k, j]` where `A` is
    `lhs` (its last two axes swapped when `transpose_lhs`) and `B` is `rhs`
    (likewise with `transpose_rhs`). Both operands have rank >= 2 and the same
    rank; leading (batch) axes must be equal, there is no implicit
    broadcasting. Shape rule: `inferMatmulShape` (labels `matmul_c1` rank,
    `matmul_c2` element types, `matmul_c3` batch axes, `matmul_c4`
    contraction sizes).

    Example:
    ```mlir
    %y = kiln.matmul %x, %w {transpose_rhs = true}
        : tensor<128x784xf32>, tensor<512x784xf32> -> tensor<128x512xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$lhs, Kiln_FloatTensor:$rhs,
                   DefaultValuedAttr<BoolAttr, "false">:$transpose_lhs,
                   DefaultValuedAttr<BoolAttr, "false">:$transpose_rhs);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Convolution and pooling (channels-last)
//===----------------------------------------------------------------------===//

/// The window attributes every convolution op carries, one entry per spatial
/// axis: `strides` (>= 1), `dilations` (>= 1), zero padding `pad_low` before
/// and `pad_high` after the axis (>= 0), and `groups` (>= 1, dividing both
/// channel counts).
defvar Kiln_ConvAttrs = (ins DenseI64ArrayAttr:$strides,
    DenseI64ArrayAttr:$dilations, DenseI64ArrayAttr:$pad_low,
    DenseI64ArrayAttr:$pad_high, DefaultValuedAttr<I64Attr, "1">:$groups);

/// A convolution-family op: its shape rule and FLOP count are C++ methods
/// (KilnOps.cpp), its VJP rule is in ir/VJPStructured.cpp.
class Kiln_ConvFamilyOp<string mnemonic, list<Trait> traits = []>
    : Kiln_Op<mnemonic, traits # [Pure,
          DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>,
          DeclareOpInterfaceMethods<Kiln_FlopCountOpInterface>]> {
  let extraClassDeclaration = [{
    /// The attributes as the shared shape rules take them.
    ::mlir::kiln::ConvWindow getWindow() {
      return {getStrides(), getDilations(), getPadLow(), getPadHigh(),
              static_cast<int64_t>(getGroups())};
    }
  }];
}

def Kiln_ConvOp : Kiln_ConvFamilyOp<"conv", [InferTypeOpAdaptor]> {
  let summary = "N-D grouped, strided, dilated, zero-padded convolution";
  let description = [{
    Cross-correlation in channels-last layout, as Keras `Conv1D`/`Conv2D`/
    `Conv3D` and ONNX `Conv` compute it (ONNX's NCHW/OIHW operands are
    transposed at import). `input` is `[N, S_1..S_d, C]`, `filter` is
    `[K_1..K_d, C/groups, F]` (Keras HWIO), the result is `[N, O_1..O_d, F]`:

    ```
    result[n, o, f] = sum_{k, c} input[n, o*stride + k*dilation - pad_low, g*C/groups + c]
                                 * filter[k, c, f],   g = f / (F/groups)
    ```

    where positions outside `[0, S)` read 0 and
    `O = floor((S + pad_low + pad_high - dilation*(K-1) - 1) / stride) + 1`.
    `groups == C` is a depthwise convolution. d is 1, 2 or 3.
    Shape rule: `inferConvShape` (labels `conv_c1` ranks, `conv_c2` one
    attribute entry per spatial axis, `conv_c3` strides and dilations >= 1
    and pads >= 0, `conv_c4` groups divide the channels and the filter's
    input channels are C/groups, `conv_c5` the dilated window fits the
    padded input, `conv_c6` element types).

    Example:
    ```mlir
    %y = kiln.conv %x, %w {strides = array<i64: 1, 1>,
                           dilations = array<i64: 1, 1>,
                           pad_low = array<i64: 0, 0>, pad_high = array<i64: 0, 0>}
        : tensor<128x28x28x1xf32>, tensor<3x3x1x32xf32> -> tensor<128x26x26x32xf32>
    ```
  }];
  let arguments = !con((ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$filter),
                       Kiln_ConvAttrs);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $filter attr-dict `:` type($input) `,` type($filter) `->`
    type($result)
  }];
}

def Kiln_ConvTransposeOp : Kiln_ConvFamilyOp<"conv_transpose"> {
  let summary = "Transposed convolution (the input gradient of kiln.conv)";
  let description = [{
    The adjoint of `kiln.conv` with respect to its input: `input` is
    `[N, O_1..O_d, F]`, `filter` is `[K_1..K_d, C/groups, F]` and the result
    `[N, S_1..S_d, C]` is the tensor whose `kiln.conv` with the same filter
    and attributes has `input`'s shape:

    ```
    result[n, s, g*C/groups + c] = sum_{o, k : s = o*stride + k*dilation - pad_low}
                                   input[n, o, f] * filter[k, c, f]   (f in group g)
    ```

    The result shape is given, not inferred: several `S` map to one `O` when
    a stride exceeds 1 (Keras `Conv2DTranspose` / ONNX `ConvTranspose`
    `output_padding` pick one). Keras `Conv2DTranspose` kernels
    (`[K, filters, in_channels]`) are this op's filter as they are.
    Verifier: `verifyConvTransposeShapes` (labels `conv_c1`..`conv_c6` on
    the implied convolution, `conv_transpose_c1` the convolution of the
    result shape gives the input shape).

    Example:
    ```mlir
    %dx = kiln.conv_transpose %dy, %w {strides = array<i64: 2>,
            dilations = array<i64: 1>, pad_low = array<i64: 0>,
            pad_high = array<i64: 0>}
        : tensor<4x3x8xf32>, tensor<3x2x8xf32> -> tensor<4x8x2xf32>
    ```
  }];
  let arguments = !con((ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$filter),
                       Kiln_ConvAttrs);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $filter attr-dict `:` type($input) `,` type($filter) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

def Kiln_ConvFilterGradOp : Kiln_ConvFamilyOp<"conv_filter_grad"> {
  let summary = "The filter gradient of kiln.conv";
  let description = [{
    The adjoint of `kiln.conv` with respect to its filter: `input` is the
    convolution input `[N, S_1..S_d, C]`, `output_grad` has the
    convolution's result shape `[N, O_1..O_d, F]`, and the result is
    `[K_1..K_d, C/groups, F]`:

    ```
    result[k, c, f] = sum_{n, o} input[n, o*stride + k*dilation - pad_low, g*C/groups + c]
                                 * output_grad[n, o, f]
    ```

    The result shape is given (a stride above 1 leaves `K` ambiguous).
    Verifier: `verifyConvFilterGradShapes` (labels `conv_c1`..`conv_c6` on
    the implied convolution, `conv_filter_grad_c1` the convolution of
    `input` with a filter of the result's shape gives `output_grad`'s
    shape).

    Example:
    ```mlir
    %dw = kiln.conv_filter_grad %x, %dy {strides = array<i64: 1, 1>,
            dilations = array<i64: 1, 1>, pad_low = array<i64: 0, 0>,
            pad_high = array<i64: 0, 0>}
        : tensor<128x28x28x1xf32>, tensor<128x26x26x32xf32> -> tensor<3x3x1x32xf32>
    ```
  }];
  let arguments = !con((ins Kiln_FloatTensor:$input,
                            Kiln_FloatTensor:$output_grad),
                       Kiln_ConvAttrs);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $output_grad attr-dict `:` type($input) `,` type($output_grad)
    `->` type($result)
  }];
  let hasVerifier = 1;
}

/// The window attributes every pooling op carries, one entry per spatial
/// axis: `window` (>= 1), `strides` (>= 1), `pad_low`/`pad_high` (>= 0 and
/// smaller than the window), and `ceil_mode` (ONNX/PyTorch: round the
/// output size up, dropping a last window that would start in the padding).
defvar Kiln_PoolAttrs = (ins DenseI64ArrayAttr:$window,
    DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pad_low,
    DenseI64ArrayAttr:$pad_high,
    DefaultValuedAttr<BoolAttr, "false">:$ceil_mode);

/// The extra attribute of average pooling: whether padding counts in the
/// divisor (ONNX `count_include_pad`; Keras/TF `same` pooling: false).
defvar Kiln_AvgPoolAttrs = (ins
    DefaultValuedAttr<BoolAttr, "false">:$count_include_pad);

/// A pooling-family op on channels-last tensors `[N, S_1..S_d, C]`.
class Kiln_PoolFamilyOp<string mnemonic, list<Trait> traits = []>
    : Kiln_Op<mnemonic, traits # [Pure,
          DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>,
          DeclareOpInterfaceMethods<Kiln_FlopCountOpInterface>]> {
  let extraClassDeclaration = [{
    /// The attributes as the shared shape rules take them.
    ::mlir::kiln::PoolWindow getPoolWindow() {
      return {getWindow(), getStrides(), getPadLow(), getPadHigh(),
              getCeilMode()};
    }
  }];
}

def Kiln_MaxPoolOp : Kiln_PoolFamilyOp<"max_pool", [InferTypeOpAdaptor]> {
  let summary = "Max pooling over spatial windows";
  let description = [{
    `result[n, o, c] = max_{k, s = o*stride + k - pad_low in [0, S)} input[n, s, c]`
    on channels-last `[N, S_1..S_d, C]` (d = 1..3). Padding never wins; a
    NaN in a window makes its result NaN. Output size:
    `O = floor((S + pad_low + pad_high - window) / stride) + 1`, or with
    `ceil_mode` the ceiling, minus one when the last window would start at
    or after `S + pad_low` (PyTorch, ONNX). The VJP (`kiln.max_pool_grad`)
    routes each window's gradient to one element: the first maximum in
    row-major window order (TF, cuDNN, Caffe). Shape rule: `inferPoolShape`
    (labels `pool_c1` rank, `pool_c2` one attribute entry per spatial axis,
    `pool_c3` window and strides >= 1 and pads >= 0, `pool_c4` pads smaller
    than the window, `pool_c5` the window fits the padded input).

    Example:
    ```mlir
    %p = kiln.max_pool %x {window = array<i64: 2, 2>, strides = array<i64: 2, 2>,
                           pad_low = array<i64: 0, 0>, pad_high = array<i64: 0, 0>}
        : tensor<128x26x26x32xf32> -> tensor<128x13x13x32xf32>
    ```
  }];
  let arguments = !con((ins Kiln_FloatTensor:$input), Kiln_PoolAttrs);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Kiln_MaxPoolGradOp : Kiln_PoolFamilyOp<"max_pool_grad",
    [AllTypesMatch<["input", "result"]>]> {
  let summary = "The input gradient of kiln.max_pool";
  let description = [{
    For each window of `kiln.max_pool` over `input`, adds
    `output_grad[n, o, c]` to the first element of the window (row-major
    window order) that equals the window's maximum (a NaN counts as the
    maximum); every other element gets nothing from that window and
    overlapping windows add up. The argmax is recomputed from `input`
    with the forward op's comparison, so it is the element whose value the
    forward returned. Not differentiable again (its VJP reports an error).
    Verifier: `output_grad` has `kiln.max_pool`'s result shape for `input`
    (labels `pool_c1`..`pool_c5`, `pool_grad_c1`).

    Example:
    ```mlir
    %dx = kiln.max_pool_grad %x, %dy {window = array<i64: 2, 2>,
            strides = array<i64: 2, 2>, pad_low = array<i64: 0, 0>,
            pad_high = array<i64: 0, 0>}
        : tensor<128x26x26x32xf32>, tensor<128x13x13x32xf32> -> tensor<128x26x26x32xf32>
    ```
  }];
  let arguments = !con((ins Kiln_FloatTensor:$input,
                            Kiln_FloatTensor:$output_grad), Kiln_PoolAttrs);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $output_grad attr-dict `:` type($input) `,` type($output_grad)
    `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kiln_AvgPoolOp : Kiln_PoolFamilyOp<"avg_pool", [InferTypeOpAdaptor]> {
  let summary = "Average pooling over spatial windows";
  let description = [{
    The mean of each window of `kiln.max_pool`'s windowing (same output
    size rule and labels `pool_c1`..`pool_c5`). Padding adds 0 to the sum;
    the divisor is the number of window positions inside `[0, S)`, or with
    `count_include_pad` inside `[-pad_low, S + pad_high)` (a `ceil_mode`
    overhang past the declared padding never counts, as in PyTorch).
    Keras/TF `same` average pooling is `count_include_pad = false`.

    Example:
    ```mlir
    %p = kiln.avg_pool %x {window = array<i64: 3>, strides = array<i64: 2>,
                           pad_low = array<i64: 1>, pad_high = array<i64: 1>,
                           count_include_pad = true}
        : tensor<4x9x8xf32> -> tensor<4x5x8xf32>
    ```
  }];
  let arguments = !con((ins Kiln_FloatTensor:$input), Kiln_PoolAttrs,
                       Kiln_AvgPoolAttrs);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Kiln_AvgPoolGradOp : Kiln_PoolFamilyOp<"avg_pool_grad"> {
  let summary = "The input gradient of kiln.avg_pool";
  let description = [{
    Spreads `output_grad[n, o, c]` divided by its window's divisor over the
    window's in-bounds elements; overlapping windows add up. The result has
    the pooled input's shape, which is given (strides above 1 leave it
    ambiguous). Verifier: `kiln.avg_pool` of the result shape has
    `output_grad`'s shape (labels `pool_c1`..`pool_c5`, `pool_grad_c1`).
    Linear; its VJP is `kiln.avg_pool` with the same attributes.

    Example:
    ```mlir
    %dx = kiln.avg_pool_grad %dy {window = array<i64: 2>, strides = array<i64: 2>,
            pad_low = array<i64: 0>, pad_high = array<i64: 0>}
        : tensor<4x4x8xf32> -> tensor<4x8x8xf32>
    ```
  }];
  let arguments = !con((ins Kiln_FloatTensor:$output_grad), Kiln_PoolAttrs,
                       Kiln_AvgPoolAttrs);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $output_grad attr-dict `:` type($output_grad) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Gather and scatter (embedding lookup and its gradient)
//===----------------------------------------------------------------------===//

def Kiln_GatherOp : Kiln_Op<"gather", [Pure, InferTypeOpAdaptor,
    DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>,
    Kiln_FlopCountOpInterface]> {
  let summary = "Takes slices of a tensor along one axis at integer indices";
  let description = [{
    With `input` of shape `[A.., V, B..]` (`V` on `axis`) and `indices` of
    shape `[I..]` (i32 or i64), the result has shape `[A.., I.., B..]` and

    ```
    result[a.., i.., b..] = input[a.., indices[i..], b..]
    ```

    (ONNX `Gather`, NumPy `take`, Keras `Embedding` with `axis = 0`). An
    index in `[-V, 0)` counts from the end, as ONNX allows; an index outside
    `[-V, V)` yields zeros (never a read outside the tensor). Generated
    programs check the token ids they read against the vocabulary before
    any step (docs/spec.md, "Integer inputs"), so in a training program that
    case is an error with the file, sample and position. Shape rule:
    `inferGatherShape` (label `gather_c1`: axis in range). Its VJP with
    respect to `input` is `kiln.scatter_add`; `indices` get no gradient.

    Example (an embedding lookup):
    ```mlir
    %e = kiln.gather %table[%ids] {axis = 0 : i64}
        : tensor<1000x16xf32>, tensor<32x20xi32> -> tensor<32x20x16xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_IntTensor:$indices,
                   DefaultValuedAttr<I64Attr, "0">:$axis);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $input `[` $indices `]` attr-dict `:` type($input) `,` type($indices)
    `->` type($result)
  }];
  let extraClassDeclaration = Kiln_NoFlops;
}

def Kiln_ScatterAddOp : Kiln_Op<"scatter_add", [Pure, InferTypeOpAdaptor,
    DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>,
    Kiln_FlopCountOpInterface]> {
  let summary = "Adds slices into a zero tensor at integer indices";
  let description = [{
    The transpose of `kiln.gather`: with `updates` of shape `[A.., I.., B..]`
    (`I..` the shape of `indices`, starting at `axis`), the result has shape
    `[A.., size, B..]`, starts as zeros, and every slice is added at its
    index:

    ```
    result[a.., indices[i..], b..] += updates[a.., i.., b..]
    ```

    Repeated indices accumulate (the same token twice in a batch adds its
    two gradients, never overwrites; TensorFlow `unsorted_segment_sum`,
    PyTorch `index_add_`). Indices in `[-size, 0)` count from the end;
    slices whose index is outside `[-size, size)` are dropped, matching
    `kiln.gather`'s zeros. Sums run in index order, so the result does not
    depend on the thread count. Shape rule: `inferScatterAddShape` (labels
    `scatter_add_c1` axis and size, `scatter_add_c2` the updates' shape).
    Linear in `updates`; its VJP is `kiln.gather` with the same indices.

    Example:
    ```mlir
    %dt = kiln.scatter_add %de[%ids] {axis = 0 : i64, size = 1000 : i64}
        : tensor<32x20x16xf32>, tensor<32x20xi32> -> tensor<1000x16xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$updates, Kiln_IntTensor:$indices,
                   DefaultValuedAttr<I64Attr, "0">:$axis, I64Attr:$size);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $updates `[` $indices `]` attr-dict `:` type($updates) `,` type($indices)
    `->` type($result)
  }];
  let extraClassDeclaration = [{
    /// FLOPs (FlopCountOpInterface): one addition per update element.
    double getFlops() {
      return static_cast<double>(getUpdates().getType().getNumElements());
    }
  }];
}

//===----------------------------------------------------------------------===//
// Recurrent layers (whole sequences)
//===----------------------------------------------------------------------===//

defvar Kiln_RnnAttrs = (ins
    StrAttr:$cell,
    DefaultValuedAttr<StrAttr, "\"tanh\"">:$activation,
    DefaultValuedAttr<StrAttr, "\"sigmoid\"">:$recurrent_activation,
    DefaultValuedAttr<BoolAttr, "false">:$go_backwards,
    DefaultValuedAttr<BoolAttr, "false">:$reverse_output,
    DefaultValuedAttr<BoolAttr, "true">:$reset_after,
    DefaultValuedAttr<BoolAttr, "false">:$zero_output_for_mask);

def Kiln_RnnOp : Kiln_Op<"rnn", [Pure, InferTypeOpAdaptor,
    AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>,
    DeclareOpInterfaceMethods<Kiln_FlopCountOpInterface>]> {
  let summary = "A recurrent layer (SimpleRNN, LSTM, GRU) over a whole sequence";
  let description = [{
    Runs the cell `cell` ("simple", "lstm" or "gru") over the T steps of
    `input` `[N, T, I]` from `initial_state` (zero states without it), with Keras' layouts and
    gate orders: `kernel` `[I, G*H]`, `recurrent_kernel` `[H, G*H]`, `bias`
    `[G*H]` (G = 1, 4 (i, f, c, o), 3 (z, r, h)), or `[2, 3H]` for a GRU
    with `reset_after` (row 0 input bias, row 1 recurrent bias; Keras 3's
    default). `activation` and `recurrent_activation` are "tanh",
    "sigmoid", "relu" or "linear". Step s reads `input[:, T-1-s]` with
    `go_backwards`, else `input[:, s]`, and stores its hidden state at
    `result[:, T-1-s]` with `reverse_output`, else `result[:, s]`. The
    formulas are those of runtime.h's `kiln_rnn_desc_t` (Keras 3
    simple_rnn.py, lstm.py, gru.py; Hochreiter & Schmidhuber 1997, Cho et
    al. 2014).

    The optional `mask` `[N, T]` (the input's element type, nonzero = valid,
    indexed like `input`) is Keras' RNN mask: a masked step of a sample
    keeps its states and writes the carried hidden state to `result` (zeros
    with `zero_output_for_mask`, which Keras' Bidirectional sets to
    `return_sequences`). The mask gets no gradient.

    `result` `[N, T, H]` holds every step's hidden state (Keras'
    `return_sequences=True`; the last processed step is `result[:, T-1]`,
    or `result[:, 0]` with `reverse_output`). The optional `initial_state`
    and the result `final_state` are `[S, N, H]`: h, then (LSTM, S = 2) c;
    S = 1 for "simple" and "gru" (Keras' `initial_state` call argument and
    `return_state`; ONNX's `initial_h`/`initial_c` and `Y_h`/`Y_c` of one
    direction). `final_state` holds the states after the last processed
    step; with a mask those are the carried states, whatever
    `zero_output_for_mask` writes to `result`. `workspace` (a 1-D tensor of
    `kiln_rnn_workspace_size` elements) keeps the gates and states of every
    step for `kiln.rnn_grad`; it is not a model value. Shape rule:
    `inferRnnShapes` (labels `rnn_c1` cell and activations, `rnn_c2` input
    and kernel, `rnn_c3` recurrent kernel, `rnn_c4` bias, `rnn_c5` element
    types, `rnn_c7` the mask, `rnn_c8` the initial state). Its VJP is
    `kiln.rnn_grad` (gradients reach `initial_state` and flow from
    `final_state`). Runtime kernel `kiln_rnn_fwd_*`.

    Example (an LSTM of 16 units over 20 steps of 8 features):
    ```mlir
    %y, %st, %ws = kiln.rnn %x, %k, %rk, %b {cell = "lstm"}
        : tensor<4x20x8xf32>, tensor<8x64xf32>, tensor<16x64xf32>, tensor<64xf32>
        -> tensor<4x20x16xf32>, tensor<2x4x16xf32>, tensor<8960xf32>
    ```
  }];
  let arguments = !con((ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$kernel,
                            Kiln_FloatTensor:$recurrent_kernel,
                            Kiln_FloatTensor:$bias,
                            Optional<Kiln_FloatTensor>:$mask,
                            Optional<Kiln_FloatTensor>:$initial_state),
                       Kiln_RnnAttrs);
  let results = (outs Kiln_FloatTensor:$result, Kiln_FloatTensor:$final_state,
                      Kiln_FloatTensor:$workspace);
  let assemblyFormat = [{
    $input `,` $kernel `,` $recurrent_kernel `,` $bias
    (`mask` `(` $mask^ `:` type($mask) `)`)?
    (`initial_state` `(` $initial_state^ `:` type($initial_state) `)`)?
    attr-dict `:`
    type($input) `,` type($kernel) `,` type($recurrent_kernel) `,`
    type($bias) `->` type($result) `,` type($final_state) `,` type($workspace)
  }];
  let hasVerifier = 1;
}

def Kiln_RnnGradOp : Kiln_Op<"rnn_grad", [Pure, InferTypeOpAdaptor,
    DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>,
    DeclareOpInterfaceMethods<Kiln_FlopCountOpInterface>]> {
  let summary = "Backpropagation through time of kiln.rnn";
  let description = [{
    Given the inputs of a `kiln.rnn` with the same attributes (and its
    mask, if it has one), the
    `workspace` it produced, `result_grad` `[N, T, H]` (the gradient of
    its `result`, zeros at the unused steps) and `final_state_grad` `[S, N,
    H]` (of its `final_state`), returns the gradients of its input, kernel,
    recurrent kernel, bias and initial state (shapes of those operands; the
    last `[S, N, H]`, unused when the `kiln.rnn` started from zeros).
    Runtime kernel `kiln_rnn_bwd_*` (reverse time loop with one recurrent
    GEMM per step; the weight and input gradients as single GEMMs over all
    steps). Shape rules as `kiln.rnn`, plus `rnn_grad_c1` the workspace,
    `result_grad` and `final_state_grad` have the shapes `kiln.rnn` gives.
    No second derivatives.

    Example:
    ```mlir
    %dx, %dk, %drk, %db, %ds0 = kiln.rnn_grad %x, %k, %rk, %ws, %dy, %dst
        {cell = "lstm"}
        : tensor<4x20x8xf32>, tensor<8x64xf32>, tensor<16x64xf32>,
          tensor<8960xf32>, tensor<4x20x16xf32>, tensor<2x4x16xf32>
        -> tensor<4x20x8xf32>, tensor<8x64xf32>, tensor<16x64xf32>,
           tensor<64xf32>, tensor<2x4x16xf32>
    ```
  }];
  let arguments = !con((ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$kernel,
                            Kiln_FloatTensor:$recurrent_kernel,
                            Kiln_FloatTensor:$workspace,
                            Kiln_FloatTensor:$result_grad,
                            Kiln_FloatTensor:$final_state_grad,
                            Optional<Kiln_FloatTensor>:$mask), Kiln_RnnAttrs);
  let results = (outs Kiln_FloatTensor:$input_grad,
                      Kiln_FloatTensor:$kernel_grad,
                      Kiln_FloatTensor:$recurrent_kernel_grad,
                      Kiln_FloatTensor:$bias_grad,
                      Kiln_FloatTensor:$initial_state_grad);
  let assemblyFormat = [{
    $input `,` $kernel `,` $recurrent_kernel `,` $workspace `,` $result_grad
    `,` $final_state_grad
    (`mask` `(` $mask^ `:` type($mask) `)`)? attr-dict `:` type($input) `,` type($kernel) `,` type($recurrent_kernel)
    `,` type($workspace) `,` type($result_grad) `,` type($final_state_grad)
    `->` type($input_grad) `,`
    type($kernel_grad) `,` type($recurrent_kernel_grad) `,` type($bias_grad)
    `,` type($initial_state_grad)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Normalization
//===----------------------------------------------------------------------===//

def Kiln_BatchNormOp : Kiln_Op<"batch_norm", [Pure,
    AllTypesMatch<["input", "result"]>,
    AllTypesMatch<["scale", "offset", "moving_mean", "moving_variance",
                   "new_moving_mean", "new_moving_variance"]>,
    DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>,
    DeclareOpInterfaceMethods<Kiln_FlopCountOpInterface>,
    DeclareOpInterfaceMethods<Kiln_InferenceFormOpInterface>]> {
  let summary = "Batch normalization in training mode, with its moving statistics";
  let description = [{
    Normalizes `input` per channel (`axis`, in `[0, rank)`) with the
    statistics of the batch, over every other axis (Ioffe & Szegedy 2015;
    Keras `BatchNormalization(training=True)`, ONNX `BatchNormalization`
    with `training_mode = 1`, PyTorch `BatchNorm*d.train()`):

    ```
    mean = mean(input),  var = mean((input - mean)^2)     (biased, over M elements per channel)
    result = (input - mean) / sqrt(var + epsilon) * scale + offset
    new_moving_mean = momentum * moving_mean + (1 - momentum) * mean
    new_moving_variance = momentum * moving_variance + (1 - momentum) * v
    ```

    with `v = var` (Keras) or `v = var * M / (M - 1)` when
    `unbiased_moving_variance` (PyTorch; ONNX imports follow PyTorch's
    exporters). `momentum` weighs the old value as Keras and ONNX do
    (PyTorch's `momentum = 0.1` is `0.9` here). `scale`, `offset` and the
    statistics are `[C]`. The inference form (`@eval_step`, `@predict`,
    `trainable = False` layers) normalizes with `moving_mean` and
    `moving_variance` and returns them unchanged. With `sample_weight`
    (`[N]`, N the leading axis, which must not be `axis`), the samples of
    weight 0 are absent from the batch statistics (the rows that pad a last
    partial batch): `M` counts the others and the sums skip them (nonzero
    weights count as 1: Keras' BatchNormalization ignores sample weights);
    the forward function gets the weights through an argument marked
    `kiln.sample_weight`. Gradients flow to
    `input`, `scale` and `offset` through the batch statistics; the moving
    statistics are state and get none. Verifier labels: `batch_norm_c1`
    axis in range, `batch_norm_c2` the parameters are `[C]`,
    `batch_norm_c3` epsilon > 0 and momentum in [0, 1], `batch_norm_c4`
    the sample weights are `[N]` and the channel axis is not 0.

    Example:
    ```mlir
    %y, %mm, %mv = kiln.batch_norm %x, %gamma, %beta, %mean, %var
        {axis = 3 : i64, epsilon = 1.0e-3 : f64, momentum = 0.99 : f64}
        : tensor<8x4x4x16xf32>, tensor<16xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$scale,
                   Kiln_FloatTensor:$offset, Kiln_FloatTensor:$moving_mean,
                   Kiln_FloatTensor:$moving_variance,
                   Optional<Kiln_FloatTensor>:$sample_weight, I64Attr:$axis,
                   F64Attr:$epsilon, F64Attr:$momentum,
                   DefaultValuedAttr<BoolAttr, "false">:$unbiased_moving_variance);
  let results = (outs Kiln_FloatTensor:$result,
                 Kiln_FloatTensor:$new_moving_mean,
                 Kiln_FloatTensor:$new_moving_variance);
  let assemblyFormat = [{
    $input `,` $scale `,` $offset `,` $moving_mean `,` $moving_variance
    (`sample_weight` `(` $sample_weight^ `:` type($sample_weight) `)`)?
    attr-dict `:` type($input) `,` type($scale)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The axes the statistics reduce: every axis but `axis`.
    ::llvm::SmallVector<int64_t> getReducedAxes();
    /// Elements per channel (M).
    int64_t getCountPerChannel();
    /// Builds `(x - mean) * (scale / sqrt(variance + epsilon)) + offset`
    /// from [C] statistics with kiln ops (the lowering and the inference
    /// form share it).
    ::mlir::Value buildNormalize(::mlir::OpBuilder &b, ::mlir::Value mean,
                                 ::mlir::Value variance);
    /// Replaces this op by kiln ops computing the training form
    /// (convert-kiln-to-linalg calls it before lowering).
    void decompose(::mlir::RewriterBase &rewriter);
  }];
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

def Kiln_ReshapeOp : Kiln_Op<"reshape", [Pure,
    DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>,
    Kiln_FlopCountOpInterface]> {
  let summary = "Reinterprets a tensor with another shape";
  let description = [{
    Same elements in row-major order, new static shape; element counts and
    element types must be equal (labels `reshape_c1`, `reshape_c2`).

    Example:
    ```mlir
    %r = kiln.reshape %x : tensor<128x28x28xf32> -> tensor<128x784xf32>
    ```
  }];
  let arguments = (ins Kiln_Tensor:$input);
  let results = (outs Kiln_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let extraClassDeclaration = Kiln_NoFlops;
}

def Kiln_TransposeOp : Kiln_Op<"transpose", [Pure, InferTypeOpAdaptor,
    DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>,
    Kiln_FlopCountOpInterface]> {
  let summary = "Permutes the axes of a tensor";
  let description = [{
    `result.shape[i] = input.shape[permutation[i]]`; `permutation` is a
    permutation of `[0, rank)` (label `transpose_c1`). Canonicalization
    (ir/LayoutCanonicalization.cpp) sinks transposes through elementwise
    ops, `kiln.batch_norm` and reductions so that layout changes cancel.

    Example:
    ```mlir
    %t = kiln.transpose %x {permutation = array<i64: 1, 0>}
        : tensor<2x3xf32> -> tensor<3x2xf32>
    ```
  }];
  let arguments = (ins Kiln_Tensor:$input, DenseI64ArrayAttr:$permutation);
  let results = (outs Kiln_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
  let hasCanonicalizer = 1;
  let extraClassDeclaration = Kiln_NoFlops;
}

def Kiln_ConcatOp : Kiln_Op<"concat", [Pure, InferTypeOpAdaptor,
    DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>,
    Kiln_FlopCountOpInterface]> {
  let summary = "Joins tensors along one axis";
  let description = [{
    Concatenates one or more `inputs` of equal rank and element type along
    `axis`; all other axes must agree (labels `concat_c1` at least one input,
    `concat_c2` axis in range, `concat_c3` ranks and element types,
    `concat_c4` other axes).

    Example:
    ```mlir
    %c = kiln.concat %a, %b {axis = 1 : i64}
        : tensor<2x3xf32>, tensor<2x4xf32> -> tensor<2x7xf32>
    ```
  }];
  let arguments = (ins Variadic<Kiln_Tensor>:$inputs, I64Attr:$axis);
  let results = (outs Kiln_Tensor:$result);
  let assemblyFormat = [{
    $inputs attr-dict `:` type($inputs) `->` type($result)
  }];
  let hasFolder = 1;
  let extraClassDeclaration = Kiln_NoFlops;
}

def Kiln_SliceOp : Kiln_Op<"slice", [Pure, InferTypeOpAdaptor,
    DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>,
    Kiln_FlopCountOpInterface]> {
  let summary = "Strided static slice";
  let description = [{
    Takes `input[start[i] : limit[i] : strides[i]]` on every axis, with
    `0 <= start <= limit <= dim` and `strides >= 1`; the result axis has
    `ceil((limit - start) / stride)` elements (labels `slice_c1` one entry
    per axis, `slice_c2` bounds, `slice_c3` strides).

    Example:
    ```mlir
    %s = kiln.slice %x {start = array<i64: 0, 1>, limit = array<i64: 2, 3>,
                        strides = array<i64: 1, 1>}
        : tensor<2x4xf32> -> tensor<2x2xf32>
    ```
  }];
  let arguments = (ins Kiln_Tensor:$input, DenseI64ArrayAttr:$start,
                   DenseI64ArrayAttr:$limit, DenseI64ArrayAttr:$strides);
  let results = (outs Kiln_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let extraClassDeclaration = Kiln_NoFlops;
}

def Kiln_PadOp : Kiln_Op<"pad", [Pure, InferTypeOpAdaptor,
    DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>,
    Kiln_FlopCountOpInterface]> {
  let summary = "Pads a tensor with a constant value";
  let description = [{
    Adds `low[i]` elements before and `high[i]` elements after axis `i`, and
    `interior[i]` elements between each pair of adjacent elements of axis
    `i` (default: none), all filled with `padding_value`. Each list is
    non-negative with one entry per axis (labels `pad_c1`, `pad_c2`; an
    omitted `interior` means zeros). Result axis size:
    `low + size + max(size - 1, 0) * interior + high`. Interior padding is
    the VJP of a strided `kiln.slice` (as in StableHLO).

    Example:
    ```mlir
    %p = kiln.pad %x {low = array<i64: 0, 1>, high = array<i64: 0, 1>,
                      padding_value = 0.0 : f64}
        : tensor<2x2xf32> -> tensor<2x4xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, DenseI64ArrayAttr:$low,
                   DenseI64ArrayAttr:$high,
                   DefaultValuedAttr<DenseI64ArrayAttr, "{}">:$interior,
                   DefaultValuedAttr<F64Attr, "0.0">:$padding_value);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let extraClassDeclaration = Kiln_NoFlops;
}

def Kiln_BroadcastInDimOp : Kiln_Op<"broadcast_in_dim", [Pure,
    DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>,
    Kiln_FlopCountOpInterface]> {
  let summary = "Explicit broadcast to a larger shape";
  let description = [{
    Operand axis `i` becomes result axis `broadcast_dimensions[i]`; each
    such operand axis has size 1 (repeated) or the result's size; other
    result axes are new. `broadcast_dimensions` has one entry per operand
    axis, strictly increasing and in `[0, result rank)`, so a broadcast never
    transposes; element types match (labels `broadcast_in_dim_c1` entry count,
    `broadcast_in_dim_c2` range and order, `broadcast_in_dim_c3` sizes,
    `broadcast_in_dim_c4` element type). The VJP is a `kiln.reduce_sum` over
    the broadcast axes.

    Example:
    ```mlir
    %b = kiln.broadcast_in_dim %bias, dims = [1]
        : tensor<512xf32> -> tensor<128x512xf32>
    ```
  }];
  let arguments = (ins Kiln_Tensor:$operand,
                   DenseI64ArrayAttr:$broadcast_dimensions);
  let results = (outs Kiln_Tensor:$result);
  let assemblyFormat = [{
    $operand `,` `dims` `=` $broadcast_dimensions attr-dict `:` type($operand)
    `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
  let extraClassDeclaration = Kiln_NoFlops;
}

//===----------------------------------------------------------------------===//
// Normalized exponentials
//===----------------------------------------------------------------------===//

class Kiln_SoftmaxLikeOp<string mnemonic, string formula>
    : Kiln_Op<mnemonic, [Pure, SameOperandsAndResultType,
                         InferTypeOpInterface,
        DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>,
        Kiln_FlopCountOpInterface]> {
  let summary = formula # " over one axis";
  let description = [{
    Computes `}] # formula # [{` along `axis` (in `[0, rank)`, label
    `softmax_c1`), in the numerically stable form that subtracts the maximum
    along the axis first.

    Example:
    ```mlir
    %p = kiln.}] # mnemonic # [{ %logits {axis = 1 : i64} : tensor<128x10xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, I64Attr:$axis);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
  let extraClassDeclaration = Kiln_FlopsPerResultElement;
}

def Kiln_SoftmaxOp
    : Kiln_SoftmaxLikeOp<"softmax", "exp(x_i) / sum_j exp(x_j)">;
def Kiln_LogSoftmaxOp
    : Kiln_SoftmaxLikeOp<"log_softmax", "x_i - log(sum_j exp(x_j))">;

//===----------------------------------------------------------------------===//
// Constants, gradient control, randomness
//===----------------------------------------------------------------------===//

def Kiln_ConstantOp : Kiln_Op<"constant",
    [ConstantLike, Pure, InferTypeOpAdaptor, Kiln_ZeroGradient,
     Kiln_FlopCountOpInterface]> {
  let summary = "A tensor constant";
  let description = [{
    Materializes `value`, a dense elements attribute of a kiln tensor type.

    Example:
    ```mlir
    %c = kiln.constant dense<[1.0, 2.0]> : tensor<2xf32>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs Kiln_Tensor:$result);
  let assemblyFormat = "attr-dict $value";
  let hasFolder = 1;
  let extraClassDeclaration = Kiln_NoFlops;
}

def Kiln_IotaOp : Kiln_Op<"iota", [Pure, Kiln_ZeroGradient,
                                    Kiln_FlopCountOpInterface]> {
  let summary = "Indices along one axis";
  let description = [{
    `result[i_0, ..., i_last] = i_dimension`, converted to the result's
    element type (integer or floating point). `dimension` is in
    `[0, rank)` (label `iota_c1`). Used to build one-hot masks (sparse
    labels, first-maximum selection in VJP rules).

    Example:
    ```mlir
    %i = kiln.iota {dimension = 1 : i64} : tensor<8x10xi64>
    ```
  }];
  let arguments = (ins I64Attr:$dimension);
  let results = (outs StaticShapeTensorOf<[F32, F64, I32, I64]>:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
  let hasVerifier = 1;
  let extraClassDeclaration = Kiln_NoFlops;
}

def Kiln_ConvertOp : Kiln_Op<"convert", [Pure, Elementwise,
    SameOperandsAndResultShape,
    DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>,
    DeclareOpInterfaceMethods<Kiln_ElementwiseScalarOpInterface>,
    Kiln_FlopCountOpInterface]> {
  let summary = "Elementwise element-type conversion";
  let description = [{
    Converts each element to the result's element type: float to float
    rounds to nearest even; integer to float rounds to nearest; float to
    integer truncates toward zero (undefined out of range, as C), float to
    i1 is `x != 0`; integer to
    integer sign-extends or truncates; i1 converts as 0/1 (true is 1, not
    -1). Shapes are equal. The VJP of a float-to-float conversion converts
    the gradient back; other conversions have no gradient.

    Example:
    ```mlir
    %f = kiln.convert %labels : tensor<8xi32> -> tensor<8xf32>
    ```
  }];
  let arguments = (ins Kiln_Tensor:$operand);
  let results = (outs Kiln_Tensor:$result);
  let assemblyFormat = "$operand attr-dict `:` type($operand) `->` type($result)";
  let hasFolder = 1;
  let extraClassDeclaration = Kiln_FlopsPerResultElement;
}

def Kiln_StopGradientOp : Kiln_Op<"stop_gradient",
    [Pure, SameOperandsAndResultType, InferTypeOpInterface,
     Kiln_ZeroGradient, Kiln_FlopCountOpInterface]> {
  let summary = "Identity whose gradient is zero";
  let description = [{
    Forwards `operand` unchanged; gradient derivation treats the result as a
    constant (no gradient flows into `operand`). Lowering erases it.

    Example:
    ```mlir
    %t = kiln.stop_gradient %x : tensor<4xf32>
    ```
  }];
  let arguments = (ins Kiln_Tensor:$operand);
  let results = (outs Kiln_Tensor:$result);
  let assemblyFormat = "$operand attr-dict `:` type($result)";
  let extraClassDeclaration = Kiln_NoFlops;
}

def Kiln_DropoutOp : Kiln_Op<"dropout", [Pure, AllTypesMatch<["input", "result"]>,
    DeclareOpInterfaceMethods<InferTypeOpInterface>,
    DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>,
    DeclareOpInterfaceMethods<Kiln_InferenceFormOpInterface>,
    Kiln_FlopCountOpInterface]> {
  let summary = "Inverted dropout with a counter-based random mask";
  let description = [{
    Training-mode dropout (Srivastava et al. 2014, inverted form as in Keras
    and PyTorch): each element is kept with probability `1 - rate` and then
    scaled by `1 / (1 - rate)`, or set to 0. The keep decision for element
    `i` is a pure function of `(seed, counter, i)` through a counter-based
    generator (docs/spec.md), so a step is reproducible and differentiable:
    the VJP applies the same mask. `counter` is a rank-0 integer tensor
    (usually the training step). `rate` is in `[0, 1)` (label `dropout_c1`).
    Inference graphs drop the op (identity).

    Example:
    ```mlir
    %y = kiln.dropout %x, %step {rate = 0.2 : f64, seed = 42 : i64}
        : tensor<128x512xf32>, tensor<i64>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_IntScalar:$counter,
                   F64Attr:$rate, I64Attr:$seed);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $counter attr-dict `:` type($input) `,` type($counter)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = Kiln_FlopsPerResultElement;
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

class Kiln_LossOp<string mnemonic, string perSample, string source,
                  dag extraArgs = (ins), Type labelType = Kiln_FloatTensor>
    : Kiln_Op<mnemonic, [Pure, InferTypeOpAdaptor,
        DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>,
        Kiln_FlopCountOpInterface]> {
  let summary = "Sample-weighted " # mnemonic # " loss";
  let description = [{
    Per-sample loss `l_n = }] # perSample # [{`, reduced over the batch as
    `sum_n(w_n * l_n) / sum_n(w_n)` (0 when every weight is 0), with
    `w = sample_weight` of shape `[N]`, `N` the leading axis of
    `predictions`. The result is a rank-0 tensor of the predictions' element
    type. Formula source: }] # source # [{. Shape rule: `inferLossShape`
    (labels `loss_c1` batch axis, `loss_c2` label shape, `loss_c3` sample
    weight shape, `loss_c4` element types).

    Example:
    ```mlir
    %l = kiln.}] # mnemonic # [{ %pred, %y, %w
        : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf32> -> tensor<f32>
    ```
  }];
  let arguments = !con((ins Kiln_FloatTensor:$predictions, labelType:$labels,
                            Kiln_FloatTensor:$sample_weight), extraArgs);
  let results = (outs Kiln_FloatScalar:$result);
  let assemblyFormat = [{
    $predictions `,` $labels `,` $sample_weight attr-dict `:`
    type($predictions) `,` type($labels) `,` type($sample_weight)
    `->` type($result)
  }];
  let extraClassDeclaration = Kiln_FlopsPerResultElement;
}

def Kiln_MeanSquaredErrorOp : Kiln_LossOp<"mean_squared_error",
    "mean over non-batch axes of (y - p)^2",
    "Keras `MeanSquaredError`">;
def Kiln_MeanAbsoluteErrorOp : Kiln_LossOp<"mean_absolute_error",
    "mean over non-batch axes of |y - p|",
    "Keras `MeanAbsoluteError`">;
def Kiln_BinaryCrossentropyOp : Kiln_LossOp<"binary_crossentropy",
    "mean over non-batch axes of -(y log p + (1 - y) log(1 - p)); with "
    "from_logits, max(z, 0) - z y + log1p(exp(-|z|)); probabilities are "
    "clipped to [1e-7, 1 - 1e-7]",
    "Keras `BinaryCrossentropy`, TensorFlow "
    "`sigmoid_cross_entropy_with_logits`",
    (ins DefaultValuedAttr<BoolAttr, "false">:$from_logits)>;
def Kiln_CategoricalCrossentropyOp : Kiln_LossOp<"categorical_crossentropy",
    "-sum_c y_c log p_c over the last axis; with from_logits, "
    "logsumexp(z) - sum_c y_c z_c; probabilities are renormalized and "
    "clipped to [1e-7, 1 - 1e-7]",
    "Keras `CategoricalCrossentropy`",
    (ins DefaultValuedAttr<BoolAttr, "false">:$from_logits)>;
def Kiln_SparseCategoricalCrossentropyOp
    : Kiln_LossOp<"sparse_categorical_crossentropy",
    "-log p[label] over the last axis; with from_logits, "
    "logsumexp(z) - z[label]; labels are integer class indices with the "
    "predictions' shape minus the last axis",
    "Keras `SparseCategoricalCrossentropy`",
    (ins DefaultValuedAttr<BoolAttr, "false">:$from_logits), Kiln_IntTensor>;

#endif // KILN_OPS_TD
