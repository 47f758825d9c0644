//===- kiln-opt.cpp - the kiln optimizer driver ---------------------------===//
//
// MlirOptMain with the kiln dialect, the upstream dialects kiln lowers
// through, the upstream core transforms (canonicalize, cse, ...), every kiln
// pass, and the kiln pipelines (the same functions kilnc runs). Used by the
// lit tests and for pass development.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "codegen/Pipelines.h"
#include "passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::kiln::registerCodegenDialects(registry);
  mlir::registerTransformsPasses();
  mlir::registerConversionPasses();
  mlir::bufferization::registerBufferizationPasses();
  mlir::registerLinalgPasses();
  mlir::kiln::registerKilnPasses();
  mlir::kiln::registerKilnCodegenPasses();
  mlir::kiln::registerKilnPipelines();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "kiln optimizer driver\n", registry));
}
