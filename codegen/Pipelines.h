//===- Pipelines.h - the kiln codegen pipelines -----------------*- C++ -*-===//
//
// The pass pipelines kilnc runs, as functions over an OpPassManager. The same
// functions are registered as kiln-opt pipelines (registerKilnPipelines), so
// `kiln-opt --kiln-codegen-pipeline` reproduces what `kilnc` does.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_CODEGEN_PIPELINES_H
#define KILN_CODEGEN_PIPELINES_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::kiln {

/// Options of the training pipeline: the loss and the optimizer with its
/// hyperparameters (see kiln-attach-loss and kiln-attach-optimizer).
struct TrainingPipelineOptions
    : public PassPipelineOptions<TrainingPipelineOptions> {
  Option<std::string> loss{*this, "loss", llvm::cl::desc("Loss name")};
  Option<bool> fromLogits{*this, "from_logits",
                          llvm::cl::desc("Predictions are logits"),
                          llvm::cl::init(false)};
  Option<bool> stableLosses{
      *this, "stable_losses",
      llvm::cl::desc("Rewrite cross-entropies on sigmoid/softmax outputs to "
                     "their logits forms (kiln-rewrite-losses-to-logits)"),
      llvm::cl::init(true)};
  Option<std::string> metrics{*this, "metrics",
                              llvm::cl::desc("Comma-separated metrics"),
                              llvm::cl::init("")};
  Option<std::string> optimizer{*this, "optimizer",
                                llvm::cl::desc("sgd, rmsprop, adam, adamw, "
                                               "adagrad"),
                                llvm::cl::init("sgd")};
  Option<std::string> convention{*this, "convention",
                                 llvm::cl::desc("keras or pytorch"),
                                 llvm::cl::init("keras")};
  Option<double> momentum{*this, "momentum", llvm::cl::init(0.0)};
  Option<bool> nesterov{*this, "nesterov", llvm::cl::init(false)};
  Option<double> rho{*this, "rho", llvm::cl::init(0.9)};
  Option<bool> centered{*this, "centered", llvm::cl::init(false)};
  Option<double> beta1{*this, "beta_1", llvm::cl::init(0.9)};
  Option<double> beta2{*this, "beta_2", llvm::cl::init(0.999)};
  Option<double> epsilon{*this, "epsilon", llvm::cl::init(-1.0)};
  Option<double> weightDecay{*this, "weight_decay", llvm::cl::init(-1.0)};
  Option<double> initialAccumulatorValue{*this, "initial_accumulator_value",
                                         llvm::cl::init(-1.0)};
  Option<double> clipValue{*this, "clipvalue", llvm::cl::init(0.0)};
  Option<double> globalClipNorm{*this, "global_clipnorm", llvm::cl::init(0.0)};
};

/// Training: @forward -> @loss -> @loss_grad -> @train_step, @eval_step,
/// @predict (the building blocks become private and are removed).
/// Contract after: kiln ops only; entry points train_step, eval_step,
/// predict; train_step results marked kiln.update_of.
void buildTrainingPipeline(OpPassManager &pm,
                           const TrainingPipelineOptions &options);

/// Stage 1-2: kiln -> linalg on tensors, then elementwise fusion.
/// Contract after: no kiln ops; linalg/tensor/arith/math on tensors.
void buildKilnToLinalgPipeline(OpPassManager &pm);

/// Stage 3-4: one-shot bufferization with function boundaries, results as
/// out-params, GEMMs as runtime calls, then the static memory plan.
/// Contract after: no tensors; public functions take (params, opt_state,
/// io, scratch)
/// byte regions; no memref.alloc.
void buildBufferizePipeline(OpPassManager &pm);

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
