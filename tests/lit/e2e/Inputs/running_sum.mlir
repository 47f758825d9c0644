// A linear model with non-trainable state (docs/architecture.md, "Forward
// form"): `stats/sum` adds up every input row the training steps see (zero
// padding rows add nothing, and a sum does not depend on the shuffled
// order, so numpy can predict it), and the output reads it:
//   y = x w + 0.001 * sum_j stats/sum[j]
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
