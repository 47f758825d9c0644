// RUN: kiln-opt %s --kiln-training-pipeline="loss=mean_squared_error optimizer=sgd" --kiln-lower-to-linalg --kiln-bufferize -mlir-print-ir-after=kiln-fuse-conv-epilogues -o /dev/null 2>&1 | FileCheck %s

// Tests kiln-fuse-conv-epilogues in the real pipelines on a Keras-like
// Conv2D(activation='relu') + MaxPooling2D: after elementwise fusion the
// bias add and relu are one generic right after the convolution, which
// nothing recomputes (kiln-fuse-elementwise keeps a convolution's epilogue
// whole), and nothing else reads the raw convolution: the relu gradient
// reads the relu's result. So in every entry point, @train_step included,
// the kernel call takes the bias (no null pointer) and the relu epilogue
// (descriptor field 26 = 1), and the backward pass reads its output.
// CHECK-LABEL: func.func @train_step
// CHECK: kiln_rt.kernel_call @kiln_conv_fwd_f32 descriptor = [{{.+}}, 1, 0, 0, 0] ins(%{{[^,]+}}, %{{[^,]+}}, %{{[^,]+}} : memref<2x6x6x3xf32>, memref<3x3x3x4xf32>, memref<4xf32>) outs(%[[Y:.+]] : memref<2x4x4x4xf32>){{$}}
// CHECK-NOT: linalg.generic
// CHECK: kiln_rt.kernel_call @kiln_max_pool_fwd_f32 {{.+}} ins(%[[Y]] :
// CHECK: kiln_rt.kernel_call @kiln_max_pool_bwd_f32 {{.+}} ins(%[[Y]], 
// CHECK-LABEL: func.func @eval_step
// CHECK: kiln_rt.kernel_call @kiln_conv_fwd_f32 descriptor = [{{.+}}, 1, 0, 0, 0] ins(%{{[^,]+}}, %{{[^,]+}}, %{{[^,]+}} : memref<2x6x6x3xf32>, memref<3x3x3x4xf32>, memref<4xf32>) outs(%[[D:.+]] : memref<2x4x4x4xf32>){{$}}
// CHECK-NOT: linalg.generic
// CHECK: kiln_rt.kernel_call @kiln_max_pool_fwd_f32 {{.+}} ins(%[[D]] :
// CHECK-LABEL: func.func @predict
// CHECK: kiln_rt.kernel_call @kiln_conv_fwd_f32 descriptor = [{{.+}}, 1, 0, 0, 0] ins(%{{[^,]+}}, %{{[^,]+}}, %{{[^,]+}} : memref<2x6x6x3xf32>, memref<3x3x3x4xf32>, memref<4xf32>) outs(%[[D2:.+]] : memref<2x4x4x4xf32>){{$}}
// CHECK-NOT: linalg.generic
// CHECK: kiln_rt.kernel_call @kiln_max_pool_fwd_f32 {{.+}} ins(%[[D2]] :
func.func @forward(%w: tensor<3x3x3x4xf32> {kiln.param = "kernel", kiln.trainable}, %b: tensor<4xf32> {kiln.param = "bias", kiln.trainable}, %x: tensor<2x6x6x3xf32> {kiln.name = "x"}) -> (tensor<2x2x2x4xf32> {kiln.name = "y"}) {
  %c = kiln.conv %x, %w {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pad_low = array<i64: 0, 0>, pad_high = array<i64: 0, 0>} : tensor<2x6x6x3xf32>, tensor<3x3x3x4xf32> -> tensor<2x4x4x4xf32>
  %bb = kiln.broadcast_in_dim %b, dims = [3] : tensor<4xf32> -> tensor<2x4x4x4xf32>
  %s = kiln.add %c, %bb : tensor<2x4x4x4xf32>
  %r = kiln.relu %s : tensor<2x4x4x4xf32>
  %p = kiln.max_pool %r {window = array<i64: 2, 2>, strides = array<i64: 2, 2>, pad_low = array<i64: 0, 0>, pad_high = array<i64: 0, 0>} : tensor<2x4x4x4xf32> -> tensor<2x2x2x4xf32>
  return %p : tensor<2x2x2x4xf32>
}
