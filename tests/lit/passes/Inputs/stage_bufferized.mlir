// Tests that the bufferized stage rejects tensors, allocations, kernel calls
// left as kiln_rt ops and an entry point without the region signature.
// expected-error @+1 {{entry point @bufferized_stage does not have the region signature}}
func.func @bufferized_stage(%x: memref<4xf32>) {
  // expected-error @+1 {{'memref.alloc' is not allowed in the bufferized stage}}
  %a = memref.alloc() : memref<4xf32>
  // expected-error @+1 {{result 0 has type 'tensor<4xf32>'; the bufferized stage has no tensors}}
  %t = bufferization.to_tensor %x : memref<4xf32>
  // expected-error @+1 {{'kiln_rt.kernel_call' is not allowed in the bufferized stage (all memory is planned into the regions and kernel calls are C calls)}}
  kiln_rt.kernel_call @kiln_max_pool_fwd_f32 descriptor = [1] ins(%x : memref<4xf32>) outs(%a : memref<4xf32>)
  return
}
