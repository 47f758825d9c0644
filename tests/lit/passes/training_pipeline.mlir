// RUN: kiln-opt %s --kiln-training-pipeline="loss=sparse_categorical_crossentropy from_logits=1 metrics=accuracy optimizer=rmsprop" | FileCheck %s

// Tests the whole training pipeline (what kilnc runs): only the entry points
// train_step, eval_step and predict remain (the building blocks @forward,
// @loss and @loss_grad are removed); dropout is active in the train step,
// its counter fed by the optimizer's step counter, and the identity in
// eval_step and predict.
// CHECK-NOT: func.func @forward
// CHECK-NOT: func.func @loss
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: kiln.opt_state = "dense/kernel/mean_square"
// CHECK-SAME: %[[STEP:[^:]+]]: tensor<f64> {kiln.initial_value = 0.000000e+00 : f64, kiln.opt_state = "step"}
// CHECK: %[[COUNTER:.+]] = kiln.convert %[[STEP]] : tensor<f64> -> tensor<i64>
// CHECK: kiln.dropout %{{.+}}, %[[COUNTER]] {rate = 2.000000e-01 : f64, seed = 7 : i64}
// CHECK: kiln.sqrt
// CHECK-LABEL: func.func @eval_step(
// CHECK-NOT: kiln.dropout
// CHECK: kiln.sparse_categorical_crossentropy
// CHECK-LABEL: func.func @predict(
// CHECK-NOT: kiln.dropout
// CHECK: return
func.func @forward(%w: tensor<4x3xf32> {kiln.param = "dense/kernel", kiln.trainable},
                   %x: tensor<2x4xf32> {kiln.name = "x"},
                   %counter: tensor<i64> {kiln.step}) -> tensor<2x3xf32> {
  %h = kiln.dropout %x, %counter {rate = 0.2 : f64, seed = 7 : i64} : tensor<2x4xf32>, tensor<i64>
  %0 = kiln.matmul %h, %w : tensor<2x4xf32>, tensor<4x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}
