// RUN: kiln-opt %s -split-input-file --kiln-derive-gradients="function=loss" -verify-diagnostics | FileCheck %s

// kiln-derive-gradients clones @loss into @loss_grad and appends, before the
// return, the gradient of the loss (first result, rank-0 float) with respect
// to each `kiln.trainable` argument, built from the VJP rules of
// DifferentiableOpInterface (ir/VJP*.cpp; formulas in docs/spec.md). The
// cases check the kiln ops of a few elementwise rules, the bookkeeping of
// the pass (fan-out sums, stop_gradient, unused arguments) and its
// diagnostics.

// Tests that div builds (g / b, -(g / b) * y), seeded with a splat 1.
// CHECK-LABEL: func.func @loss_grad(
// CHECK-SAME: %[[A:[^:]+]]: tensor<f32> {kiln.trainable}, %[[B:[^:]+]]: tensor<f32> {kiln.trainable})
// CHECK-SAME: -> (tensor<f32>, tensor<f32> {kiln.gradient_of = 0 : i64}, tensor<f32> {kiln.gradient_of = 1 : i64})
// CHECK: %[[Y:.+]] = kiln.div %[[A]], %[[B]]
// CHECK: %[[G:.+]] = kiln.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[DA:.+]] = kiln.div %[[G]], %[[B]]
// CHECK: %[[T:.+]] = kiln.mul %[[DA]], %[[Y]]
// CHECK: %[[DB:.+]] = kiln.neg %[[T]]
// CHECK: return %[[Y]], %[[DA]], %[[DB]]
func.func @loss(%a: tensor<f32> {kiln.trainable}, %b: tensor<f32> {kiln.trainable}) -> tensor<f32> {
  %0 = kiln.div %a, %b : tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that relu masks with y = relu(x) > 0 (relu'(0) = 0; y > 0 exactly
// when x > 0) and that maximum sends a
// tie to its lhs (a >= b), both through kiln.select with a zero splat.
// CHECK-LABEL: func.func @loss_grad(
// CHECK-SAME: %[[A:[^:]+]]: tensor<4xf32> {kiln.trainable}, %[[B:[^:]+]]: tensor<4xf32> {kiln.trainable})
// CHECK: %[[M:.+]] = kiln.maximum %[[A]], %[[B]]
// CHECK: %[[R:.+]] = kiln.relu %[[M]]
// CHECK: kiln.reduce_sum
// CHECK: %[[G:.+]] = kiln.broadcast_in_dim
// CHECK: %[[Z:.+]] = kiln.constant dense<0.000000e+00> : tensor<4xf32>
// CHECK: %[[POS:.+]] = kiln.compare gt, %[[R]], %[[Z]]
// CHECK: %[[GM:.+]] = kiln.select %[[POS]], %[[G]], %[[Z]]
// CHECK: %[[LHS:.+]] = kiln.compare ge, %[[A]], %[[B]]
// CHECK: %[[Z2:.+]] = kiln.constant dense<0.000000e+00> : tensor<4xf32>
// CHECK: %[[GA:.+]] = kiln.select %[[LHS]], %[[GM]], %[[Z2]]
// CHECK: %[[GB:.+]] = kiln.select %[[LHS]], %[[Z2]], %[[GM]]
// CHECK: return %{{.+}}, %[[GA]], %[[GB]]
func.func @loss(%a: tensor<4xf32> {kiln.trainable}, %b: tensor<4xf32> {kiln.trainable}) -> tensor<f32> {
  %0 = kiln.maximum %a, %b : tensor<4xf32>
  %1 = kiln.relu %0 : tensor<4xf32>
  %2 = kiln.reduce_sum %1 {axes = array<i64: 0>} : tensor<4xf32> -> tensor<f32>
  return %2 : tensor<f32>
}

// -----

// Tests that exp reuses its result (g * y) and log divides by its operand
// (g / x).
// CHECK-LABEL: func.func @loss_grad(
// CHECK-SAME: %[[X:[^:]+]]: tensor<f64> {kiln.trainable})
// CHECK: %[[E:.+]] = kiln.exp %[[X]]
// CHECK: %[[L:.+]] = kiln.log %[[E]]
// CHECK: %[[G:.+]] = kiln.constant dense<1.000000e+00> : tensor<f64>
// CHECK: %[[GE:.+]] = kiln.div %[[G]], %[[E]]
// CHECK: %[[GX:.+]] = kiln.mul %[[GE]], %[[E]]
// CHECK: return %[[L]], %[[GX]]
func.func @loss(%x: tensor<f64> {kiln.trainable}) -> tensor<f64> {
  %0 = kiln.exp %x : tensor<f64>
  %1 = kiln.log %0 : tensor<f64>
  return %1 : tensor<f64>
}

// -----

// Tests that leaky_relu uses slope alpha where x <= 0 (x > 0 ? g : alpha g).
// CHECK-LABEL: func.func @loss_grad(
// CHECK-SAME: %[[X:[^:]+]]: tensor<f32> {kiln.trainable})
// CHECK: %[[G:.+]] = kiln.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[Z:.+]] = kiln.constant dense<0.000000e+00> : tensor<f32>
// CHECK: %[[POS:.+]] = kiln.compare gt, %[[X]], %[[Z]]
// CHECK: %[[ALPHA:.+]] = kiln.constant dense<2.000000e-01> : tensor<f32>
// CHECK: %[[SLOPED:.+]] = kiln.mul %[[G]], %[[ALPHA]]
// CHECK: %[[GX:.+]] = kiln.select %[[POS]], %[[G]], %[[SLOPED]]
// CHECK: return %{{.+}}, %[[GX]]
func.func @loss(%x: tensor<f32> {kiln.trainable}) -> tensor<f32> {
  %0 = kiln.leaky_relu %x {alpha = 0.2 : f64} : tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that select routes g to the chosen operand and gives none to its
// predicate.
// CHECK-LABEL: func.func @loss_grad(
// CHECK-SAME: %[[P:[^:]+]]: tensor<i1>, %[[A:[^:]+]]: tensor<f32> {kiln.trainable}, %[[B:[^:]+]]: tensor<f32> {kiln.trainable})
// CHECK: %[[G:.+]] = kiln.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[Z:.+]] = kiln.constant dense<0.000000e+00> : tensor<f32>
// CHECK: %[[GA:.+]] = kiln.select %[[P]], %[[G]], %[[Z]]
// CHECK: %[[GB:.+]] = kiln.select %[[P]], %[[Z]], %[[G]]
// CHECK: return %{{.+}}, %[[GA]], %[[GB]]
func.func @loss(%p: tensor<i1>, %a: tensor<f32> {kiln.trainable}, %b: tensor<f32> {kiln.trainable}) -> tensor<f32> {
  %0 = kiln.select %p, %a, %b : tensor<i1>, tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that a value used twice sums its contributions with one kiln.add
// (y = 3x; loss = 2y + 5y; dloss/dx = 21).
// CHECK-LABEL: func.func @loss_grad(
// CHECK-SAME: %[[X:[^:]+]]: tensor<f32> {kiln.trainable})
// CHECK: %[[C3:.+]] = kiln.constant dense<3.000000e+00>
// CHECK: %[[C2:.+]] = kiln.constant dense<2.000000e+00>
// CHECK: %[[C5:.+]] = kiln.constant dense<5.000000e+00>
// CHECK: %[[G:.+]] = kiln.constant dense<1.000000e+00>
// CHECK: %[[G5:.+]] = kiln.mul %[[G]], %[[C5]]
// CHECK: %[[G2:.+]] = kiln.mul %[[G]], %[[C2]]
// CHECK: %[[GY:.+]] = kiln.add %[[G5]], %[[G2]]
// CHECK-NOT: kiln.add
// CHECK: %[[GX:.+]] = kiln.mul %[[GY]], %[[C3]]
// CHECK: return %{{.+}}, %[[GX]]
func.func @loss(%x: tensor<f32> {kiln.trainable}) -> tensor<f32> {
  %c3 = kiln.constant dense<3.0> : tensor<f32>
  %c2 = kiln.constant dense<2.0> : tensor<f32>
  %c5 = kiln.constant dense<5.0> : tensor<f32>
  %y = kiln.mul %c3, %x : tensor<f32>
  %a = kiln.mul %c2, %y : tensor<f32>
  %b = kiln.mul %c5, %y : tensor<f32>
  %l = kiln.add %a, %b : tensor<f32>
  return %l : tensor<f32>
}

// -----

// Tests that stop_gradient blocks its path: d(x * stop_gradient(x))/dx is
// g * stop_gradient(x) alone, with no contribution added through the
// stopped operand.
// CHECK-LABEL: func.func @loss_grad(
// CHECK-SAME: %[[X:[^:]+]]: tensor<f32> {kiln.trainable})
// CHECK: %[[S:.+]] = kiln.stop_gradient %[[X]]
// CHECK: %[[G:.+]] = kiln.constant dense<1.000000e+00>
// CHECK: %[[GX:.+]] = kiln.mul %[[G]], %[[S]]
// CHECK-NOT: kiln.add
// CHECK: return %{{.+}}, %[[GX]]
func.func @loss(%x: tensor<f32> {kiln.trainable}) -> tensor<f32> {
  %s = kiln.stop_gradient %x : tensor<f32>
  %l = kiln.mul %x, %s : tensor<f32>
  return %l : tensor<f32>
}

// -----

// Tests that a trainable argument the loss ignores gets a zero gradient.
// CHECK-LABEL: func.func @loss_grad(
// CHECK-SAME: -> (tensor<f32>, tensor<f32> {kiln.gradient_of = 0 : i64}, tensor<2x3xf32> {kiln.gradient_of = 1 : i64})
// CHECK: %[[Z:.+]] = kiln.constant dense<0.000000e+00> : tensor<2x3xf32>
// CHECK: return %{{.+}}, %{{.+}}, %[[Z]]
func.func @loss(%x: tensor<f32> {kiln.trainable}, %unused: tensor<2x3xf32> {kiln.trainable}) -> tensor<f32> {
  %0 = kiln.square %x : tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that every op without a VJP rule on the path is listed, in one
// error.
// expected-error@+1 {{kiln-derive-gradients: 2 op(s) on the path from the trainable arguments to the loss have no gradient rule}}
func.func @loss(%x: tensor<f32> {kiln.trainable}) -> tensor<f32> {
  // expected-note@+1 {{no VJP rule for 'math.exp'}}
  %0 = math.exp %x : tensor<f32>
  %1 = kiln.tanh %0 : tensor<f32>
  // expected-note@+1 {{no VJP rule for 'math.log'}}
  %2 = math.log %1 : tensor<f32>
  return %2 : tensor<f32>
}

// -----

// Tests that a first result that is not a rank-0 float tensor is rejected.
// expected-error@+1 {{kiln-derive-gradients: the first result of @loss must be the loss, a rank-0 floating-point tensor}}
func.func @loss(%x: tensor<4xf32> {kiln.trainable}) -> tensor<4xf32> {
  %0 = kiln.square %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that a missing function is reported.
// expected-error@+1 {{kiln-derive-gradients: no function @loss}}
module {
  func.func @forward(%x: tensor<f32> {kiln.trainable}) -> tensor<f32> {
    return %x : tensor<f32>
  }
}
