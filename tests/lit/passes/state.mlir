// RUN: kiln-opt %s --kiln-training-pipeline="loss=mean_squared_error optimizer=adam" | FileCheck %s
// RUN: kiln-opt %s --kiln-inference-form | FileCheck %s --check-prefix=INFER

// Non-trainable state through the training pipeline (kiln-attach-loss,
// kiln-derive-gradients, kiln-attach-optimizer): an argument marked
// kiln.state (here a running sum of the inputs) whose new value the forward
// function returns as a result marked kiln.state_update_of.

// Tests that @train_step returns the forward pass's new state marked
// kiln.update_of its own argument (written in place like the parameters),
// gives it no optimizer slots and no gradient, and that @eval_step and
// @predict read the state and return no update.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[W:[^:]+]]: tensor<4x1xf32> {kiln.param = "linear/kernel", kiln.trainable}
// CHECK-SAME: %[[SUM:[^:]+]]: tensor<4xf32> {kiln.param = "stats/sum", kiln.state}
// CHECK-NOT: kiln.opt_state = "stats/sum
// CHECK-SAME: %[[X:[^:]+]]: tensor<8x4xf32> {kiln.name = "x"}
// CHECK-SAME: tensor<4x1xf32> {kiln.update_of = 0 : i64}
// CHECK-SAME: tensor<4xf32> {kiln.update_of = 1 : i64}
// CHECK-SAME: tensor<f64> {kiln.update_of = 4 : i64})
// CHECK: %[[BATCH:.+]] = kiln.reduce_sum %[[X]] {axes = array<i64: 0>} : tensor<8x4xf32> -> tensor<4xf32>
// CHECK: %[[NEW:.+]] = kiln.add %[[SUM]], %[[BATCH]] : tensor<4xf32>
// CHECK: return {{.*}}, %[[NEW]], %{{[^,]+}} : {{.*}}tensor<4xf32>, tensor<f64>
// CHECK-LABEL: func.func @eval_step(
// CHECK-SAME: {kiln.param = "stats/sum", kiln.state}
// CHECK-SAME: -> (tensor<f32> {kiln.name = "loss"}, tensor<f32> {kiln.name = "loss_sum"}, tensor<f32> {kiln.name = "weight_sum"}, tensor<f32> {kiln.name = "sample_count"})
// CHECK-LABEL: func.func @predict(
// CHECK-SAME: %[[PSUM:[^:]+]]: tensor<4xf32> {kiln.param = "stats/sum", kiln.state}
// CHECK-SAME: -> (tensor<8x1xf32> {kiln.name = "y"})
// CHECK: kiln.reduce_sum %[[PSUM]]

// Tests that the inference form reads the state and drops its update.
// INFER-LABEL: func.func @forward(
// INFER-SAME: -> (tensor<8x1xf32> {kiln.name = "y"})
// INFER: kiln.reduce_sum
// INFER: return %{{[^,]+}} : tensor<8x1xf32>
func.func @forward(%w: tensor<4x1xf32> {kiln.param = "linear/kernel", kiln.trainable},
                   %sum: tensor<4xf32> {kiln.param = "stats/sum", kiln.state},
                   %x: tensor<8x4xf32> {kiln.name = "x"})
    -> (tensor<8x1xf32> {kiln.name = "y"},
        tensor<4xf32> {kiln.state_update_of = 1 : i64}) {
  %0 = kiln.matmul %x, %w : tensor<8x4xf32>, tensor<4x1xf32> -> tensor<8x1xf32>
  %total = kiln.reduce_sum %sum {axes = array<i64: 0>} : tensor<4xf32> -> tensor<f32>
  %scale = kiln.constant dense<1.0e-3> : tensor<f32>
  %shift = kiln.mul %total, %scale : tensor<f32>
  %bshift = kiln.broadcast_in_dim %shift, dims = [] : tensor<f32> -> tensor<8x1xf32>
  %y = kiln.add %0, %bshift : tensor<8x1xf32>
  %batch = kiln.reduce_sum %x {axes = array<i64: 0>} : tensor<8x4xf32> -> tensor<4xf32>
  %new = kiln.add %sum, %batch : tensor<4xf32>
  return %y, %new : tensor<8x1xf32>, tensor<4xf32>
}
