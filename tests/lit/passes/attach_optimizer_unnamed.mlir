// RUN: not kiln-opt %s --kiln-training-pipeline="loss=mean_squared_error optimizer=adam" 2>&1 | FileCheck %s

// Tests that the optimizer refuses a trainable argument without a
// kiln.param name (kiln-derive-gradients alone differentiates such inputs,
// but the optimizer updates named parameters in the params region; it used
// to place the argument among the inputs and give it two update results).
// CHECK: error: kiln-attach-optimizer: trainable argument 0 has no 'kiln.param' name: the optimizer updates named parameters only
func.func @forward(%w: tensor<4x3xf32> {kiln.trainable}, %x: tensor<2x4xf32> {kiln.name = "x"}) -> tensor<2x3xf32> {
  %0 = kiln.matmul %x, %w : tensor<2x4xf32>, tensor<4x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}
