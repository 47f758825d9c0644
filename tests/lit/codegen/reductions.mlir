// RUN: kiln-opt %s --convert-kiln-to-linalg -split-input-file | FileCheck %s
// RUN: kiln-opt %s --convert-kiln-to-linalg --one-shot-bufferize="bufferize-function-boundaries" -split-input-file | FileCheck %s --check-prefix=BUF

// CHECK-DAG: #[[ID3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[KEEP0:.+]] = affine_map<(d0, d1, d2) -> (d0)>

// Tests that reduce_sum becomes a generic with reduction iterators on the
// axes into a zero-filled init that drops the reduced axes.
// CHECK-LABEL: func.func @reduce_sum(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x3x4xf32>
// CHECK: %[[Z:.+]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[F:.+]] = linalg.fill ins(%[[Z]] : f32) outs(%{{.+}} : tensor<2xf32>)
// CHECK: %[[R:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[KEEP0]]], iterator_types = ["parallel", "reduction", "reduction"]}
// CHECK-SAME: ins(%[[X]] : tensor<2x3x4xf32>) outs(%[[F]] : tensor<2xf32>)
// CHECK: ^bb0(%[[IN:[^:]+]]: f32, %[[ACC:[^:]+]]: f32):
// CHECK: arith.addf %[[ACC]], %[[IN]] : f32
// CHECK: return %[[R]]
// BUF-LABEL: func.func @reduce_sum(
// BUF: linalg.generic
// BUF-SAME: ins(%{{.+}} : memref<2x3x4xf32{{.*}}>) outs(%{{.+}} : memref<2xf32>)
func.func @reduce_sum(%x: tensor<2x3x4xf32>) -> tensor<2xf32> {
  %0 = kiln.reduce_sum %x {axes = array<i64: 1, 2>} : tensor<2x3x4xf32> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// Tests that reduce_mean sums, divides by the reduced element count in a
// following elementwise generic, and restores keep_dims with
// tensor.expand_shape.
// CHECK-LABEL: func.func @reduce_mean_keep_dims(
// CHECK: %[[S:.+]] = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "reduction", "parallel"]
// CHECK: arith.addf
// CHECK: %[[M:.+]] = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel"]
// CHECK-SAME: ins(%[[S]] : tensor<2x4xf64>)
// CHECK: %[[N:.+]] = arith.constant 3.000000e+00 : f64
// CHECK: arith.divf %{{.+}}, %[[N]] : f64
// CHECK: %[[R:.+]] = tensor.expand_shape %[[M]] {{\[}}[0], [1, 2]] output_shape [2, 1, 4] : tensor<2x4xf64> into tensor<2x1x4xf64>
// CHECK: return %[[R]]
// BUF-LABEL: func.func @reduce_mean_keep_dims(
// BUF: memref.expand_shape
func.func @reduce_mean_keep_dims(%x: tensor<2x3x4xf64>) -> tensor<2x1x4xf64> {
  %0 = kiln.reduce_mean %x {axes = array<i64: 1>, keep_dims = true} : tensor<2x3x4xf64> -> tensor<2x1x4xf64>
  return %0 : tensor<2x1x4xf64>
}

// -----

// Tests that reduce_max over every axis starts from -inf, uses
// arith.maximumf (NaN propagating) and yields a rank-0 tensor.
// CHECK-LABEL: func.func @reduce_max_all(
// CHECK: %[[NINF:.+]] = arith.constant 0xFF800000 : f32
// CHECK: %[[F:.+]] = linalg.fill ins(%[[NINF]] : f32) outs(%{{.+}} : tensor<f32>)
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["reduction", "reduction"]
// CHECK-SAME: outs(%[[F]] : tensor<f32>)
// CHECK: arith.maximumf
func.func @reduce_max_all(%x: tensor<2x3xf32>) -> tensor<f32> {
  %0 = kiln.reduce_max %x {axes = array<i64: 0, 1>} : tensor<2x3xf32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that a reduction over no axes is the identity.
// CHECK-LABEL: func.func @reduce_no_axes(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x3xf32>
// CHECK-NOT: linalg.generic
// CHECK: return %[[X]]
func.func @reduce_no_axes(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = kiln.reduce_sum %x {axes = array<i64>} : tensor<2x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Tests that argmax is one generic with two outputs (running max from -inf,
// i64 index from 0) using linalg.index, taking strictly greater values or a
// first NaN, and that keep_dims expands the index result.
// CHECK-LABEL: func.func @argmax(
// CHECK-SAME: %[[X:[^:]+]]: tensor<8x10xf32>
// CHECK: %[[MAXI:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : tensor<8xf32>)
// CHECK: %[[IDXI:.+]] = linalg.fill ins(%{{.+}} : i64) outs(%{{.+}} : tensor<8xi64>)
// CHECK: %[[R:.+]]:2 = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "reduction"]
// CHECK-SAME: ins(%[[X]] : tensor<8x10xf32>) outs(%[[MAXI]], %[[IDXI]] : tensor<8xf32>, tensor<8xi64>)
// CHECK: ^bb0(%[[IN:[^:]+]]: f32, %[[M:[^:]+]]: f32, %[[I:[^:]+]]: i64):
// CHECK: %[[GT:.+]] = arith.cmpf ogt, %[[IN]], %[[M]] : f32
// CHECK: %[[NAN:.+]] = arith.cmpf uno, %[[IN]], %[[IN]] : f32
// CHECK: %[[NUM:.+]] = arith.cmpf ord, %[[M]], %[[M]] : f32
// CHECK: %[[FIRSTNAN:.+]] = arith.andi %[[NAN]], %[[NUM]] : i1
// CHECK: %[[TAKE:.+]] = arith.ori %[[GT]], %[[FIRSTNAN]] : i1
// CHECK: %[[IDX:.+]] = linalg.index 1 : index
// CHECK: %[[IDX64:.+]] = arith.index_cast %[[IDX]] : index to i64
// CHECK: %[[NM:.+]] = arith.select %[[TAKE]], %[[IN]], %[[M]] : f32
// CHECK: %[[NI:.+]] = arith.select %[[TAKE]], %[[IDX64]], %[[I]] : i64
// CHECK: linalg.yield %[[NM]], %[[NI]] : f32, i64
// CHECK: %[[E:.+]] = tensor.expand_shape %[[R]]#1 {{\[}}[0, 1]] output_shape [8, 1] : tensor<8xi64> into tensor<8x1xi64>
// CHECK: return %[[E]]
// BUF-LABEL: func.func @argmax(
// BUF: linalg.generic
// BUF-SAME: outs(%{{.+}}, %{{.+}} : memref<8xf32>, memref<8xi64>)
func.func @argmax(%x: tensor<8x10xf32>) -> tensor<8x1xi64> {
  %0 = kiln.argmax %x {axis = 1 : i64, keep_dims = true} : tensor<8x10xf32> -> tensor<8x1xi64>
  return %0 : tensor<8x1xi64>
}
