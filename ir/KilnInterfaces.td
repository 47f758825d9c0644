//===- KilnInterfaces.td - kiln op interfaces ---------------*- tablegen -*-===//
//
// Cross-cutting op behaviour of the kiln dialect, expressed as interfaces so
// that passes ask the op instead of switching over op classes. Together with
// the op records in KilnOps.td they make the op table: each op declares
// there whether it has a gradient, how it computes one element, how many
// floating-point operations it costs, and what it becomes in inference.
//
// - DifferentiableOpInterface: one vector-Jacobian product (VJP) rule per
//   op, used by kiln-derive-gradients. Ops whose gradient is zero almost
//   everywhere (comparisons, argmax, constants, stop_gradient) carry the
//   ZeroGradient trait instead.
// - ElementwiseScalarOpInterface: the per-element body of an elementwise
//   op (arith/math on scalars); convert-kiln-to-linalg has one pattern for
//   every op with it.
// - FlopCountOpInterface: floating-point operations of one op instance,
//   summed by the model manifest and the compile summary.
// - InferenceFormOpInterface: ops that behave differently in training and
//   inference (dropout) build their inference form.
//
// Every method is implemented in C++ by the op or its family (no default
// bodies), so a missing implementation is a link error, not a runtime
// diagnostic.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_INTERFACES_TD
#define KILN_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Kiln_ZeroGradient : NativeOpTrait<"ZeroGradient"> {
  let cppNamespace = "::mlir::OpTrait::kiln";
}

def Kiln_DifferentiableOpInterface
    : OpInterface<"DifferentiableOpInterface"> {
  let cppNamespace = "::mlir::kiln";
  let description = [{
    The reverse-mode derivative of an op: given the gradient of a scalar
    loss with respect to each result, build the gradient with respect to
    each operand (the vector-Jacobian product, VJP). The unary and binary
    elementwise families implement `buildVJP` once (KilnOps.td) on top of a
    short per-op `vjp` rule in ir/VJPElementwise.cpp; the other ops define
    `buildVJP` in ir/VJPStructured.cpp. docs/spec.md states the formula and
    convention of every rule.
  }];
  let methods = [
    InterfaceMethod<
      /*desc=*/[{
        Builds, at the builder's insertion point, the gradient of the loss
        with respect to each operand, given `resultGrads` (one per result,
        each of the result's type). Appends exactly one value per operand
        to `operandGrads`: a tensor of the operand's type, or a null Value
        when the operand has no gradient (integer labels, step counters,
        i1 masks, or operands treated as constants such as sample
        weights). Returns failure after emitting an error when the rule
        does not apply to this instance.
      }],
      /*retTy=*/"::llvm::LogicalResult",
      /*methodName=*/"buildVJP",
      /*args=*/(ins "::mlir::OpBuilder &":$builder,
                    "::mlir::ValueRange":$resultGrads,
                    "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGrads)>,
  ];
}

def Kiln_ElementwiseScalarOpInterface
    : OpInterface<"ElementwiseScalarOpInterface"> {
  let cppNamespace = "::mlir::kiln";
  let description = [{
    An elementwise op whose result element `i` is a function of operand
    elements `i` alone. `buildScalar` emits that function on scalars with
    arith and math ops (no fast-math flags; docs/spec.md, Numerics
    conventions). convert-kiln-to-linalg wraps it in one `linalg.generic`
    with identity maps and parallel iterators. The bodies live in
    ir/ElementwiseScalar.cpp, beside the VJP rules of the same family.
  }];
  let methods = [
    InterfaceMethod<
      /*desc=*/[{
        Builds the result element from `scalarArgs`, the operand elements
        in operand order (their element types), at the builder's insertion
        point; returns a value of the result's element type.
      }],
      /*retTy=*/"::mlir::Value",
      /*methodName=*/"buildScalar",
      /*args=*/(ins "::mlir::OpBuilder &":$builder,
                    "::mlir::Location":$loc,
                    "::mlir::ValueRange":$scalarArgs)>,
  ];
}

def Kiln_FlopCountOpInterface : OpInterface<"FlopCountOpInterface"> {
  let cppNamespace = "::mlir::kiln";
  let description = [{
    The floating-point operations one instance of the op performs, as the
    compile summary and the model manifest report them (FLOPs per train
    step and per predict batch). Elementwise families declare a count per
    result element in KilnOps.td; a matmul counts 2 M N K per batch
    element; shape-only ops and constants count 0.
  }];
  let methods = [
    InterfaceMethod<
      /*desc=*/"Floating-point operations of this op instance.",
      /*retTy=*/"double",
      /*methodName=*/"getFlops",
      /*args=*/(ins)>,
  ];
}

def Kiln_InferenceFormOpInterface : OpInterface<"InferenceFormOpInterface"> {
  let cppNamespace = "::mlir::kiln";
  let description = [{
    An op that computes something else in inference than in training
    (Keras `training=False`): dropout is the identity. kiln-inference-form
    and the `@eval_step` / `@predict` functions of kiln-attach-optimizer
    replace the op's results with the values `buildInferenceForm` returns.
  }];
  let methods = [
    InterfaceMethod<
      /*desc=*/[{
        Builds the inference form of this op at the builder's insertion
        point and appends one replacement value per result to
        `replacements` (existing values such as an operand, or new ops).
      }],
      /*retTy=*/"void",
      /*methodName=*/"buildInferenceForm",
      /*args=*/(ins "::mlir::OpBuilder &":$builder,
                    "::llvm::SmallVectorImpl<::mlir::Value> &":$replacements)>,
  ];
}

#endif // KILN_INTERFACES_TD
