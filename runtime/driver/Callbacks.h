//===- Callbacks.h - Keras 3 fit callbacks ----------------------*- C++ -*-===//
//
// The state machines of the Keras 3 callbacks that `PROG fit` offers as
// options, transcribed from keras/src/callbacks/ (Keras 3.16:
// monitor_callback.py, early_stopping.py, reduce_lr_on_plateau.py,
// model_checkpoint.py). Each takes the monitored value of an epoch and says
// what to do; the training driver (Cli.cpp) owns the files and the weights.
// docs/spec.md ("Callbacks") states the rules.
//
// Header-only and independent of the session, so that unit tests
// (tests/unit/CallbacksTest.cpp) drive them with scripted value sequences.
// Epochs are 1-based here (kiln's); Keras' 0-based `epoch` is epoch - 1.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_DRIVER_CALLBACKS_H
#define KILN_DRIVER_CALLBACKS_H

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

namespace kiln::driver::callbacks {

/// A callback's `mode`: Keras' "auto", "min" or "max".
enum class Mode { Auto, Min, Max };

/// Keras' MonitorCallback: the direction and `min_delta` of a monitored
/// quantity and its improvement test.
struct Monitor {
  std::string name = "val_loss";
  /// True: ops.less (smaller is better); false: ops.greater.
  bool minimize = true;
  /// abs(min_delta) as given; the sign Keras applies is in improves().
  double minDelta = 0;

  /// MonitorCallback._is_improvement(current, reference): always true
  /// without a reference (Keras' None); else `ops.less(current - min_delta,
  /// reference)` with min_delta negated in min mode (`current + |min_delta|
  /// < reference`), or ops.greater with `current - |min_delta|` in max
  /// mode. The logged values are Python floats, so the subtraction is in
  /// double; ops.less / ops.greater then convert both sides to float32
  /// tensors (Keras' floatx, with the TensorFlow, JAX and PyTorch backends)
  /// and compare those. A NaN is never an improvement over a reference and
  /// never improved on.
  bool improves(double current, std::optional<double> reference) const {
    if (!reference)
      return true;
    float shifted =
        static_cast<float>(minimize ? current + minDelta : current - minDelta);
    float best = static_cast<float>(*reference);
    return minimize ? shifted < best : shifted > best;
  }
};

/// Keras' EarlyStopping (early_stopping.py, on_epoch_end).
struct EarlyStopping {
  Monitor monitor;
  int64_t patience = 0;
  /// `baseline`: a value the monitor must beat (by min_delta) before the
  /// wait is reset.
  std::optional<double> baseline;
  /// `start_from_epoch`: the 0-based Keras epochs before it are ignored.
  int64_t startFromEpoch = 0;
  bool restoreBestWeights = false;

  // State (on_train_begin: None, 0, 0).
  std::optional<double> best;
  int64_t wait = 0;
  /// The 1-based epoch of `best` (0: none yet).
  int64_t bestEpoch = 0;

  /// What on_epoch_end decided.
  struct Decision {
    /// Keep the current weights as the best ones (restore_best_weights).
    bool snapshotWeights = false;
    /// model.stop_training = True.
    bool stop = false;
  };

  /// Records the value of 1-based `epoch`. `haveWeights`: whether a weight
  /// snapshot exists (Keras' `best_weights is not None`).
  Decision update(int64_t epoch, double current, bool haveWeights) {
    Decision d;
    if (epoch - 1 < startFromEpoch)
      return d;
    if (restoreBestWeights && !haveWeights) {
      d.snapshotWeights = true;
      bestEpoch = epoch;
    }
    ++wait;
    if (monitor.improves(current, best)) {
      best = current;
      bestEpoch = epoch;
      if (restoreBestWeights)
        d.snapshotWeights = true;
      // Only restart the wait when both the baseline and the previous best
      // are beaten.
      if (!baseline || monitor.improves(current, *baseline))
        wait = 0;
      return d;
    }
    if (wait >= patience && epoch - 1 > 0)
      d.stop = true;
    return d;
  }
};

/// Keras' ReduceLROnPlateau (reduce_lr_on_plateau.py, on_epoch_end and
/// _reduce_optimizer_lr). The rate is Keras' float32 optimizer variable.
struct ReduceLrOnPlateau {
  /// Keras' defaults: monitor val_loss, min_delta 1e-4.
  Monitor monitor{"val_loss", true, 1e-4};
  double factor = 0.1, minLr = 0;
  int64_t patience = 10, cooldown = 0;

  // State (_reset: None, 0, 0).
  std::optional<double> best;
  int64_t wait = 0, cooldownCounter = 0;

  /// Records an epoch's value; returns true after lowering `*lr` (a
  /// float32 value held in a double).
  bool update(double current, double *lr) {
    if (cooldownCounter > 0) {
      --cooldownCounter;
      wait = 0;
    }
    if (monitor.improves(current, best)) {
      best = current;
      wait = 0;
      return false;
    }
    if (cooldownCounter > 0)
      return false;
    if (++wait < patience)
      return false;
    // old_lr > np.float32(min_lr); new_lr = max(old_lr * factor, min_lr) in
    // double, stored into the float32 variable.
    double old = static_cast<float>(*lr);
    if (!(old > static_cast<double>(static_cast<float>(minLr))))
      return false;
    *lr = static_cast<float>(std::max(old * factor, minLr));
    cooldownCounter = cooldown;
    wait = 0;
    return true;
  }
};

/// Keras' ModelCheckpoint(save_best_only=True) (model_checkpoint.py,
/// _should_save_model): min_delta 0; `best` starts at
/// initial_value_threshold (None by default).
struct BestCheckpoint {
  Monitor monitor;
  std::optional<double> best;
  /// Whether the epoch with this value is saved.
  bool update(double current) {
    if (!monitor.improves(current, best))
      return false;
    best = current;
    return true;
  }
};

} // namespace kiln::driver::callbacks

#endif // KILN_DRIVER_CALLBACKS_H
