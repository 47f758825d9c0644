// Tests that the linalg stage rejects a kiln op left unlowered and a memref.
// expected-error @+1 {{block argument 1 has type 'memref<4xf32>'; the linalg stage has no memrefs}}
func.func @linalg_stage(%x: tensor<4xf32>, %m: memref<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.relu' is not allowed in the linalg stage (every kiln op is lowered)}}
  %0 = kiln.relu %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}
