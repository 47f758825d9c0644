//===- KilnInterfaces.td - kiln op interfaces ---------------*- tablegen -*-===//
//
// Cross-cutting op behaviour of the kiln dialect, expressed as interfaces so
// that passes ask the op instead of switching over op classes.
//
// DifferentiableOpInterface carries one vector-Jacobian product (VJP) rule
// per op, used by kiln-derive-gradients; ops whose gradient is zero almost
// everywhere (comparisons, argmax, constants, stop_gradient) carry the
// ZeroGradient trait instead. FusibleActivationOpInterface marks
// activations a GEMM can apply as its epilogue.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_INTERFACES_TD
#define KILN_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Kiln_FusibleActivationOpInterface
    : OpInterface<"FusibleActivationOpInterface"> {
  let cppNamespace = "::mlir::kiln";
  let description = [{
    An elementwise activation that can run as the epilogue of a contraction
    (matmul, later conv): applied to each output element while the output
    block is still in cache. The epilogue name is the one the runtime GEMM
    understands (`kiln_epilogue_t` in runtime/include/kiln/runtime.h).
  }];
  let methods = [
    InterfaceMethod<
      /*desc=*/"Name of the runtime epilogue computing this activation.",
      /*retTy=*/"::llvm::StringRef",
      /*methodName=*/"getEpilogueName",
      /*args=*/(ins)>,
  ];
}

def Kiln_ZeroGradient : NativeOpTrait<"ZeroGradient"> {
  let cppNamespace = "::mlir::OpTrait::kiln";
}

def Kiln_DifferentiableOpInterface
    : OpInterface<"DifferentiableOpInterface"> {
  let cppNamespace = "::mlir::kiln";
  let description = [{
    The reverse-mode derivative of an op: given the gradient of a scalar
    loss with respect to each result, build the gradient with respect to
    each operand (the vector-Jacobian product, VJP). Rules are attached as
    external models (ir/VJP*.cpp, registered by registerKilnDialect) so
    that each op family keeps its rules together; docs/spec.md states the
    formula and convention of every rule.
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

#endif // KILN_INTERFACES_TD
