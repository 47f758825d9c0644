//===- KilnDialect.h - kiln dialect declaration -----------------*- C++ -*-===//
//
// Declares the kiln dialect class, its enums and its op
// interfaces, and typed access to the stage-protocol attributes (the
// `discardableAttrs` of KilnBase.td) on function arguments and results.
// Include "ir/KilnOps.h" for the ops themselves.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_IR_KILNDIALECT_H
#define KILN_IR_KILNDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

#include <type_traits>
#include <utility>

#include "ir/KilnDialect.h.inc"
#include "ir/KilnEnums.h.inc"

namespace mlir::OpTrait::kiln {
/// Ops whose gradient is zero almost everywhere (comparisons, argmax,
/// constants, iota, stop_gradient): kiln-derive-gradients propagates nothing
/// through them.
template <typename ConcreteType>
class ZeroGradient : public TraitBase<ConcreteType, ZeroGradient> {};
} // namespace mlir::OpTrait::kiln

#include "ir/KilnInterfaces.h.inc"

namespace mlir::kiln {
/// The attribute class a generated discardable-attribute helper holds, e.g.
/// `AttrOf<KilnDialect::ParamAttrHelper>` is `StringAttr`.
template <typename Helper>
using AttrOf = std::remove_cv_t<std::remove_reference_t<
    decltype(std::declval<Helper &>().getAttr(std::declval<Operation *>()))>>;

/// Typed access to the stage-protocol attributes, by generated helper:
/// `getArgAttr<KilnDialect::ParamAttrHelper>(func, i)` is the `kiln.param`
/// name of argument `i`, or null when absent. The attribute names come only
/// from the ODS declaration; the dialect's verifier hooks have checked the
/// types, so a present attribute of another type cannot occur in verified
/// IR.
template <typename Helper>
AttrOf<Helper> getArgAttr(FunctionOpInterface func, unsigned index) {
  return func.getArgAttrOfType<AttrOf<Helper>>(index, Helper::getNameStr());
}
template <typename Helper>
bool hasArgAttr(FunctionOpInterface func, unsigned index) {
  return static_cast<bool>(getArgAttr<Helper>(func, index));
}
template <typename Helper>
void setArgAttr(FunctionOpInterface func, unsigned index,
                AttrOf<Helper> value) {
  func.setArgAttr(index, Helper::getNameStr(), value);
}
template <typename Helper>
AttrOf<Helper> getResultAttr(FunctionOpInterface func, unsigned index) {
  return func.getResultAttrOfType<AttrOf<Helper>>(index, Helper::getNameStr());
}
template <typename Helper>
bool hasResultAttr(FunctionOpInterface func, unsigned index) {
  return static_cast<bool>(getResultAttr<Helper>(func, index));
}
template <typename Helper>
void setResultAttr(FunctionOpInterface func, unsigned index,
                   AttrOf<Helper> value) {
  func.setResultAttr(index, Helper::getNameStr(), value);
}
/// The attribute on an op (functions, modules).
template <typename Helper> AttrOf<Helper> getOpAttr(Operation *op) {
  return op->getAttrOfType<AttrOf<Helper>>(Helper::getNameStr());
}
template <typename Helper> void setOpAttr(Operation *op, AttrOf<Helper> value) {
  op->setAttr(Helper::getNameStr(), value);
}
template <typename Helper> void removeOpAttr(Operation *op) {
  op->removeAttr(Helper::getNameStr());
}
/// The attribute as a named attribute, for attribute dictionaries being
/// built.
template <typename Helper> NamedAttribute namedAttr(AttrOf<Helper> value) {
  return NamedAttribute(
      StringAttr::get(value.getContext(), Helper::getNameStr()), value);
}

/// Adds the kiln dialect to `registry` (its ops implement their interfaces
/// themselves, VJP rules included). Every tool that loads kiln calls this.
void registerKilnDialect(DialectRegistry &registry);
} // namespace mlir::kiln

#endif // KILN_IR_KILNDIALECT_H
