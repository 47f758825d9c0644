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
// RUN: not kilnc %S/../../../examples/mlp_forward/mlp.mlir --emit=obj --target-triple=riscv64-linux-gnu -o %t/out.o 2>&1 | FileCheck %s --check-prefix=ARCH
// RUN: not kilnc %S/Inputs/no_entry_point.mlir --emit=obj -o %t/out.o 2>&1 | FileCheck %s --check-prefix=NOENTRY
// RUN: not kilnc %S/Inputs/colliding_names.mlir --emit=obj,header -o %t/names 2>&1 | FileCheck %s --check-prefix=NAMES
// RUN: not test -e %t/names.o
// RUN: not kilnc %S/Inputs/bad_attributes.mlir --emit=obj -o %t/out.o 2>&1 | FileCheck %s --check-prefix=ATTRS
// RUN: not kilnc %S/Inputs/bad_result_attribute.mlir --emit=obj -o %t/out.o 2>&1 | FileCheck %s --check-prefix=RESATTRS
// RUN: not kilnc %S/Inputs/huge_tensor.mlir --emit=header -o %t/out.h 2>&1 | FileCheck %s --check-prefix=HUGE
// RUN: not kilnc %S/Inputs/external_call.mlir --emit=obj -o %t/out.o 2>&1 | FileCheck %s --check-prefix=EXTERN
// RUN: not kilnc %S/Inputs/dynamic_shape.mlir --emit=kiln,linalg -o - 2>&1 | FileCheck %s --check-prefix=STDOUT

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
// ARCH: kilnc: error: target architecture 'riscv64' is not supported (supported: x86_64, aarch64)
// NOENTRY: error: no entry point: the module has no public function with a body
// NAMES: kilnc: error: colliding_names_forward: tensors 'a/b' and 'a_b' would both define the header macros COLLIDING_NAMES_FORWARD_PARAM_A_B_*; rename one (kiln.param / kiln.name)
// ATTRS-DAG: bad_attributes.mlir:1:20: error: argument 0: 'kiln.param' must be a string, got 3 : i64
// ATTRS-DAG: bad_attributes.mlir:1:56: error: argument 1: 'kiln.l2' must be a factor >= 0, got -1
// ATTRS-DAG: bad_attributes.mlir:1:1: error: result 0: 'kiln.param' is a function argument attribute, not a function result attribute
// ATTRS-NOT: see current operation
// RESATTRS: bad_result_attribute.mlir:1:1: error: result 0: 'kiln.param' is a function argument attribute, not a function result attribute
// HUGE: error: argument 0 of 'func.func' has type 'tensor<4611686018427387904x4xf32>', whose size in bytes does not fit in 64 bits
// EXTERN: error: calls @helper, which has no body: kiln compiles whole programs and cannot call external functions
// STDOUT: kilnc: error: -o - takes a single --emit kind; with several, -o names the base of the output files
