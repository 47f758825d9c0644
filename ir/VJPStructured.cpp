//===- VJPStructured.cpp - VJP rules of the structured kiln ops ----------===//
//
// (Being written.)
//
//===----------------------------------------------------------------------===//

#include "ir/KilnOps.h"
#include "ir/VJP.h"

void mlir::kiln::registerStructuredVJPModels(DialectRegistry &) {}
