//===- LowerMatmulToRuntime.cpp - linalg matmul -> runtime GEMM calls -----===//
//
// Implements kiln-lower-matmul-to-runtime. After bufferization, each linalg
// matmul family op on f32/f64 memrefs whose innermost strides are 1 becomes a
// call to kiln_gemm_f32 / kiln_gemm_f64 (runtime/include/kiln/runtime.h),
// which runs Eigen's blocked GEMM. Batched matmuls become a loop of calls.
// A zero fill of the output right before the matmul is folded into
// beta = 0, so the output is written, not accumulated.
//
// Ops with other layouts stay as linalg and are lowered to loops later:
// always correct, only slower.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_KILNLOWERMATMULTORUNTIMEPASS
#include "codegen/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;

namespace {
/// Epilogue codes of kiln_epilogue_t (runtime.h); only NONE is used until
/// activation fusion lands.
constexpr int32_t kEpilogueNone = 0;

/// How a linalg op maps onto GEMM: which operands are transposed and whether
/// a leading batch axis exists.
struct GemmForm {
  bool transposeA = false;
  bool transposeB = false;
  bool batched = false;
};

std::optional<GemmForm> getGemmForm(Operation *op) {
  if (isa<linalg::MatmulOp>(op))
    return GemmForm{};
  if (isa<linalg::MatmulTransposeAOp>(op))
    return GemmForm{true, false, false};
  if (isa<linalg::MatmulTransposeBOp>(op))
    return GemmForm{false, true, false};
  if (isa<linalg::BatchMatmulOp>(op))
    return GemmForm{false, false, true};
  if (isa<linalg::BatchMatmulTransposeAOp>(op))
    return GemmForm{true, false, true};
  if (isa<linalg::BatchMatmulTransposeBOp>(op))
    return GemmForm{false, true, true};
  return std::nullopt;
}

/// A memref operand seen as (pointer to its first element, row stride,
/// batch stride).
struct MatrixRef {
  Value pointer; // !llvm.ptr to element [0, 0(, 0)]
  Value rowStride;
  Value batchStride; // only for batched operands
};

/// Returns the matrix view of `memref`, or nullopt when its innermost stride
/// is not statically 1 (the GEMM needs unit-stride rows).
std::optional<MatrixRef> getMatrixRef(OpBuilder &b, Location loc,
                                      Value memref) {
  auto type = cast<MemRefType>(memref.getType());
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(getStridesAndOffset(type, strides, offset)) ||
      strides.back() != 1)
    return std::nullopt;
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
  pointer = b.create<LLVM::GEPOp>(loc, ptrType, type.getElementType(),
                                  pointer,
                                  ValueRange{toI64(metadata.getOffset())});
  MatrixRef ref;
  ref.pointer = pointer;
  unsigned rank = type.getRank();
  ref.rowStride = toI64(metadata.getStrides()[rank - 2]);
  if (rank == 3)
    ref.batchStride = toI64(metadata.getStrides()[0]);
  return ref;
}

/// Declares `name` with the kiln_gemm_* signature in `module` if absent.
func::FuncOp getOrDeclareGemm(ModuleOp module, StringRef name,
                              FloatType elementType) {
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  MLIRContext *ctx = module.getContext();
  Type i64 = IntegerType::get(ctx, 64), i32 = IntegerType::get(ctx, 32);
  Type ptr = LLVM::LLVMPointerType::get(ctx);
  // (M, N, K, trans_a, trans_b, alpha, A, lda, B, ldb, beta, C, ldc, bias,
  //  epilogue)
  SmallVector<Type> inputs = {i64, i64,         i64, i32, i32,
                              elementType, ptr, i64, ptr, i64,
                              elementType, ptr, i64, ptr, i32};
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToStart(module.getBody());
  auto func = b.create<func::FuncOp>(module.getLoc(), name,
                                     FunctionType::get(ctx, inputs, {}));
  func.setPrivate();
  return func;
}

/// True when `fill` writes zero into exactly `output` and nothing between
/// it and `matmul` touches `output`.
bool isZeroFillRightBefore(linalg::FillOp fill, Operation *matmul,
                           Value output) {
  if (!fill || fill.getOutputs().front() != output ||
      fill->getBlock() != matmul->getBlock() ||
      !matchPattern(fill.getInputs().front(), m_AnyZeroFloat()))
    return false;
  for (Operation *op = fill->getNextNode(); op && op != matmul;
       op = op->getNextNode())
    for (Value operand : op->getOperands())
      if (operand == output)
        return false;
  return true;
}

/// Rewrites one matmul-family op into runtime calls. Returns failure (and
/// leaves the op) when an operand layout does not fit the GEMM.
LogicalResult lowerToGemmCall(linalg::LinalgOp op, GemmForm form,
                              ModuleOp module) {
  Value a = op.getDpsInputs()[0], b = op.getDpsInputs()[1];
  Value c = op.getDpsInits()[0];
  auto cType = dyn_cast<MemRefType>(c.getType());
  if (!cType || !cType.hasStaticShape())
    return failure();
  auto elementType = dyn_cast<FloatType>(cType.getElementType());
  if (!elementType || !(elementType.isF32() || elementType.isF64()))
    return failure();

  // linalg matmuls accumulate into the output; a zero fill right before
  // turns into beta = 0 and disappears.
  double beta = 1.0;
  linalg::FillOp zeroFill;
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode())
    if (auto fill = dyn_cast<linalg::FillOp>(prev)) {
      if (fill.getOutputs().front() == c) {
        if (isZeroFillRightBefore(fill, op, c))
          zeroFill = fill;
        break;
      }
    }
  if (zeroFill)
    beta = 0.0;

  OpBuilder builder(op);
  Location loc = op.getLoc();
  std::optional<MatrixRef> aRef = getMatrixRef(builder, loc, a);
  std::optional<MatrixRef> bRef = getMatrixRef(builder, loc, b);
  std::optional<MatrixRef> cRef = getMatrixRef(builder, loc, c);
  if (!aRef || !bRef || !cRef)
    return failure();

  auto aType = cast<MemRefType>(a.getType());
  unsigned rank = cType.getRank();
  int64_t m = cType.getDimSize(rank - 2), n = cType.getDimSize(rank - 1);
  int64_t k = form.transposeA ? aType.getDimSize(rank - 2)
                              : aType.getDimSize(rank - 1);

  StringRef name = elementType.isF32() ? "kiln_gemm_f32" : "kiln_gemm_f64";
  func::FuncOp gemm = getOrDeclareGemm(module, name, elementType);
  auto i64 = [&](int64_t v) {
    return builder.create<arith::ConstantIntOp>(loc, v, 64).getResult();
  };
  auto i32 = [&](int64_t v) {
    return builder.create<arith::ConstantIntOp>(loc, v, 32).getResult();
  };
  auto real = [&](double v) {
    // An f32 constant needs an APFloat with f32 semantics.
    APFloat value = elementType.isF32() ? APFloat(static_cast<float>(v))
                                        : APFloat(v);
    return builder.create<arith::ConstantFloatOp>(loc, value, elementType)
        .getResult();
  };
  Value nullBias = builder.create<LLVM::ZeroOp>(
      loc, LLVM::LLVMPointerType::get(builder.getContext()));

  // Scalar arguments, created before any loop so that they dominate it.
  Value mV = i64(m), nV = i64(n), kV = i64(k);
  Value transA = i32(form.transposeA), transB = i32(form.transposeB);
  Value alpha = real(1.0), betaV = real(beta), epilogue = i32(kEpilogueNone);
  auto emitCall = [&](OpBuilder &b, Value aPtr, Value bPtr, Value cPtr) {
    b.create<func::CallOp>(
        loc, gemm,
        ValueRange{mV, nV, kV, transA, transB, alpha, aPtr, aRef->rowStride,
                   bPtr, bRef->rowStride, betaV, cPtr, cRef->rowStride,
                   nullBias, epilogue});
  };

  if (!form.batched) {
    emitCall(builder, aRef->pointer, bRef->pointer, cRef->pointer);
  } else {
    // One call per batch element; the pointers advance by the batch strides.
    Value zero = builder.create<arith::ConstantIndexOp>(loc, 0);
    Value one = builder.create<arith::ConstantIndexOp>(loc, 1);
    Value batch = builder.create<arith::ConstantIndexOp>(
        loc, cType.getDimSize(0));
    auto loop = builder.create<scf::ForOp>(loc, zero, batch, one);
    OpBuilder body = OpBuilder::atBlockBegin(loop.getBody());
    Value iv = body.create<arith::IndexCastOp>(loc, body.getI64Type(),
                                               loop.getInductionVar());
    auto ptrType = LLVM::LLVMPointerType::get(builder.getContext());
    auto advance = [&](const MatrixRef &ref) {
      Value offset = body.create<arith::MulIOp>(loc, iv, ref.batchStride);
      return body
          .create<LLVM::GEPOp>(loc, ptrType, elementType, ref.pointer,
                               ValueRange{offset})
          .getResult();
    };
    emitCall(body, advance(*aRef), advance(*bRef), advance(*cRef));
  }
  if (zeroFill)
    zeroFill->erase();
  op->erase();
  return success();
}

struct KilnLowerMatmulToRuntimePass
    : public kiln::impl::KilnLowerMatmulToRuntimePassBase<
          KilnLowerMatmulToRuntimePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<std::pair<linalg::LinalgOp, GemmForm>> candidates;
    module.walk([&](linalg::LinalgOp op) {
      if (!op.hasPureBufferSemantics())
        return;
      if (std::optional<GemmForm> form = getGemmForm(op))
        candidates.push_back({op, *form});
    });
    for (auto [op, form] : candidates)
      (void)lowerToGemmCall(op, form, module);
  }
};
} // namespace
