// RUN: kiln-opt %s --kiln-fuse-conv-epilogues -split-input-file | FileCheck %s
// RUN: kiln-opt %s --kiln-fuse-conv-epilogues --kiln-lower-kernel-calls -split-input-file | FileCheck %s --check-prefix=CALL

// The descriptors are kiln_conv_desc_t as int64 fields: spatial_rank,
// groups, batch, in_channels, out_channels, in_size[3], out_size[3],
// kernel[3], stride[3], dilation[3], pad_low[3], pad_high[3], epilogue
// (field 26), reserved[3].

#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#ch = affine_map<(d0, d1, d2, d3) -> (d3)>

// Tests that a forward convolution into a temporary C followed by
// D = relu(C + bias) becomes one kernel call writing D with the bias as its
// third operand (no null pointer left) and the relu epilogue (1) in the
// descriptor; the generic and C's buffer disappear. Lowered, the bias
// pointer is the bias argument's, not a null pointer.
// CHECK-LABEL: func.func @bias_relu
// CHECK-SAME: (%[[X:.+]]: memref<2x6x6x3xf32>, %[[W:.+]]: memref<3x3x3x4xf32>, %[[BIAS:.+]]: memref<4xf32>, %[[D:.+]]: memref<2x4x4x4xf32>)
// CHECK-NOT: memref.alloc
// CHECK: kiln_rt.kernel_call @kiln_conv_fwd_f32 descriptor = [2, 1, 2, 3, 4, 6, 6, 1, 4, 4, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0] ins(%[[X]], %[[W]], %[[BIAS]] : memref<2x6x6x3xf32>, memref<3x3x3x4xf32>, memref<4xf32>) outs(%[[D]] : memref<2x4x4x4xf32>){{$}}
// CHECK-NOT: linalg.generic
// CHECK: return
// CALL: llvm.mlir.global private unnamed_addr constant @[[DESC:__kiln_desc_[0-9]+]](dense<[2, 1, 2, 3, 4, 6, 6, 1, 4, 4, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]>
// CALL-LABEL: func.func @bias_relu
// CALL-NOT: llvm.mlir.zero
// CALL: call @kiln_conv_fwd_f32
// CALL-NEXT: return
func.func @bias_relu(%x: memref<2x6x6x3xf32>, %w: memref<3x3x3x4xf32>, %bias: memref<4xf32>, %d: memref<2x4x4x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() {alignment = 64 : i64} : memref<2x4x4x4xf32>
  kiln_rt.kernel_call @kiln_conv_fwd_f32 descriptor = [2, 1, 2, 3, 4, 6, 6, 1, 4, 4, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] ins(%x, %w : memref<2x6x6x3xf32>, memref<3x3x3x4xf32>) outs(%c : memref<2x4x4x4xf32>) {null_pointers = array<i64: 2>}
  linalg.generic {indexing_maps = [#id, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%c, %bias : memref<2x4x4x4xf32>, memref<4xf32>) outs(%d : memref<2x4x4x4xf32>) {
  ^bb0(%in: f32, %b: f32, %out: f32):
    %s = arith.addf %in, %b : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#ch = affine_map<(d0, d1, d2) -> (d2)>

// Tests an f64 1-D convolution with bias + tanh (3) whose output D is
// allocated between the call and the epilogue: the fused call goes where
// the epilogue was, after D's allocation.
// CHECK-LABEL: func.func @bias_tanh_f64
// CHECK: %[[D:.+]] = memref.alloc() : memref<1x4x2xf64>
// CHECK-NEXT: kiln_rt.kernel_call @kiln_conv_fwd_f64 descriptor = [1, 1, 1, 1, 2, 5, 1, 1, 4, 1, 1, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0] ins(%{{.+}}, %{{.+}}, %{{.+}} : memref<1x5x1xf64>, memref<2x1x2xf64>, memref<2xf64>) outs(%[[D]] : memref<1x4x2xf64>){{$}}
// CHECK-NOT: linalg.generic
func.func @bias_tanh_f64(%x: memref<1x5x1xf64>, %w: memref<2x1x2xf64>, %bias: memref<2xf64>) -> memref<1x4x2xf64> {
  %c = memref.alloc() : memref<1x4x2xf64>
  kiln_rt.kernel_call @kiln_conv_fwd_f64 descriptor = [1, 1, 1, 1, 2, 5, 1, 1, 4, 1, 1, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] ins(%x, %w : memref<1x5x1xf64>, memref<2x1x2xf64>) outs(%c : memref<1x4x2xf64>) {null_pointers = array<i64: 2>}
  %d = memref.alloc() : memref<1x4x2xf64>
  linalg.generic {indexing_maps = [#id, #ch, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%c, %bias : memref<1x4x2xf64>, memref<2xf64>) outs(%d : memref<1x4x2xf64>) {
  ^bb0(%in: f64, %b: f64, %out: f64):
    %s = arith.addf %b, %in : f64
    %t = math.tanh %s : f64
    linalg.yield %t : f64
  }
  return %d : memref<1x4x2xf64>
}

// -----

#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>

// Tests a relu without bias updating C in place: the call keeps its null
// bias pointer and gets the relu epilogue.
// CHECK-LABEL: func.func @relu_in_place
// CHECK: kiln_rt.kernel_call @kiln_conv_fwd_f32 descriptor = [1, 1, 1, 1, 2, 5, 1, 1, 4, 1, 1, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0] ins(%{{.+}}, %{{.+}} : memref<1x5x1xf32>, memref<2x1x2xf32>) outs(%{{.+}} : memref<1x4x2xf32>) {null_pointers = array<i64: 2>}
// CHECK-NOT: linalg.generic
func.func @relu_in_place(%x: memref<1x5x1xf32>, %w: memref<2x1x2xf32>, %c: memref<1x4x2xf32>) {
  %zero = arith.constant 0.0 : f32
  kiln_rt.kernel_call @kiln_conv_fwd_f32 descriptor = [1, 1, 1, 1, 2, 5, 1, 1, 4, 1, 1, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] ins(%x, %w : memref<1x5x1xf32>, memref<2x1x2xf32>) outs(%c : memref<1x4x2xf32>) {null_pointers = array<i64: 2>}
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%c : memref<1x4x2xf32>) outs(%c : memref<1x4x2xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maximumf %in, %zero : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#ch = affine_map<(d0, d1, d2) -> (d2)>

// Tests that the raw convolution is kept when something else reads C (as
// the relu gradient reads the pre-activation in a training step): the call
// still writes C with a null bias and epilogue 0, and the generic stays.
// CHECK-LABEL: func.func @conv_used_twice
// CHECK: kiln_rt.kernel_call @kiln_conv_fwd_f32 descriptor = [1, 1, 1, 1, 2, 5, 1, 1, 4, 1, 1, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] ins(%{{.+}}, %{{.+}} : memref<1x5x1xf32>, memref<2x1x2xf32>) outs(%[[C:.+]] : memref<1x4x2xf32>) {null_pointers = array<i64: 2>}
// CHECK: linalg.generic {{.+}} ins(%[[C]], %{{.+}} : memref<1x4x2xf32>, memref<2xf32>)
// CHECK: memref.copy %[[C]]
func.func @conv_used_twice(%x: memref<1x5x1xf32>, %w: memref<2x1x2xf32>, %bias: memref<2xf32>, %d: memref<1x4x2xf32>, %e: memref<1x4x2xf32>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<1x4x2xf32>
  kiln_rt.kernel_call @kiln_conv_fwd_f32 descriptor = [1, 1, 1, 1, 2, 5, 1, 1, 4, 1, 1, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] ins(%x, %w : memref<1x5x1xf32>, memref<2x1x2xf32>) outs(%c : memref<1x4x2xf32>) {null_pointers = array<i64: 2>}
  linalg.generic {indexing_maps = [#id, #ch, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%c, %bias : memref<1x4x2xf32>, memref<2xf32>) outs(%d : memref<1x4x2xf32>) {
  ^bb0(%in: f32, %b: f32, %out: f32):
    %s = arith.addf %in, %b : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  }
  memref.copy %c, %e : memref<1x4x2xf32> to memref<1x4x2xf32>
  return
}

// -----

#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#ch = affine_map<(d0, d1, d2) -> (d2)>

// Tests that an activation the kernel cannot apply (exp) is not fused.
// CHECK-LABEL: func.func @unsupported_activation
// CHECK: kiln_rt.kernel_call @kiln_conv_fwd_f32 descriptor = [{{.+}}, 0, 0, 0, 0] ins({{.+}}) outs(%[[C:.+]] : memref<1x4x2xf32>) {null_pointers = array<i64: 2>}
// CHECK: linalg.generic {{.+}} ins(%[[C]], %{{.+}} : memref<1x4x2xf32>, memref<2xf32>)
// CHECK: math.exp
func.func @unsupported_activation(%x: memref<1x5x1xf32>, %w: memref<2x1x2xf32>, %bias: memref<2xf32>, %d: memref<1x4x2xf32>) {
  %c = memref.alloc() : memref<1x4x2xf32>
  kiln_rt.kernel_call @kiln_conv_fwd_f32 descriptor = [1, 1, 1, 1, 2, 5, 1, 1, 4, 1, 1, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] ins(%x, %w : memref<1x5x1xf32>, memref<2x1x2xf32>) outs(%c : memref<1x4x2xf32>) {null_pointers = array<i64: 2>}
  linalg.generic {indexing_maps = [#id, #ch, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%c, %bias : memref<1x4x2xf32>, memref<2xf32>) outs(%d : memref<1x4x2xf32>) {
  ^bb0(%in: f32, %b: f32, %out: f32):
    %s = arith.addf %in, %b : f32
    %e = math.exp %s : f32
    linalg.yield %e : f32
  }
  return
}

// -----

#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#sp = affine_map<(d0, d1, d2) -> (d1)>
#ch = affine_map<(d0, d1, d2) -> (d2)>

// Tests that a bias over another axis than the channel (here the spatial
// one) is not fused, nor is the backward data kernel.
// CHECK-LABEL: func.func @not_the_channel
// CHECK: kiln_rt.kernel_call @kiln_conv_fwd_f32 {{.+}} {null_pointers = array<i64: 2>}
// CHECK: linalg.generic
// CHECK-LABEL: func.func @backward_data
// CHECK: kiln_rt.kernel_call @kiln_conv_bwd_data_f32 descriptor = [{{.+}}, 0, 0, 0, 0] ins
// CHECK: linalg.generic
func.func @not_the_channel(%x: memref<1x5x1xf32>, %w: memref<2x1x2xf32>, %bias: memref<4xf32>, %d: memref<1x4x2xf32>) {
  %c = memref.alloc() : memref<1x4x2xf32>
  kiln_rt.kernel_call @kiln_conv_fwd_f32 descriptor = [1, 1, 1, 1, 2, 5, 1, 1, 4, 1, 1, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] ins(%x, %w : memref<1x5x1xf32>, memref<2x1x2xf32>) outs(%c : memref<1x4x2xf32>) {null_pointers = array<i64: 2>}
  linalg.generic {indexing_maps = [#id, #sp, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%c, %bias : memref<1x4x2xf32>, memref<4xf32>) outs(%d : memref<1x4x2xf32>) {
  ^bb0(%in: f32, %b: f32, %out: f32):
    %s = arith.addf %in, %b : f32
    linalg.yield %s : f32
  }
  return
}
func.func @backward_data(%dy: memref<1x4x2xf32>, %w: memref<2x1x2xf32>, %bias: memref<1xf32>, %d: memref<1x5x1xf32>) {
  %c = memref.alloc() : memref<1x5x1xf32>
  kiln_rt.kernel_call @kiln_conv_bwd_data_f32 descriptor = [1, 1, 1, 1, 2, 5, 1, 1, 4, 1, 1, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] ins(%dy, %w : memref<1x4x2xf32>, memref<2x1x2xf32>) outs(%c : memref<1x5x1xf32>)
  linalg.generic {indexing_maps = [#id, #ch, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%c, %bias : memref<1x5x1xf32>, memref<1xf32>) outs(%d : memref<1x5x1xf32>) {
  ^bb0(%in: f32, %b: f32, %out: f32):
    %s = arith.addf %in, %b : f32
    linalg.yield %s : f32
  }
  return
}
