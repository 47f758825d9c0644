// The Keras MNIST MLP (784-512-512-10, relu, relu) at batch 128 as the
// forward function of training, written directly in kiln IR: every parameter
// is kiln.trainable, and the result is the logits (no softmax), for
// sparse categorical cross-entropy with from_logits. Build the training
// entry points (@train_step, @eval_step, @predict) with
//   kiln-opt --kiln-training-pipeline="loss=sparse_categorical_crossentropy
//     from_logits=1 metrics=accuracy optimizer=adam convention=pytorch"
// then compile the result with kilnc --emit=obj,header --name=mlp (see
// bench/mlp_train.py and bench_main.c).
func.func @forward(
    %w0: tensor<784x512xf32> {kiln.param = "dense/kernel", kiln.trainable},
    %b0: tensor<512xf32> {kiln.param = "dense/bias", kiln.trainable},
    %w1: tensor<512x512xf32> {kiln.param = "dense_1/kernel", kiln.trainable},
    %b1: tensor<512xf32> {kiln.param = "dense_1/bias", kiln.trainable},
    %w2: tensor<512x10xf32> {kiln.param = "dense_2/kernel", kiln.trainable},
    %b2: tensor<10xf32> {kiln.param = "dense_2/bias", kiln.trainable},
    %x: tensor<128x784xf32> {kiln.name = "x"})
    -> (tensor<128x10xf32> {kiln.name = "logits"}) {
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
  return %10 : tensor<128x10xf32>
}
