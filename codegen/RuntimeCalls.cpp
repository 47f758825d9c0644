//===- RuntimeCalls.cpp - calling runtime kernels from bufferized code ----===//
//
// Implements RuntimeCalls.h.
//
//===----------------------------------------------------------------------===//

#include "codegen/RuntimeCalls.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;

Value kiln::getElementPointer(OpBuilder &b, Location loc, Value memref) {
  auto type = cast<MemRefType>(memref.getType());
  auto metadata = b.create<memref::ExtractStridedMetadataOp>(loc, memref);
  Type i64 = b.getI64Type();
  auto toI64 = [&](Value index) {
    return b.create<arith::IndexCastOp>(loc, i64, index).getResult();
  };
  // The element offset of the strided metadata is relative to the nearest
  // memref.view in the chain of views (memref.view resets the offset and
  // moves the aligned pointer by its byte shift). Upstream folding maps
  // extract_aligned_pointer_as_index through views to the root buffer, so
  // take the pointer of the view's source explicitly and add the shift.
  Value pointerSource = memref;
  Value byteShift;
  for (Value current = memref;;) {
    Operation *def = current.getDefiningOp();
    if (auto view = dyn_cast_or_null<memref::ViewOp>(def)) {
      pointerSource = view.getSource();
      byteShift = view.getByteShift();
      break;
    }
    auto viewLike = dyn_cast_or_null<ViewLikeOpInterface>(def);
    if (!viewLike)
      break;
    current = viewLike.getViewSource();
  }
  Value base =
      b.create<memref::ExtractAlignedPointerAsIndexOp>(loc, pointerSource);
  auto ptrType = LLVM::LLVMPointerType::get(b.getContext());
  Value pointer = b.create<LLVM::IntToPtrOp>(loc, ptrType, toI64(base));
  if (byteShift)
    pointer = b.create<LLVM::GEPOp>(loc, ptrType, b.getI8Type(), pointer,
                                    ValueRange{toI64(byteShift)});
  pointer = b.create<LLVM::GEPOp>(loc, ptrType, type.getElementType(), pointer,
                                  ValueRange{toI64(metadata.getOffset())});
  return pointer;
}

func::FuncOp kiln::getOrDeclareRuntimeFunction(ModuleOp module, StringRef name,
                                               FunctionType type) {
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToStart(module.getBody());
  auto func = b.create<func::FuncOp>(module.getLoc(), name, type);
  func.setPrivate();
  return func;
}
