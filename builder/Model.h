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
  enum class Kind {
    Input,
    Dense,
    Activation,
    Dropout,
    Flatten,
    // Spatial layers (channels-last [N, S.., C]; the Keras importer's
    // semantics: docs/architecture.md, "Keras import").
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    DepthwiseConv2D,
    SeparableConv2D,
    MaxPooling1D,
    MaxPooling2D,
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    BatchNormalization,
    ZeroPadding2D,
    Cropping2D,
    UpSampling2D,
    SpatialDropout2D,
    // Sequence layers (token ids as float values; the Keras importer's
    // semantics: docs/architecture.md, "Keras import").
    Embedding,
    Masking,
    LayerNormalization,
    SimpleRNN,
    LSTM,
    GRU,
  };
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
  /// Dropout / SpatialDropout2D: the mask seed (0: the layer's position +
  /// 1, as the Keras importer).
  int64_t seed = 0;

  // Spatial layers: one entry per spatial axis (one entry: every axis).
  /// Conv*: output channels (SeparableConv2D: of the pointwise step).
  int64_t filters = 0;
  /// Conv* kernel; pooling window.
  std::vector<int64_t> kernelSize;
  /// Conv* / pooling strides (pooling: empty means the window).
  std::vector<int64_t> strides;
  /// "valid" or "same" (Keras/TF padding; Conv1D also "causal").
  std::string padding = "valid";
  std::vector<int64_t> dilationRate = {1};
  int64_t groups = 1;
  /// DepthwiseConv2D / SeparableConv2D channel multiplier.
  int64_t depthMultiplier = 1;
  /// Conv2DTranspose: empty means Keras' None.
  std::vector<int64_t> outputPadding;
  /// Global pooling: keep the spatial axes with size 1.
  bool keepDims = false;
  /// BatchNormalization (Keras defaults).
  int64_t axis = -1;
  double momentum = 0.99, epsilon = 1e-3;
  bool center = true, scale = true;
  /// false: the layer's weights are not trained (BatchNormalization then
  /// normalizes with its moving statistics, as Keras does).
  bool trainable = true;
  /// ZeroPadding2D / Cropping2D: (before, after) per spatial axis.
  std::vector<std::pair<int64_t, int64_t>> amounts;
  /// UpSampling2D factors (nearest).
  std::vector<int64_t> size;
  /// "channels_last" or "channels_first".
  std::string dataFormat = "channels_last";
  /// Embedding: vocabulary size (ids in [0, inputDim)) and vector width.
  int64_t inputDim = 0, outputDim = 0;
  /// Embedding: id 0 is padding (Keras mask_zero): the steps whose id is 0
  /// are masked for the recurrent layers, attention and
  /// GlobalAveragePooling1D after it (docs/architecture.md, "masks").
  bool maskZero = false;
  /// Masking: a step whose features all equal this value is masked (and
  /// set to 0).
  double maskValue = 0;
  /// SimpleRNN / LSTM / GRU: every step's state ([N, T, units]) instead of
  /// the last one; read the sequence backwards (Keras go_backwards);
  /// wrapped in a Bidirectional (concat) layer.
  bool returnSequences = false, goBackwards = false, bidirectional = false;
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
/// [N, d..] -> [N, prod(d..)].
Layer Flatten(std::string name = "");
/// Convolutions: kernel [K.., C/groups, filters] (Keras HWIO), Glorot
/// uniform with Keras' fans (receptive field * channels); bias zeros.
/// `kernelSize`, `strides`, `dilationRate`: one entry (every axis) or one
/// per spatial axis. Set Layer fields (dataFormat, ...) for the rest.
Layer Conv1D(int64_t filters, std::vector<int64_t> kernelSize,
             std::string activation = "linear",
             std::vector<int64_t> strides = {1}, std::string padding = "valid",
             std::string name = "");
Layer Conv2D(int64_t filters, std::vector<int64_t> kernelSize,
             std::string activation = "linear",
             std::vector<int64_t> strides = {1}, std::string padding = "valid",
             std::string name = "");
/// Kernel [K.., filters, in_channels] as Keras stores it; output size as
/// Keras' deconv_output_length (Layer::outputPadding: none by default).
Layer Conv2DTranspose(int64_t filters, std::vector<int64_t> kernelSize,
                      std::string activation = "linear",
                      std::vector<int64_t> strides = {1},
                      std::string padding = "valid", std::string name = "");
/// Kernel [kh, kw, C, depthMultiplier] (Keras' shape); output channel
/// c * depthMultiplier + m.
Layer DepthwiseConv2D(std::vector<int64_t> kernelSize,
                      int64_t depthMultiplier = 1,
                      std::string activation = "linear",
                      std::vector<int64_t> strides = {1},
                      std::string padding = "valid", std::string name = "");
/// Depthwise [kh, kw, C, dm], then pointwise [1, 1, C * dm, filters], bias.
Layer SeparableConv2D(int64_t filters, std::vector<int64_t> kernelSize,
                      std::string activation = "linear",
                      std::vector<int64_t> strides = {1},
                      std::string padding = "valid", std::string name = "");
/// Pooling: strides default to the window; 'same' average pooling divides
/// by the positions inside the input.
Layer MaxPooling1D(std::vector<int64_t> poolSize = {2},
                   std::vector<int64_t> strides = {},
                   std::string padding = "valid", std::string name = "");
Layer MaxPooling2D(std::vector<int64_t> poolSize = {2},
                   std::vector<int64_t> strides = {},
                   std::string padding = "valid", std::string name = "");
Layer AveragePooling1D(std::vector<int64_t> poolSize = {2},
                       std::vector<int64_t> strides = {},
                       std::string padding = "valid", std::string name = "");
Layer AveragePooling2D(std::vector<int64_t> poolSize = {2},
                       std::vector<int64_t> strides = {},
                       std::string padding = "valid", std::string name = "");
Layer GlobalAveragePooling1D(bool keepDims = false, std::string name = "");
Layer GlobalAveragePooling2D(bool keepDims = false, std::string name = "");
Layer GlobalMaxPooling1D(bool keepDims = false, std::string name = "");
Layer GlobalMaxPooling2D(bool keepDims = false, std::string name = "");
/// Parameters gamma, beta (trainable) and moving_mean, moving_variance
/// (state, updated by every training step with Keras' momentum).
Layer BatchNormalization(int64_t axis = -1, double momentum = 0.99,
                         double epsilon = 1e-3, std::string name = "");
/// Zero padding / cropping of (before, after) per spatial axis.
Layer ZeroPadding2D(std::vector<std::pair<int64_t, int64_t>> padding,
                    std::string name = "");
Layer Cropping2D(std::vector<std::pair<int64_t, int64_t>> cropping,
                 std::string name = "");
/// Nearest-neighbour upsampling by `size` per spatial axis.
Layer UpSampling2D(std::vector<int64_t> size = {2}, std::string name = "");
/// Drops whole channels while training (mask [N, 1, 1, C]).
Layer SpatialDropout2D(double rate, int64_t seed = 0, std::string name = "");
/// Token ids (float values that are whole numbers in [0, inputDim); fit and
/// predict refuse others, naming the sample and position) -> [.., outputDim]
/// rows of the table `<name>/embeddings` (Keras' uniform(-0.05, 0.05)).
Layer Embedding(int64_t inputDim, int64_t outputDim, std::string name = "");
/// Keras Masking: steps whose features all equal `maskValue` are masked for
/// the layers after it that read masks (recurrent layers skip them,
/// keeping their states) and set to 0.
Layer Masking(double maskValue = 0.0, std::string name = "");
/// Keras LayerNormalization over the last axis (epsilon 1e-3 by default).
Layer LayerNormalization(double epsilon = 1e-3, std::string name = "");
/// Keras recurrent layers over [N, T, features]: one whole-sequence op,
/// Keras weights and gate orders (kernel glorot_uniform, recurrent kernel
/// orthogonal, bias zeros; LSTM forget bias 1; GRU reset_after). Set
/// Layer::bidirectional for a Bidirectional(concat) wrapper.
Layer SimpleRNN(int64_t units, bool returnSequences = false,
                std::string name = "");
Layer LSTM(int64_t units, bool returnSequences = false, std::string name = "");
Layer GRU(int64_t units, bool returnSequences = false, std::string name = "");
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
