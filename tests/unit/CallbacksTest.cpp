//===- CallbacksTest.cpp - the fit callbacks on scripted values -----------===//
//
// runtime/driver/Callbacks.h driven with scripted sequences of monitored
// values. The expected epochs (of stopping, of each learning-rate
// reduction, of each best checkpoint) were worked out by hand from Keras
// 3.16's callback sources (keras/src/callbacks/early_stopping.py,
// reduce_lr_on_plateau.py, model_checkpoint.py, monitor_callback.py); each
// case's comment gives the derivation, epoch by epoch (1-based epochs;
// Keras' `epoch` argument is one less).
//
//===----------------------------------------------------------------------===//

#include "Callbacks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace {

using kiln::driver::callbacks::BestCheckpoint;
using kiln::driver::callbacks::EarlyStopping;
using kiln::driver::callbacks::ReduceLrOnPlateau;

/// Runs `e` over `values` as fit does; returns the 1-based epoch after
/// which training stops, or 0 if it runs them all. `snapshots` gets the
/// epochs whose weights were kept (restore_best_weights).
int64_t runEarlyStopping(EarlyStopping &e, const std::vector<double> &values,
                         std::vector<int64_t> *snapshots = nullptr) {
  bool haveWeights = false;
  for (size_t i = 0; i < values.size(); ++i) {
    int64_t epoch = static_cast<int64_t>(i) + 1;
    EarlyStopping::Decision d = e.update(epoch, values[i], haveWeights);
    if (d.snapshotWeights) {
      haveWeights = true;
      if (snapshots)
        snapshots->push_back(epoch);
    }
    if (d.stop)
      return epoch;
  }
  return 0;
}

TEST(EarlyStoppingTest, MinDeltaAndWait) {
  // patience 2, min_delta 0.1, min mode:
  // e1 best None -> improves, best 1.0, wait 0; e2 wait 1, 0.95 + 0.1 !<
  // 1.0; e3 wait 2, 0.85 + 0.1 < 1.0 -> best 0.85, wait 0; e4 wait 1, 0.9
  // !< 0.85; e5 wait 2, 0.89 !< 0.85, 2 >= 2 -> stop after epoch 5.
  EarlyStopping e;
  e.monitor.minDelta = 0.1;
  e.patience = 2;
  EXPECT_EQ(runEarlyStopping(e, {1.0, 0.95, 0.85, 0.8, 0.79, 0.7}), 5);
  EXPECT_EQ(e.bestEpoch, 3);
  EXPECT_EQ(*e.best, 0.85);
  EXPECT_EQ(e.wait, 2);
}

TEST(EarlyStoppingTest, PatienceZeroNeverStopsAfterTheFirstEpoch) {
  // e1 always improves (best None); e2 wait 1 >= 0, 1.0 !< 1.0 -> stop.
  EarlyStopping e;
  EXPECT_EQ(runEarlyStopping(e, {1.0, 1.0, 0.5}), 2);
  // Values that keep falling never stop it.
  EarlyStopping f;
  EXPECT_EQ(runEarlyStopping(f, {1.0, 0.9, 0.8, 0.7}), 0);
}

TEST(EarlyStoppingTest, MaxModeSubtractsMinDelta) {
  // max mode, min_delta 0.01, patience 1: e1 best 0.5; e2 wait 1, 0.505 -
  // 0.01 !> 0.5 -> stop after epoch 2 although 0.505 > 0.5.
  EarlyStopping e;
  e.monitor.minimize = false;
  e.monitor.minDelta = 0.01;
  e.patience = 1;
  EXPECT_EQ(runEarlyStopping(e, {0.5, 0.505, 0.52}), 2);
  // Without min_delta 0.505 improves: e2 wait 0; e3 improves; no stop.
  EarlyStopping f;
  f.monitor.minimize = false;
  f.patience = 1;
  EXPECT_EQ(runEarlyStopping(f, {0.5, 0.505, 0.52}), 0);
}

TEST(EarlyStoppingTest, BaselineKeepsTheWaitUntilBeaten) {
  // baseline 0.5, patience 2: e1 wait 1, improves (None) but 0.9 !< 0.5, so
  // the wait stays 1 (and an improving epoch never checks patience); e2
  // wait 2, improves, not below the baseline; e3 wait 3, 0.85 !< 0.8, 3 >=
  // 2 -> stop after epoch 3.
  EarlyStopping e;
  e.patience = 2;
  e.baseline = 0.5;
  EXPECT_EQ(runEarlyStopping(e, {0.9, 0.8, 0.85, 0.7}), 3);
  // Without the baseline e3 has wait 1: it runs on to e4 (improves).
  EarlyStopping f;
  f.patience = 2;
  EXPECT_EQ(runEarlyStopping(f, {0.9, 0.8, 0.85, 0.7}), 0);
  // Beating the baseline resets the wait: e1 wait 1; e2 0.4 < 0.5 -> wait
  // 0; e3 wait 1; e4 wait 2 -> stop after epoch 4.
  EarlyStopping g;
  g.patience = 2;
  g.baseline = 0.5;
  EXPECT_EQ(runEarlyStopping(g, {0.9, 0.4, 0.45, 0.46, 0.47}), 4);
}

TEST(EarlyStoppingTest, StartFromEpoch) {
  // start_from_epoch 2: Keras epochs 0 and 1 (e1, e2) are skipped. e3
  // improves (None), best 3; e4 wait 1 >= 1 -> stop after epoch 4.
  EarlyStopping e;
  e.patience = 1;
  e.startFromEpoch = 2;
  EXPECT_EQ(runEarlyStopping(e, {5, 6, 3, 4, 2}), 4);
  EXPECT_EQ(e.bestEpoch, 3);
  // From the start: e2 (6 !< 5, wait 1) stops.
  EarlyStopping f;
  f.patience = 1;
  EXPECT_EQ(runEarlyStopping(f, {5, 6, 3, 4, 2}), 2);
}

TEST(EarlyStoppingTest, RestoreBestWeightsSnapshots) {
  // Weights are kept at the first counted epoch and at every improvement:
  // e1 (first, improves), e3 (0.5 < 1); e2 and e4 do not improve.
  EarlyStopping e;
  e.patience = 3;
  e.restoreBestWeights = true;
  std::vector<int64_t> kept;
  EXPECT_EQ(runEarlyStopping(e, {1, 2, 0.5, 3}, &kept), 0);
  EXPECT_EQ(kept, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(e.bestEpoch, 3);
  // With start_from_epoch 1 nothing is kept before e2.
  EarlyStopping f;
  f.patience = 3;
  f.restoreBestWeights = true;
  f.startFromEpoch = 1;
  kept.clear();
  runEarlyStopping(f, {0.1, 2, 0.5, 3}, &kept);
  EXPECT_EQ(kept, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f.bestEpoch, 3);
}

TEST(EarlyStoppingTest, FirstValueIsTheBestEvenIfNaN) {
  // Keras' best starts as None: e1 (NaN) improves, best NaN, wait 0; e2
  // wait 1, 1.0 < NaN is false -> stop after epoch 2 (patience 1).
  EarlyStopping e;
  e.patience = 1;
  EXPECT_EQ(runEarlyStopping(e, {NAN, 1.0, 0.5}), 2);
  EXPECT_TRUE(std::isnan(*e.best));
}

/// Runs ReduceLROnPlateau over `values` from rate `lr`; returns the
/// epochs that lowered the rate and leaves the final rate in `lr`.
std::vector<int64_t> runReduce(ReduceLrOnPlateau &r,
                               const std::vector<double> &values, double *lr) {
  std::vector<int64_t> reduced;
  for (size_t i = 0; i < values.size(); ++i)
    if (r.update(values[i], lr))
      reduced.push_back(static_cast<int64_t>(i) + 1);
  return reduced;
}

TEST(ReduceLrOnPlateauTest, PatienceCooldownAndMinLr) {
  // factor 0.5, patience 2, cooldown 1, min_delta 0, min_lr 0.1, lr 1, a
  // flat value: e1 improves (None); e2 wait 1; e3 wait 2 -> 0.5, cooldown
  // 1, wait 0; e4 cooldown -> 0 (wait 0), then wait 1; e5 wait 2 -> 0.25;
  // e6 wait 1; e7 -> 0.125; e8 wait 1; e9 -> max(0.0625, 0.1) = 0.1 as
  // float32; e10 wait 1; e11 wait 2 but float32(0.1) !> float32(0.1): no
  // change; e12 wait 3, no change.
  ReduceLrOnPlateau r;
  r.monitor.minDelta = 0;
  r.factor = 0.5;
  r.patience = 2;
  r.cooldown = 1;
  r.minLr = 0.1;
  double lr = 1.0;
  std::vector<double> flat(12, 1.0);
  EXPECT_EQ(runReduce(r, flat, &lr), (std::vector<int64_t>{3, 5, 7, 9}));
  EXPECT_EQ(lr, static_cast<double>(0.1f));
  EXPECT_EQ(r.wait, 3);
}

TEST(ReduceLrOnPlateauTest, ImprovementInsideCooldown) {
  // patience 1, cooldown 2, factor 0.1: e1 improves; e2 wait 1 -> lr 0.1,
  // cooldown 2; e3 counter 1, 0.5 improves (best 0.5); e4 counter 0, 0.6
  // does not improve but the cooldown was active at the start of the epoch
  // (in_cooldown is checked after the decrement: 0, so it counts): wait 1
  // -> lr 0.01 at e4.
  ReduceLrOnPlateau r;
  r.monitor.minDelta = 0;
  r.patience = 1;
  r.cooldown = 2;
  double lr = 1.0;
  EXPECT_EQ(runReduce(r, {1.0, 1.0, 0.5, 0.6}, &lr),
            (std::vector<int64_t>{2, 4}));
  // float32(float32(0.1) * 0.1)
  EXPECT_EQ(lr, static_cast<double>(static_cast<float>(
                    static_cast<double>(static_cast<float>(0.1)) * 0.1)));
  // With cooldown 3 the counter is still 1 at e4: no count, no change.
  ReduceLrOnPlateau s;
  s.monitor.minDelta = 0;
  s.patience = 1;
  s.cooldown = 3;
  lr = 1.0;
  EXPECT_EQ(runReduce(s, {1.0, 1.0, 0.5, 0.6}, &lr), (std::vector<int64_t>{2}));
}

TEST(ReduceLrOnPlateauTest, DefaultMinDelta) {
  // min_delta 1e-4 (Keras' default), patience 1: e1 best 1.0; e2 0.99995 +
  // 1e-4 !< 1.0 -> wait 1 -> reduce at e2; e3 0.9998 + 1e-4 < 1.0 improves.
  ReduceLrOnPlateau r;
  r.patience = 1;
  double lr = 0.001;
  EXPECT_EQ(runReduce(r, {1.0, 0.99995, 0.9998}, &lr),
            (std::vector<int64_t>{2}));
  EXPECT_EQ(lr, static_cast<double>(static_cast<float>(lr)));
  EXPECT_NEAR(lr, 1e-4, 1e-11);
}

TEST(ReduceLrOnPlateauTest, MaxMode) {
  // Accuracy-like, max mode, patience 1, min_delta 0: e1 0.5; e2 0.6
  // improves; e3 0.6 !> 0.6 -> reduce.
  ReduceLrOnPlateau r;
  r.monitor.minimize = false;
  r.monitor.minDelta = 0;
  r.patience = 1;
  double lr = 1.0;
  EXPECT_EQ(runReduce(r, {0.5, 0.6, 0.6}, &lr), (std::vector<int64_t>{3}));
}

std::vector<int64_t> runBest(BestCheckpoint &b,
                             const std::vector<double> &values) {
  std::vector<int64_t> saved;
  for (size_t i = 0; i < values.size(); ++i)
    if (b.update(values[i]))
      saved.push_back(static_cast<int64_t>(i) + 1);
  return saved;
}

TEST(BestCheckpointTest, StrictImprovementOnly) {
  // min: e1 (None), e2 (2 < 3), e3 2 !< 2, e4 no, e5 (1 < 2), e6 NaN no,
  // e7 (0.5 < 1).
  BestCheckpoint b;
  EXPECT_EQ(runBest(b, {3, 2, 2, 2.5, 1, NAN, 0.5}),
            (std::vector<int64_t>{1, 2, 5, 7}));
  // max: e1, e2 (0.7 > 0.5), e4 0.7 !> 0.7, e5 (0.8).
  BestCheckpoint m;
  m.monitor.minimize = false;
  EXPECT_EQ(runBest(m, {0.5, 0.7, 0.6, 0.7, 0.8}),
            (std::vector<int64_t>{1, 2, 5}));
}

TEST(BestCheckpointTest, ComparesInFloat32) {
  // ops.less converts both Python floats to float32 tensors: 1.0 and
  // 1.0 + 1e-9 are the same float32, so e2 does not improve on e1 (in double
  // it would); 0.9999999 is float32 0.99999988, below 1.0: e3 improves.
  BestCheckpoint b;
  EXPECT_EQ(runBest(b, {1.0 + 1e-9, 1.0, 0.9999999}),
            (std::vector<int64_t>{1, 3}));
  // With min_delta the shifted value is rounded too: 0.75 + (0.25 - 1e-12)
  // is below 1.0 in double but float32 1.0, not below 1.0: no improvement,
  // so e2 stops (patience 1).
  EarlyStopping e;
  e.patience = 1;
  e.monitor.minDelta = 0.25 - 1e-12;
  EXPECT_EQ(runEarlyStopping(e, {1.0, 0.75}), 2);
}

TEST(BestCheckpointTest, InitialValueThreshold) {
  // initial_value_threshold 1.5 is the first best: only e5 (1) and e7 (0.5)
  // beat it and then the best.
  BestCheckpoint b;
  b.best = 1.5;
  EXPECT_EQ(runBest(b, {3, 2, 2, 2.5, 1, NAN, 0.5}),
            (std::vector<int64_t>{5, 7}));
}

} // namespace
