// Tests that the bufferized stage rejects tensors, allocations and an entry
// point without the region signature.
// expected-error @+1 {{entry point @bufferized_stage does not have the region signature}}
func.func @bufferized_stage(%x: memref<4xf32>) {
  // expected-error @+1 {{'memref.alloc' is not allowed in the bufferized stage}}
  %a = memref.alloc() : memref<4xf32>
  // expected-error @+1 {{result 0 has type 'tensor<4xf32>'; the bufferized stage has no tensors}}
  %t = bufferization.to_tensor %x : memref<4xf32>
  return
}
