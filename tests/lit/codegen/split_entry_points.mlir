// RUN: kiln-opt %s --split-input-file --kiln-split-entry-points="max-ops=10 part-ops=7" | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-split-entry-points | FileCheck %s --check-prefix=SMALL
// RUN: kiln-opt %s --split-input-file --kiln-split-entry-points="max-ops=10 part-ops=7" | FileCheck %s --check-prefix=UNIQUE
// RUN: kiln-opt %s --split-input-file --kiln-split-entry-points="max-ops=10 part-ops=6" | FileCheck %s --check-prefix=ATTRS

// Tests that a long entry point becomes calls of private noinline parts in
// program order, that a scalar computed in one part reaches a later part as
// a result and an argument, that constants are cloned into the parts that
// use them, that views are rebuilt in each part from the region buffer (a
// memref crosses a call as a bare pointer, which would drop the view's
// offset), and that a function under `max-ops` stays whole.

// CHECK-LABEL: func.func @step(
// CHECK-SAME: %[[BUF:.+]]: memref<64xi8>
// CHECK: %[[S:.+]] = call @step__part0(%[[BUF]]) : (memref<64xi8>) -> f32
// CHECK: call @step__part1(%[[BUF]], %[[S]]) : (memref<64xi8>, f32) -> ()
// CHECK-NEXT: return

// CHECK: func.func private @step__part1(%[[B1:.+]]: memref<64xi8>, %[[V:.+]]: f32)
// CHECK-SAME: passthrough = ["noinline"]
// CHECK-DAG: %[[C32:.+]] = arith.constant 32 : index
// CHECK-DAG: %[[W:.+]] = memref.view %[[B1]][%[[C32]]][] : memref<64xi8> to memref<4xf32>
// CHECK: scf.for
// CHECK: memref.store %[[V]], %[[W]]
// CHECK: scf.for
// CHECK: arith.mulf
// CHECK: return

// CHECK: func.func private @step__part0(%[[B0:.+]]: memref<64xi8>) -> f32
// CHECK-SAME: passthrough = ["noinline"]
// CHECK: memref.view %[[B0]]
// CHECK: scf.for
// CHECK: }
// CHECK: %[[L:.+]] = memref.load
// CHECK: return %[[L]] : f32

// SMALL-LABEL: func.func @step(
// SMALL-NOT: call @step
// SMALL-NOT: func.func private @step
func.func @step(%buf: memref<64xi8>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  %one = arith.constant 1.0 : f32
  %in = memref.view %buf[%c0][] : memref<64xi8> to memref<4xf32>
  %out = memref.view %buf[%c32][] : memref<64xi8> to memref<4xf32>
  scf.for %i = %c0 to %c4 step %c1 {
    %v = memref.load %in[%i] : memref<4xf32>
    %w = arith.addf %v, %one : f32
    memref.store %w, %in[%i] : memref<4xf32>
  }
  %s = memref.load %in[%c0] : memref<4xf32>
  scf.for %i = %c0 to %c4 step %c1 {
    memref.store %s, %out[%i] : memref<4xf32>
  }
  scf.for %i = %c0 to %c4 step %c1 {
    %v = memref.load %out[%i] : memref<4xf32>
    %w = arith.mulf %v, %one : f32
    memref.store %w, %out[%i] : memref<4xf32>
  }
  return
}

// -----

// Tests that a part whose name `<func>__part<N>` the module already uses
// gets a unique name from the symbol table, and that the calls reach the
// new parts, not the existing function.

// UNIQUE: // -----
// UNIQUE: func.func @step(
// UNIQUE: call @step__part0_0(
// UNIQUE: call @step__part1(
// UNIQUE-NEXT: return
// UNIQUE: func.func private @step__part1(
// UNIQUE: func.func private @step__part0_0(
// UNIQUE-SAME: passthrough = ["noinline"]
// UNIQUE: func.func @step__part0(%{{.+}}: f32) -> f32
// UNIQUE-NEXT: return
func.func @step(%buf: memref<64xi8>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  %one = arith.constant 1.0 : f32
  %in = memref.view %buf[%c0][] : memref<64xi8> to memref<4xf32>
  %out = memref.view %buf[%c32][] : memref<64xi8> to memref<4xf32>
  scf.for %i = %c0 to %c4 step %c1 {
    %v = memref.load %in[%i] : memref<4xf32>
    %w = arith.addf %v, %one : f32
    memref.store %w, %in[%i] : memref<4xf32>
  }
  %s = memref.load %in[%c0] : memref<4xf32>
  scf.for %i = %c0 to %c4 step %c1 {
    memref.store %s, %out[%i] : memref<4xf32>
  }
  scf.for %i = %c0 to %c4 step %c1 {
    %v = memref.load %out[%i] : memref<4xf32>
    %w = arith.mulf %v, %one : f32
    memref.store %w, %out[%i] : memref<4xf32>
  }
  return
}
func.func @step__part0(%x: f32) -> f32 {
  return %x : f32
}

// -----

// Tests that the region buffers' llvm.noalias and llvm.align (from
// kiln-plan-memory) carry over to the parts that receive them, and that an
// address taken for a runtime call (extract_aligned_pointer_as_index,
// index_cast, inttoptr) is recomputed in the part that calls, from the
// part's own argument, instead of crossing the boundary as an integer that
// would not be based on the noalias argument.

// ATTRS-LABEL: func.func private @consume
// ATTRS: func.func @step(
// ATTRS: call @step__part0(%{{.+}}) : (memref<64xi8>) -> ()
// ATTRS: call @step__part1(%{{.+}}) : (memref<64xi8>) -> ()
// ATTRS-NEXT: return
// ATTRS: func.func private @step__part1(%[[B1:[^:]+]]: memref<64xi8> {llvm.align = 64 : i64, llvm.noalias})
// ATTRS: %[[V1:.+]] = memref.view %[[B1]]
// ATTRS: %[[I1:.+]] = memref.extract_aligned_pointer_as_index %[[V1]]
// ATTRS: %[[J1:.+]] = arith.index_cast %[[I1]] : index to i64
// ATTRS: %[[P1:.+]] = llvm.inttoptr %[[J1]] : i64 to !llvm.ptr
// ATTRS: call @consume(%[[P1]])
// ATTRS: scf.for
// ATTRS: func.func private @step__part0(%{{[^:]+}}: memref<64xi8> {llvm.align = 64 : i64, llvm.noalias})
// ATTRS-NOT: inttoptr
// ATTRS: scf.for
func.func private @consume(!llvm.ptr)
func.func @step(%buf: memref<64xi8> {llvm.align = 64 : i64, llvm.noalias}) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %one = arith.constant 1.0 : f32
  %in = memref.view %buf[%c0][] : memref<64xi8> to memref<4xf32>
  %address = memref.extract_aligned_pointer_as_index %in : memref<4xf32> -> index
  %i64 = arith.index_cast %address : index to i64
  %ptr = llvm.inttoptr %i64 : i64 to !llvm.ptr
  scf.for %i = %c0 to %c4 step %c1 {
    %v = memref.load %in[%i] : memref<4xf32>
    %w = arith.addf %v, %one : f32
    memref.store %w, %in[%i] : memref<4xf32>
  }
  call @consume(%ptr) : (!llvm.ptr) -> ()
  scf.for %i = %c0 to %c4 step %c1 {
    %v = memref.load %in[%i] : memref<4xf32>
    %w = arith.mulf %v, %one : f32
    memref.store %w, %in[%i] : memref<4xf32>
  }
  return
}
