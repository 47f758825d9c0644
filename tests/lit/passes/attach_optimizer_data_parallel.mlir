// RUN: kiln-opt %s --kiln-attach-loss="loss=mean_squared_error" --kiln-derive-gradients --kiln-attach-optimizer="optimizer=adam global_clipnorm=1.0 data-parallel=1" --canonicalize | FileCheck %s
// RUN: kiln-opt %s --kiln-attach-loss="loss=mean_squared_error" --kiln-derive-gradients --kiln-attach-optimizer="optimizer=adam" | FileCheck %s --check-prefix=OFF

// Tests data-parallel=1: @train_step is unchanged and two more entry
// points cut it at the gradients. @grad_step takes the params, the data
// and the dropout counter as an f64 input (each process feeds its own) and
// returns the loss, the partials and one gradient per trainable parameter
// (grad/<param>); it has no optimizer state and no learning rate.
// @apply_step takes @train_step's params, slots and step in the same order
// (so both regions keep @train_step's layout), then the gradients and the
// learning rate; global_clipnorm clips there (the summed gradient), not in
// @grad_step, and it updates the parameter, the slots and the step in
// place.
// CHECK-LABEL: func.func @train_step(
// CHECK-LABEL: func.func @grad_step(
// CHECK-SAME: %{{.+}}: tensor<4x3xf32> {kiln.param = "dense/kernel", kiln.trainable}, %{{.+}}: tensor<2x4xf32> {kiln.name = "x"}, %{{.+}}: tensor<2x3xf32> {kiln.name = "labels"}, %{{.+}}: tensor<2xf32> {kiln.name = "sample_weight"}, %[[C:.+]]: tensor<f64> {kiln.name = "dropout_counter"})
// CHECK-SAME: -> (tensor<f32> {kiln.name = "loss"}, tensor<f32> {kiln.name = "loss_sum"}, tensor<f32> {kiln.name = "weight_sum"}, tensor<4x3xf32> {kiln.name = "grad/dense/kernel"})
// CHECK: %[[I:.+]] = kiln.convert %[[C]] : tensor<f64> -> tensor<i64>
// CHECK: kiln.dropout %{{.+}}, %[[I]]
// CHECK-NOT: kiln.sqrt
// CHECK: return
// CHECK-LABEL: func.func @apply_step(
// CHECK-SAME: %{{.+}}: tensor<4x3xf32> {kiln.param = "dense/kernel", kiln.trainable}, %{{.+}}: tensor<4x3xf32> {kiln.initial_value = 0.000000e+00 : f64, kiln.opt_state = "dense/kernel/m"}, %{{.+}}: tensor<4x3xf32> {kiln.initial_value = 0.000000e+00 : f64, kiln.opt_state = "dense/kernel/v"}, %{{.+}}: tensor<f64> {kiln.initial_value = 0.000000e+00 : f64, kiln.opt_state = "step"}, %{{.+}}: tensor<4x3xf32> {kiln.name = "grad/dense/kernel"}, %{{.+}}: tensor<f32> {kiln.name = "learning_rate"})
// CHECK-SAME: -> (tensor<4x3xf32> {kiln.update_of = 0 : i64}, tensor<4x3xf32> {kiln.update_of = 1 : i64}, tensor<4x3xf32> {kiln.update_of = 2 : i64}, tensor<f64> {kiln.update_of = 3 : i64})
// CHECK-NOT: kiln.dropout
// CHECK: kiln.sqrt
// OFF-NOT: @grad_step
// OFF-NOT: @apply_step
func.func @forward(%w: tensor<4x3xf32> {kiln.param = "dense/kernel", kiln.trainable},
                   %x: tensor<2x4xf32> {kiln.name = "x"},
                   %counter: tensor<i64> {kiln.step}) -> tensor<2x3xf32> {
  %h = kiln.dropout %x, %counter {rate = 0.2 : f64, seed = 7 : i64} : tensor<2x4xf32>, tensor<i64>
  %0 = kiln.matmul %h, %w : tensor<2x4xf32>, tensor<4x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}
