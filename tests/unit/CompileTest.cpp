//===- CompileTest.cpp - TrainingConfig adapters and the compile library --===//
//
// The training configuration filled through each of its three adapters
// (command line, Keras compile_config, builder Optimizer), its one
// validation, kiln-opt's pipeline options naming the same settings, and the
// learning rate and hyperparameters reaching a JIT-compiled model's
// manifest; the session API on that in-memory model descriptor
// (kiln_session_last_epoch_metrics, kiln_session_parameter).
//
//===----------------------------------------------------------------------===//

#include "compiler/Compile.h"
#include "builder/Model.h"
#include "codegen/Pipelines.h"
#include "frontend/Import.h"
#include "frontend/keras/CompileConfig.h"
#include "ir/KilnDialect.h"
#include "kiln/session.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/JSON.h"

#include <gtest/gtest.h>

#include <cmath>

namespace {

using namespace mlir::kiln;

std::string message(llvm::Error e) { return llvm::toString(std::move(e)); }

/// A context with every dialect the pipelines use.
std::unique_ptr<mlir::MLIRContext> makeContext() {
  mlir::DialectRegistry registry;
  registerCodegenDialects(registry);
  auto context = std::make_unique<mlir::MLIRContext>(registry);
  context->loadAllAvailableDialects();
  return context;
}

TEST(TrainingConfigTest, CommandLineAdapter) {
  auto optimizer = parseOptimizerSpec(
      "adam:learning_rate=0.0123,beta_1=0.8,beta_2=0.99,epsilon=1e-3");
  ASSERT_TRUE(bool(optimizer)) << message(optimizer.takeError());
  EXPECT_EQ(optimizer->name, "adam");
  EXPECT_EQ(optimizer->learningRate, 0.0123);
  EXPECT_EQ(optimizer->beta1, 0.8);
  EXPECT_EQ(optimizer->beta2, 0.99);
  EXPECT_EQ(optimizer->epsilon, 1e-3);
  EXPECT_FALSE(optimizer->weightDecay); // the convention's default

  auto sgd = parseOptimizerSpec("sgd:momentum=0.5,nesterov=true");
  ASSERT_TRUE(bool(sgd)) << message(sgd.takeError());
  EXPECT_EQ(sgd->momentum, 0.5);
  EXPECT_TRUE(sgd->nesterov);
  EXPECT_FALSE(sgd->learningRate);
  EXPECT_EQ(sgd->learningRateOrDefault(), 0.01); // Keras' SGD default

  EXPECT_NE(message(parseOptimizerSpec("adam:beta_9=3").takeError())
                .find("--optimizer: unknown setting 'beta_9=3' (known: "
                      "learning_rate, momentum"),
            std::string::npos);
  EXPECT_NE(message(parseOptimizerSpec("adam:beta_1").takeError())
                .find("unknown setting 'beta_1'"),
            std::string::npos);
  EXPECT_NE(message(parseOptimizerSpec("adam:learning_rate=abc").takeError())
                .find("learning_rate must be a number, got 'abc'"),
            std::string::npos);
  EXPECT_EQ(parseMetricList(" accuracy, ,mae"),
            (std::vector<std::string>{"accuracy", "mae"}));
  // The settings written are recorded as given, in order.
  EXPECT_EQ(optimizer->given,
            (std::vector<std::string>{"learning_rate", "beta_1", "beta_2",
                                      "epsilon"}));
  // A key twice, and booleans other than true / false / 1 / 0.
  EXPECT_EQ(message(parseOptimizerSpec("adam:learning_rate=1,learning_rate=2")
                        .takeError()),
            "--optimizer: learning_rate is given twice");
  EXPECT_EQ(message(parseOptimizerSpec("sgd:nesterov=-3").takeError()),
            "--optimizer: nesterov must be true or false (1 or 0), got '-3'");
  EXPECT_EQ(message(parseOptimizerSpec("rmsprop:centered=7").takeError()),
            "--optimizer: centered must be true or false (1 or 0), got '7'");
  ASSERT_TRUE(bool(parseOptimizerSpec("rmsprop:centered=1")));

  // --optimizer, --metrics, --from-logits replace parts of a
  // compile_config; the convention always comes from the command line.
  TrainingConfig base;
  base.loss = "binary_crossentropy";
  base.metrics = {"accuracy"};
  base.optimizer.name = "rmsprop";
  TrainingOverrides overrides;
  overrides.optimizer = *optimizer;
  overrides.convention = "pytorch";
  TrainingConfig merged = overrides.applyTo(base);
  EXPECT_EQ(merged.loss, "binary_crossentropy");
  EXPECT_EQ(merged.metrics, base.metrics);
  EXPECT_EQ(merged.optimizer.name, "adam");
  EXPECT_EQ(merged.optimizer.learningRate, 0.0123);
  EXPECT_EQ(merged.convention, "pytorch");
}

TEST(TrainingConfigTest, CommandLineFlags) {
  // kilnc --loss=mse --optimizer=adam:learning_rate=0.0123,beta_1=0.8
  //       --metrics=mae --convention=pytorch: the whole training step.
  TrainingFlags flags;
  flags.loss = "mse";
  flags.optimizer = "adam:learning_rate=0.0123,beta_1=0.8";
  flags.metrics = "mae";
  flags.convention = "pytorch";
  CompileOptions options;
  ASSERT_FALSE(applyTrainingFlags(flags, options));
  ASSERT_TRUE(options.training);
  EXPECT_EQ(options.training->loss, "mse");
  EXPECT_EQ(options.training->metrics, std::vector<std::string>{"mae"});
  EXPECT_EQ(options.training->optimizer.name, "adam");
  EXPECT_EQ(options.training->optimizer.learningRate, 0.0123);
  EXPECT_EQ(options.training->optimizer.beta1, 0.8);
  EXPECT_EQ(options.training->convention, "pytorch");

  // --loss alone: sgd with Keras' defaults.
  TrainingFlags lossOnly;
  lossOnly.loss = "mse";
  CompileOptions sgd;
  ASSERT_FALSE(applyTrainingFlags(lossOnly, sgd));
  EXPECT_EQ(sgd.training->optimizer.name, "sgd");
  EXPECT_FALSE(sgd.training->optimizer.learningRate);
  EXPECT_EQ(sgd.training->convention, "keras");

  // Without --loss: overrides of a compile_config, only what was given.
  TrainingFlags parts;
  parts.metrics = "";
  parts.fromLogits = true;
  CompileOptions merged;
  ASSERT_FALSE(applyTrainingFlags(parts, merged));
  EXPECT_FALSE(merged.training);
  EXPECT_FALSE(merged.overrides.optimizer);
  ASSERT_TRUE(merged.overrides.metrics);
  EXPECT_TRUE(merged.overrides.metrics->empty());
  EXPECT_EQ(merged.overrides.fromLogits, true);

  TrainingFlags empty;
  empty.loss = "";
  CompileOptions unused;
  EXPECT_EQ(message(applyTrainingFlags(empty, unused)),
            "--loss needs a loss name");

  // --lr-schedule: both spellings give the same canonical schedule and the
  // rate at step 0 (float32(0.1) for ExponentialDecay at step 0).
  const char *canonical =
      "{\"class_name\": \"ExponentialDecay\", \"config\": "
      "{\"initial_learning_rate\": 0.10000000000000001, \"decay_steps\": "
      "100, \"decay_rate\": 0.5, \"staircase\": true}}";
  for (const char *spec :
       {"ExponentialDecay:initial_learning_rate=0.1,decay_steps=100,"
        "decay_rate=0.5,staircase=true",
        "{\"module\": \"keras.optimizers.schedules\", \"class_name\": "
        "\"ExponentialDecay\", \"config\": {\"initial_learning_rate\": 0.1, "
        "\"decay_steps\": 100, \"decay_rate\": 0.5, \"staircase\": true, "
        "\"name\": null}, \"registered_name\": null}"}) {
    TrainingFlags scheduled;
    scheduled.loss = "mse";
    scheduled.optimizer = "adam";
    scheduled.lrSchedule = spec;
    CompileOptions withSchedule;
    ASSERT_FALSE(applyTrainingFlags(scheduled, withSchedule)) << spec;
    EXPECT_EQ(withSchedule.training->optimizer.name, "adam");
    EXPECT_EQ(withSchedule.training->optimizer.learningRate, 0.1f);
    EXPECT_EQ(withSchedule.training->optimizer.learningRateSchedule, canonical);
    // Without --loss it overrides a compile_config's rate or schedule.
    TrainingFlags alone;
    alone.lrSchedule = spec;
    CompileOptions overriding;
    ASSERT_FALSE(applyTrainingFlags(alone, overriding));
    TrainingConfig keras;
    keras.optimizer.name = "rmsprop";
    keras.optimizer.learningRate = 0.5;
    TrainingConfig applied = overriding.overrides.applyTo(keras);
    EXPECT_EQ(applied.optimizer.name, "rmsprop");
    EXPECT_EQ(applied.optimizer.learningRateSchedule, canonical);
    EXPECT_EQ(applied.optimizer.learningRate, 0.1f);
  }
  TrainingFlags both;
  both.optimizer = "adam:learning_rate=0.1";
  both.lrSchedule = "CosineDecay:initial_learning_rate=0.1,decay_steps=10";
  CompileOptions clash;
  EXPECT_EQ(message(applyTrainingFlags(both, clash)),
            "give --optimizer's learning_rate or --lr-schedule, not both");
  TrainingFlags bad;
  CompileOptions fresh;
  bad.lrSchedule = "CosineDecay:initial_learning_rate=0.1";
  EXPECT_EQ(message(applyTrainingFlags(bad, fresh)),
            "--lr-schedule: CosineDecay needs decay_steps");
  bad.lrSchedule = "{\"class_name\": \"CosineDecay\", \"config\": "
                   "{\"initial_learning_rate\": 0.1, \"decay_steps\": 10, "
                   "\"t_mul\": 2}}";
  EXPECT_EQ(message(applyTrainingFlags(bad, fresh)),
            "--lr-schedule: 't_mul' is not an argument of CosineDecay (it "
            "takes initial_learning_rate, decay_steps, alpha, warmup_target, "
            "warmup_steps, name)");
  bad.lrSchedule = "PiecewiseConstantDecay:boundaries=[1,x],values=[1,2,3]";
  EXPECT_EQ(message(applyTrainingFlags(bad, fresh)),
            "--lr-schedule: boundaries: 'x' in a list is not a number");
}

TEST(TrainingConfigTest, KerasAdapter) {
  auto context = makeContext();
  // A Keras 3 Sequential model with a compile_config, parsed by llvm::json
  // and imported by the Keras importer, which records kiln.compile_config.
  auto json = llvm::json::parse(R"({
    "class_name": "Sequential",
    "config": {"name": "m", "layers": [
      {"class_name": "InputLayer",
       "config": {"name": "input", "batch_shape": [null, 3]}},
      {"class_name": "Dense",
       "config": {"name": "out", "units": 2, "activation": "softmax"}}]},
    "compile_config": {
      "loss": {"class_name": "CategoricalCrossentropy",
               "config": {"from_logits": true}},
      "metrics": ["accuracy"],
      "optimizer": {"class_name": "AdamW",
                    "config": {"name": "adamw", "learning_rate": 0.0123,
                               "beta_1": 0.8, "weight_decay": 0.02,
                               "clipvalue": 1.5, "amsgrad": false,
                               "use_ema": false, "ema_momentum": 0.99}}}
  })");
  ASSERT_TRUE(bool(json)) << message(json.takeError());
  ImportOptions options;
  auto module = importKerasConfig(*json, "test.json", context.get(), options);
  ASSERT_TRUE(module);
  auto attr =
      getOpAttr<KilnDialect::CompileConfigAttrHelper>(module->getOperation());
  ASSERT_TRUE(attr);
  auto config = trainingConfigFromCompileConfig(attr);
  ASSERT_TRUE(bool(config)) << message(config.takeError());
  EXPECT_EQ(config->loss, "categorical_crossentropy");
  EXPECT_TRUE(config->fromLogits);
  EXPECT_EQ(config->metrics, std::vector<std::string>{"accuracy"});
  EXPECT_EQ(config->optimizer.name, "adamw");
  EXPECT_EQ(config->optimizer.learningRate, 0.0123);
  EXPECT_EQ(config->optimizer.beta1, 0.8);
  EXPECT_EQ(config->optimizer.weightDecay, 0.02);
  EXPECT_EQ(config->optimizer.clipValue, 1.5);
  EXPECT_TRUE(config->optimizer.notes.empty());
  EXPECT_FALSE(config->validate());

  // A setting kiln lacks is an error naming it once it is on.
  mlir::Builder b(context.get());
  auto with = [&](llvm::StringRef key, mlir::Attribute value) {
    mlir::NamedAttrList options(
        attr.getAs<mlir::DictionaryAttr>("optimizer_config"));
    options.set(key, value);
    mlir::NamedAttrList top(attr);
    top.set("optimizer_config", options.getDictionary(context.get()));
    return top.getDictionary(context.get());
  };
  EXPECT_NE(message(trainingConfigFromCompileConfig(
                        with("amsgrad", b.getBoolAttr(true)))
                        .takeError())
                .find("kiln.compile_config: optimizer option 'amsgrad' is "
                      "not supported by kiln"),
            std::string::npos);
  // A schedule: its canonical JSON for the program, its rate at step 0 as
  // the learning rate, no note.
  auto exponential = [&](mlir::Attribute decaySteps) {
    llvm::SmallVector<mlir::NamedAttribute> config = {
        b.getNamedAttr("initial_learning_rate", b.getF64FloatAttr(0.1)),
        b.getNamedAttr("decay_rate", b.getF64FloatAttr(0.5))};
    if (decaySteps)
      config.push_back(b.getNamedAttr("decay_steps", decaySteps));
    return b.getDictionaryAttr(
        {b.getNamedAttr("class_name", b.getStringAttr("ExponentialDecay")),
         b.getNamedAttr("config", b.getDictionaryAttr(config))});
  };
  auto scheduled = trainingConfigFromCompileConfig(
      with("learning_rate", exponential(b.getI64IntegerAttr(10))));
  ASSERT_TRUE(bool(scheduled)) << message(scheduled.takeError());
  EXPECT_EQ(scheduled->optimizer.learningRate, 0.1f);
  EXPECT_TRUE(scheduled->optimizer.notes.empty());
  EXPECT_EQ(scheduled->optimizer.learningRateSchedule,
            "{\"class_name\": \"ExponentialDecay\", \"config\": "
            "{\"initial_learning_rate\": 0.10000000000000001, "
            "\"decay_steps\": 10, \"decay_rate\": 0.5, \"staircase\": false}}");
  // A missing or bad argument is an error naming its JSON path.
  EXPECT_EQ(message(trainingConfigFromCompileConfig(
                        with("learning_rate", exponential({})))
                        .takeError()),
            "compile_config.optimizer.config.learning_rate "
            "(ExponentialDecay): ExponentialDecay needs decay_steps");
  EXPECT_EQ(
      message(trainingConfigFromCompileConfig(
                  with("learning_rate", exponential(b.getStringAttr("10"))))
                  .takeError()),
      "compile_config.optimizer.config.learning_rate.config."
      "decay_steps is invalid: decay_steps must be a finite number, "
      "got \"10\"");
  // Values are checked by the one validation.
  auto negative = trainingConfigFromCompileConfig(
      with("learning_rate", b.getF64FloatAttr(-0.5)));
  ASSERT_TRUE(bool(negative)) << message(negative.takeError());
  EXPECT_NE(message(negative->validate())
                .find("the learning rate -5.000000e-01 is not a finite "
                      "non-negative number"),
            std::string::npos);
}

TEST(TrainingConfigTest, BuilderAdapter) {
  kiln::Optimizer adam = kiln::Optimizer::Adam(0.0123, 0.8, 0.99, 1e-3);
  adam.hyperparameters["clipvalue"] = 2.0;
  auto config = kiln::toTrainingConfig({"mse"}, adam, {"mae"});
  ASSERT_TRUE(bool(config)) << message(config.takeError());
  EXPECT_EQ(config->loss, "mse");
  EXPECT_EQ(config->optimizer.name, "adam");
  EXPECT_EQ(config->optimizer.learningRate, 0.0123);
  EXPECT_EQ(config->optimizer.beta1, 0.8);
  EXPECT_EQ(config->optimizer.beta2, 0.99);
  EXPECT_EQ(config->optimizer.epsilon, 1e-3);
  EXPECT_EQ(config->optimizer.clipValue, 2.0);
  EXPECT_EQ(config->metrics, std::vector<std::string>{"mae"});

  // A hyperparameter the optimizer does not read is an error naming both.
  kiln::Optimizer adamMomentum = kiln::Optimizer::Adam();
  adamMomentum.hyperparameters["momentum"] = 0.9;
  EXPECT_NE(
      message(kiln::toTrainingConfig({"mse"}, adamMomentum, {}).takeError())
          .find("momentum does not apply to adam (it applies to: sgd, "
                "rmsprop)"),
      std::string::npos);
  kiln::Optimizer nesterov = kiln::Optimizer::SGD(0.01, 0.9);
  nesterov.hyperparameters["nesterov"] = 2;
  EXPECT_NE(message(kiln::toTrainingConfig({"mse"}, nesterov, {}).takeError())
                .find("nesterov must be true or false (1 or 0), got "
                      "2.000000e+00"),
            std::string::npos);
  // The learning rate: finite and >= 0, as every adapter.
  EXPECT_NE(
      message(kiln::toTrainingConfig({"mse"}, kiln::Optimizer::SGD(-1), {})
                  .takeError())
          .find("is not a finite non-negative number"),
      std::string::npos);
  EXPECT_TRUE(
      bool(kiln::toTrainingConfig({"mse"}, kiln::Optimizer::SGD(0), {})));

  kiln::Optimizer unknown = kiln::Optimizer::SGD();
  unknown.hyperparameters["beta_9"] = 1;
  EXPECT_NE(message(kiln::toTrainingConfig({"mse"}, unknown, {}).takeError())
                .find("unknown optimizer setting 'beta_9'"),
            std::string::npos);
  EXPECT_NE(message(kiln::toTrainingConfig({"sparse_categorical_crossentropy"},
                                           kiln::Optimizer(), {"mae"})
                        .takeError())
                .find("metric 'mae' compares the predictions with labels of "
                      "their shape"),
            std::string::npos);
}

TEST(TrainingConfigTest, Validation) {
  TrainingConfig config;
  config.loss = "mse";
  EXPECT_FALSE(config.validate());
  auto check = [&](TrainingConfig c, const char *expected) {
    std::string text = message(c.validate());
    EXPECT_NE(text.find(expected), std::string::npos) << text;
  };
  TrainingConfig c = config;
  c.loss = "hinge";
  check(c, "unknown loss 'hinge' (known:");
  c = config;
  c.metrics = {"bogus"};
  check(c, "unknown metric 'bogus'");
  c = config;
  c.metrics = {"sparse_categorical_accuracy"};
  check(c, "needs integer labels");
  c = config;
  c.optimizer.name = "adamx";
  check(c, "unknown optimizer 'adamx'");
  c = config;
  c.convention = "jax";
  check(c, "unknown convention 'jax'");
  c = config;
  c.optimizer.momentum = 2;
  check(c, "momentum = 2.000000e+00 is out of range [0, 1]");
  c = config;
  c.optimizer.name = "adam";
  c.optimizer.beta1 = 1;
  check(c, "beta_1 = 1.000000e+00 is out of range [0, 1)");
  c = config;
  c.optimizer.epsilon = -1;
  check(c, "epsilon = -1.000000e+00 is out of range (must be >= 0)");
  c = config;
  c.optimizer.nesterov = true;
  check(c, "nesterov needs sgd with a non-zero momentum");
  c = config;
  c.optimizer.learningRate = NAN;
  check(c, "the learning rate nan is not a finite non-negative number");
  c = config;
  c.optimizer.learningRate = 0; // no gradient step (PyTorch's 0 <= lr)
  EXPECT_FALSE(c.validate());

  // Settings given for an optimizer that does not read them.
  struct Case {
    const char *optimizer, *key;
    double value;
    const char *expected;
  } cases[] = {
      {"adam", "weight_decay", 0.1,
       "weight_decay does not apply to adam (it applies to: adamw)"},
      {"adam", "momentum", 0.9,
       "momentum does not apply to adam (it applies to: sgd, rmsprop)"},
      {"sgd", "beta_1", 0.5,
       "beta_1 does not apply to sgd (it applies to: adam, adamw)"},
      {"sgd", "rho", 0.1, "rho does not apply to sgd (it applies to: rmsprop)"},
      {"sgd", "epsilon", 1e-3,
       "epsilon does not apply to sgd (it applies to: rmsprop, adam, adamw, "
       "adagrad)"},
      {"adagrad", "centered", 1,
       "centered does not apply to adagrad (it applies to: rmsprop)"},
      {"rmsprop", "initial_accumulator_value", 0.2,
       "initial_accumulator_value does not apply to rmsprop (it applies to: "
       "adagrad)"},
      {"adamw", "nesterov", 0,
       "nesterov does not apply to adamw (it applies to: sgd)"},
  };
  for (const Case &k : cases) {
    c = config;
    c.optimizer.name = k.optimizer;
    ASSERT_FALSE(c.optimizer.set(k.key, k.value));
    check(c, k.expected);
  }
  // Every optimizer takes what its update reads, and the shared settings.
  for (const char *name : {"sgd", "rmsprop", "adam", "adamw", "adagrad"}) {
    c = config;
    c.optimizer.name = name;
    for (llvm::StringRef key :
         OptimizerConfig::settingsOf(*parseOptimizerName(name)))
      if (key != "nesterov") // needs a momentum
        ASSERT_FALSE(c.optimizer.set(key, key == "centered" ? 1.0 : 0.5));
    EXPECT_FALSE(c.validate()) << name;
    for (llvm::StringRef shared :
         {"learning_rate", "clipvalue", "global_clipnorm"})
      EXPECT_TRUE(llvm::is_contained(
          OptimizerConfig::settingsOf(*parseOptimizerName(name)), shared));
  }
  // Metrics: a metric twice (also under two names) is an error.
  c = config;
  c.metrics = {"mae", "mae"};
  check(c, "metric 'mae' is given twice");
  c = config;
  c.loss = "binary_crossentropy";
  c.metrics = {"acc", "binary_accuracy"};
  check(c, "metric 'binary_accuracy' is given twice (as 'acc' and "
           "'binary_accuracy')");

  // Defaults by convention.
  OptimizerConfig adagrad;
  adagrad.name = "adagrad";
  auto keras = resolveOptimizer(adagrad, "keras");
  auto torch = resolveOptimizer(adagrad, "pytorch");
  ASSERT_TRUE(keras && torch);
  EXPECT_EQ(keras->epsilon, 1e-7);
  EXPECT_EQ(keras->initialAccumulator, 0.1);
  EXPECT_EQ(torch->epsilon, 1e-10);
  EXPECT_EQ(torch->initialAccumulator, 0.0);
}

TEST(TrainingConfigTest, PipelineOptionsNameEverySetting) {
  // kiln-opt's --kiln-training-pipeline takes every optimizer setting but
  // the learning rate (a runtime argument) under the TrainingConfig's name,
  // and converts in one function.
  for (llvm::StringRef name : OptimizerConfig::settingNames()) {
    if (name == "learning_rate")
      continue;
    bool flag = name == "nesterov" || name == "centered";
    auto options = TrainingPipelineOptions::createFromString(
        (name + (flag ? "=1" : "=0.5")).str());
    ASSERT_TRUE(options) << name.str();
    TrainingConfig config = toTrainingConfig(*options);
    // Only the option written is a setting given.
    EXPECT_EQ(config.optimizer.given, std::vector<std::string>{name.str()});
    OptimizerConfig expected;
    ASSERT_FALSE(expected.set(name, flag ? 1.0 : 0.5));
    const OptimizerConfig &o = config.optimizer;
    EXPECT_EQ(o.momentum, expected.momentum) << name.str();
    EXPECT_EQ(o.nesterov, expected.nesterov) << name.str();
    EXPECT_EQ(o.rho, expected.rho) << name.str();
    EXPECT_EQ(o.centered, expected.centered) << name.str();
    EXPECT_EQ(o.beta1, expected.beta1) << name.str();
    EXPECT_EQ(o.beta2, expected.beta2) << name.str();
    EXPECT_EQ(o.epsilon, expected.epsilon) << name.str();
    EXPECT_EQ(o.weightDecay, expected.weightDecay) << name.str();
    EXPECT_EQ(o.initialAccumulatorValue, expected.initialAccumulatorValue)
        << name.str();
    EXPECT_EQ(o.clipValue, expected.clipValue) << name.str();
    EXPECT_EQ(o.globalClipNorm, expected.globalClipNorm) << name.str();
  }
  auto options = TrainingPipelineOptions::createFromString(
      "loss=mse metrics=mae,mse optimizer=rmsprop convention=pytorch");
  ASSERT_TRUE(options);
  TrainingConfig config = toTrainingConfig(*options);
  EXPECT_TRUE(config.optimizer.given.empty());
  EXPECT_EQ(config.loss, "mse");
  EXPECT_EQ(config.metrics, (std::vector<std::string>{"mae", "mse"}));
  EXPECT_EQ(config.optimizer.name, "rmsprop");
  EXPECT_EQ(config.convention, "pytorch");
  EXPECT_FALSE(config.optimizer.epsilon); // -1: the convention's default
}

/// y = x W + b on 4 features, batch 8.
const char *kLinearModel = R"mlir(
func.func @forward(%w: tensor<4x1xf32> {kiln.param = "w", kiln.trainable,
                                        kiln.initializer = {name = "ones"}},
                   %b: tensor<1xf32> {kiln.param = "b", kiln.trainable},
                   %x: tensor<8x4xf32> {kiln.name = "x"})
    -> (tensor<8x1xf32> {kiln.name = "y"}) {
  %0 = kiln.matmul %x, %w : tensor<8x4xf32>, tensor<4x1xf32> -> tensor<8x1xf32>
  %1 = kiln.broadcast_in_dim %b, dims = [1] : tensor<1xf32> -> tensor<8x1xf32>
  %2 = kiln.add %0, %1 : tensor<8x1xf32>
  return %2 : tensor<8x1xf32>
}
)mlir";

TEST(CompileTest, JitModelManifestAndSession) {
  auto context = makeContext();
  auto module =
      mlir::parseSourceString<mlir::ModuleOp>(kLinearModel, context.get());
  ASSERT_TRUE(module);
  CompileOptions options;
  options.name = "lin";
  options.source = "linear.mlir";
  options.seed = 5;
  TrainingConfig config;
  config.loss = "mse";
  config.metrics = {"mae"};
  auto optimizer = parseOptimizerSpec("sgd:learning_rate=0.0123,momentum=0.5");
  ASSERT_TRUE(bool(optimizer)) << message(optimizer.takeError());
  config.optimizer = *optimizer;
  options.training = config;
  auto jit = compileToJit(*module, options);
  ASSERT_TRUE(bool(jit)) << message(jit.takeError());

  // The learning rate and the optimizer reach the manifest.
  auto manifest = llvm::json::parse((*jit)->manifest);
  ASSERT_TRUE(bool(manifest)) << message(manifest.takeError());
  const llvm::json::Object *training =
      manifest->getAsObject()->getObject("training");
  ASSERT_TRUE(training);
  EXPECT_EQ(training->getNumber("learning_rate"), 0.0123);
  EXPECT_EQ(training->getString("optimizer"), "sgd");
  EXPECT_EQ(manifest->getAsObject()->getInteger("seed"), 5);
  const kiln_model_t &model = (*jit)->model;
  EXPECT_EQ(model.abi_version, unsigned(KILN_MODEL_ABI_VERSION));
  ASSERT_TRUE(model.train_step && model.eval_step && model.predict);

  // A session on the in-memory descriptor.
  kiln_session_t *session = nullptr;
  char error[256] = "";
  ASSERT_EQ(kiln_session_create(&model, 5, &session, error, sizeof error),
            KILN_OK)
      << error;
  EXPECT_EQ(kiln_session_batch_size(session), 8);
  ASSERT_EQ(kiln_session_metric_count(session), 2);
  EXPECT_STREQ(kiln_session_metric_name(session, 1), "mae");
  double values[2];
  EXPECT_EQ(kiln_session_last_epoch_metrics(session, values),
            KILN_ERROR_INVALID_ARGUMENT); // no epoch yet

  // Parameters: "w" from its ones initializer, "b" zeros.
  void *data = nullptr;
  kiln_dtype_t dtype;
  int64_t count = 0;
  ASSERT_EQ(kiln_session_parameter(session, "w", &data, &dtype, &count),
            KILN_OK);
  EXPECT_EQ(dtype, KILN_DTYPE_F32);
  ASSERT_EQ(count, 4);
  float *w = static_cast<float *>(data);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(w[i], 1.0f);
  EXPECT_EQ(kiln_session_parameter(session, "nope", &data, &dtype, &count),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kiln_session_error(session)).find("parameters: w, b"),
            std::string::npos);

  // Writing a parameter changes predictions: zero weights predict b = 0.
  for (int i = 0; i < 4; ++i)
    w[i] = 0.0f;
  std::vector<float> xs(10 * 4, 1.0f), ys(10, 2.0f);
  kiln_array_t x = {}, y = {};
  x.dtype = KILN_DTYPE_F32;
  x.rank = 2;
  x.shape[0] = 10;
  x.shape[1] = 4;
  x.data = xs.data();
  x.nbytes = xs.size() * sizeof(float);
  y.dtype = KILN_DTYPE_F32;
  y.rank = 2;
  y.shape[0] = 10;
  y.shape[1] = 1;
  y.data = ys.data();
  y.nbytes = ys.size() * sizeof(float);
  kiln_array_t *predictions = nullptr;
  ASSERT_EQ(kiln_session_predict(session, &x, &predictions), KILN_OK);
  EXPECT_EQ(static_cast<float *>(predictions->data)[9], 0.0f);
  kiln_array_destroy(predictions);

  // One epoch from w = 0, b = 0 on y = 2: the epoch's loss is evaluate's
  // before training, (2 - 0)^2 = 4, mae 2 (the step happens after the
  // forward pass of the batch, two batches: 8 + 2 padded rows).
  double before[2];
  ASSERT_EQ(kiln_session_evaluate(session, &x, &y, before), KILN_OK);
  EXPECT_DOUBLE_EQ(before[0], 4.0);
  kiln_fit_options_t fit;
  kiln_fit_options_init(&fit);
  fit.shuffle = 0;
  ASSERT_EQ(kiln_session_fit(session, &x, &y, &fit, nullptr), KILN_OK)
      << kiln_session_error(session);
  ASSERT_EQ(kiln_session_last_epoch_metrics(session, values), KILN_OK);
  EXPECT_LT(values[0], 4.0);
  EXPECT_GT(values[0], 0.0);
  EXPECT_GT(values[1], 0.0);
  double after[2];
  ASSERT_EQ(kiln_session_evaluate(session, &x, &y, after), KILN_OK);
  EXPECT_LT(after[0], values[0]); // still improving

  // The learning rate follows the compiler's rule: finite and >= 0;
  // negative (kiln_fit_options_init's default) is the model's. 0 is a rate,
  // not the model's: with this SGD momentum the parameters move by the
  // velocity alone (Keras: v <- 0.5 v, w <- w + v), and with two steps an
  // epoch, each epoch's change is a quarter of the one before.
  EXPECT_LT(fit.learning_rate, 0.0);
  fit.learning_rate = NAN;
  EXPECT_NE(kiln_session_fit(session, &x, &y, &fit, nullptr), KILN_OK);
  EXPECT_NE(std::string(kiln_session_error(session))
                .find("learning_rate must be finite"),
            std::string::npos);
  auto weights = [&] {
    void *p = nullptr;
    EXPECT_EQ(kiln_session_parameter(session, "w", &p, &dtype, &count),
              KILN_OK);
    const float *f = static_cast<const float *>(p);
    return std::vector<float>(f, f + count);
  };
  std::vector<float> w0 = weights();
  fit.learning_rate = 0;
  ASSERT_EQ(kiln_session_fit(session, &x, &y, &fit, nullptr), KILN_OK)
      << kiln_session_error(session);
  std::vector<float> w1 = weights();
  ASSERT_EQ(kiln_session_fit(session, &x, &y, &fit, nullptr), KILN_OK)
      << kiln_session_error(session);
  std::vector<float> w2 = weights();
  for (int i = 0; i < 4; ++i) {
    float d1 = w1[i] - w0[i], d2 = w2[i] - w1[i];
    EXPECT_NE(d1, 0.0f) << i;
    EXPECT_NEAR(d2, d1 / 4, 1e-3 * std::fabs(d1) + 1e-7) << i;
  }
  kiln_session_destroy(session);
}

} // namespace

/// The tensor `name` of `kind` in `abi`, or null.
static const AbiTensor *findTensor(const EntryPointAbi &abi,
                                   kiln_tensor_kind_t kind,
                                   const std::string &name) {
  for (const AbiTensor &t : abi.tensors)
    if (t.kind == kind && t.name == name)
      return &t;
  return nullptr;
}

// --data-parallel: grad_step followed by apply_step (the gradients copied
// from grad_step's outputs to apply_step's inputs, as the driver does
// between them with the allreduce) updates params and optimizer state like
// train_step, over two steps of SGD with momentum and global_clipnorm (so
// the momentum slot, the step counter and the clipping are exercised),
// with padded rows of sample weight 0.
TEST(CompileTest, DataParallelHalvesEqualTrainStep) {
  auto context = makeContext();
  auto module =
      mlir::parseSourceString<mlir::ModuleOp>(kLinearModel, context.get());
  ASSERT_TRUE(module);
  CompileOptions options;
  options.name = "lin";
  options.dataParallel = true;
  TrainingConfig config;
  config.loss = "mse";
  auto optimizer = parseOptimizerSpec("sgd:learning_rate=0.05,momentum=0.9,"
                                      "global_clipnorm=0.5");
  ASSERT_TRUE(bool(optimizer)) << message(optimizer.takeError());
  config.optimizer = *optimizer;
  options.training = config;
  auto jit = compileToJit(*module, options);
  ASSERT_TRUE(bool(jit)) << message(jit.takeError());
  const kiln_model_t &model = (*jit)->model;
  ASSERT_TRUE(model.train_step && model.grad_step && model.apply_step);
  const EntryPointAbi *train = nullptr, *grad = nullptr, *apply = nullptr;
  kiln_region_sizes_t sizes = {};
  for (const EntryPointAbi &e : (*jit)->abi) {
    if (e.symbol == "lin_train_step")
      train = &e;
    if (e.symbol == "lin_grad_step")
      grad = &e;
    if (e.symbol == "lin_apply_step")
      apply = &e;
    sizes.params_size = std::max<size_t>(sizes.params_size, e.paramsSize);
    sizes.opt_state_size =
        std::max<size_t>(sizes.opt_state_size, e.optStateSize);
    sizes.io_size = std::max<size_t>(sizes.io_size, e.ioSize);
    sizes.scratch_size = std::max<size_t>(sizes.scratch_size, e.scratchSize);
  }
  ASSERT_TRUE(train && grad && apply);
  auto manifest = llvm::json::parse((*jit)->manifest);
  ASSERT_TRUE(bool(manifest)) << message(manifest.takeError());
  const llvm::json::Object *entries =
      manifest->getAsObject()->getObject("entry_points");
  ASSERT_TRUE(entries && entries->get("grad_step") &&
              entries->get("apply_step"));

  kiln_regions_t *one = nullptr, *two = nullptr;
  ASSERT_EQ(kiln_regions_create(&sizes, &one), KILN_OK);
  ASSERT_EQ(kiln_regions_create(&sizes, &two), KILN_OK);
  auto at = [](kiln_regions_t *r, const AbiTensor *t) {
    void *base = t->region == KILN_REGION_PARAMS      ? r->params
                 : t->region == KILN_REGION_OPT_STATE ? r->opt_state
                                                      : r->io;
    return reinterpret_cast<float *>(static_cast<char *>(base) + t->offset);
  };
  // Same initial parameters in both (params and opt_state have one layout).
  const AbiTensor *w = findTensor(*train, KILN_TENSOR_PARAM, "w");
  const AbiTensor *b = findTensor(*train, KILN_TENSOR_PARAM, "b");
  ASSERT_TRUE(w && b);
  for (kiln_regions_t *r : {one, two}) {
    float *wv = at(r, w);
    for (int i = 0; i < 4; ++i)
      wv[i] = 0.25f * (i + 1);
    *at(r, b) = -0.5f;
  }
  auto feed = [&](kiln_regions_t *r, const EntryPointAbi &e, int step) {
    float *x = at(r, findTensor(e, KILN_TENSOR_INPUT, "x"));
    float *y = at(r, findTensor(e, KILN_TENSOR_INPUT, "labels"));
    float *sw = at(r, findTensor(e, KILN_TENSOR_INPUT, "sample_weight"));
    for (int i = 0; i < 32; ++i)
      x[i] = std::sin(0.7f * i + step);
    for (int i = 0; i < 8; ++i) {
      y[i] = std::cos(1.3f * i - step);
      sw[i] = i < 6 ? 1.0f : 0.0f;
    }
    if (const AbiTensor *lr = findTensor(e, KILN_TENSOR_INPUT, "learning_rate"))
      *at(r, lr) = 0.05f;
  };
  for (int step = 0; step < 2; ++step) {
    feed(one, *train, step);
    ASSERT_EQ(kiln_regions_call(one, nullptr, model.train_step), KILN_OK);
    float trainLoss = *at(one, findTensor(*train, KILN_TENSOR_OUTPUT, "loss"));

    feed(two, *grad, step);
    ASSERT_EQ(kiln_regions_call(two, nullptr, model.grad_step), KILN_OK);
    EXPECT_NEAR(*at(two, findTensor(*grad, KILN_TENSOR_OUTPUT, "loss")),
                trainLoss, 1e-6f * std::fabs(trainLoss));
    std::vector<float> grads;
    for (const char *name : {"grad/w", "grad/b"}) {
      const AbiTensor *g = findTensor(*grad, KILN_TENSOR_OUTPUT, name);
      ASSERT_TRUE(g) << name;
      float *v = at(two, g);
      int64_t n = g->shape.empty() ? 1 : g->shape[0];
      grads.insert(grads.end(), v, v + n);
    }
    size_t k = 0;
    for (const char *name : {"grad/w", "grad/b"}) {
      const AbiTensor *g = findTensor(*apply, KILN_TENSOR_INPUT, name);
      ASSERT_TRUE(g) << name;
      int64_t n = g->shape.empty() ? 1 : g->shape[0];
      std::copy(grads.begin() + k, grads.begin() + k + n, at(two, g));
      k += n;
    }
    *at(two, findTensor(*apply, KILN_TENSOR_INPUT, "learning_rate")) = 0.05f;
    ASSERT_EQ(kiln_regions_call(two, nullptr, model.apply_step), KILN_OK);
  }
  for (const AbiTensor &t : train->tensors) {
    if (t.region == KILN_REGION_IO)
      continue;
    int64_t n = 1;
    for (int64_t d : t.shape)
      n *= d;
    if (t.dtype == "f64") {
      EXPECT_EQ(*reinterpret_cast<double *>(at(one, &t)),
                *reinterpret_cast<double *>(at(two, &t)))
          << t.name;
      continue;
    }
    for (int64_t i = 0; i < n; ++i)
      EXPECT_NEAR(at(one, &t)[i], at(two, &t)[i],
                  1e-6f * std::max(1.0f, std::fabs(at(one, &t)[i])))
          << t.name << "[" << i << "]";
  }
  // The step counter advanced twice, and the update moved w.
  EXPECT_EQ(*reinterpret_cast<double *>(
                at(two, findTensor(*apply, KILN_TENSOR_OPT_STATE, "step"))),
            2.0);
  EXPECT_NE(at(two, w)[0], 0.25f);
  kiln_regions_destroy(one);
  kiln_regions_destroy(two);
}

// --data-parallel splits a training step; a model without a loss has none,
// so the request is an error rather than a silently inference-only build.
TEST(CompileTest, DataParallelWithoutTrainingIsAnError) {
  auto context = makeContext();
  auto module =
      mlir::parseSourceString<mlir::ModuleOp>(kLinearModel, context.get());
  ASSERT_TRUE(module);
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(context.get(),
                                        [&](mlir::Diagnostic &d) {
                                          diagnostics += d.str() + "\n";
                                          return mlir::success();
                                        });
  CompileOptions options;
  options.name = "lin";
  options.dataParallel = true;
  auto jit = compileToJit(*module, options);
  ASSERT_FALSE(bool(jit));
  EXPECT_NE(message(jit.takeError()).find("deriving the training step"),
            std::string::npos);
  EXPECT_NE(diagnostics.find("data-parallel compilation needs a training "
                             "step, but the model has no loss"),
            std::string::npos)
      << diagnostics;
}
