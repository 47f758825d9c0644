// RUN: kiln-opt %s --kiln-training-pipeline="loss=mean_squared_error optimizer=sgd" | FileCheck %s
// RUN: kiln-opt %s --kiln-inference-form | FileCheck %s --check-prefix=INFER

// The forward argument marked kiln.sample_weight becomes @loss's own sample
// weights (kiln-attach-loss removes it and feeds batch_norm the loss's
// weights); @predict and the inference form drop it, since batch_norm's
// inference form does not read it.

// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<4x3xf32> {kiln.name = "x"}, %{{.*}}: tensor<4x1xf32> {kiln.name = "labels"}, %[[W:[a-z0-9]+]]: tensor<4xf32> {kiln.name = "sample_weight"}, %{{.*}}: tensor<f32> {kiln.name = "learning_rate"})
// CHECK: kiln.batch_norm %[[X]], {{.*}} sample_weight(%[[W]] : tensor<4xf32>)
// CHECK-LABEL: func.func @eval_step(
// CHECK-NOT: kiln.batch_norm
// CHECK-LABEL: func.func @predict(
// CHECK-SAME: %{{.*}}: tensor<4x3xf32> {kiln.name = "x"}) -> (tensor<4x1xf32> {kiln.name = "y"})
// CHECK-NOT: sample_weight
// CHECK: return

// INFER-LABEL: func.func @forward(
// INFER-SAME: %{{.*}}: tensor<4x3xf32> {kiln.name = "x"}) -> (tensor<4x1xf32> {kiln.name = "y"})
// INFER-NOT: kiln.batch_norm
// INFER: kiln.rsqrt
func.func @forward(%w: tensor<3x1xf32> {kiln.param = "dense/kernel", kiln.trainable},
                   %gamma: tensor<3xf32> {kiln.param = "bn/gamma", kiln.trainable},
                   %beta: tensor<3xf32> {kiln.param = "bn/beta", kiln.trainable},
                   %mean: tensor<3xf32> {kiln.param = "bn/moving_mean", kiln.state},
                   %var: tensor<3xf32> {kiln.param = "bn/moving_variance", kiln.state},
                   %x: tensor<4x3xf32> {kiln.name = "x"},
                   %sw: tensor<4xf32> {kiln.sample_weight})
    -> (tensor<4x1xf32> {kiln.name = "y"},
        tensor<3xf32> {kiln.state_update_of = 3 : i64},
        tensor<3xf32> {kiln.state_update_of = 4 : i64}) {
  %z, %m, %v = kiln.batch_norm %x, %gamma, %beta, %mean, %var
      sample_weight(%sw : tensor<4xf32>)
      {axis = 1 : i64, epsilon = 1.0e-3 : f64, momentum = 0.5 : f64}
      : tensor<4x3xf32>, tensor<3xf32>
  %y = kiln.matmul %z, %w : tensor<4x3xf32>, tensor<3x1xf32> -> tensor<4x1xf32>
  return %y, %m, %v : tensor<4x1xf32>, tensor<3xf32>, tensor<3xf32>
}
