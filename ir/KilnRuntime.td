//===- KilnRuntime.td - the kiln_rt dialect: runtime kernel calls -*- tablegen -*-===//
//
// A tiny dialect for codegen: calls of runtime kernels (runtime.h) that stay
// in destination-passing style through bufferization. It is separate from
// the kiln dialect on purpose: kernel calls are not model ops (no gradient,
// no FLOP count, never in the forward form), and the forward-stage and
// op-table checks keep holding for every `kiln` op.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_RUNTIME_TD
#define KILN_RUNTIME_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def KilnRt_Dialect : Dialect {
  let name = "kiln_rt";
  let cppNamespace = "::mlir::kiln_rt";
  let summary = "Calls of kiln runtime kernels in destination-passing style";
  let description = [{
    `convert-kiln-to-linalg` lowers the ops that a runtime kernel computes
    (convolutions and pooling) to `kiln_rt.kernel_call` on tensors; one-shot
    bufferization turns it into the same op on memrefs, and
    `kiln-lower-kernel-calls` (after the memory plan) into a `func.call` of
    the C function with the descriptor as a constant global.
  }];
}

def AnyRankedTensorOrMemRef : AnyTypeOf<[AnyRankedTensor, AnyMemRef]>;

class KilnRt_Op<string mnemonic, list<Trait> traits = []>
    : Op<KilnRt_Dialect, mnemonic, traits>;

def KilnRt_KernelCallOp : KilnRt_Op<"kernel_call", [AttrSizedOperandSegments,
    DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "A runtime kernel call with a constant i64 descriptor";
  let description = [{
    Calls the C function `callee` as

    ```c
    void callee(const int64_t *descriptor, p_0, p_1, ..., p_{n-1});
    ```

    where the pointers `p_i` are the first elements of `inputs` then
    `outputs`, in order, with a null pointer inserted at every position
    listed in `null_pointers` (a nullable argument such as the bias of
    `kiln_conv_fwd_*`). The descriptor is the kernel's descriptor struct
    (`kiln_conv_desc_t`, `kiln_pool_desc_t`) as int64 fields. Every operand
    is a dense row-major buffer; the kernel reads the inputs and overwrites
    every element of the outputs (it never reads them).

    On tensors the op returns one tensor per output (destination-passing
    style, like linalg); on memrefs it has no results. Bufferization copies
    a non-contiguous operand to a contiguous buffer (and an output back).

    Example:
    ```mlir
    %y = kiln_rt.kernel_call @kiln_max_pool_fwd_f32
           descriptor = [1, 4, 8, ...]
           ins(%x : tensor<4x8x8xf32>) outs(%e : tensor<4x4x8xf32>)
           -> tensor<4x4x8xf32>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$callee,
                   DenseI64ArrayAttr:$descriptor,
                   DefaultValuedAttr<DenseI64ArrayAttr, "{}">:$null_pointers,
                   Variadic<AnyRankedTensorOrMemRef>:$inputs,
                   Variadic<AnyRankedTensorOrMemRef>:$outputs);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    $callee `descriptor` `=` $descriptor
    (`ins` `(` $inputs^ `:` type($inputs) `)`)?
    `outs` `(` $outputs `:` type($outputs) `)` attr-dict
    (`->` type($results)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() {
      return getOutputsMutable();
    }
    /// The number of pointer arguments after the descriptor.
    int64_t getNumPointers() {
      return getInputs().size() + getOutputs().size() +
             getNullPointers().size();
    }
  }];
}

#endif // KILN_RUNTIME_TD
