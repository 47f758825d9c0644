//===- Pipelines.cpp - the kiln codegen pipelines -------------------------===//
//
// Composes the kiln and upstream passes into the staged lowering described in
// docs/architecture.md.
//
//===----------------------------------------------------------------------===//

#include "codegen/Pipelines.h"
#include "codegen/Passes.h"
#include "passes/Passes.h"

#include "ir/KilnDialect.h"
#include "ir/KilnRuntime.h"
#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MathToLibm/MathToLibm.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Transforms/FuncBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotAnalysis.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/Extensions/InlinerExtension.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

kiln::TrainingConfig kiln::toTrainingConfig(const TrainingPipelineOptions &o) {
  TrainingConfig config;
  config.loss = o.loss;
  config.fromLogits = o.fromLogits;
  config.stableLosses = o.stableLosses;
  config.metrics = parseMetricList(o.metrics);
  config.convention = o.convention;
  OptimizerConfig &opt = config.optimizer;
  opt.name = o.optimizer;
  // Only the options given are settings given (validate() rejects one the
  // optimizer does not read); a negative epsilon, weight_decay or
  // initial_accumulator_value is the convention's default.
  auto give = [&](StringRef key, const auto &option, double value,
                  bool negativeIsDefault = false) {
    if (option.hasValue() && !(negativeIsDefault && value < 0.0))
      llvm::cantFail(opt.set(key, value));
  };
  give("momentum", o.momentum, o.momentum);
  give("nesterov", o.nesterov, o.nesterov ? 1.0 : 0.0);
  give("rho", o.rho, o.rho);
  give("centered", o.centered, o.centered ? 1.0 : 0.0);
  give("beta_1", o.beta1, o.beta1);
  give("beta_2", o.beta2, o.beta2);
  give("epsilon", o.epsilon, o.epsilon, true);
  give("weight_decay", o.weightDecay, o.weightDecay, true);
  give("initial_accumulator_value", o.initialAccumulatorValue,
       o.initialAccumulatorValue, true);
  give("clipvalue", o.clipValue, o.clipValue);
  give("global_clipnorm", o.globalClipNorm, o.globalClipNorm);
  return config;
}

void kiln::buildTrainingPipeline(OpPassManager &pm,
                                 const TrainingConfig &config) {
  // The forward function is canonicalized before it is differentiated:
  // layout transposes (ONNX convolutions) cancel there, so the gradient
  // has none of them either.
  pm.addPass(createCanonicalizerPass());
  KilnAttachLossPassOptions loss;
  loss.loss = config.loss;
  loss.fromLogits = config.fromLogits;
  loss.metrics = config.metricList();
  pm.addPass(createKilnAttachLossPass(loss));
  if (config.stableLosses)
    pm.addPass(createKilnRewriteLossesToLogitsPass());
  KilnDeriveGradientsPassOptions grads;
  grads.function = "loss";
  pm.addPass(createKilnDeriveGradientsPass(grads));
  // kiln-attach-optimizer's options: unset optional values are negative
  // (the convention's default).
  const OptimizerConfig &o = config.optimizer;
  KilnAttachOptimizerPassOptions opt;
  opt.optimizer = o.name;
  opt.convention = config.convention;
  opt.momentum = o.momentum;
  opt.nesterov = o.nesterov;
  opt.rho = o.rho;
  opt.centered = o.centered;
  opt.beta1 = o.beta1;
  opt.beta2 = o.beta2;
  opt.epsilon = o.epsilon.value_or(-1.0);
  opt.weightDecay = o.weightDecay.value_or(-1.0);
  opt.initialAccumulatorValue = o.initialAccumulatorValue.value_or(-1.0);
  opt.clipValue = o.clipValue;
  opt.globalClipNorm = o.globalClipNorm;
  opt.dataParallel = config.dataParallel;
  pm.addPass(createKilnAttachOptimizerPass(opt));
  pm.addPass(createSymbolDCEPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void kiln::buildKilnToLinalgPipeline(OpPassManager &pm) {
  // Whole-program: calls between kiln functions are inlined and functions
  // that are no longer called (private helpers) removed, so that every
  // remaining function is an entry point with the region ABI.
  pm.addPass(createInlinerPass());
  pm.addPass(createSymbolDCEPass());
  pm.addPass(createCanonicalizerPass());
  pm.addNestedPass<func::FuncOp>(createConvertKilnToLinalgPass());
  pm.addPass(createKilnFuseElementwisePass());
  // No CSE here: it would merge the zero-filled accumulators of different
  // matmuls into one tensor, which bufferization then has to copy.
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createKilnVerifyStagePass({"linalg"}));
}

void kiln::buildBufferizePipeline(OpPassManager &pm) {
  buildBufferizePipeline(pm, Precision::F32);
}

void kiln::buildBufferizePipeline(OpPassManager &pm, Precision precision) {
  pm.addPass(createKilnPrepareEntryPointsPass());
  // Copies become linalg.copy (then loops): memref.copy of strided memrefs
  // would lower to a call into MLIR's C runner library, which generated
  // code does not link.
  auto copyWithLinalg = [](OpBuilder &b, Location loc, Value from,
                           Value to) -> LogicalResult {
    b.create<linalg::CopyOp>(loc, from, to);
    return success();
  };
  bufferization::OneShotBufferizationOptions options;
  options.memCpyFn = copyWithLinalg;
  options.bufferizeFunctionBoundaries = true;
  options.setFunctionBoundaryTypeConversion(
      bufferization::LayoutMapOption::IdentityLayoutMap);
  pm.addPass(bufferization::createOneShotBufferizePass(options));
  bufferization::BufferResultsToOutParamsOpts outParams;
  outParams.hoistStaticAllocs = true;
  outParams.memCpyFn = copyWithLinalg;
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createKilnFuseGemmEpiloguesPass());
  pm.addPass(createKilnFuseConvEpiloguesPass());
  pm.addPass(createKilnPlanMemoryPass());
  // After the plan: GEMM pointers are computed from the regions directly.
  KilnLowerMatmulToRuntimePassOptions gemm;
  gemm.precision = precision == Precision::Bf16 ? "bf16" : "f32";
  pm.addPass(createKilnLowerMatmulToRuntimePass(gemm));
  pm.addPass(createKilnLowerKernelCallsPass());
  pm.addPass(createKilnVerifyStagePass({"bufferized"}));
}

void kiln::buildLowerToLLVMPipeline(OpPassManager &pm) {
  pm.addPass(createKilnParallelizeLoopsPass());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  // Long entry points (deep models) as calls of parts: LLVM's time is
  // superlinear in a function's size.
  pm.addPass(createKilnSplitEntryPointsPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createConvertSCFToCFPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  // exp/log/sqrt/pow/abs become LLVM intrinsics first (vectorizable);
  // functions libm computes more accurately than LLVM's expansions (tanh,
  // erf, log1p, expm1) then go to libm.
  pm.addPass(createKilnMathToIntrinsicsPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  ConvertFuncToLLVMPassOptions funcOptions;
  funcOptions.useBarePtrCallConv = true;
  pm.addPass(createConvertFuncToLLVMPass(funcOptions));
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createKilnVerifyStagePass({"llvm"}));
}

void kiln::buildCodegenPipeline(OpPassManager &pm) {
  buildKilnToLinalgPipeline(pm);
  buildBufferizePipeline(pm);
  buildLowerToLLVMPipeline(pm);
}

void kiln::registerCodegenDialects(DialectRegistry &registry) {
  registerKilnDialect(registry);
  kiln_rt::registerKilnRuntimeDialect(registry);
  registry.insert<affine::AffineDialect, arith::ArithDialect,
                  bufferization::BufferizationDialect, cf::ControlFlowDialect,
                  func::FuncDialect, linalg::LinalgDialect, LLVM::LLVMDialect,
                  math::MathDialect, memref::MemRefDialect, scf::SCFDialect,
                  tensor::TensorDialect>();
  func::registerInlinerExtension(registry);
  arith::registerBufferizableOpInterfaceExternalModels(registry);
  bufferization::func_ext::registerBufferizableOpInterfaceExternalModels(
      registry);
  linalg::registerBufferizableOpInterfaceExternalModels(registry);
  scf::registerBufferizableOpInterfaceExternalModels(registry);
  tensor::registerBufferizableOpInterfaceExternalModels(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
}

void kiln::registerKilnPipelines() {
  PassPipelineRegistration<TrainingPipelineOptions>(
      "kiln-training-pipeline",
      "@forward -> @train_step, @eval_step, @predict (what kilnc runs)",
      [](OpPassManager &pm, const TrainingPipelineOptions &options) {
        buildTrainingPipeline(pm, toTrainingConfig(options));
      });
  PassPipelineRegistration<>("kiln-lower-to-linalg",
                             "kiln -> linalg on tensors, fused",
                             buildKilnToLinalgPipeline);
  PassPipelineRegistration<>(
      "kiln-bufferize",
      "Bufferize, static memory plan (region ABI), runtime GEMM and kernel "
      "calls",
      [](OpPassManager &pm) { buildBufferizePipeline(pm); });
  PassPipelineRegistration<>("kiln-lower-to-llvm",
                             "Bufferized kiln code -> LLVM dialect",
                             buildLowerToLLVMPipeline);
  PassPipelineRegistration<>("kiln-codegen-pipeline",
                             "The whole kilnc lowering: kiln -> LLVM dialect",
                             buildCodegenPipeline);
}
