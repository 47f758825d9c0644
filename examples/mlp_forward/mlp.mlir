// The Keras MNIST MLP forward pass (784-512-512-10, relu, relu, softmax) at
// batch 128, written directly in kiln IR. Parameters are marked kiln.param
// (they live in the params region of the generated interface); the input and
// output are named with kiln.name (io region).
func.func @forward(
    %w0: tensor<784x512xf32> {kiln.param = "dense/kernel"},
    %b0: tensor<512xf32> {kiln.param = "dense/bias"},
    %w1: tensor<512x512xf32> {kiln.param = "dense_1/kernel"},
    %b1: tensor<512xf32> {kiln.param = "dense_1/bias"},
    %w2: tensor<512x10xf32> {kiln.param = "dense_2/kernel"},
    %b2: tensor<10xf32> {kiln.param = "dense_2/bias"},
    %x: tensor<128x784xf32> {kiln.name = "x"})
    -> (tensor<128x10xf32> {kiln.name = "probabilities"}) {
  %0 = kiln.matmul %x, %w0 : tensor<128x784xf32>, tensor<784x512xf32> -> tensor<128x512xf32>
  %1 = kiln.broadcast_in_dim %b0, dims = [1] : tensor<512xf32> -> tensor<128x512xf32>
  %2 = kiln.add %0, %1 : tensor<128x512xf32>
  %3 = kiln.relu %2 : tensor<128x512xf32>
  %4 = kiln.matmul %3, %w1 : tensor<128x512xf32>, tensor<512x512xf32> -> tensor<128x512xf32>
  %5 = kiln.broadcast_in_dim %b1, dims = [1] : tensor<512xf32> -> tensor<128x512xf32>
  %6 = kiln.add %4, %5 : tensor<128x512xf32>
  %7 = kiln.relu %6 : tensor<128x512xf32>
  %8 = kiln.matmul %7, %w2 : tensor<128x512xf32>, tensor<512x10xf32> -> tensor<128x10xf32>
  %9 = kiln.broadcast_in_dim %b2, dims = [1] : tensor<10xf32> -> tensor<128x10xf32>
  %10 = kiln.add %8, %9 : tensor<128x10xf32>
  %11 = kiln.softmax %10 {axis = 1 : i64} : tensor<128x10xf32>
  return %11 : tensor<128x10xf32>
}
