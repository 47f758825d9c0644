// RUN: kiln-opt %s -canonicalize -split-input-file | FileCheck %s

// Folds of the kiln ops: algebraic identities, no-op shape ops, constant
// folding; plus cases that must stay as they are.

// Tests that x + 0 folds to x when 0 is a kiln.constant splat.
// CHECK-LABEL: func.func @add_zero_rhs(
// CHECK-SAME: %[[X:[^:]+]]: tensor<4xf32>
// CHECK-NOT: kiln.add
// CHECK: return %[[X]] : tensor<4xf32>
func.func @add_zero_rhs(%x: tensor<4xf32>) -> tensor<4xf32> {
  %zero = kiln.constant dense<0.0> : tensor<4xf32>
  %0 = kiln.add %x, %zero : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that 0 + x folds to x when 0 is an arith.constant splat.
// CHECK-LABEL: func.func @add_zero_lhs(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x3xf32>
// CHECK-NOT: kiln.add
// CHECK: return %[[X]] : tensor<2x3xf32>
func.func @add_zero_lhs(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %zero = arith.constant dense<0.0> : tensor<2x3xf32>
  %0 = kiln.add %zero, %x : tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Tests that x + 1 is not folded.
// CHECK-LABEL: func.func @add_one_kept(
// CHECK-SAME: %[[X:[^:]+]]: tensor<4xf32>
// CHECK: %[[ONE:.+]] = kiln.constant dense<1.000000e+00> : tensor<4xf32>
// CHECK: %[[SUM:.+]] = kiln.add %[[X]], %[[ONE]] : tensor<4xf32>
// CHECK: return %[[SUM]] : tensor<4xf32>
func.func @add_one_kept(%x: tensor<4xf32>) -> tensor<4xf32> {
  %one = kiln.constant dense<1.0> : tensor<4xf32>
  %0 = kiln.add %x, %one : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that x - 0 folds to x.
// CHECK-LABEL: func.func @sub_zero(
// CHECK-SAME: %[[X:[^:]+]]: tensor<4xf64>
// CHECK-NOT: kiln.sub
// CHECK: return %[[X]] : tensor<4xf64>
func.func @sub_zero(%x: tensor<4xf64>) -> tensor<4xf64> {
  %zero = kiln.constant dense<0.0> : tensor<4xf64>
  %0 = kiln.sub %x, %zero : tensor<4xf64>
  return %0 : tensor<4xf64>
}

// -----

// Tests that 0 - x is not folded (it is -x, not x).
// CHECK-LABEL: func.func @zero_sub_kept(
// CHECK-SAME: %[[X:[^:]+]]: tensor<4xf32>
// CHECK: %[[ZERO:.+]] = kiln.constant dense<0.000000e+00> : tensor<4xf32>
// CHECK: %[[DIFF:.+]] = kiln.sub %[[ZERO]], %[[X]] : tensor<4xf32>
// CHECK: return %[[DIFF]] : tensor<4xf32>
func.func @zero_sub_kept(%x: tensor<4xf32>) -> tensor<4xf32> {
  %zero = kiln.constant dense<0.0> : tensor<4xf32>
  %0 = kiln.sub %zero, %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that x * 1 folds to x.
// CHECK-LABEL: func.func @mul_one_rhs(
// CHECK-SAME: %[[X:[^:]+]]: tensor<4xf32>
// CHECK-NOT: kiln.mul
// CHECK: return %[[X]] : tensor<4xf32>
func.func @mul_one_rhs(%x: tensor<4xf32>) -> tensor<4xf32> {
  %one = kiln.constant dense<1.0> : tensor<4xf32>
  %0 = kiln.mul %x, %one : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that 1 * x folds to x, also for f64 and an arith.constant splat.
// CHECK-LABEL: func.func @mul_one_lhs(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x2xf64>
// CHECK-NOT: kiln.mul
// CHECK: return %[[X]] : tensor<2x2xf64>
func.func @mul_one_lhs(%x: tensor<2x2xf64>) -> tensor<2x2xf64> {
  %one = arith.constant dense<1.0> : tensor<2x2xf64>
  %0 = kiln.mul %one, %x : tensor<2x2xf64>
  return %0 : tensor<2x2xf64>
}

// -----

// Tests that x / 1 folds to x.
// CHECK-LABEL: func.func @div_one(
// CHECK-SAME: %[[X:[^:]+]]: tensor<4xf32>
// CHECK-NOT: kiln.div
// CHECK: return %[[X]] : tensor<4xf32>
func.func @div_one(%x: tensor<4xf32>) -> tensor<4xf32> {
  %one = kiln.constant dense<1.0> : tensor<4xf32>
  %0 = kiln.div %x, %one : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that a reshape to the operand's own type folds away.
// CHECK-LABEL: func.func @reshape_same_type(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x3xf32>
// CHECK-NOT: kiln.reshape
// CHECK: return %[[X]] : tensor<2x3xf32>
func.func @reshape_same_type(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = kiln.reshape %x : tensor<2x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Tests that reshape(reshape(x)) becomes one reshape of x.
// CHECK-LABEL: func.func @reshape_reshape(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x6xf32>
// CHECK: %[[R:.+]] = kiln.reshape %[[X]] : tensor<2x6xf32> -> tensor<12xf32>
// CHECK-NOT: kiln.reshape
// CHECK: return %[[R]] : tensor<12xf32>
func.func @reshape_reshape(%x: tensor<2x6xf32>) -> tensor<12xf32> {
  %0 = kiln.reshape %x : tensor<2x6xf32> -> tensor<3x4xf32>
  %1 = kiln.reshape %0 : tensor<3x4xf32> -> tensor<12xf32>
  return %1 : tensor<12xf32>
}

// -----

// Tests that reshape(reshape(x)) back to x's type folds to x.
// CHECK-LABEL: func.func @reshape_reshape_round_trip(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x6xi64>
// CHECK-NOT: kiln.reshape
// CHECK: return %[[X]] : tensor<2x6xi64>
func.func @reshape_reshape_round_trip(%x: tensor<2x6xi64>) -> tensor<2x6xi64> {
  %0 = kiln.reshape %x : tensor<2x6xi64> -> tensor<12xi64>
  %1 = kiln.reshape %0 : tensor<12xi64> -> tensor<2x6xi64>
  return %1 : tensor<2x6xi64>
}

// -----

// Tests that a reshape of a constant folds to a constant of the new shape.
// CHECK-LABEL: func.func @reshape_constant(
// CHECK: %[[C:.+]] = kiln.constant dense<{{\[}}[1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
// CHECK-NOT: kiln.reshape
// CHECK: return %[[C]] : tensor<2x2xf32>
func.func @reshape_constant() -> tensor<2x2xf32> {
  %c = kiln.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %0 = kiln.reshape %c : tensor<4xf32> -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

// Tests that a transpose with the identity permutation folds away.
// CHECK-LABEL: func.func @transpose_identity(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x3x4xf32>
// CHECK-NOT: kiln.transpose
// CHECK: return %[[X]] : tensor<2x3x4xf32>
func.func @transpose_identity(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %0 = kiln.transpose %x {permutation = array<i64: 0, 1, 2>} : tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  return %0 : tensor<2x3x4xf32>
}

// -----

// Tests that a non-identity transpose is kept, also when input and result
// types are equal.
// CHECK-LABEL: func.func @transpose_kept(
// CHECK-SAME: %[[X:[^:]+]]: tensor<3x3xf32>
// CHECK: %[[T:.+]] = kiln.transpose %[[X]] {permutation = array<i64: 1, 0>} : tensor<3x3xf32> -> tensor<3x3xf32>
// CHECK: return %[[T]] : tensor<3x3xf32>
func.func @transpose_kept(%x: tensor<3x3xf32>) -> tensor<3x3xf32> {
  %0 = kiln.transpose %x {permutation = array<i64: 1, 0>} : tensor<3x3xf32> -> tensor<3x3xf32>
  return %0 : tensor<3x3xf32>
}

// -----

// Tests that transpose(transpose(x)) becomes one transpose whose permutation
// is the composition (result axis i reads x's axis inner[outer[i]]).
// CHECK-LABEL: func.func @transpose_transpose(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x3x4xf32>
// CHECK: %[[T:.+]] = kiln.transpose %[[X]] {permutation = array<i64: 2, 1, 0>} : tensor<2x3x4xf32> -> tensor<4x3x2xf32>
// CHECK-NOT: kiln.transpose
// CHECK: return %[[T]] : tensor<4x3x2xf32>
func.func @transpose_transpose(%x: tensor<2x3x4xf32>) -> tensor<4x3x2xf32> {
  %0 = kiln.transpose %x {permutation = array<i64: 1, 2, 0>} : tensor<2x3x4xf32> -> tensor<3x4x2xf32>
  %1 = kiln.transpose %0 {permutation = array<i64: 1, 0, 2>} : tensor<3x4x2xf32> -> tensor<4x3x2xf32>
  return %1 : tensor<4x3x2xf32>
}

// -----

// Tests that transpose(transpose(x)) whose composition is the identity folds
// to x.
// CHECK-LABEL: func.func @transpose_transpose_identity(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x3x4xf32>
// CHECK-NOT: kiln.transpose
// CHECK: return %[[X]] : tensor<2x3x4xf32>
func.func @transpose_transpose_identity(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %0 = kiln.transpose %x {permutation = array<i64: 1, 2, 0>} : tensor<2x3x4xf32> -> tensor<3x4x2xf32>
  %1 = kiln.transpose %0 {permutation = array<i64: 2, 0, 1>} : tensor<3x4x2xf32> -> tensor<2x3x4xf32>
  return %1 : tensor<2x3x4xf32>
}

// -----

// Tests that a broadcast_in_dim to the operand's type with identity
// dimensions folds away.
// CHECK-LABEL: func.func @broadcast_identity(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x3xf32>
// CHECK-NOT: kiln.broadcast_in_dim
// CHECK: return %[[X]] : tensor<2x3xf32>
func.func @broadcast_identity(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = kiln.broadcast_in_dim %x, dims = [0, 1] : tensor<2x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Tests that a broadcast_in_dim that expands its operand is kept.
// CHECK-LABEL: func.func @broadcast_kept(
// CHECK-SAME: %[[X:[^:]+]]: tensor<1x3xf32>
// CHECK: %[[B:.+]] = kiln.broadcast_in_dim %[[X]], dims = [0, 1] : tensor<1x3xf32> -> tensor<2x3xf32>
// CHECK: return %[[B]] : tensor<2x3xf32>
func.func @broadcast_kept(%x: tensor<1x3xf32>) -> tensor<2x3xf32> {
  %0 = kiln.broadcast_in_dim %x, dims = [0, 1] : tensor<1x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Tests that reductions over an empty axis list fold to their input.
// CHECK-LABEL: func.func @reduce_no_axes(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x3xf32>
// CHECK-NOT: kiln.reduce
// CHECK: return %[[X]], %[[X]], %[[X]] : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
func.func @reduce_no_axes(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) {
  %0 = kiln.reduce_sum %x {axes = array<i64>} : tensor<2x3xf32> -> tensor<2x3xf32>
  %1 = kiln.reduce_mean %x {axes = array<i64>, keep_dims = true} : tensor<2x3xf32> -> tensor<2x3xf32>
  %2 = kiln.reduce_max %x {axes = array<i64>} : tensor<2x3xf32> -> tensor<2x3xf32>
  return %0, %1, %2 : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
}

// -----

// Tests that a reduction over a real axis is kept.
// CHECK-LABEL: func.func @reduce_kept(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x3xf32>
// CHECK: %[[R:.+]] = kiln.reduce_sum %[[X]] {axes = array<i64: 1>} : tensor<2x3xf32> -> tensor<2xf32>
// CHECK: return %[[R]] : tensor<2xf32>
func.func @reduce_kept(%x: tensor<2x3xf32>) -> tensor<2xf32> {
  %0 = kiln.reduce_sum %x {axes = array<i64: 1>} : tensor<2x3xf32> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// Tests that a concat of a single input folds to that input.
// CHECK-LABEL: func.func @concat_single(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x3xf32>
// CHECK-NOT: kiln.concat
// CHECK: return %[[X]] : tensor<2x3xf32>
func.func @concat_single(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = kiln.concat %x {axis = 1 : i64} : tensor<2x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Tests that select with an all-true constant predicate folds to on_true.
// CHECK-LABEL: func.func @select_true(
// CHECK-SAME: %[[A:[^:]+]]: tensor<4xf32>, %[[B:[^:]+]]: tensor<4xf32>
// CHECK-NOT: kiln.select
// CHECK: return %[[A]] : tensor<4xf32>
func.func @select_true(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  %pred = kiln.constant dense<true> : tensor<4xi1>
  %0 = kiln.select %pred, %a, %b : tensor<4xi1>, tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that select with an all-false constant predicate (arith.constant)
// folds to on_false.
// CHECK-LABEL: func.func @select_false(
// CHECK-SAME: %[[A:[^:]+]]: tensor<4xi64>, %[[B:[^:]+]]: tensor<4xi64>
// CHECK-NOT: kiln.select
// CHECK: return %[[B]] : tensor<4xi64>
func.func @select_false(%a: tensor<4xi64>, %b: tensor<4xi64>) -> tensor<4xi64> {
  %pred = arith.constant dense<false> : tensor<4xi1>
  %0 = kiln.select %pred, %a, %b : tensor<4xi1>, tensor<4xi64>
  return %0 : tensor<4xi64>
}

// -----

// Tests that select with a predicate that is not constant is kept.
// CHECK-LABEL: func.func @select_kept(
// CHECK-SAME: %[[P:[^:]+]]: tensor<4xi1>, %[[A:[^:]+]]: tensor<4xf32>, %[[B:[^:]+]]: tensor<4xf32>
// CHECK: %[[S:.+]] = kiln.select %[[P]], %[[A]], %[[B]] : tensor<4xi1>, tensor<4xf32>
// CHECK: return %[[S]] : tensor<4xf32>
func.func @select_kept(%p: tensor<4xi1>, %a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  %0 = kiln.select %p, %a, %b : tensor<4xi1>, tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.constant folds to its value: equal constants are
// deduplicated by the folder and unused ones erased.
// CHECK-LABEL: func.func @constant_fold(
// CHECK: %[[C:.+]] = kiln.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK-NOT: kiln.constant
// CHECK: return %[[C]], %[[C]] : tensor<2xf32>, tensor<2xf32>
func.func @constant_fold() -> (tensor<2xf32>, tensor<2xf32>) {
  %0 = kiln.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %1 = kiln.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %unused = kiln.constant dense<3.0> : tensor<8xf32>
  return %0, %1 : tensor<2xf32>, tensor<2xf32>
}

// -----

// Tests that a conversion to the same type folds away and a real one stays.
// CHECK-LABEL: func.func @convert_fold
// CHECK-SAME: (%[[X:.+]]: tensor<4xf32>)
// CHECK: %[[I:.+]] = kiln.convert %[[X]] : tensor<4xf32> -> tensor<4xi32>
// CHECK: return %[[X]], %[[I]]
func.func @convert_fold(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xi32>) {
  %0 = kiln.convert %x : tensor<4xf32> -> tensor<4xf32>
  %1 = kiln.convert %x : tensor<4xf32> -> tensor<4xi32>
  return %0, %1 : tensor<4xf32>, tensor<4xi32>
}
