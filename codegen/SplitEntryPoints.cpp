//===- SplitEntryPoints.cpp - long entry points as calls of parts ---------===//
//
// Implements kiln-split-entry-points. LLVM's optimizer and code generator
// are superlinear in the size of one function: value tracking scans whole
// basic blocks, scalar evolution and the dominator tree walk chains as deep
// as the function has loops. A model of N layers gives an entry point of
// O(N) loop nests, and compile time grew as N^2 (100, 200 Dense layers: 11,
// 37 s). This pass cuts the top level of an entry point that has more than
// `max-ops` ops into consecutive parts of about `part-ops` ops each and
// moves each part into a private function, called in its place:
//
//   func.func @train_step(%params: memref<...>, ...) {
//     scf.for ... { ... }            // part 0
//     ...
//     scf.for ... { ... }            // part 1
//     ...
//   }
//
// becomes
//
//   func.func @train_step(%params: memref<...>, ...) {
//     %v = call @train_step__part0(%params, ...) : (...) -> f32
//     call @train_step__part1(%params, %v, ...) : (...) -> ()
//   }
//   func.func private @train_step__part0(...) -> f32
//       attributes {passthrough = ["noinline"]} { ... }
//
// Values a part reads from before it become its arguments (constants are
// cloned instead); values later ops read become its results. A part never
// ends where a buffer it allocates is read after it (the buffer would not
// outlive the call): such a cut moves to the next op. The parts run in the
// same order on the same data, so results are bitwise unchanged. A part
// whose name the module already uses is renamed by the symbol table
// (`train_step__part0_0`).
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_KILNSPLITENTRYPOINTSPASS
#include "codegen/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;

namespace {

/// The ops in and under `op`, itself included.
int64_t countOps(Operation *op) {
  int64_t n = 0;
  op->walk([&](Operation *) { ++n; });
  return n;
}

bool isConstant(Operation *op) {
  return op->getNumOperands() == 0 && op->getNumRegions() == 0 &&
         op->getNumResults() == 1 && matchPattern(op, m_Constant());
}

bool isAddressType(Type type) {
  return isa<BaseMemRefType, LLVM::LLVMPointerType>(type);
}

/// A pure op that computes an address from the function's arguments and
/// constants: a view, a cast, a global's address, a pointer taken out of a
/// view for a runtime call (memref.extract_aligned_pointer_as_index,
/// index_cast, llvm.inttoptr) and the index arithmetic on it. Cloned next to
/// its users instead of crossing a part boundary: memrefs cross function
/// boundaries as bare pointers (the aligned pointer alone), which would drop
/// a view's offset, and an address computed outside a part would not be
/// based on the part's `llvm.noalias` region arguments.
bool isViewLike(Operation *op) {
  if (op->getNumRegions() != 0 || !isPure(op) || op->getNumResults() == 0)
    return false;
  if (llvm::any_of(op->getResultTypes(), isAddressType))
    return true;
  // Index arithmetic counts only on the way to an address: an operand that
  // is an address or such a computation.
  return llvm::any_of(op->getOperands(), [op](Value operand) {
    if (isAddressType(operand.getType()))
      return true;
    Operation *def = operand.getDefiningOp();
    return def && def->getBlock() == op->getBlock() && isViewLike(def);
  });
}

/// Whether `value`, a capture of a part, may carry an address into memory
/// (a pointer, a memref, or an integer computed from one). Loaded values
/// and the results of loops and calls are data.
bool mayCarryAddress(Value value) {
  if (isAddressType(value.getType()))
    return true;
  Operation *def = value.getDefiningOp();
  if (!def || !isPure(def) || def->getNumRegions() != 0)
    return false;
  return llvm::any_of(def->getOperands(), mayCarryAddress);
}

/// Gives every top-level op of `body` its own copies, right before it, of
/// the view-like ops whose results it uses, and hoists the constants to the
/// start of the block, so that neither ever crosses a part boundary.
void rematerializeViewsAndHoistConstants(Block &body) {
  SmallVector<Operation *> tops;
  for (Operation &op : body)
    tops.push_back(&op);
  OpBuilder builder(body.getParentOp()->getContext());
  for (Operation *op : tops) {
    if (isConstant(op)) {
      op->moveBefore(&body, body.begin());
      continue;
    }
    if (isViewLike(op))
      continue;
    llvm::DenseMap<Value, Value> copies;
    std::function<Value(Value)> copy = [&](Value value) -> Value {
      Operation *def = value.getDefiningOp();
      if (!def || def->getBlock() != &body || !isViewLike(def))
        return value;
      if (Value known = copies.lookup(value))
        return known;
      IRMapping mapping;
      for (Value operand : def->getOperands())
        mapping.map(operand, copy(operand));
      builder.setInsertionPoint(op);
      Operation *clone = builder.clone(*def, mapping);
      for (auto [from, to] : llvm::zip(def->getResults(), clone->getResults()))
        copies[from] = to;
      return copies.lookup(value);
    };
    op->walk([&](Operation *nested) {
      for (OpOperand &use : nested->getOpOperands())
        if (Value replacement = copy(use.get()); replacement != use.get())
          use.set(replacement);
    });
  }
  // The originals are dead now (unless the terminator uses them).
  for (Operation *op : llvm::reverse(tops))
    if (isViewLike(op) && op->use_empty())
      op->erase();
}

/// What crosses the boundary of a part: the values it reads from before it
/// (`captures`; constants excluded, they are cloned) and the values of it
/// that ops after it read (`escapes`).
struct PartInterface {
  llvm::SetVector<Value> captures;
  llvm::SetVector<Operation *> constants;
  llvm::SetVector<Value> escapes;
};

/// Whether `value` may point into memory an op of `part` allocates (a
/// memref.alloca, an llvm.alloca of a context array, or a value computed
/// from one): such memory dies when the part's function returns.
bool mayPointIntoPart(Value value,
                      const llvm::SmallPtrSetImpl<Operation *> &part,
                      Block &body) {
  if (!isa<BaseMemRefType, LLVM::LLVMPointerType>(value.getType()))
    return false;
  SmallVector<Value> worklist = {value};
  llvm::SmallPtrSet<Operation *, 16> seen;
  while (!worklist.empty()) {
    Operation *def = worklist.pop_back_val().getDefiningOp();
    if (!def || !seen.insert(def).second)
      continue;
    Operation *top = body.findAncestorOpInBlock(*def);
    if (!top || !part.contains(top))
      continue;
    auto effects = dyn_cast<MemoryEffectOpInterface>(def);
    if (!effects || effects.hasEffect<MemoryEffects::Allocate>() ||
        def->getNumRegions() != 0)
      return true;
    llvm::append_range(worklist, def->getOperands());
  }
  return false;
}

/// The interface of the ops [begin, end) of `body`, or failure when a part
/// ending there would return a buffer it allocated.
FailureOr<PartInterface> interfaceOf(Block &body, Block::iterator begin,
                                     Block::iterator end) {
  llvm::SmallPtrSet<Operation *, 32> part;
  for (auto it = begin; it != end; ++it)
    part.insert(&*it);
  auto inPart = [&](Operation *op) {
    Operation *top = body.findAncestorOpInBlock(*op);
    return top && part.contains(top);
  };
  PartInterface result;
  for (auto it = begin; it != end; ++it) {
    it->walk([&](Operation *op) {
      for (Value operand : op->getOperands()) {
        Operation *owner = operand.getDefiningOp();
        if (!owner)
          owner = operand.getParentBlock()->getParentOp();
        if (owner && inPart(owner))
          continue;
        Operation *def = operand.getDefiningOp();
        if (def && isConstant(def))
          result.constants.insert(def);
        else
          result.captures.insert(operand);
      }
    });
    for (Value value : it->getResults())
      if (llvm::any_of(value.getUsers(),
                       [&](Operation *user) { return !inPart(user); }))
        result.escapes.insert(value);
  }
  for (Value value : result.escapes)
    if (isa<BaseMemRefType>(value.getType()) ||
        mayPointIntoPart(value, part, body))
      return failure();
  return result;
}

/// Moves the ops [begin, end) of `func`'s body into a new private function
/// `name` and calls it in their place.
void outlinePart(func::FuncOp func, Block::iterator begin, Block::iterator end,
                 const PartInterface &interface, StringRef name,
                 SymbolTable &symbols) {
  Block &body = func.getBody().front();
  MLIRContext *ctx = func.getContext();
  SmallVector<Type> argTypes, resultTypes;
  for (Value v : interface.captures)
    argTypes.push_back(v.getType());
  for (Value v : interface.escapes)
    resultTypes.push_back(v.getType());

  OpBuilder builder(ctx);
  // Through the symbol table: a module that already has a function of this
  // name (a user's `step__part0`) gets the part as `step__part0_0`, ...
  auto part = func::FuncOp::create(
      func.getLoc(), name, FunctionType::get(ctx, argTypes, resultTypes));
  symbols.insert(part, std::next(func->getIterator()));
  part.setPrivate();
  part->setAttr("passthrough",
                builder.getArrayAttr({builder.getStringAttr("noinline")}));
  Block *entry = part.addEntryBlock();

  // The call, before the part's first op.
  builder.setInsertionPoint(&body, begin);
  auto call = builder.create<func::CallOp>(
      begin->getLoc(), part.getSymName(), resultTypes,
      SmallVector<Value>(interface.captures.begin(), interface.captures.end()));

  // Move the ops, then rewire: captures to arguments, cloned constants,
  // escapes to the call's results.
  SmallVector<Operation *> ops;
  for (auto it = begin; it != end; ++it)
    ops.push_back(&*it);
  for (Operation *op : ops)
    op->moveBefore(entry, entry->end());
  auto isInside = [&](OpOperand &use) {
    return part->isProperAncestor(use.getOwner());
  };
  for (auto [capture, arg] :
       llvm::zip(interface.captures, entry->getArguments())) {
    Value value = capture;
    value.replaceUsesWithIf(arg, isInside);
  }
  // The region buffers' `llvm.noalias` and `llvm.align` (kiln-plan-memory)
  // hold in the part too, unless another address reaches it: then memory
  // behind a noalias argument could be reached through a pointer not based
  // on it.
  bool onlyRegionAddresses = llvm::all_of(interface.captures, [&](Value v) {
    auto arg = dyn_cast<BlockArgument>(v);
    return (arg && arg.getOwner() == &body) || !mayCarryAddress(v);
  });
  if (onlyRegionAddresses)
    for (auto [index, capture] : llvm::enumerate(interface.captures))
      if (auto arg = dyn_cast<BlockArgument>(capture);
          arg && arg.getOwner() == &body)
        if (DictionaryAttr attrs = func.getArgAttrDict(arg.getArgNumber()))
          for (NamedAttribute attr : attrs)
            if (attr.getName() == LLVM::LLVMDialect::getNoAliasAttrName() ||
                attr.getName() == LLVM::LLVMDialect::getAlignAttrName())
              part.setArgAttr(index, attr.getName(), attr.getValue());
  builder.setInsertionPointToStart(entry);
  for (Operation *constant : interface.constants) {
    Operation *clone = builder.clone(*constant);
    constant->getResult(0).replaceUsesWithIf(clone->getResult(0), isInside);
  }
  builder.setInsertionPointToEnd(entry);
  builder.create<func::ReturnOp>(
      func.getLoc(),
      SmallVector<Value>(interface.escapes.begin(), interface.escapes.end()));
  for (auto [escape, result] :
       llvm::zip(interface.escapes, call.getResults())) {
    Value value = escape;
    value.replaceUsesWithIf(result, [&](OpOperand &use) {
      return !part->isProperAncestor(use.getOwner());
    });
  }
}

struct KilnSplitEntryPointsPass
    : public kiln::impl::KilnSplitEntryPointsPassBase<
          KilnSplitEntryPointsPass> {
  using KilnSplitEntryPointsPassBase::KilnSplitEntryPointsPassBase;

  void runOnOperation() override {
    SmallVector<func::FuncOp> funcs(getOperation().getOps<func::FuncOp>());
    SymbolTable symbols(getOperation());
    for (func::FuncOp func : funcs) {
      if (func.isDeclaration() || !func.getBody().hasOneBlock() ||
          countOps(func) <= static_cast<int64_t>(maxOps))
        continue;
      split(func, symbols);
    }
  }

  void split(func::FuncOp func, SymbolTable &symbols) {
    Block &body = func.getBody().front();
    rematerializeViewsAndHoistConstants(body);
    Block::iterator begin = body.begin();
    while (begin != body.end() && isConstant(&*begin))
      ++begin;
    unsigned index = 0;
    int64_t size = 0;
    for (auto it = begin; it != body.end();) {
      Operation *op = &*it;
      if (op->hasTrait<OpTrait::IsTerminator>())
        break;
      size += countOps(op);
      ++it;
      if (size < static_cast<int64_t>(partOps))
        continue;
      FailureOr<PartInterface> interface = interfaceOf(body, begin, it);
      if (failed(interface))
        continue; // cut after a later op
      std::string name = (func.getSymName() + "__part" + Twine(index++)).str();
      outlinePart(func, begin, it, *interface, name, symbols);
      begin = it;
      size = 0;
    }
  }
};
} // namespace
