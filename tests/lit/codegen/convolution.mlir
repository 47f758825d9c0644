// RUN: kiln-opt %s --convert-kiln-to-linalg -split-input-file | FileCheck %s
// RUN: kiln-opt %s --convert-kiln-to-linalg --one-shot-bufferize="bufferize-function-boundaries" -split-input-file | FileCheck %s --check-prefix=BUF
// RUN: kiln-opt %s --kiln-lower-to-linalg --kiln-bufferize -split-input-file | FileCheck %s --check-prefix=CALL

// Convolutions and pooling become kiln_rt.kernel_call ops of the runtime
// kernels (runtime.h) into a tensor.empty, with the descriptor struct as an
// i64 array: kiln_conv_desc_t is (spatial_rank, groups, batch, in_channels,
// out_channels, in_size[3], out_size[3], kernel[3], stride[3], dilation[3],
// pad_low[3], pad_high[3], epilogue, reserved[3]), unused spatial entries 1
// (sizes, kernel, stride, dilation) or 0 (pads).

// Tests the forward convolution: a strided, dilated, asymmetrically padded,
// grouped 2-D conv calls kiln_conv_fwd_f32 with a null bias (pointer 2).
// CHECK-LABEL: func.func @conv_f32
// CHECK: %[[E:.+]] = tensor.empty() : tensor<2x4x8x6xf32>
// CHECK: %[[R:.+]] = kiln_rt.kernel_call @kiln_conv_fwd_f32 descriptor = [2, 2, 2, 4, 6, 8, 7, 1, 4, 8, 1, 3, 2, 1, 2, 1, 1, 1, 2, 1, 1, 1, 0, 0, 2, 0, 0, 0, 0, 0] ins(%arg0, %arg1 : tensor<2x8x7x4xf32>, tensor<3x2x2x6xf32>) outs(%[[E]] : tensor<2x4x8x6xf32>) {null_pointers = array<i64: 2>} -> tensor<2x4x8x6xf32>
// CHECK: return %[[R]]
// BUF-LABEL: func.func @conv_f32
// BUF: %[[A:.+]] = memref.alloc() {{.*}}: memref<2x4x8x6xf32>
// BUF: kiln_rt.kernel_call @kiln_conv_fwd_f32 descriptor = [{{.*}}] ins(%{{.+}}, %{{.+}} : memref<2x8x7x4xf32>, memref<3x2x2x6xf32>) outs(%[[A]] : memref<2x4x8x6xf32>) {null_pointers = array<i64: 2>}
// BUF-NOT: memref.copy
// BUF: return %[[A]]
// CALL: func.func private @kiln_conv_fwd_f32(!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr)
// CALL: llvm.mlir.global private unnamed_addr constant @__kiln_desc_0(dense<[2, 2, 2, 4, 6, 8, 7, 1, 4, 8, 1, 3, 2, 1, 2, 1, 1, 1, 2, 1, 1, 1, 0, 0, 2, 0, 0, 0, 0, 0]> : tensor<30xi64>)
// CALL-SAME: !llvm.array<30 x i64>
// CALL-LABEL: func.func @conv_f32
// CALL: %[[D:.+]] = llvm.mlir.addressof @__kiln_desc_0 : !llvm.ptr
// CALL: %[[NULL:.+]] = llvm.mlir.zero : !llvm.ptr
// CALL: call @kiln_conv_fwd_f32(%[[D]], %{{.+}}, %{{.+}}, %[[NULL]], %{{.+}}) : (!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> ()
// CALL-NOT: kiln_rt
func.func @conv_f32(%x: tensor<2x8x7x4xf32>, %w: tensor<3x2x2x6xf32>) -> tensor<2x4x8x6xf32> {
  %y = kiln.conv %x, %w {strides = array<i64: 2, 1>, dilations = array<i64: 1, 2>, pad_low = array<i64: 1, 1>, pad_high = array<i64: 0, 2>, groups = 2 : i64} : tensor<2x8x7x4xf32>, tensor<3x2x2x6xf32> -> tensor<2x4x8x6xf32>
  return %y : tensor<2x4x8x6xf32>
}

// -----

// Tests the two gradients in f64: conv_transpose is kiln_conv_bwd_data_f64
// with the convolution's sizes (in_size = the result's [8, 7], out_size =
// the operand's [4, 8]), conv_filter_grad is kiln_conv_bwd_filter_f64 with
// the kernel from its result; both descriptors are the forward one.
// CHECK-LABEL: func.func @conv_grads_f64
// CHECK: kiln_rt.kernel_call @kiln_conv_bwd_data_f64 descriptor = [2, 2, 2, 4, 6, 8, 7, 1, 4, 8, 1, 3, 2, 1, 2, 1, 1, 1, 2, 1, 1, 1, 0, 0, 2, 0, 0, 0, 0, 0] ins(%arg1, %arg2 : tensor<2x4x8x6xf64>, tensor<3x2x2x6xf64>) outs(%{{.+}} : tensor<2x8x7x4xf64>) -> tensor<2x8x7x4xf64>
// CHECK: kiln_rt.kernel_call @kiln_conv_bwd_filter_f64 descriptor = [2, 2, 2, 4, 6, 8, 7, 1, 4, 8, 1, 3, 2, 1, 2, 1, 1, 1, 2, 1, 1, 1, 0, 0, 2, 0, 0, 0, 0, 0] ins(%arg0, %arg1 : tensor<2x8x7x4xf64>, tensor<2x4x8x6xf64>) outs(%{{.+}} : tensor<3x2x2x6xf64>) -> tensor<3x2x2x6xf64>
// CALL-LABEL: func.func @conv_grads_f64
// CALL: %[[D:.+]] = llvm.mlir.addressof @__kiln_desc_0 : !llvm.ptr
// CALL: call @kiln_conv_bwd_data_f64(%[[D]], %{{.+}}, %{{.+}}, %{{.+}}) : (!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> ()
// CALL: %[[D2:.+]] = llvm.mlir.addressof @__kiln_desc_0 : !llvm.ptr
// CALL: call @kiln_conv_bwd_filter_f64(%[[D2]], %{{.+}}, %{{.+}}, %{{.+}}) : (!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> ()
func.func @conv_grads_f64(%x: tensor<2x8x7x4xf64>, %dy: tensor<2x4x8x6xf64>, %w: tensor<3x2x2x6xf64>) -> (tensor<2x8x7x4xf64>, tensor<3x2x2x6xf64>) {
  %dx = kiln.conv_transpose %dy, %w {strides = array<i64: 2, 1>, dilations = array<i64: 1, 2>, pad_low = array<i64: 1, 1>, pad_high = array<i64: 0, 2>, groups = 2 : i64} : tensor<2x4x8x6xf64>, tensor<3x2x2x6xf64> -> tensor<2x8x7x4xf64>
  %dw = kiln.conv_filter_grad %x, %dy {strides = array<i64: 2, 1>, dilations = array<i64: 1, 2>, pad_low = array<i64: 1, 1>, pad_high = array<i64: 0, 2>, groups = 2 : i64} : tensor<2x8x7x4xf64>, tensor<2x4x8x6xf64> -> tensor<3x2x2x6xf64>
  return %dx, %dw : tensor<2x8x7x4xf64>, tensor<3x2x2x6xf64>
}

// -----

// Tests pooling: kiln_pool_desc_t is (spatial_rank, batch, channels,
// in_size[3], out_size[3], window[3], stride[3], pad_low[3], pad_high[3],
// count_include_pad, reserved[3]). A 1-D max pool and its gradient (in_size
// the input's, out_size the output gradient's), an avg pool with
// count_include_pad and ceil_mode (the output size is the op's), and its
// gradient (in_size from the result).
// CHECK-LABEL: func.func @pool_f32
// CHECK: kiln_rt.kernel_call @kiln_max_pool_fwd_f32 descriptor = [1, 2, 3, 9, 1, 1, 5, 1, 1, 3, 1, 1, 2, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0] ins(%arg0 : tensor<2x9x3xf32>) outs(%{{.+}} : tensor<2x5x3xf32>) -> tensor<2x5x3xf32>
// CHECK: kiln_rt.kernel_call @kiln_max_pool_bwd_f32 descriptor = [1, 2, 3, 9, 1, 1, 5, 1, 1, 3, 1, 1, 2, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0] ins(%arg0, %arg1 : tensor<2x9x3xf32>, tensor<2x5x3xf32>) outs(%{{.+}} : tensor<2x9x3xf32>) -> tensor<2x9x3xf32>
// CHECK: kiln_rt.kernel_call @kiln_avg_pool_fwd_f32 descriptor = [1, 2, 3, 9, 1, 1, 5, 1, 1, 3, 1, 1, 2, 1, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0] ins(%arg0 : tensor<2x9x3xf32>) outs(%{{.+}} : tensor<2x5x3xf32>) -> tensor<2x5x3xf32>
// CHECK: kiln_rt.kernel_call @kiln_avg_pool_bwd_f32 descriptor = [1, 2, 3, 9, 1, 1, 5, 1, 1, 3, 1, 1, 2, 1, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0] ins(%arg1 : tensor<2x5x3xf32>) outs(%{{.+}} : tensor<2x9x3xf32>) -> tensor<2x9x3xf32>
// Two distinct descriptors, two globals; every call is a C call.
// CALL-DAG: llvm.mlir.global private unnamed_addr constant @__kiln_desc_0(dense<[1, 2, 3, 9, 1, 1, 5, 1, 1, 3, 1, 1, 2, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]> : tensor<25xi64>)
// CALL-DAG: llvm.mlir.global private unnamed_addr constant @__kiln_desc_1(dense<[1, 2, 3, 9, 1, 1, 5, 1, 1, 3, 1, 1, 2, 1, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0]> : tensor<25xi64>)
// CALL-LABEL: func.func @pool_f32
// CALL: call @kiln_max_pool_fwd_f32(%{{.+}}, %{{.+}}, %{{.+}}) : (!llvm.ptr, !llvm.ptr, !llvm.ptr) -> ()
// CALL: call @kiln_max_pool_bwd_f32(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}) : (!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> ()
// CALL: call @kiln_avg_pool_fwd_f32(%{{.+}}, %{{.+}}, %{{.+}}) : (!llvm.ptr, !llvm.ptr, !llvm.ptr) -> ()
// CALL: call @kiln_avg_pool_bwd_f32(%{{.+}}, %{{.+}}, %{{.+}}) : (!llvm.ptr, !llvm.ptr, !llvm.ptr) -> ()
func.func @pool_f32(%x: tensor<2x9x3xf32>, %dy: tensor<2x5x3xf32>) -> (tensor<2x5x3xf32>, tensor<2x9x3xf32>, tensor<2x5x3xf32>, tensor<2x9x3xf32>) {
  %m = kiln.max_pool %x {window = array<i64: 3>, strides = array<i64: 2>, pad_low = array<i64: 1>, pad_high = array<i64: 1>} : tensor<2x9x3xf32> -> tensor<2x5x3xf32>
  %dm = kiln.max_pool_grad %x, %dy {window = array<i64: 3>, strides = array<i64: 2>, pad_low = array<i64: 1>, pad_high = array<i64: 1>} : tensor<2x9x3xf32>, tensor<2x5x3xf32> -> tensor<2x9x3xf32>
  %a = kiln.avg_pool %x {window = array<i64: 3>, strides = array<i64: 2>, pad_low = array<i64: 1>, pad_high = array<i64: 1>, count_include_pad = true, ceil_mode = true} : tensor<2x9x3xf32> -> tensor<2x5x3xf32>
  %da = kiln.avg_pool_grad %dy {window = array<i64: 3>, strides = array<i64: 2>, pad_low = array<i64: 1>, pad_high = array<i64: 1>, count_include_pad = true, ceil_mode = true} : tensor<2x5x3xf32> -> tensor<2x9x3xf32>
  return %m, %dm, %a, %da : tensor<2x5x3xf32>, tensor<2x9x3xf32>, tensor<2x5x3xf32>, tensor<2x9x3xf32>
}
