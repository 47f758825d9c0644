/*===- kiln/session.h - train, evaluate and predict a compiled model -*- C
-*-===*\
|*                                                                            *|
|* A session owns the memory regions of one compiled model (kiln/model.h)    *|
|* and runs Keras-style training on in-memory data:                           *|
|*   - parameters initialized from the manifest's initializers and a seed,   *|
|*     Normalization statistics adapted from the training data;              *|
|*   - fit: epochs of shuffled batches (seeded), the last partial batch      *|
|*     padded with zero sample weights so that it counts exactly, epoch      *|
|*     metrics as exact weighted means over the epoch, optional validation; *|
|*   - evaluate and predict over whole data sets;                             *|
|*   - checkpoints in safetensors format (docs/spec.md, "Checkpoints").      *|
|* The same code is the command line of `kilnc --emit=exe` programs          *|
|* (kiln_cli_main).                                                           *|
|*                                                                            *|
|* Errors: functions return a kiln_status_t; the message of the last failure  *|
|* (naming the file, line, tensor or option) is kiln_session_error().        *|
|* Thread-safety: one session must not be used by two threads at once;       *|
|* distinct sessions are independent.                                         *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef KILN_SESSION_H
#define KILN_SESSION_H

#include "kiln/data.h"
#include "kiln/model.h"
#include "kiln/runtime.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kiln_session_t kiln_session_t;

/// Creates a session for `model`: allocates its regions, initializes the
/// parameters from `seed` (deterministic: the same seed gives the same
/// values on every machine) and the optimizer state to its initial values.
/// Errors: KILN_ERROR_INVALID_ARGUMENT for NULL pointers;
/// KILN_ERROR_FORMAT for a manifest this runtime cannot read (other
/// abi_version, malformed JSON: the message says what);
/// KILN_ERROR_OUT_OF_MEMORY. On failure `*out_session` is NULL and, when
/// `error` is not NULL, the message is copied there (truncated to
/// `error_size` bytes, NUL-terminated).
KILN_API kiln_status_t kiln_session_create(const kiln_model_t *model,
                                           uint64_t seed,
                                           kiln_session_t **out_session,
                                           char *error, size_t error_size);

/// Frees the session and its regions. NULL is ignored.
KILN_API void kiln_session_destroy(kiln_session_t *session);

/// The message of the session's last failure ("" if none). Owned by the
/// session; valid until the next call on it.
KILN_API const char *kiln_session_error(const kiln_session_t *session);

/// The compile-time batch size (the leading dimension of every input).
KILN_API int64_t kiln_session_batch_size(const kiln_session_t *session);

/// Options of kiln_session_fit; kiln_fit_options_init sets the defaults.
typedef struct kiln_fit_options_t {
  /// Number of passes over the data (default 1).
  int32_t epochs;
  /// Learning rate, finite; 0 takes no gradient step (the compiler's rule,
  /// docs/spec.md, "Learning rate"). Negative (the default, -1) means the
  /// model's: the manifest's `training.learning_rate`, from the compiled
  /// TrainingConfig (kilnc --optimizer, the Keras compile_config or the
  /// builder's Optimizer), else Keras' default (SGD 0.01, every other
  /// optimizer 0.001; docs/spec.md, "Model manifest"), or the manifest's
  /// `training.lr_schedule` when the model has a Keras schedule (the rate
  /// of each step; docs/spec.md, "Learning-rate schedules").
  double learning_rate;
  /// Nonzero: a new seeded permutation of the training samples each epoch
  /// (default 1).
  int32_t shuffle;
  /// Fraction in [0, 1) of the samples, taken from the end as in Keras
  /// before shuffling, held out for validation (default 0).
  double validation_split;
  /// 0: silent; 1: one progress line per epoch (default 0).
  int32_t verbose;
} kiln_fit_options_t;

/// Sets the defaults above.
KILN_API void kiln_fit_options_init(kiln_fit_options_t *options);

/// Trains on `x` (the model's single input: [N, ...] with the input's
/// per-sample shape; any loadable dtype is converted to the input's) and
/// `y` (labels: [N] integers for sparse losses, [N, ...] as the model's
/// output otherwise). Normalization layers not yet adapted are adapted to
/// the training part of `x` first. Returns the final epoch's training loss in
/// `*out_loss` if not NULL.
/// Errors: KILN_ERROR_INVALID_ARGUMENT for shape or dtype mismatches, a model
/// without a training step, or options out of range; KILN_ERROR_FORMAT when
/// the loss becomes NaN or infinite (the message names the epoch and step;
/// the parameters are those of the last finished epoch).
KILN_API kiln_status_t kiln_session_fit(kiln_session_t *session,
                                        const kiln_array_t *x,
                                        const kiln_array_t *y,
                                        const kiln_fit_options_t *options,
                                        double *out_loss);

/// Number of values kiln_session_evaluate writes: the loss, then each
/// metric, in the order of kiln_session_metric_name.
KILN_API int32_t kiln_session_metric_count(const kiln_session_t *session);

/// Name of value `index` of kiln_session_evaluate ("loss", "accuracy", ...);
/// NULL if out of range. Owned by the session.
KILN_API const char *kiln_session_metric_name(const kiln_session_t *session,
                                              int32_t index);

/// Loss and metrics over all of `x`, `y` (weighted means over the samples,
/// as Keras' evaluate), written to `out_values` (kiln_session_metric_count
/// values).
KILN_API kiln_status_t kiln_session_evaluate(kiln_session_t *session,
                                             const kiln_array_t *x,
                                             const kiln_array_t *y,
                                             double *out_values);

/// The model's output for every sample of `x`: a new f32/f64 array of shape
/// [N, ...output shape] in `*out_predictions`, freed with
/// kiln_array_destroy.
KILN_API kiln_status_t kiln_session_predict(kiln_session_t *session,
                                            const kiln_array_t *x,
                                            kiln_array_t **out_predictions);

/// The loss and metrics of the last epoch kiln_session_fit trained, over
/// its training samples (exact weighted means, in the order of
/// kiln_session_metric_name), written to `out_values`
/// (kiln_session_metric_count values).
/// Errors: KILN_ERROR_INVALID_ARGUMENT for NULL pointers or before the
/// first trained epoch.
KILN_API kiln_status_t kiln_session_last_epoch_metrics(kiln_session_t *session,
                                                       double *out_values);

/// The parameter or state tensor `name` (as the manifest names it, e.g.
/// "dense/kernel", "bn/moving_mean") in the session's params region:
/// `*out_data` points at its `*out_count` elements of `*out_dtype`, row-major
/// in the parameter's shape. Writing through the pointer changes the parameter.
/// The memory is owned by the session and stays valid until
/// kiln_session_destroy. Errors: KILN_ERROR_INVALID_ARGUMENT for NULL pointers
/// or an unknown name (the message lists the parameters).
KILN_API kiln_status_t kiln_session_parameter(kiln_session_t *session,
                                              const char *name, void **out_data,
                                              kiln_dtype_t *out_dtype,
                                              int64_t *out_count);

/// Writes parameters, optimizer state, step, epoch and model fingerprint to
/// a safetensors file, atomically (temporary file, fsync, rename).
KILN_API kiln_status_t kiln_session_save(kiln_session_t *session,
                                         const char *path);

/// Loads a checkpoint written by kiln_session_save for the same model.
/// Errors: KILN_ERROR_IO, or KILN_ERROR_FORMAT for a corrupt file or one
/// written for another model (fingerprint mismatch); the session is
/// unchanged on failure.
KILN_API kiln_status_t kiln_session_load(kiln_session_t *session,
                                         const char *path);

/// The command line of generated programs (`prog fit|evaluate|predict|
/// summary ...`; `prog --help` lists the options). Returns the process exit
/// status: 0 on success, 1 on any error (printed to stderr), 2 for a usage
/// error.
KILN_API int kiln_cli_main(int argc, char **argv, const kiln_model_t *model);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KILN_SESSION_H */
