//===- Gemm.cpp - GEMM kernels with fused epilogues -------------*- C++ -*-===//
//
// kiln_gemm_{f32,f64} and their batched forms: C = epilogue(alpha * op(A) *
// op(B) + beta * C + bias) on row-major matrices.
//
// C is cut into tiles of at most kMaxTileRows rows and kMaxTileBytes bytes.
// Each tile is one work item: scale the C tile by beta (or zero it), add
// alpha * op(A) * op(B) for its rows and columns with Eigen's GEBP kernel,
// then add the bias and apply the activation to the tile right away, while
// the tile is still in L2 (the epilogue costs one pass over cached data
// instead of another trip through memory). Tiles are spread over the
// runtime's threads (ThreadPool.h).
//
// The tile shapes depend only on M, N and the element type, and each tile is
// computed by one thread with the same blocking, so results are bitwise
// identical for any thread count.
//
// Products run Eigen's GEBP kernel, except f32 products of 1-4 rows, which
// run kiln's own register-blocked kernels (SgemmKernels.h: AVX-512F or
// AVX2 + FMA, chosen from cpuid at run time; measured faster there, slower
// on taller products), and kiln_gemm_bf16_f32, whose bf16-operand kernel
// only kiln has (SgemmBf16.cpp).
//
// Eigen's product expressions (`C.noalias() += A * B`) allocate their packing
// buffers on the heap above 128 KiB, i.e. on most calls. To keep allocation
// out of training steps the tiles call Eigen's internal
// general_matrix_matrix_product directly, with packing buffers kept per
// thread. That entry point is internal to Eigen, so it is used only with the
// Eigen version it was written against (3.4); other versions, or
// KILN_RUNTIME_EIGEN_PUBLIC_GEMM, use the public product expression instead.
//
//===----------------------------------------------------------------------===//

#include "Fatal.h"
#include "SgemmKernels.h"
#include "ThreadPool.h"

#include "kiln/runtime.h"

// Threads come from ThreadPool.h; Eigen must stay sequential inside a tile
// even in a build that passes -fopenmp.
#define EIGEN_DONT_PARALLELIZE
#include <Eigen/Core>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if !defined(KILN_RUNTIME_EIGEN_PUBLIC_GEMM) &&                                \
    (!EIGEN_VERSION_AT_LEAST(3, 4, 0) || EIGEN_VERSION_AT_LEAST(3, 4, 90))
#define KILN_RUNTIME_EIGEN_PUBLIC_GEMM 1
#endif

using namespace kiln::runtime;

namespace {

/// At most this many rows of C per tile. The right-hand panel (op(B)) is
/// packed once per tile, so short tiles repack it often; tall tiles leave
/// fewer tiles to share among threads.
constexpr int64_t kMaxTileRows = 128;
/// At most this many bytes of C per tile: the tile must stay in L2 between
/// the product and the epilogue, and a layer-sized product (128 x 512 f32,
/// 256 KiB) must split into several tiles so that the threads share it
/// (with 256 KiB tiles it was one tile and ran on one core: 77k vs 131k
/// samples/s for the MLP forward pass on 2 cores).
constexpr int64_t kMaxTileBytes = 64 * 1024;
/// Problems with fewer multiply-adds than this run on the calling thread:
/// waking the workers costs more than it saves (about 40 us of work).
constexpr int64_t kMinParallelWork = int64_t(1) << 21;

using kiln::runtime::fatal;

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t roundUp(int64_t a, int64_t multiple) {
  return ceilDiv(a, multiple) * multiple;
}

//===----------------------------------------------------------------------===//
// Tiling
//===----------------------------------------------------------------------===//

/// The split of one M x N output into tiles, row tile by row tile. Tiles of
/// one dimension have equal sizes (up to rounding), so no thin remainder tile
/// is left at the end.
struct Tiling {
  int64_t tileRows, tileCols;
  int64_t rowTiles, colTiles;

  template <typename T> static Tiling plan(int64_t M, int64_t N) {
    const int64_t maxCols =
        std::max<int64_t>(64, kMaxTileBytes / (kMaxTileRows * sizeof(T)));
    Tiling t;
    // Multiples of 4 rows (GEBP's register block along M) and 16 columns (an
    // AVX-512 f32 vector) keep the partial blocks inside GEBP rare.
    t.tileRows = roundUp(ceilDiv(M, ceilDiv(M, kMaxTileRows)), 4);
    t.tileCols = roundUp(ceilDiv(N, ceilDiv(N, maxCols)), 16);
    t.rowTiles = ceilDiv(M, t.tileRows);
    t.colTiles = ceilDiv(N, t.tileCols);
    return t;
  }
  int64_t count() const { return rowTiles * colTiles; }
};

//===----------------------------------------------------------------------===//
// Products of one tile
//===----------------------------------------------------------------------===//

/// Computes c += alpha * a * b for a rows x depth times depth x cols product.
/// `a` and `b` are stored in the given Eigen storage orders with leading
/// dimensions lda / ldb; c is row-major with leading dimension ldc.
template <typename T>
using TileProductFn = void (*)(int64_t rows, int64_t cols, int64_t depth,
                               const T *a, int64_t lda, const T *b, int64_t ldb,
                               T *c, int64_t ldc, T alpha);

/// Packing buffers of the calling thread, grown on demand and released at
/// thread exit. One per thread, so tiles on different threads never share.
class PackingWorkspace {
public:
  ~PackingWorkspace() { kiln_aligned_free(data); }

  /// Returns at least `bytes` bytes aligned for Eigen's packets.
  void *reserve(size_t bytes) {
    if (bytes <= capacity)
      return data;
    // Grow geometrically so that a sequence of growing tiles does not
    // reallocate each time.
    size_t newCapacity = std::max(bytes, 2 * capacity);
    newCapacity = std::max<size_t>(newCapacity, 64 * 1024);
    kiln_aligned_free(data);
    data = nullptr;
    capacity = 0;
    if (kiln_aligned_alloc(newCapacity, kAlignment, &data) != KILN_OK) {
      std::fprintf(stderr,
                   "kiln: GEMM: cannot allocate a %zu-byte packing "
                   "workspace\n",
                   newCapacity);
      std::abort();
    }
    capacity = newCapacity;
    return data;
  }

  static constexpr size_t kAlignment =
      std::max<size_t>(EIGEN_DEFAULT_ALIGN_BYTES, 64);

private:
  void *data = nullptr;
  size_t capacity = 0;
};

thread_local PackingWorkspace packingWorkspace;

#ifndef KILN_RUNTIME_EIGEN_PUBLIC_GEMM

/// Eigen's cache blocking (kc, mc, nc) for one tile, as
/// gemm_blocking_space computes it for a row-major result, but with the
/// packed panels in this thread's workspace instead of fresh heap memory.
template <typename T>
class TileBlocking : public Eigen::internal::level3_blocking<T, T> {
public:
  TileBlocking(Eigen::Index rows, Eigen::Index cols, Eigen::Index depth) {
    // Eigen computes a row-major C as the column-major C^T = op(B)^T
    // op(A)^T: its "rows" (mc) run along our N and its "cols" (nc) along M.
    this->m_mc = cols;
    this->m_nc = rows;
    this->m_kc = depth;
    Eigen::internal::computeProductBlockingSizes<T, T, 1>(
        this->m_kc, this->m_mc, this->m_nc, Eigen::Index(1));
    size_t alignment = PackingWorkspace::kAlignment;
    size_t bytesA = size_t(this->m_mc) * size_t(this->m_kc) * sizeof(T);
    size_t bytesB = size_t(this->m_kc) * size_t(this->m_nc) * sizeof(T);
    bytesA = (bytesA + alignment - 1) / alignment * alignment;
    auto *base = static_cast<char *>(packingWorkspace.reserve(bytesA + bytesB));
    this->m_blockA = reinterpret_cast<T *>(base);
    this->m_blockB = reinterpret_cast<T *>(base + bytesA);
  }
};

template <typename T, int LhsOrder, int RhsOrder>
void tileProduct(int64_t rows, int64_t cols, int64_t depth, const T *a,
                 int64_t lda, const T *b, int64_t ldb, T *c, int64_t ldc,
                 T alpha) {
  TileBlocking<T> blocking(rows, cols, depth);
  Eigen::internal::general_matrix_matrix_product<
      Eigen::Index, T, LhsOrder, /*ConjugateLhs=*/false, T, RhsOrder,
      /*ConjugateRhs=*/false, Eigen::RowMajor,
      /*ResInnerStride=*/1>::run(rows, cols, depth, a, lda, b, ldb, c,
                                 /*resIncr=*/1, ldc, alpha, blocking);
}

#else // KILN_RUNTIME_EIGEN_PUBLIC_GEMM

template <typename T, int LhsOrder, int RhsOrder>
void tileProduct(int64_t rows, int64_t cols, int64_t depth, const T *a,
                 int64_t lda, const T *b, int64_t ldb, T *c, int64_t ldc,
                 T alpha) {
  using Eigen::Dynamic;
  using Stride = Eigen::OuterStride<>;
  using LhsMatrix = Eigen::Matrix<T, Dynamic, Dynamic, LhsOrder>;
  using RhsMatrix = Eigen::Matrix<T, Dynamic, Dynamic, RhsOrder>;
  using ResMatrix = Eigen::Matrix<T, Dynamic, Dynamic, Eigen::RowMajor>;
  Eigen::Map<const LhsMatrix, Eigen::Unaligned, Stride> lhs(a, rows, depth,
                                                            Stride(lda));
  Eigen::Map<const RhsMatrix, Eigen::Unaligned, Stride> rhs(b, depth, cols,
                                                            Stride(ldb));
  Eigen::Map<ResMatrix, Eigen::Unaligned, Stride> res(c, rows, cols,
                                                      Stride(ldc));
  res.noalias() += alpha * lhs * rhs;
}

#endif // KILN_RUNTIME_EIGEN_PUBLIC_GEMM

/// The Eigen product for the given transposes. A non-transposed row-major
/// operand is Eigen row-major with the same leading dimension; a transposed
/// one is Eigen column-major.
template <typename T>
TileProductFn<T> selectEigenTileProduct(bool transA, bool transB) {
  constexpr int R = Eigen::RowMajor, C = Eigen::ColMajor;
  if (!transA && !transB)
    return tileProduct<T, R, R>;
  if (!transA && transB)
    return tileProduct<T, R, C>;
  if (transA && !transB)
    return tileProduct<T, C, R>;
  return tileProduct<T, C, C>;
}

/// A tile product through one of kiln's f32 kernels.
template <SgemmTileFn Kernel, bool TransA, bool TransB>
void kilnTileProduct(int64_t rows, int64_t cols, int64_t depth, const float *a,
                     int64_t lda, const float *b, int64_t ldb, float *c,
                     int64_t ldc, float alpha) {
  Kernel(rows, cols, depth, a, lda, TransA, b, ldb, TransB, c, ldc, alpha);
}

template <SgemmTileFn Kernel>
TileProductFn<float> selectKilnTileProduct(bool transA, bool transB) {
  if (!transA && !transB)
    return kilnTileProduct<Kernel, false, false>;
  if (!transA && transB)
    return kilnTileProduct<Kernel, false, true>;
  if (transA && !transB)
    return kilnTileProduct<Kernel, true, false>;
  return kilnTileProduct<Kernel, true, true>;
}

template <typename T>
TileProductFn<T> selectTileProduct(bool transA, bool transB, int64_t M) {
  return selectEigenTileProduct<T>(transA, transB);
}

/// Products of at most this many rows run kiln's kernel by default (it
/// reads B in place with wide register blocks: 34 us against Eigen's 58 us
/// for a batch-1 784 x 512 layer); taller ones run Eigen, which measured
/// 7-9% faster than kiln's 12 x 32 kernel on the MNIST-MLP training shapes
/// on a Zen 4 core (bench/results/gemm_kernels.md).
constexpr int64_t kKilnKernelMaxRows = 4;

template <>
TileProductFn<float> selectTileProduct<float>(bool transA, bool transB,
                                              int64_t M) {
  SgemmKernel kernel = selectedSgemmKernel();
  if (!sgemmKernelForced() && M > kKilnKernelMaxRows)
    kernel = SgemmKernel::Eigen;
  switch (kernel) {
#if KILN_RUNTIME_X86_KERNELS
  case SgemmKernel::Avx512:
    return selectKilnTileProduct<sgemmTileAvx512>(transA, transB);
  case SgemmKernel::Avx2:
    return selectKilnTileProduct<sgemmTileAvx2>(transA, transB);
#endif
  default:
    break;
  }
  return selectEigenTileProduct<float>(transA, transB);
}

//===----------------------------------------------------------------------===//
// Epilogues
//===----------------------------------------------------------------------===//

struct Identity {
  template <typename T> T operator()(T x) const { return x; }
};

struct Relu {
  // `x <= 0` is false for NaN, so NaN passes through; -0 becomes +0.
  template <typename T> T operator()(T x) const { return x <= T(0) ? T(0) : x; }
};

struct Sigmoid {
  // 1 / (1 + exp(-x)) for x >= 0 and exp(x) / (1 + exp(x)) for x < 0, with
  // the one exp(-|x|) both need: exp only sees non-positive arguments, so
  // nothing overflows (exp(x) / (1 + exp(x)) alone gives inf / inf = NaN for
  // large x). Selecting instead of branching lets the loop vectorize (see
  // Tanh). NaN stays NaN through exp.
  template <typename T> T operator()(T x) const {
    T e = std::exp(-std::fabs(x));
    T r = T(1) / (T(1) + e);
    return x >= T(0) ? r : e * r;
  }
};

struct Tanh {
  double operator()(double x) const { return std::tanh(x); }

  float operator()(float x) const {
#if KILN_RUNTIME_VECTOR_EXP
    // With -fveclib=libmvec (CMakeLists.txt) clang vectorizes exp but not
    // tanh, and scalar tanhf added ~40% to a 512x128x784 GEMM (exp-based
    // forms: under 8%). So: tanh(x) = sign(x) (1 - e) / (1 + e) with
    // e = exp(-2|x|), which loses bits to the subtraction near 0, and below
    // |x| = 0.625 the Taylor series of tanh to x^15 (coefficients
    // 2^2n (2^2n - 1) B_2n / (2n)!). Both are computed and one is selected,
    // so the loop has no branch. Error against tanh in double: at most
    // 3.5 ulp on every 7th float in [1e-30, 20] (tanhf: 2 ulp). NaN fails
    // the comparison and takes the exp form, which keeps it; large |x|
    // gives e = 0 and exactly +-1.
    float a = std::fabs(x);
    float e = std::exp(-2.0f * a);
    float viaExp = std::copysign((1.0f - e) / (1.0f + e), x);
    float z = x * x;
    float p = -929569.0f / 638512875.0f;
    p = p * z + 21844.0f / 6081075.0f;
    p = p * z - 1382.0f / 155925.0f;
    p = p * z + 62.0f / 2835.0f;
    p = p * z - 17.0f / 315.0f;
    p = p * z + 2.0f / 15.0f;
    p = p * z - 1.0f / 3.0f;
    float viaSeries = x + x * z * p;
    return a < 0.625f ? viaSeries : viaExp;
#else
    return std::tanh(x);
#endif
  }
};

/// Adds `bias` (NULL or `cols` elements) to each row of a rows x cols tile
/// and applies the activation in place.
template <typename T>
using TileEpilogueFn = void (*)(T *c, int64_t ldc, int64_t rows, int64_t cols,
                                const T *bias);

template <typename T, typename Activation>
void tileEpilogue(T *c, int64_t ldc, int64_t rows, int64_t cols,
                  const T *bias) {
  Activation activation;
  for (int64_t i = 0; i < rows; ++i) {
    T *row = c + i * ldc;
    if (bias) {
      for (int64_t j = 0; j < cols; ++j)
        row[j] = activation(row[j] + bias[j]);
    } else {
      for (int64_t j = 0; j < cols; ++j)
        row[j] = activation(row[j]);
    }
  }
}

/// The epilogue for `epilogue` (already validated); NULL when there is
/// nothing to do.
template <typename T>
TileEpilogueFn<T> selectTileEpilogue(int32_t epilogue, bool hasBias) {
  switch (static_cast<kiln_epilogue_t>(epilogue)) {
  case KILN_EPILOGUE_NONE:
    return hasBias ? tileEpilogue<T, Identity> : nullptr;
  case KILN_EPILOGUE_RELU:
    return tileEpilogue<T, Relu>;
  case KILN_EPILOGUE_SIGMOID:
    return tileEpilogue<T, Sigmoid>;
  case KILN_EPILOGUE_TANH:
    return tileEpilogue<T, Tanh>;
  }
  return nullptr;
}

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

/// Arguments of one (batched) call, validated, plus the per-call plan. The
/// parallel loop runs over batch * tiling.count() tiles.
template <typename T> struct GemmCall {
  int64_t M, N, K;
  bool transA, transB;
  T alpha;
  const T *A;
  int64_t lda;
  const T *B;
  int64_t ldb;
  T beta;
  T *C;
  int64_t ldc;
  const T *bias;
  int64_t strideA, strideB, strideC;
  Tiling tiling;
  TileProductFn<T> product;   ///< NULL when alpha == 0 or K == 0.
  TileEpilogueFn<T> epilogue; ///< NULL when there is no bias or activation.
};

template <typename T> void runTile(void *context, int64_t index) {
  const GemmCall<T> &call = *static_cast<const GemmCall<T> *>(context);
  const Tiling &tiling = call.tiling;
  int64_t batchIndex = index / tiling.count();
  int64_t tile = index % tiling.count();
  int64_t i0 = (tile / tiling.colTiles) * tiling.tileRows;
  int64_t j0 = (tile % tiling.colTiles) * tiling.tileCols;
  int64_t rows = std::min(tiling.tileRows, call.M - i0);
  int64_t cols = std::min(tiling.tileCols, call.N - j0);

  T *c = call.C + batchIndex * call.strideC + i0 * call.ldc + j0;
  // beta == 0 overwrites instead of scaling so that NaN or garbage in C
  // does not survive (0 * NaN is NaN).
  if (call.beta == T(0)) {
    for (int64_t i = 0; i < rows; ++i)
      std::fill(c + i * call.ldc, c + i * call.ldc + cols, T(0));
  } else if (call.beta != T(1)) {
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        c[i * call.ldc + j] *= call.beta;
  }

  if (call.product) {
    const T *a =
        call.A + batchIndex * call.strideA + (call.transA ? i0 : i0 * call.lda);
    const T *b =
        call.B + batchIndex * call.strideB + (call.transB ? j0 * call.ldb : j0);
    call.product(rows, cols, call.K, a, call.lda, b, call.ldb, c, call.ldc,
                 call.alpha);
  }

  if (call.epilogue)
    call.epilogue(c, call.ldc, rows, cols,
                  call.bias ? call.bias + j0 : nullptr);
}

/// Checks the documented preconditions; aborts with a message naming the
/// first violated one.
template <typename T>
void checkArguments(const char *function, int64_t batch, int64_t M, int64_t N,
                    int64_t K, bool transA, bool transB, T alpha, const T *A,
                    int64_t lda, const T *B, int64_t ldb, const T *C,
                    int64_t ldc, int32_t epilogue, int64_t strideA,
                    int64_t strideB, int64_t strideC) {
  if (batch < 0)
    fatal(function, "batch = %" PRId64 " is negative", batch);
  if (M < 0 || N < 0 || K < 0)
    fatal(function,
          "negative size M = %" PRId64 ", N = %" PRId64 ", K = %" PRId64, M, N,
          K);
  int64_t minLda = std::max<int64_t>(1, transA ? M : K);
  if (lda < minLda)
    fatal(function, "lda = %" PRId64 " is less than %s = %" PRId64, lda,
          transA ? "max(M, 1)" : "max(K, 1)", minLda);
  int64_t minLdb = std::max<int64_t>(1, transB ? K : N);
  if (ldb < minLdb)
    fatal(function, "ldb = %" PRId64 " is less than %s = %" PRId64, ldb,
          transB ? "max(K, 1)" : "max(N, 1)", minLdb);
  if (ldc < std::max<int64_t>(1, N))
    fatal(function, "ldc = %" PRId64 " is less than max(N, 1) = %" PRId64, ldc,
          std::max<int64_t>(1, N));
  if (epilogue < KILN_EPILOGUE_NONE || epilogue > KILN_EPILOGUE_TANH)
    fatal(function, "unknown epilogue %" PRId32, epilogue);
  if (strideA < 0 || strideB < 0 || strideC < 0)
    fatal(function,
          "negative stride stride_a = %" PRId64 ", stride_b = %" PRId64
          ", stride_c = %" PRId64,
          strideA, strideB, strideC);
  if (batch == 0 || M == 0 || N == 0)
    return;
  if (!C)
    fatal(function, "C is NULL");
  if (K > 0 && alpha != T(0) && (!A || !B))
    fatal(function, "%s is NULL", !A ? "A" : "B");
  if (batch > 1 && strideC < (M - 1) * ldc + N)
    fatal(function,
          "stride_c = %" PRId64 " is less than (M - 1) * ldc + N = %" PRId64
          ", so the outputs overlap",
          strideC, (M - 1) * ldc + N);
}

/// The f32 product of kiln_gemm_bf16_f32: bf16 operands where the CPU has
/// AVX512_BF16, else the f32 product.
TileProductFn<float> selectBf16TileProduct(bool transA, bool transB,
                                           int64_t M) {
#if KILN_RUNTIME_X86_KERNELS
  if (sgemmBf16Supported())
    return selectKilnTileProduct<sgemmTileBf16>(transA, transB);
#endif
  return selectTileProduct<float>(transA, transB, M);
}

template <typename T>
void gemm(const char *function, int64_t batch, int64_t M, int64_t N, int64_t K,
          int32_t transA, int32_t transB, T alpha, const T *A, int64_t lda,
          const T *B, int64_t ldb, T beta, T *C, int64_t ldc, const T *bias,
          int32_t epilogue, int64_t strideA, int64_t strideB, int64_t strideC,
          TileProductFn<T> (*selectProduct)(bool, bool,
                                            int64_t) = selectTileProduct<T>) {
  checkArguments<T>(function, batch, M, N, K, transA != 0, transB != 0, alpha,
                    A, lda, B, ldb, C, ldc, epilogue, strideA, strideB,
                    strideC);
  if (batch == 0 || M == 0 || N == 0)
    return;

  GemmCall<T> call;
  call.M = M;
  call.N = N;
  call.K = K;
  call.transA = transA != 0;
  call.transB = transB != 0;
  call.alpha = alpha;
  call.A = A;
  call.lda = lda;
  call.B = B;
  call.ldb = ldb;
  call.beta = beta;
  call.C = C;
  call.ldc = ldc;
  call.bias = bias;
  call.strideA = strideA;
  call.strideB = strideB;
  call.strideC = strideC;
  call.tiling = Tiling::plan<T>(M, N);
  call.product = (alpha != T(0) && K > 0)
                     ? selectProduct(call.transA, call.transB, M)
                     : nullptr;
  call.epilogue = selectTileEpilogue<T>(epilogue, bias != nullptr);

  int64_t tiles = batch * call.tiling.count();
  // Multiply-adds, in double so that it cannot overflow (K + 1 counts the
  // epilogue).
  double work = double(batch) * double(M) * double(N) * double(K + 1);
  if (work < double(kMinParallelWork)) {
    for (int64_t i = 0; i < tiles; ++i)
      runTile<T>(&call, i);
    return;
  }
  parallelFor(tiles, runTile<T>, &call);
}

} // namespace

//===----------------------------------------------------------------------===//
// Kernel selection (SgemmKernels.h)
//===----------------------------------------------------------------------===//

namespace kiln {
namespace runtime {

void *sgemmPackingBuffer(size_t bytes) {
  return packingWorkspace.reserve(bytes);
}

const char *sgemmKernelName(SgemmKernel kernel) {
  switch (kernel) {
  case SgemmKernel::Eigen:
    return "eigen";
  case SgemmKernel::Avx2:
    return "avx2";
  case SgemmKernel::Avx512:
    return "avx512";
  }
  return "?";
}

bool sgemmKernelSupported(SgemmKernel kernel) {
#if KILN_RUNTIME_X86_KERNELS
  // __builtin_cpu_supports reports a feature only when the OS saves its
  // register state (XCR0), so a kernel it allows can run.
  switch (kernel) {
  case SgemmKernel::Eigen:
    return true;
  case SgemmKernel::Avx2:
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  case SgemmKernel::Avx512:
    return __builtin_cpu_supports("avx512f");
  }
  return false;
#else
  return kernel == SgemmKernel::Eigen;
#endif
}

namespace {

/// Set when KILN_SGEMM_KERNEL or setSgemmKernelForTesting chose the kernel
/// for every product.
bool forcedSgemmKernel = false;

SgemmKernel defaultSgemmKernel() {
  if (const char *forced = std::getenv("KILN_SGEMM_KERNEL")) {
    for (SgemmKernel kernel :
         {SgemmKernel::Eigen, SgemmKernel::Avx2, SgemmKernel::Avx512}) {
      if (std::strcmp(forced, sgemmKernelName(kernel)) != 0)
        continue;
      if (sgemmKernelSupported(kernel)) {
        forcedSgemmKernel = true;
        return kernel;
      }
      std::fprintf(stderr,
                   "kiln: warning: KILN_SGEMM_KERNEL=%s: this CPU cannot run "
                   "it; choosing by the CPU\n",
                   forced);
      break;
    }
    if (std::strcmp(forced, "eigen") != 0 && std::strcmp(forced, "avx2") != 0 &&
        std::strcmp(forced, "avx512") != 0)
      std::fprintf(stderr,
                   "kiln: warning: KILN_SGEMM_KERNEL=%s is not one of eigen, "
                   "avx2, avx512; choosing by the CPU\n",
                   forced);
  }
  if (sgemmKernelSupported(SgemmKernel::Avx512))
    return SgemmKernel::Avx512;
  if (sgemmKernelSupported(SgemmKernel::Avx2))
    return SgemmKernel::Avx2;
  return SgemmKernel::Eigen;
}

SgemmKernel &currentSgemmKernel() {
  static SgemmKernel kernel = defaultSgemmKernel();
  return kernel;
}

} // namespace

SgemmKernel selectedSgemmKernel() { return currentSgemmKernel(); }

bool sgemmKernelForced() {
  currentSgemmKernel(); // reads KILN_SGEMM_KERNEL on the first call
  return forcedSgemmKernel;
}

bool sgemmBf16Supported() {
#if KILN_RUNTIME_X86_KERNELS
  static const bool supported = __builtin_cpu_supports("avx512bf16") &&
                                __builtin_cpu_supports("avx512bw") &&
                                __builtin_cpu_supports("avx512f");
  return supported;
#else
  return false;
#endif
}

bool setSgemmKernelForTesting(SgemmKernel kernel) {
  if (!sgemmKernelSupported(kernel))
    return false;
  currentSgemmKernel() = kernel;
  forcedSgemmKernel = true;
  return true;
}

} // namespace runtime
} // namespace kiln

extern "C" void kiln_gemm_f32(int64_t M, int64_t N, int64_t K, int32_t trans_a,
                              int32_t trans_b, float alpha, const float *A,
                              int64_t lda, const float *B, int64_t ldb,
                              float beta, float *C, int64_t ldc,
                              const float *bias, int32_t epilogue) {
  gemm<float>("kiln_gemm_f32", 1, M, N, K, trans_a, trans_b, alpha, A, lda, B,
              ldb, beta, C, ldc, bias, epilogue, 0, 0, 0);
}

extern "C" void kiln_gemm_f64(int64_t M, int64_t N, int64_t K, int32_t trans_a,
                              int32_t trans_b, double alpha, const double *A,
                              int64_t lda, const double *B, int64_t ldb,
                              double beta, double *C, int64_t ldc,
                              const double *bias, int32_t epilogue) {
  gemm<double>("kiln_gemm_f64", 1, M, N, K, trans_a, trans_b, alpha, A, lda, B,
               ldb, beta, C, ldc, bias, epilogue, 0, 0, 0);
}

extern "C" void kiln_gemm_batched_f32(
    int64_t batch, int64_t M, int64_t N, int64_t K, int32_t trans_a,
    int32_t trans_b, float alpha, const float *A, int64_t lda, const float *B,
    int64_t ldb, float beta, float *C, int64_t ldc, const float *bias,
    int32_t epilogue, int64_t stride_a, int64_t stride_b, int64_t stride_c) {
  gemm<float>("kiln_gemm_batched_f32", batch, M, N, K, trans_a, trans_b, alpha,
              A, lda, B, ldb, beta, C, ldc, bias, epilogue, stride_a, stride_b,
              stride_c);
}

extern "C" void
kiln_gemm_batched_f64(int64_t batch, int64_t M, int64_t N, int64_t K,
                      int32_t trans_a, int32_t trans_b, double alpha,
                      const double *A, int64_t lda, const double *B,
                      int64_t ldb, double beta, double *C, int64_t ldc,
                      const double *bias, int32_t epilogue, int64_t stride_a,
                      int64_t stride_b, int64_t stride_c) {
  gemm<double>("kiln_gemm_batched_f64", batch, M, N, K, trans_a, trans_b, alpha,
               A, lda, B, ldb, beta, C, ldc, bias, epilogue, stride_a, stride_b,
               stride_c);
}

extern "C" void kiln_gemm_bf16_f32(int64_t M, int64_t N, int64_t K,
                                   int32_t trans_a, int32_t trans_b,
                                   float alpha, const float *A, int64_t lda,
                                   const float *B, int64_t ldb, float beta,
                                   float *C, int64_t ldc, const float *bias,
                                   int32_t epilogue) {
  gemm<float>("kiln_gemm_bf16_f32", 1, M, N, K, trans_a, trans_b, alpha, A, lda,
              B, ldb, beta, C, ldc, bias, epilogue, 0, 0, 0,
              selectBf16TileProduct);
}

extern "C" void kiln_gemm_batched_bf16_f32(
    int64_t batch, int64_t M, int64_t N, int64_t K, int32_t trans_a,
    int32_t trans_b, float alpha, const float *A, int64_t lda, const float *B,
    int64_t ldb, float beta, float *C, int64_t ldc, const float *bias,
    int32_t epilogue, int64_t stride_a, int64_t stride_b, int64_t stride_c) {
  gemm<float>("kiln_gemm_batched_bf16_f32", batch, M, N, K, trans_a, trans_b,
              alpha, A, lda, B, ldb, beta, C, ldc, bias, epilogue, stride_a,
              stride_b, stride_c, selectBf16TileProduct);
}

extern "C" int kiln_cpu_has_bf16(void) {
  return kiln::runtime::sgemmBf16Supported() ? 1 : 0;
}
