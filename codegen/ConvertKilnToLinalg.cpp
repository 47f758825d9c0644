//===- ConvertKilnToLinalg.cpp - kiln -> linalg/tensor/arith/math ---------===//
//
// The `convert-kiln-to-linalg` pass: lowers every kiln op to linalg, tensor,
// arith and math ops on tensors, in destination-passing style (`tensor.empty`
// plus `linalg.fill` for the inits), so that upstream one-shot-bufferize can
// take the result. The patterns live by op family:
//
// - LowerElementwise.cpp: one pattern for every op with a scalar body
//   (ElementwiseScalarOpInterface; the bodies are in
//   ir/ElementwiseScalar.cpp), constant, stop_gradient, iota, dropout;
// - LowerReductions.cpp: reductions, argmax, softmax / log_softmax;
// - LowerContraction.cpp: matmul;
// - LowerShape.cpp: reshape, transpose, concat, slice, pad,
//   broadcast_in_dim;
// - LowerLosses.cpp: the losses;
// - LowerConvolution.cpp: convolutions and pooling, which become
//   kiln_rt.kernel_call ops of the runtime kernels (on tensors, destination
//   style; kiln-lower-kernel-calls makes them C calls after bufferization);
// - LinalgBuilders.*: the tensor builders they share.
//
// Elementwise results are plain `linalg.generic` ops with identity maps and
// parallel iterators, so that linalg elementwise fusion sees them. No
// fast-math flags are set (docs/spec.md, Numerics conventions: no
// reassociation by default). NaN propagates through max/min/relu
// (`arith.maximumf`).
//
//===----------------------------------------------------------------------===//

#include "codegen/LinalgBuilders.h"
#include "codegen/Passes.h"
#include "ir/KilnOps.h"
#include "ir/KilnRuntime.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_CONVERTKILNTOLINALGPASS
#include "codegen/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace {

struct ConvertKilnToLinalgPass
    : kiln::impl::ConvertKilnToLinalgPassBase<ConvertKilnToLinalgPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    MLIRContext *ctx = &getContext();
    // Composite ops first become the kiln ops they are made of.
    IRRewriter rewriter(ctx);
    func.walk([&](BatchNormOp op) { op.decompose(rewriter); });

    RewritePatternSet patternList(ctx);
    populateKilnToLinalgPatterns(patternList);
    FrozenRewritePatternSet patterns(std::move(patternList));

    ConversionTarget target(*ctx);
    target.addIllegalDialect<KilnDialect>();
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                           math::MathDialect, tensor::TensorDialect,
                           kiln_rt::KilnRtDialect>();

    // The conversion reports only the first op it cannot legalize; silence
    // it and report every offender below instead.
    LogicalResult converted = failure();
    {
      ScopedDiagnosticHandler silence(ctx,
                                      [](Diagnostic &) { return success(); });
      converted = applyPartialConversion(func, target, patterns);
    }
    if (succeeded(converted))
      return;

    // The conversion rolled back: find which kiln ops no pattern lowers.
    DenseSet<Operation *> legalizable;
    ConversionConfig config;
    config.legalizableOps = &legalizable;
    {
      ScopedDiagnosticHandler silence(ctx,
                                      [](Diagnostic &) { return success(); });
      (void)applyAnalysisConversion(func, target, patterns, config);
    }
    bool reported = false;
    func.walk([&](Operation *op) {
      if (!isa_and_nonnull<KilnDialect>(op->getDialect()) ||
          legalizable.contains(op))
        return;
      op->emitError() << "convert-kiln-to-linalg: no lowering for '"
                      << op->getName() << "'";
      reported = true;
    });
    if (!reported)
      func.emitError() << "convert-kiln-to-linalg: conversion failed";
    signalPassFailure();
  }
};

} // namespace

void mlir::kiln::populateKilnToLinalgPatterns(RewritePatternSet &patterns) {
  populateKilnElementwiseToLinalgPatterns(patterns);
  populateKilnReductionToLinalgPatterns(patterns);
  populateKilnContractionToLinalgPatterns(patterns);
  populateKilnShapeToLinalgPatterns(patterns);
  populateKilnLossToLinalgPatterns(patterns);
  populateKilnConvolutionToRuntimePatterns(patterns);
}
