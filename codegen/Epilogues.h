//===- Epilogues.h - bias + activation epilogues of kernels -----*- C++ -*-===//
//
// What the passes that fuse an elementwise bias + activation into a runtime
// kernel share (kiln-fuse-gemm-epilogues, kiln-lower-matmul-to-runtime,
// kiln-fuse-conv-epilogues): the matcher of the bufferized linalg.generic
// `D = act(C + bias)` right after the op that writes C. The kinds are
// runtime.h's kiln_epilogue_t. Internal to codegen/.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_CODEGEN_EPILOGUES_H
#define KILN_CODEGEN_EPILOGUES_H

#include "kiln/runtime.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include <optional>

namespace mlir::kiln {

/// A bias + activation computation right after an op writing `c` that a
/// kernel can apply as its epilogue: out[..., j] = act(c[..., j] + bias[j]).
struct Epilogue {
  linalg::GenericOp op;
  Value bias;   // 1-D [last dim of c] memref with unit stride, or null
  Value output; // where the epilogue writes (may be c itself)
  kiln_epilogue_t kind;
};

/// The kind of the scalar body of an elementwise op whose first block
/// argument is the kernel's result and, when `hasBias`, whose second is the
/// bias: `addf` of the two (when hasBias), then optionally relu
/// (`arith.maximumf` with +0) or tanh (`math.tanh`), then the yield. These
/// are the bodies kiln.relu and kiln.tanh lower to (ir/ElementwiseScalar.cpp)
/// after elementwise fusion merged them with the bias add: on bufferized
/// linalg there is no kiln op left to ask. nullopt for any other body.
std::optional<kiln_epilogue_t> matchEpilogueBody(Block &body, bool hasBias);

/// Matches the elementwise linalg.generic that is the next op after
/// `producer` reading or writing memory (views, constants and fresh
/// allocations in between do not): on buffers, all loops parallel, inputs
/// `c` (identity map) and optionally a unit-stride 1-D bias indexed by the
/// last loop (the column of a GEMM, the channel of a channels-last
/// convolution), an identity-mapped output, and a body accepted by
/// matchEpilogueBody that does something (a bias or an activation).
std::optional<Epilogue> matchEpilogue(Operation *producer, Value c);

/// The buffer `value` is a view of: the source at the end of its chain of
/// view-like ops.
Value getRootBuffer(Value value);

} // namespace mlir::kiln

#endif // KILN_CODEGEN_EPILOGUES_H
