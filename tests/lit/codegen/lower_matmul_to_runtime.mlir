// RUN: kiln-opt %s --kiln-lower-matmul-to-runtime --canonicalize -split-input-file | FileCheck %s

// Tests that a matmul whose output was just zero-filled becomes one GEMM call
// with beta = 0, and that the fill disappears.
// CHECK-LABEL: func.func @zero_filled
// CHECK-NOT: linalg.fill
// CHECK-DAG: %[[ALPHA:.+]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG: %[[BETA:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG: %[[M:.+]] = arith.constant 4 : i64
// CHECK-DAG: %[[N:.+]] = arith.constant 16 : i64
// CHECK-DAG: %[[K:.+]] = arith.constant 8 : i64
// CHECK: call @kiln_gemm_f32(%[[M]], %[[N]], %[[K]], %{{.+}}, %{{.+}}, %[[ALPHA]], %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[BETA]],
// CHECK-NOT: linalg.matmul
func.func @zero_filled(%a: memref<4x8xf32>, %b: memref<8x16xf32>, %c: memref<4x16xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<4x16xf32>)
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x16xf32>) outs(%c : memref<4x16xf32>)
  return
}

// -----

// Tests that a matmul accumulating into an output it did not fill keeps
// beta = 1, and that transpose_b and f64 select kiln_gemm_f64 with
// trans_b = 1.
// CHECK-LABEL: func.func @accumulate_transposed
// CHECK-DAG: %[[ONE:.+]] = arith.constant 1.000000e+00 : f64
// CHECK-DAG: %[[T:.+]] = arith.constant 1 : i32
// CHECK-DAG: %[[F:.+]] = arith.constant 0 : i32
// CHECK: call @kiln_gemm_f64(%{{.+}}, %{{.+}}, %{{.+}}, %[[F]], %[[T]], %[[ONE]], %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[ONE]],
func.func @accumulate_transposed(%a: memref<4x8xf64>, %b: memref<16x8xf64>, %c: memref<4x16xf64>) {
  linalg.matmul_transpose_b ins(%a, %b : memref<4x8xf64>, memref<16x8xf64>) outs(%c : memref<4x16xf64>)
  return
}

// -----

// Tests that a batched matmul becomes a loop of GEMM calls over the batch.
// CHECK-LABEL: func.func @batched
// CHECK: scf.for
// CHECK: llvm.getelementptr
// CHECK: call @kiln_gemm_f32
func.func @batched(%a: memref<3x4x8xf32>, %b: memref<3x8x16xf32>, %c: memref<3x4x16xf32>) {
  linalg.batch_matmul ins(%a, %b : memref<3x4x8xf32>, memref<3x8x16xf32>) outs(%c : memref<3x4x16xf32>)
  return
}

// -----

// Tests that a matmul on rows with a non-unit inner stride stays a linalg op
// (lowered to loops later) instead of calling the GEMM.
// CHECK-LABEL: func.func @strided
// CHECK-NOT: call @kiln_gemm
// CHECK: linalg.matmul
func.func @strided(%a: memref<4x8xf32, strided<[16, 2]>>, %b: memref<8x16xf32>, %c: memref<4x16xf32>) {
  linalg.matmul ins(%a, %b : memref<4x8xf32, strided<[16, 2]>>, memref<8x16xf32>) outs(%c : memref<4x16xf32>)
  return
}
