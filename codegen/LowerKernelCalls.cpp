//===- LowerKernelCalls.cpp - kiln_rt.kernel_call -> runtime C calls ------===//
//
// Implements kiln-lower-kernel-calls. After bufferization and the memory
// plan, each kiln_rt.kernel_call on memrefs becomes
//
//   func.call @callee(%descriptor, %p0, ..., %pn) : (!llvm.ptr, ...) -> ()
//
// of a private declaration; the descriptor is a constant llvm.mlir.global
// i64 array (one per distinct descriptor in the module), the pointers are
// the operands' first elements (codegen/RuntimeCalls.h, shared with the GEMM
// calls) and null at the op's `null_pointers` positions.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "codegen/RuntimeCalls.h"
#include "ir/KilnRuntime.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_KILNLOWERKERNELCALLSPASS
#include "codegen/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;

namespace {

struct KilnLowerKernelCallsPass
    : public kiln::impl::KilnLowerKernelCallsPassBase<
          KilnLowerKernelCallsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    auto ptrType = LLVM::LLVMPointerType::get(ctx);
    Type i64 = IntegerType::get(ctx, 64);

    SmallVector<kiln_rt::KernelCallOp> calls;
    module.walk([&](kiln_rt::KernelCallOp call) { calls.push_back(call); });

    // One constant global per distinct descriptor.
    llvm::DenseMap<Attribute, LLVM::GlobalOp> globals;
    unsigned nextGlobal = 0;
    auto getDescriptorGlobal = [&](DenseI64ArrayAttr descriptor) {
      LLVM::GlobalOp &global = globals[descriptor];
      if (global)
        return global;
      std::string name;
      do
        name = "__kiln_desc_" + std::to_string(nextGlobal++);
      while (module.lookupSymbol(name));
      int64_t size = descriptor.size();
      auto arrayType = LLVM::LLVMArrayType::get(i64, size);
      auto value = DenseElementsAttr::get(RankedTensorType::get({size}, i64),
                                          descriptor.asArrayRef());
      OpBuilder b(module.getBodyRegion());
      b.setInsertionPointToStart(module.getBody());
      global = b.create<LLVM::GlobalOp>(module.getLoc(), arrayType,
                                        /*isConstant=*/true,
                                        LLVM::Linkage::Private, name, value,
                                        /*alignment=*/8);
      global.setUnnamedAddr(LLVM::UnnamedAddr::Global);
      return global;
    };

    for (kiln_rt::KernelCallOp call : calls) {
      if (!call.hasPureBufferSemantics()) {
        call.emitError() << "kiln-lower-kernel-calls: the kernel call is "
                            "not bufferized";
        return signalPassFailure();
      }
      for (Value operand : call->getOperands())
        if (!kiln_rt::isDenseRowMajor(cast<MemRefType>(operand.getType()))) {
          call.emitError() << "kiln-lower-kernel-calls: operand of type "
                           << operand.getType()
                           << " is not a dense row-major buffer";
          return signalPassFailure();
        }
      OpBuilder b(call);
      Location loc = call.getLoc();
      SmallVector<Value> arguments;
      arguments.push_back(b.create<LLVM::AddressOfOp>(
          loc, getDescriptorGlobal(call.getDescriptorAttr())));
      ArrayRef<int64_t> nulls = call.getNullPointers();
      auto memrefs = llvm::to_vector(call->getOperands());
      unsigned next = 0;
      for (int64_t i = 0; i < call.getNumPointers(); ++i) {
        if (llvm::is_contained(nulls, i))
          arguments.push_back(b.create<LLVM::ZeroOp>(loc, ptrType));
        else
          arguments.push_back(kiln::getElementPointer(b, loc, memrefs[next++]));
      }
      SmallVector<Type> types(arguments.size(), ptrType);
      func::FuncOp callee = kiln::getOrDeclareRuntimeFunction(
          module, call.getCallee(), FunctionType::get(ctx, types, {}));
      if (callee.getFunctionType() != FunctionType::get(ctx, types, {})) {
        call.emitError() << "kiln-lower-kernel-calls: @" << call.getCallee()
                         << " is declared with another type";
        return signalPassFailure();
      }
      b.create<func::CallOp>(loc, callee, arguments);
      call.erase();
    }
  }
};

} // namespace
