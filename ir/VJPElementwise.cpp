//===- VJPElementwise.cpp - VJP rules of the elementwise kiln ops ---------===//
//
// (Being written.)
//
//===----------------------------------------------------------------------===//

#include "ir/KilnOps.h"
#include "ir/VJP.h"

void mlir::kiln::registerElementwiseVJPModels(DialectRegistry &) {}
