//===- SgemmKernels.h - kiln's own f32 GEMM tile kernels --------*- C++ -*-===//
//
// The f32 product of one GEMM tile, c += alpha * op(a) * op(b), by kiln's own
// register-blocked kernels (SgemmKernel.inc), compiled once per instruction
// set in its own translation unit (SgemmAvx512.cpp, SgemmAvx2.cpp) and
// chosen at run time from the CPU (cpuid), so one runtime build serves every
// x86-64 machine. Gemm.cpp calls them for each tile of kiln_gemm_f32 and
// kiln_gemm_batched_f32; Eigen remains the kernel of f64 and of CPUs without
// AVX2 + FMA.
//
// Internal to the runtime: unit tests and benchmarks link the static library
// and may force a kernel (setSgemmKernelForTesting) to compare them in one
// process.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_RUNTIME_LIB_SGEMMKERNELS_H
#define KILN_RUNTIME_LIB_SGEMMKERNELS_H

#include <cstddef>
#include <cstdint>

namespace kiln {
namespace runtime {

/// Computes c[i][j] += alpha * sum_k A(i, k) * B(k, j) for 0 <= i < rows,
/// 0 <= j < cols, 0 <= k < depth, where A(i, k) = a[i * lda + k] (or
/// a[k * lda + i] when transA) and B(k, j) = b[k * ldb + j] (or
/// b[j * ldb + k] when transB); c is row-major with leading dimension ldc.
/// rows, cols, depth > 0. The summation order depends only on depth (blocks
/// of at most kSgemmDepthBlock), so a given element is computed identically
/// whatever the tile it belongs to: results are bitwise independent of the
/// tiling and thread count. Uses the calling thread's packing workspace
/// (sgemmPackingBuffer); never allocates after the first calls of a thread.
using SgemmTileFn = void (*)(int64_t rows, int64_t cols, int64_t depth,
                             const float *a, int64_t lda, bool transA,
                             const float *b, int64_t ldb, bool transB, float *c,
                             int64_t ldc, float alpha);

/// The f32 tile kernels kiln has, in the order of preference.
enum class SgemmKernel {
  Eigen,  ///< Eigen 3.4's GEBP (any CPU)
  Avx2,   ///< 6 x 16 register blocks, AVX2 + FMA
  Avx512, ///< 12 x 32 register blocks, AVX-512F
};

/// kiln's kernel for this CPU: AVX-512F if the CPU and OS support it, else
/// AVX2 + FMA, else Eigen. By default it runs the products of 1-4 rows and
/// Eigen the taller ones (measured faster there; Gemm.cpp). The environment
/// variable KILN_SGEMM_KERNEL (eigen, avx2, avx512) forces one kernel for
/// every f32 product (not the bf16 ones of kiln_gemm_bf16_f32) (an unsupported
/// or unknown value is ignored with a warning on stderr). Decided once per
/// process.
SgemmKernel selectedSgemmKernel();

/// Whether KILN_SGEMM_KERNEL or setSgemmKernelForTesting forced the kernel.
bool sgemmKernelForced();

/// Forces `kernel` for every product that follows (tests and benchmarks only;
/// not thread-safe against concurrent GEMM calls). Returns false, changing
/// nothing, when this CPU cannot run it.
bool setSgemmKernelForTesting(SgemmKernel kernel);

/// Whether this CPU (and OS) can run `kernel`.
bool sgemmKernelSupported(SgemmKernel kernel);

/// The name of `kernel` ("eigen", "avx2", "avx512").
const char *sgemmKernelName(SgemmKernel kernel);

/// The calling thread's packing buffer, at least `bytes` bytes, 64-byte
/// aligned, grown on demand and freed at thread exit. Aborts when the
/// allocation fails. Shared by the Eigen tiles and kiln's kernels.
void *sgemmPackingBuffer(size_t bytes);

/// Depth blocking of kiln's kernels: depth is cut into ceil(depth / 256)
/// equal blocks, so a packed 32-column panel of B stays within 32 KiB (L1).
constexpr int64_t kSgemmDepthBlock = 256;

// The kernels themselves (their translation units are compiled for their
// instruction sets; call them only when sgemmKernelSupported says so).
void sgemmTileAvx512(int64_t rows, int64_t cols, int64_t depth, const float *a,
                     int64_t lda, bool transA, const float *b, int64_t ldb,
                     bool transB, float *c, int64_t ldc, float alpha);
void sgemmTileAvx2(int64_t rows, int64_t cols, int64_t depth, const float *a,
                   int64_t lda, bool transA, const float *b, int64_t ldb,
                   bool transB, float *c, int64_t ldc, float alpha);

/// kiln_gemm_bf16_f32's tile (SgemmBf16.cpp): as SgemmTileFn, with op(A)
/// and op(B) rounded to bfloat16 and products summed in f32 by VDPBF16PS.
/// Call only when sgemmBf16Supported().
void sgemmTileBf16(int64_t rows, int64_t cols, int64_t depth, const float *a,
                   int64_t lda, bool transA, const float *b, int64_t ldb,
                   bool transB, float *c, int64_t ldc, float alpha);

/// Whether this CPU (and OS) has AVX512_BF16 (and the AVX-512F/BW it needs).
bool sgemmBf16Supported();

} // namespace runtime
} // namespace kiln

#endif // KILN_RUNTIME_LIB_SGEMMKERNELS_H
