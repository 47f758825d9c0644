// BatchNorm in the forward form (docs/architecture.md, "Forward form"): the
// moving statistics are state, the batch's sample weights come in through
// the argument marked kiln.sample_weight (kiln-attach-loss wires @loss's
// sample weights into it), so the zero-weight rows that pad a last partial
// batch stay out of the statistics:
//   y = batch_norm(x) w
func.func @forward(%w: tensor<3x1xf32> {kiln.param = "dense/kernel", kiln.trainable},
                   %gamma: tensor<3xf32> {kiln.param = "bn/gamma", kiln.trainable,
                                          kiln.init = dense<[1.0, 2.0, 0.5]> : tensor<3xf32>},
                   %beta: tensor<3xf32> {kiln.param = "bn/beta", kiln.trainable},
                   %mean: tensor<3xf32> {kiln.param = "bn/moving_mean", kiln.state},
                   %var: tensor<3xf32> {kiln.param = "bn/moving_variance", kiln.state,
                                        kiln.init = dense<1.0> : tensor<3xf32>},
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
