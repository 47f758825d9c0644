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

#include "codegen/Epilogues.h"
#include "codegen/Passes.h"
#include "codegen/RuntimeCalls.h"
#include "kiln/runtime.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_KILNLOWERMATMULTORUNTIMEPASS
#define GEN_PASS_DEF_KILNFUSEGEMMEPILOGUESPASS
#include "codegen/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using mlir::kiln::Epilogue;
using mlir::kiln::getElementPointer;
using mlir::kiln::getRootBuffer;
using mlir::kiln::matchEpilogue;

namespace {
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
  if (failed(getStridesAndOffset(type, strides, offset)) || strides.back() != 1)
    return std::nullopt;
  Value pointer = getElementPointer(b, loc, memref);
  auto metadata = b.create<memref::ExtractStridedMetadataOp>(loc, memref);
  auto toI64 = [&](Value index) {
    return b.create<arith::IndexCastOp>(loc, b.getI64Type(), index).getResult();
  };
  MatrixRef ref;
  ref.pointer = pointer;
  unsigned rank = type.getRank();
  ref.rowStride = toI64(metadata.getStrides()[rank - 2]);
  if (rank == 3)
    ref.batchStride = toI64(metadata.getStrides()[0]);
  return ref;
}

/// The byte interval [begin, end) a memref.view takes in its source, when
/// the shift is a constant.
std::optional<std::pair<int64_t, int64_t>> getViewBytes(memref::ViewOp view) {
  APInt shift;
  if (!matchPattern(view.getByteShift(), m_ConstantInt(&shift)))
    return std::nullopt;
  MemRefType type = view.getType();
  int64_t size = type.getNumElements() *
                 llvm::divideCeil(type.getElementTypeBitWidth(), 8);
  return std::make_pair(shift.getSExtValue(), shift.getSExtValue() + size);
}

/// Whether two buffers may share bytes. Views of one region (the static
/// memory plan) overlap when their byte intervals do; distinct regions or
/// distinct allocations never do.
bool mayOverlap(Value x, Value y) {
  if (x == y)
    return true;
  auto vx = x.getDefiningOp<memref::ViewOp>();
  auto vy = y.getDefiningOp<memref::ViewOp>();
  if (!vx || !vy)
    return !(x.getDefiningOp<memref::AllocOp>() || isa<BlockArgument>(x)) ||
           !(y.getDefiningOp<memref::AllocOp>() || isa<BlockArgument>(y));
  if (vx.getSource() != vy.getSource())
    return false;
  auto bx = getViewBytes(vx), by = getViewBytes(vy);
  return !bx || !by || (bx->first < by->second && by->first < bx->second);
}

/// Declares `name` with the kiln_gemm_* signature in `module` if absent.
func::FuncOp getOrDeclareGemm(ModuleOp module, StringRef name,
                              FloatType elementType) {
  MLIRContext *ctx = module.getContext();
  Type i64 = IntegerType::get(ctx, 64), i32 = IntegerType::get(ctx, 32);
  Type ptr = LLVM::LLVMPointerType::get(ctx);
  // (M, N, K, trans_a, trans_b, alpha, A, lda, B, ldb, beta, C, ldc, bias,
  //  epilogue)
  SmallVector<Type> inputs = {i64,         i64, i64, i32, i32,
                              elementType, ptr, i64, ptr, i64,
                              elementType, ptr, i64, ptr, i32};
  return kiln::getOrDeclareRuntimeFunction(module, name,
                                           FunctionType::get(ctx, inputs, {}));
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
                              ModuleOp module, bool bf16) {
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

  // Fuse a following bias + activation into the GEMM when the result goes
  // nowhere else: the GEMM then writes the epilogue's output directly, while
  // each output block is still in cache. Accumulating into a different
  // buffer than the epilogue writes is not expressible, nor is writing over
  // an operand the GEMM still reads.
  std::optional<Epilogue> epilogue;
  if (!form.batched)
    epilogue = matchEpilogue(op, c);
  if (epilogue) {
    Value out = epilogue->output;
    // When the epilogue writes elsewhere, C's raw product is never
    // materialized, so nothing else may read C.
    bool cUsedElsewhere = epilogue->output != c &&
                          llvm::any_of(c.getUsers(), [&](Operation *user) {
                            return user != op.getOperation() &&
                                   user != epilogue->op.getOperation() &&
                                   user != zeroFill.getOperation();
                          });
    if (cUsedElsewhere || (out != c && beta != 0.0) || mayOverlap(out, a) ||
        mayOverlap(out, b) ||
        (epilogue->bias && mayOverlap(out, epilogue->bias)))
      epilogue.reset();
  }

  // With an epilogue the call goes where the epilogue was: its output may be
  // a view created after the matmul (only side-effect-free ops lie between).
  OpBuilder builder(epilogue ? epilogue->op.getOperation() : op.getOperation());
  Location loc = op.getLoc();
  if (epilogue)
    c = epilogue->output;
  std::optional<MatrixRef> aRef = getMatrixRef(builder, loc, a);
  std::optional<MatrixRef> bRef = getMatrixRef(builder, loc, b);
  std::optional<MatrixRef> cRef = getMatrixRef(builder, loc, c);
  if (!aRef || !bRef || !cRef)
    return failure();

  auto aType = cast<MemRefType>(a.getType());
  unsigned rank = cType.getRank();
  int64_t m = cType.getDimSize(rank - 2), n = cType.getDimSize(rank - 1);
  int64_t k =
      form.transposeA ? aType.getDimSize(rank - 2) : aType.getDimSize(rank - 1);

  StringRef name = !elementType.isF32() ? "kiln_gemm_f64"
                   : bf16               ? "kiln_gemm_bf16_f32"
                                        : "kiln_gemm_f32";
  func::FuncOp gemm = getOrDeclareGemm(module, name, elementType);
  auto i64 = [&](int64_t v) {
    return builder.create<arith::ConstantIntOp>(loc, v, 64).getResult();
  };
  auto i32 = [&](int64_t v) {
    return builder.create<arith::ConstantIntOp>(loc, v, 32).getResult();
  };
  auto real = [&](double v) {
    // An f32 constant needs an APFloat with f32 semantics.
    APFloat value =
        elementType.isF32() ? APFloat(static_cast<float>(v)) : APFloat(v);
    return builder.create<arith::ConstantFloatOp>(loc, value, elementType)
        .getResult();
  };
  Value biasPointer;
  if (epilogue && epilogue->bias) {
    biasPointer = getElementPointer(builder, loc, epilogue->bias);
  } else {
    biasPointer = builder.create<LLVM::ZeroOp>(
        loc, LLVM::LLVMPointerType::get(builder.getContext()));
  }

  // Scalar arguments, created before any loop so that they dominate it.
  Value mV = i64(m), nV = i64(n), kV = i64(k);
  Value transA = i32(form.transposeA), transB = i32(form.transposeB);
  Value alpha = real(1.0), betaV = real(beta);
  Value epilogueKind = i32(epilogue ? epilogue->kind : KILN_EPILOGUE_NONE);
  auto emitCall = [&](OpBuilder &b, Value aPtr, Value bPtr, Value cPtr) {
    b.create<func::CallOp>(loc, gemm,
                           ValueRange{mV, nV, kV, transA, transB, alpha, aPtr,
                                      aRef->rowStride, bPtr, bRef->rowStride,
                                      betaV, cPtr, cRef->rowStride, biasPointer,
                                      epilogueKind});
  };

  if (!form.batched) {
    emitCall(builder, aRef->pointer, bRef->pointer, cRef->pointer);
  } else {
    // One call per batch element; the pointers advance by the batch strides.
    Value zero = builder.create<arith::ConstantIndexOp>(loc, 0);
    Value one = builder.create<arith::ConstantIndexOp>(loc, 1);
    Value batch =
        builder.create<arith::ConstantIndexOp>(loc, cType.getDimSize(0));
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
  if (epilogue)
    epilogue->op->erase();
  op->erase();
  return success();
}

/// Retargets one matmul + epilogue pair (see kiln-fuse-gemm-epilogues).
void retargetToEpilogueOutput(linalg::LinalgOp matmul) {
  if (matmul->getNumOperands() != 3 || matmul.getNumLoops() != 3)
    return;
  Value a = matmul.getDpsInputs()[0], b = matmul.getDpsInputs()[1];
  Value c = matmul.getDpsInits()[0];
  std::optional<Epilogue> epilogue = matchEpilogue(matmul, c);
  if (!epilogue || epilogue->output == c)
    return;
  Value d = epilogue->output;
  if (d.getType() != c.getType())
    return;
  Value rootD = getRootBuffer(d);
  if (rootD == getRootBuffer(a) || rootD == getRootBuffer(b) ||
      (epilogue->bias && rootD == getRootBuffer(epilogue->bias)))
    return;
  // The zero fill of C moves to D; without one the matmul accumulates into
  // C's old contents, which D does not hold.
  linalg::FillOp zeroFill;
  for (Operation *user : c.getUsers())
    if (auto fill = dyn_cast<linalg::FillOp>(user))
      if (isZeroFillRightBefore(fill, matmul, c))
        zeroFill = fill;
  if (!zeroFill)
    return;
  for (Operation *user : c.getUsers())
    if (user != matmul.getOperation() && user != epilogue->op.getOperation() &&
        user != zeroFill.getOperation())
      return;
  // D must exist before the fill: move its allocation up when needed.
  Operation *first = zeroFill;
  if (Operation *def = d.getDefiningOp()) {
    if (def->getBlock() != first->getBlock())
      return;
    if (!def->isBeforeInBlock(first)) {
      if (!isa<memref::AllocOp>(def) || def->getNumOperands() != 0)
        return;
      def->moveBefore(first);
    }
  }
  zeroFill.getOutputsMutable()[0].assign(d);
  matmul.getDpsInitsMutable()[0].assign(d);
  epilogue->op.getDpsInputOperand(0)->set(d);
  if (auto alloc = c.getDefiningOp<memref::AllocOp>())
    if (alloc->use_empty())
      alloc->erase();
}

struct KilnFuseGemmEpiloguesPass
    : public kiln::impl::KilnFuseGemmEpiloguesPassBase<
          KilnFuseGemmEpiloguesPass> {
  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> matmuls;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (op.hasPureBufferSemantics() &&
          isa<linalg::MatmulOp, linalg::MatmulTransposeAOp,
              linalg::MatmulTransposeBOp>(op))
        matmuls.push_back(op);
    });
    for (linalg::LinalgOp matmul : matmuls)
      retargetToEpilogueOutput(matmul);
  }
};

struct KilnLowerMatmulToRuntimePass
    : public kiln::impl::KilnLowerMatmulToRuntimePassBase<
          KilnLowerMatmulToRuntimePass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (precision != "f32" && precision != "bf16") {
      module.emitError("kiln-lower-matmul-to-runtime: precision '")
          << precision << "' is not f32 or bf16";
      return signalPassFailure();
    }
    SmallVector<std::pair<linalg::LinalgOp, GemmForm>> candidates;
    module.walk([&](linalg::LinalgOp op) {
      if (!op.hasPureBufferSemantics())
        return;
      if (std::optional<GemmForm> form = getGemmForm(op))
        candidates.push_back({op, *form});
    });
    for (auto [op, form] : candidates)
      (void)lowerToGemmCall(op, form, module, precision == "bf16");
  }
};
} // namespace
