// RUN: kiln-opt %s --convert-kiln-to-linalg -split-input-file | FileCheck %s
// RUN: kiln-opt %s --convert-kiln-to-linalg --one-shot-bufferize="bufferize-function-boundaries" -split-input-file | FileCheck %s --check-prefix=BUF

// Tests that dropout extracts the counter, mixes it with the seed once
// (splitmix64 finalizer), then in one parallel generic hashes the linear
// element index (linalg.index times static strides), compares the top 24
// bits with ceil(rate * 2^24) and selects x / (1 - rate) or 0.
// CHECK-LABEL: func.func @dropout(
// CHECK-SAME: %[[X:[^:]+]]: tensor<128x512xf32>, %[[C:[^:]+]]: tensor<i64>
// CHECK: %[[CNT:.+]] = tensor.extract %[[C]][] : tensor<i64>
// CHECK: %[[SEED:.+]] = arith.constant -785323504874005646 : i64
// CHECK: %[[K0:.+]] = arith.xori %[[SEED]], %[[CNT]] : i64
// CHECK: arith.constant -4658895280553007687 : i64
// CHECK: arith.constant -7723592293110705685 : i64
// CHECK: %[[KEY:.+]] = arith.xori
// CHECK: %[[E:.+]] = tensor.empty() : tensor<128x512xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]} ins(%[[X]] : tensor<128x512xf32>) outs(%[[E]] : tensor<128x512xf32>)
// CHECK: ^bb0(%[[IN:[^:]+]]: f32
// CHECK: %[[I0:.+]] = linalg.index 0 : index
// CHECK: %[[I0L:.+]] = arith.index_cast %[[I0]] : index to i64
// CHECK: %[[S0:.+]] = arith.constant 512 : i64
// CHECK: %[[T0:.+]] = arith.muli %[[I0L]], %[[S0]] : i64
// CHECK: %[[I1:.+]] = linalg.index 1 : index
// CHECK: %[[I1L:.+]] = arith.index_cast %[[I1]] : index to i64
// CHECK: %[[LIN:.+]] = arith.addi %[[T0]], %[[I1L]] : i64
// CHECK: %[[GAMMA:.+]] = arith.constant -7046029254386353131 : i64
// CHECK: %[[STEP:.+]] = arith.muli %[[LIN]], %[[GAMMA]] : i64
// CHECK: %[[STATE:.+]] = arith.addi %[[KEY]], %[[STEP]] : i64
// CHECK: %[[SH:.+]] = arith.constant 40 : i64
// CHECK: %[[TOP:.+]] = arith.shrui %{{.+}}, %[[SH]] : i64
// CHECK: %[[T:.+]] = arith.constant 3355444 : i64
// CHECK: %[[KEEP:.+]] = arith.cmpi uge, %[[TOP]], %[[T]] : i64
// CHECK: %[[KP:.+]] = arith.constant 8.000000e-01 : f32
// CHECK: %[[SC:.+]] = arith.divf %[[IN]], %[[KP]] : f32
// CHECK: %[[Z:.+]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[R:.+]] = arith.select %[[KEEP]], %[[SC]], %[[Z]] : f32
// CHECK: linalg.yield %[[R]] : f32
// BUF-LABEL: func.func @dropout(
// BUF: memref.load
// BUF: linalg.generic
func.func @dropout(%x: tensor<128x512xf32>, %step: tensor<i64>) -> tensor<128x512xf32> {
  %0 = kiln.dropout %x, %step {rate = 0.2 : f64, seed = 42 : i64} : tensor<128x512xf32>, tensor<i64>
  return %0 : tensor<128x512xf32>
}

// -----

// Tests that an i32 counter is sign-extended to i64 and f64 data works.
// CHECK-LABEL: func.func @dropout_i32_f64(
// CHECK: %[[CNT:.+]] = tensor.extract %{{.+}}[] : tensor<i32>
// CHECK: arith.extsi %[[CNT]] : i32 to i64
// CHECK: linalg.generic
// CHECK: arith.divf %{{.+}}, %{{.+}} : f64
// CHECK: arith.select %{{.+}}, %{{.+}}, %{{.+}} : f64
func.func @dropout_i32_f64(%x: tensor<4xf64>, %step: tensor<i32>) -> tensor<4xf64> {
  %0 = kiln.dropout %x, %step {rate = 0.5 : f64, seed = 7 : i64} : tensor<4xf64>, tensor<i32>
  return %0 : tensor<4xf64>
}
