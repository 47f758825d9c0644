// RUN: kiln-opt %s --convert-kiln-to-linalg -split-input-file | FileCheck %s
// RUN: kiln-opt %s --convert-kiln-to-linalg --one-shot-bufferize="bufferize-function-boundaries" -split-input-file | FileCheck %s --check-prefix=BUF

// Tests that mean_squared_error computes (y - p)^2, the mean over the
// non-batch axes, then sum(w * l) / sum(w) in one two-output reduction
// (a row of weight 0 adds 0 even for l = inf, where 0 * l is NaN; a NaN
// l stays NaN) and
// selects 0 when the weights sum to 0.
// CHECK-LABEL: func.func @mse(
// CHECK-SAME: %[[P:[^:]+]]: tensor<8x10xf32>, %[[Y:[^:]+]]: tensor<8x10xf32>, %[[W:[^:]+]]: tensor<8xf32>
// CHECK: %[[SQ:.+]] = linalg.generic {{.*}} ins(%[[P]], %[[Y]] : tensor<8x10xf32>, tensor<8x10xf32>)
// CHECK: ^bb0(%[[PS:[^:]+]]: f32, %[[YS:[^:]+]]: f32
// CHECK: %[[D:.+]] = arith.subf %[[YS]], %[[PS]] : f32
// CHECK: arith.mulf %[[D]], %[[D]] : f32
// CHECK: %[[SUM:.+]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%[[SQ]] : tensor<8x10xf32>)
// CHECK: %[[MEAN:.+]] = linalg.generic {{.*}} ins(%[[SUM]] : tensor<8xf32>)
// CHECK: arith.constant 1.000000e+01 : f32
// CHECK: arith.divf
// CHECK: %[[ND:.+]]:2 = linalg.generic {{.*}}iterator_types = ["reduction"]} ins(%[[MEAN]], %[[W]] : tensor<8xf32>, tensor<8xf32>) outs(%{{.+}}, %{{.+}} : tensor<f32>, tensor<f32>)
// CHECK: ^bb0(%[[L:[^:]+]]: f32, %[[WS:[^:]+]]: f32, %[[NUM:[^:]+]]: f32, %[[DEN:[^:]+]]: f32):
// CHECK: %[[Z0:.+]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[W0:.+]] = arith.cmpf oeq, %[[WS]], %[[Z0]] : f32
// CHECK: %[[ABS:.+]] = math.absf %[[L]] : f32
// CHECK: %[[INF:.+]] = arith.cmpf oeq, %[[ABS]], %{{.+}} : f32
// CHECK: %[[BOTH:.+]] = arith.andi %[[W0]], %[[INF]] : i1
// CHECK: %[[PROD:.+]] = arith.mulf %[[WS]], %[[L]] : f32
// CHECK: %[[WL:.+]] = arith.select %[[BOTH]], %[[Z0]], %[[PROD]] : f32
// CHECK: %[[N:.+]] = arith.addf %[[NUM]], %[[WL]] : f32
// CHECK: %[[DN:.+]] = arith.addf %[[DEN]], %[[WS]] : f32
// CHECK: linalg.yield %[[N]], %[[DN]] : f32, f32
// CHECK: %[[R:.+]] = linalg.generic {{.*}} ins(%[[ND]]#0, %[[ND]]#1 : tensor<f32>, tensor<f32>) outs(%{{.+}} : tensor<f32>)
// CHECK: ^bb0(%[[NS:[^:]+]]: f32, %[[DS:[^:]+]]: f32
// CHECK: %[[Z:.+]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[ISZ:.+]] = arith.cmpf oeq, %[[DS]], %[[Z]] : f32
// CHECK: %[[Q:.+]] = arith.divf %[[NS]], %[[DS]] : f32
// CHECK: arith.select %[[ISZ]], %[[Z]], %[[Q]] : f32
// CHECK: return %[[R]] : tensor<f32>
// BUF-LABEL: func.func @mse(
// BUF-NOT: tensor.empty
// BUF: return %{{.+}} : memref<f32>
func.func @mse(%p: tensor<8x10xf32>, %y: tensor<8x10xf32>, %w: tensor<8xf32>) -> tensor<f32> {
  %0 = kiln.mean_squared_error %p, %y, %w : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that mean_absolute_error on rank-1 predictions (one value per
// sample) uses |y - p| with no per-sample mean.
// CHECK-LABEL: func.func @mae_rank1(
// CHECK: math.absf
// CHECK-NOT: arith.divf %{{.+}}, %{{.+}} : f64
// CHECK: linalg.generic {{.*}}iterator_types = ["reduction"]}
// CHECK: arith.select
func.func @mae_rank1(%p: tensor<8xf64>, %y: tensor<8xf64>, %w: tensor<8xf64>) -> tensor<f64> {
  %0 = kiln.mean_absolute_error %p, %y, %w : tensor<8xf64>, tensor<8xf64>, tensor<8xf64> -> tensor<f64>
  return %0 : tensor<f64>
}

// -----

// Tests that binary_crossentropy on probabilities clips p to
// [1e-7, 1 - 1e-7] and computes -(y log p + (1 - y) log(1 - p)).
// CHECK-LABEL: func.func @bce(
// CHECK: ^bb0(%[[PS:[^:]+]]: f32, %[[YS:[^:]+]]: f32
// CHECK: %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK: %[[EPS:.+]] = arith.constant 1.000000e-07 : f32
// CHECK: %[[LO:.+]] = arith.maximumf %[[PS]], %[[EPS]] : f32
// CHECK: %[[HI:.+]] = arith.constant 0.99999988 : f32
// CHECK: %[[PC:.+]] = arith.minimumf %[[LO]], %[[HI]] : f32
// CHECK: %[[LP:.+]] = math.log %[[PC]] : f32
// CHECK: %[[A:.+]] = arith.mulf %[[YS]], %[[LP]] : f32
// CHECK: %[[OMP:.+]] = arith.subf %[[ONE]], %[[PC]] : f32
// CHECK: %[[LQ:.+]] = math.log %[[OMP]] : f32
// CHECK: %[[OMY:.+]] = arith.subf %[[ONE]], %[[YS]] : f32
// CHECK: %[[B:.+]] = arith.mulf %[[OMY]], %[[LQ]] : f32
// CHECK: %[[S:.+]] = arith.addf %[[A]], %[[B]] : f32
// CHECK: arith.negf %[[S]] : f32
func.func @bce(%p: tensor<8x10xf32>, %y: tensor<8x10xf32>, %w: tensor<8xf32>) -> tensor<f32> {
  %0 = kiln.binary_crossentropy %p, %y, %w : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that binary_crossentropy from logits is
// max(z, 0) + log1p(exp(-|z|)) - z y.
// CHECK-LABEL: func.func @bce_logits(
// CHECK: ^bb0(%[[ZS:[^:]+]]: f32, %[[YS:[^:]+]]: f32
// CHECK: %[[ZY:.+]] = arith.mulf %[[ZS]], %[[YS]] : f32
// CHECK: %[[POS:.+]] = arith.maximumf %[[ZS]], %{{.+}} : f32
// CHECK: %[[ABS:.+]] = math.absf %[[ZS]] : f32
// CHECK: %[[NA:.+]] = arith.negf %[[ABS]] : f32
// CHECK: %[[E:.+]] = math.exp %[[NA]] : f32
// CHECK: %[[L1P:.+]] = math.log1p %[[E]] : f32
// CHECK: %[[SP:.+]] = arith.addf %[[POS]], %[[L1P]] : f32
// CHECK: arith.subf %[[SP]], %[[ZY]] : f32
func.func @bce_logits(%z: tensor<8x10xf32>, %y: tensor<8x10xf32>, %w: tensor<8xf32>) -> tensor<f32> {
  %0 = kiln.binary_crossentropy %z, %y, %w {from_logits = true} : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that categorical_crossentropy on probabilities renormalizes p by
// its sum over the last axis, clips, and sums -y log p over the classes.
// CHECK-LABEL: func.func @cce(
// CHECK-SAME: %[[P:[^:]+]]: tensor<8x10xf32>, %[[Y:[^:]+]]: tensor<8x10xf32>
// CHECK: %[[S:.+]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%[[P]] : tensor<8x10xf32>)
// CHECK: %[[SB:.+]] = linalg.generic {{.*}} ins(%[[S]] : tensor<8xf32>) outs(%{{.+}} : tensor<8x10xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[P]], %[[SB]], %[[Y]] : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8x10xf32>)
// CHECK: arith.divf
// CHECK: arith.maximumf
// CHECK: arith.minimumf
// CHECK: math.log
// CHECK: arith.negf
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]}
// CHECK: arith.addf
func.func @cce(%p: tensor<8x10xf32>, %y: tensor<8x10xf32>, %w: tensor<8xf32>) -> tensor<f32> {
  %0 = kiln.categorical_crossentropy %p, %y, %w : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that categorical_crossentropy from logits shifts by the max and
// computes -sum_c y_c ((z_c - m) - log(sum exp(z - m))); with rank 3 the
// per-sample loss also averages the middle axis.
// CHECK-LABEL: func.func @cce_logits_rank3(
// CHECK-SAME: %[[Z:[^:]+]]: tensor<4x2x3xf64>, %[[Y:[^:]+]]: tensor<4x2x3xf64>
// CHECK: %[[M:.+]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[Z]] : tensor<4x2x3xf64>)
// CHECK: arith.maximumf
// CHECK: %[[D:.+]] = linalg.generic {{.*}} ins(%[[Z]], %{{[^ ]+}} : tensor<4x2x3xf64>, tensor<4x2x3xf64>)
// CHECK: arith.subf
// CHECK: math.exp
// CHECK: %[[LS:.+]] = linalg.generic {{.*}} ins(%{{[^ ]+}} : tensor<4x2xf64>)
// CHECK: math.log
// CHECK: %[[LSB:.+]] = linalg.generic {{.*}} ins(%[[LS]] : tensor<4x2xf64>)
// CHECK: linalg.generic {{.*}} ins(%[[Y]], %[[D]], %[[LSB]] : tensor<4x2x3xf64>, tensor<4x2x3xf64>, tensor<4x2x3xf64>)
// CHECK: ^bb0(%[[YS:[^:]+]]: f64, %[[DS:[^:]+]]: f64, %[[LSS:[^:]+]]: f64
// CHECK: %[[NLSM:.+]] = arith.subf %[[LSS]], %[[DS]] : f64
// CHECK: arith.mulf %[[YS]], %[[NLSM]] : f64
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]}
// CHECK: arith.constant 2.000000e+00 : f64
func.func @cce_logits_rank3(%z: tensor<4x2x3xf64>, %y: tensor<4x2x3xf64>, %w: tensor<4xf64>) -> tensor<f64> {
  %0 = kiln.categorical_crossentropy %z, %y, %w {from_logits = true} : tensor<4x2x3xf64>, tensor<4x2x3xf64>, tensor<4xf64> -> tensor<f64>
  return %0 : tensor<f64>
}

// -----

// Tests that sparse_categorical_crossentropy picks p[label] with a
// generic comparing linalg.index of the class axis with the label, then
// takes -log(clip(p)).
// CHECK-LABEL: func.func @scce(
// CHECK-SAME: %[[P:[^:]+]]: tensor<8x10xf32>, %[[L:[^:]+]]: tensor<8xi32>
// CHECK: %[[PICK:.+]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%[[P]], %[[L]] : tensor<8x10xf32>, tensor<8xi32>)
// CHECK: ^bb0(%[[PS:[^:]+]]: f32, %[[LS:[^:]+]]: i32, %[[ACC:[^:]+]]: f32):
// CHECK: %[[IDX:.+]] = linalg.index 1 : index
// CHECK: %[[IDXI:.+]] = arith.index_cast %[[IDX]] : index to i32
// CHECK: %[[HIT:.+]] = arith.cmpi eq, %[[IDXI]], %[[LS]] : i32
// CHECK: arith.select %[[HIT]], %[[PS]], %[[ACC]] : f32
// CHECK: linalg.generic {{.*}} ins(%[[PICK]] : tensor<8xf32>)
// CHECK: arith.maximumf
// CHECK: arith.minimumf
// CHECK: math.log
// CHECK: arith.negf
// BUF-LABEL: func.func @scce(
// BUF: linalg.index
// BUF: return %{{.+}} : memref<f32>
func.func @scce(%p: tensor<8x10xf32>, %l: tensor<8xi32>, %w: tensor<8xf32>) -> tensor<f32> {
  %0 = kiln.sparse_categorical_crossentropy %p, %l, %w : tensor<8x10xf32>, tensor<8xi32>, tensor<8xf32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that sparse_categorical_crossentropy from logits is
// log(sum exp(z - m)) - (z - m)[label].
// CHECK-LABEL: func.func @scce_logits(
// CHECK-SAME: %[[Z:[^:]+]]: tensor<8x10xf32>, %[[L:[^:]+]]: tensor<8xi64>
// CHECK: %[[D:.+]] = linalg.generic {{.*}} ins(%[[Z]], %{{[^ ]+}} : tensor<8x10xf32>, tensor<8x10xf32>)
// CHECK: arith.subf
// CHECK: %[[LS:.+]] = linalg.generic {{.*}} ins(%{{[^ ]+}} : tensor<8xf32>)
// CHECK: math.log
// CHECK: %[[PICK:.+]] = linalg.generic {{.*}} ins(%[[D]], %[[L]] : tensor<8x10xf32>, tensor<8xi64>)
// CHECK: arith.cmpi eq
// CHECK: linalg.generic {{.*}} ins(%[[LS]], %[[PICK]] : tensor<8xf32>, tensor<8xf32>)
// CHECK: arith.subf
func.func @scce_logits(%z: tensor<8x10xf32>, %l: tensor<8xi64>, %w: tensor<8xf32>) -> tensor<f32> {
  %0 = kiln.sparse_categorical_crossentropy %z, %l, %w {from_logits = true} : tensor<8x10xf32>, tensor<8xi64>, tensor<8xf32> -> tensor<f32>
  return %0 : tensor<f32>
}
