//===- Api.cpp - the C API of kiln/session.h ------------------------------===//
//
// Thin wrappers over kiln::driver::Session: every exception becomes a status
// and the session's error message.
//
//===----------------------------------------------------------------------===//

#include "Session.h"

#include "kiln/session.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <new>

using namespace kiln::driver;

struct kiln_session_t {
  std::unique_ptr<Session> session;
  std::string error;
  std::vector<std::string> names;
  /// The metrics of the last epoch kiln_session_fit trained ("loss" first).
  Metrics lastEpoch;
};

namespace {
void copyError(const std::string &message, char *error, size_t size) {
  if (!error || size == 0)
    return;
  size_t n = std::min(message.size(), size - 1);
  std::memcpy(error, message.data(), n);
  error[n] = '\0';
}

/// Runs `body`, mapping exceptions to statuses and the session's message.
template <typename Body> kiln_status_t guarded(kiln_session_t *s, Body &&body) {
  if (!s)
    return KILN_ERROR_INVALID_ARGUMENT;
  s->error.clear();
  try {
    body();
    return KILN_OK;
  } catch (const NonFiniteLoss &e) {
    s->error = e.what();
    return KILN_ERROR_FORMAT;
  } catch (const std::bad_alloc &) {
    s->error = "out of memory";
    return KILN_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception &e) {
    s->error = e.what();
    return KILN_ERROR_INVALID_ARGUMENT;
  }
}
} // namespace

extern "C" {

kiln_status_t kiln_session_create(const kiln_model_t *model, uint64_t seed,
                                  kiln_session_t **out_session, char *error,
                                  size_t error_size) {
  if (!out_session || !model) {
    copyError("kiln_session_create: NULL argument", error, error_size);
    return KILN_ERROR_INVALID_ARGUMENT;
  }
  *out_session = nullptr;
  try {
    auto s = std::make_unique<kiln_session_t>();
    s->session = std::make_unique<Session>(model, seed);
    s->names = s->session->metricNames();
    *out_session = s.release();
    return KILN_OK;
  } catch (const std::bad_alloc &) {
    copyError("out of memory", error, error_size);
    return KILN_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception &e) {
    copyError(e.what(), error, error_size);
    return KILN_ERROR_FORMAT;
  }
}

void kiln_session_destroy(kiln_session_t *session) { delete session; }

const char *kiln_session_error(const kiln_session_t *session) {
  return session ? session->error.c_str() : "no session";
}

int64_t kiln_session_batch_size(const kiln_session_t *session) {
  return session ? session->session->batchSize() : 0;
}

void kiln_fit_options_init(kiln_fit_options_t *options) {
  if (!options)
    return;
  options->epochs = 1;
  options->learning_rate = -1;
  options->shuffle = 1;
  options->validation_split = 0;
  options->verbose = 0;
}

kiln_status_t kiln_session_fit(kiln_session_t *s, const kiln_array_t *x,
                               const kiln_array_t *y,
                               const kiln_fit_options_t *options,
                               double *out_loss) {
  return guarded(s, [&] {
    kiln_fit_options_t o;
    kiln_fit_options_init(&o);
    if (options)
      o = *options;
    if (o.epochs < 0 || o.validation_split < 0 || o.validation_split >= 1)
      throw std::runtime_error("kiln_session_fit: epochs must be >= 0 and "
                               "validation_split in [0, 1)");
    // The compiler's rule for a learning rate: finite and >= 0 (negative:
    // the model's).
    if (!std::isfinite(o.learning_rate))
      throw std::runtime_error("kiln_session_fit: learning_rate must be "
                               "finite (negative: the model's)");
    Session &session = *s->session;
    if (!y)
      throw std::runtime_error("kiln_session_fit: no labels");
    Data all = session.makeData(x, y, "kiln_session_fit");
    int64_t split = static_cast<int64_t>(static_cast<double>(all.n) *
                                         (1.0 - o.validation_split));
    Data train = session.slice(all, 0, split);
    Data validation = session.slice(all, split, all.n);
    if (session.needsAdapt())
      session.adapt(train);
    // The model's rate is its schedule when it has one.
    LearningRate lr(o.learning_rate >= 0 ? o.learning_rate
                                         : session.manifest().learningRate);
    if (o.learning_rate < 0)
      lr.schedule = session.manifest().schedule;
    Metrics last;
    for (int32_t i = 0; i < o.epochs; ++i) {
      int64_t epoch = session.epoch + 1;
      last = session.trainEpoch(train, epoch, o.shuffle != 0, lr, nullptr);
      session.epoch = epoch;
      if (o.verbose) {
        std::printf("epoch %lld:", static_cast<long long>(epoch));
        for (const auto &[name, v] : last)
          std::printf(" %s %.4f", name.c_str(), v);
        if (validation.n > 0)
          for (const auto &[name, v] : session.evaluate(validation, nullptr))
            std::printf(" val_%s %.4f", name.c_str(), v);
        std::printf("\n");
      }
    }
    if (!last.empty())
      s->lastEpoch = last;
    if (out_loss)
      *out_loss = last.empty() ? 0 : last.front().second;
  });
}

int32_t kiln_session_metric_count(const kiln_session_t *session) {
  return session ? static_cast<int32_t>(session->names.size()) : 0;
}

const char *kiln_session_metric_name(const kiln_session_t *session,
                                     int32_t index) {
  if (!session || index < 0 ||
      index >= static_cast<int32_t>(session->names.size()))
    return nullptr;
  return session->names[index].c_str();
}

kiln_status_t kiln_session_evaluate(kiln_session_t *s, const kiln_array_t *x,
                                    const kiln_array_t *y, double *out_values) {
  return guarded(s, [&] {
    if (!out_values || !y)
      throw std::runtime_error("kiln_session_evaluate: NULL argument");
    Data data = s->session->makeData(x, y, "kiln_session_evaluate");
    Metrics metrics = s->session->evaluate(data, nullptr);
    for (size_t i = 0; i < metrics.size(); ++i)
      out_values[i] = metrics[i].second;
  });
}

kiln_status_t kiln_session_predict(kiln_session_t *s, const kiln_array_t *x,
                                   kiln_array_t **out_predictions) {
  return guarded(s, [&] {
    if (!out_predictions)
      throw std::runtime_error("kiln_session_predict: NULL argument");
    *out_predictions = nullptr;
    Data data = s->session->makeData(x, nullptr, "kiln_session_predict");
    kiln_dtype_t dtype;
    std::vector<int64_t> shape;
    std::vector<unsigned char> values =
        s->session->predict(data, &dtype, &shape, nullptr);
    kiln_array_t *array = nullptr;
    if (kiln_array_create(dtype, static_cast<int32_t>(shape.size()),
                          shape.data(), &array) != KILN_OK)
      throw std::bad_alloc();
    std::memcpy(array->data, values.data(), values.size());
    *out_predictions = array;
  });
}

kiln_status_t kiln_session_last_epoch_metrics(kiln_session_t *s,
                                              double *out_values) {
  return guarded(s, [&] {
    if (!out_values)
      throw std::runtime_error("kiln_session_last_epoch_metrics: NULL "
                               "argument");
    if (s->lastEpoch.empty())
      throw std::runtime_error("kiln_session_last_epoch_metrics: no epoch "
                               "trained yet");
    for (size_t i = 0; i < s->lastEpoch.size(); ++i)
      out_values[i] = s->lastEpoch[i].second;
  });
}

kiln_status_t kiln_session_parameter(kiln_session_t *s, const char *name,
                                     void **out_data, kiln_dtype_t *out_dtype,
                                     int64_t *out_count) {
  return guarded(s, [&] {
    if (!name || !out_data || !out_dtype || !out_count)
      throw std::runtime_error("kiln_session_parameter: NULL argument");
    const TensorInfo *info = nullptr;
    *out_data = s->session->parameter(name, &info);
    *out_dtype = toDtype(info->dtype);
    *out_count = info->count();
  });
}

kiln_status_t kiln_session_save(kiln_session_t *s, const char *path) {
  return guarded(s, [&] {
    if (!path)
      throw std::runtime_error("kiln_session_save: NULL path");
    s->session->save(path, {});
  });
}

kiln_status_t kiln_session_load(kiln_session_t *s, const char *path) {
  return guarded(s, [&] {
    if (!path)
      throw std::runtime_error("kiln_session_load: NULL path");
    s->session->load(path);
  });
}

} // extern "C"
