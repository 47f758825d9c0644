//===- KilnRuntime.cpp - the kiln_rt dialect ------------------------------===//
//
// kiln_rt.kernel_call: verifier, memory effects and its bufferization model
// (destination-passing style through DstBufferizableOpInterfaceExternalModel;
// the outputs are write-only, and operands that are not dense row-major
// buffers are copied to and from contiguous ones).
//
//===----------------------------------------------------------------------===//

#include "ir/KilnRuntime.h"

#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/IR/DstBufferizableOpInterfaceImpl.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"

using namespace mlir;
using namespace mlir::kiln_rt;

#include "ir/KilnRuntimeDialect.cpp.inc"

#define GET_OP_CLASSES
#include "ir/KilnRuntimeOps.cpp.inc"

bool kiln_rt::isDenseRowMajor(MemRefType type) {
  if (!type.hasStaticShape())
    return false;
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(getStridesAndOffset(type, strides, offset)))
    return false;
  int64_t expected = 1;
  for (int64_t d = type.getRank() - 1; d >= 0; --d) {
    if (type.getDimSize(d) != 1 && strides[d] != expected)
      return false;
    expected *= type.getDimSize(d);
  }
  return true;
}

LogicalResult KernelCallOp::verify() {
  auto isTensor = [](Value v) { return isa<RankedTensorType>(v.getType()); };
  bool tensors = llvm::all_of(getOperands(), isTensor);
  bool memrefs = llvm::none_of(getOperands(), isTensor);
  if (!tensors && !memrefs)
    return emitOpError("operands must be all tensors or all memrefs");
  if (getOutputs().empty())
    return emitOpError("needs at least one output");
  if (tensors) {
    if (getResults().getTypes() != getOutputs().getTypes())
      return emitOpError("on tensors returns one result of each output's "
                         "type");
  } else if (!getResults().empty()) {
    return emitOpError("on memrefs has no results");
  }
  if (getDescriptor().empty())
    return emitOpError("needs a descriptor");
  int64_t previous = -1;
  for (int64_t position : getNullPointers()) {
    if (position <= previous || position >= getNumPointers())
      return emitOpError("null_pointers must be increasing positions below ")
             << getNumPointers();
    previous = position;
  }
  return success();
}

void KernelCallOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  for (OpOperand &operand : getInputsMutable())
    if (isa<MemRefType>(operand.get().getType()))
      effects.emplace_back(MemoryEffects::Read::get(), &operand,
                           SideEffects::DefaultResource::get());
  for (OpOperand &operand : getOutputsMutable())
    if (isa<MemRefType>(operand.get().getType()))
      effects.emplace_back(MemoryEffects::Write::get(), &operand,
                           SideEffects::DefaultResource::get());
}

namespace {
/// One-shot bufferization of kernel_call: each tensor operand becomes its
/// buffer. The kernels take dense row-major buffers, so a strided one is
/// copied into a fresh buffer first (inputs) or the kernel writes a fresh
/// buffer that is copied into it afterwards (outputs).
struct KernelCallBufferization
    : bufferization::DstBufferizableOpInterfaceExternalModel<
          KernelCallBufferization, KernelCallOp> {
  /// The kernels overwrite every output element and never read it.
  bool bufferizesToMemoryRead(Operation *op, OpOperand &operand,
                              const bufferization::AnalysisState &) const {
    return cast<KernelCallOp>(op).isDpsInput(&operand);
  }

  LogicalResult
  bufferize(Operation *op, RewriterBase &rewriter,
            const bufferization::BufferizationOptions &options) const {
    auto call = cast<KernelCallOp>(op);
    if (call.hasPureBufferSemantics())
      return success();
    rewriter.setInsertionPoint(op);
    Location loc = op->getLoc();
    auto freshBuffer = [&](Value like) -> FailureOr<Value> {
      auto type = cast<MemRefType>(like.getType());
      auto dense =
          MemRefType::get(type.getShape(), type.getElementType(),
                          MemRefLayoutAttrInterface(), type.getMemorySpace());
      return options.createAlloc(rewriter, loc, dense, ValueRange());
    };
    SmallVector<Value> inputs, outputs, results;
    SmallVector<std::pair<Value, Value>> copyBack; // (dense, destination)
    for (Value input : call.getInputs()) {
      FailureOr<Value> buffer =
          bufferization::getBuffer(rewriter, input, options);
      if (failed(buffer))
        return failure();
      if (!isDenseRowMajor(cast<MemRefType>(buffer->getType()))) {
        FailureOr<Value> dense = freshBuffer(*buffer);
        if (failed(dense) ||
            failed(options.createMemCpy(rewriter, loc, *buffer, *dense)))
          return failure();
        buffer = dense;
      }
      inputs.push_back(*buffer);
    }
    for (Value output : call.getOutputs()) {
      FailureOr<Value> buffer =
          bufferization::getBuffer(rewriter, output, options);
      if (failed(buffer))
        return failure();
      results.push_back(*buffer);
      if (!isDenseRowMajor(cast<MemRefType>(buffer->getType()))) {
        FailureOr<Value> dense = freshBuffer(*buffer);
        if (failed(dense))
          return failure();
        copyBack.push_back({*dense, *buffer});
        buffer = dense;
      }
      outputs.push_back(*buffer);
    }
    rewriter.create<KernelCallOp>(loc, TypeRange(), call.getCalleeAttr(),
                                  call.getDescriptorAttr(),
                                  call.getNullPointersAttr(), inputs, outputs);
    for (auto [dense, destination] : copyBack)
      if (failed(options.createMemCpy(rewriter, loc, dense, destination)))
        return failure();
    bufferization::replaceOpWithBufferizedValues(rewriter, op, results);
    return success();
  }
};
} // namespace

void KilnRtDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "ir/KilnRuntimeOps.cpp.inc"
      >();
  KernelCallOp::attachInterface<KernelCallBufferization>(*getContext());
}

void kiln_rt::registerKilnRuntimeDialect(DialectRegistry &registry) {
  registry.insert<KilnRtDialect>();
}
