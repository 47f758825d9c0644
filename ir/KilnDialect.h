//===- KilnDialect.h - kiln dialect declaration -----------------*- C++ -*-===//
//
// Declares the kiln dialect class, its enums and its op
// interfaces. Include "ir/KilnOps.h" for the ops themselves.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_IR_KILNDIALECT_H
#define KILN_IR_KILNDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"

#include "ir/KilnDialect.h.inc"
#include "ir/KilnEnums.h.inc"

#include "ir/KilnInterfaces.h.inc"

#endif // KILN_IR_KILNDIALECT_H
