// Tests that the compile summary's FLOP count is the sum of each op's own
// count (FlopCountOpInterface, declared with the op in ir/KilnOps.td),
// checked against a hand count of a small inference-only model.

// RUN: rm -rf %t && mkdir -p %t
// RUN: kilnc %s -o %t/flops 2>&1 | FileCheck %s
// RUN: %t/flops summary | FileCheck %s --check-prefix=PROGRAM

// Hand count, per batch of 2:
//   matmul [2x4] x [4x3]        2 * (2 * 3) * 4 = 48
//   broadcast_in_dim            0 (moves data)
//   add, relu, mul, softmax     4 * 6 = 24 (one per result element each)
//   constant, reshape           0
//   total                       72
// CHECK: FLOPs        7.20e+01 per batch
// PROGRAM: FLOPs: 72 per batch
func.func @forward(%w: tensor<4x3xf32> {kiln.param = "dense/kernel", kiln.trainable},
                   %b: tensor<3xf32> {kiln.param = "dense/bias", kiln.trainable},
                   %x: tensor<2x4xf32> {kiln.name = "x"}) -> (tensor<2x3x1xf32> {kiln.name = "y"}) {
  %0 = kiln.matmul %x, %w : tensor<2x4xf32>, tensor<4x3xf32> -> tensor<2x3xf32>
  %1 = kiln.broadcast_in_dim %b, dims = [1] : tensor<3xf32> -> tensor<2x3xf32>
  %2 = kiln.add %0, %1 : tensor<2x3xf32>
  %3 = kiln.relu %2 : tensor<2x3xf32>
  %c = kiln.constant dense<2.0> : tensor<2x3xf32>
  %4 = kiln.mul %3, %c : tensor<2x3xf32>
  %5 = kiln.softmax %4 {axis = 1 : i64} : tensor<2x3xf32>
  %6 = kiln.reshape %5 : tensor<2x3xf32> -> tensor<2x3x1xf32>
  return %6 : tensor<2x3x1xf32>
}
