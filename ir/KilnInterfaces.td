//===- KilnInterfaces.td - kiln op interfaces ---------------*- tablegen -*-===//
//
// Cross-cutting op behaviour of the kiln dialect, expressed as interfaces so
// that passes ask the op instead of switching over op classes.
//
// The differentiable-op interface (one vector-Jacobian product rule per op)
// joins this file with the training work; the activation interface below is
// what activation fusion and GEMM epilogues key on.
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

#endif // KILN_INTERFACES_TD
