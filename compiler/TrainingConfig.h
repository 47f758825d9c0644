//===- TrainingConfig.h - what a training step computes ---------*- C++ -*-===//
//
// The typed description of a training step: the loss, the metrics, the
// optimizer with every hyperparameter and the learning rate, and the
// formula convention. Three adapters fill it: the command line
// (parseOptimizerSpec / parseMetricList, used by kilnc), a Keras model's
// compile_config (frontend/keras/CompileConfig.h) and the C++ builder's
// kiln::Optimizer / kiln::Loss (builder/Model.cpp). The training pipeline
// (codegen/Pipelines.h, buildTrainingPipeline) takes it directly; kiln-opt's
// pass-pipeline options convert to it in one function
// (toTrainingConfig in codegen/Pipelines.h).
//
// Names, defaults and ranges are defined here once; validate() is the one
// check, used by kilnc, the builder and the passes that consume the values
// (kiln-attach-loss, kiln-attach-optimizer), so a setting is rejected with
// the same message wherever it was written. This library depends only on
// LLVMSupport.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_COMPILER_TRAININGCONFIG_H
#define KILN_COMPILER_TRAININGCONFIG_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir::kiln {

/// The losses of kiln-attach-loss (docs/spec.md, "Losses").
enum class LossKind {
  MeanSquaredError,
  MeanAbsoluteError,
  BinaryCrossentropy,
  CategoricalCrossentropy,
  SparseCategoricalCrossentropy
};

/// "mean_squared_error" / "mse", "mean_absolute_error" / "mae",
/// "binary_crossentropy", "categorical_crossentropy",
/// "sparse_categorical_crossentropy"; nullopt for anything else.
std::optional<LossKind> parseLossName(llvm::StringRef name);

/// The metric a name stands for with `loss` (Keras resolves "accuracy" /
/// "acc" from the loss: sparse_categorical_accuracy, categorical_accuracy
/// or binary_accuracy); other names are returned unchanged.
std::string resolveMetricName(llvm::StringRef name, LossKind loss);

/// The optimizers of kiln-attach-optimizer (docs/spec.md, "Optimizers").
enum class OptimizerKind { SGD, RMSprop, Adam, AdamW, Adagrad };

/// "sgd", "rmsprop", "adam", "adamw", "adagrad"; nullopt otherwise.
std::optional<OptimizerKind> parseOptimizerName(llvm::StringRef name);

/// An optimizer and its hyperparameters as the user wrote them. The
/// settings are named as in Keras (beta_1, clipvalue, ...), which is also
/// how the command line and kiln-opt spell them (settingNames()).
struct OptimizerConfig {
  /// "sgd", "rmsprop", "adam", "adamw" or "adagrad".
  std::string name = "sgd";
  /// The learning rate (a runtime argument of train_step: the generated
  /// program's default, `fit --lr` overrides it). Unset: Keras' default of
  /// the optimizer (defaultLearningRate()). Must be finite and >= 0.
  std::optional<double> learningRate;
  /// A Keras learning-rate schedule (runtime/driver/LearningRateSchedule.h)
  /// as its canonical JSON ({"class_name": ..., "config": {...}}): the
  /// generated program computes the rate of each step from it, and
  /// learningRate holds its rate at step 0.
  std::optional<std::string> learningRateSchedule;
  /// SGD / RMSprop momentum, in [0, 1].
  double momentum = 0.0;
  /// SGD Nesterov momentum (needs sgd with momentum > 0).
  bool nesterov = false;
  /// RMSprop decay of the mean square, in [0, 1).
  double rho = 0.9;
  /// RMSprop: divide by the variance instead of the mean square.
  bool centered = false;
  /// Adam / AdamW moment decays, in [0, 1).
  double beta1 = 0.9, beta2 = 0.999;
  /// Denominator term, >= 0. Unset: Keras 1e-7; PyTorch 1e-8 (Adagrad
  /// 1e-10).
  std::optional<double> epsilon;
  /// AdamW decoupled weight decay, >= 0. Unset: Keras 0.004, PyTorch 0.01.
  std::optional<double> weightDecay;
  /// Adagrad accumulator start, >= 0. Unset: Keras 0.1, PyTorch 0.
  std::optional<double> initialAccumulatorValue;
  /// Clip each gradient element to [-c, c]; 0 is off. >= 0.
  double clipValue = 0.0;
  /// Scale all gradients to a global L2 norm of at most c; 0 is off. >= 0.
  double globalClipNorm = 0.0;
  /// Warnings for the user about the values (e.g. a Keras learning-rate
  /// schedule of which only the initial rate is used).
  std::vector<std::string> notes;
  /// The settings given explicitly (set() records them, in order): each
  /// must apply to the optimizer (settingsOf()), which validate() checks,
  /// so that e.g. adam with momentum = 0.9 is an error, not ignored.
  std::vector<std::string> given;

  /// Whether set() was called for `key`.
  bool isGiven(llvm::StringRef key) const;

  /// learningRate, else Keras' default: 0.01 for SGD, 0.001 otherwise.
  double learningRateOrDefault() const;

  /// Sets the setting `key` (one of settingNames(); booleans as 0 / 1) and
  /// records it as given. Errors: an unknown key (the message lists the
  /// known ones); a boolean setting (nesterov, centered) other than 0 / 1.
  llvm::Error set(llvm::StringRef key, double value);

  /// Every setting set() takes, in a fixed order: learning_rate, momentum,
  /// nesterov, rho, centered, beta_1, beta_2, epsilon, weight_decay,
  /// initial_accumulator_value, clipvalue, global_clipnorm.
  static llvm::ArrayRef<llvm::StringRef> settingNames();
  /// The settings the update of `kind` reads (passes/AttachOptimizer.cpp):
  /// learning_rate, clipvalue and global_clipnorm for every optimizer; sgd
  /// momentum, nesterov; rmsprop rho, momentum, centered, epsilon; adam
  /// beta_1, beta_2, epsilon; adamw those and weight_decay; adagrad
  /// epsilon, initial_accumulator_value.
  static llvm::ArrayRef<llvm::StringRef> settingsOf(OptimizerKind kind);
};

/// An optimizer with its convention's defaults filled in: the values the
/// generated update uses.
struct ResolvedOptimizer {
  OptimizerKind kind;
  bool pytorch;
  double momentum, rho, beta1, beta2, epsilon, weightDecay, initialAccumulator;
  bool nesterov, centered;
  double clipValue, globalClipNorm;
};

/// A training step: loss, metrics, optimizer, convention.
struct TrainingConfig {
  /// A loss of parseLossName().
  std::string loss;
  /// The model outputs logits, not probabilities.
  bool fromLogits = false;
  /// Metric names as the user wrote them ("accuracy", "mae", ...); known:
  /// accuracy / acc, binary_accuracy, categorical_accuracy,
  /// sparse_categorical_accuracy, precision, recall, f1, mae, mse.
  std::vector<std::string> metrics;
  OptimizerConfig optimizer;
  /// "keras" or "pytorch" optimizer formulas (docs/spec.md, Optimizers).
  std::string convention = "keras";
  /// Rewrite cross-entropies of sigmoid/softmax outputs to their logits
  /// forms (kiln-rewrite-losses-to-logits).
  bool stableLosses = true;
  /// Also emit @grad_step and @apply_step, the halves of @train_step that
  /// data-parallel training runs with a gradient allreduce in between
  /// (kilnc --data-parallel; docs/architecture.md, "Data-parallel
  /// training").
  bool dataParallel = false;

  /// Checks everything that does not depend on the model: the loss and
  /// metric names, metrics that sparse labels cannot feed, the optimizer
  /// name, convention, that every given setting applies to the optimizer,
  /// every hyperparameter's range and the learning rate.
  /// The first problem is the error; its message names the setting.
  llvm::Error validate() const;
  /// The metrics as one comma-separated string ("" for none).
  std::string metricList() const;
};

/// Checks the loss name and the metrics that go with it (the part of
/// validate() that kiln-attach-loss consumes). Errors name the metric.
llvm::Error validateLossAndMetrics(llvm::StringRef loss,
                                   llvm::ArrayRef<std::string> metrics);

/// Checks the optimizer (the part of validate() that kiln-attach-optimizer
/// consumes) and fills in the convention's defaults.
llvm::Expected<ResolvedOptimizer>
resolveOptimizer(const OptimizerConfig &optimizer, llvm::StringRef convention);

//===----------------------------------------------------------------------===//
// Command-line adapter
//===----------------------------------------------------------------------===//

/// Parses `NAME[:key=value,...]` (kilnc --optimizer), e.g.
/// "adam:learning_rate=1e-3,beta_1=0.8". Values are numbers; nesterov and
/// centered take true / false / 1 / 0. Errors (prefixed "--optimizer: "):
/// an unknown key, an item without '=', a key given twice, a value that is
/// not a number, a boolean setting with another value. Ranges and which
/// settings apply to the optimizer are checked by
/// TrainingConfig::validate().
llvm::Expected<OptimizerConfig> parseOptimizerSpec(llvm::StringRef spec);

/// A Keras learning-rate schedule as kilnc --lr-schedule takes it: the
/// compact `CLASS:key=value,...` (lists in brackets, true/false/null) or
/// Keras' JSON ({"class_name": ..., "config": {...}}, optionally "module":
/// "keras.optimizers.schedules" and "registered_name"), checked by
/// runtime/driver/LearningRateSchedule.h. Sets `optimizer`'s
/// learningRateSchedule (canonical JSON) and learningRate (the rate at step
/// 0). Errors are prefixed "--lr-schedule: " and name the argument.
llvm::Error applyLearningRateScheduleSpec(llvm::StringRef spec,
                                          OptimizerConfig &optimizer);

/// Splits "accuracy,mae" (kilnc --metrics) into names; blanks dropped.
/// A name given twice is left in (TrainingConfig::validate() rejects it).
std::vector<std::string> parseMetricList(llvm::StringRef list);

} // namespace mlir::kiln

#endif // KILN_COMPILER_TRAININGCONFIG_H
