// RUN: kiln-opt %s --convert-kiln-to-linalg -split-input-file | FileCheck %s
// RUN: kiln-opt %s --convert-kiln-to-linalg --one-shot-bufferize="bufferize-function-boundaries" -split-input-file | FileCheck %s --check-prefix=BUF

// Tests that softmax lowers to the stable form: max over the axis (from
// -inf, arith.maximumf), broadcast back, d = x - m (or, where |m| = inf,
// its limit select(x == m, 0, -inf)), exp, sum, e / s.
// CHECK-LABEL: func.func @softmax(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x3xf32>
// CHECK: %[[MAX:.+]] = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "reduction"]
// CHECK-SAME: ins(%[[X]] : tensor<2x3xf32>)
// CHECK: arith.maximumf
// CHECK: %[[MK:.+]] = tensor.expand_shape %[[MAX]]
// CHECK: %[[MB:.+]] = linalg.generic
// CHECK-SAME: ins(%[[MK]] : tensor<2x1xf32>)
// CHECK: %[[ABS:.+]] = linalg.generic
// CHECK-SAME: ins(%[[MB]] : tensor<2x3xf32>)
// CHECK: math.absf
// CHECK: %[[INF:.+]] = arith.constant dense<0x7F800000> : tensor<2x3xf32>
// CHECK: %[[ISINF:.+]] = linalg.generic
// CHECK-SAME: ins(%[[ABS]], %[[INF]] :
// CHECK: arith.cmpf oeq
// CHECK: %[[ATMAX:.+]] = linalg.generic
// CHECK-SAME: ins(%[[X]], %[[MB]] :
// CHECK: arith.cmpf oeq
// CHECK: %[[LIMIT:.+]] = linalg.generic
// CHECK-SAME: ins(%[[ATMAX]], %{{.+}}, %{{.+}} : tensor<2x3xi1>, tensor<2x3xf32>, tensor<2x3xf32>)
// CHECK: arith.select
// CHECK: %[[SUB:.+]] = linalg.generic
// CHECK-SAME: ins(%[[X]], %[[MB]] : tensor<2x3xf32>, tensor<2x3xf32>)
// CHECK: arith.subf
// CHECK: %[[D:.+]] = linalg.generic
// CHECK-SAME: ins(%[[ISINF]], %[[LIMIT]], %[[SUB]] :
// CHECK: arith.select
// CHECK: %[[E:.+]] = linalg.generic
// CHECK-SAME: ins(%[[D]] : tensor<2x3xf32>)
// CHECK: math.exp
// CHECK: %[[S:.+]] = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "reduction"]
// CHECK-SAME: ins(%[[E]] : tensor<2x3xf32>)
// CHECK: arith.addf
// CHECK: %[[SK:.+]] = tensor.expand_shape %[[S]]
// CHECK: %[[SB:.+]] = linalg.generic
// CHECK-SAME: ins(%[[SK]] : tensor<2x1xf32>)
// CHECK: %[[R:.+]] = linalg.generic
// CHECK-SAME: ins(%[[E]], %[[SB]] : tensor<2x3xf32>, tensor<2x3xf32>)
// CHECK: arith.divf
// CHECK: return %[[R]]
// BUF-LABEL: func.func @softmax(
// BUF-NOT: tensor.
// BUF: return
func.func @softmax(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = kiln.softmax %x {axis = 1 : i64} : tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Tests that log_softmax is (x - m) - log(sum(exp(x - m))), the log taken on
// the reduced tensor before broadcasting (x - m with the same limit at an
// infinite m as softmax).
// CHECK-LABEL: func.func @log_softmax(
// CHECK-SAME: %[[X:[^:]+]]: tensor<4x5xf64>
// CHECK: arith.maximumf
// CHECK: linalg.generic {{.*}} ins(%[[X]], %{{.+}} : tensor<4x5xf64>, tensor<4x5xf64>)
// CHECK: arith.subf
// CHECK: %[[D:.+]] = linalg.generic {{.*}} ins(%{{.+}}, %{{.+}}, %{{.+}} : tensor<4x5xi1>, tensor<4x5xf64>, tensor<4x5xf64>)
// CHECK: arith.select
// CHECK: math.exp
// CHECK: %[[S:.+]] = linalg.generic
// CHECK-SAME: iterator_types = ["reduction", "parallel"]
// CHECK: arith.addf
// CHECK: %[[SK:.+]] = tensor.expand_shape %[[S]] {{\[}}[0, 1]] output_shape [1, 5]
// CHECK: %[[L:.+]] = linalg.generic
// CHECK-SAME: ins(%[[SK]] : tensor<1x5xf64>)
// CHECK: math.log
// CHECK: %[[LB:.+]] = linalg.generic
// CHECK-SAME: ins(%[[L]] : tensor<1x5xf64>)
// CHECK: %[[R:.+]] = linalg.generic
// CHECK-SAME: ins(%[[D]], %[[LB]] : tensor<4x5xf64>, tensor<4x5xf64>)
// CHECK: arith.subf
// CHECK: return %[[R]]
func.func @log_softmax(%x: tensor<4x5xf64>) -> tensor<4x5xf64> {
  %0 = kiln.log_softmax %x {axis = 0 : i64} : tensor<4x5xf64>
  return %0 : tensor<4x5xf64>
}
