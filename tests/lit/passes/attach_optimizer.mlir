// RUN: kiln-opt %s --kiln-attach-loss="loss=mean_squared_error" --kiln-derive-gradients --kiln-attach-optimizer="optimizer=adam" --canonicalize | FileCheck %s --check-prefix=ADAM
// RUN: kiln-opt %s --kiln-attach-loss="loss=mean_squared_error" --kiln-derive-gradients --kiln-attach-optimizer="optimizer=sgd momentum=0.9 nesterov=1 convention=pytorch" --canonicalize | FileCheck %s --check-prefix=NESTEROV
// RUN: kiln-opt %s --kiln-attach-loss="loss=mean_squared_error" --kiln-derive-gradients --kiln-attach-optimizer="optimizer=adagrad global_clipnorm=1.0" --canonicalize | FileCheck %s --check-prefix=ADAGRAD
// RUN: not kiln-opt %s --kiln-attach-loss="loss=mean_squared_error" --kiln-derive-gradients --kiln-attach-optimizer="optimizer=lbfgs" 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// RUN: not kiln-opt %s --kiln-attach-loss="loss=mean_squared_error" --kiln-derive-gradients --kiln-attach-optimizer="optimizer=adam nesterov=1" 2>&1 | FileCheck %s --check-prefix=NESTEROVADAM
// RUN: not kiln-opt %s --kiln-attach-loss="loss=mean_squared_error" --kiln-derive-gradients --kiln-attach-optimizer="optimizer=sgd nesterov=1" 2>&1 | FileCheck %s --check-prefix=NESTEROVNOMOMENTUM
// A setting the optimizer does not read is an error, not ignored.
// RUN: not kiln-opt %s --kiln-attach-loss="loss=mean_squared_error" --kiln-derive-gradients --kiln-attach-optimizer="optimizer=adam weight_decay=0.1" 2>&1 | FileCheck %s --check-prefix=WDADAM
// RUN: not kiln-opt %s --kiln-training-pipeline="loss=mse optimizer=sgd beta_1=0.5" 2>&1 | FileCheck %s --check-prefix=BETASGD
// RUN: not kiln-opt %s --kiln-attach-optimizer="optimizer=sgd" 2>&1 | FileCheck %s --check-prefix=ORDER

// Tests the train step built around @loss_grad. Adam: the trainable kernel
// gets m and v slots in the opt_state region (initial value 0), the frozen
// bias none; a step counter follows; the learning rate is the last
// argument. The new kernel, slots and step are results marked
// kiln.update_of with the index of the argument they replace. The bias
// corrections are computed once on scalars (kiln.pow on tensor<f32>) with
// t = step + 1.
// ADAM-LABEL: func.func @train_step(
// ADAM-SAME: %[[W:.+]]: tensor<3x1xf32> {kiln.param = "kernel", kiln.trainable},
// ADAM-SAME: %[[B:.+]]: tensor<1xf32> {kiln.param = "bias"},
// ADAM-SAME: %[[M:.+]]: tensor<3x1xf32> {kiln.initial_value = 0.000000e+00 : f64, kiln.opt_state = "kernel/m"},
// ADAM-SAME: %[[V:.+]]: tensor<3x1xf32> {kiln.initial_value = 0.000000e+00 : f64, kiln.opt_state = "kernel/v"},
// ADAM-SAME: %[[STEP:.+]]: tensor<f64> {kiln.initial_value = 0.000000e+00 : f64, kiln.opt_state = "step"},
// ADAM-SAME: %[[X:.+]]: tensor<4x3xf32>, %[[Y:.+]]: tensor<4x1xf32> {kiln.name = "labels"}, %[[SW:.+]]: tensor<4xf32> {kiln.name = "sample_weight"}, %[[LR:.+]]: tensor<f32> {kiln.name = "learning_rate"})
// ADAM-SAME: (tensor<f32> {kiln.name = "loss"}, tensor<f32> {kiln.name = "loss_sum"}, tensor<f32> {kiln.name = "weight_sum"},
// ADAM-SAME: tensor<3x1xf32> {kiln.update_of = 0 : i64}, tensor<3x1xf32> {kiln.update_of = 2 : i64}, tensor<3x1xf32> {kiln.update_of = 3 : i64}, tensor<f64> {kiln.update_of = 4 : i64})
// ADAM: %[[T64:.+]] = kiln.add %[[STEP]], %{{.+}} : tensor<f64>
// ADAM: %[[T:.+]] = kiln.convert %[[T64]] : tensor<f64> -> tensor<f32>
// ADAM: kiln.pow %{{.+}}, %[[T]] : tensor<f32>
// ADAM: kiln.pow %{{.+}}, %[[T]] : tensor<f32>
// ADAM-LABEL: func.func @eval_step(
// ADAM-NOT: kiln.dropout
// ADAM-LABEL: func.func @predict(
// ADAM-NOT: kiln.dropout

// Tests the PyTorch Nesterov update: b' = mu b + g, then the step uses
// g + mu b'.
// NESTEROV-LABEL: func.func @train_step(
// NESTEROV-SAME: kiln.opt_state = "kernel/momentum"
// NESTEROV: %[[MU:.+]] = kiln.constant dense<0.899999976> : tensor<3x1xf32>
// NESTEROV: %[[MB:.+]] = kiln.mul %{{.+}}, %[[MU]]
// NESTEROV: %[[BUF:.+]] = kiln.add %[[MB]], %[[G:.+]] : tensor<3x1xf32>
// NESTEROV: %[[MBUF:.+]] = kiln.mul %[[BUF]], %[[MU]]
// NESTEROV: kiln.add %[[G]], %[[MBUF]]

// Tests global-norm clipping: the gradients are scaled by
// c / max(c, sqrt(sum g^2)) before the Adagrad update, which keeps one
// accumulator slot (Keras initial value 0.1).
// ADAGRAD-LABEL: func.func @train_step(
// ADAGRAD-SAME: kiln.initial_value = 1.000000e-01 : f64, kiln.opt_state = "kernel/accumulator"
// ADAGRAD: %[[SQ:.+]] = kiln.square
// ADAGRAD: kiln.reduce_sum %[[SQ]]
// ADAGRAD: %[[NORM:.+]] = kiln.sqrt
// ADAGRAD: kiln.maximum %[[NORM]]

// UNKNOWN: error: kiln-attach-optimizer: unknown optimizer 'lbfgs' (known: sgd, rmsprop, adam, adamw, adagrad)
// NESTEROVADAM: error: kiln-attach-optimizer: nesterov does not apply to adam (it applies to: sgd)
// NESTEROVNOMOMENTUM: error: kiln-attach-optimizer: nesterov needs sgd with a non-zero momentum
// WDADAM: error: kiln-attach-optimizer: weight_decay does not apply to adam (it applies to: adamw)
// BETASGD: error: kiln-attach-optimizer: beta_1 does not apply to sgd (it applies to: adam, adamw)
// ORDER: error: kiln-attach-optimizer needs the forward function, @loss (kiln-attach-loss) and @loss_grad (kiln-derive-gradients with function=loss)

func.func @forward(%w: tensor<3x1xf32> {kiln.param = "kernel", kiln.trainable},
                   %b: tensor<1xf32> {kiln.param = "bias"},
                   %x: tensor<4x3xf32>) -> tensor<4x1xf32> {
  %0 = kiln.matmul %x, %w : tensor<4x3xf32>, tensor<3x1xf32> -> tensor<4x1xf32>
  %1 = kiln.broadcast_in_dim %b, dims = [1] : tensor<1xf32> -> tensor<4x1xf32>
  %2 = kiln.add %0, %1 : tensor<4x1xf32>
  return %2 : tensor<4x1xf32>
}
