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

// -----

// Tests that a reshape keeping the last axis between the softmax and the
// loss (kiln-attach-loss's [N*T, C] rows of a masked per-step loss) moves
// to the logits, while a reshape that changes the class axis blocks the
// rewrite (the softmax normalized other groups).
// CHECK-LABEL: func.func @through_reshape
// CHECK-SAME: (%[[Z:.+]]: tensor<2x3x5xf32>, %[[Y:.+]]: tensor<6xi32>, %[[W:.+]]: tensor<6xf32>, %[[Y2:.+]]: tensor<3xi32>, %[[W2:.+]]: tensor<3xf32>)
// CHECK-DAG: %[[P:.+]] = kiln.softmax %[[Z]]
// CHECK-DAG: %[[ZF:.+]] = kiln.reshape %[[Z]] : tensor<2x3x5xf32> -> tensor<6x5xf32>
// CHECK: kiln.sparse_categorical_crossentropy %[[ZF]], %[[Y]], %[[W]] {from_logits = true}
// CHECK: %[[PG:.+]] = kiln.reshape %[[P]] : tensor<2x3x5xf32> -> tensor<3x10xf32>
// CHECK: kiln.sparse_categorical_crossentropy %[[PG]], %[[Y2]], %[[W2]] :
func.func @through_reshape(%z: tensor<2x3x5xf32>, %y: tensor<6xi32>, %w: tensor<6xf32>, %y2: tensor<3xi32>, %w2: tensor<3xf32>) -> (tensor<f32>, tensor<f32>) {
  %p = kiln.softmax %z {axis = 2 : i64} : tensor<2x3x5xf32>
  %pf = kiln.reshape %p : tensor<2x3x5xf32> -> tensor<6x5xf32>
  %l = kiln.sparse_categorical_crossentropy %pf, %y, %w : tensor<6x5xf32>, tensor<6xi32>, tensor<6xf32> -> tensor<f32>
  %pg = kiln.reshape %p : tensor<2x3x5xf32> -> tensor<3x10xf32>
  %l2 = kiln.sparse_categorical_crossentropy %pg, %y2, %w2 : tensor<3x10xf32>, tensor<3xi32>, tensor<3xf32> -> tensor<f32>
  return %l, %l2 : tensor<f32>, tensor<f32>
}
