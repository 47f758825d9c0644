// RUN: kiln-opt %s -split-input-file --kiln-rewrite-losses-to-logits --canonicalize | FileCheck %s

// Tests that binary cross-entropy on a sigmoid takes the logits, and that
// the sigmoid disappears when nothing else uses it.
// CHECK-LABEL: func.func @binary
// CHECK-SAME: (%[[Z:.+]]: tensor<8x1xf32>, %[[Y:.+]]: tensor<8x1xf32>, %[[W:.+]]: tensor<8xf32>)
// CHECK-NOT: kiln.sigmoid
// CHECK: kiln.binary_crossentropy %[[Z]], %[[Y]], %[[W]] {from_logits = true}
func.func @binary(%z: tensor<8x1xf32>, %y: tensor<8x1xf32>, %w: tensor<8xf32>) -> tensor<f32> {
  %p = kiln.sigmoid %z : tensor<8x1xf32>
  %l = kiln.binary_crossentropy %p, %y, %w : tensor<8x1xf32>, tensor<8x1xf32>, tensor<8xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Tests that the sparse loss on a last-axis softmax takes the logits while
// another user (a metric) keeps the probabilities.
// CHECK-LABEL: func.func @sparse_with_metric
// CHECK-SAME: (%[[Z:.+]]: tensor<8x10xf32>, %[[Y:.+]]: tensor<8xi32>, %[[W:.+]]: tensor<8xf32>)
// CHECK: %[[P:.+]] = kiln.softmax %[[Z]]
// CHECK: kiln.sparse_categorical_crossentropy %[[Z]], %[[Y]], %[[W]] {from_logits = true}
// CHECK: kiln.argmax %[[P]]
func.func @sparse_with_metric(%z: tensor<8x10xf32>, %y: tensor<8xi32>, %w: tensor<8xf32>) -> (tensor<f32>, tensor<8xi64>) {
  %p = kiln.softmax %z {axis = 1 : i64} : tensor<8x10xf32>
  %l = kiln.sparse_categorical_crossentropy %p, %y, %w : tensor<8x10xf32>, tensor<8xi32>, tensor<8xf32> -> tensor<f32>
  %a = kiln.argmax %p {axis = 1 : i64} : tensor<8x10xf32> -> tensor<8xi64>
  return %l, %a : tensor<f32>, tensor<8xi64>
}

// -----

// Tests that a softmax over another axis than the class axis, and a loss
// that already takes logits, stay as they are.
// CHECK-LABEL: func.func @unchanged
// CHECK: %[[P:.+]] = kiln.softmax %{{.+}} {axis = 0 : i64}
// CHECK: kiln.categorical_crossentropy %[[P]], %{{.+}}, %{{.+}} :
// CHECK: kiln.categorical_crossentropy %{{.+}}, %{{.+}}, %{{.+}} {from_logits = true}
func.func @unchanged(%z: tensor<8x10xf32>, %y: tensor<8x10xf32>, %w: tensor<8xf32>) -> (tensor<f32>, tensor<f32>) {
  %p = kiln.softmax %z {axis = 0 : i64} : tensor<8x10xf32>
  %l = kiln.categorical_crossentropy %p, %y, %w : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf32> -> tensor<f32>
  %m = kiln.categorical_crossentropy %z, %y, %w {from_logits = true} : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf32> -> tensor<f32>
  return %l, %m : tensor<f32>, tensor<f32>
}
