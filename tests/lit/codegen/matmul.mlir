// RUN: kiln-opt %s --convert-kiln-to-linalg -split-input-file | FileCheck %s
// RUN: kiln-opt %s --convert-kiln-to-linalg --one-shot-bufferize="bufferize-function-boundaries" -split-input-file | FileCheck %s --check-prefix=BUF

// Tests that a plain rank-2 matmul becomes linalg.matmul into a zero-filled
// tensor.empty, and that it bufferizes to a matmul on memrefs.
// CHECK-LABEL: func.func @matmul(
// CHECK-SAME: %[[A:[^:]+]]: tensor<128x784xf32>, %[[B:[^:]+]]: tensor<784x512xf32>
// CHECK: %[[Z:.+]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[E:.+]] = tensor.empty() : tensor<128x512xf32>
// CHECK: %[[F:.+]] = linalg.fill ins(%[[Z]] : f32) outs(%[[E]] : tensor<128x512xf32>)
// CHECK: %[[R:.+]] = linalg.matmul ins(%[[A]], %[[B]] : tensor<128x784xf32>, tensor<784x512xf32>) outs(%[[F]] : tensor<128x512xf32>)
// CHECK: return %[[R]]
// BUF-LABEL: func.func @matmul(
// BUF-SAME: memref<128x784xf32
// BUF: %[[ALLOC:.+]] = memref.alloc() {{.*}}: memref<128x512xf32>
// BUF: linalg.fill {{.*}}outs(%[[ALLOC]] : memref<128x512xf32>)
// BUF: linalg.matmul {{.*}}outs(%[[ALLOC]] : memref<128x512xf32>)
func.func @matmul(%x: tensor<128x784xf32>, %w: tensor<784x512xf32>) -> tensor<128x512xf32> {
  %0 = kiln.matmul %x, %w : tensor<128x784xf32>, tensor<784x512xf32> -> tensor<128x512xf32>
  return %0 : tensor<128x512xf32>
}

// -----

// Tests that the transpose flags select linalg.matmul_transpose_a / _b.
// CHECK-LABEL: func.func @matmul_transposed(
// CHECK-SAME: %[[XT:[^:]+]]: tensor<784x128xf32>, %[[W:[^:]+]]: tensor<784x512xf32>, %[[X:[^:]+]]: tensor<128x784xf32>, %[[WT:[^:]+]]: tensor<512x784xf32>
// CHECK: linalg.matmul_transpose_a ins(%[[XT]], %[[W]] : tensor<784x128xf32>, tensor<784x512xf32>)
// CHECK: linalg.matmul_transpose_b ins(%[[X]], %[[WT]] : tensor<128x784xf32>, tensor<512x784xf32>)
func.func @matmul_transposed(%xt: tensor<784x128xf32>, %w: tensor<784x512xf32>, %x: tensor<128x784xf32>, %wt: tensor<512x784xf32>) -> (tensor<128x512xf32>, tensor<128x512xf32>) {
  %0 = kiln.matmul %xt, %w {transpose_lhs = true} : tensor<784x128xf32>, tensor<784x512xf32> -> tensor<128x512xf32>
  %1 = kiln.matmul %x, %wt {transpose_rhs = true} : tensor<128x784xf32>, tensor<512x784xf32> -> tensor<128x512xf32>
  return %0, %1 : tensor<128x512xf32>, tensor<128x512xf32>
}

// -----

// Tests that both transpose flags transpose lhs with linalg.transpose and
// then use linalg.matmul_transpose_b.
// CHECK-LABEL: func.func @matmul_both_transposed(
// CHECK-SAME: %[[XT:[^:]+]]: tensor<784x128xf32>, %[[WT:[^:]+]]: tensor<512x784xf32>
// CHECK: %[[T:.+]] = linalg.transpose ins(%[[XT]] : tensor<784x128xf32>) outs(%{{.+}} : tensor<128x784xf32>) permutation = [1, 0]
// CHECK: linalg.matmul_transpose_b ins(%[[T]], %[[WT]] : tensor<128x784xf32>, tensor<512x784xf32>)
func.func @matmul_both_transposed(%xt: tensor<784x128xf32>, %wt: tensor<512x784xf32>) -> tensor<128x512xf32> {
  %0 = kiln.matmul %xt, %wt {transpose_lhs = true, transpose_rhs = true} : tensor<784x128xf32>, tensor<512x784xf32> -> tensor<128x512xf32>
  return %0 : tensor<128x512xf32>
}

// -----

// Tests that a rank-3 f64 matmul becomes linalg.batch_matmul and the
// transposed variants batch_matmul_transpose_a / _b.
// CHECK-LABEL: func.func @batch_matmul(
// CHECK-SAME: %[[A:[^:]+]]: tensor<4x2x3xf64>, %[[B:[^:]+]]: tensor<4x3x5xf64>, %[[AT:[^:]+]]: tensor<4x3x2xf64>, %[[BT:[^:]+]]: tensor<4x5x3xf64>
// CHECK: linalg.batch_matmul ins(%[[A]], %[[B]] : tensor<4x2x3xf64>, tensor<4x3x5xf64>) outs(%{{.+}} : tensor<4x2x5xf64>)
// CHECK: linalg.batch_matmul_transpose_a ins(%[[AT]], %[[B]] :
// CHECK: linalg.batch_matmul_transpose_b ins(%[[A]], %[[BT]] :
// BUF-LABEL: func.func @batch_matmul(
// BUF: linalg.batch_matmul {{.*}}memref<4x2x5xf64>
func.func @batch_matmul(%a: tensor<4x2x3xf64>, %b: tensor<4x3x5xf64>, %at: tensor<4x3x2xf64>, %bt: tensor<4x5x3xf64>) -> (tensor<4x2x5xf64>, tensor<4x2x5xf64>, tensor<4x2x5xf64>) {
  %0 = kiln.matmul %a, %b : tensor<4x2x3xf64>, tensor<4x3x5xf64> -> tensor<4x2x5xf64>
  %1 = kiln.matmul %at, %b {transpose_lhs = true} : tensor<4x3x2xf64>, tensor<4x3x5xf64> -> tensor<4x2x5xf64>
  %2 = kiln.matmul %a, %bt {transpose_rhs = true} : tensor<4x2x3xf64>, tensor<4x5x3xf64> -> tensor<4x2x5xf64>
  return %0, %1, %2 : tensor<4x2x5xf64>, tensor<4x2x5xf64>, tensor<4x2x5xf64>
}

// -----

// Tests that rank > 3 collapses the batch axes into one for
// linalg.batch_matmul and expands the result back.
// CHECK-LABEL: func.func @batch_matmul_rank4(
// CHECK-SAME: %[[A:[^:]+]]: tensor<2x4x2x3xf32>, %[[B:[^:]+]]: tensor<2x4x3x5xf32>
// CHECK: %[[CA:.+]] = tensor.collapse_shape %[[A]] {{\[}}[0, 1], [2], [3]] : tensor<2x4x2x3xf32> into tensor<8x2x3xf32>
// CHECK: %[[CB:.+]] = tensor.collapse_shape %[[B]] {{\[}}[0, 1], [2], [3]] : tensor<2x4x3x5xf32> into tensor<8x3x5xf32>
// CHECK: %[[MM:.+]] = linalg.batch_matmul ins(%[[CA]], %[[CB]] : tensor<8x2x3xf32>, tensor<8x3x5xf32>) outs(%{{.+}} : tensor<8x2x5xf32>)
// CHECK: %[[R:.+]] = tensor.expand_shape %[[MM]] {{\[}}[0, 1], [2], [3]] output_shape [2, 4, 2, 5] : tensor<8x2x5xf32> into tensor<2x4x2x5xf32>
// CHECK: return %[[R]]
// BUF-LABEL: func.func @batch_matmul_rank4(
// BUF: memref.collapse_shape
// BUF: linalg.batch_matmul
// BUF: memref.expand_shape
func.func @batch_matmul_rank4(%a: tensor<2x4x2x3xf32>, %b: tensor<2x4x3x5xf32>) -> tensor<2x4x2x5xf32> {
  %0 = kiln.matmul %a, %b : tensor<2x4x2x3xf32>, tensor<2x4x3x5xf32> -> tensor<2x4x2x5xf32>
  return %0 : tensor<2x4x2x5xf32>
}
