// RUN: kiln-opt %s --kiln-fuse-gemm-epilogues -split-input-file | FileCheck %s
// RUN: kiln-opt %s --kiln-fuse-gemm-epilogues --kiln-lower-matmul-to-runtime --canonicalize -split-input-file | FileCheck %s --check-prefix=CALL

#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>

// Tests that a zero-filled matmul followed by bias + relu into another
// buffer is retargeted: fill and matmul write the epilogue's output D, the
// epilogue updates D in place, and the buffer C disappears. Lowered, the
// pair is one GEMM call with the bias pointer and the relu epilogue (1).
// CHECK-LABEL: func.func @bias_relu
// CHECK-SAME: (%[[A:.+]]: memref<4x8xf32>, %[[B:.+]]: memref<8x16xf32>, %[[BIAS:.+]]: memref<16xf32>)
// CHECK: %[[D:.+]] = memref.alloc() : memref<4x16xf32>
// CHECK-NEXT: linalg.fill ins(%{{.+}} : f32) outs(%[[D]] : memref<4x16xf32>)
// CHECK-NEXT: linalg.matmul ins(%[[A]], %[[B]] : {{.+}}) outs(%[[D]] : memref<4x16xf32>)
// CHECK-NEXT: linalg.generic {{.+}} ins(%[[D]], %[[BIAS]] : {{.+}}) outs(%[[D]] : memref<4x16xf32>)
// CALL-LABEL: func.func @bias_relu
// CALL-DAG: %[[RELU:.+]] = arith.constant 1 : i32
// CALL: call @kiln_gemm_f32({{.+}}, %[[RELU]]) :
// CALL-NOT: linalg.generic
func.func @bias_relu(%a: memref<4x8xf32>, %b: memref<8x16xf32>, %bias: memref<16xf32>) -> memref<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<4x16xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<4x16xf32>)
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x16xf32>) outs(%c : memref<4x16xf32>)
  %d = memref.alloc() : memref<4x16xf32>
  linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%c, %bias : memref<4x16xf32>, memref<16xf32>) outs(%d : memref<4x16xf32>) {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %s = arith.addf %x, %y : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  }
  return %d : memref<4x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>

// Tests that the raw product is kept when something else reads C: the
// matmul still writes C and the elementwise op stays.
// CHECK-LABEL: func.func @product_used_twice
// CHECK: linalg.matmul ins(%{{.+}}, %{{.+}} : {{.+}}) outs(%[[C:.+]] : memref<4x16xf32>)
// CHECK: linalg.generic {{.+}} ins(%[[C]] : memref<4x16xf32>)
// CALL-LABEL: func.func @product_used_twice
// CALL: call @kiln_gemm_f32
// CALL: linalg.generic
func.func @product_used_twice(%a: memref<4x8xf32>, %b: memref<8x16xf32>) -> (memref<4x16xf32>, memref<4x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<4x16xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<4x16xf32>)
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x16xf32>) outs(%c : memref<4x16xf32>)
  %d = memref.alloc() : memref<4x16xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<4x16xf32>) outs(%d : memref<4x16xf32>) {
  ^bb0(%x: f32, %out: f32):
    %t = math.tanh %x : f32
    linalg.yield %t : f32
  }
  return %c, %d : memref<4x16xf32>, memref<4x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>

// Tests that an activation the GEMM cannot apply (exp) is not fused.
// CALL-LABEL: func.func @unsupported_activation
// CALL: %[[NONE:.+]] = arith.constant 0 : i32
// CALL: call @kiln_gemm_f32({{.+}}, %[[NONE]]) :
// CALL: linalg.generic
// CALL: math.exp
func.func @unsupported_activation(%a: memref<4x8xf32>, %b: memref<8x16xf32>, %d: memref<4x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<4x16xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<4x16xf32>)
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x16xf32>) outs(%c : memref<4x16xf32>)
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<4x16xf32>) outs(%d : memref<4x16xf32>) {
  ^bb0(%x: f32, %out: f32):
    %e = math.exp %x : f32
    linalg.yield %e : f32
  }
  return
}
