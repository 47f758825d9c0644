// RUN: kiln-opt %s --convert-kiln-to-linalg -split-input-file | FileCheck %s
// RUN: kiln-opt %s --convert-kiln-to-linalg --one-shot-bufferize="bufferize-function-boundaries" -split-input-file | FileCheck %s --check-prefix=BUF

// Tests that reshapes with a reassociation become one collapse_shape or
// expand_shape, and others go through rank 1.
// CHECK-LABEL: func.func @reshape(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x3x4xf32>, %[[Y:[^:]+]]: tensor<4x6xf32>, %[[W:[^:]+]]: tensor<2x12xf32>
// CHECK: %[[C:.+]] = tensor.collapse_shape %[[X]] {{\[}}[0], [1, 2]] : tensor<2x3x4xf32> into tensor<2x12xf32>
// CHECK: %[[E:.+]] = tensor.expand_shape %[[W]] {{\[}}[0], [1, 2]] output_shape [2, 2, 6] : tensor<2x12xf32> into tensor<2x2x6xf32>
// CHECK: %[[F:.+]] = tensor.collapse_shape %[[Y]] {{\[}}[0, 1]] : tensor<4x6xf32> into tensor<24xf32>
// CHECK: %[[G:.+]] = tensor.expand_shape %[[F]] {{\[}}[0, 1]] output_shape [3, 8] : tensor<24xf32> into tensor<3x8xf32>
// CHECK: return %[[C]], %[[E]], %[[G]]
// BUF-LABEL: func.func @reshape(
// BUF: memref.collapse_shape
// BUF: memref.expand_shape
func.func @reshape(%x: tensor<2x3x4xf32>, %y: tensor<4x6xf32>, %w: tensor<2x12xf32>) -> (tensor<2x12xf32>, tensor<2x2x6xf32>, tensor<3x8xf32>) {
  %0 = kiln.reshape %x : tensor<2x3x4xf32> -> tensor<2x12xf32>
  %1 = kiln.reshape %w : tensor<2x12xf32> -> tensor<2x2x6xf32>
  %2 = kiln.reshape %y : tensor<4x6xf32> -> tensor<3x8xf32>
  return %0, %1, %2 : tensor<2x12xf32>, tensor<2x2x6xf32>, tensor<3x8xf32>
}

// -----

// Tests that transpose becomes linalg.transpose into a tensor.empty.
// CHECK-LABEL: func.func @transpose(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x3x4xi64>
// CHECK: %[[E:.+]] = tensor.empty() : tensor<4x2x3xi64>
// CHECK: linalg.transpose ins(%[[X]] : tensor<2x3x4xi64>) outs(%[[E]] : tensor<4x2x3xi64>) permutation = [2, 0, 1]
func.func @transpose(%x: tensor<2x3x4xi64>) -> tensor<4x2x3xi64> {
  %0 = kiln.transpose %x {permutation = array<i64: 2, 0, 1>} : tensor<2x3x4xi64> -> tensor<4x2x3xi64>
  return %0 : tensor<4x2x3xi64>
}

// -----

// Tests that concat inserts each input at its running offset into one
// tensor.empty.
// CHECK-LABEL: func.func @concat(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x3xf32>, %[[Y:[^:]+]]: tensor<2x4xf32>
// CHECK: %[[E:.+]] = tensor.empty() : tensor<2x10xf32>
// CHECK: %[[I0:.+]] = tensor.insert_slice %[[X]] into %[[E]][0, 0] [2, 3] [1, 1]
// CHECK: %[[I1:.+]] = tensor.insert_slice %[[Y]] into %[[I0]][0, 3] [2, 4] [1, 1]
// CHECK: %[[I2:.+]] = tensor.insert_slice %[[X]] into %[[I1]][0, 7] [2, 3] [1, 1]
// CHECK: return %[[I2]]
// BUF-LABEL: func.func @concat(
// BUF: memref.subview
// BUF: memref.copy
func.func @concat(%x: tensor<2x3xf32>, %y: tensor<2x4xf32>) -> tensor<2x10xf32> {
  %0 = kiln.concat %x, %y, %x {axis = 1 : i64} : tensor<2x3xf32>, tensor<2x4xf32>, tensor<2x3xf32> -> tensor<2x10xf32>
  return %0 : tensor<2x10xf32>
}

// -----

// Tests that a strided slice becomes tensor.extract_slice with the strides.
// CHECK-LABEL: func.func @slice(
// CHECK-SAME: %[[Y:[^:]+]]: tensor<2x4xf32>
// CHECK: tensor.extract_slice %[[Y]][1, 0] [1, 2] [1, 2] : tensor<2x4xf32> to tensor<1x2xf32>
func.func @slice(%y: tensor<2x4xf32>) -> tensor<1x2xf32> {
  %0 = kiln.slice %y {start = array<i64: 1, 0>, limit = array<i64: 2, 4>, strides = array<i64: 1, 2>} : tensor<2x4xf32> -> tensor<1x2xf32>
  return %0 : tensor<1x2xf32>
}

// -----

// Tests that pad becomes tensor.pad yielding the padding value as a
// constant of the element type.
// CHECK-LABEL: func.func @pad(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x3xf64>
// CHECK: %[[V:.+]] = arith.constant -1.500000e+00 : f64
// CHECK: tensor.pad %[[X]] low[1, 0] high[1, 2]
// CHECK: tensor.yield %[[V]] : f64
// CHECK: tensor<2x3xf64> to tensor<4x5xf64>
func.func @pad(%x: tensor<2x3xf64>) -> tensor<4x5xf64> {
  %0 = kiln.pad %x {low = array<i64: 1, 0>, high = array<i64: 1, 2>, padding_value = -1.5 : f64} : tensor<2x3xf64> -> tensor<4x5xf64>
  return %0 : tensor<4x5xf64>
}

// -----

// CHECK-DAG: #[[BIAS:.+]] = affine_map<(d0, d1) -> (d1)>
// CHECK-DAG: #[[ID:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[UNIT:.+]] = affine_map<(d0, d1, d2) -> (d0, 0, d2)>

// Tests that broadcast_in_dim is a generic whose input map sends result
// axes to operand axes, with constant 0 for expanded size-1 axes.
// CHECK-LABEL: func.func @broadcast_in_dim(
// CHECK-SAME: %[[B:[^:]+]]: tensor<3xf32>, %[[M:[^:]+]]: tensor<2x1x4xf32>
// CHECK: linalg.generic {indexing_maps = [#[[BIAS]], #[[ID]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME: ins(%[[B]] : tensor<3xf32>)
// CHECK: linalg.generic {indexing_maps = [#[[UNIT]], #{{.+}}], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME: ins(%[[M]] : tensor<2x1x4xf32>)
func.func @broadcast_in_dim(%b: tensor<3xf32>, %m: tensor<2x1x4xf32>) -> (tensor<5x3xf32>, tensor<2x3x4xf32>) {
  %0 = kiln.broadcast_in_dim %b, dims = [1] : tensor<3xf32> -> tensor<5x3xf32>
  %1 = kiln.broadcast_in_dim %m, dims = [0, 1, 2] : tensor<2x1x4xf32> -> tensor<2x3x4xf32>
  return %0, %1 : tensor<5x3xf32>, tensor<2x3x4xf32>
}

// -----

// Tests that interior padding becomes a strided tensor.insert_slice into a
// filled tensor: the input lands at offset `low` with stride interior + 1.
// CHECK-LABEL: func.func @pad_interior(
// CHECK: %[[FILL:.+]] = linalg.fill
// CHECK: tensor.insert_slice %{{.+}} into %[[FILL]][0, 1] [2, 3] [2, 3] : tensor<2x3xf32> into tensor<4x8xf32>
func.func @pad_interior(%x: tensor<2x3xf32>) -> tensor<4x8xf32> {
  %0 = kiln.pad %x {low = array<i64: 0, 1>, high = array<i64: 1, 0>, interior = array<i64: 1, 2>} : tensor<2x3xf32> -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that iota writes linalg.index of its dimension, converted to the
// element type.
// CHECK-LABEL: func.func @iota(
// CHECK: linalg.generic
// CHECK: %[[I:.+]] = linalg.index 1 : index
// CHECK: %[[I64:.+]] = arith.index_cast %[[I]] : index to i64
// CHECK: arith.sitofp %[[I64]] : i64 to f32
func.func @iota() -> tensor<2x5xf32> {
  %0 = kiln.iota {dimension = 1 : i64} : tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}
