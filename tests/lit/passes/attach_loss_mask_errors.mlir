// Tests that a result marked kiln.loss_mask whose shape does not fit the
// predictions (a mask is [N, T] of predictions [N, T, C]) is an error
// naming both types.

// RUN: not kiln-opt %s --kiln-attach-loss="loss=mse" 2>&1 | FileCheck %s

// CHECK: attach_loss_mask_errors.mlir:[[@LINE+1]]:1: error: kiln-attach-loss: result 1 of @forward is marked 'kiln.loss_mask' but has type 'tensor<2x4xf32>'; the predictions are 'tensor<2x3x5xf32>' (a loss mask is [batch, steps] floats of predictions [batch, steps, features])
func.func @forward(%w: tensor<2x3x5xf32> {kiln.param = "kernel", kiln.trainable},
                   %x: tensor<2x3x5xf32> {kiln.name = "x"},
                   %m: tensor<2x4xf32> {kiln.name = "m"})
    -> (tensor<2x3x5xf32> {kiln.name = "out"}, tensor<2x4xf32> {kiln.loss_mask}) {
  %0 = kiln.mul %x, %w : tensor<2x3x5xf32>
  return %0, %m : tensor<2x3x5xf32>, tensor<2x4xf32>
}
