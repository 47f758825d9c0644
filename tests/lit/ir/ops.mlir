// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s --mlir-print-op-generic | kiln-opt | FileCheck %s

// Round-trip of every kiln op: parsed, printed (custom and generic form),
// parsed again and printed in the custom form. Each function covers one op
// family; attributes equal to their default are elided by the printer.

// Tests that the elementwise binary ops round-trip on f32 tensors.
// CHECK-LABEL: func.func @binary_f32(
// CHECK-SAME: %[[A:[^:]+]]: tensor<2x3xf32>, %[[B:[^:]+]]: tensor<2x3xf32>
func.func @binary_f32(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // CHECK: %[[ADD:.+]] = kiln.add %[[A]], %[[B]] : tensor<2x3xf32>
  %0 = kiln.add %a, %b : tensor<2x3xf32>
  // CHECK: %[[SUB:.+]] = kiln.sub %[[ADD]], %[[B]] : tensor<2x3xf32>
  %1 = kiln.sub %0, %b : tensor<2x3xf32>
  // CHECK: %[[MUL:.+]] = kiln.mul %[[SUB]], %[[A]] : tensor<2x3xf32>
  %2 = kiln.mul %1, %a : tensor<2x3xf32>
  // CHECK: %[[DIV:.+]] = kiln.div %[[MUL]], %[[B]] : tensor<2x3xf32>
  %3 = kiln.div %2, %b : tensor<2x3xf32>
  // CHECK: %[[MAX:.+]] = kiln.maximum %[[DIV]], %[[A]] : tensor<2x3xf32>
  %4 = kiln.maximum %3, %a : tensor<2x3xf32>
  // CHECK: %[[MIN:.+]] = kiln.minimum %[[MAX]], %[[B]] : tensor<2x3xf32>
  %5 = kiln.minimum %4, %b : tensor<2x3xf32>
  // CHECK: %[[POW:.+]] = kiln.pow %[[MIN]], %[[A]] : tensor<2x3xf32>
  %6 = kiln.pow %5, %a : tensor<2x3xf32>
  // CHECK: return %[[POW]] : tensor<2x3xf32>
  return %6 : tensor<2x3xf32>
}

// Tests that the elementwise binary ops round-trip on f64 tensors.
// CHECK-LABEL: func.func @binary_f64(
// CHECK-SAME: %[[A:[^:]+]]: tensor<4xf64>, %[[B:[^:]+]]: tensor<4xf64>
func.func @binary_f64(%a: tensor<4xf64>, %b: tensor<4xf64>) -> tensor<4xf64> {
  // CHECK: %[[ADD:.+]] = kiln.add %[[A]], %[[B]] : tensor<4xf64>
  %0 = kiln.add %a, %b : tensor<4xf64>
  // CHECK: %[[SUB:.+]] = kiln.sub %[[ADD]], %[[B]] : tensor<4xf64>
  %1 = kiln.sub %0, %b : tensor<4xf64>
  // CHECK: %[[MUL:.+]] = kiln.mul %[[SUB]], %[[A]] : tensor<4xf64>
  %2 = kiln.mul %1, %a : tensor<4xf64>
  // CHECK: %[[DIV:.+]] = kiln.div %[[MUL]], %[[B]] : tensor<4xf64>
  %3 = kiln.div %2, %b : tensor<4xf64>
  // CHECK: %[[MAX:.+]] = kiln.maximum %[[DIV]], %[[A]] : tensor<4xf64>
  %4 = kiln.maximum %3, %a : tensor<4xf64>
  // CHECK: %[[MIN:.+]] = kiln.minimum %[[MAX]], %[[B]] : tensor<4xf64>
  %5 = kiln.minimum %4, %b : tensor<4xf64>
  // CHECK: %[[POW:.+]] = kiln.pow %[[MIN]], %[[A]] : tensor<4xf64>
  %6 = kiln.pow %5, %a : tensor<4xf64>
  // CHECK: return %[[POW]] : tensor<4xf64>
  return %6 : tensor<4xf64>
}

// Tests that the elementwise unary math ops round-trip.
// CHECK-LABEL: func.func @unary(
// CHECK-SAME: %[[X:[^:]+]]: tensor<4xf32>
func.func @unary(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: %[[NEG:.+]] = kiln.neg %[[X]] : tensor<4xf32>
  %0 = kiln.neg %x : tensor<4xf32>
  // CHECK: %[[EXP:.+]] = kiln.exp %[[NEG]] : tensor<4xf32>
  %1 = kiln.exp %0 : tensor<4xf32>
  // CHECK: %[[LOG:.+]] = kiln.log %[[EXP]] : tensor<4xf32>
  %2 = kiln.log %1 : tensor<4xf32>
  // CHECK: %[[LOG1P:.+]] = kiln.log1p %[[LOG]] : tensor<4xf32>
  %3 = kiln.log1p %2 : tensor<4xf32>
  // CHECK: %[[SQRT:.+]] = kiln.sqrt %[[LOG1P]] : tensor<4xf32>
  %4 = kiln.sqrt %3 : tensor<4xf32>
  // CHECK: %[[RSQRT:.+]] = kiln.rsqrt %[[SQRT]] : tensor<4xf32>
  %5 = kiln.rsqrt %4 : tensor<4xf32>
  // CHECK: %[[ABS:.+]] = kiln.abs %[[RSQRT]] : tensor<4xf32>
  %6 = kiln.abs %5 : tensor<4xf32>
  // CHECK: %[[SQUARE:.+]] = kiln.square %[[ABS]] : tensor<4xf32>
  %7 = kiln.square %6 : tensor<4xf32>
  // CHECK: %[[ERF:.+]] = kiln.erf %[[SQUARE]] : tensor<4xf32>
  %8 = kiln.erf %7 : tensor<4xf32>
  // CHECK: return %[[ERF]] : tensor<4xf32>
  return %8 : tensor<4xf32>
}

// Tests that the unary ops also round-trip on f64 tensors.
// CHECK-LABEL: func.func @unary_f64(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x2xf64>
func.func @unary_f64(%x: tensor<2x2xf64>) -> tensor<2x2xf64> {
  // CHECK: %[[EXP:.+]] = kiln.exp %[[X]] : tensor<2x2xf64>
  %0 = kiln.exp %x : tensor<2x2xf64>
  // CHECK: %[[TANH:.+]] = kiln.tanh %[[EXP]] : tensor<2x2xf64>
  %1 = kiln.tanh %0 : tensor<2x2xf64>
  // CHECK: return %[[TANH]] : tensor<2x2xf64>
  return %1 : tensor<2x2xf64>
}

// Tests that the activations round-trip, with and without their attributes.
// CHECK-LABEL: func.func @activations(
// CHECK-SAME: %[[X:[^:]+]]: tensor<8x16xf32>
func.func @activations(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
  // CHECK: %[[TANH:.+]] = kiln.tanh %[[X]] : tensor<8x16xf32>
  %0 = kiln.tanh %x : tensor<8x16xf32>
  // CHECK: %[[SIGMOID:.+]] = kiln.sigmoid %[[TANH]] : tensor<8x16xf32>
  %1 = kiln.sigmoid %0 : tensor<8x16xf32>
  // CHECK: %[[RELU:.+]] = kiln.relu %[[SIGMOID]] : tensor<8x16xf32>
  %2 = kiln.relu %1 : tensor<8x16xf32>
  // CHECK: %[[SOFTPLUS:.+]] = kiln.softplus %[[RELU]] : tensor<8x16xf32>
  %3 = kiln.softplus %2 : tensor<8x16xf32>
  // CHECK: %[[LRELU0:.+]] = kiln.leaky_relu %[[SOFTPLUS]] : tensor<8x16xf32>
  %4 = kiln.leaky_relu %3 : tensor<8x16xf32>
  // CHECK: %[[LRELU1:.+]] = kiln.leaky_relu %[[LRELU0]] {alpha = 2.000000e-01 : f64} : tensor<8x16xf32>
  %5 = kiln.leaky_relu %4 {alpha = 0.2 : f64} : tensor<8x16xf32>
  // CHECK: %[[ELU0:.+]] = kiln.elu %[[LRELU1]] : tensor<8x16xf32>
  %6 = kiln.elu %5 : tensor<8x16xf32>
  // CHECK: %[[ELU1:.+]] = kiln.elu %[[ELU0]] {alpha = 5.000000e-01 : f64} : tensor<8x16xf32>
  %7 = kiln.elu %6 {alpha = 0.5 : f64} : tensor<8x16xf32>
  // CHECK: %[[GELU0:.+]] = kiln.gelu %[[ELU1]] : tensor<8x16xf32>
  %8 = kiln.gelu %7 : tensor<8x16xf32>
  // CHECK: %[[GELU1:.+]] = kiln.gelu %[[GELU0]] {approximate = true} : tensor<8x16xf32>
  %9 = kiln.gelu %8 {approximate = true} : tensor<8x16xf32>
  // CHECK: %[[HSIG0:.+]] = kiln.hard_sigmoid %[[GELU1]] : tensor<8x16xf32>
  %10 = kiln.hard_sigmoid %9 : tensor<8x16xf32>
  // CHECK: %[[HSIG1:.+]] = kiln.hard_sigmoid %[[HSIG0]] {alpha = 2.000000e-01 : f64, beta = 4.000000e-01 : f64} : tensor<8x16xf32>
  %11 = kiln.hard_sigmoid %10 {alpha = 0.2 : f64, beta = 0.4 : f64} : tensor<8x16xf32>
  // CHECK: return %[[HSIG1]] : tensor<8x16xf32>
  return %11 : tensor<8x16xf32>
}

// Tests that kiln.compare round-trips with every direction and yields i1.
// CHECK-LABEL: func.func @compare(
// CHECK-SAME: %[[A:[^:]+]]: tensor<4xf32>, %[[B:[^:]+]]: tensor<4xf32>
func.func @compare(%a: tensor<4xf32>, %b: tensor<4xf32>)
    -> (tensor<4xi1>, tensor<4xi1>, tensor<4xi1>, tensor<4xi1>, tensor<4xi1>, tensor<4xi1>) {
  // CHECK: %[[EQ:.+]] = kiln.compare eq, %[[A]], %[[B]] : tensor<4xf32>
  %0 = kiln.compare eq, %a, %b : tensor<4xf32>
  // CHECK: %[[NE:.+]] = kiln.compare ne, %[[A]], %[[B]] : tensor<4xf32>
  %1 = kiln.compare ne, %a, %b : tensor<4xf32>
  // CHECK: %[[LT:.+]] = kiln.compare lt, %[[A]], %[[B]] : tensor<4xf32>
  %2 = kiln.compare lt, %a, %b : tensor<4xf32>
  // CHECK: %[[LE:.+]] = kiln.compare le, %[[A]], %[[B]] : tensor<4xf32>
  %3 = kiln.compare le, %a, %b : tensor<4xf32>
  // CHECK: %[[GT:.+]] = kiln.compare gt, %[[A]], %[[B]] : tensor<4xf32>
  %4 = kiln.compare gt, %a, %b : tensor<4xf32>
  // CHECK: %[[GE:.+]] = kiln.compare ge, %[[A]], %[[B]] : tensor<4xf32>
  %5 = kiln.compare ge, %a, %b : tensor<4xf32>
  // CHECK: return %[[EQ]], %[[NE]], %[[LT]], %[[LE]], %[[GT]], %[[GE]] : tensor<4xi1>, tensor<4xi1>, tensor<4xi1>, tensor<4xi1>, tensor<4xi1>, tensor<4xi1>
  return %0, %1, %2, %3, %4, %5 : tensor<4xi1>, tensor<4xi1>, tensor<4xi1>, tensor<4xi1>, tensor<4xi1>, tensor<4xi1>
}

// Tests that kiln.compare round-trips on integer (label) and f64 tensors.
// CHECK-LABEL: func.func @compare_int_f64(
// CHECK-SAME: %[[A:[^:]+]]: tensor<8xi32>, %[[B:[^:]+]]: tensor<8xi32>, %[[C:[^:]+]]: tensor<2x3xf64>
func.func @compare_int_f64(%a: tensor<8xi32>, %b: tensor<8xi32>, %c: tensor<2x3xf64>)
    -> (tensor<8xi1>, tensor<2x3xi1>) {
  // CHECK: %[[EQ:.+]] = kiln.compare eq, %[[A]], %[[B]] : tensor<8xi32>
  %0 = kiln.compare eq, %a, %b : tensor<8xi32>
  // CHECK: %[[LT:.+]] = kiln.compare lt, %[[C]], %[[C]] : tensor<2x3xf64>
  %1 = kiln.compare lt, %c, %c : tensor<2x3xf64>
  // CHECK: return %[[EQ]], %[[LT]] : tensor<8xi1>, tensor<2x3xi1>
  return %0, %1 : tensor<8xi1>, tensor<2x3xi1>
}

// Tests that kiln.select round-trips on float and integer operands.
// CHECK-LABEL: func.func @select(
// CHECK-SAME: %[[P:[^:]+]]: tensor<4xi1>, %[[A:[^:]+]]: tensor<4xf32>, %[[B:[^:]+]]: tensor<4xf32>, %[[I:[^:]+]]: tensor<4xi64>, %[[J:[^:]+]]: tensor<4xi64>
func.func @select(%p: tensor<4xi1>, %a: tensor<4xf32>, %b: tensor<4xf32>,
                  %i: tensor<4xi64>, %j: tensor<4xi64>) -> (tensor<4xf32>, tensor<4xi64>) {
  // CHECK: %[[SF:.+]] = kiln.select %[[P]], %[[A]], %[[B]] : tensor<4xi1>, tensor<4xf32>
  %0 = kiln.select %p, %a, %b : tensor<4xi1>, tensor<4xf32>
  // CHECK: %[[SI:.+]] = kiln.select %[[P]], %[[I]], %[[J]] : tensor<4xi1>, tensor<4xi64>
  %1 = kiln.select %p, %i, %j : tensor<4xi1>, tensor<4xi64>
  // CHECK: return %[[SF]], %[[SI]] : tensor<4xf32>, tensor<4xi64>
  return %0, %1 : tensor<4xf32>, tensor<4xi64>
}

// Tests that the reductions round-trip with and without keep_dims.
// CHECK-LABEL: func.func @reductions(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x3x4xf32>
func.func @reductions(%x: tensor<2x3x4xf32>)
    -> (tensor<2xf32>, tensor<2x1x4xf32>, tensor<f32>, tensor<2x3x4xf32>) {
  // CHECK: %[[SUM:.+]] = kiln.reduce_sum %[[X]] {axes = array<i64: 1, 2>} : tensor<2x3x4xf32> -> tensor<2xf32>
  %0 = kiln.reduce_sum %x {axes = array<i64: 1, 2>} : tensor<2x3x4xf32> -> tensor<2xf32>
  // CHECK: %[[MEAN:.+]] = kiln.reduce_mean %[[X]] {axes = array<i64: 1>, keep_dims = true} : tensor<2x3x4xf32> -> tensor<2x1x4xf32>
  %1 = kiln.reduce_mean %x {axes = array<i64: 1>, keep_dims = true} : tensor<2x3x4xf32> -> tensor<2x1x4xf32>
  // CHECK: %[[MAX:.+]] = kiln.reduce_max %[[X]] {axes = array<i64: 0, 1, 2>} : tensor<2x3x4xf32> -> tensor<f32>
  %2 = kiln.reduce_max %x {axes = array<i64: 0, 1, 2>} : tensor<2x3x4xf32> -> tensor<f32>
  // CHECK: %[[NONE:.+]] = kiln.reduce_sum %[[X]] {axes = array<i64>} : tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  %3 = kiln.reduce_sum %x {axes = array<i64>} : tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  // CHECK: return %[[SUM]], %[[MEAN]], %[[MAX]], %[[NONE]]
  return %0, %1, %2, %3 : tensor<2xf32>, tensor<2x1x4xf32>, tensor<f32>, tensor<2x3x4xf32>
}

// Tests that the reductions round-trip on f64 tensors.
// CHECK-LABEL: func.func @reductions_f64(
// CHECK-SAME: %[[X:[^:]+]]: tensor<5x6xf64>
func.func @reductions_f64(%x: tensor<5x6xf64>) -> (tensor<5x1xf64>, tensor<6xf64>) {
  // CHECK: %[[SUM:.+]] = kiln.reduce_sum %[[X]] {axes = array<i64: 1>, keep_dims = true} : tensor<5x6xf64> -> tensor<5x1xf64>
  %0 = kiln.reduce_sum %x {axes = array<i64: 1>, keep_dims = true} : tensor<5x6xf64> -> tensor<5x1xf64>
  // CHECK: %[[MEAN:.+]] = kiln.reduce_mean %[[X]] {axes = array<i64: 0>} : tensor<5x6xf64> -> tensor<6xf64>
  %1 = kiln.reduce_mean %x {axes = array<i64: 0>} : tensor<5x6xf64> -> tensor<6xf64>
  // CHECK: return %[[SUM]], %[[MEAN]]
  return %0, %1 : tensor<5x1xf64>, tensor<6xf64>
}

// Tests that kiln.argmax round-trips with and without keep_dims.
// CHECK-LABEL: func.func @argmax(
// CHECK-SAME: %[[X:[^:]+]]: tensor<8x10xf32>
func.func @argmax(%x: tensor<8x10xf32>) -> (tensor<8xi64>, tensor<8x1xi64>) {
  // CHECK: %[[A0:.+]] = kiln.argmax %[[X]] {axis = 1 : i64} : tensor<8x10xf32> -> tensor<8xi64>
  %0 = kiln.argmax %x {axis = 1 : i64} : tensor<8x10xf32> -> tensor<8xi64>
  // CHECK: %[[A1:.+]] = kiln.argmax %[[X]] {axis = 1 : i64, keep_dims = true} : tensor<8x10xf32> -> tensor<8x1xi64>
  %1 = kiln.argmax %x {axis = 1 : i64, keep_dims = true} : tensor<8x10xf32> -> tensor<8x1xi64>
  // CHECK: return %[[A0]], %[[A1]]
  return %0, %1 : tensor<8xi64>, tensor<8x1xi64>
}

// Tests that kiln.matmul round-trips plain, with transpose flags and batched.
// CHECK-LABEL: func.func @matmul(
// CHECK-SAME: %[[X:[^:]+]]: tensor<128x784xf32>, %[[W:[^:]+]]: tensor<784x512xf32>, %[[WT:[^:]+]]: tensor<512x784xf32>, %[[XT:[^:]+]]: tensor<784x128xf32>
func.func @matmul(%x: tensor<128x784xf32>, %w: tensor<784x512xf32>,
                  %wt: tensor<512x784xf32>, %xt: tensor<784x128xf32>)
    -> (tensor<128x512xf32>, tensor<128x512xf32>, tensor<128x512xf32>) {
  // CHECK: %[[M0:.+]] = kiln.matmul %[[X]], %[[W]] : tensor<128x784xf32>, tensor<784x512xf32> -> tensor<128x512xf32>
  %0 = kiln.matmul %x, %w : tensor<128x784xf32>, tensor<784x512xf32> -> tensor<128x512xf32>
  // CHECK: %[[M1:.+]] = kiln.matmul %[[X]], %[[WT]] {transpose_rhs = true} : tensor<128x784xf32>, tensor<512x784xf32> -> tensor<128x512xf32>
  %1 = kiln.matmul %x, %wt {transpose_rhs = true} : tensor<128x784xf32>, tensor<512x784xf32> -> tensor<128x512xf32>
  // CHECK: %[[M2:.+]] = kiln.matmul %[[XT]], %[[WT]] {transpose_lhs = true, transpose_rhs = true} : tensor<784x128xf32>, tensor<512x784xf32> -> tensor<128x512xf32>
  %2 = kiln.matmul %xt, %wt {transpose_lhs = true, transpose_rhs = true} : tensor<784x128xf32>, tensor<512x784xf32> -> tensor<128x512xf32>
  // CHECK: return %[[M0]], %[[M1]], %[[M2]]
  return %0, %1, %2 : tensor<128x512xf32>, tensor<128x512xf32>, tensor<128x512xf32>
}

// Tests that a batched f64 kiln.matmul round-trips.
// CHECK-LABEL: func.func @matmul_batched_f64(
// CHECK-SAME: %[[A:[^:]+]]: tensor<4x2x3xf64>, %[[B:[^:]+]]: tensor<4x3x5xf64>
func.func @matmul_batched_f64(%a: tensor<4x2x3xf64>, %b: tensor<4x3x5xf64>) -> tensor<4x2x5xf64> {
  // CHECK: %[[M:.+]] = kiln.matmul %[[A]], %[[B]] : tensor<4x2x3xf64>, tensor<4x3x5xf64> -> tensor<4x2x5xf64>
  %0 = kiln.matmul %a, %b : tensor<4x2x3xf64>, tensor<4x3x5xf64> -> tensor<4x2x5xf64>
  // CHECK: return %[[M]]
  return %0 : tensor<4x2x5xf64>
}

// Tests that the shape ops round-trip.
// CHECK-LABEL: func.func @shape_ops(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x3xf32>, %[[Y:[^:]+]]: tensor<2x4xf32>, %[[B:[^:]+]]: tensor<3xf32>
func.func @shape_ops(%x: tensor<2x3xf32>, %y: tensor<2x4xf32>, %b: tensor<3xf32>)
    -> (tensor<6xf32>, tensor<3x2xf32>, tensor<2x10xf32>, tensor<1x2xf32>,
        tensor<4x5xf32>, tensor<5x3xf32>, tensor<2x3xf32>) {
  // CHECK: %[[RESHAPE:.+]] = kiln.reshape %[[X]] : tensor<2x3xf32> -> tensor<6xf32>
  %0 = kiln.reshape %x : tensor<2x3xf32> -> tensor<6xf32>
  // CHECK: %[[TRANSPOSE:.+]] = kiln.transpose %[[X]] {permutation = array<i64: 1, 0>} : tensor<2x3xf32> -> tensor<3x2xf32>
  %1 = kiln.transpose %x {permutation = array<i64: 1, 0>} : tensor<2x3xf32> -> tensor<3x2xf32>
  // CHECK: %[[CONCAT:.+]] = kiln.concat %[[X]], %[[Y]], %[[X]] {axis = 1 : i64} : tensor<2x3xf32>, tensor<2x4xf32>, tensor<2x3xf32> -> tensor<2x10xf32>
  %2 = kiln.concat %x, %y, %x {axis = 1 : i64} : tensor<2x3xf32>, tensor<2x4xf32>, tensor<2x3xf32> -> tensor<2x10xf32>
  // CHECK: %[[SLICE:.+]] = kiln.slice %[[Y]] {limit = array<i64: 2, 4>, start = array<i64: 1, 0>, strides = array<i64: 1, 2>} : tensor<2x4xf32> -> tensor<1x2xf32>
  %3 = kiln.slice %y {start = array<i64: 1, 0>, limit = array<i64: 2, 4>, strides = array<i64: 1, 2>} : tensor<2x4xf32> -> tensor<1x2xf32>
  // CHECK: %[[PAD0:.+]] = kiln.pad %[[X]] {high = array<i64: 1, 2>, low = array<i64: 1, 0>} : tensor<2x3xf32> -> tensor<4x5xf32>
  %4 = kiln.pad %x {low = array<i64: 1, 0>, high = array<i64: 1, 2>} : tensor<2x3xf32> -> tensor<4x5xf32>
  // CHECK: %[[PAD1:.+]] = kiln.pad %[[X]] {high = array<i64: 1, 2>, low = array<i64: 1, 0>, padding_value = -1.500000e+00 : f64} : tensor<2x3xf32> -> tensor<4x5xf32>
  %5 = kiln.pad %x {low = array<i64: 1, 0>, high = array<i64: 1, 2>, padding_value = -1.5 : f64} : tensor<2x3xf32> -> tensor<4x5xf32>
  // CHECK: kiln.pad %[[X]] {high = array<i64: 0, 0>, interior = array<i64: 1, 2>, low = array<i64: 0, 0>} : tensor<2x3xf32> -> tensor<3x7xf32>
  %pi = kiln.pad %x {low = array<i64: 0, 0>, high = array<i64: 0, 0>, interior = array<i64: 1, 2>} : tensor<2x3xf32> -> tensor<3x7xf32>
  // CHECK: kiln.iota {dimension = 1 : i64} : tensor<2x3xi64>
  %io = kiln.iota {dimension = 1 : i64} : tensor<2x3xi64>
  // CHECK: kiln.iota {dimension = 0 : i64} : tensor<2x3xf32>
  %iof = kiln.iota {dimension = 0 : i64} : tensor<2x3xf32>
  // CHECK: kiln.convert %[[X]] : tensor<2x3xf32> -> tensor<2x3xi32>
  %cv = kiln.convert %x : tensor<2x3xf32> -> tensor<2x3xi32>
  // CHECK: kiln.convert %{{.+}} : tensor<2x3xi64> -> tensor<2x3xf64>
  %cv2 = kiln.convert %io : tensor<2x3xi64> -> tensor<2x3xf64>
  // CHECK: %[[BCAST:.+]] = kiln.broadcast_in_dim %[[B]], dims = [1] : tensor<3xf32> -> tensor<5x3xf32>
  %6 = kiln.broadcast_in_dim %b, dims = [1] : tensor<3xf32> -> tensor<5x3xf32>
  // CHECK: %[[BCAST1:.+]] = kiln.broadcast_in_dim %[[X]], dims = [0, 1] : tensor<2x3xf32> -> tensor<2x3xf32>
  %7 = kiln.broadcast_in_dim %x, dims = [0, 1] : tensor<2x3xf32> -> tensor<2x3xf32>
  // CHECK: return %[[RESHAPE]], %[[TRANSPOSE]], %[[CONCAT]], %[[SLICE]], %[[PAD0]], %[[BCAST]], %[[BCAST1]]
  return %0, %1, %2, %3, %4, %6, %7 : tensor<6xf32>, tensor<3x2xf32>, tensor<2x10xf32>, tensor<1x2xf32>,
                                  tensor<4x5xf32>, tensor<5x3xf32>, tensor<2x3xf32>
}

// Tests that the shape ops round-trip on f64, integer and i1 tensors.
// CHECK-LABEL: func.func @shape_ops_other_types(
// CHECK-SAME: %[[D:[^:]+]]: tensor<2x3xf64>, %[[L:[^:]+]]: tensor<8xi64>, %[[M:[^:]+]]: tensor<2x2xi1>, %[[I:[^:]+]]: tensor<4xi32>
func.func @shape_ops_other_types(%d: tensor<2x3xf64>, %l: tensor<8xi64>, %m: tensor<2x2xi1>, %i: tensor<4xi32>)
    -> (tensor<3x2xf64>, tensor<2x4xi64>, tensor<2x2xi1>, tensor<4xi1>, tensor<2x4xi32>, tensor<2xi32>, tensor<3x2xf64>) {
  // CHECK: %[[R0:.+]] = kiln.reshape %[[D]] : tensor<2x3xf64> -> tensor<3x2xf64>
  %0 = kiln.reshape %d : tensor<2x3xf64> -> tensor<3x2xf64>
  // CHECK: %[[R1:.+]] = kiln.reshape %[[L]] : tensor<8xi64> -> tensor<2x4xi64>
  %1 = kiln.reshape %l : tensor<8xi64> -> tensor<2x4xi64>
  // CHECK: %[[T:.+]] = kiln.transpose %[[M]] {permutation = array<i64: 1, 0>} : tensor<2x2xi1> -> tensor<2x2xi1>
  %2 = kiln.transpose %m {permutation = array<i64: 1, 0>} : tensor<2x2xi1> -> tensor<2x2xi1>
  // CHECK: %[[C:.+]] = kiln.concat %[[M]] {axis = 0 : i64} : tensor<2x2xi1> -> tensor<2x2xi1>
  %3 = kiln.concat %m {axis = 0 : i64} : tensor<2x2xi1> -> tensor<2x2xi1>
  // CHECK: %[[R2:.+]] = kiln.reshape %[[C]] : tensor<2x2xi1> -> tensor<4xi1>
  %4 = kiln.reshape %3 : tensor<2x2xi1> -> tensor<4xi1>
  // CHECK: %[[B:.+]] = kiln.broadcast_in_dim %[[I]], dims = [1] : tensor<4xi32> -> tensor<2x4xi32>
  %5 = kiln.broadcast_in_dim %i, dims = [1] : tensor<4xi32> -> tensor<2x4xi32>
  // CHECK: %[[S:.+]] = kiln.slice %[[I]] {limit = array<i64: 4>, start = array<i64: 1>, strides = array<i64: 2>} : tensor<4xi32> -> tensor<2xi32>
  %6 = kiln.slice %i {start = array<i64: 1>, limit = array<i64: 4>, strides = array<i64: 2>} : tensor<4xi32> -> tensor<2xi32>
  // CHECK: %[[P:.+]] = kiln.pad %[[D]] {high = array<i64: 1, 0>, low = array<i64: 0, 0>} : tensor<2x3xf64> -> tensor<3x3xf64>
  %7 = kiln.pad %d {low = array<i64: 0, 0>, high = array<i64: 1, 0>} : tensor<2x3xf64> -> tensor<3x3xf64>
  // CHECK: return %[[R0]], %[[R1]], %[[T]], %[[R2]], %[[B]], %[[S]], %[[R0]]
  return %0, %1, %2, %4, %5, %6, %0 : tensor<3x2xf64>, tensor<2x4xi64>, tensor<2x2xi1>, tensor<4xi1>, tensor<2x4xi32>, tensor<2xi32>, tensor<3x2xf64>
}

// Tests that kiln.softmax and kiln.log_softmax round-trip.
// CHECK-LABEL: func.func @softmax(
// CHECK-SAME: %[[X:[^:]+]]: tensor<128x10xf32>, %[[D:[^:]+]]: tensor<4x3xf64>
func.func @softmax(%x: tensor<128x10xf32>, %d: tensor<4x3xf64>)
    -> (tensor<128x10xf32>, tensor<128x10xf32>, tensor<4x3xf64>) {
  // CHECK: %[[S:.+]] = kiln.softmax %[[X]] {axis = 1 : i64} : tensor<128x10xf32>
  %0 = kiln.softmax %x {axis = 1 : i64} : tensor<128x10xf32>
  // CHECK: %[[LS:.+]] = kiln.log_softmax %[[X]] {axis = 1 : i64} : tensor<128x10xf32>
  %1 = kiln.log_softmax %x {axis = 1 : i64} : tensor<128x10xf32>
  // CHECK: %[[SD:.+]] = kiln.softmax %[[D]] {axis = 0 : i64} : tensor<4x3xf64>
  %2 = kiln.softmax %d {axis = 0 : i64} : tensor<4x3xf64>
  // CHECK: return %[[S]], %[[LS]], %[[SD]]
  return %0, %1, %2 : tensor<128x10xf32>, tensor<128x10xf32>, tensor<4x3xf64>
}

// Tests that kiln.constant round-trips dense, splat, integer and i1 values.
// CHECK-LABEL: func.func @constants(
func.func @constants() -> (tensor<2xf32>, tensor<2x2xf64>, tensor<3xi64>, tensor<2xi1>, tensor<f32>) {
  // CHECK: %[[C0:.+]] = kiln.constant dense<[1.000000e+00, 2.500000e+00]> : tensor<2xf32>
  %0 = kiln.constant dense<[1.0, 2.5]> : tensor<2xf32>
  // CHECK: %[[C1:.+]] = kiln.constant dense<0.000000e+00> : tensor<2x2xf64>
  %1 = kiln.constant dense<0.0> : tensor<2x2xf64>
  // CHECK: %[[C2:.+]] = kiln.constant dense<[3, 1, 4]> : tensor<3xi64>
  %2 = kiln.constant dense<[3, 1, 4]> : tensor<3xi64>
  // CHECK: %[[C3:.+]] = kiln.constant dense<[true, false]> : tensor<2xi1>
  %3 = kiln.constant dense<[true, false]> : tensor<2xi1>
  // CHECK: %[[C4:.+]] = kiln.constant dense<-1.000000e+00> : tensor<f32>
  %4 = kiln.constant dense<-1.0> : tensor<f32>
  // CHECK: return %[[C0]], %[[C1]], %[[C2]], %[[C3]], %[[C4]]
  return %0, %1, %2, %3, %4 : tensor<2xf32>, tensor<2x2xf64>, tensor<3xi64>, tensor<2xi1>, tensor<f32>
}

// Tests that kiln.stop_gradient round-trips on float and integer tensors.
// CHECK-LABEL: func.func @stop_gradient(
// CHECK-SAME: %[[X:[^:]+]]: tensor<4xf32>, %[[L:[^:]+]]: tensor<4xi64>
func.func @stop_gradient(%x: tensor<4xf32>, %l: tensor<4xi64>) -> (tensor<4xf32>, tensor<4xi64>) {
  // CHECK: %[[SX:.+]] = kiln.stop_gradient %[[X]] : tensor<4xf32>
  %0 = kiln.stop_gradient %x : tensor<4xf32>
  // CHECK: %[[SL:.+]] = kiln.stop_gradient %[[L]] : tensor<4xi64>
  %1 = kiln.stop_gradient %l : tensor<4xi64>
  // CHECK: return %[[SX]], %[[SL]]
  return %0, %1 : tensor<4xf32>, tensor<4xi64>
}

// Tests that kiln.dropout round-trips with i64 and i32 counters.
// CHECK-LABEL: func.func @dropout(
// CHECK-SAME: %[[X:[^:]+]]: tensor<128x512xf32>, %[[STEP:[^:]+]]: tensor<i64>, %[[D:[^:]+]]: tensor<4xf64>, %[[STEP32:[^:]+]]: tensor<i32>
func.func @dropout(%x: tensor<128x512xf32>, %step: tensor<i64>, %d: tensor<4xf64>, %step32: tensor<i32>)
    -> (tensor<128x512xf32>, tensor<4xf64>) {
  // CHECK: %[[Y:.+]] = kiln.dropout %[[X]], %[[STEP]] {rate = 2.000000e-01 : f64, seed = 42 : i64} : tensor<128x512xf32>, tensor<i64>
  %0 = kiln.dropout %x, %step {rate = 0.2 : f64, seed = 42 : i64} : tensor<128x512xf32>, tensor<i64>
  // CHECK: %[[Z:.+]] = kiln.dropout %[[D]], %[[STEP32]] {rate = 0.000000e+00 : f64, seed = 7 : i64} : tensor<4xf64>, tensor<i32>
  %1 = kiln.dropout %d, %step32 {rate = 0.0 : f64, seed = 7 : i64} : tensor<4xf64>, tensor<i32>
  // CHECK: return %[[Y]], %[[Z]]
  return %0, %1 : tensor<128x512xf32>, tensor<4xf64>
}

// Tests that the dense-label losses round-trip, with and without from_logits.
// CHECK-LABEL: func.func @losses(
// CHECK-SAME: %[[P:[^:]+]]: tensor<8x10xf32>, %[[Y:[^:]+]]: tensor<8x10xf32>, %[[W:[^:]+]]: tensor<8xf32>
func.func @losses(%p: tensor<8x10xf32>, %y: tensor<8x10xf32>, %w: tensor<8xf32>)
    -> (tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>) {
  // CHECK: %[[MSE:.+]] = kiln.mean_squared_error %[[P]], %[[Y]], %[[W]] : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf32> -> tensor<f32>
  %0 = kiln.mean_squared_error %p, %y, %w : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf32> -> tensor<f32>
  // CHECK: %[[MAE:.+]] = kiln.mean_absolute_error %[[P]], %[[Y]], %[[W]] : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf32> -> tensor<f32>
  %1 = kiln.mean_absolute_error %p, %y, %w : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf32> -> tensor<f32>
  // CHECK: %[[BCE:.+]] = kiln.binary_crossentropy %[[P]], %[[Y]], %[[W]] : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf32> -> tensor<f32>
  %2 = kiln.binary_crossentropy %p, %y, %w : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf32> -> tensor<f32>
  // CHECK: %[[BCEL:.+]] = kiln.binary_crossentropy %[[P]], %[[Y]], %[[W]] {from_logits = true} : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf32> -> tensor<f32>
  %3 = kiln.binary_crossentropy %p, %y, %w {from_logits = true} : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf32> -> tensor<f32>
  // CHECK: %[[CCE:.+]] = kiln.categorical_crossentropy %[[P]], %[[Y]], %[[W]] : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf32> -> tensor<f32>
  %4 = kiln.categorical_crossentropy %p, %y, %w : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf32> -> tensor<f32>
  // CHECK: %[[CCEL:.+]] = kiln.categorical_crossentropy %[[P]], %[[Y]], %[[W]] {from_logits = true} : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf32> -> tensor<f32>
  %5 = kiln.categorical_crossentropy %p, %y, %w {from_logits = true} : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf32> -> tensor<f32>
  // CHECK: return %[[MSE]], %[[MAE]], %[[BCE]], %[[BCEL]], %[[CCE]], %[[CCEL]]
  return %0, %1, %2, %3, %4, %5 : tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>
}

// Tests that the dense-label losses round-trip on f64 and on rank-1 predictions.
// CHECK-LABEL: func.func @losses_f64(
// CHECK-SAME: %[[P:[^:]+]]: tensor<4x3xf64>, %[[Y:[^:]+]]: tensor<4x3xf64>, %[[W:[^:]+]]: tensor<4xf64>, %[[Q:[^:]+]]: tensor<4xf64>
func.func @losses_f64(%p: tensor<4x3xf64>, %y: tensor<4x3xf64>, %w: tensor<4xf64>, %q: tensor<4xf64>)
    -> (tensor<f64>, tensor<f64>) {
  // CHECK: %[[MSE:.+]] = kiln.mean_squared_error %[[P]], %[[Y]], %[[W]] : tensor<4x3xf64>, tensor<4x3xf64>, tensor<4xf64> -> tensor<f64>
  %0 = kiln.mean_squared_error %p, %y, %w : tensor<4x3xf64>, tensor<4x3xf64>, tensor<4xf64> -> tensor<f64>
  // CHECK: %[[BCE:.+]] = kiln.binary_crossentropy %[[Q]], %[[Q]], %[[W]] {from_logits = true} : tensor<4xf64>, tensor<4xf64>, tensor<4xf64> -> tensor<f64>
  %1 = kiln.binary_crossentropy %q, %q, %w {from_logits = true} : tensor<4xf64>, tensor<4xf64>, tensor<4xf64> -> tensor<f64>
  // CHECK: return %[[MSE]], %[[BCE]]
  return %0, %1 : tensor<f64>, tensor<f64>
}

// Tests that kiln.sparse_categorical_crossentropy round-trips with i64 and i32
// labels, with and without from_logits.
// CHECK-LABEL: func.func @sparse_loss(
// CHECK-SAME: %[[P:[^:]+]]: tensor<8x10xf32>, %[[L64:[^:]+]]: tensor<8xi64>, %[[L32:[^:]+]]: tensor<8xi32>, %[[W:[^:]+]]: tensor<8xf32>
func.func @sparse_loss(%p: tensor<8x10xf32>, %l64: tensor<8xi64>, %l32: tensor<8xi32>, %w: tensor<8xf32>)
    -> (tensor<f32>, tensor<f32>) {
  // CHECK: %[[S64:.+]] = kiln.sparse_categorical_crossentropy %[[P]], %[[L64]], %[[W]] : tensor<8x10xf32>, tensor<8xi64>, tensor<8xf32> -> tensor<f32>
  %0 = kiln.sparse_categorical_crossentropy %p, %l64, %w : tensor<8x10xf32>, tensor<8xi64>, tensor<8xf32> -> tensor<f32>
  // CHECK: %[[S32:.+]] = kiln.sparse_categorical_crossentropy %[[P]], %[[L32]], %[[W]] {from_logits = true} : tensor<8x10xf32>, tensor<8xi32>, tensor<8xf32> -> tensor<f32>
  %1 = kiln.sparse_categorical_crossentropy %p, %l32, %w {from_logits = true} : tensor<8x10xf32>, tensor<8xi32>, tensor<8xf32> -> tensor<f32>
  // CHECK: return %[[S64]], %[[S32]]
  return %0, %1 : tensor<f32>, tensor<f32>
}

// Tests that the sparse loss round-trips on f64 predictions with a sequence
// axis (labels drop only the last axis).
// CHECK-LABEL: func.func @sparse_loss_f64_sequence(
// CHECK-SAME: %[[P:[^:]+]]: tensor<4x7x5xf64>, %[[L:[^:]+]]: tensor<4x7xi32>, %[[W:[^:]+]]: tensor<4xf64>
func.func @sparse_loss_f64_sequence(%p: tensor<4x7x5xf64>, %l: tensor<4x7xi32>, %w: tensor<4xf64>) -> tensor<f64> {
  // CHECK: %[[S:.+]] = kiln.sparse_categorical_crossentropy %[[P]], %[[L]], %[[W]] {from_logits = true} : tensor<4x7x5xf64>, tensor<4x7xi32>, tensor<4xf64> -> tensor<f64>
  %0 = kiln.sparse_categorical_crossentropy %p, %l, %w {from_logits = true} : tensor<4x7x5xf64>, tensor<4x7xi32>, tensor<4xf64> -> tensor<f64>
  // CHECK: return %[[S]]
  return %0 : tensor<f64>
}

// Tests that the convolution ops round-trip (groups = 1 is elided).
// CHECK-LABEL: func.func @convolution(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x8x7x4xf32>, %[[W:[^:]+]]: tensor<3x2x2x6xf32>
func.func @convolution(%x: tensor<2x8x7x4xf32>, %w: tensor<3x2x2x6xf32>) -> (tensor<2x4x8x6xf32>, tensor<2x8x7x4xf32>, tensor<3x2x2x6xf32>) {
  // CHECK: %[[Y:.+]] = kiln.conv %[[X]], %[[W]] {dilations = array<i64: 1, 2>, groups = 2 : i64, pad_high = array<i64: 0, 2>, pad_low = array<i64: 1, 1>, strides = array<i64: 2, 1>} : tensor<2x8x7x4xf32>, tensor<3x2x2x6xf32> -> tensor<2x4x8x6xf32>
  %y = kiln.conv %x, %w {strides = array<i64: 2, 1>, dilations = array<i64: 1, 2>, pad_low = array<i64: 1, 1>, pad_high = array<i64: 0, 2>, groups = 2 : i64} : tensor<2x8x7x4xf32>, tensor<3x2x2x6xf32> -> tensor<2x4x8x6xf32>
  // CHECK: %[[DX:.+]] = kiln.conv_transpose %[[Y]], %[[W]] {dilations = array<i64: 1, 2>, groups = 2 : i64, pad_high = array<i64: 0, 2>, pad_low = array<i64: 1, 1>, strides = array<i64: 2, 1>} : tensor<2x4x8x6xf32>, tensor<3x2x2x6xf32> -> tensor<2x8x7x4xf32>
  %dx = kiln.conv_transpose %y, %w {strides = array<i64: 2, 1>, dilations = array<i64: 1, 2>, pad_low = array<i64: 1, 1>, pad_high = array<i64: 0, 2>, groups = 2 : i64} : tensor<2x4x8x6xf32>, tensor<3x2x2x6xf32> -> tensor<2x8x7x4xf32>
  // CHECK: %[[DW:.+]] = kiln.conv_filter_grad %[[X]], %[[Y]] {dilations = array<i64: 1, 2>, groups = 2 : i64, pad_high = array<i64: 0, 2>, pad_low = array<i64: 1, 1>, strides = array<i64: 2, 1>} : tensor<2x8x7x4xf32>, tensor<2x4x8x6xf32> -> tensor<3x2x2x6xf32>
  %dw = kiln.conv_filter_grad %x, %y {strides = array<i64: 2, 1>, dilations = array<i64: 1, 2>, pad_low = array<i64: 1, 1>, pad_high = array<i64: 0, 2>, groups = 2 : i64} : tensor<2x8x7x4xf32>, tensor<2x4x8x6xf32> -> tensor<3x2x2x6xf32>
  // CHECK: return %[[Y]], %[[DX]], %[[DW]]
  return %y, %dx, %dw : tensor<2x4x8x6xf32>, tensor<2x8x7x4xf32>, tensor<3x2x2x6xf32>
}

// Tests that the pooling ops round-trip on f64 tensors (false flags are
// elided).
// CHECK-LABEL: func.func @pooling(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x9x8xf64>
func.func @pooling(%x: tensor<2x9x8xf64>) -> (tensor<2x9x8xf64>, tensor<2x9x8xf64>) {
  // CHECK: %[[M:.+]] = kiln.max_pool %[[X]] {ceil_mode = true, pad_high = array<i64: 0>, pad_low = array<i64: 1>, strides = array<i64: 2>, window = array<i64: 3>} : tensor<2x9x8xf64> -> tensor<2x5x8xf64>
  %m = kiln.max_pool %x {window = array<i64: 3>, strides = array<i64: 2>, pad_low = array<i64: 1>, pad_high = array<i64: 0>, ceil_mode = true} : tensor<2x9x8xf64> -> tensor<2x5x8xf64>
  // CHECK: %[[DM:.+]] = kiln.max_pool_grad %[[X]], %[[M]] {ceil_mode = true, pad_high = array<i64: 0>, pad_low = array<i64: 1>, strides = array<i64: 2>, window = array<i64: 3>} : tensor<2x9x8xf64>, tensor<2x5x8xf64> -> tensor<2x9x8xf64>
  %dm = kiln.max_pool_grad %x, %m {window = array<i64: 3>, strides = array<i64: 2>, pad_low = array<i64: 1>, pad_high = array<i64: 0>, ceil_mode = true} : tensor<2x9x8xf64>, tensor<2x5x8xf64> -> tensor<2x9x8xf64>
  // CHECK: %[[A:.+]] = kiln.avg_pool %[[X]] {count_include_pad = true, pad_high = array<i64: 1>, pad_low = array<i64: 1>, strides = array<i64: 2>, window = array<i64: 3>} : tensor<2x9x8xf64> -> tensor<2x5x8xf64>
  %a = kiln.avg_pool %x {window = array<i64: 3>, strides = array<i64: 2>, pad_low = array<i64: 1>, pad_high = array<i64: 1>, count_include_pad = true, ceil_mode = false} : tensor<2x9x8xf64> -> tensor<2x5x8xf64>
  // CHECK: %[[DA:.+]] = kiln.avg_pool_grad %[[A]] {count_include_pad = true, pad_high = array<i64: 1>, pad_low = array<i64: 1>, strides = array<i64: 2>, window = array<i64: 3>} : tensor<2x5x8xf64> -> tensor<2x9x8xf64>
  %da = kiln.avg_pool_grad %a {window = array<i64: 3>, strides = array<i64: 2>, pad_low = array<i64: 1>, pad_high = array<i64: 1>, count_include_pad = true} : tensor<2x5x8xf64> -> tensor<2x9x8xf64>
  // CHECK: return %[[DM]], %[[DA]]
  return %dm, %da : tensor<2x9x8xf64>, tensor<2x9x8xf64>
}

// An embedding lookup and its gradient round-trip (axis 0 elided).
// CHECK-LABEL: func.func @gather_scatter(
// CHECK-SAME: %[[T:[^:]+]]: tensor<10x4xf32>, %[[I:[^:]+]]: tensor<2x3xi32>
func.func @gather_scatter(%t: tensor<10x4xf32>, %i: tensor<2x3xi32>) -> (tensor<2x3x4xf32>, tensor<10x4xf32>) {
  // CHECK: %[[G:.+]] = kiln.gather %[[T]][%[[I]]] : tensor<10x4xf32>, tensor<2x3xi32> -> tensor<2x3x4xf32>
  %g = kiln.gather %t[%i] {axis = 0 : i64} : tensor<10x4xf32>, tensor<2x3xi32> -> tensor<2x3x4xf32>
  // CHECK: %[[S:.+]] = kiln.scatter_add %[[G]][%[[I]]] {size = 10 : i64} : tensor<2x3x4xf32>, tensor<2x3xi32> -> tensor<10x4xf32>
  %s = kiln.scatter_add %g[%i] {size = 10 : i64} : tensor<2x3x4xf32>, tensor<2x3xi32> -> tensor<10x4xf32>
  // CHECK: return %[[G]], %[[S]]
  return %g, %s : tensor<2x3x4xf32>, tensor<10x4xf32>
}

// A GRU (reset_after: bias [2, 3H]) and its gradient round-trip; default
// attributes are elided.
// CHECK-LABEL: func.func @rnn(
func.func @rnn(%x: tensor<2x5x3xf32>, %k: tensor<3x12xf32>, %rk: tensor<4x12xf32>, %b: tensor<2x12xf32>, %dy: tensor<2x5x4xf32>, %dst: tensor<1x2x4xf32>) -> (tensor<2x5x4xf32>, tensor<3x12xf32>) {
  // CHECK: %[[Y:.+]], %[[ST:.+]], %[[WS:.+]] = kiln.rnn %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {cell = "gru", go_backwards = true} : tensor<2x5x3xf32>, tensor<3x12xf32>, tensor<4x12xf32>, tensor<2x12xf32> -> tensor<2x5x4xf32>, tensor<1x2x4xf32>, tensor<224xf32>
  %y, %st, %ws = kiln.rnn %x, %k, %rk, %b {cell = "gru", go_backwards = true, activation = "tanh"} : tensor<2x5x3xf32>, tensor<3x12xf32>, tensor<4x12xf32>, tensor<2x12xf32> -> tensor<2x5x4xf32>, tensor<1x2x4xf32>, tensor<224xf32>
  // CHECK: kiln.rnn_grad %{{.*}}, %{{.*}}, %{{.*}}, %[[WS]], %{{.*}}, %{{.*}} {cell = "gru", go_backwards = true} : {{.*}} -> tensor<2x5x3xf32>, tensor<3x12xf32>, tensor<4x12xf32>, tensor<2x12xf32>, tensor<1x2x4xf32>
  %dx, %dk, %drk, %db, %ds0 = kiln.rnn_grad %x, %k, %rk, %ws, %dy, %dst {cell = "gru", go_backwards = true} : tensor<2x5x3xf32>, tensor<3x12xf32>, tensor<4x12xf32>, tensor<224xf32>, tensor<2x5x4xf32>, tensor<1x2x4xf32> -> tensor<2x5x3xf32>, tensor<3x12xf32>, tensor<4x12xf32>, tensor<2x12xf32>, tensor<1x2x4xf32>
  return %y, %dk : tensor<2x5x4xf32>, tensor<3x12xf32>
}

// An LSTM with a mask and initial states [2, N, H] (h, c) round-trips.
// CHECK-LABEL: func.func @rnn_initial_state(
func.func @rnn_initial_state(%x: tensor<2x5x3xf32>, %k: tensor<3x16xf32>, %rk: tensor<4x16xf32>, %b: tensor<16xf32>, %m: tensor<2x5xf32>, %s0: tensor<2x2x4xf32>) -> tensor<2x2x4xf32> {
  // CHECK: kiln.rnn %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<2x5xf32>) initial_state(%{{.*}} : tensor<2x2x4xf32>) {cell = "lstm"} : {{.*}} -> tensor<2x5x4xf32>, tensor<2x2x4xf32>, tensor<280xf32>
  %y, %st, %ws = kiln.rnn %x, %k, %rk, %b mask(%m : tensor<2x5xf32>) initial_state(%s0 : tensor<2x2x4xf32>) {cell = "lstm"} : tensor<2x5x3xf32>, tensor<3x16xf32>, tensor<4x16xf32>, tensor<16xf32> -> tensor<2x5x4xf32>, tensor<2x2x4xf32>, tensor<280xf32>
  return %st : tensor<2x2x4xf32>
}
