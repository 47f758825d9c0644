// RUN: kiln-opt %s --convert-kiln-to-linalg -split-input-file | FileCheck %s
// RUN: kiln-opt %s --convert-kiln-to-linalg --one-shot-bufferize="bufferize-function-boundaries" -split-input-file | FileCheck %s --check-prefix=BUF

// Tests that kiln.relu becomes one parallel linalg.generic computing
// arith.maximumf (NaN propagating) with 0 into a tensor.empty init.
// CHECK-LABEL: func.func @relu(
// CHECK-SAME: %[[X:[^:]+]]: tensor<4xf32>
// CHECK: %[[E:.+]] = tensor.empty() : tensor<4xf32>
// CHECK: %[[R:.+]] = linalg.generic
// CHECK-SAME: iterator_types = ["parallel"]
// CHECK-SAME: ins(%[[X]] : tensor<4xf32>) outs(%[[E]] : tensor<4xf32>)
// CHECK: ^bb0(%[[IN:.+]]: f32, %{{.+}}: f32):
// CHECK: %[[Z:.+]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[M:.+]] = arith.maximumf %[[IN]], %[[Z]] : f32
// CHECK: linalg.yield %[[M]] : f32
// CHECK: return %[[R]]
// BUF-LABEL: func.func @relu(
// BUF-SAME: memref<4xf32
// BUF: linalg.generic
// BUF-SAME: outs(%{{.+}} : memref<4xf32>)
func.func @relu(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = kiln.relu %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that the binary arithmetic ops each become a linalg.generic with the
// matching arith/math op on two identity-mapped inputs (f64 works alike).
// CHECK-LABEL: func.func @binary(
// CHECK-SAME: %[[A:[^:]+]]: tensor<2x3xf64>, %[[B:[^:]+]]: tensor<2x3xf64>
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel"]
// CHECK-SAME: ins(%[[A]], %[[B]] : tensor<2x3xf64>, tensor<2x3xf64>)
// CHECK: arith.addf
// CHECK: linalg.generic
// CHECK: arith.subf
// CHECK: linalg.generic
// CHECK: arith.mulf
// CHECK: linalg.generic
// CHECK: arith.divf
// CHECK: linalg.generic
// CHECK: arith.maximumf
// CHECK: linalg.generic
// CHECK: arith.minimumf
// CHECK: linalg.generic
// CHECK: math.powf
func.func @binary(%a: tensor<2x3xf64>, %b: tensor<2x3xf64>) -> tensor<2x3xf64> {
  %0 = kiln.add %a, %b : tensor<2x3xf64>
  %1 = kiln.sub %0, %b : tensor<2x3xf64>
  %2 = kiln.mul %1, %a : tensor<2x3xf64>
  %3 = kiln.div %2, %b : tensor<2x3xf64>
  %4 = kiln.maximum %3, %a : tensor<2x3xf64>
  %5 = kiln.minimum %4, %b : tensor<2x3xf64>
  %6 = kiln.pow %5, %a : tensor<2x3xf64>
  return %6 : tensor<2x3xf64>
}

// -----

// Tests that the unary math ops map to their arith/math counterparts,
// rsqrt to 1 / sqrt(x) and square to x * x.
// CHECK-LABEL: func.func @unary(
// CHECK: arith.negf
// CHECK: math.exp
// CHECK: math.log
// CHECK: math.log1p
// CHECK: math.sqrt
// CHECK: %[[ROOT:.+]] = math.sqrt
// CHECK: arith.divf %{{.+}}, %[[ROOT]]
// CHECK: math.absf
// CHECK: ^bb0(%[[S:[^:]+]]: f32
// CHECK: arith.mulf %[[S]], %[[S]] : f32
// CHECK: math.tanh
// CHECK: math.erf
func.func @unary(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = kiln.neg %x : tensor<4xf32>
  %1 = kiln.exp %0 : tensor<4xf32>
  %2 = kiln.log %1 : tensor<4xf32>
  %3 = kiln.log1p %2 : tensor<4xf32>
  %4 = kiln.sqrt %3 : tensor<4xf32>
  %5 = kiln.rsqrt %4 : tensor<4xf32>
  %6 = kiln.abs %5 : tensor<4xf32>
  %7 = kiln.square %6 : tensor<4xf32>
  %8 = kiln.tanh %7 : tensor<4xf32>
  %9 = kiln.erf %8 : tensor<4xf32>
  return %9 : tensor<4xf32>
}

// -----

// Tests that sigmoid lowers to 1 / (1 + exp(-x)).
// CHECK-LABEL: func.func @sigmoid(
// CHECK: ^bb0(%[[IN:[^:]+]]: f32
// CHECK: %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK: %[[NEG:.+]] = arith.negf %[[IN]] : f32
// CHECK: %[[EXP:.+]] = math.exp %[[NEG]] : f32
// CHECK: %[[DEN:.+]] = arith.addf %[[ONE]], %[[EXP]] : f32
// CHECK: %[[R:.+]] = arith.divf %[[ONE]], %[[DEN]] : f32
// CHECK: linalg.yield %[[R]]
func.func @sigmoid(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = kiln.sigmoid %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that softplus uses the stable form max(x, 0) + log1p(exp(-|x|)).
// CHECK-LABEL: func.func @softplus(
// CHECK: ^bb0(%[[IN:[^:]+]]: f32
// CHECK: %[[POS:.+]] = arith.maximumf %[[IN]], %{{.+}} : f32
// CHECK: %[[ABS:.+]] = math.absf %[[IN]] : f32
// CHECK: %[[NEG:.+]] = arith.negf %[[ABS]] : f32
// CHECK: %[[EXP:.+]] = math.exp %[[NEG]] : f32
// CHECK: %[[L1P:.+]] = math.log1p %[[EXP]] : f32
// CHECK: %[[R:.+]] = arith.addf %[[POS]], %[[L1P]] : f32
// CHECK: linalg.yield %[[R]]
func.func @softplus(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = kiln.softplus %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that leaky_relu and elu select on an ordered compare with 0, with
// alpha as a constant; elu uses expm1.
// CHECK-LABEL: func.func @leaky_elu(
// CHECK: ^bb0(%[[IN:[^:]+]]: f32
// CHECK: %[[C:.+]] = arith.cmpf oge, %[[IN]], %{{.+}} : f32
// CHECK: %[[A:.+]] = arith.constant 2.000000e-01 : f32
// CHECK: %[[S:.+]] = arith.mulf %[[A]], %[[IN]] : f32
// CHECK: arith.select %[[C]], %[[IN]], %[[S]] : f32
// CHECK: ^bb0(%[[IN2:[^:]+]]: f32
// CHECK: %[[C2:.+]] = arith.cmpf ogt, %[[IN2]], %{{.+}} : f32
// CHECK: %[[EM1:.+]] = math.expm1 %[[IN2]] : f32
// CHECK: %[[N:.+]] = arith.mulf %{{.+}}, %[[EM1]] : f32
// CHECK: arith.select %[[C2]], %[[IN2]], %[[N]] : f32
func.func @leaky_elu(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = kiln.leaky_relu %x {alpha = 0.2 : f64} : tensor<4xf32>
  %1 = kiln.elu %0 : tensor<4xf32>
  return %1 : tensor<4xf32>
}

// -----

// Tests that exact gelu uses math.erf and the approximate form math.tanh.
// CHECK-LABEL: func.func @gelu(
// CHECK: linalg.generic
// CHECK: math.erf
// CHECK: linalg.generic
// CHECK: math.tanh
// CHECK-NOT: math.erf
func.func @gelu(%x: tensor<4xf64>) -> tensor<4xf64> {
  %0 = kiln.gelu %x : tensor<4xf64>
  %1 = kiln.gelu %0 {approximate = true} : tensor<4xf64>
  return %1 : tensor<4xf64>
}

// -----

// Tests that kiln.constant becomes arith.constant with the same attribute
// and kiln.stop_gradient disappears.
// CHECK-LABEL: func.func @constant_stop_gradient(
// CHECK: %[[C:.+]] = arith.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK-NOT: kiln.
// CHECK: return %[[C]]
func.func @constant_stop_gradient() -> tensor<2xf32> {
  %0 = kiln.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %1 = kiln.stop_gradient %0 : tensor<2xf32>
  return %1 : tensor<2xf32>
}
