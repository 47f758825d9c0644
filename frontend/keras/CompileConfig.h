//===- CompileConfig.h - a compile_config as a TrainingConfig ---*- C++ -*-===//
//
// The Keras adapter of compiler/TrainingConfig.h. The Keras importer records
// a model's `compile_config` as the module attribute `kiln.compile_config`
// ({loss, loss_config?, optimizer, optimizer_config?, metrics, ...}; see
// docs/architecture.md, "Keras import"); this turns it into the training
// step it describes.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_FRONTEND_KERAS_COMPILECONFIG_H
#define KILN_FRONTEND_KERAS_COMPILECONFIG_H

#include "compiler/TrainingConfig.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/Error.h"

namespace mlir::kiln {

/// The training step of a `kiln.compile_config` dictionary: the loss (a
/// name or a Keras loss class in snake_case), `from_logits` from its
/// loss_config, the metric names, the optimizer (its lower-case class
/// name; none or null: rmsprop, Keras' compile default) with every
/// hyperparameter of its config, recorded as given, and the learning rate
/// (a number, or a serialized Keras LearningRateSchedule: its canonical
/// JSON in learningRateSchedule, its rate at step 0 in learningRate; tf.keras
/// 2's serialization without "module" too). A Keras 2 legacy optimizer's
/// `decay` > 0 becomes the schedule InverseTimeDecay(learning_rate,
/// decay_steps = 1, decay_rate = decay) (optimizer_v2's lr / (1 + decay *
/// iterations)); with a schedule it is an error. Keras settings without
/// effect on the step (name, EMA and loss-scale settings when off,
/// gradient_accumulation_steps, jit_compile, is_legacy_optimizer) and null
/// settings are ignored. Errors name the JSON path. The convention is
/// "keras".
/// Errors (named by their JSON path, e.g. "compile_config.optimizer.config.
/// beta_1 must be a number, got \"0.5\""): no loss name; a value of the
/// wrong type (from_logits, metrics, optimizer, a setting, learning_rate);
/// a schedule kiln lacks, or an argument it does not take, is missing or
/// out of range (named by its path, e.g. "...learning_rate.config.
/// decay_steps");
/// label_smoothing other than 0; loss_weights; a non-zero weight_decay on
/// an optimizer other than adamw (Keras applies it to all; kiln only in
/// adamw); an optimizer setting kiln does not have that is not off
/// (amsgrad = true, use_ema = true, clipnorm, ...; prefixed
/// "kiln.compile_config: "). Ranges and which settings apply to the
/// optimizer are checked by TrainingConfig::validate().
llvm::Expected<TrainingConfig>
trainingConfigFromCompileConfig(DictionaryAttr config);

} // namespace mlir::kiln

#endif // KILN_FRONTEND_KERAS_COMPILECONFIG_H
