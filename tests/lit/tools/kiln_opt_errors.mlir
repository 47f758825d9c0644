// RUN: not kiln-opt %s 2>&1 | FileCheck %s

// Tests that malformed input is reported as file:line:col: error and makes
// kiln-opt exit with a failure status (`not` also fails on a crash).

func.func @undeclared_value(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: kiln_opt_errors.mlir:[[@LINE+1]]:{{[0-9]+}}: error: use of undeclared SSA value name
  %0 = kiln.add %x, %y : tensor<4xf32>
  return %0 : tensor<4xf32>
}
