// The 3-layer MLP of examples/mlp_forward at batch 64 (memory-plan test input).
func.func @forward(
    %w0: tensor<784x512xf32> {kiln.param = "dense/kernel"},
    %b0: tensor<512xf32> {kiln.param = "dense/bias"},
    %w1: tensor<512x512xf32> {kiln.param = "dense_1/kernel"},
    %b1: tensor<512xf32> {kiln.param = "dense_1/bias"},
    %w2: tensor<512x10xf32> {kiln.param = "dense_2/kernel"},
    %b2: tensor<10xf32> {kiln.param = "dense_2/bias"},
    %x: tensor<64x784xf32> {kiln.name = "x"})
    -> (tensor<64x10xf32> {kiln.name = "probabilities"}) {
  %0 = kiln.matmul %x, %w0 : tensor<64x784xf32>, tensor<784x512xf32> -> tensor<64x512xf32>
  %1 = kiln.broadcast_in_dim %b0, dims = [1] : tensor<512xf32> -> tensor<64x512xf32>
  %2 = kiln.add %0, %1 : tensor<64x512xf32>
  %3 = kiln.relu %2 : tensor<64x512xf32>
  %4 = kiln.matmul %3, %w1 : tensor<64x512xf32>, tensor<512x512xf32> -> tensor<64x512xf32>
  %5 = kiln.broadcast_in_dim %b1, dims = [1] : tensor<512xf32> -> tensor<64x512xf32>
  %6 = kiln.add %4, %5 : tensor<64x512xf32>
  %7 = kiln.relu %6 : tensor<64x512xf32>
  %8 = kiln.matmul %7, %w2 : tensor<64x512xf32>, tensor<512x10xf32> -> tensor<64x10xf32>
  %9 = kiln.broadcast_in_dim %b2, dims = [1] : tensor<10xf32> -> tensor<64x10xf32>
  %10 = kiln.add %8, %9 : tensor<64x10xf32>
  %11 = kiln.softmax %10 {axis = 1 : i64} : tensor<64x10xf32>
  return %11 : tensor<64x10xf32>
}
