// RUN: kiln-opt %s --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" -split-input-file | FileCheck %s --check-prefix=BUF

// kiln_rt.kernel_call bufferization: the kernels take dense row-major
// buffers, so a strided operand is copied into a fresh buffer (inputs) or
// written through one and copied back (outputs); a contiguous slice (one
// batch row) is passed as it is, offset included.

// Tests that strided slices are copied in and out around the call.
// BUF-LABEL: func.func @strided_slices
// BUF: %[[IN:.+]] = memref.subview %arg0[0, 0, 0] [2, 4, 3] [1, 2, 1]
// BUF: %[[OUT:.+]] = memref.subview %arg1[0, 0, 0] [2, 4, 3] [1, 2, 1]
// BUF: %[[DIN:.+]] = memref.alloc() {{.*}}: memref<2x4x3xf32>
// BUF: memref.copy %[[IN]], %[[DIN]]
// BUF: %[[DOUT:.+]] = memref.alloc() {{.*}}: memref<2x4x3xf32>
// BUF: kiln_rt.kernel_call @kiln_avg_pool_fwd_f32 descriptor = [{{.*}}] ins(%[[DIN]] : memref<2x4x3xf32>) outs(%[[DOUT]] : memref<2x4x3xf32>)
// BUF-NEXT: memref.copy %[[DOUT]], %[[OUT]]
func.func @strided_slices(%x: tensor<2x8x3xf32>, %big: tensor<2x8x3xf32>) -> tensor<2x8x3xf32> {
  %s = tensor.extract_slice %x[0, 0, 0] [2, 4, 3] [1, 2, 1] : tensor<2x8x3xf32> to tensor<2x4x3xf32>
  %o = tensor.extract_slice %big[0, 0, 0] [2, 4, 3] [1, 2, 1] : tensor<2x8x3xf32> to tensor<2x4x3xf32>
  %r = kiln_rt.kernel_call @kiln_avg_pool_fwd_f32 descriptor = [1, 2, 3, 4, 1, 1, 4, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] ins(%s : tensor<2x4x3xf32>) outs(%o : tensor<2x4x3xf32>) -> tensor<2x4x3xf32>
  %i = tensor.insert_slice %r into %big[0, 0, 0] [2, 4, 3] [1, 2, 1] : tensor<2x4x3xf32> into tensor<2x8x3xf32>
  return %i : tensor<2x8x3xf32>
}

// -----

// Tests that a contiguous slice is passed without a copy.
// BUF-LABEL: func.func @contiguous_slice
// BUF: %[[IN:.+]] = memref.subview %arg0[1, 0, 0] [1, 8, 3] [1, 1, 1] : memref<2x8x3xf32> to memref<1x8x3xf32, strided<[24, 3, 1], offset: 24>>
// BUF-NOT: memref.copy
// BUF: kiln_rt.kernel_call @kiln_max_pool_fwd_f32 descriptor = [{{.*}}] ins(%[[IN]] : memref<1x8x3xf32, strided<[24, 3, 1], offset: 24>>) outs(%{{.+}} : memref<1x4x3xf32>)
// BUF-NOT: memref.copy
func.func @contiguous_slice(%x: tensor<2x8x3xf32>) -> tensor<1x4x3xf32> {
  %s = tensor.extract_slice %x[1, 0, 0] [1, 8, 3] [1, 1, 1] : tensor<2x8x3xf32> to tensor<1x8x3xf32>
  %e = tensor.empty() : tensor<1x4x3xf32>
  %r = kiln_rt.kernel_call @kiln_max_pool_fwd_f32 descriptor = [1, 1, 3, 8, 1, 1, 4, 1, 1, 2, 1, 1, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] ins(%s : tensor<1x8x3xf32>) outs(%e : tensor<1x4x3xf32>) -> tensor<1x4x3xf32>
  return %r : tensor<1x4x3xf32>
}
