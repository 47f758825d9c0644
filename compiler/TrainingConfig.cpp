//===- TrainingConfig.cpp - what a training step computes -----------------===//
//
// Names, defaults, ranges and the one validation of the training
// configuration, plus the command-line adapter. Messages say what is wrong;
// the caller prefixes where the value was written (the passes their name,
// kilnc the training options or the compile_config).
//
//===----------------------------------------------------------------------===//

#include "compiler/TrainingConfig.h"

#include "runtime/driver/LearningRateSchedule.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <iterator>

using namespace mlir;
using namespace mlir::kiln;
using llvm::StringRef;

namespace {
llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// A double as MLIR diagnostics print it (1.000000e-07).
std::string numberText(double value) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << value;
  return text;
}

/// One optimizer setting: its name, where it lives, whether it is a
/// boolean (0 / 1), and the optimizers whose update reads it
/// (passes/AttachOptimizer.cpp).
struct Setting {
  StringRef name;
  void (*set)(OptimizerConfig &, double);
  bool boolean;
  /// Bit (1 << kind) for each optimizer that reads the setting.
  unsigned appliesTo;
};

constexpr unsigned bit(OptimizerKind kind) {
  return 1u << static_cast<unsigned>(kind);
}
using K = OptimizerKind;
constexpr unsigned kAll = bit(K::SGD) | bit(K::RMSprop) | bit(K::Adam) |
                          bit(K::AdamW) | bit(K::Adagrad);
constexpr unsigned kAdams = bit(K::Adam) | bit(K::AdamW);

#define KILN_SETTING(NAME, EXPR, BOOLEAN, KINDS)                               \
  Setting {                                                                    \
    NAME, [](OptimizerConfig &o, double v) { EXPR; }, BOOLEAN, KINDS           \
  }
const Setting kSettings[] = {
    KILN_SETTING("learning_rate", o.learningRate = v, false, kAll),
    KILN_SETTING("momentum", o.momentum = v, false,
                 bit(K::SGD) | bit(K::RMSprop)),
    KILN_SETTING("nesterov", o.nesterov = v != 0, true, bit(K::SGD)),
    KILN_SETTING("rho", o.rho = v, false, bit(K::RMSprop)),
    KILN_SETTING("centered", o.centered = v != 0, true, bit(K::RMSprop)),
    KILN_SETTING("beta_1", o.beta1 = v, false, kAdams),
    KILN_SETTING("beta_2", o.beta2 = v, false, kAdams),
    KILN_SETTING("epsilon", o.epsilon = v, false,
                 bit(K::RMSprop) | kAdams | bit(K::Adagrad)),
    KILN_SETTING("weight_decay", o.weightDecay = v, false, bit(K::AdamW)),
    KILN_SETTING("initial_accumulator_value", o.initialAccumulatorValue = v,
                 false, bit(K::Adagrad)),
    KILN_SETTING("clipvalue", o.clipValue = v, false, kAll),
    KILN_SETTING("global_clipnorm", o.globalClipNorm = v, false, kAll),
};
#undef KILN_SETTING

/// By OptimizerKind.
const char *const kOptimizerNames[] = {"sgd", "rmsprop", "adam", "adamw",
                                       "adagrad"};

const char *const kKnownMetrics[] = {"binary_accuracy",
                                     "categorical_accuracy",
                                     "sparse_categorical_accuracy",
                                     "precision",
                                     "recall",
                                     "f1",
                                     "mae",
                                     "mse"};
} // namespace

std::optional<LossKind> mlir::kiln::parseLossName(StringRef name) {
  return llvm::StringSwitch<std::optional<LossKind>>(name)
      .Cases("mean_squared_error", "mse", LossKind::MeanSquaredError)
      .Cases("mean_absolute_error", "mae", LossKind::MeanAbsoluteError)
      .Case("binary_crossentropy", LossKind::BinaryCrossentropy)
      .Case("categorical_crossentropy", LossKind::CategoricalCrossentropy)
      .Case("sparse_categorical_crossentropy",
            LossKind::SparseCategoricalCrossentropy)
      .Default(std::nullopt);
}

std::string mlir::kiln::resolveMetricName(StringRef name, LossKind loss) {
  if (name != "accuracy" && name != "acc")
    return name.str();
  switch (loss) {
  case LossKind::SparseCategoricalCrossentropy:
    return "sparse_categorical_accuracy";
  case LossKind::CategoricalCrossentropy:
    return "categorical_accuracy";
  default:
    return "binary_accuracy";
  }
}

std::optional<OptimizerKind> mlir::kiln::parseOptimizerName(StringRef name) {
  return llvm::StringSwitch<std::optional<OptimizerKind>>(name)
      .Case("sgd", OptimizerKind::SGD)
      .Case("rmsprop", OptimizerKind::RMSprop)
      .Case("adam", OptimizerKind::Adam)
      .Case("adamw", OptimizerKind::AdamW)
      .Case("adagrad", OptimizerKind::Adagrad)
      .Default(std::nullopt);
}

double OptimizerConfig::learningRateOrDefault() const {
  // Keras' defaults: SGD 0.01, the others 0.001.
  return learningRate.value_or(name == "sgd" ? 0.01 : 0.001);
}

llvm::ArrayRef<StringRef> OptimizerConfig::settingNames() {
  static const std::vector<StringRef> names = [] {
    std::vector<StringRef> list;
    for (const Setting &s : kSettings)
      list.push_back(s.name);
    return list;
  }();
  return names;
}

llvm::ArrayRef<StringRef> OptimizerConfig::settingsOf(OptimizerKind kind) {
  static const std::vector<std::vector<StringRef>> byKind = [] {
    std::vector<std::vector<StringRef>> table(std::size(kOptimizerNames));
    for (const Setting &s : kSettings)
      for (unsigned k = 0; k < table.size(); ++k)
        if (s.appliesTo & (1u << k))
          table[k].push_back(s.name);
    return table;
  }();
  return byKind[static_cast<int>(kind)];
}

bool OptimizerConfig::isGiven(StringRef key) const {
  return llvm::is_contained(given, key);
}

llvm::Error OptimizerConfig::set(StringRef key, double value) {
  for (const Setting &s : kSettings)
    if (s.name == key) {
      if (s.boolean && value != 0.0 && value != 1.0)
        return error(key + " must be true or false (1 or 0), got " +
                     numberText(value));
      s.set(*this, value);
      if (!isGiven(key))
        given.push_back(key.str());
      return llvm::Error::success();
    }
  return error("unknown optimizer setting '" + key +
               "' (known: " + llvm::join(settingNames(), ", ") + ")");
}

std::string TrainingConfig::metricList() const {
  return llvm::join(metrics, ",");
}

llvm::Error
mlir::kiln::validateLossAndMetrics(StringRef loss,
                                   llvm::ArrayRef<std::string> metrics) {
  std::optional<LossKind> kind = parseLossName(loss);
  if (!kind)
    return error("unknown loss '" + loss +
                 "' (known: mean_squared_error, mean_absolute_error, "
                 "binary_crossentropy, categorical_crossentropy, "
                 "sparse_categorical_crossentropy)");
  llvm::StringMap<StringRef> seen;
  for (const std::string &written : metrics) {
    StringRef m = StringRef(written).trim();
    if (m.empty())
      continue;
    std::string name = resolveMetricName(m, *kind);
    // Each metric is one output of eval_step: twice is a mistake.
    if (auto [it, inserted] = seen.try_emplace(name, m); !inserted)
      return error("metric '" + m + "' is given twice" +
                   (it->second == m ? std::string()
                                    : " (as '" + it->second.str() + "' and '" +
                                          m.str() + "')"));
    if (!llvm::is_contained(kKnownMetrics, name))
      return error("unknown metric '" + m +
                   "' (known: accuracy, binary_accuracy, "
                   "categorical_accuracy, sparse_categorical_accuracy, "
                   "precision, recall, f1, mae, mse)");
    bool sparse = *kind == LossKind::SparseCategoricalCrossentropy;
    if (name == "sparse_categorical_accuracy" && !sparse)
      return error("metric '" + m + "' needs integer labels (the sparse loss)");
    if (sparse &&
        llvm::is_contained({"precision", "recall", "f1", "mae", "mse"},
                           StringRef(name)))
      return error("metric '" + m +
                   "' compares the predictions with labels of their shape; "
                   "sparse_categorical_crossentropy labels are class "
                   "indices");
  }
  return llvm::Error::success();
}

llvm::Expected<ResolvedOptimizer>
mlir::kiln::resolveOptimizer(const OptimizerConfig &o, StringRef convention) {
  std::optional<OptimizerKind> kind = parseOptimizerName(o.name);
  if (!kind)
    return error("unknown optimizer '" + o.name +
                 "' (known: sgd, rmsprop, adam, adamw, adagrad)");
  if (convention != "keras" && convention != "pytorch")
    return error("unknown convention '" + convention +
                 "' (known: keras, pytorch)");
  // A setting the optimizer's update does not read would be ignored: say so
  // (e.g. adam with momentum, or weight_decay without adamw).
  for (const std::string &key : o.given) {
    if (llvm::is_contained(OptimizerConfig::settingsOf(*kind), key))
      continue;
    llvm::SmallVector<StringRef> users;
    for (const Setting &s : kSettings)
      if (s.name == key)
        for (unsigned k = 0; k < std::size(kOptimizerNames); ++k)
          if (s.appliesTo & (1u << k))
            users.push_back(kOptimizerNames[k]);
    return error("" + key + " does not apply to " + o.name +
                 " (it applies to: " + llvm::join(users, ", ") + ")");
  }
  ResolvedOptimizer h;
  h.kind = *kind;
  h.pytorch = convention == "pytorch";
  h.momentum = o.momentum;
  h.nesterov = o.nesterov;
  h.rho = o.rho;
  h.centered = o.centered;
  h.beta1 = o.beta1;
  h.beta2 = o.beta2;
  h.epsilon = o.epsilon                         ? *o.epsilon
              : !h.pytorch                      ? 1e-7
              : *kind == OptimizerKind::Adagrad ? 1e-10
                                                : 1e-8;
  h.weightDecay = o.weightDecay ? *o.weightDecay : h.pytorch ? 0.01 : 0.004;
  h.initialAccumulator = o.initialAccumulatorValue ? *o.initialAccumulatorValue
                         : h.pytorch               ? 0.0
                                                   : 0.1;
  h.clipValue = o.clipValue;
  h.globalClipNorm = o.globalClipNorm;
  if (h.nesterov && (h.kind != OptimizerKind::SGD || h.momentum == 0.0))
    return error("nesterov needs sgd with a non-zero "
                 "momentum");
  // Ranges as Keras and PyTorch check them (NaN fails every test).
  struct Check {
    const char *name;
    double value, hi;
    bool hiOpen;
  } checks[] = {
      {"momentum", h.momentum, 1.0, false},
      {"rho", h.rho, 1.0, true},
      {"beta_1", h.beta1, 1.0, true},
      {"beta_2", h.beta2, 1.0, true},
      {"epsilon", h.epsilon, HUGE_VAL, false},
      {"weight_decay", h.weightDecay, HUGE_VAL, false},
      {"initial_accumulator_value", h.initialAccumulator, HUGE_VAL, false},
      {"clipvalue", h.clipValue, HUGE_VAL, false},
      {"global_clipnorm", h.globalClipNorm, HUGE_VAL, false},
  };
  for (const Check &c : checks)
    if (!(c.value >= 0.0 && (c.hiOpen ? c.value < c.hi : c.value <= c.hi)))
      return error(llvm::Twine(c.name) + " = " + numberText(c.value) +
                   " is out of range " +
                   (c.hi == HUGE_VAL ? "(must be >= 0)"
                    : c.hiOpen       ? "[0, 1)"
                                     : "[0, 1]"));
  // The learning rate is a runtime argument, checked here so that every
  // adapter rejects the same values (PyTorch's rule: 0 <= lr; 0 takes no
  // gradient step, though Keras SGD / RMSprop momentum still applies the
  // velocity already accumulated).
  if (o.learningRate &&
      !(std::isfinite(*o.learningRate) && *o.learningRate >= 0.0))
    return error("the learning rate " + numberText(*o.learningRate) +
                 " is not a finite non-negative number");
  return h;
}

llvm::Error TrainingConfig::validate() const {
  if (llvm::Error e = validateLossAndMetrics(loss, metrics))
    return e;
  return resolveOptimizer(optimizer, convention).takeError();
}

//===----------------------------------------------------------------------===//
// Command-line adapter
//===----------------------------------------------------------------------===//

llvm::Expected<OptimizerConfig> mlir::kiln::parseOptimizerSpec(StringRef spec) {
  auto [name, rest] = spec.split(':');
  OptimizerConfig config;
  config.name = name.trim().str();
  for (StringRef item : llvm::split(rest, ',')) {
    item = item.trim();
    if (item.empty())
      continue;
    auto [key, text] = item.split('=');
    key = key.trim();
    text = text.trim();
    if (!item.contains('=') ||
        !llvm::is_contained(OptimizerConfig::settingNames(), key))
      return error("--optimizer: unknown setting '" + item + "' (known: " +
                   llvm::join(OptimizerConfig::settingNames(), ", ") +
                   "; each as key=value)");
    if (config.isGiven(key))
      return error("--optimizer: " + key + " is given twice");
    double value = 0;
    if (text == "true" || text == "false")
      value = text == "true";
    else if (text.getAsDouble(value))
      return error("--optimizer: " + key + " must be a number, got '" + text +
                   "'");
    if (key == "nesterov" || key == "centered") {
      if (value != 0.0 && value != 1.0)
        return error("--optimizer: " + key +
                     " must be true or false (1 or 0), got '" + text + "'");
    }
    if (llvm::Error e = config.set(key, value))
      return error("--optimizer: " + llvm::toString(std::move(e)));
  }
  return config;
}

llvm::Error
mlir::kiln::applyLearningRateScheduleSpec(StringRef spec,
                                          OptimizerConfig &optimizer) {
  using ::kiln::schedule::LearningRateSchedule;
  using ::kiln::schedule::ScheduleValue;
  LearningRateSchedule schedule;
  std::string problem;
  if (spec.ltrim().starts_with("{")) {
    llvm::Expected<llvm::json::Value> parsed = llvm::json::parse(spec);
    if (!parsed)
      return error("--lr-schedule: not JSON: " +
                   llvm::toString(parsed.takeError()));
    const llvm::json::Object *object = parsed->getAsObject();
    if (!object)
      return error("--lr-schedule: not a JSON object");
    for (const auto &[key, value] : *object)
      if (key != "class_name" && key != "config" && key != "module" &&
          key != "registered_name")
        return error("--lr-schedule: unknown key '" + key.str() +
                     "' (a schedule has class_name and config)");
    if (const llvm::json::Value *module = object->get("module");
        module && module->getAsString() != StringRef("keras.optimizers."
                                                     "schedules"))
      return error("--lr-schedule: module must be keras.optimizers.schedules "
                   "(kiln has the built-in schedules only)");
    std::optional<StringRef> className = object->getString("class_name");
    if (!className)
      return error(
          "--lr-schedule: class_name must name a Keras learning-rate schedule");
    problem = LearningRateSchedule::create(className->str(), &schedule);
    const llvm::json::Object *config = object->getObject("config");
    if (problem.empty() && !config)
      problem = "config must be an object";
    if (problem.empty())
      for (const auto &[key, value] : *config) {
        ScheduleValue v;
        if (value.kind() == llvm::json::Value::Null) {
          v.kind = ScheduleValue::Null;
        } else if (std::optional<bool> b = value.getAsBoolean()) {
          v.kind = ScheduleValue::Bool;
          v.boolean = *b;
        } else if (std::optional<double> n = value.getAsNumber()) {
          v.kind = ScheduleValue::Number;
          v.number = *n;
        } else if (std::optional<StringRef> text = value.getAsString()) {
          v.kind = ScheduleValue::String;
          v.text = text->str();
        } else if (const llvm::json::Array *list = value.getAsArray()) {
          v.kind = ScheduleValue::List;
          for (const llvm::json::Value &x : *list) {
            if (std::optional<double> element = x.getAsNumber())
              v.list.push_back(*element);
            else
              v.listOfNumbers = false;
          }
        } else {
          v.kind = ScheduleValue::Other;
        }
        if (!(problem = schedule.set(key.str(), v)).empty())
          break;
      }
    if (problem.empty())
      problem = schedule.finish();
  } else {
    problem = ::kiln::schedule::parseCompactSchedule(spec.str(), &schedule);
  }
  if (!problem.empty())
    return error("--lr-schedule: " + problem);
  optimizer.learningRate = schedule(0);
  optimizer.learningRateSchedule = schedule.json();
  return llvm::Error::success();
}

std::vector<std::string> mlir::kiln::parseMetricList(StringRef list) {
  std::vector<std::string> names;
  for (StringRef m : llvm::split(list, ','))
    if (!m.trim().empty())
      names.push_back(m.trim().str());
  return names;
}
