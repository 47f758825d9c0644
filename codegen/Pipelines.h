//===- Pipelines.h - the kiln codegen pipelines -----------------*- C++ -*-===//
//
// The pass pipelines kilnc runs, as functions over an OpPassManager. The same
// functions are registered as kiln-opt pipelines (registerKilnPipelines), so
// `kiln-opt --kiln-codegen-pipeline` reproduces what `kilnc` does.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_CODEGEN_PIPELINES_H
#define KILN_CODEGEN_PIPELINES_H

#include "compiler/TrainingConfig.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::kiln {

/// The kiln-opt spelling of a TrainingConfig (compiler/TrainingConfig.h):
/// `--kiln-training-pipeline="loss=... optimizer=adam beta_1=0.8 ..."`.
/// Names and defaults are the TrainingConfig's (toTrainingConfig converts;
/// a test checks that every OptimizerConfig setting except learning_rate,
/// a runtime argument, is an option here). A negative epsilon,
/// weight_decay or initial_accumulator_value means the convention's
/// default, as for kiln-attach-optimizer.
struct TrainingPipelineOptions
    : public PassPipelineOptions<TrainingPipelineOptions> {
  Option<std::string> loss{*this, "loss", llvm::cl::desc("Loss name")};
  Option<bool> fromLogits{*this, "from_logits",
                          llvm::cl::desc("Predictions are logits"),
                          llvm::cl::init(TrainingConfig().fromLogits)};
  Option<bool> stableLosses{
      *this, "stable_losses",
      llvm::cl::desc("Rewrite cross-entropies on sigmoid/softmax outputs to "
                     "their logits forms (kiln-rewrite-losses-to-logits)"),
      llvm::cl::init(TrainingConfig().stableLosses)};
  Option<std::string> metrics{*this, "metrics",
                              llvm::cl::desc("Comma-separated metrics"),
                              llvm::cl::init("")};
  Option<std::string> optimizer{*this, "optimizer",
                                llvm::cl::desc("sgd, rmsprop, adam, adamw, "
                                               "adagrad"),
                                llvm::cl::init(OptimizerConfig().name)};
  Option<std::string> convention{*this, "convention",
                                 llvm::cl::desc("keras or pytorch"),
                                 llvm::cl::init(TrainingConfig().convention)};
  Option<double> momentum{*this, "momentum",
                          llvm::cl::init(OptimizerConfig().momentum)};
  Option<bool> nesterov{*this, "nesterov",
                        llvm::cl::init(OptimizerConfig().nesterov)};
  Option<double> rho{*this, "rho", llvm::cl::init(OptimizerConfig().rho)};
  Option<bool> centered{*this, "centered",
                        llvm::cl::init(OptimizerConfig().centered)};
  Option<double> beta1{*this, "beta_1",
                       llvm::cl::init(OptimizerConfig().beta1)};
  Option<double> beta2{*this, "beta_2",
                       llvm::cl::init(OptimizerConfig().beta2)};
  Option<double> epsilon{*this, "epsilon", llvm::cl::init(-1.0)};
  Option<double> weightDecay{*this, "weight_decay", llvm::cl::init(-1.0)};
  Option<double> initialAccumulatorValue{*this, "initial_accumulator_value",
                                         llvm::cl::init(-1.0)};
  Option<double> clipValue{*this, "clipvalue",
                           llvm::cl::init(OptimizerConfig().clipValue)};
  Option<double> globalClipNorm{
      *this, "global_clipnorm",
      llvm::cl::init(OptimizerConfig().globalClipNorm)};
};

/// The one conversion from kiln-opt's pipeline options.
TrainingConfig toTrainingConfig(const TrainingPipelineOptions &options);

/// Training: @forward -> @loss -> @loss_grad -> @train_step, @eval_step,
/// @predict (the building blocks become private and are removed). The
/// config should have passed TrainingConfig::validate(); the passes check
/// it again with the same function and fail with its message otherwise.
/// Contract after: kiln ops only; entry points train_step, eval_step,
/// predict; train_step results marked kiln.update_of.
void buildTrainingPipeline(OpPassManager &pm, const TrainingConfig &config);

/// Stage 1-2: kiln -> linalg on tensors, then elementwise fusion.
/// Contract after: no kiln ops; linalg/tensor/arith/math on tensors.
void buildKilnToLinalgPipeline(OpPassManager &pm);

/// Stage 3-4: one-shot bufferization with function boundaries, results as
/// out-params, GEMMs as runtime calls, then the static memory plan.
/// Contract after: no tensors; public functions take (params, opt_state,
/// io, scratch)
/// byte regions; no memref.alloc.
void buildBufferizePipeline(OpPassManager &pm);

/// Operand precision of the f32 GEMMs (`kilnc --precision`): f32, or bf16
/// operands with f32 sums (kiln_gemm_bf16_f32).
enum class Precision { F32, Bf16 };

/// buildBufferizePipeline with the given GEMM precision.
void buildBufferizePipeline(OpPassManager &pm, Precision precision);

/// Stage 5: loops, then the LLVM dialect (bare-pointer calling convention,
/// so an entry point is
/// `void f(void *params, void *opt_state, void *io, void *scratch)`).
void buildLowerToLLVMPipeline(OpPassManager &pm);

/// All of the above, in order.
void buildCodegenPipeline(OpPassManager &pm);

/// Adds every dialect the pipelines produce or consume, with the external
/// models bufferization and LLVM IR translation need, to `registry`.
void registerCodegenDialects(DialectRegistry &registry);

/// Registers the pipelines above with kiln-opt: kiln-lower-to-linalg,
/// kiln-bufferize, kiln-lower-to-llvm, kiln-codegen-pipeline.
void registerKilnPipelines();

} // namespace mlir::kiln

#endif // KILN_CODEGEN_PIPELINES_H
