//===- KilnOps.cpp - kiln op verifiers, type inference and folds ----------===//
//
// The C++ hooks of the ops declared in KilnOps.td: result-type inference and
// verifiers (both delegate the shape rules to ShapeInference.h), folders for
// algebraic identities, the FLOP count of matmul and the inference form of
// dropout. The VJP rules are in VJP*.cpp, the scalar bodies of the
// elementwise ops in ElementwiseScalar.cpp.
//
//===----------------------------------------------------------------------===//

#include "ir/KilnOps.h"
#include "ir/ShapeInference.h"
#include "ir/VJP.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/OpImplementation.h"

#include <cmath>

using namespace mlir;
using namespace mlir::kiln;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

namespace {
/// Reports a failed shape rule from a type-inference hook as
/// "'kiln.<op>' op [label] message" at `loc` (when there is one).
template <typename OpTy>
LogicalResult emitRuleError(std::optional<Location> loc, llvm::Error error) {
  std::string message = llvm::toString(std::move(error));
  return emitOptionalError(loc, "'", OpTy::getOperationName(), "' op ",
                           message);
}

/// Same as emitRuleError with a message built here.
template <typename OpTy, typename... Args>
LogicalResult emitLabeledError(std::optional<Location> loc, const char *label,
                               Args &&...args) {
  return emitOptionalError(loc, "'", OpTy::getOperationName(), "' op [", label,
                           "] ", std::forward<Args>(args)...);
}

RankedTensorType tensorType(Value value) {
  return cast<RankedTensorType>(value.getType());
}

/// Builds the inferred result type `shape x elementType`, or reports `error`.
template <typename OpTy>
LogicalResult inferred(std::optional<Location> loc, llvm::Expected<Shape> shape,
                       Type elementType,
                       SmallVectorImpl<Type> &inferredReturnTypes) {
  if (!shape)
    return emitRuleError<OpTy>(loc, shape.takeError());
  inferredReturnTypes.push_back(RankedTensorType::get(*shape, elementType));
  return success();
}

/// True when `attr` is a splat floating-point constant equal to `value`,
/// sign of zero included (-0.0 does not match 0.0).
bool isSplatFloat(Attribute attr, double value) {
  auto splat = dyn_cast_or_null<SplatElementsAttr>(attr);
  if (!splat || !isa<FloatType>(splat.getElementType()))
    return false;
  APFloat element = splat.getSplatValue<APFloat>();
  return element.convertToDouble() == value &&
         element.isNegative() == std::signbit(value);
}
} // namespace

//===----------------------------------------------------------------------===//
// Elementwise binary folds
//===----------------------------------------------------------------------===//

// x + 0 -> x and 0 + x -> x, for +0.0 and -0.0. x + (-0.0) == x exactly;
// x + (+0.0) differs from x only for x = -0.0 (the sum is +0.0), a
// difference invisible to kiln's consumers: comparisons and arithmetic treat
// both zeros alike. Frontends emit +0.0 biases, so folding it matters.
OpFoldResult AddOp::fold(FoldAdaptor adaptor) {
  for (double zero : {0.0, -0.0}) {
    if (isSplatFloat(adaptor.getRhs(), zero))
      return getLhs();
    if (isSplatFloat(adaptor.getLhs(), zero))
      return getRhs();
  }
  return {};
}

// x - (+0.0) == x exactly, including x = -0.0.
OpFoldResult SubOp::fold(FoldAdaptor adaptor) {
  if (isSplatFloat(adaptor.getRhs(), 0.0))
    return getLhs();
  return {};
}

OpFoldResult MulOp::fold(FoldAdaptor adaptor) {
  if (isSplatFloat(adaptor.getRhs(), 1.0))
    return getLhs();
  if (isSplatFloat(adaptor.getLhs(), 1.0))
    return getRhs();
  return {};
}

OpFoldResult DivOp::fold(FoldAdaptor adaptor) {
  if (isSplatFloat(adaptor.getRhs(), 1.0))
    return getLhs();
  return {};
}

//===----------------------------------------------------------------------===//
// Compare and select
//===----------------------------------------------------------------------===//

LogicalResult
CompareOp::inferReturnTypes(MLIRContext *context, std::optional<Location>,
                            Adaptor adaptor,
                            SmallVectorImpl<Type> &inferredReturnTypes) {
  inferredReturnTypes.push_back(
      tensorType(adaptor.getLhs()).clone(IntegerType::get(context, 1)));
  return success();
}

OpFoldResult SelectOp::fold(FoldAdaptor adaptor) {
  if (getOnTrue() == getOnFalse())
    return getOnTrue();
  auto pred = dyn_cast_or_null<SplatElementsAttr>(adaptor.getPred());
  if (!pred)
    return {};
  return pred.getSplatValue<bool>() ? getOnTrue() : getOnFalse();
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

namespace {
template <typename OpTy>
LogicalResult inferReduce(std::optional<Location> loc,
                          typename OpTy::Adaptor adaptor,
                          SmallVectorImpl<Type> &inferredReturnTypes) {
  RankedTensorType input = tensorType(adaptor.getInput());
  return inferred<OpTy>(loc,
                        inferReduceShape(input.getShape(), adaptor.getAxes(),
                                         adaptor.getKeepDims()),
                        input.getElementType(), inferredReturnTypes);
}

/// Reducing over no axes is the identity.
template <typename OpTy> OpFoldResult foldReduce(OpTy op) {
  if (op.getAxes().empty() &&
      op.getInput().getType() == op.getResult().getType())
    return op.getInput();
  return {};
}
} // namespace

#define KILN_DEFINE_REDUCE_HOOKS(OpTy)                                         \
  LogicalResult OpTy::inferReturnTypes(                                        \
      MLIRContext *, std::optional<Location> loc, Adaptor adaptor,             \
      SmallVectorImpl<Type> &inferredReturnTypes) {                            \
    return inferReduce<OpTy>(loc, adaptor, inferredReturnTypes);               \
  }                                                                            \
  OpFoldResult OpTy::fold(FoldAdaptor) { return foldReduce(*this); }

KILN_DEFINE_REDUCE_HOOKS(ReduceSumOp)
KILN_DEFINE_REDUCE_HOOKS(ReduceMeanOp)
KILN_DEFINE_REDUCE_HOOKS(ReduceMaxOp)
#undef KILN_DEFINE_REDUCE_HOOKS

LogicalResult
ArgmaxOp::inferReturnTypes(MLIRContext *context, std::optional<Location> loc,
                           Adaptor adaptor,
                           SmallVectorImpl<Type> &inferredReturnTypes) {
  RankedTensorType input = tensorType(adaptor.getInput());
  return inferred<ArgmaxOp>(loc,
                            inferArgmaxShape(input.getShape(),
                                             adaptor.getAxis(),
                                             adaptor.getKeepDims()),
                            IntegerType::get(context, 64), inferredReturnTypes);
}

//===----------------------------------------------------------------------===//
// Gather and scatter
//===----------------------------------------------------------------------===//

LogicalResult
GatherOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                           Adaptor adaptor,
                           SmallVectorImpl<Type> &inferredReturnTypes) {
  RankedTensorType input = tensorType(adaptor.getInput());
  RankedTensorType indices = tensorType(adaptor.getIndices());
  return inferred<GatherOp>(
      loc,
      inferGatherShape(input.getShape(), indices.getShape(), adaptor.getAxis()),
      input.getElementType(), inferredReturnTypes);
}

LogicalResult
ScatterAddOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                               Adaptor adaptor,
                               SmallVectorImpl<Type> &inferredReturnTypes) {
  RankedTensorType updates = tensorType(adaptor.getUpdates());
  RankedTensorType indices = tensorType(adaptor.getIndices());
  return inferred<ScatterAddOp>(
      loc,
      inferScatterAddShape(updates.getShape(), indices.getShape(),
                           adaptor.getAxis(), adaptor.getSize()),
      updates.getElementType(), inferredReturnTypes);
}

//===----------------------------------------------------------------------===//
// Contraction
//===----------------------------------------------------------------------===//

LogicalResult
MatmulOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                           Adaptor adaptor,
                           SmallVectorImpl<Type> &inferredReturnTypes) {
  RankedTensorType lhs = tensorType(adaptor.getLhs());
  RankedTensorType rhs = tensorType(adaptor.getRhs());
  if (lhs.getElementType() != rhs.getElementType())
    return emitLabeledError<MatmulOp>(
        loc, "matmul_c2",
        "operand element types differ: ", lhs.getElementType(), " vs ",
        rhs.getElementType());
  return inferred<MatmulOp>(loc,
                            inferMatmulShape(lhs.getShape(), rhs.getShape(),
                                             adaptor.getTransposeLhs(),
                                             adaptor.getTransposeRhs()),
                            lhs.getElementType(), inferredReturnTypes);
}

/// 2 M N K per batch element: one multiply and one add per term of each
/// output element's sum.
double MatmulOp::getFlops() {
  auto lhs = tensorType(getLhs());
  int64_t k =
      lhs.getDimSize(getTransposeLhs() ? lhs.getRank() - 2 : lhs.getRank() - 1);
  return 2.0 * countResultElements(*this) * static_cast<double>(k);
}

//===----------------------------------------------------------------------===//
// Convolution and pooling
//===----------------------------------------------------------------------===//

namespace {
/// Checks that `operands` share one element type (conv_c6 / pool_c6).
template <typename OpTy>
LogicalResult checkSameElementType(std::optional<Location> loc,
                                   const char *label, Type a, Type b) {
  if (a != b)
    return emitLabeledError<OpTy>(
        loc, label, "operand element types differ: ", a, " vs ", b);
  return success();
}

/// Verifies that `actual` equals the shape a rule computes, or reports the
/// rule's error or the mismatch under `label` with `what` naming the shape.
LogicalResult checkImpliedShape(Operation *op, llvm::Expected<Shape> implied,
                                ArrayRef<int64_t> actual, const char *label,
                                StringRef what) {
  if (!implied)
    return op->emitOpError(llvm::toString(implied.takeError()));
  if (ArrayRef<int64_t>(*implied) != actual)
    return op->emitOpError("[")
           << label << "] " << what << " must have shape ["
           << llvm::make_range(implied->begin(), implied->end()) << "], got ["
           << actual << "]";
  return success();
}

/// 2 multiply-adds per (output element, filter tap in its group).
double convFlops(ArrayRef<int64_t> output, ArrayRef<int64_t> filter) {
  double taps = 1;
  for (int64_t size : filter.drop_back())
    taps *= static_cast<double>(size);
  double outputs = 1;
  for (int64_t size : output)
    outputs *= static_cast<double>(size);
  return 2.0 * outputs * taps;
}

/// One operation per (output element, window position).
double poolFlops(ArrayRef<int64_t> output, ArrayRef<int64_t> window) {
  double count = 1;
  for (int64_t size : output)
    count *= static_cast<double>(size);
  for (int64_t size : window)
    count *= static_cast<double>(size);
  return count;
}
} // namespace

LogicalResult
ConvOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                         Adaptor adaptor,
                         SmallVectorImpl<Type> &inferredReturnTypes) {
  RankedTensorType input = tensorType(adaptor.getInput());
  RankedTensorType filter = tensorType(adaptor.getFilter());
  if (failed(checkSameElementType<ConvOp>(
          loc, "conv_c6", input.getElementType(), filter.getElementType())))
    return failure();
  ConvWindow window{adaptor.getStrides(), adaptor.getDilations(),
                    adaptor.getPadLow(), adaptor.getPadHigh(),
                    static_cast<int64_t>(adaptor.getGroups())};
  return inferred<ConvOp>(
      loc, inferConvShape(input.getShape(), filter.getShape(), window),
      input.getElementType(), inferredReturnTypes);
}

double ConvOp::getFlops() {
  return convFlops(getResult().getType().getShape(),
                   getFilter().getType().getShape());
}

LogicalResult ConvTransposeOp::verify() {
  RankedTensorType input = getInput().getType();
  if (failed(checkSameElementType<ConvTransposeOp>(
          getLoc(), "conv_c6", input.getElementType(),
          getFilter().getType().getElementType())) ||
      failed(checkSameElementType<ConvTransposeOp>(
          getLoc(), "conv_c6", input.getElementType(),
          getResult().getType().getElementType())))
    return failure();
  return checkImpliedShape(*this,
                           inferConvShape(getResult().getType().getShape(),
                                          getFilter().getType().getShape(),
                                          getWindow()),
                           input.getShape(), "conv_transpose_c1",
                           "the input (the convolution of the result)");
}

double ConvTransposeOp::getFlops() {
  return convFlops(getInput().getType().getShape(),
                   getFilter().getType().getShape());
}

LogicalResult ConvFilterGradOp::verify() {
  RankedTensorType input = getInput().getType();
  if (failed(checkSameElementType<ConvFilterGradOp>(
          getLoc(), "conv_c6", input.getElementType(),
          getOutputGrad().getType().getElementType())) ||
      failed(checkSameElementType<ConvFilterGradOp>(
          getLoc(), "conv_c6", input.getElementType(),
          getResult().getType().getElementType())))
    return failure();
  return checkImpliedShape(
      *this,
      inferConvShape(input.getShape(), getResult().getType().getShape(),
                     getWindow()),
      getOutputGrad().getType().getShape(), "conv_filter_grad_c1",
      "the output gradient (the convolution's result)");
}

double ConvFilterGradOp::getFlops() {
  return convFlops(getOutputGrad().getType().getShape(),
                   getResult().getType().getShape());
}

#define KILN_DEFINE_POOL_HOOKS(OpTy)                                           \
  LogicalResult OpTy::inferReturnTypes(                                        \
      MLIRContext *, std::optional<Location> loc, Adaptor adaptor,             \
      SmallVectorImpl<Type> &inferredReturnTypes) {                            \
    RankedTensorType input = tensorType(adaptor.getInput());                   \
    PoolWindow window{adaptor.getWindow(), adaptor.getStrides(),               \
                      adaptor.getPadLow(), adaptor.getPadHigh(),               \
                      adaptor.getCeilMode()};                                  \
    return inferred<OpTy>(loc, inferPoolShape(input.getShape(), window),       \
                          input.getElementType(), inferredReturnTypes);        \
  }                                                                            \
  double OpTy::getFlops() {                                                    \
    return poolFlops(getResult().getType().getShape(), getWindow());           \
  }
KILN_DEFINE_POOL_HOOKS(MaxPoolOp)
KILN_DEFINE_POOL_HOOKS(AvgPoolOp)
#undef KILN_DEFINE_POOL_HOOKS

LogicalResult MaxPoolGradOp::verify() {
  if (failed(checkSameElementType<MaxPoolGradOp>(
          getLoc(), "pool_c6", getInput().getType().getElementType(),
          getOutputGrad().getType().getElementType())))
    return failure();
  return checkImpliedShape(
      *this, inferPoolShape(getInput().getType().getShape(), getPoolWindow()),
      getOutputGrad().getType().getShape(), "pool_grad_c1",
      "the output gradient (the pooling's result)");
}

double MaxPoolGradOp::getFlops() {
  return poolFlops(getOutputGrad().getType().getShape(), getWindow());
}

LogicalResult AvgPoolGradOp::verify() {
  if (failed(checkSameElementType<AvgPoolGradOp>(
          getLoc(), "pool_c6", getOutputGrad().getType().getElementType(),
          getResult().getType().getElementType())))
    return failure();
  return checkImpliedShape(
      *this, inferPoolShape(getResult().getType().getShape(), getPoolWindow()),
      getOutputGrad().getType().getShape(), "pool_grad_c1",
      "the output gradient (the pooling of the result)");
}

double AvgPoolGradOp::getFlops() {
  return poolFlops(getOutputGrad().getType().getShape(), getWindow());
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType result = getResult().getType();
  if (input.getElementType() != result.getElementType())
    return emitOpError("[reshape_c2] element types differ: ")
           << input.getElementType() << " vs " << result.getElementType();
  if (llvm::Error error =
          verifyReshapeShapes(input.getShape(), result.getShape()))
    return emitOpError(llvm::toString(std::move(error)));
  return success();
}

OpFoldResult ReshapeOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getResult().getType())
    return getInput();
  if (auto dense = dyn_cast_or_null<DenseElementsAttr>(adaptor.getInput()))
    return dense.reshape(getResult().getType());
  // reshape(reshape(x)) -> reshape(x): only the final shape matters.
  if (auto inner = getInput().getDefiningOp<ReshapeOp>()) {
    getInputMutable().assign(inner.getInput());
    return getResult();
  }
  return {};
}

LogicalResult
TransposeOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                              Adaptor adaptor,
                              SmallVectorImpl<Type> &inferredReturnTypes) {
  RankedTensorType input = tensorType(adaptor.getInput());
  return inferred<TransposeOp>(
      loc, inferTransposeShape(input.getShape(), adaptor.getPermutation()),
      input.getElementType(), inferredReturnTypes);
}

OpFoldResult TransposeOp::fold(FoldAdaptor) {
  auto isIdentity = [](ArrayRef<int64_t> perm) {
    for (auto [i, p] : llvm::enumerate(perm))
      if (static_cast<int64_t>(i) != p)
        return false;
    return true;
  };
  if (isIdentity(getPermutation()))
    return getInput();
  // transpose(transpose(x, inner), outer) == transpose(x, inner o outer):
  // result axis i reads x's axis inner[outer[i]].
  if (auto inner = getInput().getDefiningOp<TransposeOp>()) {
    ArrayRef<int64_t> innerPerm = inner.getPermutation();
    SmallVector<int64_t> composed;
    for (int64_t p : getPermutation())
      composed.push_back(innerPerm[p]);
    if (isIdentity(composed))
      return inner.getInput();
    getInputMutable().assign(inner.getInput());
    setPermutation(composed);
    return getResult();
  }
  return {};
}

LogicalResult
ConcatOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                           Adaptor adaptor,
                           SmallVectorImpl<Type> &inferredReturnTypes) {
  SmallVector<ArrayRef<int64_t>> shapes;
  Type elementType;
  for (auto [index, input] : llvm::enumerate(adaptor.getInputs())) {
    RankedTensorType type = tensorType(input);
    if (index == 0)
      elementType = type.getElementType();
    else if (type.getElementType() != elementType)
      return emitLabeledError<ConcatOp>(
          loc, "concat_c3", "input ", index, " has element type ",
          type.getElementType(), ", expected ", elementType);
    shapes.push_back(type.getShape());
  }
  return inferred<ConcatOp>(loc, inferConcatShape(shapes, adaptor.getAxis()),
                            elementType, inferredReturnTypes);
}

OpFoldResult ConcatOp::fold(FoldAdaptor) {
  if (getInputs().size() == 1 &&
      getInputs().front().getType() == getResult().getType())
    return getInputs().front();
  return {};
}

LogicalResult
SliceOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                          Adaptor adaptor,
                          SmallVectorImpl<Type> &inferredReturnTypes) {
  RankedTensorType input = tensorType(adaptor.getInput());
  return inferred<SliceOp>(loc,
                           inferSliceShape(input.getShape(), adaptor.getStart(),
                                           adaptor.getLimit(),
                                           adaptor.getStrides()),
                           input.getElementType(), inferredReturnTypes);
}

LogicalResult
PadOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                        Adaptor adaptor,
                        SmallVectorImpl<Type> &inferredReturnTypes) {
  RankedTensorType input = tensorType(adaptor.getInput());
  return inferred<PadOp>(loc,
                         inferPadShape(input.getShape(), adaptor.getLow(),
                                       adaptor.getHigh(),
                                       adaptor.getInterior()),
                         input.getElementType(), inferredReturnTypes);
}

OpFoldResult ConvertOp::fold(FoldAdaptor) {
  if (getOperand().getType() == getResult().getType())
    return getOperand();
  return {};
}

LogicalResult IotaOp::verify() {
  if (llvm::Error error =
          verifyIotaDimension(getType().getRank(), getDimension()))
    return emitOpError(llvm::toString(std::move(error)));
  return success();
}

LogicalResult BroadcastInDimOp::verify() {
  RankedTensorType operand = getOperand().getType();
  RankedTensorType result = getResult().getType();
  if (operand.getElementType() != result.getElementType())
    return emitOpError("[broadcast_in_dim_c4] element types differ: ")
           << operand.getElementType() << " vs " << result.getElementType();
  if (llvm::Error error = verifyBroadcastInDimShapes(
          operand.getShape(), getBroadcastDimensions(), result.getShape()))
    return emitOpError(llvm::toString(std::move(error)));
  return success();
}

OpFoldResult BroadcastInDimOp::fold(FoldAdaptor adaptor) {
  // Strictly increasing dimensions of equal rank are the identity map.
  if (getOperand().getType() == getResult().getType())
    return getOperand();
  if (auto splat = dyn_cast_or_null<SplatElementsAttr>(adaptor.getOperand()))
    return SplatElementsAttr::get(getResult().getType(),
                                  splat.getSplatValue<Attribute>());
  return {};
}

//===----------------------------------------------------------------------===//
// Softmax, constants, dropout
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxOp::verify() {
  if (llvm::Error error =
          verifySoftmaxAxis(getInput().getType().getRank(), getAxis()))
    return emitOpError(llvm::toString(std::move(error)));
  return success();
}

LogicalResult LogSoftmaxOp::verify() {
  if (llvm::Error error =
          verifySoftmaxAxis(getInput().getType().getRank(), getAxis()))
    return emitOpError(llvm::toString(std::move(error)));
  return success();
}

LogicalResult
ConstantOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                             Adaptor adaptor,
                             SmallVectorImpl<Type> &inferredReturnTypes) {
  inferredReturnTypes.push_back(adaptor.getValue().getType());
  return success();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

LogicalResult DropoutOp::verify() {
  double rate = getRate().convertToDouble();
  if (!(rate >= 0.0 && rate < 1.0))
    return emitOpError("[dropout_c1] rate ") << rate << " is not in [0, 1)";
  return success();
}

/// Inference (Keras `training=False`): dropout is the identity.
void DropoutOp::buildInferenceForm(OpBuilder &,
                                   SmallVectorImpl<Value> &replacements) {
  replacements.push_back(getInput());
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

namespace {
template <typename OpTy>
LogicalResult inferLoss(std::optional<Location> loc,
                        typename OpTy::Adaptor adaptor, LossLabels kind,
                        SmallVectorImpl<Type> &inferredReturnTypes) {
  RankedTensorType predictions = tensorType(adaptor.getPredictions());
  RankedTensorType labels = tensorType(adaptor.getLabels());
  RankedTensorType weights = tensorType(adaptor.getSampleWeight());
  Type elementType = predictions.getElementType();
  if (kind != LossLabels::Sparse && labels.getElementType() != elementType)
    return emitLabeledError<OpTy>(loc, "loss_c4", "labels have element type ",
                                  labels.getElementType(), ", expected ",
                                  elementType);
  if (weights.getElementType() != elementType)
    return emitLabeledError<OpTy>(
        loc, "loss_c4", "sample_weight has element type ",
        weights.getElementType(), ", expected ", elementType);
  return inferred<OpTy>(loc,
                        inferLossShape(predictions.getShape(),
                                       labels.getShape(), weights.getShape(),
                                       kind),
                        elementType, inferredReturnTypes);
}
} // namespace

#define KILN_DEFINE_LOSS_HOOKS(OpTy, kind)                                     \
  LogicalResult OpTy::inferReturnTypes(                                        \
      MLIRContext *, std::optional<Location> loc, Adaptor adaptor,             \
      SmallVectorImpl<Type> &inferredReturnTypes) {                            \
    return inferLoss<OpTy>(loc, adaptor, kind, inferredReturnTypes);           \
  }

KILN_DEFINE_LOSS_HOOKS(MeanSquaredErrorOp, LossLabels::Dense)
KILN_DEFINE_LOSS_HOOKS(MeanAbsoluteErrorOp, LossLabels::Dense)
KILN_DEFINE_LOSS_HOOKS(BinaryCrossentropyOp, LossLabels::Dense)
KILN_DEFINE_LOSS_HOOKS(CategoricalCrossentropyOp, LossLabels::Categorical)
KILN_DEFINE_LOSS_HOOKS(SparseCategoricalCrossentropyOp, LossLabels::Sparse)
#undef KILN_DEFINE_LOSS_HOOKS

#define GET_OP_CLASSES
#include "ir/KilnOps.cpp.inc"
