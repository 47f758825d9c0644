// Tests the kilnc emission ladder on one dense layer: each rung prints the
// level it names, and obj+header write both files next to the -o base name.

// RUN: kilnc %s --emit=kiln | FileCheck %s --check-prefix=KILN
// RUN: kilnc %s --emit=linalg | FileCheck %s --check-prefix=LINALG
// RUN: kilnc %s --emit=llvm-dialect | FileCheck %s --check-prefix=LLVMDIALECT
// RUN: kilnc %s --emit=llvm-ir | FileCheck %s --check-prefix=LLVMIR
// RUN: kilnc %s --emit=asm --target-cpu=x86-64 | FileCheck %s --check-prefix=ASM
// RUN: kilnc %s --emit=header --name=dense_layer | FileCheck %s --check-prefix=HEADER
// RUN: rm -rf %t && mkdir -p %t
// RUN: kilnc %s --emit=obj,header -o %t/layer
// RUN: test -s %t/layer.o && test -s %t/layer.h
// RUN: kilnc %s --emit=linalg --mlir-print-ir-after-all -o /dev/null 2>&1 | FileCheck %s --check-prefix=AFTERALL
// RUN: kilnc %s --emit=obj -o %t/timed.o --mlir-timing 2>&1 | FileCheck %s --check-prefix=TIMING

// KILN: kiln.matmul
// LINALG-NOT: kiln.matmul
// LINALG: linalg.matmul
// The four regions are separate 64-byte-aligned allocations: noalias and
// align 64 let LLVM vectorize without runtime overlap checks.
// LLVMDIALECT: llvm.func @kilnc_emit_dense(%{{.*}}: !llvm.ptr {llvm.align = 64 : i64, llvm.noalias}, %{{.*}}: !llvm.ptr {llvm.align = 64 : i64, llvm.noalias}, %{{.*}}: !llvm.ptr {llvm.align = 64 : i64, llvm.noalias}, %{{.*}}: !llvm.ptr {llvm.align = 64 : i64, llvm.noalias})
// LLVMDIALECT: llvm.call @kiln_gemm_f32
// LLVMIR: define void @kilnc_emit_dense(ptr noalias {{.*}}align 64
// LLVMIR: call void @kiln_gemm_f32
// ASM: kilnc_emit_dense:
// HEADER: #define DENSE_LAYER_SCRATCH_SIZE
// HEADER: /* input 'x': f32[4, 8] in the io region at byte 0 */
// HEADER: void dense_layer_dense(void *params, void *opt_state, void *io, void *scratch);
// AFTERALL: IR Dump After ConvertKilnToLinalgPass
// TIMING: Execution time report
// TIMING: kiln-lower-to-linalg

func.func @dense(%w: tensor<8x16xf32> {kiln.param = "kernel"},
                 %x: tensor<4x8xf32> {kiln.name = "x"})
    -> (tensor<4x16xf32> {kiln.name = "y"}) {
  %0 = kiln.matmul %x, %w : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %1 = kiln.relu %0 : tensor<4x16xf32>
  return %1 : tensor<4x16xf32>
}
