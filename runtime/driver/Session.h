//===- Session.h - the training driver behind kiln/session.h ----*- C++ -*-===//
//
// kiln::driver::Session holds a compiled model's regions and runs Keras'
// fit/evaluate/predict loops over in-memory data sets. The C API of
// kiln/session.h and the command line (Cli.cpp) are thin layers over it.
// Errors are thrown as std::runtime_error (messages name files, tensors and
// options); the C API turns them into statuses.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_DRIVER_SESSION_H
#define KILN_DRIVER_SESSION_H

#include "Manifest.h"
#include "Mpi.h"

#include "kiln/model.h"
#include "kiln/runtime.h"

#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kiln::driver {

/// A data set, row-major. Features keep the file's dtype (MNIST's bytes
/// stay bytes; each batch is converted to the input's dtype as it is fed):
/// sample i is x[i * xSampleBytes .. (i + 1) * xSampleBytes). Labels are
/// converted to the labels tensor's dtype and checked once.
struct Data {
  std::vector<unsigned char> x, y;
  kiln_dtype_t xType = KILN_DTYPE_F32;
  size_t xSampleBytes = 0;
  int64_t n = 0;
  bool hasLabels = false;
  /// Per-sample weights (Keras sample_weight), [n] or empty for all 1.
  std::vector<double> w;
};

/// Loss and metrics in report order ("loss" first), as Keras names them.
using Metrics = std::vector<std::pair<std::string, double>>;

/// The learning rate of each train step: a constant, or a Keras schedule of
/// the optimizer's iteration counter (Session::iterations()).
struct LearningRate {
  LearningRate(double constant = 0) : constant(constant) {}
  double constant;
  std::optional<kiln::schedule::LearningRateSchedule> schedule;
  double at(int64_t iteration) const {
    return schedule ? static_cast<double>((*schedule)(iteration)) : constant;
  }
};

/// Training stopped by a signal (SIGINT, SIGTERM): see Session::interrupt.
struct Interrupted : std::runtime_error {
  Interrupted(const std::string &message, int64_t epoch, int64_t step)
      : std::runtime_error(message), epoch(epoch), step(step) {}
  int64_t epoch, step; // 1-based
};

/// Training stopped because the loss became NaN or infinite.
struct NonFiniteLoss : std::runtime_error {
  NonFiniteLoss(const std::string &message, int64_t epoch, int64_t step)
      : std::runtime_error(message), epoch(epoch), step(step) {}
  int64_t epoch, step; // 1-based
};

class Session {
public:
  /// Allocates the regions and initializes params and optimizer state.
  Session(const kiln_model_t *model, uint64_t seed);
  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  const Manifest &manifest() const { return m; }
  int64_t batchSize() const { return batch; }
  uint64_t seed() const { return shuffleSeed; }
  /// The model's data input (the entry points' one non-label input).
  const TensorInfo &input() const { return *predictInput; }
  /// The labels tensor of train_step/eval_step (null without a loss).
  const TensorInfo *labels() const { return labelInfo; }
  /// Names of evaluate()'s values: "loss", then the metrics.
  std::vector<std::string> metricNames() const;

  /// Converts arrays to a Data set: x is [N, ...input sample shape] of any
  /// numeric dtype; y (may be null) is [N] class indices for sparse losses
  /// or [N, ...output sample shape] (a [N] array also fits a [N, 1]
  /// output). `what` and `labelsWhat` name the sources in errors (file
  /// names; labelsWhat defaults to what). Rejects NaN or infinite features
  /// and labels, sparse labels that are not class indices, and
  /// cross-entropy labels outside [0, 1].
  Data makeData(const kiln_array_t *x, const kiln_array_t *y,
                const std::string &what,
                const std::string &labelsWhat = "") const;
  /// Sets data.w from per-sample weights (Keras fit's sample_weight):
  /// `weights` is [N] or [N, 1] of any numeric dtype, read from `file`
  /// (its CSV column `column`, if not empty). Errors (naming the file, the
  /// column and the sample, and with `csvRows` the line as the CSV reader
  /// does, `FILE:LINE: column 'w': ...`: sample i, 0-based, is on line
  /// i + 2 after the header): a length other than data.n; negative, NaN or
  /// infinite weights (all listed, the first 10 in full).
  void setSampleWeights(Data &data, const kiln_array_t &weights,
                        const std::string &file, const std::string &column,
                        bool csvRows) const;
  /// Keras' class_weight_to_sample_weights: the weight of each sample's
  /// class (sparse labels and [N, 1] / [N] labels rounded to an integer,
  /// one-hot labels their argmax; a class not in `classWeights` weighs 1),
  /// multiplied into data.w. Errors: a class id outside [0, classes) (the
  /// output's last dimension, 2 for one output unit), a negative or
  /// non-finite weight, labels with more than one axis after the batch.
  void applyClassWeights(Data &data,
                         const std::map<int64_t, double> &classWeights) const;
  /// Samples [begin, end) of `data`.
  Data slice(const Data &data, int64_t begin, int64_t end) const;

  /// Whether some Normalization statistics still wait for adapt().
  bool needsAdapt() const;
  /// Computes the statistics Normalization layers adapt to (mean and
  /// population variance over all but their kept axes) from `data`.
  void adapt(const Data &data);

  using Progress =
      std::function<void(int64_t step, int64_t steps, const Metrics &)>;
  /// One epoch of training (1-based `epoch` seeds the shuffle); returns the
  /// epoch's metrics as exact weighted means. Throws NonFiniteLoss, after
  /// restoring params and optimizer state to their values at the start of
  /// the epoch. Each step runs at `lr.at(iterations())`; a rate that is
  /// negative or not finite is an error naming the step.
  Metrics trainEpoch(const Data &data, int64_t epoch, bool shuffle,
                     const LearningRate &lr, const Progress &progress);
  /// The optimizer's step counter (opt_state `step`, Keras' `iterations`):
  /// train steps taken since initialization, kept by checkpoints.
  int64_t iterations() const;
  /// Called before each train step with iterations() and its learning rate.
  std::function<void(int64_t iteration, double lr)> onStep;
  /// Loss and metrics over `data` (weighted means, as Keras' evaluate).
  Metrics evaluate(const Data &data, const Progress &progress);
  /// predict over `data`: returns bytes of [N, ...output shape] in `dtype`.
  std::vector<unsigned char> predict(const Data &data, kiln_dtype_t *dtype,
                                     std::vector<int64_t> *shape,
                                     const Progress &progress);

  /// A copy of the params region (parameters and state), as Keras'
  /// get_weights; restoreParams puts one back.
  std::vector<char> paramsSnapshot() const;
  void restoreParams(const std::vector<char> &snapshot);

  /// Writes a checkpoint (params, opt_state, counters, `extra` metadata).
  void save(const std::string &path,
            const std::map<std::string, std::string> &extra) const;
  /// Loads a checkpoint of this model; returns its metadata. The session is
  /// unchanged when this throws.
  std::map<std::string, std::string> load(const std::string &path);

  /// The parameter or state tensor `name` (BatchNormalization's moving
  /// statistics) in the params region and its layout; throws for an
  /// unknown name.
  char *parameter(const std::string &name, const TensorInfo **info) const;

  /// Completed epochs and train steps (restored by load()).
  int64_t epoch = 0, steps = 0;
  /// When set and nonzero (e.g. by a signal handler), trainEpoch stops
  /// before its next step: it restores the state of the start of the epoch
  /// and throws Interrupted.
  const volatile int *interrupt = nullptr;

  /// Data-parallel training (docs/spec.md, "Data-parallel training"): with
  /// an active Parallel, trainEpoch and evaluate shard every global batch
  /// of batchSize() * size rows over the processes (rank r takes rows
  /// [r * batchSize(), (r + 1) * batchSize()) of it), run grad_step, sum
  /// the gradients (weighted by each shard's sample weights) and the
  /// partial sums over all processes, and apply the same update
  /// everywhere. Set it with useParallel().
  Parallel *parallel() const { return par; }
  /// Checks that the model has grad_step and apply_step whose regions
  /// agree with train_step's (throws naming kilnc --data-parallel
  /// otherwise) and makes `p` this session's Parallel (null: one process).
  void useParallel(Parallel *p);
  /// Copies the params and opt_state regions of process 0 to all others
  /// (the initial parameters, or the checkpoint process 0 resumed from).
  void broadcastState();
  /// Rows per train step over all processes: batchSize() times the number
  /// of processes.
  int64_t globalBatchSize() const {
    return batch * (par && par->active() ? par->size() : 1);
  }

private:
  Metrics trainEpochParallel(const Data &data, int64_t epoch,
                             const std::vector<int64_t> &order,
                             const LearningRate &lr, const Progress &progress);
  /// Averages non-trainable state (BatchNorm moving statistics) over the
  /// processes; each updates its own copy from its shards during an epoch.
  void averageState();
  Parallel *par = nullptr;
  char *address(const TensorInfo &t) const;
  void initialize();
  /// Copies samples order[begin, begin + count) into the io tensors of
  /// `entry`, zero-padding the rest of the batch; sets sample weights.
  void feed(const EntryInfo &entry, const Data &data,
            const std::vector<int64_t> &order, int64_t begin, int64_t count);
  double scalar(const EntryInfo &entry, const std::string &name) const;
  void accumulate(const EntryInfo &entry,
                  std::map<std::string, double> &sums) const;
  Metrics finish(const std::map<std::string, double> &sums) const;
  const TensorInfo *dataInput(const EntryInfo &entry) const;

  const kiln_model_t *model;
  Manifest m;
  uint64_t shuffleSeed;
  int64_t batch = 0;
  size_t sampleBytes = 0, labelBytes = 0;
  const TensorInfo *predictInput = nullptr, *labelInfo = nullptr;
  kiln_regions_t *regions = nullptr;
  bool adapted = false;
};

/// splitmix64 (Steele, Lea, Flood 2014): the shuffle generator.
uint64_t splitmix64(uint64_t &state);

} // namespace kiln::driver

#endif // KILN_DRIVER_SESSION_H
