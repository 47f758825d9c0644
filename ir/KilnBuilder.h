//===- KilnBuilder.h - typed IR builders for the frontends ------*- C++ -*-===//
//
// The one way frontends (ONNX, Keras, the C++ builder) build kiln IR:
//   - KilnBuilder: an ImplicitLocOpBuilder with the helpers every importer
//     needs (splat constants, NumPy broadcasting, reshapes);
//   - ForwardFunctionBuilder: `func.func @forward` in the forward form
//     (docs/architecture.md, "Forward form"): parameters with their name,
//     trainability, initializer or stored value, regularizers, adaptation
//     and state; inputs; the step counter; named outputs and state updates.
//     It writes every stage-protocol attribute through the dialect's
//     generated helpers, so no frontend spells an attribute name.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_IR_KILNBUILDER_H
#define KILN_IR_KILNBUILDER_H

#include "ir/KilnDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <optional>
#include <string>

namespace mlir::kiln {

/// kiln ops at one insertion point with one location.
class KilnBuilder : public ImplicitLocOpBuilder {
public:
  using ImplicitLocOpBuilder::ImplicitLocOpBuilder;

  /// A kiln.constant of `type` (a float tensor) with every element `value`.
  Value splat(RankedTensorType type, double value);

  /// `value` broadcast to `shape` by the NumPy rule (trailing axes line
  /// up; kiln.broadcast_in_dim), or `value` itself when it has that shape.
  Value broadcastTo(Value value, ArrayRef<int64_t> shape);

  /// `value` reshaped to `shape` (kiln.reshape, same element count), or
  /// `value` itself when it has that shape.
  Value reshape(Value value, ArrayRef<int64_t> shape);
};

/// A parameter of the forward form: what its attributes say.
struct ParamSpec {
  /// `kiln.param`: the name in checkpoints, headers and manifests.
  std::string name;
  /// `kiln.trainable`: the gradient is taken and the optimizer updates it.
  bool trainable = false;
  /// `kiln.state`: non-trainable state a training step updates through a
  /// result added with ForwardFunctionBuilder::addStateUpdate.
  bool state = false;
  /// `kiln.initializer`: {name = "glorot_uniform", seed = ..., ...}.
  DictionaryAttr initializer;
  /// `kiln.init`: a stored initial value (ONNX initializers).
  DenseElementsAttr initValue;
  /// `kiln.l1` / `kiln.l2`: Keras regularization factors (0: none).
  double l1 = 0, l2 = 0;
  /// `kiln.adapt`: Normalization statistics the driver computes.
  DictionaryAttr adapt;
};

/// Builds a forward function. Arguments may be added in any order while the
/// body is built; finish() orders them as the forward form requires:
/// parameters (in the order added), inputs (in the order added, or the
/// order given to setInputOrder), then the step counter and the sample
/// weights if they were used.
/// Results are the outputs in the order added, then the state updates.
class ForwardFunctionBuilder {
public:
  /// Starts `func.func @<name>` at the end of `module`'s body.
  ForwardFunctionBuilder(ModuleOp module, Location loc,
                         StringRef name = "forward");

  /// The builder for the body, positioned at its end.
  KilnBuilder &builder() { return b; }
  func::FuncOp getFunction() { return func; }

  /// A parameter of `type`.
  Value addParam(RankedTensorType type, const ParamSpec &spec);
  /// A model input of `type` named `name` (`kiln.name`).
  Value addInput(RankedTensorType type, StringRef name);
  /// The step counter (tensor<i64> marked `kiln.step`), created on first
  /// use: train_step feeds it the optimizer's step, the inference forms
  /// remove it.
  Value stepCounter();
  /// Restricts the valid values of integer input `input` (an addInput
  /// result) to [low, high): `kiln.index_range`, intersected with any range
  /// set before (an input read by two embeddings takes the smaller
  /// vocabulary). No effect on values that are not inputs.
  void restrictInputRange(Value input, int64_t low, int64_t high);

  /// The batch's sample weights (`[batchSize]` of `elementType`, marked
  /// `kiln.sample_weight`), created on first use: BatchNorm reads them to
  /// leave the zero-weight rows of a padded batch out of its statistics;
  /// kiln-attach-loss feeds it the loss's sample weights, the inference
  /// forms remove it.
  Value sampleWeights(int64_t batchSize, Type elementType);

  /// The name of input `value`, or null if `value` is not an input.
  StringAttr getInputName(Value value) const;
  /// Reorders the inputs; `order` must hold every input once. Fails (and
  /// changes nothing) otherwise.
  LogicalResult setInputOrder(ArrayRef<Value> order);
  ArrayRef<Value> getInputs() const { return inputs; }

  /// A model output named `name` (`kiln.name`).
  void addOutput(Value value, StringRef name);
  /// The Keras mask `[N, T]` (0/1 floats) of the first output, which the
  /// loss and the metrics weight the steps by (a result marked
  /// `kiln.loss_mask`, placed after the outputs). Set at most once.
  void setLossMask(Value mask) { lossMask = mask; }
  /// The new value of state parameter `param` after a training step (a
  /// result marked `kiln.state_update_of`).
  void addStateUpdate(Value param, Value newValue);

  /// Orders the arguments, sets the function type and attributes, and adds
  /// the return. The function is not verified.
  func::FuncOp finish();

private:
  struct Arg {
    Value value;
    DictionaryAttr attrs;
  };
  KilnBuilder b;
  func::FuncOp func;
  Block *body;
  SmallVector<Arg> params;
  SmallVector<Value> inputs;
  Value lossMask;
  SmallVector<DictionaryAttr> inputAttrs;
  std::optional<Arg> counter;
  std::optional<Arg> weights;
  SmallVector<Value> outputs;
  SmallVector<DictionaryAttr> outputAttrs;
  SmallVector<std::pair<Value, Value>> stateUpdates; // (param, new value)
};

} // namespace mlir::kiln

#endif // KILN_IR_KILNBUILDER_H
