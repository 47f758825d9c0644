// Tests that element counts, byte sizes and offsets are 64-bit: a
// [262144, 8960] f32 tensor has 2,348,810,240 elements (more than 2^31) and
// 9,395,240,960 bytes (more than 2^33). Compile only: the object file is
// generated but never run.

// RUN: kilnc %s --emit=header --name=big | FileCheck %s
// RUN: rm -rf %t && mkdir -p %t && kilnc %s --emit=obj -o %t/big.o && test -s %t/big.o

// CHECK: #define BIG_IO_SIZE 18790481920
// CHECK: /* input 'x': f32[262144, 8960] in the io region at byte 0 */
// CHECK: #define BIG_LARGE_INPUT_X_SIZE 9395240960 /* bytes */
// CHECK: #define BIG_LARGE_INPUT_X_COUNT 2348810240 /* elements */
// CHECK: /* output 'y': f32[262144, 8960] in the io region at byte 9395240960 */
func.func @large(%x: tensor<262144x8960xf32> {kiln.name = "x"})
    -> (tensor<262144x8960xf32> {kiln.name = "y"}) {
  %0 = kiln.relu %x : tensor<262144x8960xf32>
  return %0 : tensor<262144x8960xf32>
}
