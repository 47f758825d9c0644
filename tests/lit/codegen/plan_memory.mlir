// RUN: kiln-opt %s --kiln-lower-to-linalg --kiln-bufferize -split-input-file | FileCheck %s

// Tests that chained temporaries share the scratch arena by liveness: in
// y = x W W W W the three intermediate products t0, t1, t2 (4096 B each) are
// temporaries; t0 is dead once t1 is computed, so t0 and t2 take the same
// bytes and the arena holds two buffers (8192 B) while the temporaries total
// 12288 B. The parameter goes to the params region, the input and output to
// the io region, each at 64-byte alignment.
// CHECK-LABEL: func.func @chain
// The regions are separate allocations at 64-byte alignment: each argument
// says so to LLVM.
// CHECK-SAME: (%[[PARAMS:[^:]+]]: memref<4096xi8> {llvm.align = 64 : i64, llvm.noalias}, %[[STATE:[^:]+]]: memref<0xi8> {llvm.align = 64 : i64, llvm.noalias}, %[[IO:[^:]+]]: memref<8192xi8> {llvm.align = 64 : i64, llvm.noalias}, %[[SCRATCH:[^:]+]]: memref<8192xi8> {llvm.align = 64 : i64, llvm.noalias})
// CHECK-SAME: io_size = 8192
// CHECK-SAME: num_temporaries = 3
// CHECK-SAME: params_size = 4096
// CHECK-SAME: scratch_size = 8192
// CHECK-SAME: temporaries_total = 12288
// CHECK-SAME: {dtype = "f32", kind = "param", name = "w", offset = 0 : i64, region = "params", shape = array<i64: 32, 32>, updated = false}
// CHECK-SAME: {dtype = "f32", kind = "input", name = "x", offset = 0 : i64, region = "io", shape = array<i64: 32, 32>, updated = false}
// CHECK-SAME: {dtype = "f32", kind = "output", name = "y", offset = 4096 : i64, region = "io", shape = array<i64: 32, 32>, updated = false}
// CHECK-NOT: memref.alloc
// CHECK: return
func.func @chain(%w: tensor<32x32xf32> {kiln.param = "w"},
                 %x: tensor<32x32xf32> {kiln.name = "x"})
    -> (tensor<32x32xf32> {kiln.name = "y"}) {
  %0 = kiln.matmul %x, %w : tensor<32x32xf32>, tensor<32x32xf32> -> tensor<32x32xf32>
  %1 = kiln.matmul %0, %w : tensor<32x32xf32>, tensor<32x32xf32> -> tensor<32x32xf32>
  %2 = kiln.matmul %1, %w : tensor<32x32xf32>, tensor<32x32xf32> -> tensor<32x32xf32>
  %3 = kiln.matmul %2, %w : tensor<32x32xf32>, tensor<32x32xf32> -> tensor<32x32xf32>
  return %3 : tensor<32x32xf32>
}
