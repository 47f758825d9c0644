// Tests kilnc's errors on bad input: each names the place, exits non-zero,
// and writes no output file.

// RUN: rm -rf %t && mkdir -p %t
// RUN: not kilnc %s --emit=obj -o %t/out.o 2>&1 | FileCheck %s --check-prefix=PARSE
// RUN: not test -e %t/out.o
// RUN: not kilnc %S/Inputs/dynamic_shape.mlir --emit=obj -o %t/out.o 2>&1 | FileCheck %s --check-prefix=DYNAMIC
// RUN: not kilnc %S/Inputs/does_not_exist.mlir 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not kilnc %S/Inputs/dynamic_shape.mlir --emit=bogus 2>&1 | FileCheck %s --check-prefix=EMIT
// RUN: not kilnc %S/../../../examples/mlp_forward/mlp.mlir --emit=obj --target-cpu=not-a-cpu -o %t/out.o 2>&1 | FileCheck %s --check-prefix=CPU
// RUN: not kilnc %S/../../../examples/mlp_forward/mlp.mlir --emit=obj --target-triple=nonsense-none-none -o %t/out.o 2>&1 | FileCheck %s --check-prefix=TRIPLE

// PARSE: kilnc_errors.mlir:[[@LINE+3]]:{{[0-9]+}}: error: use of undeclared SSA value name
// DYNAMIC: dynamic_shape.mlir:{{[0-9]+}}:{{[0-9]+}}: error: argument 0 of 'func.func' has type 'tensor<?x4xf32>'; the forward stage needs static shapes
func.func @broken(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = kiln.relu %undefined : tensor<4xf32>
  return %0 : tensor<4xf32>
}
// MISSING: kilnc: error: {{.*}}does_not_exist.mlir
// EMIT: Cannot find option named 'bogus'
// CPU: kilnc: error: unknown CPU 'not-a-cpu'
// TRIPLE: kilnc: error: unknown target triple 'nonsense-none-none'
