//===- CompileConfig.cpp - a Keras compile_config as a TrainingConfig -----===//
//
// Reads the `kiln.compile_config` attribute the Keras importer records into
// a TrainingConfig: the only place that knows Keras' names for the
// training settings.
//
//===----------------------------------------------------------------------===//

#include "frontend/keras/CompileConfig.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::kiln;

namespace {
llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "kiln.compile_config: " + message);
}

std::optional<double> number(Attribute value) {
  if (auto f = dyn_cast<FloatAttr>(value))
    return f.getValueAsDouble();
  if (auto i = dyn_cast<IntegerAttr>(value))
    return static_cast<double>(i.getInt());
  if (auto b = dyn_cast<BoolAttr>(value))
    return b.getValue() ? 1.0 : 0.0;
  return std::nullopt;
}

/// Keras' learning_rate: a number, or a LearningRateSchedule of which the
/// initial rate is used (with a note).
void readLearningRate(Attribute lr, OptimizerConfig &optimizer) {
  if (std::optional<double> value =
          isa<BoolAttr>(lr) ? std::nullopt : number(lr)) {
    optimizer.learningRate = *value;
    return;
  }
  if (auto schedule = dyn_cast<DictionaryAttr>(lr)) {
    auto scheduleConfig = schedule.getAs<DictionaryAttr>("config");
    auto initial =
        scheduleConfig
            ? scheduleConfig.getAs<FloatAttr>("initial_learning_rate")
            : FloatAttr();
    auto name = schedule.getAs<StringAttr>("class_name");
    std::string what = name ? name.str() : "learning-rate schedule";
    if (initial) {
      optimizer.learningRate = initial.getValueAsDouble();
      optimizer.notes.push_back(
          "the compile_config's " + what +
          " is not applied: the program trains at its initial learning rate " +
          std::to_string(*optimizer.learningRate) + " (fit --lr overrides)");
    } else {
      optimizer.notes.push_back("the compile_config's " + what +
                                " is not supported: the program uses the "
                                "optimizer's default learning rate (fit --lr "
                                "overrides)");
    }
    return;
  }
  if (!isa<UnitAttr>(lr))
    optimizer.notes.push_back("the compile_config's learning_rate is not a "
                              "number: the program uses the optimizer's "
                              "default learning rate (fit --lr overrides)");
}
} // namespace

llvm::Expected<TrainingConfig>
kiln::trainingConfigFromCompileConfig(DictionaryAttr config) {
  TrainingConfig training;
  auto loss = config.getAs<StringAttr>("loss");
  if (!loss)
    return error("no loss name");
  training.loss = loss.str();
  if (auto lossConfig = config.getAs<DictionaryAttr>("loss_config"))
    if (auto logits = lossConfig.getAs<BoolAttr>("from_logits"))
      training.fromLogits = logits.getValue();
  if (auto metrics = config.getAs<ArrayAttr>("metrics"))
    for (Attribute m : metrics)
      if (auto name = dyn_cast<StringAttr>(m))
        training.metrics.push_back(name.str());
  OptimizerConfig &optimizer = training.optimizer;
  if (auto name = config.getAs<StringAttr>("optimizer"))
    optimizer.name = name.str();
  auto options = config.getAs<DictionaryAttr>("optimizer_config");
  if (!options)
    return training;
  // Keras settings that do not change the compiled step.
  static const char *const ignored[] = {
      "name", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
      "gradient_accumulation_steps"};
  for (NamedAttribute option : options) {
    StringRef key = option.getName().getValue();
    Attribute value = option.getValue();
    if (llvm::is_contained(ignored, key))
      continue;
    if (key == "learning_rate") {
      readLearningRate(value, optimizer);
      continue;
    }
    if (llvm::is_contained(OptimizerConfig::settingNames(), key)) {
      if (std::optional<double> v = number(value))
        if (llvm::Error e = optimizer.set(key, *v))
          return std::move(e);
      continue;
    }
    // A setting kiln lacks is fine when it is off (false / null).
    bool off = isa<UnitAttr>(value) ||
               (isa<BoolAttr>(value) && !cast<BoolAttr>(value).getValue());
    if (off)
      continue;
    // e.g. amsgrad = true, use_ema = true, clipnorm (per variable).
    return error("optimizer option '" + key +
                 "' is not supported by kiln (give --loss and --optimizer to "
                 "choose the training step yourself)");
  }
  return training;
}
