// RUN: kiln-opt %s --kiln-lower-kernel-calls | FileCheck %s

// Tests kiln-lower-kernel-calls: a view into a region is passed as the
// region's pointer plus the byte shift plus the element offset; null
// pointers go where null_pointers says; equal descriptors share a global.
// CHECK: func.func private @kiln_conv_fwd_f64(!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr)
// CHECK: llvm.mlir.global private unnamed_addr constant @__kiln_desc_0(dense<[7, 8, 9]> : tensor<3xi64>) {addr_space = 0 : i32, alignment = 8 : i64} : !llvm.array<3 x i64>
// CHECK-NOT: llvm.mlir.global
// CHECK-LABEL: func.func @calls
// CHECK: %[[D:.+]] = llvm.mlir.addressof @__kiln_desc_0 : !llvm.ptr
// CHECK: %[[P:.+]] = memref.extract_aligned_pointer_as_index %arg0
// CHECK: %[[PI:.+]] = arith.index_cast %[[P]] : index to i64
// CHECK: %[[PP:.+]] = llvm.inttoptr %[[PI]] : i64 to !llvm.ptr
// CHECK: %[[SHIFT:.+]] = llvm.getelementptr %[[PP]][%{{.+}}] : (!llvm.ptr, i64) -> !llvm.ptr, i8
// CHECK: %[[X:.+]] = llvm.getelementptr %[[SHIFT]][%{{.+}}] : (!llvm.ptr, i64) -> !llvm.ptr, f64
// CHECK: %[[N:.+]] = llvm.mlir.zero : !llvm.ptr
// CHECK: call @kiln_conv_fwd_f64(%[[D]], %[[X]], %{{.+}}, %[[N]], %{{.+}}) : (!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> ()
// CHECK: %[[D2:.+]] = llvm.mlir.addressof @__kiln_desc_0 : !llvm.ptr
// CHECK: %[[N2:.+]] = llvm.mlir.zero : !llvm.ptr
// CHECK: call @kiln_conv_fwd_f64(%[[D2]], %[[N2]], %{{.+}}, %{{.+}}, %{{.+}})
// CHECK-NOT: kiln_rt
func.func @calls(%region: memref<1024xi8>, %w: memref<2x2xf64>, %y: memref<4x2xf64>) {
  %c64 = arith.constant 64 : index
  %x = memref.view %region[%c64][] : memref<1024xi8> to memref<4x2xf64>
  kiln_rt.kernel_call @kiln_conv_fwd_f64 descriptor = [7, 8, 9] ins(%x, %w : memref<4x2xf64>, memref<2x2xf64>) outs(%y : memref<4x2xf64>) {null_pointers = array<i64: 2>}
  kiln_rt.kernel_call @kiln_conv_fwd_f64 descriptor = [7, 8, 9] ins(%x, %w : memref<4x2xf64>, memref<2x2xf64>) outs(%y : memref<4x2xf64>) {null_pointers = array<i64: 0>}
  return
}
