// RUN: kiln-opt %s -split-input-file --kiln-fuse-elementwise | FileCheck %s

#id = affine_map<(d0, d1) -> (d0, d1)>
#scalar = affine_map<(d0, d1) -> ()>

// Tests that a cheap producer with two users is fused into both (its work
// recomputed) instead of stored: the optimizer pattern m' = f(g);
// w' = h(w, m'), where m' is also a result.
// CHECK-LABEL: func.func @shared_producer
// CHECK: %[[M:.+]] = linalg.generic
// CHECK: arith.mulf
// CHECK: %[[W:.+]] = linalg.generic
// CHECK-SAME: ins(%{{.+}}, %{{.+}} : tensor<4x8xf32>, tensor<4x8xf32>)
// CHECK: arith.mulf
// CHECK: arith.subf
// CHECK: return %[[M]], %[[W]]
func.func @shared_producer(%g: tensor<4x8xf32>, %w: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %c = arith.constant 0.5 : f32
  %e = tensor.empty() : tensor<4x8xf32>
  %m = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%g : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%x: f32, %o: f32):
    %r = arith.mulf %x, %c : f32
    linalg.yield %r : f32
  } -> tensor<4x8xf32>
  %n = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%w, %m : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.subf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<4x8xf32>
  return %m, %n : tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#scalar = affine_map<(d0, d1) -> ()>
#s0 = affine_map<() -> ()>

// Tests that a scalar producer read through a broadcast is not fused: the
// expensive math.powf runs once, not once per element.
// CHECK-LABEL: func.func @broadcast_scalar
// CHECK: %[[S:.+]] = linalg.generic {{.+}} iterator_types = []
// CHECK: math.powf
// CHECK: linalg.generic {{.+}} ins(%{{.+}}, %[[S]] : tensor<4x8xf32>, tensor<f32>)
// CHECK-NOT: math.powf
func.func @broadcast_scalar(%w: tensor<4x8xf32>, %t: tensor<f32>) -> tensor<4x8xf32> {
  %c = arith.constant 0.9 : f32
  %e0 = tensor.empty() : tensor<f32>
  %s = linalg.generic {indexing_maps = [#s0, #s0], iterator_types = []}
      ins(%t : tensor<f32>) outs(%e0 : tensor<f32>) {
  ^bb0(%x: f32, %o: f32):
    %p = math.powf %c, %x : f32
    linalg.yield %p : f32
  } -> tensor<f32>
  %e = tensor.empty() : tensor<4x8xf32>
  %r = linalg.generic {indexing_maps = [#id, #scalar, #id], iterator_types = ["parallel", "parallel"]}
      ins(%w, %s : tensor<4x8xf32>, tensor<f32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %q = arith.mulf %a, %b : f32
    linalg.yield %q : f32
  } -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

// Tests the cap on fused bodies (max-fused-ops): a chain of four
// single-use elementwise ops of two body ops each (op + yield) fuses into
// bodies of at most 4 ops, so the chain stays two generics instead of one
// whose body grows with the chain (quadratic fusion and LLVM time for
// hundreds of Dropout layers).
// RUN: kiln-opt %s -split-input-file --kiln-fuse-elementwise="max-fused-ops=4" | FileCheck %s --check-prefix=CAP

#id1 = affine_map<(d0) -> (d0)>
// CAP-LABEL: func.func @capped_chain
// CAP-COUNT-2: linalg.generic
// CAP-NOT: linalg.generic
// CAP: return
func.func @capped_chain(%x: tensor<8xf32>) -> tensor<8xf32> {
  %e = tensor.empty() : tensor<8xf32>
  %a = linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%x : tensor<8xf32>) outs(%e : tensor<8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = arith.negf %v : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %b = linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%a : tensor<8xf32>) outs(%e : tensor<8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = math.exp %v : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %c = linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%b : tensor<8xf32>) outs(%e : tensor<8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = math.sqrt %v : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %d = linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%c : tensor<8xf32>) outs(%e : tensor<8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = math.absf %v : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  return %d : tensor<8xf32>
}
