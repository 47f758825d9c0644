// RUN: kiln-opt %s -split-input-file --kiln-derive-gradients | FileCheck %s

// Structure of the VJP rules of the structured kiln ops (ir/VJPStructured.cpp;
// formulas in docs/spec.md): matmul transpose flags, the reduce_sum of a
// broadcast, the first-maximum mask of reduce_max, the interior padding of a
// strided slice, softmax, and the one-hot of a sparse cross-entropy. The
// values are checked numerically against central differences outside lit.

// Tests that a dense layer with a transposed weight (y = x w^T) gets
// dx = g w and dw = g^T x through matmul flags, without kiln.transpose.
// CHECK-LABEL: func.func @loss_grad(
// CHECK-SAME: %[[X:[^:]+]]: tensor<8x5xf32>, %[[W:[^:]+]]: tensor<4x5xf32> {kiln.trainable}
// CHECK-NOT: kiln.transpose
// CHECK: kiln.matmul %[[G:[0-9]+]], %[[W]] : tensor<8x4xf32>, tensor<4x5xf32> -> tensor<8x5xf32>
// CHECK-NEXT: %[[DW:.+]] = kiln.matmul %[[G]], %[[X]] {transpose_lhs = true} : tensor<8x4xf32>, tensor<8x5xf32> -> tensor<4x5xf32>
// CHECK: return %{{.+}}, %[[DW]]
func.func @loss(%x: tensor<8x5xf32>, %w: tensor<4x5xf32> {kiln.trainable}, %y: tensor<8x4xf32>, %sw: tensor<8xf32>) -> tensor<f32> {
  %h = kiln.matmul %x, %w {transpose_rhs = true} : tensor<8x5xf32>, tensor<4x5xf32> -> tensor<8x4xf32>
  %l = kiln.mean_squared_error %h, %y, %sw : tensor<8x4xf32>, tensor<8x4xf32>, tensor<8xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Tests that a batched matmul with both operands transposed (C = A^T B^T)
// gets dA = B^T g^T and dB = g^T A^T, both flags set.
// CHECK-LABEL: func.func @loss_grad(
// CHECK-SAME: %[[A:[^:]+]]: tensor<2x5x3xf32> {kiln.trainable}, %[[B:[^:]+]]: tensor<2x4x5xf32> {kiln.trainable}
// CHECK: %[[DA:.+]] = kiln.matmul %[[B]], %[[G:[0-9]+]] {transpose_lhs = true, transpose_rhs = true} : tensor<2x4x5xf32>, tensor<2x3x4xf32> -> tensor<2x5x3xf32>
// CHECK-NEXT: %[[DB:.+]] = kiln.matmul %[[G]], %[[A]] {transpose_lhs = true, transpose_rhs = true} : tensor<2x3x4xf32>, tensor<2x5x3xf32> -> tensor<2x4x5xf32>
// CHECK: return %{{.+}}, %[[DA]], %[[DB]]
func.func @loss(%a: tensor<2x5x3xf32> {kiln.trainable}, %b: tensor<2x4x5xf32> {kiln.trainable}, %y: tensor<2x3x4xf32>, %sw: tensor<2xf32>) -> tensor<f32> {
  %h = kiln.matmul %a, %b {transpose_lhs = true, transpose_rhs = true} : tensor<2x5x3xf32>, tensor<2x4x5xf32> -> tensor<2x3x4xf32>
  %l = kiln.mean_squared_error %h, %y, %sw : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<2xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Tests that the bias gradient of a dense layer on a [2, 3, units] input has
// shape [units]: a reduce_sum over the 2 x 3 = 6 rows (axes 0 and 1, kept)
// reshaped to the bias shape.
// CHECK-LABEL: func.func @loss_grad(
// CHECK-SAME: -> (tensor<f32>, tensor<4xf32> {kiln.gradient_of = 1 : i64})
// CHECK: %[[S:.+]] = kiln.reduce_sum %{{.+}} {axes = array<i64: 0, 1>, keep_dims = true} : tensor<2x3x4xf32> -> tensor<1x1x4xf32>
// CHECK-NEXT: %[[DB:.+]] = kiln.reshape %[[S]] : tensor<1x1x4xf32> -> tensor<4xf32>
// CHECK-NEXT: return %{{.+}}, %[[DB]]
func.func @loss(%h: tensor<2x3x4xf32>, %b: tensor<4xf32> {kiln.trainable}, %y: tensor<2x3x4xf32>, %sw: tensor<2xf32>) -> tensor<f32> {
  %bb = kiln.broadcast_in_dim %b, dims = [2] : tensor<4xf32> -> tensor<2x3x4xf32>
  %z = kiln.add %h, %bb : tensor<2x3x4xf32>
  %l = kiln.mean_squared_error %z, %y, %sw : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<2xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Tests that reduce_max sends the gradient to the first maximum of each
// group: iota index, compare with the broadcast maximum, select, and a
// second compare against the reduced choice.
// CHECK-LABEL: func.func @loss_grad(
// CHECK-SAME: %[[X:[^:]+]]: tensor<3x4xf32> {kiln.trainable}
// CHECK: %[[Y:.+]] = kiln.reduce_max %[[X]] {axes = array<i64: 1>} : tensor<3x4xf32> -> tensor<3xf32>
// CHECK: %[[L:.+]] = kiln.iota {dimension = 1 : i64} : tensor<3x4xf32>
// CHECK: %[[YB:.+]] = kiln.broadcast_in_dim %[[Y]], dims = [0] : tensor<3xf32> -> tensor<3x4xf32>
// CHECK: %[[HIT:.+]] = kiln.compare eq, %[[X]], %[[YB]] : tensor<3x4xf32>
// CHECK: kiln.select %[[HIT]], %{{.+}}, %{{.+}} : tensor<3x4xi1>, tensor<3x4xf32>
// CHECK: %[[BEST:.+]] = kiln.reduce_max %[[R:[0-9]+]] {axes = array<i64: 1>, keep_dims = true} : tensor<3x4xf32> -> tensor<3x1xf32>
// CHECK: %[[BB:.+]] = kiln.broadcast_in_dim %[[BEST]], dims = [0, 1]
// CHECK: %[[FIRST:.+]] = kiln.compare eq, %[[R]], %[[BB]] : tensor<3x4xf32>
// CHECK: %[[DX:.+]] = kiln.select %[[FIRST]], %{{.+}}, %{{.+}} : tensor<3x4xi1>, tensor<3x4xf32>
// CHECK: return %{{.+}}, %[[DX]]
func.func @loss(%x: tensor<3x4xf32> {kiln.trainable}) -> tensor<f32> {
  %m = kiln.reduce_max %x {axes = array<i64: 1>} : tensor<3x4xf32> -> tensor<3xf32>
  %l = kiln.reduce_sum %m {axes = array<i64: 0>} : tensor<3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Tests that a strided slice x[1:4:2, 1:8:3] of a 4x9 tensor gets a zero pad
// of g with low = start, interior = stride - 1 and the remainder high.
// CHECK-LABEL: func.func @loss_grad(
// CHECK: %[[G:.+]] = kiln.broadcast_in_dim %{{.+}}, dims = [] : tensor<f32> -> tensor<2x3xf32>
// CHECK-NEXT: %[[DX:.+]] = kiln.pad %[[G]] {high = array<i64: 0, 1>, interior = array<i64: 1, 2>, low = array<i64: 1, 1>} : tensor<2x3xf32> -> tensor<4x9xf32>
// CHECK-NEXT: return %{{.+}}, %[[DX]]
func.func @loss(%x: tensor<4x9xf32> {kiln.trainable}) -> tensor<f32> {
  %s = kiln.slice %x {start = array<i64: 1, 1>, limit = array<i64: 4, 8>, strides = array<i64: 2, 3>} : tensor<4x9xf32> -> tensor<2x3xf32>
  %l = kiln.reduce_sum %s {axes = array<i64: 0, 1>} : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Tests that softmax builds y * (g - sum_axis(g * y)) from its result.
// CHECK-LABEL: func.func @loss_grad(
// CHECK: %[[Y:.+]] = kiln.softmax %{{.+}} {axis = 1 : i64} : tensor<8x10xf32>
// CHECK: %[[GY:.+]] = kiln.mul %[[G:[0-9]+]], %[[Y]] : tensor<8x10xf32>
// CHECK-NEXT: %[[S:.+]] = kiln.reduce_sum %[[GY]] {axes = array<i64: 1>, keep_dims = true} : tensor<8x10xf32> -> tensor<8x1xf32>
// CHECK-NEXT: %[[SB:.+]] = kiln.broadcast_in_dim %[[S]], dims = [0, 1] : tensor<8x1xf32> -> tensor<8x10xf32>
// CHECK-NEXT: %[[D:.+]] = kiln.sub %[[G]], %[[SB]] : tensor<8x10xf32>
// CHECK-NEXT: %[[DX:.+]] = kiln.mul %[[Y]], %[[D]] : tensor<8x10xf32>
// CHECK-NEXT: return %{{.+}}, %[[DX]]
func.func @loss(%x: tensor<8x10xf32> {kiln.trainable}, %y: tensor<8x10xf32>, %sw: tensor<8xf32>) -> tensor<f32> {
  %p = kiln.softmax %x {axis = 1 : i64} : tensor<8x10xf32>
  %l = kiln.mean_squared_error %p, %y, %sw : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Tests that sparse cross-entropy from logits builds softmax(z) - one_hot
// (iota of the label type, compare eq, select), scaled by w_n / sum(w) with
// a zero guard, and gives no gradient to the labels and sample weights.
// CHECK-LABEL: func.func @loss_grad(
// CHECK-SAME: %[[Z:[^:]+]]: tensor<8x10xf32> {kiln.trainable}, %[[LAB:[^:]+]]: tensor<8xi32>, %[[W:[^:]+]]: tensor<8xf32>)
// CHECK-SAME: -> (tensor<f32>, tensor<8x10xf32> {kiln.gradient_of = 0 : i64})
// CHECK: %[[IOTA:.+]] = kiln.iota {dimension = 1 : i64} : tensor<8x10xi32>
// CHECK: %[[LB:.+]] = kiln.broadcast_in_dim %[[LAB]], dims = [0] : tensor<8xi32> -> tensor<8x10xi32>
// CHECK: %[[HIT:.+]] = kiln.compare eq, %[[IOTA]], %[[LB]] : tensor<8x10xi32>
// CHECK: %[[HOT:.+]] = kiln.select %[[HIT]], %{{.+}}, %{{.+}} : tensor<8x10xi1>, tensor<8x10xf32>
// CHECK: %[[P:.+]] = kiln.softmax %[[Z]] {axis = 1 : i64} : tensor<8x10xf32>
// CHECK: %[[D:.+]] = kiln.sub %[[P]], %[[HOT]] : tensor<8x10xf32>
// CHECK: %[[SW:.+]] = kiln.reduce_sum %[[W]] {axes = array<i64: 0>} : tensor<8xf32> -> tensor<f32>
// CHECK: %[[ISZERO:.+]] = kiln.compare eq, %[[SW]], %{{.+}} : tensor<f32>
// CHECK: %[[C:.+]] = kiln.broadcast_in_dim %{{.+}}, dims = [0] : tensor<8xf32> -> tensor<8x10xf32>
// CHECK-NEXT: %[[DZ:.+]] = kiln.mul %[[C]], %[[D]] : tensor<8x10xf32>
// CHECK-NEXT: return %{{.+}}, %[[DZ]]
func.func @loss(%z: tensor<8x10xf32> {kiln.trainable}, %lab: tensor<8xi32>, %sw: tensor<8xf32>) -> tensor<f32> {
  %l = kiln.sparse_categorical_crossentropy %z, %lab, %sw {from_logits = true} : tensor<8x10xf32>, tensor<8xi32>, tensor<8xf32> -> tensor<f32>
  return %l : tensor<f32>
}
