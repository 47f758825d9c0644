//===- FuseConvEpilogues.cpp - bias + activation into kiln_conv_fwd -------===//
//
// Implements kiln-fuse-conv-epilogues. After bufferization, before the memory
// plan, a forward convolution kernel call writing C followed by the
// elementwise op D = act(C + bias) (bias over the channel axis; act: none,
// relu, tanh; codegen/Epilogues.h) becomes one kernel call that writes D,
// passes the bias pointer and sets the epilogue field of its descriptor:
//
//   kiln_rt.kernel_call @kiln_conv_fwd_f32 descriptor = [..., 0, ...]
//       ins(%x, %w) outs(%C) {null_pointers = array<i64: 2>}
//   linalg.generic ins(%C, %bias) outs(%D) { addf; maximumf 0 }
//
// becomes
//
//   kiln_rt.kernel_call @kiln_conv_fwd_f32 descriptor = [..., 1, ...]
//       ins(%x, %w, %bias) outs(%D)
//
// so that C's buffer disappears before the memory plan and the kernel
// applies bias and activation to each output block (the f32 kernel through
// its GEMM's epilogue, runtime/lib/Conv.cpp).
//
//===----------------------------------------------------------------------===//

#include "codegen/Epilogues.h"
#include "codegen/Passes.h"
#include "ir/KilnRuntime.h"
#include "kiln/runtime.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"

#include <cstddef>

namespace mlir::kiln {
#define GEN_PASS_DEF_KILNFUSECONVEPILOGUESPASS
#include "codegen/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;

namespace {

/// The position of kiln_conv_desc_t::epilogue in the descriptor's int64
/// fields.
constexpr int64_t kEpilogueField =
    offsetof(kiln_conv_desc_t, epilogue) / sizeof(int64_t);
static_assert(sizeof(kiln_conv_desc_t) % sizeof(int64_t) == 0,
              "runtime descriptors are int64_t fields only");

/// The position of the nullable bias among kiln_conv_fwd_*'s pointers
/// (x, w, bias, y).
constexpr int64_t kBiasPointer = 2;

bool isConvForward(kiln_rt::KernelCallOp call) {
  StringRef callee = call.getCallee();
  return callee == "kiln_conv_fwd_f32" || callee == "kiln_conv_fwd_f64";
}

/// Fuses the epilogue following `call` into it when that is valid; returns
/// whether it did.
bool fuseEpilogue(kiln_rt::KernelCallOp call) {
  if (!isConvForward(call) || !call.hasPureBufferSemantics() ||
      call.getInputs().size() != 2 || call.getOutputs().size() != 1)
    return false;
  // Only a call with no bias and no epilogue yet.
  ArrayRef<int64_t> descriptor = call.getDescriptor();
  if (static_cast<int64_t>(descriptor.size()) !=
          static_cast<int64_t>(sizeof(kiln_conv_desc_t) / sizeof(int64_t)) ||
      descriptor[kEpilogueField] != KILN_EPILOGUE_NONE ||
      call.getNullPointers() != ArrayRef<int64_t>{kBiasPointer})
    return false;
  Value x = call.getInputs()[0], w = call.getInputs()[1];
  Value c = call.getOutputs()[0];
  std::optional<kiln::Epilogue> epilogue = kiln::matchEpilogue(call, c);
  if (!epilogue)
    return false;
  Value d = epilogue->output, bias = epilogue->bias;
  auto cType = cast<MemRefType>(c.getType());
  auto dType = dyn_cast<MemRefType>(d.getType());
  // The kernel writes D as a dense row-major [N, O.., F] tensor and reads
  // the bias as F contiguous elements.
  if (!dType || dType.getShape() != cType.getShape() ||
      dType.getElementType() != cType.getElementType() ||
      !kiln_rt::isDenseRowMajor(dType) ||
      (bias && !kiln_rt::isDenseRowMajor(cast<MemRefType>(bias.getType()))))
    return false;
  // The kernel's output must not overlap its inputs.
  Value rootD = kiln::getRootBuffer(d);
  if (rootD == kiln::getRootBuffer(x) || rootD == kiln::getRootBuffer(w) ||
      (bias && rootD == kiln::getRootBuffer(bias)))
    return false;
  // When the epilogue writes elsewhere, the raw convolution C is never
  // materialized: C must be a temporary that nothing else reads (the
  // gradient may read the pre-activation). In place (D == C) the epilogue
  // overwrote C anyway.
  auto alloc = c.getDefiningOp<memref::AllocOp>();
  if (d != c) {
    if (!alloc)
      return false;
    for (Operation *user : c.getUsers())
      if (user != call.getOperation() && user != epilogue->op.getOperation())
        return false;
  }

  // The fused call goes where the epilogue was: D may be a buffer allocated
  // or viewed after the convolution (only side-effect-free ops and fresh
  // allocations lie between the two).
  SmallVector<int64_t> fused(descriptor);
  fused[kEpilogueField] = epilogue->kind;
  SmallVector<Value> inputs = {x, w};
  SmallVector<int64_t> nullPointers;
  if (bias)
    inputs.push_back(bias);
  else
    nullPointers.push_back(kBiasPointer);
  OpBuilder b(epilogue->op);
  auto fusedCall = b.create<kiln_rt::KernelCallOp>(
      call.getLoc(), TypeRange{}, call.getCalleeAttr(),
      b.getDenseI64ArrayAttr(fused), b.getDenseI64ArrayAttr(nullPointers),
      inputs, ValueRange{d});
  fusedCall->setDiscardableAttrs(call->getDiscardableAttrDictionary());
  epilogue->op->erase();
  call->erase();
  if (alloc && alloc->use_empty())
    alloc->erase();
  return true;
}

struct KilnFuseConvEpiloguesPass
    : public kiln::impl::KilnFuseConvEpiloguesPassBase<
          KilnFuseConvEpiloguesPass> {
  void runOnOperation() override {
    SmallVector<kiln_rt::KernelCallOp> calls;
    getOperation().walk([&](kiln_rt::KernelCallOp call) {
      if (isConvForward(call))
        calls.push_back(call);
    });
    for (kiln_rt::KernelCallOp call : calls)
      (void)fuseEpilogue(call);
  }
};

} // namespace
