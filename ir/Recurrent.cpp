//===- Recurrent.cpp - kiln.rnn and kiln.rnn_grad -------------------------===//
//
// Shape inference, verifiers, FLOP counts and VJP rules of the whole-sequence
// recurrent ops. The shapes follow ShapeInference.h's inferRnnShapes; the
// computation is the runtime's kiln_rnn_fwd_* / kiln_rnn_bwd_* (runtime.h,
// where the cell formulas are written out).
//
//===----------------------------------------------------------------------===//

#include "ir/KilnOps.h"
#include "ir/ShapeInference.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

using namespace mlir;
using namespace mlir::kiln;

namespace {

RankedTensorType tensorType(Value value) {
  return cast<RankedTensorType>(value.getType());
}

/// The gate count of a cell name, or 0 for an unknown name.
int64_t gatesOf(StringRef cell) {
  return llvm::StringSwitch<int64_t>(cell)
      .Case("simple", 1)
      .Case("lstm", 4)
      .Case("gru", 3)
      .Default(0);
}

bool isRnnActivation(StringRef name) {
  return name == "tanh" || name == "sigmoid" || name == "relu" ||
         name == "linear";
}

template <typename OpTy>
LogicalResult emitRnnError(std::optional<Location> loc, const char *label,
                           const Twine &message) {
  return emitOptionalError(loc, "'", OpTy::getOperationName(), "' op [", label,
                           "] ", message);
}

/// The shapes of the op whose operands are `input`, `kernel` and
/// `recurrentKernel`, or an error at `loc`.
template <typename OpTy>
FailureOr<RnnShapes> rnnShapes(std::optional<Location> loc, StringRef cell,
                               bool resetAfter, Value input, Value kernel,
                               Value recurrentKernel) {
  int64_t gates = gatesOf(cell);
  if (gates == 0) {
    (void)emitRnnError<OpTy>(loc, "rnn_c1",
                             "cell \"" + cell +
                                 "\" is not \"simple\", \"lstm\" or \"gru\"");
    return failure();
  }
  RankedTensorType x = tensorType(input);
  RankedTensorType k = tensorType(kernel);
  RankedTensorType rk = tensorType(recurrentKernel);
  if (k.getElementType() != x.getElementType() ||
      rk.getElementType() != x.getElementType()) {
    (void)emitRnnError<OpTy>(loc, "rnn_c5",
                             "the kernels must have the input's element type");
    return failure();
  }
  llvm::Expected<RnnShapes> shapes =
      inferRnnShapes(x.getShape(), k.getShape(), rk.getShape(), gates,
                     cell == "gru", resetAfter);
  if (!shapes) {
    (void)emitOptionalError(loc, "'", OpTy::getOperationName(), "' op ",
                            llvm::toString(shapes.takeError()));
    return failure();
  }
  return *shapes;
}

template <typename OpTy> LogicalResult verifyActivations(OpTy op) {
  for (StringRef name : {op.getActivation(), op.getRecurrentActivation()})
    if (!isRnnActivation(name))
      return op.emitOpError()
             << "[rnn_c1] activation \"" << name
             << "\" is not \"tanh\", \"sigmoid\", \"relu\" or \"linear\"";
  return success();
}

/// "tensor<...>" of a type.
std::string str(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return text;
}

/// rnn_c7: the mask, when there is one, is [N, T] of the input's type.
template <typename OpTy>
LogicalResult checkMask(std::optional<Location> loc, Value input, Value mask) {
  if (!mask)
    return success();
  RankedTensorType x = tensorType(input);
  auto expected = RankedTensorType::get({x.getDimSize(0), x.getDimSize(1)},
                                        x.getElementType());
  if (tensorType(mask) != expected)
    return emitRnnError<OpTy>(loc, "rnn_c7",
                              "the mask must be " + str(expected) +
                                  " (batch, steps), got " +
                                  str(mask.getType()));
  return success();
}

/// The states' type [S, N, H] (S = 2 for an LSTM: h and c; 1 otherwise) of
/// a recurrent op over `input` with `recurrentKernel` [H, G*H].
RankedTensorType stateType(StringRef cell, Value input, Value recurrentKernel) {
  RankedTensorType x = tensorType(input);
  return RankedTensorType::get({cell == "lstm" ? 2 : 1, x.getDimSize(0),
                                tensorType(recurrentKernel).getDimSize(0)},
                               x.getElementType());
}

} // namespace

LogicalResult
RnnOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                        Adaptor adaptor,
                        SmallVectorImpl<Type> &inferredReturnTypes) {
  FailureOr<RnnShapes> shapes = rnnShapes<RnnOp>(
      loc, adaptor.getCell(), adaptor.getResetAfter(), adaptor.getInput(),
      adaptor.getKernel(), adaptor.getRecurrentKernel());
  if (failed(shapes) ||
      failed(checkMask<RnnOp>(loc, adaptor.getInput(), adaptor.getMask())))
    return failure();
  Type element = tensorType(adaptor.getInput()).getElementType();
  RankedTensorType bias = tensorType(adaptor.getBias());
  if (bias.getShape() != ArrayRef<int64_t>(shapes->bias) ||
      bias.getElementType() != element)
    return emitRnnError<RnnOp>(
        loc, "rnn_c4",
        "the bias must be " +
            str(RankedTensorType::get(shapes->bias, element)) + ", got " +
            str(bias));
  RankedTensorType states = stateType(adaptor.getCell(), adaptor.getInput(),
                                      adaptor.getRecurrentKernel());
  if (Value initial = adaptor.getInitialState();
      initial && tensorType(initial) != states)
    return emitRnnError<RnnOp>(
        loc, "rnn_c8",
        "the initial state must be " + str(states) + " (" +
            (adaptor.getCell() == "lstm" ? "h and c" : "h") +
            ", batch, units), got " + str(initial.getType()));
  inferredReturnTypes.push_back(RankedTensorType::get(shapes->result, element));
  inferredReturnTypes.push_back(states);
  inferredReturnTypes.push_back(
      RankedTensorType::get({shapes->workspace}, element));
  return success();
}

LogicalResult RnnOp::verify() {
  if (failed(verifyActivations(*this)))
    return failure();
  // The workspace is the backward pass's record, not a model value: it has
  // no gradient, so anything but kiln.rnn_grad reading it would silently
  // lose one.
  for (Operation *user : getWorkspace().getUsers())
    if (!isa<RnnGradOp>(user))
      return emitOpError() << "[rnn_c6] the workspace is read only by "
                              "kiln.rnn_grad, not by '"
                           << user->getName() << "'";
  return success();
}

/// Forward: the input projections (2 N T I G H) and the recurrent products
/// (2 N T H G H), plus about 10 FLOPs per gate element for the cell update.
double RnnOp::getFlops() {
  RankedTensorType x = tensorType(getInput());
  RankedTensorType rk = tensorType(getRecurrentKernel());
  double n = x.getDimSize(0), t = x.getDimSize(1), i = x.getDimSize(2);
  double h = rk.getDimSize(0), gh = rk.getDimSize(1);
  return 2.0 * n * t * (i + h) * gh + 10.0 * n * t * gh;
}

/// (y, s, ws) = rnn(x, W, U, b[, mask][, s0]): (dx, dW, dU, db, ds0) =
/// rnn_grad(x, W, U, ws, dy, ds). The workspace is not a model value: its
/// gradient is ignored.
LogicalResult RnnOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                              SmallVectorImpl<Value> &operandGrads) {
  auto grad = b.create<RnnGradOp>(
      getLoc(), getInput(), getKernel(), getRecurrentKernel(), getWorkspace(),
      resultGrads[0], resultGrads[1], getMask(), getCellAttr(),
      getActivationAttr(), getRecurrentActivationAttr(), getGoBackwardsAttr(),
      getReverseOutputAttr(), getResetAfterAttr(), getZeroOutputForMaskAttr());
  operandGrads.append({grad.getInputGrad(), grad.getKernelGrad(),
                       grad.getRecurrentKernelGrad(), grad.getBiasGrad()});
  if (getMask())
    operandGrads.push_back(Value()); // the mask selects steps: no gradient
  if (getInitialState())
    operandGrads.push_back(grad.getInitialStateGrad());
  return success();
}

LogicalResult
RnnGradOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                            Adaptor adaptor,
                            SmallVectorImpl<Type> &inferredReturnTypes) {
  FailureOr<RnnShapes> shapes = rnnShapes<RnnGradOp>(
      loc, adaptor.getCell(), adaptor.getResetAfter(), adaptor.getInput(),
      adaptor.getKernel(), adaptor.getRecurrentKernel());
  if (failed(shapes) ||
      failed(checkMask<RnnGradOp>(loc, adaptor.getInput(), adaptor.getMask())))
    return failure();
  Type element = tensorType(adaptor.getInput()).getElementType();
  auto workspace = RankedTensorType::get({shapes->workspace}, element);
  auto resultGrad = RankedTensorType::get(shapes->result, element);
  RankedTensorType states = stateType(adaptor.getCell(), adaptor.getInput(),
                                      adaptor.getRecurrentKernel());
  if (tensorType(adaptor.getWorkspace()) != workspace ||
      tensorType(adaptor.getResultGrad()) != resultGrad ||
      tensorType(adaptor.getFinalStateGrad()) != states)
    return emitRnnError<RnnGradOp>(
        loc, "rnn_grad_c1",
        "the workspace, result gradient and final state gradient must be " +
            str(workspace) + ", " + str(resultGrad) + " and " + str(states) +
            ", got " + str(adaptor.getWorkspace().getType()) + ", " +
            str(adaptor.getResultGrad().getType()) + " and " +
            str(adaptor.getFinalStateGrad().getType()));
  inferredReturnTypes.push_back(adaptor.getInput().getType());
  inferredReturnTypes.push_back(adaptor.getKernel().getType());
  inferredReturnTypes.push_back(adaptor.getRecurrentKernel().getType());
  inferredReturnTypes.push_back(RankedTensorType::get(shapes->bias, element));
  inferredReturnTypes.push_back(states);
  return success();
}

LogicalResult RnnGradOp::verify() { return verifyActivations(*this); }

/// Backward: the recurrent products once more (dh_prev), then dx, dW and
/// dU as GEMMs: about twice the forward's multiply-adds.
double RnnGradOp::getFlops() {
  RankedTensorType x = tensorType(getInput());
  RankedTensorType rk = tensorType(getRecurrentKernel());
  double n = x.getDimSize(0), t = x.getDimSize(1), i = x.getDimSize(2);
  double h = rk.getDimSize(0), gh = rk.getDimSize(1);
  return 4.0 * n * t * (i + h) * gh + 10.0 * n * t * gh;
}

LogicalResult RnnGradOp::buildVJP(OpBuilder &, ValueRange,
                                  SmallVectorImpl<Value> &) {
  return emitOpError("has no VJP rule: second derivatives of recurrent "
                     "layers are not supported");
}
