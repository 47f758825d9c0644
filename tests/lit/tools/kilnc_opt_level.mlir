// kilnc -O: LLVM's optimization level of the generated code (default -O2).
// The elementwise loop stays scalar at -O0 and is vectorized at -O1 and
// above, even for the baseline x86-64 (SSE2) CPU; --verbose names the level.

// RUN: kilnc %s --emit=llvm-ir --target-cpu=x86-64 -O0 | FileCheck %s --check-prefix=O0
// RUN: kilnc %s --emit=llvm-ir --target-cpu=x86-64 -O2 | FileCheck %s --check-prefix=VEC
// RUN: kilnc %s --emit=llvm-ir --target-cpu=x86-64 -O3 | FileCheck %s --check-prefix=VEC
// RUN: kilnc %s --emit=llvm-ir --target-cpu=x86-64 | FileCheck %s --check-prefix=VEC
// RUN: not kilnc %s --emit=llvm-ir -O4 2>&1 | FileCheck %s --check-prefix=O4
// kilnc run JIT-compiles at the level too; every level squares alike.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python -c "import numpy as np; np.save('%t/x.npy', np.linspace(-3, 3, 1024, dtype=np.float32))"
// RUN: kilnc run %s --entry square --input %t/x.npy --output %t/y0.npy -O0
// RUN: kilnc run %s --entry square --input %t/x.npy --output %t/y3.npy -O3
// RUN: %python -c "import numpy as np; x = np.load('%t/x.npy'); assert (np.load('%t/y0.npy') == x * x).all() and (np.load('%t/y3.npy') == x * x).all()"

// O0: define void @kilnc_opt_level_square(
// O0-NOT: x float>
// VEC: define void @kilnc_opt_level_square(
// VEC: <{{[0-9]+}} x float>
// O4: kilnc: error: -O must be 0, 1, 2 or 3, got -O4

func.func @square(%x: tensor<1024xf32> {kiln.name = "x"})
    -> (tensor<1024xf32> {kiln.name = "y"}) {
  %0 = kiln.mul %x, %x : tensor<1024xf32>
  return %0 : tensor<1024xf32>
}
