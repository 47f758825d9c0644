// RUN: kiln-opt %s -split-input-file --kiln-verify-stage=stage=forward -verify-diagnostics | FileCheck %s

// The forward-stage contract (passes/Passes.td, docs/architecture.md): only
// kiln, func and arith.constant ops; every value a statically shaped tensor
// of a kiln element type. Valid modules pass through unchanged; every
// offender gets its own diagnostic.

// Tests that a module meeting the forward contract passes unchanged.
// CHECK-LABEL: func.func @forward(
// CHECK-SAME: %[[X:[^:]+]]: tensor<8x4xf32>, %[[W:[^:]+]]: tensor<4x2xf32>, %[[L:[^:]+]]: tensor<8xi64>
// CHECK: %[[B:.+]] = arith.constant dense<{{.*}}> : tensor<8x2xf32>
// CHECK: %[[M:.+]] = kiln.matmul %[[X]], %[[W]]
// CHECK: %[[Y:.+]] = kiln.add %[[M]], %[[B]]
// CHECK: %[[LOSS:.+]] = kiln.sparse_categorical_crossentropy %[[Y]], %[[L]]
// CHECK: return %[[Y]], %[[LOSS]]
func.func @forward(%x: tensor<8x4xf32>, %w: tensor<4x2xf32>, %labels: tensor<8xi64>)
    -> (tensor<8x2xf32>, tensor<f32>) {
  %bias = arith.constant dense<0.5> : tensor<8x2xf32>
  %ones = kiln.constant dense<1.0> : tensor<8xf32>
  %0 = kiln.matmul %x, %w : tensor<8x4xf32>, tensor<4x2xf32> -> tensor<8x2xf32>
  %1 = kiln.add %0, %bias : tensor<8x2xf32>
  %2 = kiln.sparse_categorical_crossentropy %1, %labels, %ones {from_logits = true}
      : tensor<8x2xf32>, tensor<8xi64>, tensor<8xf32> -> tensor<f32>
  return %1, %2 : tensor<8x2xf32>, tensor<f32>
}

// -----

// Tests that f64 data and i1 masks are accepted (all kiln element types).
// CHECK-LABEL: func.func @forward_f64_mask(
// CHECK: kiln.select
func.func @forward_f64_mask(%a: tensor<4xf64>, %b: tensor<4xf64>) -> tensor<4xf64> {
  %m = kiln.compare gt, %a, %b : tensor<4xf64>
  %0 = kiln.select %m, %a, %b : tensor<4xi1>, tensor<4xf64>
  return %0 : tensor<4xf64>
}

// -----

// Tests that a dynamically shaped argument is reported.
// expected-error @+1 {{argument 0 of 'func.func' has type 'tensor<?x4xf32>'; the forward stage needs static shapes}}
func.func @dynamic_argument(%x: tensor<?x4xf32>) -> tensor<2xf32> {
  %0 = kiln.constant dense<0.0> : tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// Tests that a static tensor of an element type kiln does not handle is
// reported.
// expected-error @+1 {{argument 1 of 'func.func' has type 'tensor<4xf16>'; the forward stage needs static shapes}}
func.func @f16_argument(%x: tensor<4xf32>, %h: tensor<4xf16>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

// Tests that an op outside kiln, func and arith.constant is reported.
func.func @math_exp(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'math.exp' is not allowed in the forward stage}}
  %0 = math.exp %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that arith ops other than arith.constant are reported.
func.func @arith_addf(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'arith.addf' is not allowed in the forward stage}}
  %0 = arith.addf %x, %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that every offender in a function is reported, not only the first.
func.func @two_offenders(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'math.exp' is not allowed in the forward stage}}
  %0 = math.exp %x : tensor<4xf32>
  // expected-error @+1 {{'tensor.empty' is not allowed in the forward stage}}
  %1 = tensor.empty() : tensor<4xf32>
  %2 = kiln.add %0, %1 : tensor<4xf32>
  return %2 : tensor<4xf32>
}

// -----

// Tests that an attribute of a later stage is reported in the forward stage
// (its type is right: the dialect verifier accepts it).
// expected-error @+1 {{@updated_in_forward: argument 0 has the attribute 'kiln.updated', which the forward stage does not allow}}
func.func @updated_in_forward(%a: tensor<4xf32> {kiln.updated}) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that a state argument updated by two results is reported (by the
// dialect's attribute verifier, before any stage check).
// expected-error @+1 {{result 2: 'kiln.state_update_of' = 0 repeats result 1}}
func.func @state_twice(%s: tensor<4xf32> {kiln.param = "s", kiln.state}, %x: tensor<4xf32>)
    -> (tensor<4xf32>, tensor<4xf32> {kiln.state_update_of = 0 : i64},
        tensor<4xf32> {kiln.state_update_of = 0 : i64}) {
  %0 = kiln.relu %x : tensor<4xf32>
  return %0, %x, %0 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}
