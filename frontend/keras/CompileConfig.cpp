//===- CompileConfig.cpp - a Keras compile_config as a TrainingConfig -----===//
//
// Reads the `kiln.compile_config` attribute the Keras importer records into
// a TrainingConfig: the only place that knows Keras' names for the
// training settings.
//
//===----------------------------------------------------------------------===//

#include "frontend/keras/CompileConfig.h"

#include "runtime/driver/LearningRateSchedule.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::kiln;

namespace {
llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "kiln.compile_config: " + message);
}

/// How a compile_config value was written, for messages: "0.5" with its
/// quotes, 3, true, null, [...].
std::string describe(Attribute value) {
  if (!value || isa<UnitAttr>(value))
    return "null";
  if (auto s = dyn_cast<StringAttr>(value))
    return "\"" + s.str() + "\"";
  if (auto b = dyn_cast<BoolAttr>(value))
    return b.getValue() ? "true" : "false";
  std::string text;
  llvm::raw_string_ostream os(text);
  if (auto f = dyn_cast<FloatAttr>(value))
    os << llvm::format("%g", f.getValueAsDouble());
  else if (auto i = dyn_cast<IntegerAttr>(value))
    os << i.getInt();
  else if (auto array = dyn_cast<ArrayAttr>(value)) {
    os << "[";
    llvm::interleave(
        array, os, [&](Attribute a) { os << describe(a); }, ", ");
    os << "]";
  } else if (isa<DictionaryAttr>(value))
    os << "{...}";
  else
    value.print(os);
  return text;
}

/// An error about the compile_config value at `path` (written as in the
/// model's JSON, e.g. compile_config.optimizer.config.beta_1).
llvm::Error pathError(const llvm::Twine &path, const llvm::Twine &problem,
                      Attribute value) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 path + " " + problem + ", got " +
                                     describe(value));
}

/// A JSON number (not a boolean).
std::optional<double> number(Attribute value) {
  if (auto f = dyn_cast<FloatAttr>(value))
    return f.getValueAsDouble();
  if (auto i = dyn_cast<IntegerAttr>(value);
      i && !isa<BoolAttr>(value) && i.getType().getIntOrFloatBitWidth() > 1)
    return static_cast<double>(i.getInt());
  return std::nullopt;
}

const char *const kOptimizerPath = "compile_config.optimizer.config";

/// A compile_config value as a schedule argument.
::kiln::schedule::ScheduleValue scheduleValue(Attribute value) {
  using ::kiln::schedule::ScheduleValue;
  ScheduleValue v;
  if (!value || isa<UnitAttr>(value)) {
    v.kind = ScheduleValue::Null;
  } else if (auto b = dyn_cast<BoolAttr>(value)) {
    v.kind = ScheduleValue::Bool;
    v.boolean = b.getValue();
  } else if (std::optional<double> n = number(value)) {
    v.kind = ScheduleValue::Number;
    v.number = *n;
  } else if (auto s = dyn_cast<StringAttr>(value)) {
    v.kind = ScheduleValue::String;
    v.text = s.str();
  } else if (auto array = dyn_cast<ArrayAttr>(value)) {
    v.kind = ScheduleValue::List;
    for (Attribute element : array) {
      std::optional<double> n = number(element);
      if (!n)
        v.listOfNumbers = false;
      else
        v.list.push_back(*n);
    }
  } else {
    v.kind = ScheduleValue::Other;
  }
  return v;
}

/// Keras' learning_rate: a number, or a serialized LearningRateSchedule
/// ({"module": "keras.optimizers.schedules", "class_name": ..., "config":
/// {...}}), which the generated program evaluates per step. Errors name the
/// JSON path; anything else but null is an error.
llvm::Error readLearningRate(Attribute lr, OptimizerConfig &optimizer) {
  std::string path = std::string(kOptimizerPath) + ".learning_rate";
  if (std::optional<double> value = number(lr))
    return optimizer.set("learning_rate", *value);
  if (auto object = dyn_cast<DictionaryAttr>(lr)) {
    auto name = object.getAs<StringAttr>("class_name");
    if (!name)
      return pathError(path + ".class_name",
                       "must name a Keras learning-rate schedule",
                       object.get("class_name"));
    if (auto module = object.getAs<StringAttr>("module");
        module && module.getValue() != "keras.optimizers.schedules")
      return pathError(path + ".module",
                       "must be keras.optimizers.schedules (kiln has only "
                       "the built-in schedules)",
                       module);
    ::kiln::schedule::LearningRateSchedule schedule;
    std::string problem =
        ::kiln::schedule::LearningRateSchedule::create(name.str(), &schedule);
    if (!problem.empty())
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     path + ".class_name: " + problem);
    auto config = object.getAs<DictionaryAttr>("config");
    if (!config)
      return pathError(path + ".config", "must be an object",
                       object.get("config"));
    for (NamedAttribute argument : config) {
      problem = schedule.set(argument.getName().str(),
                             scheduleValue(argument.getValue()));
      if (!problem.empty())
        return pathError(path + ".config." + argument.getName().str(),
                         "is invalid: " + problem, argument.getValue());
    }
    problem = schedule.finish();
    if (!problem.empty())
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     path + " (" + name.str() +
                                         "): " + problem);
    // The manifest's learning_rate is the schedule's rate at step 0.
    if (llvm::Error e = optimizer.set("learning_rate", schedule(0)))
      return e;
    optimizer.learningRateSchedule = schedule.json();
    return llvm::Error::success();
  }
  if (isa<UnitAttr>(lr))
    return llvm::Error::success();
  return pathError(path, "must be a number or a learning-rate schedule", lr);
}
} // namespace

llvm::Expected<TrainingConfig>
mlir::kiln::trainingConfigFromCompileConfig(DictionaryAttr config) {
  TrainingConfig training;
  auto loss = config.getAs<StringAttr>("loss");
  if (!loss)
    return error("no loss name");
  training.loss = loss.str();
  if (auto lossConfig = config.getAs<DictionaryAttr>("loss_config")) {
    for (NamedAttribute option : lossConfig) {
      StringRef key = option.getName().getValue();
      Attribute value = option.getValue();
      std::string path = ("compile_config.loss.config." + key).str();
      if (key == "from_logits") {
        auto logits = dyn_cast<BoolAttr>(value);
        if (!logits)
          return pathError(path, "must be true or false", value);
        training.fromLogits = logits.getValue();
      } else if (key == "label_smoothing") {
        std::optional<double> v = number(value);
        if (!v)
          return pathError(path, "must be a number", value);
        if (*v != 0.0)
          return pathError(
              path, "is not supported by kiln (only 0: no smoothing)", value);
      }
    }
  }
  if (Attribute weights = config.get("loss_weights");
      weights && !isa<UnitAttr>(weights))
    return pathError("compile_config.loss_weights",
                     "is not supported by kiln (one loss, weight 1)", weights);
  if (Attribute metrics = config.get("metrics")) {
    auto list = dyn_cast<ArrayAttr>(metrics);
    if (!list)
      return pathError("compile_config.metrics", "must be a list of metrics",
                       metrics);
    for (Attribute m : list) {
      auto name = dyn_cast<StringAttr>(m);
      if (!name)
        return pathError("compile_config.metrics",
                         "must hold metric names or metric objects", m);
      training.metrics.push_back(name.str());
    }
  }
  OptimizerConfig &optimizer = training.optimizer;
  // Keras' compile() default, also for a null optimizer.
  optimizer.name = "rmsprop";
  if (Attribute name = config.get("optimizer")) {
    if (auto text = dyn_cast<StringAttr>(name))
      optimizer.name = text.str();
    else if (auto object = dyn_cast<DictionaryAttr>(name))
      return pathError("compile_config.optimizer",
                       "must have a class_name (an optimizer object)", object);
    else if (!isa<UnitAttr>(name))
      return pathError("compile_config.optimizer",
                       "must be an optimizer name or object", name);
  }
  auto options = config.getAs<DictionaryAttr>("optimizer_config");
  if (!options)
    return training;
  // Keras settings that do not change the compiled step.
  // (Keras 2.11+ also writes jit_compile and is_legacy_optimizer.)
  static const char *const ignored[] = {"name",
                                        "ema_momentum",
                                        "ema_overwrite_frequency",
                                        "loss_scale_factor",
                                        "gradient_accumulation_steps",
                                        "jit_compile",
                                        "is_legacy_optimizer"};
  // Keras 2's legacy optimizers (optimizer_v2): `decay`, the rate
  // lr / (1 + decay * iterations).
  std::optional<double> legacyDecay;
  for (NamedAttribute option : options) {
    StringRef key = option.getName().getValue();
    Attribute value = option.getValue();
    std::string path = (kOptimizerPath + llvm::Twine(".") + key).str();
    if (llvm::is_contained(ignored, key))
      continue;
    if (key == "learning_rate") {
      if (llvm::Error e = readLearningRate(value, optimizer))
        return std::move(e);
      continue;
    }
    if (key == "decay") {
      if (isa<UnitAttr>(value))
        continue;
      legacyDecay = number(value);
      if (!legacyDecay || !std::isfinite(*legacyDecay) || *legacyDecay < 0)
        return pathError(path, "must be a finite number >= 0", value);
      continue;
    }
    if (llvm::is_contained(OptimizerConfig::settingNames(), key)) {
      // null: the setting's default (Keras writes every setting of the
      // optimizer, null when unset).
      if (isa<UnitAttr>(value))
        continue;
      std::optional<double> v;
      if (key == "nesterov" || key == "centered") {
        if (auto b = dyn_cast<BoolAttr>(value))
          v = b.getValue() ? 1.0 : 0.0;
        else
          return pathError(path, "must be true or false", value);
      } else if (!(v = number(value))) {
        return pathError(path, "must be a number", value);
      }
      // Keras applies weight_decay with every optimizer; kiln's update has
      // it only in adamw. 0 has no effect in Keras either.
      if (key == "weight_decay" && optimizer.name != "adamw") {
        if (*v == 0.0)
          continue;
        return llvm::createStringError(
            llvm::inconvertibleErrorCode(),
            path + " is " + describe(value) +
                ", but kiln applies weight_decay only with adamw (Keras "
                "applies it with " +
                optimizer.name + " too): use adamw, or null");
      }
      if (llvm::Error e = optimizer.set(key, *v))
        return pathError(path, llvm::toString(std::move(e)), value);
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
  if (legacyDecay && *legacyDecay != 0) {
    std::string path = std::string(kOptimizerPath) + ".decay";
    if (optimizer.learningRateSchedule)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          path + " (Keras 2's legacy decay) on top of a learning-rate "
                 "schedule is not supported");
    // optimizer_v2._decayed_lr: lr_t / (1 + decay_t * local_step) in
    // float32 with local_step = iterations: InverseTimeDecay with
    // decay_steps 1 (step / 1 is exact).
    ::kiln::schedule::LearningRateSchedule schedule;
    std::string problem = ::kiln::schedule::LearningRateSchedule::create(
        "InverseTimeDecay", &schedule);
    auto numberValue = [](double v) {
      ::kiln::schedule::ScheduleValue value;
      value.kind = ::kiln::schedule::ScheduleValue::Number;
      value.number = v;
      return value;
    };
    for (auto [key, v] :
         {std::pair<const char *, double>{"initial_learning_rate",
                                          optimizer.learningRateOrDefault()},
          {"decay_steps", 1.0},
          {"decay_rate", *legacyDecay}})
      if (problem.empty())
        problem = schedule.set(key, numberValue(v));
    if (problem.empty())
      problem = schedule.finish();
    if (!problem.empty())
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     path + ": " + problem);
    optimizer.learningRateSchedule = schedule.json();
  }
  return training;
}
