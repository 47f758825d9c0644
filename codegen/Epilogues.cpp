//===- Epilogues.cpp - bias + activation epilogues of runtime kernels -----===//
//
// The epilogue matcher shared by the GEMM and convolution fusions
// (codegen/Epilogues.h).
//
//===----------------------------------------------------------------------===//

#include "codegen/Epilogues.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;

std::optional<kiln_epilogue_t> kiln::matchEpilogueBody(Block &body,
                                                       bool hasBias) {
  if (body.getNumArguments() < (hasBias ? 2u : 1u))
    return std::nullopt;
  kiln_epilogue_t kind = KILN_EPILOGUE_NONE;
  Value current = body.getArgument(0);
  auto it = body.begin();
  if (hasBias) {
    auto add = dyn_cast<arith::AddFOp>(&*it++);
    Value biasArg = body.getArgument(1);
    if (!add || !((add.getLhs() == current && add.getRhs() == biasArg) ||
                  (add.getRhs() == current && add.getLhs() == biasArg)))
      return std::nullopt;
    current = add;
  }
  if (auto max = dyn_cast<arith::MaximumFOp>(&*it)) {
    Value other = max.getLhs() == current ? max.getRhs() : max.getLhs();
    if ((max.getLhs() != current && max.getRhs() != current) ||
        !matchPattern(other, m_PosZeroFloat()))
      return std::nullopt;
    kind = KILN_EPILOGUE_RELU;
    current = max;
    ++it;
  } else if (auto tanh = dyn_cast<math::TanhOp>(&*it)) {
    if (tanh.getOperand() != current)
      return std::nullopt;
    kind = KILN_EPILOGUE_TANH;
    current = tanh;
    ++it;
  }
  auto yield = dyn_cast<linalg::YieldOp>(&*it);
  if (!yield || yield.getValues().size() != 1 ||
      yield.getValues().front() != current)
    return std::nullopt;
  return kind;
}

std::optional<kiln::Epilogue> kiln::matchEpilogue(Operation *producer,
                                                  Value c) {
  auto cType = dyn_cast<MemRefType>(c.getType());
  if (!cType || cType.getRank() < 1)
    return std::nullopt;
  unsigned rank = cType.getRank();
  // The next op that reads or writes memory (views, constants and fresh
  // allocations in between do not).
  Operation *next = producer->getNextNode();
  while (next && (isMemoryEffectFree(next) || isa<memref::AllocOp>(next)))
    next = next->getNextNode();
  auto generic = dyn_cast_or_null<linalg::GenericOp>(next);
  if (!generic || !generic.hasPureBufferSemantics() ||
      generic.getNumDpsInits() != 1 || generic.getNumDpsInputs() < 1 ||
      generic.getNumDpsInputs() > 2 || generic.getNumLoops() != rank ||
      generic.getNumReductionLoops() != 0)
    return std::nullopt;
  MLIRContext *ctx = generic.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap last = AffineMap::get(rank, 0, getAffineDimExpr(rank - 1, ctx));
  SmallVector<AffineMap> maps = generic.getIndexingMapsArray();
  if (generic.getDpsInputs()[0] != c || maps[0] != identity ||
      maps.back() != identity)
    return std::nullopt;
  Epilogue epilogue{generic, Value(), generic.getDpsInits()[0],
                    KILN_EPILOGUE_NONE};
  bool hasBias = generic.getNumDpsInputs() == 2;
  if (hasBias) {
    epilogue.bias = generic.getDpsInputs()[1];
    auto biasType = dyn_cast<MemRefType>(epilogue.bias.getType());
    SmallVector<int64_t> strides;
    int64_t offset;
    if (maps[1] != last || !biasType || biasType.getRank() != 1 ||
        failed(getStridesAndOffset(biasType, strides, offset)) ||
        strides[0] != 1)
      return std::nullopt;
  }
  std::optional<kiln_epilogue_t> kind =
      matchEpilogueBody(generic.getRegion().front(), hasBias);
  if (!kind || (!hasBias && *kind == KILN_EPILOGUE_NONE))
    return std::nullopt;
  epilogue.kind = *kind;
  return epilogue;
}

Value kiln::getRootBuffer(Value value) {
  while (auto viewLike = value.getDefiningOp<ViewLikeOpInterface>())
    value = viewLike.getViewSource();
  return value;
}
