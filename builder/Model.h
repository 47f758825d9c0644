//===- Model.h - a Keras-like C++ API for kiln ------------------*- C++ -*-===//
//
// Define a model in C++, JIT-compile its training step and train it in
// process:
//
//   kiln::Sequential model({kiln::layers::Input({2}),
//                           kiln::layers::Dense(16, "relu"),
//                           kiln::layers::Dense(2, "softmax")});
//   if (llvm::Error e = model.build(/*batchSize=*/32)) ...
//   if (llvm::Error e = model.compile(
//           kiln::Loss{"sparse_categorical_crossentropy"},
//           kiln::Optimizer::Adam(0.01), {"accuracy"})) ...
//   llvm::Expected<kiln::History> h = model.fit(x, labels, /*epochs=*/5);
//
// build() writes the layers as a Keras Sequential model config and imports
// it with the Keras importer (frontend/keras), so the builder has exactly
// the importer's layers, activations and defaults: parameters are arguments
// `kiln.param = "<layer>/kernel"` / `"<layer>/bias"` with `kiln.trainable`
// and `kiln.initializer`, the input is `kiln.name = "input"`, the result
// carries the last layer's name. compile() turns the Loss, Optimizer and
// metrics into a TrainingConfig (toTrainingConfig), compiles through the
// compile library as kilnc does (compiler/Compile.h, compileToJit) and
// opens a session (kiln/session.h) on the JIT-compiled model: fit, evaluate
// and predict are the session's loops, the same as generated programs'.
//
// Data: f32 only. Every data argument is a dense row-major std::vector
// holding N samples; the per-sample shape is the Input shape (x) or the
// output shape (dense labels, predictions); sparse labels are one int32
// class index per sample. N is any positive count: the batch size is fixed
// at build(), and a last partial batch is padded with sample weight 0
// (exact: losses and metrics are sum(w l) / sum(w)).
//
// Errors are llvm::Error / llvm::Expected with a message naming the
// problem (shape mismatches, unknown activation, loss or optimizer, calls
// in the wrong order such as fit before compile). Nothing is thrown.
//
// Thread-safety: a Sequential is not synchronized; use one per thread.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_BUILDER_MODEL_H
#define KILN_BUILDER_MODEL_H

#include "compiler/TrainingConfig.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace kiln {

/// A layer description (a value; nothing is built until Sequential::build).
/// Create layers with the functions of kiln::layers.
struct Layer {
  enum class Kind { Input, Dense, Activation, Dropout };
  Kind kind = Kind::Input;
  /// Layer name; empty means the Keras default ("dense", "dense_1", ...).
  std::string name;
  /// Input: the per-sample shape (without the batch axis).
  std::vector<int64_t> shape;
  /// Dense: output units (> 0).
  int64_t units = 0;
  /// Dense / Activation: any activation of the Keras importer
  /// (docs/architecture.md, "Keras import"): "linear", "relu", "relu6",
  /// "sigmoid", "tanh", "softmax", "log_softmax", "softplus", "elu",
  /// "gelu", "leaky_relu" (0.2), "selu", "silu" / "swish", "exponential".
  std::string activation = "linear";
  /// Dense: with a bias vector.
  bool useBias = true;
  /// Dropout: the fraction dropped while training, in [0, 1).
  double rate = 0;
  /// Dropout: the mask seed (0: the layer's position + 1, as the Keras
  /// importer).
  int64_t seed = 0;
};

namespace layers {
/// The model input: `shape` is the per-sample shape (no batch axis, every
/// extent > 0), dtype f32. Must be the first layer, and only there.
Layer Input(std::vector<int64_t> shape, std::string name = "input");
/// y = activation(x W + b) on the last axis of x. Kernel [in, units]:
/// Glorot uniform; bias [units]: zeros.
Layer Dense(int64_t units, std::string activation = "linear",
            bool useBias = true, std::string name = "");
/// y = activation(x).
Layer Activation(std::string activation, std::string name = "");
/// Training: each element is 0 (probability `rate`) or x / (1 - rate);
/// evaluation and prediction: the identity.
Layer Dropout(double rate, int64_t seed = 0, std::string name = "");
} // namespace layers

/// A loss of kiln-attach-loss: "mse" / "mean_squared_error", "mae" /
/// "mean_absolute_error", "binary_crossentropy", "categorical_crossentropy",
/// "sparse_categorical_crossentropy" (labels: int32 class indices).
struct Loss {
  std::string name;
  /// The model output is logits, not probabilities.
  bool fromLogits = false;
};

/// An optimizer of kiln-attach-optimizer with its hyperparameters (the
/// names of mlir::kiln::OptimizerConfig::settingNames(): momentum,
/// nesterov, rho, centered, beta_1, beta_2, epsilon, weight_decay,
/// initial_accumulator_value, clipvalue, global_clipnorm). The learning
/// rate is a runtime argument of every train step (finite, >= 0); the other
/// values are compiled in. Ranges: TrainingConfig::validate().
struct Optimizer {
  /// "sgd", "rmsprop", "adam", "adamw", "adagrad".
  std::string name = "sgd";
  double learningRate = 0.01;
  /// Hyperparameters by option name (booleans as 0/1).
  std::map<std::string, double> hyperparameters;
  /// "keras" (default) or "pytorch" formulas (docs/spec.md, Optimizers).
  std::string convention = "keras";

  static Optimizer SGD(double learningRate = 0.01, double momentum = 0,
                       bool nesterov = false);
  static Optimizer Adam(double learningRate = 0.001, double beta1 = 0.9,
                        double beta2 = 0.999, double epsilon = 1e-7);
  static Optimizer AdamW(double learningRate = 0.001,
                         double weightDecay = 0.004);
  static Optimizer RMSprop(double learningRate = 0.001, double rho = 0.9);
  static Optimizer Adagrad(double learningRate = 0.001);
};

/// The builder's adapter of the TrainingConfig (compiler/TrainingConfig.h):
/// the loss, the optimizer with its learning rate and hyperparameters, and
/// the metrics, validated. Errors: an unknown hyperparameter name, or any
/// error of TrainingConfig::validate() (unknown loss, metric or optimizer,
/// a value out of range).
llvm::Expected<mlir::kiln::TrainingConfig>
toTrainingConfig(const Loss &loss, const Optimizer &optimizer,
                 const std::vector<std::string> &metrics);

/// Per-epoch values of fit(): "loss" and each compiled metric under the
/// name it was given to compile() (e.g. "accuracy"). Each value is the
/// epoch's exact ratio of weighted sums (docs/spec.md, Metrics).
struct History {
  std::vector<std::string> names; // "loss" first, then the metrics
  std::map<std::string, std::vector<double>> values;
  size_t epochs() const {
    return values.empty() ? 0 : values.at("loss").size();
  }
};

/// Evaluation result: "loss" and the metrics, as in History.
using Metrics = std::map<std::string, double>;

/// A linear stack of layers: Input, then any of Dense / Activation /
/// Dropout. Order of use: build, compile, then fit / evaluate / predict
/// (any number of times; the parameters persist between calls).
class Sequential {
public:
  explicit Sequential(std::vector<Layer> layers);
  ~Sequential();
  /// A moved-from model may only be destroyed or assigned to.
  Sequential(Sequential &&) noexcept;
  Sequential &operator=(Sequential &&) noexcept;

  /// Seed of the session (compile): the initial parameters (kiln/init.h,
  /// one stream per parameter) and the epoch shuffles of fit (splitmix64
  /// seeded by the seed and the epoch). Default 0. Set before compile() for
  /// reproducible weights.
  void setSeed(uint32_t seed);

  /// Emits @forward for batches of `batchSize` samples in a new
  /// MLIRContext and checks the forward-stage contract. Errors: no layers,
  /// no leading Input, an Input elsewhere, a non-positive size, a Dense on
  /// a rank-0 sample, a rate outside [0, 1), a duplicate layer name, a
  /// second build(), or anything the Keras importer rejects (an unknown
  /// activation: "unknown activation 'name'").
  llvm::Error build(int64_t batchSize);

  /// The forward module (valid after build, owned by the model).
  mlir::ModuleOp module() const;
  /// The forward module as MLIR text ("" before build).
  std::string ir() const;
  /// Keras-style table: layer (type), output shape, parameter count, total.
  /// Before build the batch axis is shown as "None".
  std::string summary() const;
  /// The per-sample output shape (valid after build).
  std::vector<int64_t> outputShape() const;
  /// Number of f32 values per sample of the input (valid after build).
  int64_t inputSize() const;
  int64_t batchSize() const;

  /// Derives the training step for `loss`, `optimizer` and `metrics`
  /// ("accuracy", "binary_accuracy", "categorical_accuracy",
  /// "sparse_categorical_accuracy", "precision", "recall", "f1", "mae",
  /// "mse"), compiles it to native code in process (JIT, -O3, host CPU) and
  /// opens a session on it (kiln_session_create), which initializes the
  /// parameters: Glorot uniform kernels (limit = sqrt(6 / (fan_in +
  /// fan_out)), drawn by kiln_initialize_f32 of kiln/init.h with seed *
  /// 1000003 + the parameter's 1-based index) and zero biases; optimizer
  /// state at its initial values.
  /// Errors: not built, an unknown loss/optimizer/metric or option, a pass
  /// failure (with its diagnostics), code-generation failure. A second
  /// compile() replaces the first and re-initializes the parameters.
  llvm::Error compile(const Loss &loss, const Optimizer &optimizer,
                      const std::vector<std::string> &metrics = {});

  /// The learning rate fit() passes to every train step from now on
  /// (compile() sets it from the Optimizer; 0 takes no gradient step).
  /// Errors: a negative or non-finite rate (the compiler's rule: finite
  /// and >= 0); the rate is then unchanged.
  llvm::Error setLearningRate(double learningRate);

  /// Trains for `epochs` epochs over `x` (N * inputSize() floats) and
  /// sparse labels `y` (N int32 class indices in [0, classes)), reshuffling
  /// the samples each epoch (kiln_session_fit; one call per epoch). `batchSize`
  /// 0 means the built one; any other value must equal it. Errors: fit before
  /// compile, a size mismatch, a label out of range, a sparse/dense label kind
  /// the loss does not take.
  llvm::Expected<History> fit(const std::vector<float> &x,
                              const std::vector<int32_t> &y, int epochs,
                              int64_t batchSize = 0, bool shuffle = true);
  /// As above with dense float labels (N * product(outputShape()) floats)
  /// for mse, mae, binary and categorical cross-entropy.
  llvm::Expected<History> fit(const std::vector<float> &x,
                              const std::vector<float> &y, int epochs,
                              int64_t batchSize = 0, bool shuffle = true);

  /// Loss and metrics over all samples (no update, dropout off).
  llvm::Expected<Metrics> evaluate(const std::vector<float> &x,
                                   const std::vector<int32_t> &y);
  llvm::Expected<Metrics> evaluate(const std::vector<float> &x,
                                   const std::vector<float> &y);

  /// Model outputs, N * product(outputShape()) floats, row-major. Errors:
  /// before compile, x not a multiple of inputSize().
  llvm::Expected<std::vector<float>> predict(const std::vector<float> &x);

  /// The current value of parameter `name` (e.g. "dense/kernel"),
  /// row-major. Errors: before compile, no such parameter.
  llvm::Expected<std::vector<float>> getWeights(const std::string &name) const;
  /// Overwrites parameter `name`. Errors: as getWeights, a size mismatch.
  llvm::Error setWeights(const std::string &name,
                         const std::vector<float> &values);

  struct Impl;

private:
  std::unique_ptr<Impl> impl;
};

} // namespace kiln

#endif // KILN_BUILDER_MODEL_H
