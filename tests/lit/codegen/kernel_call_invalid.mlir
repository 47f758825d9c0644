// RUN: kiln-opt %s -split-input-file -verify-diagnostics

// The kiln_rt.kernel_call verifier.

// Tests that tensor and memref operands cannot be mixed.
func.func @mixed(%x: tensor<4xf32>, %y: memref<4xf32>) {
  // expected-error @+1 {{operands must be all tensors or all memrefs}}
  kiln_rt.kernel_call @k descriptor = [1] ins(%x : tensor<4xf32>) outs(%y : memref<4xf32>)
  return
}

// -----

// Tests that the tensor form returns one result per output, of its type.
func.func @results(%x: tensor<4xf32>, %y: tensor<4xf32>) {
  // expected-error @+1 {{on tensors returns one result of each output's type}}
  kiln_rt.kernel_call @k descriptor = [1] ins(%x : tensor<4xf32>) outs(%y : tensor<4xf32>)
  return
}

// -----

// Tests that a descriptor is required.
func.func @no_descriptor(%x: memref<4xf32>, %y: memref<4xf32>) {
  // expected-error @+1 {{needs a descriptor}}
  kiln_rt.kernel_call @k descriptor = [] ins(%x : memref<4xf32>) outs(%y : memref<4xf32>)
  return
}

// -----

// Tests that null pointer positions are increasing and in range (2 inputs
// and outputs plus 1 null: positions 0..2).
func.func @null_range(%x: memref<4xf32>, %y: memref<4xf32>) {
  // expected-error @+1 {{null_pointers must be increasing positions below 3}}
  kiln_rt.kernel_call @k descriptor = [1] ins(%x : memref<4xf32>) outs(%y : memref<4xf32>) {null_pointers = array<i64: 3>}
  return
}
