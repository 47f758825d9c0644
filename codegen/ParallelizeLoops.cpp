//===- ParallelizeLoops.cpp - generated loops on the runtime's threads ----===//
//
// Implements kiln-parallelize-loops. After bufferization and the memory plan,
// a large linalg.generic at the top level of an entry point whose outermost
// loop is parallel is split along that loop into chunks that run on the
// runtime's thread pool (the one the kernels use):
//
//   linalg.generic ins(%a : memref<128x26x26x32xf32>, ...) outs(...)
//
// becomes an outlined function that computes one chunk,
//
//   func.func private @train_step__parallel0(%ctx: !llvm.ptr, %chunk: i64)
//     // the entry point's region buffers and captured scalars, read from
//     // %ctx; the view chains and constants the generic uses, cloned; then
//     // the generic on subviews [chunk * B, min(chunk * B + B, E)) of the
//     // split dimension
//
// and a call at the generic's place:
//
//   func.call @kiln_parallel_for(%chunks, %fn, %ctx)
//       : (i64, !llvm.ptr, !llvm.ptr) -> ()
//
// where %ctx is a stack array of 8-byte slots holding the captures. Each chunk
// computes exactly the iterations the serial loop would, in the same order
// within the chunk; chunks write disjoint slices of the outputs (the split loop
// is parallel and every operand's indexing map is a projected permutation), so
// results are bitwise identical to the serial loop for any thread count.
//
// A float sum over the outermost loop into one output (the body yields
// addf(v, out); e.g. a bias gradient, the sum of dy over batch and spatial
// positions) is split as well: chunk c sums its rows into row c of a stack
// buffer of partial sums, starting from -0.0 (the identity of addf), and
// after the parallel loop out = ((out + partial[0]) + partial[1]) + ...
// That rounds differently from the serial loop, but the split depends only
// on the shapes, so results stay the same for every thread count.
//
// The chunk function gets the entry point's region buffers and the scalars
// computed before the generic (e.g. the dropout counter, loaded from memory)
// through the context; views, constants and other pure ops it needs are
// cloned into it. Generics that need anything else, and small ones, stay
// serial.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "codegen/RuntimeCalls.h"

#include "mlir/Conversion/LLVMCommon/MemRefBuilder.h"
#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_KILNPARALLELIZELOOPSPASS
#include "codegen/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;

namespace {

/// How one generic is split: `chunks` chunks of `chunkSize` indices of loop
/// 0 (extent `extent`), the last possibly shorter.
struct SplitPlan {
  int64_t extent, chunkSize, chunks;
  /// Loop 0 is a sum reduction into the one output: each chunk sums into
  /// its own row of a partial-sums buffer [chunks, output shape], added to
  /// the output in chunk order afterwards.
  bool sumReduction = false;
  /// What the context array carries, one 8-byte slot each: entry-point
  /// arguments (static memrefs, as pointers) and scalars computed before
  /// the generic by ops that cannot be cloned (e.g. a memref.load of the
  /// dropout counter), by value.
  SmallVector<Value> captures;
  /// The pure ops that compute the generic's other values from the
  /// captures, in program order; cloned into the chunk function.
  SmallVector<Operation *> ops;
};

bool isScalar(Type type) { return type.isIntOrIndexOrFloat(); }

/// Collects into `ops` / `captures` what `value` is computed from; false
/// when that needs anything but static identity-layout memref arguments of
/// `func`'s entry block, scalars and pure, region-free ops.
bool collectSources(Value value, func::FuncOp func,
                    llvm::SetVector<Operation *> &ops,
                    llvm::SetVector<Value> &captures) {
  if (captures.contains(value))
    return true;
  if (auto argument = dyn_cast<BlockArgument>(value)) {
    auto type = dyn_cast<MemRefType>(argument.getType());
    if (argument.getOwner() != &func.getBody().front() || !type ||
        !type.hasStaticShape() || !type.getLayout().isIdentity())
      return false;
    captures.insert(argument);
    return true;
  }
  Operation *def = value.getDefiningOp();
  if (ops.contains(def))
    return true;
  if (def->getNumRegions() == 0 && isPure(def) &&
      def->getParentOp() == func.getOperation()) {
    llvm::SetVector<Operation *> opsBefore = ops;
    llvm::SetVector<Value> capturesBefore = captures;
    bool clonable = true;
    for (Value operand : def->getOperands())
      clonable = clonable && collectSources(operand, func, ops, captures);
    if (clonable) {
      ops.insert(def);
      return true;
    }
    ops = std::move(opsBefore);
    captures = std::move(capturesBefore);
  }
  if (!isScalar(value.getType()))
    return false;
  captures.insert(value);
  return true;
}

/// Stack bytes the partial sums of one split reduction may take.
constexpr int64_t kMaxPartialBytes = 256 * 1024;

/// Whether `generic` has one output, of a float type, whose indexing map
/// does not use loop 0, and a body that yields `arith.addf(v, out)` (or
/// `addf(out, v)`) with `out`, the output's block argument, used nowhere
/// else: a sum over loop 0 that can be split into partial sums.
bool isFloatSumIntoOutput(linalg::GenericOp generic) {
  if (generic.getNumDpsInits() != 1)
    return false;
  OpOperand *init = generic.getDpsInitOperand(0);
  auto type = dyn_cast<MemRefType>(init->get().getType());
  if (!type || !isa<FloatType>(type.getElementType()) ||
      generic.getMatchingIndexingMap(init).isFunctionOfDim(0))
    return false;
  // Loop 0 must be a reduction and the other reductions too (the output
  // is indexed by the parallel loops only).
  Block &body = generic.getRegion().front();
  BlockArgument out = generic.getMatchingBlockArgument(init);
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getValues()[0].getDefiningOp<arith::AddFOp>();
  if (!add || !out.hasOneUse() || (add.getLhs() != out && add.getRhs() != out))
    return false;
  return true;
}

std::optional<SplitPlan> planSplit(linalg::GenericOp generic, func::FuncOp func,
                                   int64_t minIterations,
                                   int64_t minChunkIterations,
                                   int64_t maxChunks) {
  if (!generic.hasPureBufferSemantics() || generic.getNumLoops() == 0 ||
      generic->getParentOp() != func.getOperation())
    return std::nullopt;
  bool sumReduction =
      generic.getIteratorTypesArray().front() != utils::IteratorType::parallel;
  if (sumReduction && !isFloatSumIntoOutput(generic))
    return std::nullopt;
  SmallVector<int64_t> ranges = generic.getStaticLoopRanges();
  int64_t iterations = 1;
  for (int64_t range : ranges) {
    if (ShapedType::isDynamic(range) || range < 1)
      return std::nullopt;
    if (iterations > (int64_t(1) << 40) / range)
      return std::nullopt;
    iterations *= range;
  }
  if (iterations < minIterations || ranges.front() < 2)
    return std::nullopt;
  for (AffineMap map : generic.getIndexingMapsArray())
    if (!map.isProjectedPermutation(/*allowZeroInResults=*/false))
      return std::nullopt;
  for (OpOperand &operand : generic->getOpOperands())
    if (!isa<MemRefType>(operand.get().getType()))
      return std::nullopt;

  SplitPlan plan;
  plan.sumReduction = sumReduction;
  plan.extent = ranges.front();
  int64_t perIndex = iterations / plan.extent;
  int64_t chunkSize =
      std::max<int64_t>(1, (minChunkIterations + perIndex - 1) / perIndex);
  chunkSize = std::max(chunkSize, (plan.extent + maxChunks - 1) / maxChunks);
  plan.chunkSize = chunkSize;
  plan.chunks = (plan.extent + chunkSize - 1) / chunkSize;
  if (plan.chunks < 2)
    return std::nullopt;
  if (sumReduction) {
    // The partial sums live on the stack: keep them small.
    auto outType = cast<MemRefType>(generic.getDpsInits()[0].getType());
    if (plan.chunks * outType.getNumElements() * 8 > kMaxPartialBytes)
      return std::nullopt;
  }

  llvm::SetVector<Operation *> ops;
  llvm::SetVector<Value> captures;
  llvm::SetVector<Value> used;
  for (Value operand : generic->getOperands())
    used.insert(operand);
  getUsedValuesDefinedAbove(generic->getRegions(), used);
  for (Value value : used)
    if (!collectSources(value, func, ops, captures))
      return std::nullopt;
  plan.captures.assign(captures.begin(), captures.end());
  plan.ops.assign(ops.begin(), ops.end());
  llvm::sort(plan.ops,
             [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
  return plan;
}

/// Builds the outlined chunk function of `generic` at the end of `module`.
func::FuncOp outlineChunk(linalg::GenericOp generic, const SplitPlan &plan,
                          StringRef name, ModuleOp module) {
  MLIRContext *ctx = module.getContext();
  Location loc = generic.getLoc();
  auto ptrType = LLVM::LLVMPointerType::get(ctx);
  Type i64 = IntegerType::get(ctx, 64);
  OpBuilder b(ctx);
  b.setInsertionPointToEnd(module.getBody());
  auto func = b.create<func::FuncOp>(
      loc, name, FunctionType::get(ctx, {ptrType, i64}, {}));
  func.setPrivate();
  func->setAttr("llvm.linkage",
                LLVM::LinkageAttr::get(ctx, LLVM::Linkage::Internal));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Value context = entry->getArgument(0);
  Value chunk = entry->getArgument(1);

  // The captures from the context: region buffers as memref descriptors
  // around their pointers, scalars by value (index travels as i64).
  LLVMTypeConverter typeConverter(ctx);
  IRMapping mapping;
  for (auto [i, capture] : llvm::enumerate(plan.captures)) {
    Value slot = b.create<LLVM::GEPOp>(loc, ptrType, i64, context,
                                       ArrayRef<LLVM::GEPArg>{int32_t(i)});
    Type type = capture.getType();
    if (auto memrefType = dyn_cast<MemRefType>(type)) {
      Value pointer = b.create<LLVM::LoadOp>(loc, ptrType, slot);
      Value descriptor = MemRefDescriptor::fromStaticShape(
          b, loc, typeConverter, memrefType, pointer);
      mapping.map(capture, b.create<UnrealizedConversionCastOp>(loc, memrefType,
                                                                descriptor)
                               .getResult(0));
      continue;
    }
    Value value =
        b.create<LLVM::LoadOp>(loc, type.isIndex() ? i64 : type, slot);
    if (type.isIndex())
      value = b.create<arith::IndexCastOp>(loc, type, value);
    mapping.map(capture, value);
  }
  for (Operation *op : plan.ops)
    b.clone(*op, mapping);

  // This chunk's range of loop 0.
  Value chunkIndex = b.create<arith::IndexCastOp>(loc, b.getIndexType(), chunk);
  Value lo = b.create<arith::MulIOp>(
      loc, chunkIndex, b.create<arith::ConstantIndexOp>(loc, plan.chunkSize));
  Value size = b.create<arith::MinSIOp>(
      loc, b.create<arith::ConstantIndexOp>(loc, plan.chunkSize),
      b.create<arith::SubIOp>(
          loc, b.create<arith::ConstantIndexOp>(loc, plan.extent), lo));

  // A split sum accumulates into a buffer on this thread's stack, from
  // -0.0 (the identity of addf), then copies it to its row of the partial
  // sums (the last capture). The local buffer, unlike the shared row, is
  // provably disjoint from the inputs, so LLVM vectorizes the accumulation.
  Value partialRow, localSum;
  if (plan.sumReduction) {
    Value partials = mapping.lookup(plan.captures.back());
    auto partialsType = cast<MemRefType>(partials.getType());
    int64_t rank = partialsType.getRank();
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)), sizes,
        strides(rank, b.getIndexAttr(1));
    offsets[0] = chunkIndex;
    sizes.push_back(b.getIndexAttr(1));
    for (int64_t dim : partialsType.getShape().drop_front())
      sizes.push_back(b.getIndexAttr(dim));
    auto rowType =
        cast<MemRefType>(memref::SubViewOp::inferRankReducedResultType(
            partialsType.getShape().drop_front(), partialsType, offsets, sizes,
            strides));
    partialRow = b.create<memref::SubViewOp>(loc, rowType, partials, offsets,
                                             sizes, strides);
    localSum = b.create<memref::AllocaOp>(
        loc, MemRefType::get(partialsType.getShape().drop_front(),
                             partialsType.getElementType()));
    Value negativeZero = b.create<arith::ConstantOp>(
        loc, b.getFloatAttr(partialsType.getElementType(), -0.0));
    b.create<linalg::FillOp>(loc, negativeZero, localSum);
  }

  // Operands: the slice [lo, lo + size) of the dimension indexed by d0.
  SmallVector<Value> operands;
  for (OpOperand &operand : generic->getOpOperands()) {
    if (localSum && generic.isDpsInit(&operand)) {
      operands.push_back(localSum);
      continue;
    }
    Value value = mapping.lookup(operand.get());
    AffineMap map = generic.getMatchingIndexingMap(&operand);
    std::optional<unsigned> position =
        map.getResultPosition(getAffineDimExpr(0, ctx));
    if (!position) {
      operands.push_back(value);
      continue;
    }
    auto type = cast<MemRefType>(value.getType());
    SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes, strides(type.getRank(), b.getIndexAttr(1));
    for (int64_t dim : type.getShape())
      sizes.push_back(b.getIndexAttr(dim));
    offsets[*position] = lo;
    sizes[*position] = size;
    operands.push_back(
        b.create<memref::SubViewOp>(loc, value, offsets, sizes, strides));
  }
  unsigned numInputs = generic.getNumDpsInputs();
  auto chunkGeneric = b.create<linalg::GenericOp>(
      loc, TypeRange{}, ArrayRef<Value>(operands).take_front(numInputs),
      ArrayRef<Value>(operands).drop_front(numInputs),
      generic.getIndexingMapsArray(), generic.getIteratorTypesArray());
  generic.getRegion().cloneInto(&chunkGeneric.getRegion(), mapping);
  // linalg.index 0 counts from the chunk's start: add lo.
  SmallVector<linalg::IndexOp> indices;
  chunkGeneric.walk([&](linalg::IndexOp index) {
    if (index.getDim() == 0)
      indices.push_back(index);
  });
  for (linalg::IndexOp index : indices) {
    b.setInsertionPointAfter(index);
    auto shifted = b.create<arith::AddIOp>(loc, index, lo);
    index.getResult().replaceAllUsesExcept(shifted, shifted);
  }
  b.setInsertionPointToEnd(entry);
  if (localSum) {
    int64_t rank = cast<MemRefType>(localSum.getType()).getRank();
    SmallVector<AffineMap> maps(2, b.getMultiDimIdentityMap(rank));
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    b.create<linalg::GenericOp>(
        loc, TypeRange{}, ValueRange{localSum}, ValueRange{partialRow}, maps,
        iterators, [](OpBuilder &nested, Location nestedLoc, ValueRange args) {
          nested.create<linalg::YieldOp>(nestedLoc, args[0]);
        });
  }
  b.create<func::ReturnOp>(loc);
  return func;
}

struct KilnParallelizeLoopsPass
    : public kiln::impl::KilnParallelizeLoopsPassBase<
          KilnParallelizeLoopsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    auto ptrType = LLVM::LLVMPointerType::get(ctx);
    Type i64 = IntegerType::get(ctx, 64);

    SmallVector<std::pair<linalg::GenericOp, func::FuncOp>> generics;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      for (auto generic : func.getBody().front().getOps<linalg::GenericOp>())
        generics.emplace_back(generic, func);
    }
    unsigned next = 0;
    for (auto [generic, func] : generics) {
      std::optional<SplitPlan> plan = planSplit(generic, func, minIterations,
                                                minChunkIterations, maxChunks);
      if (!plan)
        continue;
      std::string name;
      do
        name = (func.getName() + "__parallel" + Twine(next++)).str();
      while (module.lookupSymbol(name));
      Location loc = generic.getLoc();
      OpBuilder b(ctx);
      b.setInsertionPointToStart(&func.getBody().front());
      // A split sum's partial sums: [chunks, output shape] on the stack.
      Value partials;
      if (plan->sumReduction) {
        auto outType = cast<MemRefType>(generic.getDpsInits()[0].getType());
        SmallVector<int64_t> shape{plan->chunks};
        llvm::append_range(shape, outType.getShape());
        partials = b.create<memref::AllocaOp>(
            loc, MemRefType::get(shape, outType.getElementType()));
        plan->captures.push_back(partials);
      }
      func::FuncOp chunkFunc = outlineChunk(generic, *plan, name, module);

      // The context: one 8-byte slot per capture, in a stack array
      // allocated at the entry point's start, filled before the call.
      b.setInsertionPointToStart(&func.getBody().front());
      Value slots = b.create<LLVM::AllocaOp>(
          loc, ptrType, i64,
          b.create<LLVM::ConstantOp>(
              loc, i64, b.getI64IntegerAttr(plan->captures.size())));
      b.setInsertionPoint(generic);
      for (auto [i, capture] : llvm::enumerate(plan->captures)) {
        Value value = capture;
        if (isa<MemRefType>(value.getType()))
          value = kiln::getElementPointer(b, loc, value);
        else if (value.getType().isIndex())
          value = b.create<arith::IndexCastOp>(loc, i64, value);
        Value slot = b.create<LLVM::GEPOp>(loc, ptrType, i64, slots,
                                           ArrayRef<LLVM::GEPArg>{int32_t(i)});
        b.create<LLVM::StoreOp>(loc, value, slot);
      }
      Value function = b.create<func::ConstantOp>(
          loc, chunkFunc.getFunctionType(), chunkFunc.getName());
      Value functionPointer =
          b.create<UnrealizedConversionCastOp>(loc, ptrType, function)
              .getResult(0);
      func::FuncOp parallelFor = kiln::getOrDeclareRuntimeFunction(
          module, "kiln_parallel_for",
          FunctionType::get(ctx, {i64, ptrType, ptrType}, {}));
      Value chunks = b.create<LLVM::ConstantOp>(
          loc, i64, b.getI64IntegerAttr(plan->chunks));
      b.create<func::CallOp>(loc, parallelFor,
                             ValueRange{chunks, functionPointer, slots});
      if (partials) {
        // out = ((out + partial[0]) + partial[1]) + ...: chunk order, so
        // the sum does not depend on the thread count.
        Value out = generic.getDpsInits()[0];
        auto outType = cast<MemRefType>(out.getType());
        int64_t rank = outType.getRank();
        SmallVector<AffineMap> maps{
            b.getMultiDimIdentityMap(rank + 1),
            AffineMap::get(
                rank + 1, 0,
                b.getMultiDimIdentityMap(rank + 1).getResults().drop_front(),
                ctx)};
        SmallVector<utils::IteratorType> iterators(
            rank + 1, utils::IteratorType::parallel);
        iterators[0] = utils::IteratorType::reduction;
        b.create<linalg::GenericOp>(
            loc, TypeRange{}, ValueRange{partials}, ValueRange{out}, maps,
            iterators,
            [](OpBuilder &nested, Location nestedLoc, ValueRange args) {
              Value sum =
                  nested.create<arith::AddFOp>(nestedLoc, args[1], args[0]);
              nested.create<linalg::YieldOp>(nestedLoc, sum);
            });
      }
      generic.erase();
    }
  }
};

} // namespace
