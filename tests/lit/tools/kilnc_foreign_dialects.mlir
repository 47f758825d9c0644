// Tests that kilnc parses a model's IR with only the dialects of the forward
// form (kiln, func, arith): an op of any other dialect is refused by the
// parser before that dialect's own parser sees it. linalg.generic with
// `iterator_types = [1]` crashed upstream MLIR's parser (mlir-opt-19 too).

// RUN: not kilnc %s --emit=kiln -o /dev/null 2>&1 | FileCheck %s
// RUN: not kilnc run %s --entry forward 2>&1 | FileCheck %s
// RUN: not kilnc %S/Inputs/foreign_type.mlir --emit=kiln -o /dev/null 2>&1 | FileCheck %s --check-prefix=TYPE

// CHECK: kilnc_foreign_dialects.mlir:[[@LINE+5]]:8: error: Dialect `linalg' not found for custom op 'linalg.generic'
// CHECK: note: Registered dialects: arith, builtin, func, kiln
// CHECK-NOT: Stack dump
#map = affine_map<(d0) -> (d0)>
func.func @forward(%x: tensor<4xf32> {kiln.name = "x"}) -> (tensor<4xf32> {kiln.name = "y"}) {
  %0 = linalg.generic {indexing_maps = [#map, #map], iterator_types = [1]} ins(%x : tensor<4xf32>) outs(%x : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// TYPE: foreign_type.mlir:2:30: error: `!"llvm"<"ptr">` type created with unregistered dialect
