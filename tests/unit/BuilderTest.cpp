//===- BuilderTest.cpp - kiln::Sequential (builder/Model.h) ---------------===//
//
// The IR the C++ builder emits, training on a learnable problem, predict's
// shape, fit/evaluate consistency and the errors of the API.
//
//===----------------------------------------------------------------------===//

#include "builder/Model.h"

#include "ir/KilnOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace {

using kiln::Sequential;
namespace layers = kiln::layers;

/// Points in [-1, 1]^2, class 1 inside the circle of area 2 (half).
void makeCircles(size_t n, uint32_t seed, std::vector<float> &x,
                 std::vector<int32_t> &y) {
  std::mt19937 gen(seed);
  x.resize(2 * n);
  y.resize(n);
  for (size_t i = 0; i < n; ++i) {
    double a = double(gen()) / 4294967296.0 * 2 - 1;
    double b = double(gen()) / 4294967296.0 * 2 - 1;
    x[2 * i] = float(a);
    x[2 * i + 1] = float(b);
    y[i] = a * a + b * b < 2.0 / M_PI ? 1 : 0;
  }
}

Sequential circleModel() {
  return Sequential({layers::Input({2}), layers::Dense(16, "relu"),
                     layers::Dense(16, "relu"), layers::Dense(2, "softmax")});
}

std::string message(llvm::Error e) { return llvm::toString(std::move(e)); }

TEST(BuilderTest, DenseReluSoftmaxIR) {
  Sequential model({layers::Input({4}), layers::Dense(8, "relu"),
                    layers::Dense(3, "softmax")});
  ASSERT_FALSE(model.build(5));
  mlir::ModuleOp module = model.module();
  auto forward = module.lookupSymbol<mlir::func::FuncOp>("forward");
  ASSERT_TRUE(forward);
  // dense/kernel, dense/bias, dense_1/kernel, dense_1/bias, input.
  ASSERT_EQ(forward.getNumArguments(), 5u);
  const char *names[] = {"dense/kernel", "dense/bias", "dense_1/kernel",
                         "dense_1/bias"};
  for (unsigned i = 0; i < 4; ++i) {
    auto param = forward.getArgAttrOfType<mlir::StringAttr>(i, "kiln.param");
    ASSERT_TRUE(param) << i;
    EXPECT_EQ(param.getValue(), names[i]);
    EXPECT_TRUE(forward.getArgAttr(i, "kiln.trainable"));
    auto init =
        forward.getArgAttrOfType<mlir::DictionaryAttr>(i, "kiln.initializer");
    ASSERT_TRUE(init);
    EXPECT_EQ(mlir::cast<mlir::StringAttr>(init.get("name")).getValue(),
              i % 2 ? "zeros" : "glorot_uniform");
  }
  auto inputName = forward.getArgAttrOfType<mlir::StringAttr>(4, "kiln.name");
  ASSERT_TRUE(inputName);
  EXPECT_EQ(inputName.getValue(), "input");
  auto type =
      mlir::cast<mlir::RankedTensorType>(forward.getArgument(0).getType());
  EXPECT_EQ(type.getShape(), llvm::ArrayRef<int64_t>({4, 8}));
  type = mlir::cast<mlir::RankedTensorType>(forward.getArgument(4).getType());
  EXPECT_EQ(type.getShape(), llvm::ArrayRef<int64_t>({5, 4}));
  auto result = mlir::cast<mlir::RankedTensorType>(forward.getResultTypes()[0]);
  EXPECT_EQ(result.getShape(), llvm::ArrayRef<int64_t>({5, 3}));
  auto resultName =
      forward.getResultAttrOfType<mlir::StringAttr>(0, "kiln.name");
  ASSERT_TRUE(resultName);
  EXPECT_EQ(resultName.getValue(), "dense_1");

  int matmuls = 0, broadcasts = 0, adds = 0, relus = 0, softmaxes = 0;
  forward.walk([&](mlir::Operation *op) {
    matmuls += mlir::isa<mlir::kiln::MatmulOp>(op);
    broadcasts += mlir::isa<mlir::kiln::BroadcastInDimOp>(op);
    adds += mlir::isa<mlir::kiln::AddOp>(op);
    relus += mlir::isa<mlir::kiln::ReluOp>(op);
    if (auto softmax = mlir::dyn_cast<mlir::kiln::SoftmaxOp>(op)) {
      ++softmaxes;
      EXPECT_EQ(op->getAttrOfType<mlir::IntegerAttr>("axis").getInt(), 1);
    }
  });
  EXPECT_EQ(matmuls, 2);
  EXPECT_EQ(broadcasts, 2);
  EXPECT_EQ(adds, 2);
  EXPECT_EQ(relus, 1);
  EXPECT_EQ(softmaxes, 1);
  EXPECT_NE(model.ir().find("kiln.matmul"), std::string::npos);
  EXPECT_NE(model.summary().find("dense_1 (Dense)"), std::string::npos);
  EXPECT_NE(model.summary().find("Total params: 67"), std::string::npos);
}

TEST(BuilderTest, FitLearnsCircles) {
  std::vector<float> x;
  std::vector<int32_t> y;
  makeCircles(1000, 1, x, y);
  Sequential model = circleModel();
  model.setSeed(3);
  ASSERT_FALSE(model.build(32));
  ASSERT_FALSE(model.compile({"sparse_categorical_crossentropy"},
                             kiln::Optimizer::Adam(0.01), {"accuracy"}));
  auto history = model.fit(x, y, 8);
  ASSERT_TRUE(bool(history)) << message(history.takeError());
  ASSERT_EQ(history->epochs(), 8u);
  ASSERT_EQ(history->names, (std::vector<std::string>{"loss", "accuracy"}));
  EXPECT_GT(history->values["accuracy"].back(), 0.9);
  EXPECT_LT(history->values["loss"].back(), history->values["loss"].front());

  // evaluate on the training data agrees with predict.
  auto metrics = model.evaluate(x, y);
  ASSERT_TRUE(bool(metrics)) << message(metrics.takeError());
  auto p = model.predict(x);
  ASSERT_TRUE(bool(p)) << message(p.takeError());
  ASSERT_EQ(p->size(), 2 * y.size());
  double correct = 0, loss = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    int predicted = (*p)[2 * i + 1] > (*p)[2 * i] ? 1 : 0;
    correct += predicted == y[i];
    loss -= std::log(std::max((*p)[2 * i + y[i]], 1e-7f));
  }
  EXPECT_NEAR((*metrics)["accuracy"], correct / y.size(), 1e-9);
  EXPECT_NEAR((*metrics)["loss"], loss / y.size(), 1e-3);
  EXPECT_GT((*metrics)["accuracy"], 0.9);
}

TEST(BuilderTest, DeterministicWithSeed) {
  std::vector<float> x;
  std::vector<int32_t> y;
  makeCircles(100, 2, x, y); // 100 = 3 batches of 32 + 4 padded
  std::vector<double> losses[2];
  for (int run = 0; run < 2; ++run) {
    Sequential model = circleModel();
    model.setSeed(11);
    ASSERT_FALSE(model.build(32));
    ASSERT_FALSE(model.compile({"sparse_categorical_crossentropy"},
                               kiln::Optimizer::SGD(0.1), {}));
    auto history = model.fit(x, y, 2);
    ASSERT_TRUE(bool(history)) << message(history.takeError());
    losses[run] = history->values["loss"];
  }
  EXPECT_EQ(losses[0], losses[1]);
}

TEST(BuilderTest, FitLossMatchesEvaluateWithoutUpdates) {
  // With learning rate 0 the parameters do not move, so fit's epoch loss
  // and accuracy (partial sums over shuffled, padded batches) equal
  // evaluate's.
  std::vector<float> x;
  std::vector<int32_t> y;
  makeCircles(100, 5, x, y); // 3 batches of 32 + 4 padded rows
  Sequential model = circleModel();
  ASSERT_FALSE(model.build(32));
  ASSERT_FALSE(model.compile({"sparse_categorical_crossentropy"},
                             kiln::Optimizer::SGD(0.0), {"accuracy"}));
  auto history = model.fit(x, y, 1);
  ASSERT_TRUE(bool(history)) << message(history.takeError());
  auto metrics = model.evaluate(x, y);
  ASSERT_TRUE(bool(metrics)) << message(metrics.takeError());
  EXPECT_NEAR(history->values["loss"][0], (*metrics)["loss"],
              1e-6 * (*metrics)["loss"]);
  EXPECT_DOUBLE_EQ(history->values["accuracy"][0], (*metrics)["accuracy"]);
}

TEST(BuilderTest, SetLearningRateFollowsTheCompilerRule) {
  // Finite and >= 0, as the TrainingConfig: 0 freezes the parameters of
  // this momentum-free SGD (not
  // "the compiled rate"), so fit's loss equals evaluate's; a negative or
  // non-finite rate is an error and leaves the rate as it was.
  std::vector<float> x;
  std::vector<int32_t> y;
  makeCircles(100, 5, x, y);
  Sequential model = circleModel();
  ASSERT_FALSE(model.build(32));
  ASSERT_FALSE(model.compile({"sparse_categorical_crossentropy"},
                             kiln::Optimizer::SGD(0.5), {"accuracy"}));
  for (double bad :
       {-1.0, static_cast<double>(NAN), static_cast<double>(INFINITY)})
    EXPECT_NE(message(model.setLearningRate(bad))
                  .find("is not a finite non-negative number"),
              std::string::npos)
        << bad;
  ASSERT_FALSE(model.setLearningRate(0));
  auto history = model.fit(x, y, 1);
  ASSERT_TRUE(bool(history)) << message(history.takeError());
  auto metrics = model.evaluate(x, y);
  ASSERT_TRUE(bool(metrics)) << message(metrics.takeError());
  EXPECT_NEAR(history->values["loss"][0], (*metrics)["loss"],
              1e-6 * (*metrics)["loss"]);
}

TEST(BuilderTest, PredictShape) {
  Sequential model({layers::Input({3}), layers::Dense(4, "tanh"),
                    layers::Dropout(0.5), layers::Dense(5)});
  ASSERT_FALSE(model.build(8));
  EXPECT_EQ(model.outputShape(), std::vector<int64_t>({5}));
  ASSERT_FALSE(model.compile({"mse"}, kiln::Optimizer::SGD(0.01), {"mae"}));
  std::vector<float> x(3 * 11, 0.5f);
  auto p = model.predict(x);
  ASSERT_TRUE(bool(p)) << message(p.takeError());
  EXPECT_EQ(p->size(), 55u);
  // Every sample is the same; the padded last batch gives the same rows.
  for (size_t i = 0; i < 11; ++i)
    for (size_t j = 0; j < 5; ++j)
      EXPECT_EQ((*p)[i * 5 + j], (*p)[j]);
  std::vector<float> yDense(55, 0.0f);
  auto history = model.fit(x, yDense, 1);
  ASSERT_TRUE(bool(history)) << message(history.takeError());
  EXPECT_EQ(history->names, (std::vector<std::string>{"loss", "mae"}));
}

TEST(BuilderTest, LayersComeFromTheKerasImporter) {
  // The builder's layers are the Keras importer's: relu6 (in the importer's
  // activation table, once missing from the builder's own) builds and
  // clips at 6.
  Sequential model({layers::Input({1}), layers::Dense(1, "relu6")});
  ASSERT_FALSE(model.build(4));
  EXPECT_NE(model.ir().find("kiln.relu"), std::string::npos);
  ASSERT_FALSE(model.compile({"mse"}, kiln::Optimizer::SGD(0.01)));
  ASSERT_FALSE(model.setWeights("dense/kernel", {10.0f}));
  ASSERT_FALSE(model.setWeights("dense/bias", {0.0f}));
  auto kernel = model.getWeights("dense/kernel");
  ASSERT_TRUE(bool(kernel)) << message(kernel.takeError());
  EXPECT_EQ(*kernel, std::vector<float>{10.0f});
  auto p = model.predict({1.0f, -1.0f, 0.5f, 0.25f, 2.0f});
  ASSERT_TRUE(bool(p)) << message(p.takeError());
  EXPECT_EQ(*p, (std::vector<float>{6.0f, 0.0f, 5.0f, 2.5f, 6.0f}));
  EXPECT_NE(message(model.getWeights("nope").takeError()).find("no parameter"),
            std::string::npos);
}

TEST(BuilderTest, ConvNetIR) {
  // The keras.io MNIST convnet through the builder: the Keras importer's
  // conv / pool / BatchNormalization import, shapes and parameter counts
  // from the imported module.
  Sequential model({layers::Input({28, 28, 1}), layers::Conv2D(32, {3}, "relu"),
                    layers::MaxPooling2D(), layers::BatchNormalization(),
                    layers::Conv2D(64, {3, 3}, "relu", {2}, "same"),
                    layers::GlobalAveragePooling2D(), layers::Flatten(),
                    layers::Dropout(0.5), layers::Dense(10, "softmax")});
  // Before build, shapes after a spatial layer are unknown.
  EXPECT_NE(model.summary().find("conv2d (Conv2D)"), std::string::npos);
  ASSERT_FALSE(model.build(4));
  EXPECT_EQ(model.outputShape(), std::vector<int64_t>({10}));
  EXPECT_EQ(model.inputSize(), 784);
  int convs = 0, pools = 0, norms = 0;
  model.module().walk([&](mlir::Operation *op) {
    convs += mlir::isa<mlir::kiln::ConvOp>(op);
    pools += mlir::isa<mlir::kiln::MaxPoolOp>(op);
    norms += mlir::isa<mlir::kiln::BatchNormOp>(op);
  });
  EXPECT_EQ(convs, 2);
  EXPECT_EQ(pools, 1);
  EXPECT_EQ(norms, 1);
  std::string summary = model.summary();
  EXPECT_NE(summary.find("max_pooling2d (MaxPooling2D)"), std::string::npos)
      << summary;
  EXPECT_NE(summary.find("(4, 13, 13, 32)"), std::string::npos) << summary;
  EXPECT_NE(summary.find("(4, 7, 7, 64)"), std::string::npos) << summary;
  // 3*3*1*32+32 + 4*32 + 3*3*32*64+64 + 64*10+10.
  EXPECT_NE(summary.find("Total params: 19594"), std::string::npos) << summary;
  EXPECT_NE(model.ir().find("kiln.param = \"batch_normalization/moving_mean\", "
                            "kiln.state"),
            std::string::npos);
}

TEST(BuilderTest, ConvErrorsComeFromTheImporter) {
  Sequential model({layers::Input({4, 4, 3}), layers::Conv2D(8, {5}),
                    layers::Conv2D(8, {3}, "linear", {0})});
  llvm::Error e = model.build(2);
  ASSERT_TRUE(bool(e));
  std::string text = message(std::move(e));
  EXPECT_NE(text.find("[conv_c5]"), std::string::npos) << text;
  EXPECT_NE(text.find("'strides' must be >= 1"), std::string::npos) << text;
}

TEST(BuilderTest, Errors) {
  Sequential model = circleModel();
  std::vector<float> x(4, 0.0f);
  std::vector<int32_t> y(2, 0);
  // Before build / compile.
  EXPECT_NE(message(model.fit(x, y, 1).takeError()).find("not compiled"),
            std::string::npos);
  EXPECT_NE(
      message(model.compile({"mse"}, kiln::Optimizer())).find("not built"),
      std::string::npos);
  ASSERT_FALSE(model.build(4));
  EXPECT_NE(message(model.fit(x, y, 1).takeError()).find("compile()"),
            std::string::npos);
  EXPECT_NE(message(model.predict(x).takeError()).find("not compiled"),
            std::string::npos);
  ASSERT_FALSE(model.compile({"sparse_categorical_crossentropy"},
                             kiln::Optimizer::SGD(), {"accuracy"}));
  // Shape mismatches.
  EXPECT_NE(message(model.fit(std::vector<float>(3), y, 1).takeError())
                .find("not a positive multiple"),
            std::string::npos);
  EXPECT_NE(message(model.fit(x, std::vector<int32_t>(3), 1).takeError())
                .find("y has 3 values"),
            std::string::npos);
  EXPECT_NE(message(model.fit(x, std::vector<int32_t>{0, 2}, 1).takeError())
                .find("outside [0, 2)"),
            std::string::npos);
  EXPECT_NE(message(model.fit(x, std::vector<float>(4), 1).takeError())
                .find("sparse int32 labels"),
            std::string::npos);
  EXPECT_NE(message(model.fit(x, y, 1, 8).takeError()).find("batch size 8"),
            std::string::npos);

  Sequential bad({layers::Input({2}), layers::Dense(3, "relux")});
  EXPECT_NE(message(bad.build(4)).find("unknown activation 'relux'"),
            std::string::npos);
  Sequential noInput({layers::Dense(3)});
  EXPECT_NE(message(noInput.build(4)).find("first layer must be"),
            std::string::npos);
  Sequential badLoss({layers::Input({2}), layers::Dense(3)});
  ASSERT_FALSE(badLoss.build(4));
  EXPECT_FALSE(message(badLoss.compile({"hinge"}, kiln::Optimizer())).empty());
}

} // namespace

namespace {
// Token sequences whose label says whether token 7 occurs: a task that a
// model ignoring the tokens cannot solve (the majority class is ~0.66).
void makeTokens(size_t n, int64_t steps, uint32_t seed, std::vector<float> &x,
                std::vector<int32_t> &y) {
  std::mt19937 gen(seed);
  x.resize(n * steps);
  y.resize(n);
  for (size_t i = 0; i < n; ++i) {
    y[i] = 0;
    for (int64_t t = 0; t < steps; ++t) {
      int64_t token = gen() % 30;
      x[i * steps + t] = float(token);
      y[i] |= token == 7;
    }
  }
}
} // namespace

// The sequence layers through the builder: Embedding -> Bidirectional LSTM
// (every step) -> LayerNormalization -> GRU -> Dense learns the token task;
// ids outside the vocabulary are refused.
TEST(BuilderTest, SequenceLayersLearnTokens) {
  kiln::Layer bidi = layers::LSTM(8, /*returnSequences=*/true);
  bidi.bidirectional = true;
  Sequential model({layers::Input({12}), layers::Embedding(30, 8), bidi,
                    layers::LayerNormalization(), layers::GRU(8),
                    layers::Dense(2, "softmax")});
  model.setSeed(3);
  ASSERT_FALSE(model.build(32));
  std::vector<float> x, xt;
  std::vector<int32_t> y, yt;
  makeTokens(1024, 12, 1, x, y);
  makeTokens(256, 12, 2, xt, yt);
  ASSERT_FALSE(model.compile(kiln::Loss{"sparse_categorical_crossentropy"},
                             kiln::Optimizer::Adam(0.02), {"accuracy"}));
  llvm::Expected<kiln::History> h = model.fit(x, y, /*epochs=*/6);
  ASSERT_TRUE(bool(h)) << message(h.takeError());
  auto score = model.evaluate(xt, yt);
  ASSERT_TRUE(bool(score)) << message(score.takeError());
  EXPECT_GE((*score)["accuracy"], 0.9) << "test accuracy";
  std::vector<float> bad = xt;
  bad[5] = 30;
  auto refused = model.evaluate(bad, yt);
  ASSERT_FALSE(bool(refused));
  EXPECT_NE(message(refused.takeError()).find("outside [0, 30)"),
            std::string::npos);
}

// Keras masking: with Embedding(mask_zero) a forward LSTM skips the steps of
// id 0, keeping its states, so moving the padding around (the same tokens in
// the same order) leaves every prediction bit-identical; without the mask the
// zero rows are ordinary tokens and the predictions change. A Masking layer
// skips the input steps whose features are all 0 the same way.
TEST(BuilderTest, MaskedStepsDoNotChangePredictions) {
  auto predictions = [](bool maskZero, const std::vector<float> &x) {
    kiln::Layer embedding = layers::Embedding(10, 4);
    embedding.maskZero = maskZero;
    Sequential model({layers::Input({6}), embedding, layers::LSTM(5),
                      layers::Dense(2, "softmax")});
    model.setSeed(7);
    EXPECT_FALSE(model.build(2));
    EXPECT_FALSE(model.compile(kiln::Loss{"sparse_categorical_crossentropy"},
                               kiln::Optimizer::Adam(0.01), {}));
    llvm::Expected<std::vector<float>> p = model.predict(x);
    EXPECT_TRUE(bool(p)) << message(p.takeError());
    return *p;
  };
  // Two samples: tokens (3, 7, 5) and (9, 2), padded two ways.
  std::vector<float> right = {3, 7, 5, 0, 0, 0, 9, 2, 0, 0, 0, 0};
  std::vector<float> spread = {0, 3, 0, 7, 5, 0, 0, 0, 9, 0, 2, 0};
  EXPECT_EQ(predictions(true, right), predictions(true, spread));
  EXPECT_NE(predictions(false, right), predictions(false, spread));

  // Masking(0): an input step of all zeros is skipped the same way.
  auto masked = [](const std::vector<float> &x) {
    Sequential model({layers::Input({4, 2}), layers::Masking(0.0),
                      layers::GRU(3), layers::Dense(1)});
    model.setSeed(5);
    EXPECT_FALSE(model.build(1));
    EXPECT_FALSE(model.compile(kiln::Loss{"mean_squared_error"},
                               kiln::Optimizer::Adam(0.01), {}));
    llvm::Expected<std::vector<float>> p = model.predict(x);
    EXPECT_TRUE(bool(p)) << message(p.takeError());
    return *p;
  };
  EXPECT_EQ(masked({1, 2, 0, 0, 3, 0, 0, 0}), masked({0, 0, 1, 2, 0, 0, 3, 0}));
  EXPECT_NE(masked({1, 2, 0, 0, 3, 0, 0, 0}), masked({1, 2, 0, 1, 3, 0, 0, 0}));
}
