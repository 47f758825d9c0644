// RUN: kiln-opt %s --kiln-parallelize-loops | FileCheck %s
// RUN: kiln-opt %s --kiln-parallelize-loops --kiln-lower-to-llvm | FileCheck %s --check-prefix=LLVM

// Tests that a large generic with a parallel outer loop becomes a call of
// kiln_parallel_for over an outlined chunk function: 256 x 128 = 32768
// iterations, at least 8192 per chunk, so chunks of 64 rows, 4 chunks. The
// context holds the region pointer and the scalar loaded before the generic
// (memref.load cannot be cloned); the view chain and constants are cloned;
// linalg.index 0 is shifted by the chunk's first row. The sum over the
// outer loop is split into partial sums; the small generic stays serial.

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d1)>

// CHECK-LABEL: func.func @step(
// CHECK-SAME: %[[A0:[^:]+]]: memref<262656xi8>, %[[A1:[^:]+]]: memref<64xi8>)
// CHECK: %[[PARTIALS:.+]] = memref.alloca() : memref<4x128xf32>
// CHECK: %[[SLOTS:.+]] = llvm.alloca %{{.+}} x i64 : (i64) -> !llvm.ptr
// CHECK: %[[S:.+]] = memref.load
// CHECK: llvm.store %{{.+}}, %{{.+}} : !llvm.ptr, !llvm.ptr
// CHECK: %[[SLOT1:.+]] = llvm.getelementptr %[[SLOTS]][1] : (!llvm.ptr) -> !llvm.ptr, i64
// CHECK: llvm.store %[[S]], %[[SLOT1]] : f32, !llvm.ptr
// CHECK: %[[F:.+]] = constant @step__parallel0 : (!llvm.ptr, i64) -> ()
// CHECK: %[[FP:.+]] = builtin.unrealized_conversion_cast %[[F]]
// CHECK: %[[N:.+]] = llvm.mlir.constant(4 : i64) : i64
// CHECK: call @kiln_parallel_for(%[[N]], %[[FP]], %[[SLOTS]]) : (i64, !llvm.ptr, !llvm.ptr) -> ()
// The sum over the outer loop: 4 chunks, each summed into a buffer on its
// own stack and copied to its row of the partial sums, then the rows added
// to the output in chunk order.
// CHECK: llvm.store %{{.+}}, %{{.+}} : !llvm.ptr, !llvm.ptr
// CHECK: %[[F1:.+]] = constant @step__parallel1 : (!llvm.ptr, i64) -> ()
// CHECK: call @kiln_parallel_for(%{{.+}}, %{{.+}}, %{{.+}}) : (i64, !llvm.ptr, !llvm.ptr) -> ()
// CHECK: linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["reduction", "parallel"]} ins(%[[PARTIALS]] : memref<4x128xf32>) outs(%{{.+}} : memref<128xf32>)
// CHECK: arith.addf %{{.+}}, %{{.+}} : f32
// CHECK-NOT: call @kiln_parallel_for
// CHECK: linalg.generic {{.*}}iterator_types = ["reduction", "parallel"]} ins(%{{.+}} : memref<256x128xf32>)
// CHECK: arith.maximumf
// CHECK-NOT: call @kiln_parallel_for
// CHECK: linalg.generic {{.*}}ins(%{{.+}} : memref<4x4xf32>)
// CHECK: return

// CHECK-LABEL: func.func private @step__parallel0(
// CHECK-SAME: %[[CTX:[^:]+]]: !llvm.ptr, %[[CHUNK:[^:]+]]: i64) attributes {llvm.linkage = #llvm.linkage<internal>}
// CHECK: %[[P:.+]] = llvm.load %{{.+}} : !llvm.ptr -> !llvm.ptr
// CHECK: %[[REGION:.+]] = builtin.unrealized_conversion_cast %{{.+}} to memref<262656xi8>
// CHECK: %[[SCALE:.+]] = llvm.load %{{.+}} : !llvm.ptr -> f32
// CHECK: memref.view %[[REGION]]
// CHECK: %[[C:.+]] = arith.index_cast %[[CHUNK]] : i64 to index
// CHECK: %[[LO:.+]] = arith.muli %[[C]], %{{.+}} : index
// CHECK: %[[REST:.+]] = arith.subi %{{.+}}, %[[LO]] : index
// CHECK: %[[SIZE:.+]] = arith.minsi %{{.+}}, %[[REST]] : index
// CHECK: %[[IN:.+]] = memref.subview %{{.+}}[%[[LO]], 0] [%[[SIZE]], 128] [1, 1] : memref<256x128xf32> to memref<?x128xf32, strided<[128, 1], offset: ?>>
// CHECK: %[[OUT:.+]] = memref.subview %{{.+}}[%[[LO]], 0] [%[[SIZE]], 128] [1, 1]
// CHECK: linalg.generic {{.*}}ins(%[[IN]], %{{.+}} : memref<?x128xf32, strided<[128, 1], offset: ?>>, memref<128xf32>) outs(%[[OUT]]
// CHECK: %[[I:.+]] = linalg.index 0 : index
// CHECK: %[[GI:.+]] = arith.addi %[[I]], %[[LO]] : index
// CHECK: arith.index_cast %[[GI]]
// CHECK: arith.mulf %{{.+}}, %[[SCALE]]
// CHECK: return

// CHECK-LABEL: func.func private @step__parallel1(
// CHECK: %[[C1:.+]] = arith.index_cast %{{.+}} : i64 to index
// CHECK: %[[ROW:.+]] = memref.subview %{{.+}}[%[[C1]], 0] [1, 128] [1, 1] : memref<4x128xf32> to memref<128xf32, strided<[1], offset: ?>>
// CHECK: %[[LOCAL:.+]] = memref.alloca() : memref<128xf32>
// CHECK: %[[NZ:.+]] = arith.constant -0.000000e+00 : f32
// CHECK: linalg.fill ins(%[[NZ]] : f32) outs(%[[LOCAL]] : memref<128xf32>)
// CHECK: linalg.generic {{.*}}iterator_types = ["reduction", "parallel"]} ins(%{{.+}} : memref<?x128xf32, strided<[128, 1], offset: ?>>) outs(%[[LOCAL]] : memref<128xf32>)
// CHECK: linalg.generic {{.*}}ins(%[[LOCAL]] : memref<128xf32>) outs(%[[ROW]] : memref<128xf32, strided<[1], offset: ?>>)
// CHECK: return

// The runtime declaration; after lowering the chunk function's address is
// passed.
// LLVM: llvm.func @kiln_parallel_for(i64, !llvm.ptr, !llvm.ptr)
// LLVM: %[[ADDR:.+]] = llvm.mlir.addressof @step__parallel0 : !llvm.ptr
// LLVM: llvm.call @kiln_parallel_for(%{{.+}}, %[[ADDR]], %{{.+}})
// LLVM: llvm.func internal @step__parallel0(%{{.+}}: !llvm.ptr, %{{.+}}: i64)

func.func @step(%arg0: memref<262656xi8>, %arg1: memref<64xi8>) {
  %c0 = arith.constant 0 : index
  %c131072 = arith.constant 131072 : index
  %c262144 = arith.constant 262144 : index
  %x = memref.view %arg0[%c0][] : memref<262656xi8> to memref<256x128xf32>
  %y = memref.view %arg0[%c131072][] : memref<262656xi8> to memref<256x128xf32>
  %b = memref.view %arg0[%c262144][] : memref<262656xi8> to memref<128xf32>
  %sv = memref.view %arg1[%c0][] : memref<64xi8> to memref<f32>
  %s = memref.load %sv[] : memref<f32>
  // y[i, j] = (x[i, j] + b[j] + i) * s
  linalg.generic {indexing_maps = [#id, #row, #id],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x, %b : memref<256x128xf32>, memref<128xf32>)
      outs(%y : memref<256x128xf32>) {
  ^bb0(%in: f32, %bias: f32, %out: f32):
    %i = linalg.index 0 : index
    %ii = arith.index_cast %i : index to i64
    %fi = arith.sitofp %ii : i64 to f32
    %t = arith.addf %in, %bias : f32
    %u = arith.addf %t, %fi : f32
    %v = arith.mulf %u, %s : f32
    linalg.yield %v : f32
  }
  // b[j] = sum_i x[i, j]: the outer loop is a reduction.
  linalg.generic {indexing_maps = [#id, #row],
                  iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<256x128xf32>) outs(%b : memref<128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %out : f32
    linalg.yield %r : f32
  }
  // A maximum over the outer loop is not a sum: it stays serial.
  linalg.generic {indexing_maps = [#id, #row],
                  iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<256x128xf32>) outs(%b : memref<128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maximumf %in, %out : f32
    linalg.yield %r : f32
  }
  // Too small.
  %z = memref.view %arg1[%c0][] : memref<64xi8> to memref<4x4xf32>
  linalg.generic {indexing_maps = [#id, #id],
                  iterator_types = ["parallel", "parallel"]}
      ins(%z : memref<4x4xf32>) outs(%z : memref<4x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    linalg.yield %n : f32
  }
  return
}
