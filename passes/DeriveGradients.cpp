//===- DeriveGradients.cpp - reverse-mode differentiation of kiln IR ------===//
//
// Implements kiln-derive-gradients: clones a function and appends the
// gradient of its loss with respect to its trainable arguments, built from
// the per-op VJP rules of DifferentiableOpInterface.
//
//===----------------------------------------------------------------------===//

#include "ir/KilnOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_KILNDERIVEGRADIENTSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace {
/// True for arguments the gradient is taken with respect to.
bool isTrainable(func::FuncOp func, unsigned index) {
  return hasArgAttr<KilnDialect::TrainableAttrHelper>(func, index);
}

bool isFloatTensor(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  return type && isa<FloatType>(type.getElementType());
}

/// A zero tensor of `type` (kiln.constant).
Value zerosLike(OpBuilder &b, Location loc, Type type) {
  auto tensorType = cast<RankedTensorType>(type);
  return b.create<ConstantOp>(
      loc, DenseElementsAttr::get(
               tensorType, b.getFloatAttr(tensorType.getElementType(), 0.0)));
}

/// The ops of `body` on a path from a trainable argument to `loss`, in
/// program order.
SmallVector<Operation *> getActiveOps(Block &body, ArrayRef<Value> trainable,
                                      Value loss) {
  // Forward: float values that depend on a trainable argument. Integer and
  // i1 values carry no gradient, and kiln.stop_gradient ends the
  // dependence (a mask computed from params by comparisons is constant
  // for the gradient).
  llvm::DenseSet<Value> varied(trainable.begin(), trainable.end());
  for (Operation &op : body) {
    if (isa<StopGradientOp>(op))
      continue;
    if (llvm::any_of(op.getOperands(),
                     [&](Value v) { return varied.contains(v); }))
      for (Value result : op.getResults())
        if (isFloatTensor(result))
          varied.insert(result);
  }
  // Backward: values the loss depends on.
  llvm::DenseSet<Value> useful = {loss};
  SmallVector<Operation *> active;
  for (Operation &op : llvm::reverse(body)) {
    bool feedsLoss = llvm::any_of(op.getResults(),
                                  [&](Value v) { return useful.contains(v); });
    if (!feedsLoss)
      continue;
    useful.insert(op.operand_begin(), op.operand_end());
    if (llvm::any_of(op.getResults(),
                     [&](Value v) { return varied.contains(v); }))
      active.push_back(&op);
  }
  std::reverse(active.begin(), active.end());
  return active;
}

/// Builds `@<name>_grad` from `func`. Errors are reported on `func`'s ops.
LogicalResult deriveGradients(func::FuncOp func) {
  Location loc = func.getLoc();
  if (func.isExternal())
    return func.emitError("kiln-derive-gradients: @")
           << func.getSymName() << " has no body";
  auto lossType = func.getNumResults() > 0
                      ? dyn_cast<RankedTensorType>(func.getResultTypes()[0])
                      : RankedTensorType();
  if (!lossType || lossType.getRank() != 0 ||
      !isa<FloatType>(lossType.getElementType()))
    return func.emitError("kiln-derive-gradients: the first result of @")
           << func.getSymName()
           << " must be the loss, a rank-0 floating-point tensor";
  if (!func.getBody().hasOneBlock())
    return func.emitError("kiln-derive-gradients: @")
           << func.getSymName() << " must have a single block";

  // The clone keeps the forward computation; gradient code goes before its
  // return.
  auto gradFunc = cast<func::FuncOp>(func->clone());
  std::string name = (func.getSymName() + "_grad").str();
  gradFunc.setSymName(name);
  OpBuilder moduleBuilder(func);
  moduleBuilder.setInsertionPointAfter(func);
  moduleBuilder.insert(gradFunc);

  Block &body = gradFunc.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  Value loss = ret.getOperand(0);
  SmallVector<Value> trainable;
  for (BlockArgument arg : body.getArguments())
    if (isTrainable(gradFunc, arg.getArgNumber()))
      trainable.push_back(arg);

  SmallVector<Operation *> active = getActiveOps(body, trainable, loss);

  // Every active op needs a rule; report all offenders at once.
  SmallVector<Operation *> missing;
  for (Operation *op : active)
    if (!isa<DifferentiableOpInterface>(op) &&
        !op->hasTrait<OpTrait::kiln::ZeroGradient>())
      missing.push_back(op);
  if (!missing.empty()) {
    InFlightDiagnostic diag = func.emitError()
                              << "kiln-derive-gradients: " << missing.size()
                              << " op(s) on the path from the trainable "
                                 "arguments to the loss have no gradient rule";
    for (Operation *op : missing)
      diag.attachNote(op->getLoc())
          << "no VJP rule for '" << op->getName() << "'";
    diag.report();
    gradFunc.erase();
    return failure();
  }

  OpBuilder b(ret);
  llvm::DenseMap<Value, Value> grads;
  auto accumulate = [&](Value value, Value grad) {
    auto [it, inserted] = grads.try_emplace(value, grad);
    if (!inserted)
      it->second = b.create<AddOp>(value.getLoc(), it->second, grad);
  };
  grads[loss] = b.create<ConstantOp>(
      loc, DenseElementsAttr::get(
               lossType, b.getFloatAttr(lossType.getElementType(), 1.0)));

  llvm::DenseSet<Value> activeValues(trainable.begin(), trainable.end());
  for (Operation *op : active)
    activeValues.insert(op->result_begin(), op->result_end());

  for (Operation *op : llvm::reverse(active)) {
    if (op->hasTrait<OpTrait::kiln::ZeroGradient>())
      continue;
    SmallVector<Value> resultGrads;
    bool any = false;
    for (Value result : op->getResults()) {
      Value grad = grads.lookup(result);
      any |= static_cast<bool>(grad);
      resultGrads.push_back(
          grad ? grad : zerosLike(b, op->getLoc(), result.getType()));
    }
    if (!any)
      continue;
    SmallVector<Value> operandGrads;
    if (failed(cast<DifferentiableOpInterface>(op).buildVJP(b, resultGrads,
                                                            operandGrads))) {
      gradFunc.erase();
      return failure();
    }
    if (operandGrads.size() != op->getNumOperands()) {
      op->emitError("kiln-derive-gradients: the VJP rule of '")
          << op->getName() << "' returned " << operandGrads.size()
          << " gradients for " << op->getNumOperands() << " operands";
      gradFunc.erase();
      return failure();
    }
    for (auto [operand, grad] : llvm::zip(op->getOperands(), operandGrads)) {
      // Only floating-point values carry gradients (i1 masks from compare,
      // integer labels and indices depend on parameters piecewise
      // constantly).
      if (!activeValues.contains(operand) || !isFloatTensor(operand))
        continue;
      if (!grad) {
        // The operand depends on a trainable argument, but the rule treats
        // it as a constant (e.g. sample weights): a silent zero would be
        // wrong.
        op->emitError("kiln-derive-gradients: '")
            << op->getName()
            << "' has no gradient for an operand that depends on a "
               "trainable argument";
        gradFunc.erase();
        return failure();
      }
      if (grad.getType() != operand.getType()) {
        op->emitError("kiln-derive-gradients: the VJP rule of '")
            << op->getName() << "' returned a gradient of type "
            << grad.getType() << " for an operand of type "
            << operand.getType();
        gradFunc.erase();
        return failure();
      }
      accumulate(operand, grad);
    }
  }

  // Results: the original ones, then one gradient per trainable argument.
  SmallVector<Value> results(ret.getOperands());
  SmallVector<Type> resultTypes(gradFunc.getResultTypes());
  SmallVector<int64_t> gradientOf;
  for (Value arg : trainable) {
    Value grad = grads.lookup(arg);
    if (!grad)
      grad = zerosLike(b, loc, arg.getType());
    results.push_back(grad);
    resultTypes.push_back(arg.getType());
    gradientOf.push_back(cast<BlockArgument>(arg).getArgNumber());
  }
  b.create<func::ReturnOp>(ret.getLoc(), results);
  ret.erase();
  gradFunc.setFunctionType(FunctionType::get(
      func.getContext(), gradFunc.getArgumentTypes(), resultTypes));
  // Result attributes: the originals, then empty ones for the gradients;
  // kiln.gradient_of names the argument each gradient belongs to.
  SmallVector<DictionaryAttr> resultAttrs;
  for (unsigned i = 0; i < func.getNumResults(); ++i)
    resultAttrs.push_back(func.getResultAttrDict(i));
  for (int64_t index : gradientOf) {
    NamedAttrList attrs;
    attrs.append(namedAttr<KilnDialect::GradientOfAttrHelper>(
        b.getI64IntegerAttr(index)));
    if (auto param = getArgAttr<KilnDialect::ParamAttrHelper>(func, index))
      attrs.append(namedAttr<KilnDialect::NameAttrHelper>(
          b.getStringAttr("grad/" + param.getValue().str())));
    resultAttrs.push_back(attrs.getDictionary(func.getContext()));
  }
  gradFunc.setAllResultAttrs(resultAttrs);
  return success();
}

struct KilnDeriveGradientsPass
    : public kiln::impl::KilnDeriveGradientsPassBase<KilnDeriveGradientsPass> {
  using KilnDeriveGradientsPassBase::KilnDeriveGradientsPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto func = module.lookupSymbol<func::FuncOp>(function);
    if (!func) {
      mlir::emitError(module.getLoc(), "kiln-derive-gradients: no function @")
          << function;
      return signalPassFailure();
    }
    if (failed(deriveGradients(func)))
      signalPassFailure();
  }
};
} // namespace
