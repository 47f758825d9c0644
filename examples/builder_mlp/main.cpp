//===- main.cpp - train an MLP with the kiln C++ builder ------------------===//
//
// Defines a 2-16-16-2 MLP with kiln::Sequential, JIT-compiles its training
// step and trains it on a synthetic two-class problem: points drawn
// uniformly from [-1, 1]^2 (std::mt19937, seed 42), class 1 inside the
// circle of radius sqrt(2/pi) (about half of the square), class 0 outside.
// Prints the summary, the per-epoch history and the test accuracy.
//
// Build: scripts/build.sh kiln-builder-example
// Run:   build/bin/kiln-builder-example
//
//===----------------------------------------------------------------------===//

#include "builder/Model.h"

#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstdio>
#include <random>

namespace {
/// `n` points of the circle problem: x is n*2 floats, y n labels.
void makeCircles(size_t n, uint32_t seed, std::vector<float> &x,
                 std::vector<int32_t> &y) {
  std::mt19937 gen(seed);
  const double radius2 = 2.0 / M_PI;
  x.resize(2 * n);
  y.resize(n);
  for (size_t i = 0; i < n; ++i) {
    double a = double(gen()) / 4294967296.0 * 2 - 1;
    double b = double(gen()) / 4294967296.0 * 2 - 1;
    x[2 * i] = static_cast<float>(a);
    x[2 * i + 1] = static_cast<float>(b);
    y[i] = a * a + b * b < radius2 ? 1 : 0;
  }
}

int fail(llvm::Error e) {
  llvm::errs() << "kiln-builder-example: error: "
               << llvm::toString(std::move(e)) << "\n";
  return 1;
}
} // namespace

int main() {
  std::vector<float> xTrain, xTest;
  std::vector<int32_t> yTrain, yTest;
  makeCircles(2000, 42, xTrain, yTrain);
  makeCircles(500, 43, xTest, yTest);

  kiln::Sequential model(
      {kiln::layers::Input({2}), kiln::layers::Dense(16, "relu"),
       kiln::layers::Dense(16, "relu"), kiln::layers::Dense(2, "softmax")});
  model.setSeed(7);
  if (llvm::Error e = model.build(/*batchSize=*/32))
    return fail(std::move(e));
  std::printf("%s\n", model.summary().c_str());
  if (llvm::Error e = model.compile(
          kiln::Loss{"sparse_categorical_crossentropy"},
          kiln::Optimizer::Adam(/*learningRate=*/0.01), {"accuracy"}))
    return fail(std::move(e));

  llvm::Expected<kiln::History> history = model.fit(xTrain, yTrain, 10);
  if (!history)
    return fail(history.takeError());
  for (size_t epoch = 0; epoch < history->epochs(); ++epoch) {
    std::printf("epoch %2zu", epoch + 1);
    for (const std::string &name : history->names)
      std::printf("  %s %.4f", name.c_str(), history->values[name][epoch]);
    std::printf("\n");
  }

  llvm::Expected<kiln::Metrics> test = model.evaluate(xTest, yTest);
  if (!test)
    return fail(test.takeError());
  std::printf("test: loss %.4f  accuracy %.4f\n", (*test)["loss"],
              (*test)["accuracy"]);

  llvm::Expected<std::vector<float>> p =
      model.predict({0.0f, 0.0f, 0.95f, 0.95f});
  if (!p)
    return fail(p.takeError());
  std::printf("P(inside) at (0, 0): %.3f, at (0.95, 0.95): %.3f\n", (*p)[1],
              (*p)[3]);
  return (*test)["accuracy"] > 0.9 ? 0 : 2;
}
