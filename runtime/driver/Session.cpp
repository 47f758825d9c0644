//===- Session.cpp - the training driver behind kiln/session.h ------------===//
//
// Keras semantics, as documented in docs/spec.md ("Generated programs"):
//   - a batch is `batch_size` consecutive samples of the (shuffled) order;
//     the last partial batch is padded with rows of weight +0, which add
//     nothing to the loss and are not counted as samples, so its gradient
//     is exactly that of the short batch;
//   - the loss is Keras' sum_over_batch_size, sum(w * l) / samples, with
//     the sample (and class) weights of Data::w; a sample of weight 0 is fed
//     as -0 so that it still counts (kiln-attach-loss);
//   - epoch metrics are exact weighted means over the epoch, from the
//     partial sums every step returns (loss_sum, weight_sum, *_sum, counts);
//   - shuffling: a Fisher-Yates permutation drawn from splitmix64 seeded by
//     (seed, epoch), so epoch e's order does not depend on earlier epochs and
//     a resumed run sees the same batches;
//   - dropout masks depend on the optimizer step counter in opt_state, which
//     checkpoints keep.
//
//===----------------------------------------------------------------------===//

#include "Session.h"

#include "Checkpoint.h"

#include "kiln/init.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <numeric>

using namespace kiln::driver;

namespace {
[[noreturn]] void fail(const std::string &message) {
  throw std::runtime_error(message);
}

/// True if `v` rounds to infinity as an f32: from FLT_MAX + half an ulp
/// (2^128 - 2^103) on, as the CSV reader (runtime/lib/Data.cpp) decides.
bool beyondF32(double v) {
  return std::isfinite(v) && std::fabs(v) >= 0x1.ffffffp127;
}

double readAs(const unsigned char *p, kiln_dtype_t dtype) {
  switch (dtype) {
  case KILN_DTYPE_F32: {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
  case KILN_DTYPE_F64: {
    double v;
    std::memcpy(&v, p, 8);
    return v;
  }
  case KILN_DTYPE_I32: {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  case KILN_DTYPE_I64: {
    int64_t v;
    std::memcpy(&v, p, 8);
    return static_cast<double>(v);
  }
  case KILN_DTYPE_U8:
  case KILN_DTYPE_BOOL:
    return *p;
  }
  return 0;
}

void writeAs(unsigned char *p, kiln_dtype_t dtype, double v) {
  switch (dtype) {
  case KILN_DTYPE_F32: {
    float f = static_cast<float>(v);
    std::memcpy(p, &f, 4);
    return;
  }
  case KILN_DTYPE_F64:
    std::memcpy(p, &v, 8);
    return;
  case KILN_DTYPE_I32: {
    int32_t i = static_cast<int32_t>(v);
    std::memcpy(p, &i, 4);
    return;
  }
  case KILN_DTYPE_I64: {
    int64_t i = static_cast<int64_t>(v);
    std::memcpy(p, &i, 8);
    return;
  }
  case KILN_DTYPE_U8:
  case KILN_DTYPE_BOOL:
    *p = static_cast<unsigned char>(v);
    return;
  }
}

/// The error of a schedule that gives a rate that is not finite or
/// negative; the callers restore the epoch's start first.
[[noreturn]] void failBadRate(const LearningRate &lr, double rate,
                              int64_t iteration) {
  fail("the learning-rate schedule " +
       (lr.schedule ? lr.schedule->className : std::string("")) + " gives " +
       kiln::schedule::scheduleNumber(rate) + " at step " +
       std::to_string(iteration) +
       " (a rate must be finite and >= 0); training stopped "
       "(parameters restored to the start of the epoch)");
}

std::string shapeText(const int64_t *shape, size_t rank) {
  std::string s = "[";
  for (size_t i = 0; i < rank; ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}
std::string shapeText(const std::vector<int64_t> &shape) {
  return shapeText(shape.data(), shape.size());
}

const char *safetensorsDtype(const std::string &dtype) {
  if (dtype == "f32")
    return "F32";
  if (dtype == "f64")
    return "F64";
  if (dtype == "i32")
    return "I32";
  if (dtype == "i64")
    return "I64";
  return "BOOL";
}

bool isSparse(const std::string &loss) {
  return loss == "sparse_categorical_crossentropy";
}

/// Checkpoints hold the params region (params and state) and the opt_state
/// region, not io.
bool isCheckpointed(const TensorInfo &t) {
  return t.region == KILN_REGION_PARAMS || t.region == KILN_REGION_OPT_STATE;
}

/// A tensor's name in checkpoints: "<region>/<name>" ("params/dense/kernel",
/// "opt_state/step"); state tensors live in the params region.
std::string checkpointName(const TensorInfo &t) {
  return std::string(kiln_region_name(t.region)) + "/" + t.name;
}
} // namespace

uint64_t kiln::driver::splitmix64(uint64_t &state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

Session::Session(const kiln_model_t *model, uint64_t seed)
    : model(model), shuffleSeed(seed) {
  if (!model)
    fail("no model");
  if (model->abi_version != KILN_MODEL_ABI_VERSION)
    fail("the model was compiled for descriptor version " +
         std::to_string(model->abi_version) + "; this runtime reads version " +
         std::to_string(KILN_MODEL_ABI_VERSION) + " (recompile it)");
  m = parseManifest(model->manifest);
  if (!model->predict ||
      (m.training && (!model->train_step || !model->eval_step)))
    fail("the model descriptor lacks an entry point its manifest lists");

  predictInput = dataInput(m.predict);
  batch = predictInput->shape.empty() ? 0 : predictInput->shape[0];
  if (batch <= 0)
    fail("the model input '" + predictInput->name + "' has no batch dimension");
  sampleBytes = predictInput->bytes() / batch;
  // predict writes one sample per batch row: an output without the batch
  // axis first (kilnc refuses such models) would be read with a wrong size.
  for (const TensorInfo *t : m.predict.all(KILN_TENSOR_OUTPUT))
    if (t->shape.empty() || t->shape[0] != batch)
      fail("the model output '" + t->name + "' has shape " +
           shapeText(t->shape) + "; its first axis must be the batch size " +
           std::to_string(batch));
  if (m.training) {
    labelInfo = m.trainStep->find(KILN_TENSOR_INPUT, "labels");
    if (!labelInfo || !m.trainStep->find(KILN_TENSOR_INPUT, "sample_weight") ||
        !m.trainStep->find(KILN_TENSOR_INPUT, "learning_rate"))
      fail("malformed model manifest: train_step lacks labels, "
           "sample_weight or learning_rate");
    labelBytes = labelInfo->bytes() / batch;
    const TensorInfo *x = dataInput(*m.trainStep);
    if (x->shape != predictInput->shape || x->dtype != predictInput->dtype)
      fail("malformed model manifest: train_step and predict disagree on "
           "the input");
  }

  kiln_region_sizes_t sizes = {};
  for (const EntryInfo *e : {&m.predict, m.trainStep ? &*m.trainStep : nullptr,
                             m.evalStep ? &*m.evalStep : nullptr,
                             m.gradStep ? &*m.gradStep : nullptr,
                             m.applyStep ? &*m.applyStep : nullptr}) {
    if (!e)
      continue;
    sizes.params_size = std::max<size_t>(sizes.params_size, e->paramsSize);
    sizes.opt_state_size =
        std::max<size_t>(sizes.opt_state_size, e->optStateSize);
    sizes.io_size = std::max<size_t>(sizes.io_size, e->ioSize);
    sizes.scratch_size = std::max<size_t>(sizes.scratch_size, e->scratchSize);
    sizes.alignment = std::max<size_t>(sizes.alignment, e->alignment);
  }
  if (kiln_status_t status = kiln_regions_create(&sizes, &regions))
    fail("cannot allocate the model's regions (params " +
         std::to_string(sizes.params_size) + " B, opt_state " +
         std::to_string(sizes.opt_state_size) + " B, io " +
         std::to_string(sizes.io_size) + " B, scratch " +
         std::to_string(sizes.scratch_size) +
         " B): " + kiln_status_message(status));
  initialize();
}

Session::~Session() { kiln_regions_destroy(regions); }

const TensorInfo *Session::dataInput(const EntryInfo &entry) const {
  std::vector<const TensorInfo *> inputs;
  for (const TensorInfo *t : entry.all(KILN_TENSOR_INPUT))
    if (t->name != "labels" && t->name != "sample_weight" &&
        t->name != "learning_rate" && t->name != "dropout_counter")
      inputs.push_back(t);
  if (inputs.size() != 1)
    fail("generated programs train models with one input; '" + m.name +
         "' has " + std::to_string(inputs.size()) +
         " (embed it with --emit=obj and feed the inputs yourself)");
  return inputs.front();
}

char *Session::address(const TensorInfo &t) const {
  void *base = t.region == KILN_REGION_PARAMS      ? regions->params
               : t.region == KILN_REGION_OPT_STATE ? regions->opt_state
                                                   : regions->io;
  return static_cast<char *>(base) + t.offset;
}

char *Session::parameter(const std::string &name,
                         const TensorInfo **info) const {
  const EntryInfo &layout = m.trainStep ? *m.trainStep : m.predict;
  const TensorInfo *t = layout.findIn(KILN_REGION_PARAMS, name);
  if (!t) {
    std::string known;
    for (kiln_tensor_kind_t kind : {KILN_TENSOR_PARAM, KILN_TENSOR_STATE})
      for (const TensorInfo *p : layout.all(kind))
        known += (known.empty() ? "" : ", ") + p->name;
    fail("no parameter '" + name + "' (parameters: " + known + ")");
  }
  if (info)
    *info = t;
  return address(*t);
}

void Session::initialize() {
  const EntryInfo &layout = m.trainStep ? *m.trainStep : m.predict;
  for (size_t index = 0; index < m.params.size(); ++index) {
    const ParamInfo &p = m.params[index];
    const TensorInfo *t = layout.findIn(KILN_REGION_PARAMS, p.name);
    if (!t)
      continue; // not read by any entry point
    unsigned char *out = reinterpret_cast<unsigned char *>(address(*t));
    if (p.stored) {
      if (!model->initial_values ||
          *p.stored + t->bytes() > model->initial_values_size)
        fail("malformed model: stored values of '" + p.name +
             "' lie outside initial_values");
      std::memcpy(out,
                  static_cast<const unsigned char *>(model->initial_values) +
                      *p.stored,
                  t->bytes());
      continue;
    }
    kiln_initializer_t init;
    if (kiln_initializer_from_name(p.initName.c_str(), &init) != KILN_OK)
      fail("param '" + p.name + "': unknown initializer '" + p.initName + "'");
    init.value = p.value;
    init.minval = p.minval;
    init.maxval = p.maxval;
    init.mean = p.mean;
    init.stddev = p.stddev;
    init.gain = p.gain;
    // An initializer's own seed (Keras' seed argument) fixes its values; the
    // others derive one from the session seed and the param's position.
    uint64_t seed = p.initSeed ? static_cast<uint64_t>(*p.initSeed)
                               : shuffleSeed * 1000003ULL + index + 1;
    std::vector<float> values(t->count());
    if (kiln_initialize_f32(&init, seed, static_cast<int32_t>(t->shape.size()),
                            t->shape.data(), values.data()) != KILN_OK)
      fail("param '" + p.name + "': initializer '" + p.initName +
           "' rejected its arguments");
    kiln_dtype_t dtype = toDtype(t->dtype);
    for (int64_t i = 0; i < t->count(); ++i)
      writeAs(out + i * kiln_dtype_size(dtype), dtype, values[i]);
  }
  if (m.trainStep)
    for (const TensorInfo *t : m.trainStep->all(KILN_TENSOR_OPT_STATE)) {
      if (auto stored = m.optStateStored.find(t->name);
          stored != m.optStateStored.end()) {
        uint64_t offset = static_cast<uint64_t>(stored->second);
        if (!model->initial_values || offset > model->initial_values_size ||
            t->bytes() > model->initial_values_size - offset)
          fail("malformed model: stored values of optimizer state '" + t->name +
               "' lie outside initial_values");
        std::memcpy(address(*t),
                    static_cast<const unsigned char *>(model->initial_values) +
                        offset,
                    t->bytes());
        continue;
      }
      auto it = m.optStateInit.find(t->name);
      double v = it == m.optStateInit.end() ? 0.0 : it->second;
      kiln_dtype_t dtype = toDtype(t->dtype);
      unsigned char *out = reinterpret_cast<unsigned char *>(address(*t));
      for (int64_t i = 0; i < t->count(); ++i)
        writeAs(out + i * kiln_dtype_size(dtype), dtype, v);
    }
  adapted = !needsAdapt();
}

std::vector<std::string> Session::metricNames() const {
  std::vector<std::string> names = {"loss"};
  for (const MetricInfo &metric : m.metrics)
    names.push_back(metric.name);
  return names;
}

Data Session::makeData(const kiln_array_t *x, const kiln_array_t *y,
                       const std::string &what,
                       const std::string &labelsWhat) const {
  const std::string &ywhat = labelsWhat.empty() ? what : labelsWhat;
  // "sample 7" (1-based), plus the line for a CSV file (header = line 1).
  auto sampleText = [](const std::string &file, int64_t index) {
    std::string text = "sample " + std::to_string(index + 1);
    if (file.size() > 4 && file.compare(file.size() - 4, 4, ".csv") == 0)
      text += " (line " + std::to_string(index + 2) + ")";
    return text;
  };
  auto number = [](double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%g", v);
    return std::string(buffer);
  };
  const TensorInfo &in = *predictInput;
  std::vector<int64_t> sample(in.shape.begin() + 1, in.shape.end());
  if (!x)
    fail(what + ": no data");
  int64_t n = x->rank > 0 ? x->shape[0] : 0;
  // Per-sample shape: exact, or the same number of elements when the model
  // flattens (e.g. [N, 784] data for a [batch, 28, 28] input).
  int64_t perSample = 1, have = 1;
  for (int64_t d : sample)
    perSample *= d;
  for (int32_t i = 1; i < x->rank; ++i)
    have *= x->shape[i];
  if (x->rank < 1 || have != perSample)
    fail(what + ": the data has shape " + shapeText(x->shape, x->rank) +
         " but the model input '" + in.name + "' takes [N, " +
         shapeText(sample).substr(1));
  Data data;
  data.n = n;
  data.xType = x->dtype;
  data.xSampleBytes =
      static_cast<size_t>(perSample) * kiln_dtype_size(x->dtype);
  const unsigned char *src = static_cast<const unsigned char *>(x->data);
  // NaN or infinite features would only surface later as a NaN loss; f64
  // values beyond the f32 range of an f32 input would become infinite when
  // fed (the CSV reader refuses them too).
  if (x->dtype == KILN_DTYPE_F32 || x->dtype == KILN_DTYPE_F64) {
    size_t size = kiln_dtype_size(x->dtype);
    bool toF32 = toDtype(in.dtype) == KILN_DTYPE_F32;
    for (int64_t i = 0; i < n * perSample; ++i) {
      double v = readAs(src + i * size, x->dtype);
      if (!std::isfinite(v))
        fail(what + ": " + sampleText(what, i / perSample) +
             " holds a NaN or infinite value (element " +
             std::to_string(i % perSample + 1) + ")");
      if (toF32 && beyondF32(v))
        fail(what + ": " + sampleText(what, i / perSample) + " holds " +
             number(v) + " (element " + std::to_string(i % perSample + 1) +
             "), beyond the f32 range of the model input '" + in.name + "'");
    }
  }
  // Integer inputs (token ids): whole numbers within the input's range
  // (the vocabulary of the Embedding that reads it, manifest input_ranges),
  // else within the dtype. An id outside would otherwise read a zero
  // embedding silently (kiln.gather's rule).
  kiln_dtype_t inType = toDtype(in.dtype);
  auto range = m.inputRanges.find(in.name);
  bool hasRange = range != m.inputRanges.end();
  if (inType == KILN_DTYPE_I32 || inType == KILN_DTYPE_I64 || hasRange) {
    double low = hasRange ? static_cast<double>(range->second.first)
                 : inType == KILN_DTYPE_I32 ? -2147483648.0
                                            : -9223372036854775808.0;
    double high = hasRange ? static_cast<double>(range->second.second)
                  : inType == KILN_DTYPE_I32 ? 2147483648.0
                                             : 9223372036854775808.0;
    // Ids exactly: a whole number as an integer, anything else with all
    // its digits.
    auto id = [](double v) {
      char buffer[40];
      if (v == std::floor(v) && std::fabs(v) < 9.2e18)
        std::snprintf(buffer, sizeof buffer, "%lld", static_cast<long long>(v));
      else
        std::snprintf(buffer, sizeof buffer, "%.17g", v);
      return std::string(buffer);
    };
    size_t size = kiln_dtype_size(x->dtype);
    for (int64_t i = 0; i < n * perSample; ++i) {
      double v = readAs(src + i * size, x->dtype);
      if (std::isfinite(v) && v == std::floor(v) && v >= low && v < high)
        continue;
      std::string where = what + ": " + sampleText(what, i / perSample) +
                          ", position " + std::to_string(i % perSample + 1) +
                          ": ";
      if (!std::isfinite(v) || v != std::floor(v))
        fail(where + id(v) + " is not a whole number, but the model input '" +
             in.name + "' takes " +
             (hasRange ? std::string("token ids")
                       : "integers (" + in.dtype + ")"));
      if (hasRange)
        fail(where + "token id " + id(v) + " is outside [" +
             std::to_string(range->second.first) + ", " +
             std::to_string(range->second.second) +
             "), the vocabulary of the model input '" + in.name + "'");
      fail(where + id(v) + " does not fit the " + in.dtype + " model input '" +
           in.name + "'");
    }
  }
  data.x.assign(src, src + static_cast<size_t>(n) * data.xSampleBytes);

  if (!y)
    return data;
  if (!labelInfo)
    fail(ywhat + ": labels given, but the model was compiled without a loss");
  if (y->rank < 1 || y->shape[0] != n)
    fail(what + " has " + std::to_string(n) + " samples but " + ywhat +
         " has " +
         (y->rank < 1 ? std::string("no") : std::to_string(y->shape[0])) +
         " labels");
  std::vector<int64_t> labelSample(labelInfo->shape.begin() + 1,
                                   labelInfo->shape.end());
  int64_t perLabel = 1, haveLabel = 1;
  for (int64_t d : labelSample)
    perLabel *= d;
  for (int32_t i = 1; i < y->rank; ++i)
    haveLabel *= y->shape[i];
  if (haveLabel != perLabel)
    fail(ywhat + ": the labels have shape " + shapeText(y->shape, y->rank) +
         " but the loss " + m.loss + " takes [N" +
         (labelSample.empty() ? "" : ", " + shapeText(labelSample).substr(1)) +
         (labelSample.empty() ? "]" : "") +
         (isSparse(m.loss) ? " (integer class indices)" : ""));
  kiln_dtype_t labelType = toDtype(labelInfo->dtype);
  size_t labelSize = kiln_dtype_size(labelType),
         ySize = kiln_dtype_size(y->dtype);
  // The number of classes of a sparse loss: the output's last dimension.
  const TensorInfo *out = m.predict.all(KILN_TENSOR_OUTPUT).front();
  int64_t classes = out->shape.empty() ? 1 : out->shape.back();
  bool probabilities =
      m.loss == "binary_crossentropy" || m.loss == "categorical_crossentropy";
  data.y.resize(static_cast<size_t>(n) * labelBytes);
  const unsigned char *ysrc = static_cast<const unsigned char *>(y->data);
  for (int64_t i = 0; i < n * perLabel; ++i) {
    double v = readAs(ysrc + i * ySize, y->dtype);
    if (!std::isfinite(v))
      fail(ywhat + ": the label of " + sampleText(ywhat, i / perLabel) +
           " is not finite");
    if (labelType == KILN_DTYPE_F32 && beyondF32(v))
      fail(ywhat + ": the label " + number(v) + " of " +
           sampleText(ywhat, i / perLabel) + " is beyond the f32 range");
    if (isSparse(m.loss) &&
        (v != std::floor(v) || v < 0 || v >= static_cast<double>(classes)))
      fail(ywhat + ": label " + number(v) + " of " +
           sampleText(ywhat, i / perLabel) + " is not a class index in [0, " +
           std::to_string(classes) + ")");
    // Cross-entropy labels are probabilities (Keras accepts soft labels).
    if (probabilities && (v < 0 || v > 1))
      fail(ywhat + ": label " + number(v) + " of " +
           sampleText(ywhat, i / perLabel) + " is outside [0, 1], as " +
           m.loss + " needs");
    writeAs(data.y.data() + i * labelSize, labelType, v);
  }
  data.hasLabels = true;
  return data;
}

void Session::setSampleWeights(Data &data, const kiln_array_t &weights,
                               const std::string &file,
                               const std::string &column, bool csvRows) const {
  std::string what =
      column.empty() ? file : file + " (column '" + column + "')";
  int64_t n = weights.rank > 0 ? weights.shape[0] : 0;
  if (weights.rank < 1 || weights.rank > 2 ||
      (weights.rank == 2 && weights.shape[1] != 1) || n != data.n)
    fail(what + ": sample weights have shape " +
         shapeText(weights.shape, weights.rank) + " but the data has " +
         std::to_string(data.n) + " samples (want [" + std::to_string(data.n) +
         "])");
  size_t size = kiln_dtype_size(weights.dtype);
  const unsigned char *src = static_cast<const unsigned char *>(weights.data);
  std::vector<double> w(static_cast<size_t>(n));
  // Every bad weight is listed (the first 10 of them), each in the data
  // reader's style: "FILE:LINE: column 'w': ..." for CSV rows.
  std::vector<std::string> bad;
  int64_t numBad = 0;
  for (int64_t i = 0; i < n; ++i) {
    double v = readAs(src + i * size, weights.dtype);
    if (!std::isfinite(v) || v < 0 || beyondF32(v)) {
      if (++numBad > 10)
        continue;
      char buffer[32];
      std::snprintf(buffer, sizeof buffer, "%g", v);
      std::string place =
          csvRows ? file + ":" + std::to_string(i + 2) + ": " +
                        (column.empty() ? "" : "column '" + column + "': ")
                  : what + ": ";
      bad.push_back(place + "the sample weight " + buffer + " of sample " +
                    std::to_string(i + 1) + " is not a finite number >= 0");
      continue;
    }
    w[i] = static_cast<double>(static_cast<float>(v));
  }
  if (numBad == 1)
    fail(bad.front());
  if (numBad > 1) {
    std::string message =
        std::to_string(numBad) + " sample weights are not finite numbers >= 0:";
    for (const std::string &b : bad)
      message += "\n  " + b;
    if (numBad > 10)
      message += "\n  (and " + std::to_string(numBad - 10) + " more)";
    fail(message);
  }
  data.w = std::move(w);
}

void Session::applyClassWeights(
    Data &data, const std::map<int64_t, double> &classWeights) const {
  if (!labelInfo || !data.hasLabels)
    fail("class weights need labels");
  const TensorInfo *out = m.predict.all(KILN_TENSOR_OUTPUT).front();
  int64_t units = out->shape.empty() ? 1 : out->shape.back();
  int64_t classes = units > 1 ? units : 2;
  for (const auto &[id, weight] : classWeights) {
    if (id < 0 || id >= classes)
      fail("--class-weight: class " + std::to_string(id) +
           " is not a class of the model's labels (classes 0 to " +
           std::to_string(classes - 1) + ", from its output of " +
           std::to_string(units) + (units == 1 ? " unit)" : " units)"));
    if (!std::isfinite(weight) || weight < 0)
      fail("--class-weight: the weight of class " + std::to_string(id) +
           " is not a finite number >= 0");
  }
  // Labels per sample: [N] (sparse) or [N, k].
  size_t perLabel = 1;
  for (size_t i = 1; i < labelInfo->shape.size(); ++i)
    perLabel *= static_cast<size_t>(labelInfo->shape[i]);
  if (labelInfo->shape.size() > 2)
    fail("--class-weight: the labels have shape " +
         shapeText(labelInfo->shape) +
         "; class weights need one label per sample (Keras: class_weight "
         "is not supported for 3+ dimensional targets)");
  kiln_dtype_t type = toDtype(labelInfo->dtype);
  size_t size = kiln_dtype_size(type);
  if (data.w.empty())
    data.w.assign(static_cast<size_t>(data.n), 1.0);
  for (int64_t i = 0; i < data.n; ++i) {
    const unsigned char *row = data.y.data() + i * labelBytes;
    int64_t cls;
    if (perLabel > 1) {
      // argmax, the first of equal maxima (numpy).
      size_t best = 0;
      double bestValue = readAs(row, type);
      for (size_t c = 1; c < perLabel; ++c) {
        double v = readAs(row + c * size, type);
        if (v > bestValue) {
          bestValue = v;
          best = c;
        }
      }
      cls = static_cast<int64_t>(best);
    } else {
      // np.round: halves to even.
      cls = static_cast<int64_t>(std::nearbyint(readAs(row, type)));
    }
    auto it = classWeights.find(cls);
    if (it != classWeights.end())
      data.w[i] =
          static_cast<double>(static_cast<float>(data.w[i] * it->second));
  }
}

Data Session::slice(const Data &data, int64_t begin, int64_t end) const {
  Data out;
  out.n = end - begin;
  out.hasLabels = data.hasLabels;
  out.xType = data.xType;
  out.xSampleBytes = data.xSampleBytes;
  out.x.assign(data.x.begin() + begin * data.xSampleBytes,
               data.x.begin() + end * data.xSampleBytes);
  if (data.hasLabels)
    out.y.assign(data.y.begin() + begin * labelBytes,
                 data.y.begin() + end * labelBytes);
  if (!data.w.empty())
    out.w.assign(data.w.begin() + begin, data.w.begin() + end);
  return out;
}

bool Session::needsAdapt() const {
  if (adapted)
    return false;
  for (const ParamInfo &p : m.params)
    if (!p.adaptStatistic.empty())
      return true;
  return false;
}

void Session::adapt(const Data &data) {
  if (!needsAdapt())
    return;
  if (data.n == 0)
    fail("cannot adapt Normalization to an empty data set");
  const TensorInfo &in = *predictInput;
  const EntryInfo &layout = m.trainStep ? *m.trainStep : m.predict;
  size_t xSize = kiln_dtype_size(data.xType);
  int64_t rank = static_cast<int64_t>(in.shape.size());
  int64_t perSample = in.count() / batch;
  for (const ParamInfo &p : m.params) {
    if (p.adaptStatistic.empty())
      continue;
    if (p.adaptInput != in.name)
      fail("Normalization parameter '" + p.name +
           "' does not read the model input directly, so fit cannot adapt "
           "it; give its mean and variance in the model config");
    const TensorInfo *t = layout.findIn(KILN_REGION_PARAMS, p.name);
    if (!t)
      continue;
    // Element e of a sample, at multi-index (i_1 .. i_{r-1}), feeds
    // statistic index sum over kept axes of i_a * stride_a.
    std::vector<int64_t> statIndex(perSample, 0);
    for (int64_t e = 0; e < perSample; ++e) {
      int64_t rest = e, index = 0, stride = 1;
      std::vector<int64_t> coords(rank, 0);
      for (int64_t a = rank - 1; a >= 1; --a) {
        coords[a] = rest % in.shape[a];
        rest /= in.shape[a];
      }
      for (auto a = p.adaptAxes.rbegin(); a != p.adaptAxes.rend(); ++a) {
        if (*a < 1 || *a >= rank)
          fail("malformed model manifest: adapt axis out of range for '" +
               p.name + "'");
        index += coords[*a] * stride;
        stride *= in.shape[*a];
      }
      statIndex[e] = index;
    }
    int64_t count = t->count();
    std::vector<double> sum(count, 0), mean(count, 0), sq(count, 0);
    std::vector<int64_t> seen(count, 0);
    for (int64_t i = 0; i < data.n; ++i)
      for (int64_t e = 0; e < perSample; ++e) {
        int64_t k = statIndex[e];
        if (k >= count)
          fail("malformed model manifest: adapt shape of '" + p.name + "'");
        sum[k] +=
            readAs(data.x.data() + (i * perSample + e) * xSize, data.xType);
        ++seen[k];
      }
    for (int64_t k = 0; k < count; ++k)
      mean[k] = seen[k] ? sum[k] / seen[k] : 0;
    // Population variance (Keras' adapt), two-pass for accuracy.
    for (int64_t i = 0; i < data.n; ++i)
      for (int64_t e = 0; e < perSample; ++e) {
        int64_t k = statIndex[e];
        double d =
            readAs(data.x.data() + (i * perSample + e) * xSize, data.xType) -
            mean[k];
        sq[k] += d * d;
      }
    kiln_dtype_t dtype = toDtype(t->dtype);
    unsigned char *out = reinterpret_cast<unsigned char *>(address(*t));
    for (int64_t k = 0; k < count; ++k) {
      double v = p.adaptStatistic == "mean" ? mean[k]
                                            : (seen[k] ? sq[k] / seen[k] : 1.0);
      writeAs(out + k * kiln_dtype_size(dtype), dtype, v);
    }
  }
  adapted = true;
}

void Session::feed(const EntryInfo &entry, const Data &data,
                   const std::vector<int64_t> &order, int64_t begin,
                   int64_t count) {
  const TensorInfo *x = dataInput(entry);
  char *xOut = address(*x);
  kiln_dtype_t inType = toDtype(x->dtype);
  if (data.xType == inType) {
    for (int64_t r = 0; r < count; ++r)
      std::memcpy(xOut + r * sampleBytes,
                  data.x.data() + order[begin + r] * sampleBytes, sampleBytes);
  } else {
    size_t inSize = kiln_dtype_size(inType),
           xSize = kiln_dtype_size(data.xType);
    int64_t perSample = static_cast<int64_t>(sampleBytes / inSize);
    for (int64_t r = 0; r < count; ++r) {
      const unsigned char *src =
          data.x.data() + order[begin + r] * data.xSampleBytes;
      unsigned char *dst =
          reinterpret_cast<unsigned char *>(xOut) + r * sampleBytes;
      for (int64_t e = 0; e < perSample; ++e)
        writeAs(dst + e * inSize, inType, readAs(src + e * xSize, data.xType));
    }
  }
  std::memset(xOut + count * sampleBytes, 0, (batch - count) * sampleBytes);
  if (const TensorInfo *labels = entry.find(KILN_TENSOR_INPUT, "labels")) {
    char *yOut = address(*labels);
    for (int64_t r = 0; r < count; ++r)
      std::memcpy(yOut + r * labelBytes,
                  data.y.data() + order[begin + r] * labelBytes, labelBytes);
    std::memset(yOut + count * labelBytes, 0, (batch - count) * labelBytes);
  }
  if (const TensorInfo *w = entry.find(KILN_TENSOR_INPUT, "sample_weight")) {
    kiln_dtype_t dtype = toDtype(w->dtype);
    size_t size = kiln_dtype_size(dtype);
    unsigned char *out = reinterpret_cast<unsigned char *>(address(*w));
    // Padded rows get +0; a sample of weight 0 gets -0, which the loss
    // still counts as a sample (see kiln-attach-loss).
    for (int64_t r = 0; r < batch; ++r)
      writeAs(out + r * size, dtype,
              r >= count                      ? 0.0
              : data.w.empty()                ? 1.0
              : data.w[order[begin + r]] == 0 ? -0.0
                                              : data.w[order[begin + r]]);
  }
}

double Session::scalar(const EntryInfo &entry, const std::string &name) const {
  const TensorInfo *t = entry.find(KILN_TENSOR_OUTPUT, name);
  if (!t || !t->shape.empty())
    return 0;
  return readAs(reinterpret_cast<const unsigned char *>(address(*t)),
                toDtype(t->dtype));
}

void Session::accumulate(const EntryInfo &entry,
                         std::map<std::string, double> &sums) const {
  for (const TensorInfo &t : entry.tensors)
    if (t.kind == KILN_TENSOR_OUTPUT && t.shape.empty() && t.name != "loss")
      sums[t.name] += scalar(entry, t.name);
}

Metrics Session::finish(const std::map<std::string, double> &sums) const {
  auto get = [&](const std::string &name) {
    auto it = sums.find(name);
    return it == sums.end() ? 0.0 : it->second;
  };
  auto ratio = [](double a, double b) { return b != 0 ? a / b : 0.0; };
  double weights = get("weight_sum");
  // The loss is Keras' mean over samples (sum_over_batch_size: sum(w l) /
  // samples), the metrics weighted means (sum(w m) / sum(w)).
  Metrics out = {{"loss", ratio(get("loss_sum"), sums.count("sample_count")
                                                     ? get("sample_count")
                                                     : weights)}};
  double tp = get("true_positives"), pp = get("predicted_positives"),
         ap = get("actual_positives");
  for (const MetricInfo &metric : m.metrics) {
    double v;
    if (metric.kind == "precision")
      v = ratio(tp, pp);
    else if (metric.kind == "recall")
      v = ratio(tp, ap);
    else if (metric.kind == "f1") {
      double p = ratio(tp, pp), r = ratio(tp, ap);
      v = ratio(2 * p * r, p + r);
    } else {
      v = ratio(get(metric.kind + "_sum"), weights);
    }
    out.push_back({metric.name, v});
  }
  return out;
}

std::vector<char> Session::paramsSnapshot() const {
  const char *begin = static_cast<const char *>(regions->params);
  return std::vector<char>(begin, begin + regions->sizes.params_size);
}

void Session::restoreParams(const std::vector<char> &snapshot) {
  if (snapshot.size() != regions->sizes.params_size)
    fail("restoreParams: a snapshot of another model");
  std::memcpy(regions->params, snapshot.data(), snapshot.size());
}

int64_t Session::iterations() const {
  if (m.trainStep)
    if (const TensorInfo *t = m.trainStep->find(KILN_TENSOR_OPT_STATE, "step");
        t && t->shape.empty())
      return static_cast<int64_t>(
          readAs(reinterpret_cast<const unsigned char *>(address(*t)),
                 toDtype(t->dtype)));
  return steps;
}

Metrics Session::trainEpoch(const Data &data, int64_t epochNumber, bool shuffle,
                            const LearningRate &lr, const Progress &progress) {
  if (!m.trainStep)
    fail("the model was compiled without a loss, so it cannot be trained "
         "(compile it with kilnc --loss=...)");
  if (!data.hasLabels)
    fail("fit needs labels");
  const EntryInfo &entry = *m.trainStep;
  std::vector<int64_t> order(data.n);
  std::iota(order.begin(), order.end(), 0);
  if (shuffle) {
    uint64_t state = shuffleSeed ^ (0xA0761D6478BD642FULL *
                                    static_cast<uint64_t>(epochNumber));
    for (int64_t i = data.n - 1; i > 0; --i) {
      int64_t j = static_cast<int64_t>(splitmix64(state) %
                                       static_cast<uint64_t>(i + 1));
      std::swap(order[i], order[j]);
    }
  }
  if (par && par->active())
    return trainEpochParallel(data, epochNumber, order, lr, progress);
  // Snapshot for a NaN stop: the state at the start of the epoch.
  std::vector<char> params(static_cast<char *>(regions->params),
                           static_cast<char *>(regions->params) +
                               regions->sizes.params_size);
  std::vector<char> state(static_cast<char *>(regions->opt_state),
                          static_cast<char *>(regions->opt_state) +
                              regions->sizes.opt_state_size);
  const TensorInfo *lrTensor = entry.find(KILN_TENSOR_INPUT, "learning_rate");
  std::map<std::string, double> sums;
  int64_t numSteps = (data.n + batch - 1) / batch;
  for (int64_t step = 0; step < numSteps; ++step) {
    if (interrupt && *interrupt) {
      std::memcpy(regions->params, params.data(), params.size());
      std::memcpy(regions->opt_state, state.data(), state.size());
      steps -= step;
      throw Interrupted("interrupted at epoch " + std::to_string(epochNumber) +
                            ", step " + std::to_string(step + 1) + "/" +
                            std::to_string(numSteps) +
                            " (parameters restored to the start of the epoch)",
                        epochNumber, step + 1);
    }
    int64_t begin = step * batch, count = std::min(batch, data.n - begin);
    feed(entry, data, order, begin, count);
    int64_t iteration = iterations();
    double rate = lr.at(iteration);
    if (!std::isfinite(rate) || rate < 0) {
      std::memcpy(regions->params, params.data(), params.size());
      std::memcpy(regions->opt_state, state.data(), state.size());
      steps -= step;
      failBadRate(lr, rate, iteration);
    }
    if (onStep)
      onStep(iteration, rate);
    writeAs(reinterpret_cast<unsigned char *>(address(*lrTensor)),
            toDtype(lrTensor->dtype), rate);
    kiln_status_t status =
        kiln_regions_call(regions, nullptr, model->train_step);
    if (status != KILN_OK)
      fail(std::string("train_step: ") + kiln_status_message(status));
    double loss = scalar(entry, "loss");
    if (!std::isfinite(loss)) {
      std::memcpy(regions->params, params.data(), params.size());
      std::memcpy(regions->opt_state, state.data(), state.size());
      steps -= step;
      throw NonFiniteLoss(
          "the loss became " +
              std::string(std::isnan(loss) ? "NaN" : "infinite") +
              " at epoch " + std::to_string(epochNumber) + ", step " +
              std::to_string(step + 1) + "/" + std::to_string(numSteps) +
              "; training stopped (parameters restored to "
              "the start of the epoch)",
          epochNumber, step + 1);
    }
    accumulate(entry, sums);
    ++steps;
    if (progress)
      progress(step + 1, numSteps, finish(sums));
  }
  return finish(sums);
}

Metrics Session::evaluate(const Data &data, const Progress &progress) {
  if (!m.evalStep)
    fail("the model was compiled without a loss, so it has no loss or "
         "metrics to evaluate (compile it with kilnc --loss=...)");
  if (!data.hasLabels)
    fail("evaluate needs labels");
  const EntryInfo &entry = *m.evalStep;
  std::vector<int64_t> order(data.n);
  std::iota(order.begin(), order.end(), 0);
  std::map<std::string, double> sums;
  // Data-parallel: process r evaluates rows [r * batch, (r + 1) * batch) of
  // each global batch; the partial sums are added over the processes at
  // the end (progress shows this process's share).
  int64_t ranks = par && par->active() ? par->size() : 1,
          rank = par && par->active() ? par->rank() : 0;
  int64_t numSteps = (data.n + batch * ranks - 1) / (batch * ranks);
  // With a Keras mask the loss of a global batch is sum_r V_r L_r / V (V
  // the valid steps, the partial valid_count), not a sum of the processes'
  // loss_sum: one small allreduce per step gives it (every process takes
  // every step then, an empty shard adding zeros).
  bool masked = ranks > 1 && entry.find(KILN_TENSOR_OUTPUT, "valid_count");
  double maskedLossSum = 0;
  for (int64_t step = 0; step < numSteps; ++step) {
    int64_t begin = (step * ranks + rank) * batch,
            count = std::clamp<int64_t>(data.n - begin, 0, batch);
    // [L V, V, n, L n] of this process's shard.
    double local[4] = {0, 0, 0, 0};
    if (count == 0 && !masked)
      break;
    if (count > 0) {
      feed(entry, data, order, begin, count);
      if (kiln_status_t status =
              kiln_regions_call(regions, nullptr, model->eval_step))
        fail(std::string("eval_step: ") + kiln_status_message(status));
      accumulate(entry, sums);
      double loss = scalar(entry, "loss"), valid = scalar(entry, "valid_count"),
             samples = scalar(entry, "sample_count");
      local[0] = loss * valid;
      local[1] = valid;
      local[2] = samples;
      local[3] = loss * samples;
    }
    if (masked) {
      par->sum(local, 4);
      maskedLossSum += local[1] > 0 ? local[2] * local[0] / local[1] : local[3];
    }
    if (progress)
      progress(step + 1, numSteps, finish(sums));
  }
  if (ranks > 1) {
    // Every process has the same names: the eval_step's scalar outputs.
    std::vector<double> values;
    for (const TensorInfo &t : entry.tensors)
      if (t.kind == KILN_TENSOR_OUTPUT && t.shape.empty() && t.name != "loss")
        values.push_back(sums[t.name]);
    par->sum(values.data(), values.size());
    size_t i = 0;
    for (const TensorInfo &t : entry.tensors)
      if (t.kind == KILN_TENSOR_OUTPUT && t.shape.empty() && t.name != "loss")
        sums[t.name] = values[i++];
    if (masked)
      sums["loss_sum"] = maskedLossSum;
  }
  return finish(sums);
}

std::vector<unsigned char> Session::predict(const Data &data,
                                            kiln_dtype_t *dtype,
                                            std::vector<int64_t> *shape,
                                            const Progress &progress) {
  const EntryInfo &entry = m.predict;
  std::vector<const TensorInfo *> outputs = entry.all(KILN_TENSOR_OUTPUT);
  if (outputs.size() != 1)
    fail("predict: the model has " + std::to_string(outputs.size()) +
         " outputs; generated programs handle one");
  const TensorInfo &out = *outputs.front();
  size_t perSample = out.bytes() / batch;
  *dtype = toDtype(out.dtype);
  shape->assign(out.shape.begin(), out.shape.end());
  (*shape)[0] = data.n;
  std::vector<unsigned char> result(static_cast<size_t>(data.n) * perSample);
  std::vector<int64_t> order(data.n);
  std::iota(order.begin(), order.end(), 0);
  int64_t numSteps = (data.n + batch - 1) / batch;
  for (int64_t step = 0; step < numSteps; ++step) {
    int64_t begin = step * batch, count = std::min(batch, data.n - begin);
    feed(entry, data, order, begin, count);
    if (kiln_status_t status =
            kiln_regions_call(regions, nullptr, model->predict))
      fail(std::string("predict: ") + kiln_status_message(status));
    std::memcpy(result.data() + begin * perSample, address(out),
                count * perSample);
    if (progress)
      progress(step + 1, numSteps, {});
  }
  return result;
}

void Session::save(const std::string &path,
                   const std::map<std::string, std::string> &extra) const {
  const EntryInfo &layout = m.trainStep ? *m.trainStep : m.predict;
  std::vector<TensorView> tensors;
  for (const TensorInfo &t : layout.tensors)
    if (isCheckpointed(t))
      tensors.push_back({checkpointName(t), safetensorsDtype(t.dtype), t.shape,
                         address(t), t.bytes()});
  std::map<std::string, std::string> metadata = extra;
  metadata["format"] = "kiln-checkpoint";
  metadata["version"] = "1";
  metadata["model"] = m.name;
  metadata["fingerprint"] = m.fingerprint;
  metadata["epoch"] = std::to_string(epoch);
  metadata["steps"] = std::to_string(steps);
  metadata["seed"] = std::to_string(shuffleSeed);
  metadata["shuffle"] = "splitmix64(seed ^ 0xA0761D6478BD642F * epoch), "
                        "Fisher-Yates";
  metadata["adapted"] = adapted ? "1" : "0";
  std::string error;
  if (!writeCheckpoint(path, metadata, tensors, &error))
    fail(error);
}

std::map<std::string, std::string> Session::load(const std::string &path) {
  LoadedCheckpoint ckpt;
  std::string error;
  if (!readCheckpoint(path, &ckpt, &error))
    fail(error);
  auto meta = [&](const char *key) -> std::string {
    auto it = ckpt.metadata.find(key);
    return it == ckpt.metadata.end() ? "" : it->second;
  };
  if (meta("format") != "kiln-checkpoint")
    fail(path + ": not a kiln checkpoint (no kiln-checkpoint format in its "
                "metadata)");
  if (meta("version") != "1")
    fail(path + ": kiln checkpoint version '" + excerpt(meta("version")) +
         "' is not supported (this program reads version 1)");
  const EntryInfo &layout = m.trainStep ? *m.trainStep : m.predict;
  bool sameModel = meta("fingerprint") == m.fingerprint;
  // An inference-only program may read a training checkpoint of the same
  // network: then every param must match by name, dtype and shape.
  if (!sameModel && m.trainStep) {
    // Name the first difference.
    std::string difference = "the optimizer differs";
    for (const TensorInfo &t : layout.tensors) {
      if (!isCheckpointed(t))
        continue;
      std::string name = checkpointName(t);
      auto it = ckpt.tensors.find(name);
      std::string here = safetensorsDtype(t.dtype) + shapeText(t.shape);
      if (it == ckpt.tensors.end()) {
        difference = "it has no tensor '" + name + "'";
        break;
      }
      std::string there = it->second.dtype + shapeText(it->second.shape);
      if (there != here) {
        difference = "its '" + name + "' is " + there + ", here " + here;
        break;
      }
    }
    fail(path + ": the checkpoint was written for another model ('" +
         excerpt(meta("model")) + "', fingerprint " +
         excerpt(meta("fingerprint")) + "; this program: '" + m.name +
         "', fingerprint " + m.fingerprint + "): " + difference);
  }
  std::vector<std::pair<const TensorInfo *, const LoadedTensor *>> plan;
  for (const TensorInfo &t : layout.tensors) {
    if (!isCheckpointed(t))
      continue;
    std::string name = checkpointName(t);
    auto it = ckpt.tensors.find(name);
    if (it == ckpt.tensors.end())
      fail(path + ": the checkpoint was written for model '" +
           excerpt(meta("model")) + "', not for '" + m.name +
           "': it has no tensor '" + name + "'");
    if (it->second.dtype != safetensorsDtype(t.dtype) ||
        it->second.shape != t.shape)
      fail(path + ": tensor '" + name + "' is " + it->second.dtype +
           shapeText(it->second.shape) + " but model '" + m.name + "' needs " +
           safetensorsDtype(t.dtype) + shapeText(t.shape) +
           " (a checkpoint of another model?)");
    // Non-finite weights would only show later, as "the loss became NaN
    // at epoch E" without naming the checkpoint.
    kiln_dtype_t dtype = toDtype(t.dtype);
    if (dtype == KILN_DTYPE_F32 || dtype == KILN_DTYPE_F64) {
      size_t size = kiln_dtype_size(dtype);
      const unsigned char *bytes = it->second.bytes.data();
      for (size_t i = 0; i < it->second.bytes.size() / size; ++i)
        if (!std::isfinite(readAs(bytes + i * size, dtype)))
          fail(path + ": tensor '" + name + "' holds a NaN or infinite value " +
               "(element " + std::to_string(i + 1) + ")");
    }
    plan.push_back({&t, &it->second});
  }
  auto number = [&](const char *key) -> int64_t {
    std::string text = meta(key);
    char *end = nullptr;
    errno = 0;
    long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end || v < 0 || errno == ERANGE)
      fail(path + ": metadata '" + key + "' is not a count: '" + excerpt(text) +
           "'");
    return v;
  };
  int64_t newEpoch = sameModel ? number("epoch") : 0,
          newSteps = sameModel ? number("steps") : 0;
  for (auto [t, loaded] : plan)
    std::memcpy(address(*t), loaded->bytes.data(), t->bytes());
  epoch = newEpoch;
  steps = newSteps;
  // Shuffling continues with the seed of the run that wrote the checkpoint.
  if (sameModel)
    shuffleSeed = static_cast<uint64_t>(number("seed"));
  if (meta("adapted") == "1" || !sameModel)
    adapted = true;
  return ckpt.metadata;
}

void Session::useParallel(Parallel *p) {
  par = p;
  if (!p || !p->active())
    return;
  if (!m.training)
    fail("the model was compiled without a loss, so it cannot be trained");
  if (!m.gradStep || !m.applyStep || !model->grad_step || !model->apply_step)
    fail("this process is one of " + std::to_string(p->size()) +
         " (mpirun), but the model was compiled without --data-parallel, so "
         "it has no grad_step and apply_step to train data-parallel; "
         "recompile it with kilnc --data-parallel, or start it without "
         "mpirun");
  // apply_step updates the params and opt_state regions in train_step's
  // layout (kilnc keeps the argument order; a mismatch is a malformed
  // model, not something to train on).
  for (const EntryInfo *e : {&*m.gradStep, &*m.applyStep})
    for (const TensorInfo &t : e->tensors) {
      if (t.region == KILN_REGION_IO)
        continue;
      const TensorInfo *u = m.trainStep->findIn(t.region, t.name);
      if (!u || u->offset != t.offset || u->bytes() != t.bytes())
        fail("malformed model manifest: " + e->symbol + " places '" + t.name +
             "' differently from train_step");
    }
  std::vector<const TensorInfo *> grads;
  for (const TensorInfo &t : m.gradStep->tensors)
    if (t.kind == KILN_TENSOR_OUTPUT && t.name.rfind("grad/", 0) == 0) {
      const TensorInfo *in = m.applyStep->find(KILN_TENSOR_INPUT, t.name);
      if (!in || in->bytes() != t.bytes() || in->dtype != t.dtype ||
          (t.dtype != "f32" && t.dtype != "f64"))
        fail("malformed model manifest: gradient '" + t.name +
             "' of grad_step does not match apply_step's");
      grads.push_back(&t);
    }
  if (grads.empty() || !m.gradStep->find(KILN_TENSOR_OUTPUT, "weight_sum") ||
      !m.applyStep->find(KILN_TENSOR_INPUT, "learning_rate"))
    fail("malformed model manifest: grad_step lacks gradients or "
         "weight_sum, or apply_step lacks learning_rate");
}

void Session::broadcastState() {
  if (!par || !par->active())
    return;
  par->broadcast(regions->params, regions->sizes.params_size);
  par->broadcast(regions->opt_state, regions->sizes.opt_state_size);
}

void Session::averageState() {
  if (!par || !par->active())
    return;
  const EntryInfo &layout = *m.trainStep;
  double scale = 1.0 / par->size();
  for (const ParamInfo &p : m.params) {
    if (!p.state)
      continue;
    const TensorInfo *t = layout.findIn(KILN_REGION_PARAMS, p.name);
    if (!t)
      continue;
    if (t->dtype == "f32") {
      float *v = reinterpret_cast<float *>(address(*t));
      par->sum(v, t->count());
      for (int64_t i = 0; i < t->count(); ++i)
        v[i] = static_cast<float>(v[i] * scale);
    } else if (t->dtype == "f64") {
      double *v = reinterpret_cast<double *>(address(*t));
      par->sum(v, t->count());
      for (int64_t i = 0; i < t->count(); ++i)
        v[i] *= scale;
    }
  }
}

Metrics Session::trainEpochParallel(const Data &data, int64_t epochNumber,
                                    const std::vector<int64_t> &order,
                                    const LearningRate &lr,
                                    const Progress &progress) {
  const EntryInfo &g = *m.gradStep, &a = *m.applyStep;
  const int64_t ranks = par->size(), rank = par->rank();
  std::vector<char> params(static_cast<char *>(regions->params),
                           static_cast<char *>(regions->params) +
                               regions->sizes.params_size);
  std::vector<char> state(static_cast<char *>(regions->opt_state),
                          static_cast<char *>(regions->opt_state) +
                              regions->sizes.opt_state_size);
  auto restore = [&](int64_t step) {
    std::memcpy(regions->params, params.data(), params.size());
    std::memcpy(regions->opt_state, state.data(), state.size());
    steps -= step;
  };
  // The gradients: grad_step's outputs grad/<param>, consecutive in the io
  // region (the memory plan places results in order, 64-byte aligned), and
  // the inputs of apply_step of the same names.
  std::vector<const TensorInfo *> gGrads, aGrads, scalars;
  for (const TensorInfo &t : g.tensors) {
    if (t.kind != KILN_TENSOR_OUTPUT)
      continue;
    if (t.name.rfind("grad/", 0) == 0) {
      gGrads.push_back(&t);
      aGrads.push_back(a.find(KILN_TENSOR_INPUT, t.name));
    } else if (t.shape.empty()) {
      scalars.push_back(&t); // loss and the partial sums
    }
  }
  bool oneType = true;
  size_t gradBytes = 0;
  for (const TensorInfo *t : gGrads) {
    oneType &= t->dtype == gGrads.front()->dtype;
    gradBytes += t->bytes();
  }
  char *spanBegin = address(*gGrads.front());
  char *spanEnd = address(*gGrads.back()) + gGrads.back()->bytes();
  oneType &= spanBegin < spanEnd;
  std::vector<char> staging(gradBytes);
  // Sums `bytes` at `p` (in place) over the processes.
  auto sumBytes = [&](char *p, size_t bytes, const std::string &dtype) {
    if (dtype == "f32")
      par->sum(reinterpret_cast<float *>(p), bytes / 4);
    else
      par->sum(reinterpret_cast<double *>(p), bytes / 8);
  };
  const TensorInfo *lrTensor = a.find(KILN_TENSOR_INPUT, "learning_rate");
  const TensorInfo *counter = g.find(KILN_TENSOR_INPUT, "dropout_counter");
  // The loss is Keras' sum(w l) / n (n the batch's samples): each process's
  // gradient weighs n_r / n. With a Keras mask it is sum(w m l) / V (V the
  // valid steps, the partial valid_count): V_r / V. Models without
  // sample_count (sum(w l) / sum(w)) weigh W_r / W.
  size_t weightIndex = scalars.size(), lossIndex = scalars.size(),
         validIndex = scalars.size(), lossSumIndex = scalars.size();
  for (size_t i = 0; i < scalars.size(); ++i) {
    if (scalars[i]->name == "sample_count" && validIndex == scalars.size())
      weightIndex = i;
    if (scalars[i]->name == "valid_count")
      weightIndex = validIndex = i;
    if (scalars[i]->name == "loss")
      lossIndex = i;
    if (scalars[i]->name == "loss_sum")
      lossSumIndex = i;
  }
  if (weightIndex == scalars.size())
    for (size_t i = 0; i < scalars.size(); ++i)
      if (scalars[i]->name == "weight_sum")
        weightIndex = i;
  if (weightIndex == scalars.size())
    weightIndex = 0;
  std::map<std::string, double> sums;
  int64_t numSteps = (data.n + batch * ranks - 1) / (batch * ranks);
  for (int64_t step = 0; step < numSteps; ++step) {
    int64_t begin = (step * ranks + rank) * batch,
            count = std::clamp<int64_t>(data.n - begin, 0, batch);
    int64_t iteration = iterations();
    double rate = lr.at(iteration);
    if (!std::isfinite(rate) || rate < 0) {
      restore(step);
      failBadRate(lr, rate, iteration);
    }
    if (onStep)
      onStep(iteration, rate);
    // [loss and partial sums..., loss * valid_count, interrupt requests]
    std::vector<double> reduced(scalars.size() + 2, 0.0);
    double localWeight = 0;
    if (count > 0) {
      feed(g, data, order, begin, count);
      // Each process draws its own dropout masks, deterministically: the
      // counter of process r at step s is s * processes + r.
      if (counter)
        writeAs(reinterpret_cast<unsigned char *>(address(*counter)),
                toDtype(counter->dtype),
                static_cast<double>(iteration * ranks + rank));
      if (kiln_status_t status =
              kiln_regions_call(regions, nullptr, model->grad_step))
        fail(std::string("grad_step: ") + kiln_status_message(status));
      for (size_t i = 0; i < scalars.size(); ++i)
        reduced[i] = scalar(g, scalars[i]->name);
      localWeight = reduced[weightIndex];
      if (validIndex < scalars.size() && lossIndex < scalars.size())
        reduced[scalars.size()] = reduced[lossIndex] * reduced[validIndex];
    } else {
      // A shard past the end of the data (the last global batch is
      // short): no rows, no gradient, no state update.
      for (const TensorInfo *t : gGrads)
        std::memset(address(*t), 0, t->bytes());
    }
    reduced.back() = interrupt && *interrupt ? 1.0 : 0.0;
    par->sum(reduced.data(), reduced.size());
    if (reduced.back() > 0) {
      restore(step);
      throw Interrupted("interrupted at epoch " + std::to_string(epochNumber) +
                            ", step " + std::to_string(step + 1) + "/" +
                            std::to_string(numSteps) +
                            " (parameters restored to the start of the epoch)",
                        epochNumber, step + 1);
    }
    double loss = lossIndex < scalars.size() ? reduced[lossIndex] : 0.0;
    if (!std::isfinite(loss)) {
      restore(step);
      throw NonFiniteLoss(
          "the loss became " +
              std::string(std::isnan(loss) ? "NaN" : "infinite") +
              " at epoch " + std::to_string(epochNumber) + ", step " +
              std::to_string(step + 1) + "/" + std::to_string(numSteps) +
              "; training stopped (parameters restored to "
              "the start of the epoch)",
          epochNumber, step + 1);
    }
    // The loss is sum(w l) / n over the global batch, so its gradient is
    // the sum over processes of (n_r / n) * (process r's gradient).
    double total = reduced[weightIndex];
    double share = total > 0 ? localWeight / total : 0.0;
    // With a mask the global batch's loss is sum_r V_r L_r / V, which the
    // epoch weighs by the batch's samples n: loss_sum = n sum_r V_r L_r / V
    // (sum_r n_r L_r otherwise; and so when no step is valid, V = 0).
    if (validIndex < scalars.size() && lossSumIndex < scalars.size() &&
        total > 0 && weightIndex == validIndex) {
      size_t countIndex = scalars.size();
      for (size_t i = 0; i < scalars.size(); ++i)
        if (scalars[i]->name == "sample_count")
          countIndex = i;
      if (countIndex < scalars.size())
        reduced[lossSumIndex] =
            reduced[countIndex] * reduced[scalars.size()] / total;
    }
    if (share != 1.0)
      for (const TensorInfo *t : gGrads) {
        char *p = address(*t);
        if (t->dtype == "f32") {
          float *v = reinterpret_cast<float *>(p);
          for (int64_t i = 0, n = t->count(); i < n; ++i)
            v[i] = static_cast<float>(v[i] * share);
        } else {
          double *v = reinterpret_cast<double *>(p);
          for (int64_t i = 0, n = t->count(); i < n; ++i)
            v[i] *= share;
        }
      }
    // One in-place allreduce over the gradient region (the alignment gaps
    // between tensors ride along and are never read).
    if (oneType)
      sumBytes(spanBegin, static_cast<size_t>(spanEnd - spanBegin),
               gGrads.front()->dtype);
    else
      for (const TensorInfo *t : gGrads)
        sumBytes(address(*t), t->bytes(), t->dtype);
    // grad_step's outputs and apply_step's inputs may overlap in the io
    // region: through a staging copy.
    size_t at = 0;
    for (const TensorInfo *t : gGrads) {
      std::memcpy(staging.data() + at, address(*t), t->bytes());
      at += t->bytes();
    }
    at = 0;
    for (const TensorInfo *t : aGrads) {
      std::memcpy(address(*t), staging.data() + at, t->bytes());
      at += t->bytes();
    }
    writeAs(reinterpret_cast<unsigned char *>(address(*lrTensor)),
            toDtype(lrTensor->dtype), rate);
    if (kiln_status_t status =
            kiln_regions_call(regions, nullptr, model->apply_step))
      fail(std::string("apply_step: ") + kiln_status_message(status));
    for (size_t i = 0; i < scalars.size(); ++i)
      if (i != lossIndex)
        sums[scalars[i]->name] += reduced[i];
    ++steps;
    if (progress)
      progress(step + 1, numSteps, finish(sums));
  }
  averageState();
  return finish(sums);
}
