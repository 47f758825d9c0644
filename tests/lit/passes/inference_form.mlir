// RUN: kiln-opt %s --kiln-inference-form --split-input-file | FileCheck %s

// Tests that dropout becomes the identity and the dropout counter argument
// disappears, keeping the other arguments and their attributes.
// CHECK-LABEL: func.func @forward(
// CHECK-SAME: %[[W:[a-z0-9]+]]: tensor<8x8xf32> {kiln.param = "dense/kernel"}
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<4x8xf32> {kiln.name = "x"})
// CHECK-NOT: kiln.dropout
// CHECK: %[[Y:.+]] = kiln.matmul %[[X]], %[[W]]
// CHECK: return %[[Y]]
func.func @forward(%w: tensor<8x8xf32> {kiln.param = "dense/kernel"},
                   %x: tensor<4x8xf32> {kiln.name = "x"},
                   %step: tensor<i64> {kiln.step}) -> tensor<4x8xf32> {
  %d = kiln.dropout %x, %step {rate = 2.000000e-01 : f64, seed = 1 : i64} : tensor<4x8xf32>, tensor<i64>
  %y = kiln.matmul %d, %w : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// Tests that a function without dropout is unchanged.
// CHECK-LABEL: func.func @plain(
// CHECK-SAME: %{{.*}}: tensor<2xf32>) -> tensor<2xf32>
// CHECK-NEXT: kiln.relu
func.func @plain(%x: tensor<2xf32>) -> tensor<2xf32> {
  %y = kiln.relu %x : tensor<2xf32>
  return %y : tensor<2xf32>
}
