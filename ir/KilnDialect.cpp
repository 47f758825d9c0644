//===- KilnDialect.cpp - kiln dialect registration ------------------------===//
//
// Registers the kiln ops and interfaces, and materializes
// folded constants as kiln.constant.
//
//===----------------------------------------------------------------------===//

#include "ir/KilnDialect.h"
#include "ir/KilnOps.h"
#include "ir/VJP.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/Transforms/InliningUtils.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::kiln;

#include "ir/KilnDialect.cpp.inc"
#include "ir/KilnEnums.cpp.inc"
#include "ir/KilnInterfaces.cpp.inc"

namespace {
/// Every kiln op is pure and region-free, so calls between kiln functions
/// can always be inlined (kilnc inlines them before lowering).
struct KilnInlinerInterface : public DialectInlinerInterface {
  using DialectInlinerInterface::DialectInlinerInterface;
  bool isLegalToInline(Operation *, Region *, bool, IRMapping &) const final {
    return true;
  }
};
} // namespace

void KilnDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "ir/KilnOps.cpp.inc"
      >();
  addInterfaces<KilnInlinerInterface>();
}

void kiln::registerKilnDialect(DialectRegistry &registry) {
  registry.insert<KilnDialect>();
  registerElementwiseVJPModels(registry);
  registerStructuredVJPModels(registry);
}

Operation *KilnDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                            Type type, Location loc) {
  auto elements = dyn_cast<ElementsAttr>(value);
  if (!elements || elements.getType() != type)
    return nullptr;
  return builder.create<ConstantOp>(loc, type, elements);
}
