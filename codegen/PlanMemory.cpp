//===- PlanMemory.cpp - static memory plan and the region ABI -------------===//
//
// Implements kiln-plan-memory. After bufferization every public function
// takes its tensors as memref arguments and allocates its temporaries with
// memref.alloc. This pass
//   1. gives each argument a tensor kind (kiln_tensor_kind_t of
//      kiln/runtime.h: param, state, opt_state, input, output) and places it
//      in the caller-owned region of that kind: params (arguments marked
//      `kiln.param`, with `kiln.state` for state), opt_state (arguments
//      marked `kiln.opt_state`) or io (inputs and out-param outputs), packed
//      in argument order at 64-byte aligned offsets;
//   2. places every temporary in one scratch arena: live ranges come from
//      the linear op order of the function body (an alias made by a view op
//      extends its source's range), and a greedy best-fit assignment, largest
//      buffer first, gives buffers whose ranges do not overlap the same
//      bytes;
//   3. rewrites the function to `(params: memref<Pxi8>, opt_state:
//      memref<Oxi8>, io: memref<Ixi8>, scratch: memref<Sxi8>)` (every entry
//      point takes all four, used or not), each former buffer a memref.view at
//      its offset, and records the layout in the `kiln.abi` attribute that the
//      header emitter reads.
// The generated code therefore never allocates. A temporary of dynamic
// shape, or one allocated inside a loop, breaks that contract and is
// reported as an error.
//
//===----------------------------------------------------------------------===//

#include "codegen/Emit.h"
#include "codegen/Passes.h"
#include "ir/KilnDialect.h"
#include "kiln/runtime.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/MathExtras.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_KILNPLANMEMORYPASS
#define GEN_PASS_DEF_KILNPREPAREENTRYPOINTSPASS
#include "codegen/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using mlir::kiln::KilnDialect;

namespace {
/// Alignment in bytes of every region base and every buffer offset: a cache
/// line, and enough for AVX-512 loads.
constexpr int64_t kAlignment = 64;

int64_t getByteSize(MemRefType type) {
  return type.getNumElements() *
         llvm::divideCeil(type.getElementTypeBitWidth(), 8);
}

/// A temporary buffer with its live range [first, last] in op positions.
struct Temporary {
  memref::AllocOp alloc;
  int64_t size;
  int64_t first;
  int64_t last;
  int64_t offset = -1;
};

/// Position of each op of `body` in a pre-order walk; nested ops count as
/// the position of the op itself, so a use inside a loop extends a live
/// range to the loop's position.
llvm::DenseMap<Operation *, int64_t> numberOps(Block &body) {
  llvm::DenseMap<Operation *, int64_t> position;
  int64_t next = 0;
  for (Operation &op : body)
    op.walk<WalkOrder::PreOrder>(
        [&](Operation *nested) { position[nested] = next++; });
  return position;
}

/// Last position at which `value` or any alias derived from it is used.
int64_t getLastUse(Value value,
                   const llvm::DenseMap<Operation *, int64_t> &position) {
  int64_t last = -1;
  SmallVector<Value> worklist = {value};
  while (!worklist.empty()) {
    Value current = worklist.pop_back_val();
    for (Operation *user : current.getUsers()) {
      last = std::max(last, position.lookup(user));
      // Views and casts alias their source: follow them.
      if (isa<ViewLikeOpInterface, memref::CastOp, memref::CollapseShapeOp,
              memref::ExpandShapeOp, memref::ReshapeOp,
              memref::ReinterpretCastOp>(user))
        for (Value result : user->getResults())
          if (isa<MemRefType>(result.getType()))
            worklist.push_back(result);
    }
  }
  return last;
}

/// Greedy offset assignment, largest first: each buffer goes to the lowest
/// aligned offset that does not overlap a placed buffer with an overlapping
/// live range. Returns the arena size.
int64_t assignOffsets(MutableArrayRef<Temporary> temps) {
  SmallVector<Temporary *> order;
  for (Temporary &t : temps)
    order.push_back(&t);
  // Largest first; equal sizes in program order (deterministic plans).
  llvm::sort(order, [](const Temporary *a, const Temporary *b) {
    return a->size != b->size ? a->size > b->size : a->first < b->first;
  });
  int64_t arenaSize = 0;
  SmallVector<Temporary *> placed;
  for (Temporary *t : order) {
    // Byte intervals taken by live-overlapping buffers, sorted by offset.
    SmallVector<std::pair<int64_t, int64_t>> busy;
    for (Temporary *p : placed)
      if (p->first <= t->last && t->first <= p->last)
        busy.push_back({p->offset, p->offset + p->size});
    llvm::sort(busy);
    int64_t candidate = 0;
    for (auto [begin, end] : busy) {
      if (candidate + t->size <= begin)
        break;
      candidate = std::max<int64_t>(candidate, llvm::alignTo(end, kAlignment));
    }
    t->offset = candidate;
    arenaSize = std::max(arenaSize, candidate + t->size);
    placed.push_back(t);
  }
  return llvm::alignTo(arenaSize, kAlignment);
}

/// Plans and rewrites one public function; reports errors on `func`.
LogicalResult planFunction(func::FuncOp func) {
  MLIRContext *ctx = func.getContext();
  Block &body = func.getBody().front();
  Location loc = func.getLoc();

  // 1. Arguments into the params, opt_state and io regions.
  struct Placement {
    kiln_region_t region;
    int64_t offset;
  };
  SmallVector<Placement> argPlacement;
  int64_t regionSize[KILN_REGION_COUNT] = {};
  SmallVector<Attribute> tensors;
  unsigned numOriginalResults = 0;
  if (auto count = kiln::getOpAttr<KilnDialect::NumInputsAttrHelper>(func))
    numOriginalResults = func.getNumArguments() - count.getInt();
  else
    return func.emitError("kiln-plan-memory needs the kiln.num_inputs "
                          "attribute of kiln-prepare-entry-points");
  bool failedArgs = false;
  for (BlockArgument arg : body.getArguments()) {
    auto type = dyn_cast<MemRefType>(arg.getType());
    if (!type || !type.hasStaticShape() || !type.getLayout().isIdentity()) {
      func.emitError() << "argument " << arg.getArgNumber() << " has type "
                       << arg.getType()
                       << "; the region ABI needs statically shaped memrefs "
                          "with identity layout";
      failedArgs = true;
      continue;
    }
    unsigned index = arg.getArgNumber();
    auto paramName =
        kiln::getArgAttr<KilnDialect::ParamAttrHelper>(func, index);
    auto optStateName =
        kiln::getArgAttr<KilnDialect::OptStateAttrHelper>(func, index);
    unsigned firstOutput = func.getNumArguments() - numOriginalResults;
    bool isOutput = index >= firstOutput;
    kiln_tensor_kind_t kind =
        paramName ? (kiln::hasArgAttr<KilnDialect::StateAttrHelper>(func, index)
                         ? KILN_TENSOR_STATE
                         : KILN_TENSOR_PARAM)
        : optStateName ? KILN_TENSOR_OPT_STATE
        : isOutput     ? KILN_TENSOR_OUTPUT
                       : KILN_TENSOR_INPUT;
    kiln_region_t region = kiln_tensor_kind_region(kind);
    int64_t offset = llvm::alignTo(regionSize[region], kAlignment);
    regionSize[region] = offset + getByteSize(type);
    argPlacement.push_back({region, offset});

    // Names: kiln.param / kiln.opt_state / kiln.name attributes, else argN /
    // outputN.
    StringAttr name = paramName ? paramName : optStateName;
    if (!name)
      name = kiln::getArgAttr<KilnDialect::NameAttrHelper>(func, index);
    auto outputNames =
        kiln::getOpAttr<KilnDialect::OutputNamesAttrHelper>(func);
    if (isOutput && !name && outputNames &&
        arg.getArgNumber() - firstOutput < outputNames.size())
      name =
          dyn_cast<StringAttr>(outputNames[arg.getArgNumber() - firstOutput]);
    std::string fallback =
        isOutput ? "output" + std::to_string(arg.getArgNumber() - firstOutput)
                 : "arg" + std::to_string(arg.getArgNumber());
    NamedAttrList entry;
    entry.append("name", name ? name : StringAttr::get(ctx, fallback));
    entry.append("kind", StringAttr::get(ctx, kiln_tensor_kind_name(kind)));
    entry.append("region", StringAttr::get(ctx, kiln_region_name(region)));
    entry.append("offset", IntegerAttr::get(IntegerType::get(ctx, 64), offset));
    entry.append("shape", DenseI64ArrayAttr::get(ctx, type.getShape()));
    entry.append("dtype", StringAttr::get(
                              ctx, kiln::getDTypeName(type.getElementType())));
    entry.append(
        "updated",
        BoolAttr::get(ctx, kiln::hasArgAttr<KilnDialect::UpdatedAttrHelper>(
                               func, index)));
    tensors.push_back(entry.getDictionary(ctx));
  }
  if (failedArgs)
    return failure();

  // 2. Temporaries into the scratch arena.
  llvm::DenseMap<Operation *, int64_t> position = numberOps(body);
  SmallVector<Temporary> temps;
  bool failedAllocs = false;
  func.walk([&](memref::AllocOp alloc) {
    if (alloc->getBlock() != &body || !alloc.getType().hasStaticShape() ||
        !alloc.getType().getLayout().isIdentity()) {
      alloc.emitError("temporary buffer of type ")
          << alloc.getType()
          << " cannot be placed in the static scratch arena (it must have "
             "a static shape, identity layout, and be allocated at function "
             "level)";
      failedAllocs = true;
      return;
    }
    int64_t first = position.lookup(alloc);
    int64_t last = std::max(first, getLastUse(alloc, position));
    temps.push_back({alloc, getByteSize(alloc.getType()), first, last});
  });
  if (failedAllocs)
    return failure();
  int64_t scratchSize = assignOffsets(temps);
  int64_t temporariesTotal = 0;
  for (const Temporary &t : temps)
    temporariesTotal += t.size;

  // 3. Rewrite to the region signature.
  auto regionType = [&](int64_t size) {
    return MemRefType::get({size}, IntegerType::get(ctx, 8));
  };
  Type paramsType =
      regionType(llvm::alignTo(regionSize[KILN_REGION_PARAMS], kAlignment));
  Type stateType =
      regionType(llvm::alignTo(regionSize[KILN_REGION_OPT_STATE], kAlignment));
  Type ioType =
      regionType(llvm::alignTo(regionSize[KILN_REGION_IO], kAlignment));
  Type scratchType = regionType(scratchSize);
  unsigned numArgs = body.getNumArguments();
  // The region arguments, in kiln_region_t order.
  Value regions[KILN_REGION_COUNT];
  regions[KILN_REGION_PARAMS] = body.addArgument(paramsType, loc);
  regions[KILN_REGION_OPT_STATE] = body.addArgument(stateType, loc);
  regions[KILN_REGION_IO] = body.addArgument(ioType, loc);
  regions[KILN_REGION_SCRATCH] = body.addArgument(scratchType, loc);
  Value scratch = regions[KILN_REGION_SCRATCH];

  OpBuilder b = OpBuilder::atBlockBegin(&body);
  auto viewAt = [&](OpBuilder &builder, Location l, Value region,
                    int64_t offset, MemRefType type) {
    Value shift = builder.create<arith::ConstantIndexOp>(l, offset);
    return builder.create<memref::ViewOp>(l, type, region, shift, ValueRange{})
        .getResult();
  };
  for (unsigned i = 0; i < numArgs; ++i) {
    BlockArgument arg = body.getArgument(i);
    Value view =
        viewAt(b, loc, regions[argPlacement[i].region], argPlacement[i].offset,
               cast<MemRefType>(arg.getType()));
    arg.replaceAllUsesWith(view);
  }
  for (Temporary &t : temps) {
    OpBuilder at(t.alloc);
    Value view =
        viewAt(at, t.alloc.getLoc(), scratch, t.offset, t.alloc.getType());
    t.alloc.getResult().replaceAllUsesWith(view);
    t.alloc.erase();
  }
  func.walk([](memref::DeallocOp dealloc) { dealloc.erase(); });

  llvm::BitVector erased(body.getNumArguments());
  erased.set(0, numArgs);
  body.eraseArguments(erased);
  func.setFunctionType(
      FunctionType::get(ctx, {paramsType, stateType, ioType, scratchType},
                        func.getResultTypes()));
  func.removeArgAttrsAttr();
  // The four regions are separate allocations (kiln_regions_create; the ABI
  // forbids overlapping regions, docs/architecture.md) aligned to
  // kAlignment: tell LLVM, so that its vectorizer needs no runtime overlap
  // checks and no loop versions for them.
  for (unsigned i = 0; i < KILN_REGION_COUNT; ++i) {
    func.setArgAttr(i, LLVM::LLVMDialect::getNoAliasAttrName(),
                    UnitAttr::get(ctx));
    func.setArgAttr(i, LLVM::LLVMDialect::getAlignAttrName(),
                    IntegerAttr::get(IntegerType::get(ctx, 64), kAlignment));
  }

  auto i64 = [&](int64_t v) {
    return IntegerAttr::get(IntegerType::get(ctx, 64), v);
  };
  NamedAttrList abi;
  abi.append("alignment", i64(kAlignment));
  abi.append("params_size", i64(cast<MemRefType>(paramsType).getNumElements()));
  abi.append("opt_state_size",
             i64(cast<MemRefType>(stateType).getNumElements()));
  abi.append("io_size", i64(cast<MemRefType>(ioType).getNumElements()));
  abi.append("scratch_size", i64(scratchSize));
  abi.append("temporaries_total", i64(temporariesTotal));
  abi.append("num_temporaries", i64(temps.size()));
  abi.append("tensors", ArrayAttr::get(ctx, tensors));
  kiln::setOpAttr<KilnDialect::AbiAttrHelper>(func, abi.getDictionary(ctx));
  kiln::removeOpAttr<KilnDialect::NumInputsAttrHelper>(func);
  kiln::removeOpAttr<KilnDialect::OutputNamesAttrHelper>(func);
  return success();
}

/// Results marked `kiln.update_of = i` (new parameters and optimizer state
/// of a training step) are written into argument i's buffer
/// (bufferization.materialize_in_destination) and dropped from the results:
/// the caller's params and opt_state regions are updated in place.
LogicalResult materializeUpdates(func::FuncOp func) {
  SmallVector<unsigned> updated;
  for (unsigned r = 0, e = func.getNumResults(); r < e; ++r)
    if (kiln::hasResultAttr<KilnDialect::UpdateOfAttrHelper>(func, r))
      updated.push_back(r);
  if (updated.empty())
    return success();
  SmallVector<DictionaryAttr> keptAttrs;
  SmallVector<Type> keptTypes;
  for (unsigned r = 0, e = func.getNumResults(); r < e; ++r)
    if (!llvm::is_contained(updated, r)) {
      keptAttrs.push_back(func.getResultAttrDict(r));
      keptTypes.push_back(func.getResultTypes()[r]);
    }
  WalkResult walk = func.walk([&](func::ReturnOp ret) -> WalkResult {
    OpBuilder builder(ret);
    SmallVector<Value> kept;
    for (auto [r, value] : llvm::enumerate(ret.getOperands())) {
      if (!llvm::is_contained(updated, r)) {
        kept.push_back(value);
        continue;
      }
      int64_t arg =
          kiln::getResultAttr<KilnDialect::UpdateOfAttrHelper>(func, r)
              .getInt();
      if (arg < 0 || arg >= func.getNumArguments() ||
          func.getArgument(arg).getType() != value.getType()) {
        func.emitError() << KilnDialect::UpdateOfAttrHelper::getNameStr()
                         << " of result " << r << " names argument " << arg
                         << ", which does not exist or has another type";
        return WalkResult::interrupt();
      }
      builder.create<bufferization::MaterializeInDestinationOp>(
          ret.getLoc(), value, func.getArgument(arg));
      kiln::setArgAttr<KilnDialect::UpdatedAttrHelper>(func, arg,
                                                       builder.getUnitAttr());
    }
    builder.create<func::ReturnOp>(ret.getLoc(), kept);
    ret.erase();
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  func.setFunctionType(
      FunctionType::get(func.getContext(), func.getArgumentTypes(), keptTypes));
  func.setAllResultAttrs(keptAttrs);
  return success();
}

struct KilnPrepareEntryPointsPass
    : public kiln::impl::KilnPrepareEntryPointsPassBase<
          KilnPrepareEntryPointsPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal() || !func.isPublic())
        continue;
      Builder b(func.getContext());
      if (failed(materializeUpdates(func)))
        return signalPassFailure();
      kiln::setOpAttr<KilnDialect::NumInputsAttrHelper>(
          func, b.getI64IntegerAttr(func.getNumArguments()));
      SmallVector<Attribute> names;
      for (unsigned i = 0, e = func.getNumResults(); i < e; ++i) {
        auto name = kiln::getResultAttr<KilnDialect::NameAttrHelper>(func, i);
        names.push_back(name ? name
                             : b.getStringAttr("output" + std::to_string(i)));
      }
      kiln::setOpAttr<KilnDialect::OutputNamesAttrHelper>(
          func, b.getArrayAttr(names));
      // Result-to-argument references and result roles end here:
      // bufferization turns results into out-params (and their attributes
      // into argument attributes). A kiln.loss_mask result left in a
      // function (a forward function compiled as it is) is an output.
      for (unsigned i = 0, e = func.getNumResults(); i < e; ++i)
        for (StringRef name :
             {KilnDialect::GradientOfAttrHelper::getNameStr(),
              KilnDialect::StateUpdateOfAttrHelper::getNameStr(),
              KilnDialect::LossMaskAttrHelper::getNameStr()})
          func.removeResultAttr(i, b.getStringAttr(name));

      // Each output needs its own buffer: copy returned arguments and
      // repeated values.
      func.walk([&](func::ReturnOp ret) {
        llvm::SmallPtrSet<Value, 8> seen;
        OpBuilder builder(ret);
        for (OpOperand &operand : ret->getOpOperands()) {
          Value value = operand.get();
          bool repeated = !seen.insert(value).second;
          auto type = dyn_cast<RankedTensorType>(value.getType());
          if (!type || (!isa<BlockArgument>(value) && !repeated))
            continue;
          operand.set(builder.create<bufferization::AllocTensorOp>(
              ret.getLoc(), type, ValueRange{}, value));
        }
      });
    }
  }
};

struct KilnPlanMemoryPass
    : public kiln::impl::KilnPlanMemoryPassBase<KilnPlanMemoryPass> {
  void runOnOperation() override {
    bool failed = false;
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      if (!func.isPublic()) {
        func.emitError("kiln-plan-memory: private function @")
            << func.getSymName()
            << " is still here after inlining (something other than a "
               "call refers to it); only entry points can be compiled";
        failed = true;
        continue;
      }
      if (func.getNumResults() != 0) {
        func.emitError("kiln-plan-memory expects results converted to "
                       "out-params (run buffer-results-to-out-params "
                       "first)");
        failed = true;
        continue;
      }
      failed |= LogicalResult(planFunction(func)).failed();
    }
    if (failed)
      signalPassFailure();
  }
};
} // namespace

/// See codegen/Emit.h.
std::string mlir::kiln::getDTypeName(Type type) {
  if (type.isF32())
    return "f32";
  if (type.isF64())
    return "f64";
  if (type.isInteger(1))
    return "i1";
  if (type.isInteger(32))
    return "i32";
  if (type.isInteger(64))
    return "i64";
  std::string name;
  llvm::raw_string_ostream os(name);
  type.print(os);
  return name;
}
