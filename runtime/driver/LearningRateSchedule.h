//===- LearningRateSchedule.h - Keras 3 learning-rate schedules -*- C++ -*-===//
//
// The six built-in schedules of keras.optimizers.schedules (Keras 3,
// keras/src/optimizers/schedules/learning_rate_schedule.py), evaluated per
// training step exactly as Keras does: in float32, from the optimizer's
// `iterations` counter (0 for the first step), operation by operation in
// Keras' order. docs/spec.md ("Learning-rate schedules") lists the formulas.
//
// Header-only, without exceptions or dependencies: the compiler (a Keras
// compile_config, frontend/keras/CompileConfig.cpp; `kilnc --lr-schedule`,
// compiler/Compile.cpp) and the training driver (the manifest, `fit
// --lr-schedule`, checkpoints) share it, each feeding the values of its own
// JSON library through ScheduleValue; both read the compact spelling with
// parseCompactSchedule.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_DRIVER_LEARNINGRATESCHEDULE_H
#define KILN_DRIVER_LEARNINGRATESCHEDULE_H

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace kiln::schedule {

/// A value of a schedule's config as JSON has it.
struct ScheduleValue {
  enum Kind { Null, Bool, Number, String, List, Other } kind = Null;
  bool boolean = false;
  double number = 0;
  std::string text;
  /// List: the numbers; `listOfNumbers` is false if an element is not one.
  std::vector<double> list;
  bool listOfNumbers = true;
};

/// The Keras class names, in documentation order.
inline const std::vector<std::string> &scheduleClassNames() {
  static const std::vector<std::string> names = {
      "ExponentialDecay", "PiecewiseConstantDecay",
      "PolynomialDecay",  "InverseTimeDecay",
      "CosineDecay",      "CosineDecayRestarts"};
  return names;
}

/// A number as %.17g (round trip), for JSON and messages.
inline std::string scheduleNumber(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", v);
  return buffer;
}

class LearningRateSchedule {
public:
  /// Starts a schedule of Keras class `className`; returns an error message
  /// (empty on success).
  static std::string create(const std::string &className,
                            LearningRateSchedule *out) {
    const auto &names = scheduleClassNames();
    for (const std::string &name : names)
      if (name == className) {
        *out = LearningRateSchedule();
        out->className = className;
        return "";
      }
    std::string list;
    for (const std::string &name : names)
      list += (list.empty() ? "" : ", ") + name;
    return "unknown learning-rate schedule '" + className +
           "' (kiln has the Keras schedules " + list + ")";
  }

  /// Sets config key `key` (Keras' argument name). Returns an error message
  /// naming the key (empty on success). `name` is accepted and ignored.
  std::string set(const std::string &key, const ScheduleValue &v) {
    auto number = [&](double *out) -> std::string {
      if (v.kind != ScheduleValue::Number || !std::isfinite(v.number))
        return key + " must be a finite number";
      *out = v.number;
      given.push_back(key);
      return "";
    };
    auto flag = [&](bool *out) -> std::string {
      if (v.kind != ScheduleValue::Bool)
        return key + " must be true or false";
      *out = v.boolean;
      given.push_back(key);
      return "";
    };
    auto list = [&](std::vector<double> *out) -> std::string {
      if (v.kind != ScheduleValue::List || !v.listOfNumbers)
        return key + " must be a list of numbers";
      for (double x : v.list)
        if (!std::isfinite(x))
          return key + " must hold finite numbers";
      *out = v.list;
      given.push_back(key);
      return "";
    };
    auto unknown = [&]() {
      return "'" + key + "' is not an argument of " + className +
             " (it takes " + arguments() + ")";
    };
    if (key == "name") {
      if (v.kind != ScheduleValue::String && v.kind != ScheduleValue::Null)
        return "name must be a string";
      return "";
    }
    bool exponential = className == "ExponentialDecay",
         inverse = className == "InverseTimeDecay",
         polynomial = className == "PolynomialDecay",
         piecewise = className == "PiecewiseConstantDecay",
         cosine = className == "CosineDecay",
         restarts = className == "CosineDecayRestarts";
    if (key == "initial_learning_rate" && !piecewise)
      return number(&initialLearningRate);
    if (key == "decay_steps" &&
        (exponential || inverse || polynomial || cosine))
      return number(&decaySteps);
    if (key == "decay_rate" && (exponential || inverse))
      return number(&decayRate);
    if (key == "staircase" && (exponential || inverse))
      return flag(&staircase);
    if (polynomial && key == "end_learning_rate")
      return number(&endLearningRate);
    if (polynomial && key == "power")
      return number(&power);
    if (polynomial && key == "cycle")
      return flag(&cycle);
    if (piecewise && key == "boundaries")
      return list(&boundaries);
    if (piecewise && key == "values")
      return list(&values);
    if ((cosine || restarts) && key == "alpha")
      return number(&alpha);
    if (cosine && key == "warmup_target") {
      if (v.kind == ScheduleValue::Null) {
        warmupTarget.reset();
        return "";
      }
      double t;
      std::string e = number(&t);
      if (e.empty())
        warmupTarget = t;
      return e.empty() ? e : "warmup_target must be a finite number or null";
    }
    if (cosine && key == "warmup_steps")
      return number(&warmupSteps);
    if (restarts && key == "first_decay_steps")
      return number(&decaySteps);
    if (restarts && key == "t_mul")
      return number(&tMul);
    if (restarts && key == "m_mul")
      return number(&mMul);
    return unknown();
  }

  /// Checks that the required arguments were given and the values are in
  /// range (Keras' own checks, plus those that keep every rate finite and
  /// >= 0). Returns an error message (empty on success).
  std::string finish() const {
    for (const std::string &key : required())
      if (!isGiven(key))
        return className + " needs " + key;
    auto nonNegative = [&](const char *key, double v) -> std::string {
      return v >= 0
                 ? ""
                 : std::string(key) + " must be >= 0, got " + scheduleNumber(v);
    };
    std::string e;
    if (className == "PiecewiseConstantDecay") {
      if (values.size() != boundaries.size() + 1)
        return "values must have one more element than boundaries (got " +
               std::to_string(values.size()) + " values and " +
               std::to_string(boundaries.size()) + " boundaries)";
      for (size_t i = 0; i < boundaries.size(); ++i) {
        if (boundaries[i] != std::floor(boundaries[i]) ||
            std::fabs(boundaries[i]) > 9.0e15)
          return "boundaries must be whole step numbers, got " +
                 scheduleNumber(boundaries[i]);
        if (i > 0 && !(boundaries[i] > boundaries[i - 1]))
          return "boundaries must be strictly increasing";
      }
      for (double v : values)
        if (!(e = nonNegative("values", v)).empty())
          return e;
      return "";
    }
    if (!(e = nonNegative("initial_learning_rate", initialLearningRate))
             .empty())
      return e;
    const char *steps = className == "CosineDecayRestarts" ? "first_decay_steps"
                                                           : "decay_steps";
    if (!(decaySteps > 0))
      return std::string(steps) + " must be > 0, got " +
             scheduleNumber(decaySteps);
    if (className == "ExponentialDecay" || className == "InverseTimeDecay")
      return nonNegative("decay_rate", decayRate);
    if (className == "PolynomialDecay")
      return nonNegative("end_learning_rate", endLearningRate);
    if (className == "CosineDecay") {
      if (warmupTarget &&
          !(e = nonNegative("warmup_target", *warmupTarget)).empty())
        return e;
      if (!(e = nonNegative("warmup_steps", warmupSteps)).empty())
        return e;
      return alpha >= 0 && alpha <= 1
                 ? ""
                 : "alpha must be in [0, 1], got " + scheduleNumber(alpha);
    }
    if (className == "CosineDecayRestarts") {
      if (!(tMul > 0))
        return "t_mul must be > 0, got " + scheduleNumber(tMul);
      if (!(e = nonNegative("m_mul", mMul)).empty())
        return e;
      return alpha >= 0 && alpha <= 1
                 ? ""
                 : "alpha must be in [0, 1], got " + scheduleNumber(alpha);
    }
    return "";
  }

  /// The learning rate of the step that runs with the optimizer's
  /// `iterations` counter equal to `step` (0 for the first step): Keras 3's
  /// LearningRateSchedule.__call__, in float32. Elementary operations are
  /// separate statements (no FMA contraction); pow, log and cos are the
  /// float32 rounding of the double-precision function.
  float operator()(int64_t step) const;

  /// The schedule as Keras serializes it, without `module` and
  /// `registered_name`: {"class_name": ..., "config": {...}} with every
  /// argument (defaults filled in), numbers as %.17g.
  std::string json() const {
    std::string out = "{\"class_name\": \"" + className + "\", \"config\": {";
    bool first = true;
    auto add = [&](const char *key, const std::string &value) {
      out += std::string(first ? "" : ", ") + "\"" + key + "\": " + value;
      first = false;
    };
    auto num = [](double v) { return scheduleNumber(v); };
    auto boolean = [](bool b) { return std::string(b ? "true" : "false"); };
    auto list = [&](const std::vector<double> &l) {
      std::string s = "[";
      for (size_t i = 0; i < l.size(); ++i)
        s += (i ? ", " : "") + num(l[i]);
      return s + "]";
    };
    if (className == "PiecewiseConstantDecay") {
      add("boundaries", list(boundaries));
      add("values", list(values));
    } else {
      add("initial_learning_rate", num(initialLearningRate));
      add(className == "CosineDecayRestarts" ? "first_decay_steps"
                                             : "decay_steps",
          num(decaySteps));
    }
    if (className == "ExponentialDecay" || className == "InverseTimeDecay") {
      add("decay_rate", num(decayRate));
      add("staircase", boolean(staircase));
    } else if (className == "PolynomialDecay") {
      add("end_learning_rate", num(endLearningRate));
      add("power", num(power));
      add("cycle", boolean(cycle));
    } else if (className == "CosineDecay") {
      add("alpha", num(alpha));
      add("warmup_target", warmupTarget ? num(*warmupTarget) : "null");
      add("warmup_steps", num(warmupSteps));
    } else if (className == "CosineDecayRestarts") {
      add("t_mul", num(tMul));
      add("m_mul", num(mMul));
      add("alpha", num(alpha));
    }
    return out + "}}";
  }

  std::string className;

private:
  bool isGiven(const std::string &key) const {
    for (const std::string &g : given)
      if (g == key)
        return true;
    return false;
  }
  std::vector<std::string> required() const {
    if (className == "PiecewiseConstantDecay")
      return {"boundaries", "values"};
    if (className == "CosineDecayRestarts")
      return {"initial_learning_rate", "first_decay_steps"};
    if (className == "ExponentialDecay" || className == "InverseTimeDecay")
      return {"initial_learning_rate", "decay_steps", "decay_rate"};
    return {"initial_learning_rate", "decay_steps"};
  }
  std::string arguments() const {
    if (className == "ExponentialDecay" || className == "InverseTimeDecay")
      return "initial_learning_rate, decay_steps, decay_rate, staircase, name";
    if (className == "PiecewiseConstantDecay")
      return "boundaries, values, name";
    if (className == "PolynomialDecay")
      return "initial_learning_rate, decay_steps, end_learning_rate, power, "
             "cycle, name";
    if (className == "CosineDecay")
      return "initial_learning_rate, decay_steps, alpha, warmup_target, "
             "warmup_steps, name";
    return "initial_learning_rate, first_decay_steps, t_mul, m_mul, alpha, "
           "name";
  }

  // Keras' defaults.
  double initialLearningRate = 0, decaySteps = 0, decayRate = 0;
  bool staircase = false;
  double endLearningRate = 0.0001, power = 1.0;
  bool cycle = false;
  std::vector<double> boundaries, values;
  double alpha = 0.0;
  std::optional<double> warmupTarget;
  double warmupSteps = 0;
  double tMul = 2.0, mMul = 1.0;
  std::vector<std::string> given;
};

namespace detail {
inline float f32(double v) { return static_cast<float>(v); }
inline float powF(float a, float b) {
  return static_cast<float>(
      std::pow(static_cast<double>(a), static_cast<double>(b)));
}
inline float logF(float a) {
  return static_cast<float>(std::log(static_cast<double>(a)));
}
inline float cosF(float a) {
  return static_cast<float>(std::cos(static_cast<double>(a)));
}
} // namespace detail

inline float LearningRateSchedule::operator()(int64_t iteration) const {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
  using detail::cosF;
  using detail::f32;
  using detail::logF;
  using detail::powF;
  // convert_to_tensor(initial_learning_rate): float32 (Keras' floatx).
  const float initial = f32(initialLearningRate);
  // cast(step, float32)
  const float step = static_cast<float>(iteration);
  const float pi = f32(3.141592653589793);
  if (className == "ExponentialDecay" || className == "InverseTimeDecay") {
    const float steps = f32(decaySteps), rate = f32(decayRate);
    float p = step / steps;
    if (staircase)
      p = std::floor(p);
    if (className == "ExponentialDecay")
      return initial * powF(rate, p);
    float scaled = rate * p;
    float denom = 1.0f + scaled;
    return initial / denom;
  }
  if (className == "PiecewiseConstantDecay") {
    // Boundaries are cast to the step's integer type; exactly one of the
    // indicator terms Keras sums is 1.
    size_t i = 0;
    while (i < boundaries.size() &&
           iteration > static_cast<int64_t>(boundaries[i]))
      ++i;
    return f32(values[i]);
  }
  if (className == "PolynomialDecay") {
    const float end = f32(endLearningRate), pw = f32(power);
    float global = step, steps = f32(decaySteps);
    if (cycle) {
      float ratio = global / f32(decaySteps);
      float multiplier = global == 0.0f ? 1.0f : std::ceil(ratio);
      steps = steps * multiplier;
    } else {
      global = std::fmin(global, steps);
    }
    float p = global / steps;
    float rest = 1.0f - p;
    float span = initial - end;
    float scaled = span * powF(rest, pw);
    return scaled + end;
  }
  if (className == "CosineDecay") {
    const float steps = f32(decaySteps);
    // _decay_function: `(1 - self.alpha)` and `self.alpha` are Python
    // floats, weakly typed to float32.
    auto decay = [&](float s, float from) {
      float fraction = s / steps;
      float angle = pi * fraction;
      float cosine = 1.0f + cosF(angle);
      float cosineDecayed = 0.5f * cosine;
      float scaled = f32(1.0 - alpha) * cosineDecayed;
      float decayed = scaled + f32(alpha);
      return from * decayed;
    };
    if (!warmupTarget)
      return decay(std::fmin(step, steps), initial);
    const float target = f32(*warmupTarget), warmup = f32(warmupSteps);
    float limit = steps + warmup;
    float global = std::fmin(step, limit);
    if (global < warmup) {
      float fraction = global / warmup;
      float delta = target - initial;
      float scaled = delta * fraction;
      return scaled + initial;
    }
    return decay(global - warmup, target);
  }
  // CosineDecayRestarts
  const float first = f32(decaySteps), a = f32(alpha), t = f32(tMul),
              m = f32(mMul);
  float fraction = step / first;
  float restart;
  if (t == 1.0f) {
    restart = std::floor(fraction);
    fraction = fraction - restart;
  } else {
    float oneMinusT = 1.0f - t;
    float product = fraction * oneMinusT;
    float argument = 1.0f - product;
    float ratio = logF(argument) / logF(t);
    restart = std::floor(ratio);
    float power = powF(t, restart);
    float numerator = 1.0f - power;
    float sum = numerator / oneMinusT;
    float shifted = fraction - sum;
    fraction = shifted / power;
  }
  float factor = powF(m, restart);
  float half = 0.5f * factor;
  float angle = pi * fraction;
  float cosine = 1.0f + cosF(angle);
  float cosineDecayed = half * cosine;
  float oneMinusAlpha = 1.0f - a;
  float scaled = oneMinusAlpha * cosineDecayed;
  float decayed = scaled + a;
  return initial * decayed;
}

/// A value of the compact spelling: a number, true/false, null (or None),
/// [n,...], else a string. Returns an error message (empty on success).
inline std::string compactScheduleValue(const std::string &text,
                                        ScheduleValue *out) {
  *out = ScheduleValue();
  auto number = [](const std::string &s, double *v) {
    char *end = nullptr;
    *v = std::strtod(s.c_str(), &end);
    return !s.empty() && end && !*end;
  };
  if (text == "true" || text == "false") {
    out->kind = ScheduleValue::Bool;
    out->boolean = text == "true";
  } else if (text == "null" || text == "None") {
    out->kind = ScheduleValue::Null;
  } else if (!text.empty() && text.front() == '[') {
    if (text.back() != ']')
      return "the list '" + text + "' has no closing ']'";
    out->kind = ScheduleValue::List;
    std::string inner = text.substr(1, text.size() - 2);
    size_t start = 0;
    while (start <= inner.size() && !inner.empty()) {
      size_t comma = inner.find(',', start);
      std::string item =
          inner.substr(start, comma == std::string::npos ? std::string::npos
                                                         : comma - start);
      double v;
      if (!number(item, &v))
        return "'" + item + "' in a list is not a number";
      out->list.push_back(v);
      if (comma == std::string::npos)
        break;
      start = comma + 1;
    }
  } else if (double v; number(text, &v)) {
    out->kind = ScheduleValue::Number;
    out->number = v;
  } else {
    out->kind = ScheduleValue::String;
    out->text = text;
  }
  return "";
}

/// The compact spelling `CLASS:key=value,...` (items separated by commas
/// outside brackets; values as compactScheduleValue reads them), e.g.
/// `PiecewiseConstantDecay:boundaries=[100,200],values=[0.1,0.01,0.001]`:
/// the schedule, checked (finish()). Returns an error message (empty on
/// success).
inline std::string parseCompactSchedule(const std::string &text,
                                        LearningRateSchedule *out) {
  size_t colon = text.find(':');
  std::string e = LearningRateSchedule::create(text.substr(0, colon), out);
  if (!e.empty())
    return e;
  std::string rest = colon == std::string::npos ? "" : text.substr(colon + 1);
  size_t start = 0;
  int depth = 0;
  std::vector<std::string> seen;
  for (size_t i = 0; i <= rest.size() && !rest.empty(); ++i) {
    if (i < rest.size() && rest[i] == '[')
      ++depth;
    else if (i < rest.size() && rest[i] == ']')
      --depth;
    if (i < rest.size() && (rest[i] != ',' || depth > 0))
      continue;
    std::string item = rest.substr(start, i - start);
    start = i + 1;
    size_t equals = item.find('=');
    if (equals == std::string::npos || equals == 0)
      return "'" + item + "' is not key=value";
    std::string key = item.substr(0, equals);
    if (std::find(seen.begin(), seen.end(), key) != seen.end())
      return "'" + key + "' is given twice";
    seen.push_back(key);
    ScheduleValue value;
    if (!(e = compactScheduleValue(item.substr(equals + 1), &value)).empty())
      return key + ": " + e;
    if (!(e = out->set(key, value)).empty())
      return e;
  }
  return out->finish();
}

} // namespace kiln::schedule

#endif // KILN_DRIVER_LEARNINGRATESCHEDULE_H
