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

// Convolution, pooling, batch_norm, embedding and LSTM ops join the
// contraction and normalization families here; their shape rules follow the
// same free-function pattern in ShapeInference.h.

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
    permutation of `[0, rank)` (label `transpose_c1`).

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
