// Tests that the linalg stage rejects a kiln op left unlowered and a memref.
// expected-error @+1 {{block argument 1 has type 'memref<4xf32>'; the linalg stage has no memrefs}}
func.func @linalg_stage(%x: tensor<4xf32>, %m: memref<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.relu' is not allowed in the linalg stage (every kiln op is lowered)}}
  %0 = kiln.relu %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// Tests that a runtime kernel call on tensors is allowed in the linalg stage.
func.func @kernel_call(%x: tensor<1x4x2xf32>) -> tensor<1x2x2xf32> {
  %e = tensor.empty() : tensor<1x2x2xf32>
  %r = kiln_rt.kernel_call @kiln_max_pool_fwd_f32 descriptor = [1, 1, 2, 4, 1, 1, 2, 1, 1, 2, 1, 1, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] ins(%x : tensor<1x4x2xf32>) outs(%e : tensor<1x2x2xf32>) -> tensor<1x2x2xf32>
  return %r : tensor<1x2x2xf32>
}
