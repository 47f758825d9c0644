// The contracts of the lowered stages (kiln-verify-stage with stage=linalg,
// bufferized, llvm), which the kilnc pipelines check at each boundary.

// RUN: kiln-opt %S/Inputs/stage_linalg.mlir --kiln-verify-stage=stage=linalg -verify-diagnostics
// RUN: kiln-opt %S/Inputs/stage_bufferized.mlir --kiln-verify-stage=stage=bufferized -verify-diagnostics
// RUN: kiln-opt %S/Inputs/stage_llvm.mlir --kiln-verify-stage=stage=llvm -verify-diagnostics
// RUN: not kiln-opt %S/Inputs/stage_llvm.mlir --kiln-verify-stage=stage=bogus 2>&1 | FileCheck %s

// CHECK: kiln-verify-stage: unknown stage 'bogus' (known: forward, linalg, bufferized, llvm)
