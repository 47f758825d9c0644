//===- MathToIntrinsics.cpp - vectorizable math before libm ---------------===//
//
// Implements kiln-math-to-intrinsics: the upstream math-to-LLVM patterns,
// restricted to the ops whose LLVM intrinsics are exact enough (sqrt, exp,
// log, pow, abs), so that loops calling them stay vectorizable; the rest of
// the math dialect is left for convert-math-to-libm.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"

#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_KILNMATHTOINTRINSICSPASS
#include "codegen/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;

namespace {
struct KilnMathToIntrinsicsPass
    : public kiln::impl::KilnMathToIntrinsicsPassBase<
          KilnMathToIntrinsicsPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    LLVMTypeConverter converter(ctx);
    RewritePatternSet patterns(ctx);
    populateMathToLLVMConversionPatterns(converter, patterns,
                                         /*approximateLog1p=*/false);
    ConversionTarget target(*ctx);
    target.addLegalDialect<LLVM::LLVMDialect>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    target.addIllegalOp<math::SqrtOp, math::ExpOp, math::LogOp, math::PowFOp,
                        math::AbsFOp>();
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
