// Linear regression on the 30 breast-cancer features, in kiln IR: a model
// without recorded initializers (glorot_uniform kernel, zero bias by
// default) for generated-program tests.
func.func @forward(%w: tensor<30x1xf32> {kiln.param = "linear/kernel", kiln.trainable},
                   %b: tensor<1xf32> {kiln.param = "linear/bias", kiln.trainable},
                   %x: tensor<32x30xf32> {kiln.name = "x"}) -> (tensor<32x1xf32> {kiln.name = "y"}) {
  %0 = kiln.matmul %x, %w : tensor<32x30xf32>, tensor<30x1xf32> -> tensor<32x1xf32>
  %1 = kiln.broadcast_in_dim %b, dims = [1] : tensor<1xf32> -> tensor<32x1xf32>
  %2 = kiln.add %0, %1 : tensor<32x1xf32>
  return %2 : tensor<32x1xf32>
}
