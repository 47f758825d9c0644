// RUN: kiln-opt %s --kiln-lower-matmul-to-runtime=precision=bf16 -split-input-file | FileCheck %s
// RUN: not kiln-opt %s --kiln-lower-matmul-to-runtime=precision=fp8 -split-input-file 2>&1 | FileCheck %s --check-prefix=BAD

// Tests that with precision=bf16 an f32 matmul calls the bf16-operand GEMM
// (kiln_gemm_bf16_f32, same signature as kiln_gemm_f32) and an f64 one
// keeps kiln_gemm_f64; an unknown precision is an error.
// CHECK-NOT: @kiln_gemm_f32
// CHECK-DAG: func.func private @kiln_gemm_bf16_f32(i64, i64, i64, i32, i32, f32, !llvm.ptr, i64, !llvm.ptr, i64, f32, !llvm.ptr, i64, !llvm.ptr, i32)
// CHECK-DAG: func.func private @kiln_gemm_f64(
// CHECK-LABEL: func.func @f32_and_f64
// CHECK: call @kiln_gemm_bf16_f32(
// CHECK: call @kiln_gemm_f64(
// CHECK-NOT: @kiln_gemm_f32
// BAD: precision 'fp8' is not f32 or bf16
func.func @f32_and_f64(%a: memref<4x8xf32>, %b: memref<8x16xf32>, %c: memref<4x16xf32>,
                       %x: memref<4x8xf64>, %y: memref<8x16xf64>, %z: memref<4x16xf64>) {
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x16xf32>) outs(%c : memref<4x16xf32>)
  linalg.matmul ins(%x, %y : memref<4x8xf64>, memref<8x16xf64>) outs(%z : memref<4x16xf64>)
  return
}
