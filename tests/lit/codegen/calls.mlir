// Tests that calls between kiln functions are inlined before lowering: a
// private helper disappears (it is not exported from the object), and a
// public function called by another stays an entry point of its own.

// RUN: kilnc %s --emit=linalg | FileCheck %s
// RUN: rm -rf %t && mkdir -p %t && kilnc %s --emit=obj --name=m -o %t/m.o
// RUN: llvm-nm %t/m.o | FileCheck %s --check-prefix=SYMBOLS

// CHECK-NOT: func.call
// CHECK-NOT: @helper
// CHECK-LABEL: func.func @caller
// CHECK-LABEL: func.func @callee
// SYMBOLS-NOT: helper
// SYMBOLS-DAG: T m_callee
// SYMBOLS-DAG: T m_caller
func.func private @helper(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = kiln.relu %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}
func.func @caller(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = func.call @helper(%x) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = func.call @callee(%0) : (tensor<4xf32>) -> tensor<4xf32>
  return %1 : tensor<4xf32>
}
func.func @callee(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = kiln.exp %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}
