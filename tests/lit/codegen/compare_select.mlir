// RUN: kiln-opt %s --convert-kiln-to-linalg -split-input-file | FileCheck %s
// RUN: kiln-opt %s --convert-kiln-to-linalg --one-shot-bufferize="bufferize-function-boundaries" -split-input-file | FileCheck %s --check-prefix=BUF

// Tests that float comparisons use ordered predicates (une for ne) in a
// linalg.generic producing i1.
// CHECK-LABEL: func.func @compare_f32(
// CHECK: %[[E:.+]] = tensor.empty() : tensor<4xi1>
// CHECK: linalg.generic
// CHECK-SAME: outs(%[[E]] : tensor<4xi1>)
// CHECK: arith.cmpf oeq
// CHECK: arith.cmpf une
// CHECK: arith.cmpf olt
// CHECK: arith.cmpf ole
// CHECK: arith.cmpf ogt
// CHECK: arith.cmpf oge
// BUF-LABEL: func.func @compare_f32(
// BUF: linalg.generic
// BUF-SAME: memref<4xi1>
func.func @compare_f32(%a: tensor<4xf32>, %b: tensor<4xf32>) -> (tensor<4xi1>, tensor<4xi1>, tensor<4xi1>, tensor<4xi1>, tensor<4xi1>, tensor<4xi1>) {
  %0 = kiln.compare eq, %a, %b : tensor<4xf32>
  %1 = kiln.compare ne, %a, %b : tensor<4xf32>
  %2 = kiln.compare lt, %a, %b : tensor<4xf32>
  %3 = kiln.compare le, %a, %b : tensor<4xf32>
  %4 = kiln.compare gt, %a, %b : tensor<4xf32>
  %5 = kiln.compare ge, %a, %b : tensor<4xf32>
  return %0, %1, %2, %3, %4, %5 : tensor<4xi1>, tensor<4xi1>, tensor<4xi1>, tensor<4xi1>, tensor<4xi1>, tensor<4xi1>
}

// -----

// Tests that integer comparisons use signed arith.cmpi predicates.
// CHECK-LABEL: func.func @compare_int(
// CHECK: arith.cmpi eq, %{{.+}}, %{{.+}} : i32
// CHECK: arith.cmpi ne, %{{.+}}, %{{.+}} : i64
// CHECK: arith.cmpi slt
// CHECK: arith.cmpi sle
// CHECK: arith.cmpi sgt
// CHECK: arith.cmpi sge
func.func @compare_int(%a: tensor<8xi32>, %b: tensor<8xi64>) -> (tensor<8xi1>, tensor<8xi1>, tensor<8xi1>, tensor<8xi1>, tensor<8xi1>, tensor<8xi1>) {
  %0 = kiln.compare eq, %a, %a : tensor<8xi32>
  %1 = kiln.compare ne, %b, %b : tensor<8xi64>
  %2 = kiln.compare lt, %b, %b : tensor<8xi64>
  %3 = kiln.compare le, %b, %b : tensor<8xi64>
  %4 = kiln.compare gt, %b, %b : tensor<8xi64>
  %5 = kiln.compare ge, %b, %b : tensor<8xi64>
  return %0, %1, %2, %3, %4, %5 : tensor<8xi1>, tensor<8xi1>, tensor<8xi1>, tensor<8xi1>, tensor<8xi1>, tensor<8xi1>
}

// -----

// Tests that kiln.select becomes arith.select in a generic over the three
// operands, for float and integer values.
// CHECK-LABEL: func.func @select(
// CHECK-SAME: %[[P:[^:]+]]: tensor<4xi1>, %[[A:[^:]+]]: tensor<4xf64>, %[[B:[^:]+]]: tensor<4xf64>, %[[I:[^:]+]]: tensor<4xi64>, %[[J:[^:]+]]: tensor<4xi64>
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[P]], %[[A]], %[[B]] : tensor<4xi1>, tensor<4xf64>, tensor<4xf64>)
// CHECK: ^bb0(%[[PS:[^:]+]]: i1, %[[AS:[^:]+]]: f64, %[[BS:[^:]+]]: f64
// CHECK: arith.select %[[PS]], %[[AS]], %[[BS]] : f64
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[P]], %[[I]], %[[J]] : tensor<4xi1>, tensor<4xi64>, tensor<4xi64>)
// CHECK: arith.select %{{.+}}, %{{.+}}, %{{.+}} : i64
func.func @select(%p: tensor<4xi1>, %a: tensor<4xf64>, %b: tensor<4xf64>, %i: tensor<4xi64>, %j: tensor<4xi64>) -> (tensor<4xf64>, tensor<4xi64>) {
  %0 = kiln.select %p, %a, %b : tensor<4xi1>, tensor<4xf64>
  %1 = kiln.select %p, %i, %j : tensor<4xi1>, tensor<4xi64>
  return %0, %1 : tensor<4xf64>, tensor<4xi64>
}

// -----

// Tests that an integer kiln.constant becomes arith.constant.
// CHECK-LABEL: func.func @int_constant(
// CHECK: arith.constant dense<[1, 2, 3]> : tensor<3xi32>
func.func @int_constant() -> tensor<3xi32> {
  %0 = kiln.constant dense<[1, 2, 3]> : tensor<3xi32>
  return %0 : tensor<3xi32>
}
