//===- Passes.td - kiln graph-level passes ------------------*- tablegen -*-===//
//
// Passes over kiln IR before lowering: stage-contract checks now; gradient
// derivation, loss and optimizer attachment and fusion join this file.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_PASSES_TD
#define KILN_PASSES_TD

include "mlir/Pass/PassBase.td"

def KilnVerifyStagePass : Pass<"kiln-verify-stage", "::mlir::ModuleOp"> {
  let summary = "Checks that a module meets the contract of a pipeline stage";
  let description = [{
    A cheap legality check run at a stage boundary (docs/architecture.md,
    "Stages and contracts"). Every op that breaks the contract gets a
    diagnostic at its location, then the pass fails; all offenders are
    reported, not only the first.

    - `stage=forward` (the frontend contract): only `kiln`, `func` and
      `arith.constant` ops; every value a statically shaped tensor of a kiln
      element type (f32, f64, i32, i64, i1).
    - `stage=linalg` (after convert-kiln-to-linalg): no kiln ops, no
      memrefs.
    - `stage=bufferized` (after kiln-bufferize): no tensors; no
      memref.alloc / alloca / dealloc; every public function takes
      `(params, io, scratch)` as `memref<Nxi8>` and carries `kiln.abi`.
    - `stage=llvm` (after kiln-lower-to-llvm): only LLVM dialect ops.

    Example: `kiln-opt --kiln-verify-stage=stage=forward model.mlir` on

    ```mlir
    func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
      return %x : tensor<?x4xf32>
    }
    ```
    reports `argument 0 of 'func.func' has type 'tensor<?x4xf32>'; the
    forward stage needs static shapes of f32, f64, i32, i64 or i1`.
  }];
  let options = [
    Option<"stage", "stage", "std::string", /*default=*/"\"forward\"",
           "Stage whose contract to check: forward, linalg, bufferized, llvm">,
  ];
  let dependentDialects = ["::mlir::kiln::KilnDialect"];
}

#endif // KILN_PASSES_TD
