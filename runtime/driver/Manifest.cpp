//===- Manifest.cpp - the model manifest, read by the driver --------------===//

#include "Manifest.h"

#include <cmath>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include <stdexcept>

using nlohmann::json;
using namespace kiln::driver;

namespace {
[[noreturn]] void fail(const std::string &what) {
  throw std::runtime_error("malformed model manifest: " + what);
}

const json &field(const json &object, const char *key, const std::string &at) {
  if (!object.is_object() || !object.contains(key))
    fail(at + ": missing '" + key + "'");
  return object.at(key);
}
int64_t integer(const json &object, const char *key, const std::string &at) {
  const json &v = field(object, key, at);
  if (!v.is_number_integer())
    fail(at + "." + key + " is not an integer");
  return v.get<int64_t>();
}
int64_t size(const json &object, const char *key, const std::string &at) {
  int64_t v = integer(object, key, at);
  if (v < 0)
    fail(at + "." + key + " is negative");
  return v;
}
std::string string(const json &object, const char *key, const std::string &at) {
  const json &v = field(object, key, at);
  if (!v.is_string())
    fail(at + "." + key + " is not a string");
  return v.get<std::string>();
}
std::vector<int64_t> shape(const json &v, const std::string &at) {
  if (!v.is_array())
    fail(at + " is not a list");
  std::vector<int64_t> out;
  for (const json &d : v) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0)
      fail(at + " holds a bad dimension");
    out.push_back(d.get<int64_t>());
  }
  return out;
}

EntryInfo entry(const json &e, const std::string &at) {
  EntryInfo out;
  out.symbol = string(e, "symbol", at);
  out.alignment = size(e, "alignment", at);
  out.paramsSize = size(e, "params_size", at);
  out.optStateSize = size(e, "opt_state_size", at);
  out.ioSize = size(e, "io_size", at);
  out.scratchSize = size(e, "scratch_size", at);
  const json &tensors = field(e, "tensors", at);
  if (!tensors.is_array())
    fail(at + ".tensors is not a list");
  for (const json &t : tensors) {
    TensorInfo ti;
    ti.name = string(t, "name", at);
    std::string where = at + " tensor '" + ti.name + "'";
    std::string kind = string(t, "kind", where);
    std::string region = string(t, "region", where);
    if (!kiln_tensor_kind_from_name(kind.c_str(), &ti.kind))
      fail(where + ": unknown kind '" + kind + "'");
    if (!kiln_region_from_name(region.c_str(), &ti.region) ||
        ti.region == KILN_REGION_SCRATCH)
      fail(where + ": unknown region '" + region + "'");
    if (ti.region != kiln_tensor_kind_region(ti.kind))
      fail(where + ": a tensor of kind '" + kind + "' does not live in the '" +
           region + "' region");
    ti.offset = size(t, "offset", where);
    ti.shape = shape(field(t, "shape", where), where + ".shape");
    ti.dtype = string(t, "dtype", where);
    ti.updated = field(t, "updated", where).is_boolean() &&
                 field(t, "updated", where).get<bool>();
    toDtype(ti.dtype);
    int64_t limit = ti.region == KILN_REGION_PARAMS      ? out.paramsSize
                    : ti.region == KILN_REGION_OPT_STATE ? out.optStateSize
                                                         : out.ioSize;
    if (ti.offset + static_cast<int64_t>(ti.bytes()) > limit)
      fail(where + " lies outside its region");
    out.tensors.push_back(std::move(ti));
  }
  return out;
}
} // namespace

int64_t TensorInfo::count() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

size_t TensorInfo::bytes() const {
  return static_cast<size_t>(count()) * kiln_dtype_size(toDtype(dtype));
}

const TensorInfo *EntryInfo::find(kiln_tensor_kind_t kind,
                                  const std::string &name) const {
  for (const TensorInfo &t : tensors)
    if (t.kind == kind && t.name == name)
      return &t;
  return nullptr;
}

const TensorInfo *EntryInfo::findIn(kiln_region_t region,
                                    const std::string &name) const {
  for (const TensorInfo &t : tensors)
    if (t.region == region && t.name == name)
      return &t;
  return nullptr;
}

std::vector<const TensorInfo *> EntryInfo::all(kiln_tensor_kind_t kind) const {
  std::vector<const TensorInfo *> out;
  for (const TensorInfo &t : tensors)
    if (t.kind == kind)
      out.push_back(&t);
  return out;
}

namespace {
using kiln::schedule::LearningRateSchedule;
using kiln::schedule::ScheduleValue;

ScheduleValue scheduleValue(const json &v) {
  ScheduleValue out;
  if (v.is_null()) {
    out.kind = ScheduleValue::Null;
  } else if (v.is_boolean()) {
    out.kind = ScheduleValue::Bool;
    out.boolean = v.get<bool>();
  } else if (v.is_number()) {
    out.kind = ScheduleValue::Number;
    out.number = v.get<double>();
  } else if (v.is_string()) {
    out.kind = ScheduleValue::String;
    out.text = v.get<std::string>();
  } else if (v.is_array()) {
    out.kind = ScheduleValue::List;
    for (const json &x : v) {
      if (x.is_number())
        out.list.push_back(x.get<double>());
      else
        out.listOfNumbers = false;
    }
  } else {
    out.kind = ScheduleValue::Other;
  }
  return out;
}

} // namespace

LearningRateSchedule
kiln::driver::parseLearningRateSchedule(const std::string &text,
                                        const std::string &what) {
  auto check = [&](const std::string &problem) {
    if (!problem.empty())
      throw std::runtime_error(what + ": " + problem);
  };
  LearningRateSchedule schedule;
  size_t first = text.find_first_not_of(" \t\n");
  if (first != std::string::npos && text[first] == '{') {
    json object = json::parse(text, nullptr, false);
    if (object.is_discarded() || !object.is_object())
      check("not a JSON object");
    for (auto &[key, value] : object.items())
      if (key != "class_name" && key != "config" && key != "module" &&
          key != "registered_name")
        check("unknown key '" + key +
              "' (a schedule has class_name and config)");
    if (object.contains("module") &&
        object.at("module") != "keras.optimizers.schedules")
      check("module must be keras.optimizers.schedules (kiln has the "
            "built-in schedules only)");
    if (!object.contains("class_name") || !object.at("class_name").is_string())
      check("class_name must name a Keras learning-rate schedule");
    check(LearningRateSchedule::create(
        object.at("class_name").get<std::string>(), &schedule));
    if (!object.contains("config") || !object.at("config").is_object())
      check("config must be an object");
    for (auto &[key, value] : object.at("config").items())
      check(schedule.set(key, scheduleValue(value)));
  } else {
    check(kiln::schedule::parseCompactSchedule(text, &schedule));
    return schedule;
  }
  check(schedule.finish());
  return schedule;
}

kiln_dtype_t kiln::driver::toDtype(const std::string &dtype) {
  if (dtype == "f32")
    return KILN_DTYPE_F32;
  if (dtype == "f64")
    return KILN_DTYPE_F64;
  if (dtype == "i32")
    return KILN_DTYPE_I32;
  if (dtype == "i64")
    return KILN_DTYPE_I64;
  if (dtype == "i1")
    return KILN_DTYPE_BOOL;
  fail("unknown dtype '" + dtype + "'");
}

Manifest kiln::driver::parseManifest(const char *text) {
  if (!text)
    fail("no manifest");
  json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object())
    fail("not a JSON object");
  if (string(root, "format", "manifest") != "kiln-model" ||
      integer(root, "version", "manifest") != 1)
    fail("not a version 1 kiln-model manifest");
  Manifest m;
  m.name = string(root, "name", "manifest");
  m.source = string(root, "source", "manifest");
  m.fingerprint = string(root, "fingerprint", "manifest");
  m.seed = static_cast<uint64_t>(integer(root, "seed", "manifest"));
  if (root.contains("precision")) {
    m.precision = string(root, "precision", "manifest");
    if (m.precision != "f32" && m.precision != "bf16")
      fail("precision '" + m.precision + "' is not f32 or bf16");
  }
  const json &entries = field(root, "entry_points", "manifest");
  if (!entries.contains("predict"))
    fail("no predict entry point");
  m.predict = entry(entries.at("predict"), "entry_points.predict");
  if (entries.contains("train_step"))
    m.trainStep = entry(entries.at("train_step"), "entry_points.train_step");
  if (entries.contains("eval_step"))
    m.evalStep = entry(entries.at("eval_step"), "entry_points.eval_step");
  if (entries.contains("grad_step"))
    m.gradStep = entry(entries.at("grad_step"), "entry_points.grad_step");
  if (entries.contains("apply_step"))
    m.applyStep = entry(entries.at("apply_step"), "entry_points.apply_step");

  for (const json &p : field(root, "params", "manifest")) {
    ParamInfo pi;
    pi.name = string(p, "name", "params[]");
    std::string at = "param '" + pi.name + "'";
    pi.dtype = string(p, "dtype", at);
    pi.shape = shape(field(p, "shape", at), at + ".shape");
    pi.trainable = field(p, "trainable", at).is_boolean() &&
                   field(p, "trainable", at).get<bool>();
    pi.state = p.contains("state") && p.at("state").is_boolean() &&
               p.at("state").get<bool>();
    const json &init = field(p, "init", at);
    if (init.contains("stored")) {
      pi.stored = size(init, "stored", at + ".init");
    } else {
      pi.initName = string(init, "name", at + ".init");
      auto number = [&](const char *key, double &out) {
        if (init.contains(key)) {
          if (!init.at(key).is_number())
            fail(at + ".init." + key + " is not a number");
          out = init.at(key).get<double>();
        }
      };
      number("value", pi.value);
      number("minval", pi.minval);
      number("maxval", pi.maxval);
      number("mean", pi.mean);
      number("stddev", pi.stddev);
      number("gain", pi.gain);
      if (init.contains("seed") && init.at("seed").is_number_integer())
        pi.initSeed = init.at("seed").get<int64_t>();
    }
    if (p.contains("adapt")) {
      const json &a = p.at("adapt");
      pi.adaptStatistic = string(a, "statistic", at + ".adapt");
      if (a.contains("input") && a.at("input").is_string())
        pi.adaptInput = a.at("input").get<std::string>();
      pi.adaptAxes = shape(field(a, "axes", at + ".adapt"), at + ".adapt.axes");
    }
    m.params.push_back(std::move(pi));
  }
  if (root.contains("opt_state_init"))
    for (auto &[name, value] : root.at("opt_state_init").items())
      if (value.is_number())
        m.optStateInit[name] = value.get<double>();
      else if (value.is_object())
        m.optStateStored[name] =
            size(value, "stored", "opt_state_init." + name);
  const json &training = field(root, "training", "manifest");
  if (!training.is_null()) {
    m.training = true;
    m.loss = string(training, "loss", "training");
    m.optimizer = string(training, "optimizer", "training");
    m.fromLogits = field(training, "from_logits", "training").is_boolean() &&
                   training.at("from_logits").get<bool>();
    const json &lr = field(training, "learning_rate", "training");
    // The compiler's rule (TrainingConfig): finite and >= 0 (0 takes no
    // gradient step).
    if (!lr.is_number() || !(lr.get<double>() >= 0) ||
        !std::isfinite(lr.get<double>()))
      fail("training.learning_rate is not a finite non-negative number");
    m.learningRate = lr.get<double>();
    if (training.contains("lr_schedule")) {
      try {
        m.schedule = parseLearningRateSchedule(
            training.at("lr_schedule").dump(), "training.lr_schedule");
      } catch (const std::runtime_error &e) {
        fail(e.what());
      }
    }
    for (const json &metric : field(training, "metrics", "training"))
      m.metrics.push_back({string(metric, "name", "metrics[]"),
                           string(metric, "kind", "metrics[]")});
    if (!m.trainStep || !m.evalStep)
      fail("a training model needs train_step and eval_step");
  }
  m.paramCount = size(root, "param_count", "manifest");
  m.trainableParamCount = size(root, "trainable_param_count", "manifest");
  if (root.contains("flops")) {
    const json &f = root.at("flops");
    if (f.contains("train_step") && f.at("train_step").is_number())
      m.trainStepFlops = f.at("train_step").get<double>();
    if (f.contains("predict") && f.at("predict").is_number())
      m.predictFlops = f.at("predict").get<double>();
  }
  if (root.contains("layers") && root.at("layers").is_array())
    for (const json &l : root.at("layers"))
      m.layers.push_back({string(l, "name", "layers[]"),
                          string(l, "class_name", "layers[]"),
                          shape(field(l, "shape", "layers[]"), "layer shape")});
  if (root.contains("input_ranges")) {
    const json &ranges = root.at("input_ranges");
    if (!ranges.is_object())
      fail("input_ranges is not an object");
    for (auto &[name, range] : ranges.items()) {
      if (!range.is_array() || range.size() != 2 ||
          !range[0].is_number_integer() || !range[1].is_number_integer() ||
          range[0].get<int64_t>() >= range[1].get<int64_t>())
        fail("input_ranges." + name + " is not [low, high) with low < high");
      m.inputRanges[name] = {range[0].get<int64_t>(), range[1].get<int64_t>()};
    }
  }
  if (root.contains("keras")) {
    const json &keras = root.at("keras");
    const json &variables = field(keras, "variables", "keras");
    if (!variables.is_object())
      fail("keras.variables is not an object");
    for (auto &[name, path] : variables.items()) {
      // A path of groups and a variable index: letters, digits and
      // '_', '/', never '..' or an empty component.
      if (!path.is_string() || path.get<std::string>().empty() ||
          path.get<std::string>().size() > 4096 ||
          path.get<std::string>().find("//") != std::string::npos ||
          path.get<std::string>().front() == '/' ||
          path.get<std::string>().find_first_not_of(
              "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
              "/") != std::string::npos)
        fail("keras.variables." + name + " is not a variable path");
      m.kerasVariables[name] = path.get<std::string>();
    }
    if (keras.contains("config") && !keras.at("config").is_null())
      m.kerasConfig = string(keras, "config", "keras");
  }
  return m;
}
