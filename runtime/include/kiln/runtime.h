/*===- kiln/runtime.h - kiln runtime C API ------------------------*- C -*-===*\
|*                                                                            *|
|* The C11 interface of the kiln runtime, the small static library that      *|
|* generated model code and the programs embedding it link against:          *|
|*   - status codes and their messages;                                      *|
|*   - GEMM kernels (f32, f64, plain and batched) with fused epilogues (bias  *|
|*     add and an activation applied while each output tile is in cache);     *|
|*   - convolution (forward, backward data, backward filter) and max/average *|
|*     pooling kernels on channels-last tensors; gather and scatter-add;      *|
|*   - whole-sequence recurrent kernels (SimpleRNN, LSTM, GRU; forward and    *|
|*     backward);                                                             *|
|*   - the thread-count setting used by those kernels;                        *|
|*   - aligned allocation, and the four memory regions of a compiled model    *|
|*     (parameters, optimizer state, io, scratch).                            *|
|*                                                                            *|
|* Conventions: all matrices are row-major and every size, leading dimension  *|
|* and stride counts elements, not bytes. Functions that can fail return a    *|
|* kiln_status_t and write results through `out_` parameters, which come      *|
|* last. The GEMM kernels are called by generated code with compile-time      *|
|* shapes, so they return nothing and treat bad arguments as a fatal          *|
|* programming error (see kiln_gemm_f32).                                     *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef KILN_RUNTIME_H
#define KILN_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

/// Marks the functions of the public API. The library is built with hidden
/// visibility so that its C++ internals (Eigen instantiations) do not leak out
/// of a shared object that embeds it; only these symbols are exported.
#if defined(_WIN32)
#define KILN_API
#elif defined(__GNUC__)
#define KILN_API __attribute__((visibility("default")))
#else
#define KILN_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*===----------------------------------------------------------------------===*\
|* Status codes                                                               *|
\*===----------------------------------------------------------------------===*/

/// Result of a runtime call that can fail. The numeric values are part of the
/// ABI (generated code compares against them) and never change; new codes are
/// appended.
typedef enum kiln_status_t {
  /// Success.
  KILN_OK = 0,
  /// An argument is out of its documented range (NULL where a pointer is
  /// required, alignment not a power of two, ...).
  KILN_ERROR_INVALID_ARGUMENT = 1,
  /// A memory allocation failed.
  KILN_ERROR_OUT_OF_MEMORY = 2,
  /// Reading or writing a file failed (missing file, permissions, short
  /// read, full disk).
  KILN_ERROR_IO = 3,
  /// A file was read but its contents are malformed (bad CSV/NPY/IDX data,
  /// corrupt or mismatched checkpoint).
  KILN_ERROR_FORMAT = 4,
  /// The request is valid but not supported by this build of the runtime.
  KILN_ERROR_UNIMPLEMENTED = 5,
  /// An internal invariant was broken; a bug in kiln.
  KILN_ERROR_INTERNAL = 6,
} kiln_status_t;

/// Returns a short English description of `status` ("invalid argument") for
/// messages. Never NULL: an unknown value yields "unknown status code".
/// Ownership: the string is static; do not free it.
/// Thread-safety: safe to call from any thread.
KILN_API const char *kiln_status_message(kiln_status_t status);

/*===----------------------------------------------------------------------===*\
|* GEMM with fused epilogues                                                  *|
\*===----------------------------------------------------------------------===*/

/// The activation a GEMM applies to each output element after adding the
/// bias. Passed to the kernels as an int32_t; the values are part of the ABI.
typedef enum kiln_epilogue_t {
  /// Identity: y = x.
  KILN_EPILOGUE_NONE = 0,
  /// y = max(x, 0); NaN stays NaN (unlike a plain `x > 0 ? x : 0`) and -0
  /// becomes +0.
  KILN_EPILOGUE_RELU = 1,
  /// y = 1 / (1 + exp(-x)), evaluated as exp(x) / (1 + exp(x)) for x < 0 so
  /// that no intermediate overflows (sigmoid(+-1000) is exactly 1 / 0).
  KILN_EPILOGUE_SIGMOID = 2,
  /// y = tanh(x): C tanh for f64; for f32, when the runtime is built with
  /// glibc's vector math library (see runtime/CMakeLists.txt), a form built
  /// on exp that vectorizes (at most 3.5 ulp from the exact value), else
  /// tanhf. NaN stays NaN and tanh(+-inf) is exactly +-1.
  KILN_EPILOGUE_TANH = 3,
} kiln_epilogue_t;

/// Returns the lower-case name of `epilogue` ("none", "relu", "sigmoid",
/// "tanh"), as used in kiln IR attributes. Never NULL: an unknown value
/// yields "unknown".
/// Ownership: the string is static; do not free it.
/// Thread-safety: safe to call from any thread.
KILN_API const char *kiln_epilogue_name(kiln_epilogue_t epilogue);

/// Computes, for row-major f32 matrices,
///
///   C = epilogue(alpha * op(A) * op(B) + beta * C + bias)
///
/// where op(X) is X, or X transposed when the matching `trans_` flag is
/// nonzero, and `bias` (if not NULL) is added to every row of C. Same meaning
/// as BLAS sgemm plus a fused epilogue, but row-major.
///
/// Shapes (row-major; a leading dimension is the distance in elements between
/// the starts of consecutive rows, so it may exceed the row length):
///   - op(A) is M x K. A is M x K with lda >= K if trans_a == 0,
///     or K x M with lda >= M if trans_a != 0 (lda >= 1 always).
///   - op(B) is K x N. B is K x N with ldb >= N if trans_b == 0,
///     or N x K with ldb >= K if trans_b != 0 (ldb >= 1 always).
///   - C is M x N with ldc >= max(N, 1).
///   - bias is NULL or N elements, broadcast over the M rows.
///   - epilogue is a kiln_epilogue_t value.
/// M, N and K may be 0 (M == 0 or N == 0: nothing is touched; K == 0: the
/// product is zero). Only the M x N elements of C are written; padding
/// between rows is left alone.
///
/// BLAS conventions on reads: if beta == 0, C is write-only, so it may hold
/// NaN or garbage on entry; if alpha == 0 or K == 0, A and B are not read and
/// may be NULL. C must not overlap A, B or bias.
///
/// Numerics: sums are accumulated in f32 (FMA where the CPU has it), in an
/// order fixed by the shapes: results are bitwise identical for any thread
/// count, but may differ in the last bits from other BLAS libraries. Each
/// activation is within about 4 ulp of its exact value at the computed
/// pre-activation (measured: at most 4.1 ulp for sigmoid, 3.5 for tanh).
///
/// Threads: the work is split into tiles of C (about 128 rows each) that run
/// on up to kiln_get_num_threads() threads, the caller included; each tile
/// gets its bias and activation as soon as its product is done, while it is
/// still in cache. Small problems run on the calling thread only.
///
/// Memory: no allocation per call. Each thread that runs tiles keeps a
/// packing workspace (up to about 2 MiB, allocated on its first call or
/// when a larger tile needs more, freed at thread exit).
///
/// Errors: none are returned. The arguments come from the compiler as
/// constants, so a violation of the rules above (negative size, leading
/// dimension too small, NULL matrix that must be read or written, unknown
/// epilogue) is a bug in the caller: the kernel prints the offending argument
/// to stderr and calls abort(). So does a failure to allocate the workspace.
///
/// Thread-safety: safe to call concurrently from several threads as long as
/// their C matrices do not overlap.
KILN_API void kiln_gemm_f32(int64_t M, int64_t N, int64_t K, int32_t trans_a,
                            int32_t trans_b, float alpha, const float *A,
                            int64_t lda, const float *B, int64_t ldb,
                            float beta, float *C, int64_t ldc,
                            const float *bias, int32_t epilogue);

/// kiln_gemm_f32 for f64 matrices: same shapes, rules and behaviour, with
/// sums accumulated in f64.
/// Thread-safety: as kiln_gemm_f32.
KILN_API void kiln_gemm_f64(int64_t M, int64_t N, int64_t K, int32_t trans_a,
                            int32_t trans_b, double alpha, const double *A,
                            int64_t lda, const double *B, int64_t ldb,
                            double beta, double *C, int64_t ldc,
                            const double *bias, int32_t epilogue);

/// Runs `batch` independent kiln_gemm_f32 problems of the same shape: for
/// b in [0, batch),
///
///   C_b = epilogue(alpha * op(A_b) * op(B_b) + beta * C_b + bias)
///
/// with A_b = A + b * stride_a, B_b = B + b * stride_b, C_b = C + b *
/// stride_c (strides in elements). One `bias` (NULL or N elements) is shared
/// by all problems.
///
/// Shapes and conventions are those of kiln_gemm_f32 for each problem, plus:
/// batch >= 0; stride_a >= 0 and stride_b >= 0 (0 reuses the same matrix for
/// every problem, e.g. one weight matrix); if batch > 1, stride_c >=
/// (M - 1) * ldc + N so that the outputs do not overlap. Results are bitwise
/// identical to `batch` separate kiln_gemm_f32 calls. Tiles of all problems
/// are spread over the threads together.
///
/// Errors and thread-safety: as kiln_gemm_f32.
KILN_API void kiln_gemm_batched_f32(int64_t batch, int64_t M, int64_t N,
                                    int64_t K, int32_t trans_a, int32_t trans_b,
                                    float alpha, const float *A, int64_t lda,
                                    const float *B, int64_t ldb, float beta,
                                    float *C, int64_t ldc, const float *bias,
                                    int32_t epilogue, int64_t stride_a,
                                    int64_t stride_b, int64_t stride_c);

/// kiln_gemm_f32 with bfloat16 operands (mixed precision, `kilnc
/// --precision=bf16`): the elements of op(A) and op(B) are rounded to
/// bfloat16 (round to nearest even) and their products, exact in f32, are
/// summed in f32 by the CPU's AVX512_BF16 dot products (VDPBF16PS; it treats
/// bf16 and f32 denormals as zero); alpha, beta, C, bias and the epilogue
/// stay f32. Relative error of each product about 2^-8 (bf16 keeps 8
/// significant bits) instead of 2^-24. Formula and use in training:
/// Kalamkar et al., "A Study of BFLOAT16 for Deep Learning Training" (2019).
/// On a CPU without AVX512_BF16 (kiln_cpu_has_bf16() == 0) it is
/// kiln_gemm_f32, exactly. Shapes, rules, threads, memory, errors and
/// thread-safety: as kiln_gemm_f32; results are bitwise identical for any
/// thread count.
KILN_API void kiln_gemm_bf16_f32(int64_t M, int64_t N, int64_t K,
                                 int32_t trans_a, int32_t trans_b, float alpha,
                                 const float *A, int64_t lda, const float *B,
                                 int64_t ldb, float beta, float *C, int64_t ldc,
                                 const float *bias, int32_t epilogue);

/// kiln_gemm_batched_f32 with bfloat16 operands, as kiln_gemm_bf16_f32.
KILN_API void kiln_gemm_batched_bf16_f32(
    int64_t batch, int64_t M, int64_t N, int64_t K, int32_t trans_a,
    int32_t trans_b, float alpha, const float *A, int64_t lda, const float *B,
    int64_t ldb, float beta, float *C, int64_t ldc, const float *bias,
    int32_t epilogue, int64_t stride_a, int64_t stride_b, int64_t stride_c);

/// 1 when this CPU (and OS) runs the bf16 GEMMs in bf16 (AVX512_BF16),
/// 0 when they fall back to f32.
KILN_API int kiln_cpu_has_bf16(void);

/// kiln_gemm_batched_f32 for f64 matrices.
/// Errors and thread-safety: as kiln_gemm_f32.
KILN_API void kiln_gemm_batched_f64(int64_t batch, int64_t M, int64_t N,
                                    int64_t K, int32_t trans_a, int32_t trans_b,
                                    double alpha, const double *A, int64_t lda,
                                    const double *B, int64_t ldb, double beta,
                                    double *C, int64_t ldc, const double *bias,
                                    int32_t epilogue, int64_t stride_a,
                                    int64_t stride_b, int64_t stride_c);

/*===----------------------------------------------------------------------===*\
|* Convolution (channels-last)                                                *|
\*===----------------------------------------------------------------------===*/

/// The shape of a convolution: one struct for the three kernels of a layer.
/// All fields are int64_t so that generated code can pass a constant i64
/// array. Fields of spatial dimensions i >= spatial_rank are ignored (by
/// convention 1 for sizes, kernel, stride and dilation, 0 for the pads).
///
/// Layouts (row-major, dense; d = spatial_rank):
///   x:    [N, S1..Sd, C]        (activations, channels-last)
///   w:    [K1..Kd, C/groups, F] (Keras HWIO)
///   y:    [N, O1..Od, F]
///   bias: [F]
/// `groups` splits C and F into contiguous equal blocks: output channel f
/// belongs to group g = f / (F/groups), which reads input channels
/// g*C/groups .. (g+1)*C/groups - 1 (groups == C == F: depthwise).
///
/// Sizes: O_i = floor((S_i + pad_low_i + pad_high_i - dilation_i*(K_i-1) - 1)
/// / stride_i) + 1, and O_i >= 1 (TensorFlow/PyTorch/ONNX output sizes;
/// 'same' padding is expressed through explicit pad_low/pad_high).
typedef struct kiln_conv_desc_t {
  int64_t spatial_rank; ///< d in 1..3
  int64_t groups;       ///< >= 1, divides in_channels and out_channels
  int64_t batch;        ///< N >= 0 (0: nothing is computed, dw is zeroed)
  int64_t in_channels;  ///< C >= 1
  int64_t out_channels; ///< F >= 1
  int64_t in_size[3];   ///< S1..Sd >= 1
  int64_t out_size[3];  ///< O1..Od, as the formula above
  int64_t kernel[3];    ///< K1..Kd >= 1
  int64_t stride[3];    ///< >= 1
  int64_t dilation[3];  ///< >= 1
  int64_t pad_low[3];   ///< >= 0, zeros before
  int64_t pad_high[3];  ///< >= 0, zeros after
  /// A kiln_epilogue_t applied after the bias by kiln_conv_fwd_*; the
  /// backward kernels ignore it (so one descriptor serves all three).
  int64_t epilogue;
  int64_t reserved[3]; ///< must be 0
} kiln_conv_desc_t;

/// Forward convolution (cross-correlation, as in every framework):
///
///   y[n, o, f] = epilogue(bias[f] + sum_{k, c} x[n, o*stride + k*dilation -
///                pad_low, g*C/groups + c] * w[k, c, f])
///
/// over kernel offsets k (K1..Kd) and c in [0, C/groups), g the group of f;
/// x outside [0, S) reads as 0. `bias` may be NULL (no bias). y is
/// write-only (may hold garbage on entry) and must not overlap the inputs.
///
/// Numerics (f32): im2col + kiln_gemm_f32 (GEMM depths K1*..*Kd*C/groups
/// below 16: register-blocked loops), sums in f32 in an order fixed by the
/// shapes, so results are bitwise identical for any thread count; the bias
/// and activation are exactly the GEMM's epilogues (same accuracy and NaN
/// behaviour). f64: direct loops (the reference the f32 kernels are tested
/// against), bias and activation through kiln_gemm_f64.
///
/// Threads: blocks of output rows (f32) or images (f64) on up to
/// kiln_get_num_threads() threads. Memory: each thread keeps a column
/// workspace (about 256 KiB, grown when a block needs more, freed at thread
/// exit).
///
/// Errors: none are returned. A descriptor that breaks the rules above
/// (including an out_size that does not match the formula or a nonzero
/// reserved field) or a NULL tensor pointer with N > 0 is a bug in the
/// caller: the kernel prints the offending field to stderr and calls abort().
///
/// Thread-safety: safe to call concurrently from several threads as long as
/// their outputs do not overlap.
KILN_API void kiln_conv_fwd_f32(const kiln_conv_desc_t *d, const float *x,
                                const float *w, const float *bias, float *y);

/// Backward data (the transposed convolution): for every input position i,
///
///   dx[n, i, g*C/groups + c] = sum over (o, k) with i = o*stride +
///                              k*dilation - pad_low of sum_{f in group g}
///                              dy[n, o, f] * w[k, c, f]
///
/// dx is overwritten: every element is written, those no window touches
/// with 0. f32: with unit strides, pads no larger than dilation*(K-1), at
/// least 8 input channels per group and S1*..*Sd <= 1.25 O1*..*Od, computed
/// as the forward convolution of dy with the flipped weights (a per-thread
/// copy of w, transposed); else GEMM + col2im per image. Shapes, numerics,
/// errors and thread-safety as kiln_conv_fwd_f32.
KILN_API void kiln_conv_bwd_data_f32(const kiln_conv_desc_t *d, const float *dy,
                                     const float *w, float *dx);

/// Backward filter:
///
///   dw[k, c, f] = sum_{n, o} x[n, o*stride + k*dilation - pad_low,
///                 g*C/groups + c] * dy[n, o, f]      (g the group of f)
///
/// dw is overwritten. f32: the N*O1*..*Od rows are split into at most 16
/// parts fixed by the shapes; each part sums into its own partial dw (one
/// allocation of up to 32 MiB per call when there are several parts) and
/// the partials are added in part order, so results are bitwise identical
/// for any thread count. Errors and thread-safety as kiln_conv_fwd_f32.
KILN_API void kiln_conv_bwd_filter_f32(const kiln_conv_desc_t *d,
                                       const float *x, const float *dy,
                                       float *dw);

/// kiln_conv_fwd_f32 for f64 tensors (direct loops, sums in f64).
KILN_API void kiln_conv_fwd_f64(const kiln_conv_desc_t *d, const double *x,
                                const double *w, const double *bias, double *y);

/// kiln_conv_bwd_data_f32 for f64 tensors (direct loops).
KILN_API void kiln_conv_bwd_data_f64(const kiln_conv_desc_t *d,
                                     const double *dy, const double *w,
                                     double *dx);

/// kiln_conv_bwd_filter_f32 for f64 tensors (direct loops).
KILN_API void kiln_conv_bwd_filter_f64(const kiln_conv_desc_t *d,
                                       const double *x, const double *dy,
                                       double *dw);

/*===----------------------------------------------------------------------===*\
|* Pooling (channels-last)                                                    *|
\*===----------------------------------------------------------------------===*/

/// The shape of a max or average pooling: x [N, S1..Sd, C] -> y [N, O1..Od,
/// C], windows of window_i elements every stride_i elements, starting at
/// o*stride - pad_low. Fields of dimensions i >= spatial_rank are ignored.
/// out_size is the caller's: floor mode gives O_i = floor((S_i + pad_low_i +
/// pad_high_i - window_i) / stride_i) + 1, ceil mode may add one more window
/// that reaches past S_i + pad_high_i. Every window must hold at least one
/// element of x (pad_low_i < window_i and (O_i - 1)*stride_i - pad_low_i <
/// S_i, as PyTorch requires); anything else aborts like a bad GEMM argument.
typedef struct kiln_pool_desc_t {
  int64_t spatial_rank; ///< d in 1..3
  int64_t batch;        ///< N >= 0
  int64_t channels;     ///< C >= 1
  int64_t in_size[3];   ///< >= 1
  int64_t out_size[3];  ///< >= 1
  int64_t window[3];    ///< >= 1
  int64_t stride[3];    ///< >= 1
  int64_t pad_low[3];   ///< >= 0
  int64_t pad_high[3];  ///< >= 0
  /// Average pooling only (ignored by max pooling), 0 or 1. 1: the divisor
  /// is the size of the window clipped to the padded extent [-pad_low,
  /// S + pad_high) (PyTorch/ONNX count_include_pad=1; in ceil mode the part
  /// of a window beyond S + pad_high is not counted, as in PyTorch). 0: the
  /// divisor counts only the elements inside [0, S) (Keras/TF 'same',
  /// PyTorch count_include_pad=False). The divisor is the product over the
  /// dimensions.
  int64_t count_include_pad;
  int64_t reserved[3]; ///< must be 0
} kiln_pool_desc_t;

/// Max pooling: y = the maximum of the window's elements inside x (padding
/// never wins). NaN propagates: if the window holds a NaN, y is the first
/// NaN (row-major window order). y is write-only.
///
/// Threads: (image, first output coordinate) items on up to
/// kiln_get_num_threads() threads; results do not depend on the count. No
/// allocation. Errors: none returned; a descriptor that breaks the rules of
/// kiln_pool_desc_t or a NULL tensor with N > 0 aborts (see kiln_gemm_f32).
/// Thread-safety: safe to call concurrently with non-overlapping outputs.
KILN_API void kiln_max_pool_fwd_f32(const kiln_pool_desc_t *d, const float *x,
                                    float *y);

/// Max pooling backward: dx is overwritten; each output window sends dy to
/// exactly one element, the one whose value the forward returned: the first
/// (row-major window order) maximal element, where a NaN counts as the
/// maximum (the first NaN). Overlapping windows accumulate. Threads: items
/// are (image, block of 64 channels). Errors and thread-safety as
/// kiln_max_pool_fwd_f32.
KILN_API void kiln_max_pool_bwd_f32(const kiln_pool_desc_t *d, const float *x,
                                    const float *dy, float *dx);

/// Average pooling: y = (sum of the window's elements inside x) / divisor,
/// the divisor as count_include_pad says. Threads, errors and thread-safety
/// as kiln_max_pool_fwd_f32.
KILN_API void kiln_avg_pool_fwd_f32(const kiln_pool_desc_t *d, const float *x,
                                    float *y);

/// Average pooling backward: dx (overwritten) gets dy / divisor at every
/// element inside x of each window; overlapping windows accumulate. Threads,
/// errors and thread-safety as kiln_max_pool_bwd_f32.
KILN_API void kiln_avg_pool_bwd_f32(const kiln_pool_desc_t *d, const float *dy,
                                    float *dx);

/// The f64 forms of the four pooling kernels: same rules and behaviour.
KILN_API void kiln_max_pool_fwd_f64(const kiln_pool_desc_t *d, const double *x,
                                    double *y);
KILN_API void kiln_max_pool_bwd_f64(const kiln_pool_desc_t *d, const double *x,
                                    const double *dy, double *dx);
KILN_API void kiln_avg_pool_fwd_f64(const kiln_pool_desc_t *d, const double *x,
                                    double *y);
KILN_API void kiln_avg_pool_bwd_f64(const kiln_pool_desc_t *d, const double *dy,
                                    double *dx);

/*===----------------------------------------------------------------------===*\
|* Gather and scatter-add (embedding lookup and its gradient)                 *|
\*===----------------------------------------------------------------------===*/

/// The shapes of one gather / scatter-add: the gathered tensor viewed as
/// `[outer, axis_size, inner]` (the axes before, on and after the gather
/// axis, flattened), and `count` indices (all index axes flattened). The
/// gathered side is `[outer, count, inner]`.
typedef struct kiln_gather_desc_t {
  int64_t outer;       ///< >= 0
  int64_t axis_size;   ///< V >= 0 (0: every index is out of range)
  int64_t inner;       ///< >= 0
  int64_t count;       ///< >= 0
  int64_t index_bytes; ///< 4 (int32 indices) or 8 (int64)
  int64_t reserved[3]; ///< must be 0
} kiln_gather_desc_t;

/// Gather (ONNX Gather, numpy take, Keras Embedding):
///
///   y[o, j, i] = x[o, idx[j], i]
///
/// An index in [-V, 0) counts from the end (ONNX); an index outside [-V, V)
/// gives a zero slice, never a read outside x. y is write-only and must not
/// overlap x. Exact (copies). Threads: blocks of (o, j) slices on up to
/// kiln_get_num_threads() threads when the copy is large (>= 256 KiB).
/// Errors: none returned; a descriptor that breaks the rules above is a bug
/// in the caller: the kernel prints the field to stderr and aborts.
/// Thread-safety: safe to call concurrently with non-overlapping outputs.
KILN_API void kiln_gather_f32(const kiln_gather_desc_t *d, const float *x,
                              const void *indices, float *y);
KILN_API void kiln_gather_f64(const kiln_gather_desc_t *d, const double *x,
                              const void *indices, double *y);

/// Scatter-add, the transpose of the gather (TensorFlow
/// unsorted_segment_sum, PyTorch index_add_): y is zeroed, then
///
///   y[o, idx[j], i] += u[o, j, i]      for j = 0, 1, .., count - 1
///
/// in that order, so repeated indices accumulate and the sums do not depend
/// on the thread count. Indices count from the end as for the gather; a
/// slice whose index is outside [-V, V) is dropped. Threads: the `inner`
/// columns are split into blocks (each thread owns its columns of every
/// row, so no two threads add to one element). Errors and thread-safety as
/// kiln_gather_f32.
KILN_API void kiln_scatter_add_f32(const kiln_gather_desc_t *d, const float *u,
                                   const void *indices, float *y);
KILN_API void kiln_scatter_add_f64(const kiln_gather_desc_t *d, const double *u,
                                   const void *indices, double *y);

/*===----------------------------------------------------------------------===*\
|* Threads                                                                    *|
\*===----------------------------------------------------------------------===*/

/// Upper bound on the thread count; larger requests are clamped to it.
#define KILN_MAX_THREADS 256

/// Sets the number of threads the kernels may use, the calling thread
/// included: n >= 1 sets it (clamped to KILN_MAX_THREADS); n <= 0 restores
/// the default, which is the value of the environment variable
/// KILN_NUM_THREADS if it holds a positive integer, else the number of
/// hardware threads. Worker threads are started lazily by the next kernel
/// call that needs them. Results do not depend on this setting.
/// Thread-safety: safe to call from any thread; kernels already running keep
/// the count they started with. The setting is process-wide.
KILN_API void kiln_set_num_threads(int n);

/// Returns the number of threads the kernels may use (>= 1), as set by
/// kiln_set_num_threads or the default described there.
/// Thread-safety: safe to call from any thread.
KILN_API int kiln_get_num_threads(void);

/// Calls body(context, i) once for every i in [0, count) on up to
/// kiln_get_num_threads() threads (the pool the kernels use, the caller
/// included) and returns when all calls are done; count <= 0 does nothing.
/// The items run in no particular order, so each must be independent of the
/// others. Generated code splits large elementwise loops into chunks run
/// this way (kiln-parallelize-loops); calls from inside a body run serially.
/// Errors: none. Thread-safety: safe to call from any thread.
KILN_API void kiln_parallel_for(int64_t count,
                                void (*body)(void *context, int64_t index),
                                void *context);

/*===----------------------------------------------------------------------===*\
|* Aligned memory and model regions                                           *|
\*===----------------------------------------------------------------------===*/

/// Alignment in bytes used when a caller passes 0: one cache line, and enough
/// for the widest vector loads (AVX-512).
#define KILN_DEFAULT_ALIGNMENT 64

/// Allocates `size` bytes whose address is a multiple of `alignment` and
/// stores the pointer in `*out_ptr`. The memory is not initialized.
///
/// `alignment` must be a power of two, or 0 for KILN_DEFAULT_ALIGNMENT.
/// `size` may be 0, which still yields a unique non-NULL pointer.
///
/// Errors: KILN_ERROR_INVALID_ARGUMENT if out_ptr is NULL or alignment is not
/// a power of two; KILN_ERROR_OUT_OF_MEMORY if the allocation fails. On error
/// `*out_ptr` (if out_ptr is not NULL) is set to NULL.
/// Ownership: the caller owns the memory and releases it with
/// kiln_aligned_free (not free()).
/// Thread-safety: safe to call from any thread.
KILN_API kiln_status_t kiln_aligned_alloc(size_t size, size_t alignment,
                                          void **out_ptr);

/// Releases memory from kiln_aligned_alloc. NULL is accepted and ignored.
/// Thread-safety: safe to call from any thread (not twice on one pointer).
KILN_API void kiln_aligned_free(void *ptr);

/// The memory regions of a compiled model, in the order every entry point
/// takes them (`void f(void *params, void *opt_state, void *io, void
/// *scratch)`). The names ("params", ...) appear in model manifests and
/// generated headers; kiln_region_name and kiln_region_from_name convert.
/// The numeric values are part of the ABI and never change.
typedef enum kiln_region_t {
  /// Parameters: trainable ones and non-trainable ones (state).
  KILN_REGION_PARAMS = 0,
  /// Optimizer state: slots per trainable parameter and the step counter.
  KILN_REGION_OPT_STATE = 1,
  /// Inputs and outputs of one call (batch data, loss, metrics, outputs).
  KILN_REGION_IO = 2,
  /// Temporaries of one call (the memory plan's arena).
  KILN_REGION_SCRATCH = 3,
} kiln_region_t;

/// Number of kiln_region_t values.
#define KILN_REGION_COUNT 4

/// What a tensor of an entry point's interface is (the "kind" of a manifest
/// tensor and of a generated header's tensor macros). The numeric values
/// are part of the ABI and never change; new kinds are appended.
typedef enum kiln_tensor_kind_t {
  /// A trainable or frozen parameter (`kiln.param`), in the params region.
  KILN_TENSOR_PARAM = 0,
  /// Non-trainable state that training steps update, such as a running
  /// mean (`kiln.param` + `kiln.state`), in the params region: saved in
  /// checkpoints, never touched by the optimizer, read by inference.
  KILN_TENSOR_STATE = 1,
  /// An optimizer slot or the step counter (`kiln.opt_state`), in the
  /// opt_state region.
  KILN_TENSOR_OPT_STATE = 2,
  /// An input of the call (data, labels, sample weights, learning rate), in
  /// the io region.
  KILN_TENSOR_INPUT = 3,
  /// An output of the call (predictions, loss, metric partial sums), in the
  /// io region.
  KILN_TENSOR_OUTPUT = 4,
} kiln_tensor_kind_t;

/// Number of kiln_tensor_kind_t values.
#define KILN_TENSOR_KIND_COUNT 5

/// The name of `region` ("params", "opt_state", "io", "scratch"), or NULL
/// for a value outside the enum.
/// Ownership: the string is static. Thread-safety: safe from any thread.
static inline const char *kiln_region_name(kiln_region_t region) {
  switch (region) {
  case KILN_REGION_PARAMS:
    return "params";
  case KILN_REGION_OPT_STATE:
    return "opt_state";
  case KILN_REGION_IO:
    return "io";
  case KILN_REGION_SCRATCH:
    return "scratch";
  }
  return NULL;
}

/// Whether the C strings `a` and `b` are equal (for the name lookups below,
/// so that this header needs no <string.h>). Not part of the API.
static inline int kiln_names_equal_(const char *a, const char *b) {
  while (*a && *a == *b)
    ++a, ++b;
  return *a == *b;
}

/// The region named `name` in `*out_region`; returns 0 when `name` is not
/// a region name (or NULL), 1 otherwise.
/// Thread-safety: safe from any thread.
static inline int kiln_region_from_name(const char *name,
                                        kiln_region_t *out_region) {
  for (int r = 0; name && r < KILN_REGION_COUNT; ++r)
    if (kiln_names_equal_(name, kiln_region_name((kiln_region_t)r))) {
      *out_region = (kiln_region_t)r;
      return 1;
    }
  return 0;
}

/// The name of `kind` ("param", "state", "opt_state", "input", "output"),
/// or NULL for a value outside the enum.
/// Ownership: the string is static. Thread-safety: safe from any thread.
static inline const char *kiln_tensor_kind_name(kiln_tensor_kind_t kind) {
  switch (kind) {
  case KILN_TENSOR_PARAM:
    return "param";
  case KILN_TENSOR_STATE:
    return "state";
  case KILN_TENSOR_OPT_STATE:
    return "opt_state";
  case KILN_TENSOR_INPUT:
    return "input";
  case KILN_TENSOR_OUTPUT:
    return "output";
  }
  return NULL;
}

/// The kind named `name` in `*out_kind`; returns 0 when `name` is not a
/// kind name (or NULL), 1 otherwise.
/// Thread-safety: safe from any thread.
static inline int kiln_tensor_kind_from_name(const char *name,
                                             kiln_tensor_kind_t *out_kind) {
  for (int k = 0; name && k < KILN_TENSOR_KIND_COUNT; ++k)
    if (kiln_names_equal_(name, kiln_tensor_kind_name((kiln_tensor_kind_t)k))) {
      *out_kind = (kiln_tensor_kind_t)k;
      return 1;
    }
  return 0;
}

/// The region a tensor of `kind` lives in.
/// Thread-safety: safe from any thread.
static inline kiln_region_t kiln_tensor_kind_region(kiln_tensor_kind_t kind) {
  switch (kind) {
  case KILN_TENSOR_PARAM:
  case KILN_TENSOR_STATE:
    return KILN_REGION_PARAMS;
  case KILN_TENSOR_OPT_STATE:
    return KILN_REGION_OPT_STATE;
  case KILN_TENSOR_INPUT:
  case KILN_TENSOR_OUTPUT:
    return KILN_REGION_IO;
  }
  return KILN_REGION_IO;
}

/// Byte sizes of the four memory regions of a compiled model and the
/// alignment of their base addresses, as declared by the model's generated
/// header (its *_PARAMS_SIZE, *_OPT_STATE_SIZE, *_IO_SIZE, *_SCRATCH_SIZE and
/// *_ALIGNMENT macros).
/// Thread-safety: plain data; no internal synchronization.
typedef struct kiln_region_sizes_t {
  /// Trainable and non-trainable parameters, in bytes.
  size_t params_size;
  /// Optimizer state (e.g. Adam moments, step counter), in bytes.
  size_t opt_state_size;
  /// Inputs and outputs of the entry points (batch data, loss, metrics,
  /// predictions), in bytes.
  size_t io_size;
  /// Temporaries of one step (activations, gradients), in bytes.
  size_t scratch_size;
  /// Alignment of every region's base address in bytes: a power of two, or 0
  /// for KILN_DEFAULT_ALIGNMENT.
  size_t alignment;
} kiln_region_sizes_t;

/// The four memory regions of a compiled model, allocated by
/// kiln_regions_create. Pass the pointers to the model's entry points.
/// Callers read the fields and the memory they point to but do not change
/// the fields.
/// Ownership: the struct and the four regions belong to the kiln_regions_t
/// and are released together by kiln_regions_destroy.
/// Thread-safety: no internal synchronization; the model's entry points say
/// which regions they write.
typedef struct kiln_regions_t {
  /// Parameter region: sizes.params_size bytes.
  void *params;
  /// Optimizer-state region: sizes.opt_state_size bytes.
  void *opt_state;
  /// Input/output region: sizes.io_size bytes.
  void *io;
  /// Scratch region: sizes.scratch_size bytes.
  void *scratch;
  /// The sizes the regions were created with; `alignment` holds the
  /// alignment actually used (KILN_DEFAULT_ALIGNMENT if 0 was requested).
  kiln_region_sizes_t sizes;
} kiln_regions_t;

/// Allocates the four regions described by `sizes`, each aligned to
/// sizes->alignment and filled with zero bytes, and stores the new
/// kiln_regions_t in `*out_regions`. Every region pointer is non-NULL, even
/// for a size of 0. Parameters still have to be initialized (zeroed memory
/// is the correct initial optimizer state for SGD momentum and Adam).
///
/// Errors: KILN_ERROR_INVALID_ARGUMENT if sizes or out_regions is NULL or the
/// alignment is not a power of two; KILN_ERROR_OUT_OF_MEMORY if an allocation
/// fails (nothing is leaked). On error `*out_regions` (if out_regions is not
/// NULL) is set to NULL.
/// Ownership: the caller owns the result and releases it with
/// kiln_regions_destroy. `sizes` is only read during the call.
/// Thread-safety: safe to call from any thread.
KILN_API kiln_status_t kiln_regions_create(const kiln_region_sizes_t *sizes,
                                           kiln_regions_t **out_regions);

/// Releases `regions` and its four memory regions. NULL is accepted and
/// ignored.
/// Thread-safety: the regions must no longer be in use by any thread.
KILN_API void kiln_regions_destroy(kiln_regions_t *regions);

/// An entry point of a kilnc-generated model, as declared in its header:
/// `void <name>_<entry>(void *params, void *opt_state, void *io,
/// void *scratch)`. The four regions must not overlap and each must be
/// aligned to the header's *_ALIGNMENT (64) bytes: the generated code marks
/// them `noalias` and 64-byte aligned, and may use aligned vector loads
/// (a region aligned to 16 bytes only can crash).
typedef void (*kiln_entry_point_t)(void *params, void *opt_state, void *io,
                                   void *scratch);

/// Calls `entry` with the four regions of `regions`: the convenience form of
/// `entry(r->params, r->opt_state, r->io, r->scratch)`. Returns
/// KILN_ERROR_INVALID_ARGUMENT (and calls nothing) if either pointer is NULL,
/// a region is smaller than `required` says (its sizes come from the
/// model header: *_PARAMS_SIZE, *_OPT_STATE_SIZE, *_IO_SIZE,
/// *_SCRATCH_SIZE of the entry point) or the regions were created with a
/// smaller alignment than `required->alignment` (*_ALIGNMENT; 0: no
/// requirement). `required` may be NULL to skip the checks.
/// Thread-safety: as the entry point: calls on distinct regions may run
/// concurrently.
KILN_API kiln_status_t kiln_regions_call(const kiln_regions_t *regions,
                                         const kiln_region_sizes_t *required,
                                         kiln_entry_point_t entry);

/*===----------------------------------------------------------------------===*\
|* Recurrent layers (whole sequences)                                         *|
\*===----------------------------------------------------------------------===*/

/// The cell of a recurrent layer (kiln_rnn_desc_t::cell). The values are
/// part of the ABI.
typedef enum kiln_rnn_cell_t {
  /// Keras SimpleRNN (Elman 1990): h = act(x_t W + h_prev U + b). G = 1.
  KILN_RNN_SIMPLE = 0,
  /// Keras LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of
  /// Gers et al. 2000, no peepholes). G = 4, gates in Keras' order i, f, c, o.
  KILN_RNN_LSTM = 1,
  /// Keras GRU (Cho et al. 2014). G = 3, gates in Keras' order z, r, h.
  KILN_RNN_GRU = 2,
} kiln_rnn_cell_t;

/// The shape and options of a recurrent layer: one struct for the forward
/// and backward kernels. All fields are int64_t so that generated code can
/// pass a constant i64 array.
///
/// Layouts (row-major, dense, batch-major as Keras; G the cell's gate count,
/// 1 / 4 / 3):
///   x:                [N, T, I]
///   kernel:           [I, G*H]   (Keras `kernel`, gate blocks in Keras order)
///   recurrent_kernel: [H, G*H]   (Keras `recurrent_kernel`)
///   bias:             [G*H] (SIMPLE, LSTM, GRU with reset_after = 0) or
///                     [2, 3H] (GRU with reset_after = 1: row 0 the input
///                     bias, row 1 the recurrent bias), as Keras stores it
///   y:                [N, T, H]  every step's hidden state
///   initial_state:    [S, N, H]  h_0, then (LSTM) c_0; S = 2 for LSTM, 1
///                                for SIMPLE and GRU (Keras `initial_state`)
///   final_state:      [S, N, H]  the states after the last step, same
///                                layout (Keras `return_state`)
///
/// Activations (`activation`, `recurrent_activation`) are kiln_epilogue_t
/// values with the GEMM epilogues' definitions: KILN_EPILOGUE_NONE (Keras
/// "linear"), KILN_EPILOGUE_RELU, KILN_EPILOGUE_SIGMOID, KILN_EPILOGUE_TANH.
/// Keras defaults: activation tanh (all cells), recurrent_activation sigmoid
/// (LSTM, GRU). Other Keras activations (hard_sigmoid, ...) are not
/// supported.
///
/// Steps: s = 0 .. T-1 in processing order. Step s reads x[:, t_s, :] with
/// t_s = T-1-s if go_backwards else s, and stores its hidden state at
/// y[:, u_s, :] with u_s = T-1-s if reverse_output else s. Keras'
/// go_backwards=True alone is go_backwards = 1, reverse_output = 0 (y in
/// processing order); the backward half of a Bidirectional layer is
/// go_backwards = 1, reverse_output = 1 (y aligned with x). The last
/// processed step's state (Keras' output with return_sequences=False) is at
/// y[:, T-1, :] when reverse_output = 0 and at y[:, 0, :] when
/// reverse_output = 1. The initial states are initial_state, or zero
/// (h_0 = 0, c_0 = 0) when it is NULL. The final states are the states after
/// the last processed step (with a mask: the carried states, which is what
/// Keras' return_state gives; y's last step may be 0 there).
///
/// Masks (Keras' `mask` argument of an RNN layer, from `mask_zero=True`
/// embeddings or a `Masking` layer): an optional mask [N, T] (the kernel's
/// float type; nonzero = the step is valid), indexed like x. A masked
/// step of sample n keeps its states (h, and c for LSTM, carried over
/// unchanged) and writes y = the carried h, or zeros with
/// zero_output_for_mask = 1 (Keras' RNN `zero_output_for_mask`, which
/// Bidirectional sets to return_sequences); its gates get no gradient.
/// This is keras/src/backend/*/rnn.py: new_states = where(mask, states',
/// states); output = where(mask, output', zero_output ? 0 : states[0]).
///
/// Cells (Keras 3 keras/src/layers/rnn/simple_rnn.py, lstm.py, gru.py; act =
/// activation, ra = recurrent_activation, * elementwise, a column block of
/// H columns per gate, h the previous step's state h_prev):
///   SIMPLE: h' = act(x_t W + h U + b)
///   LSTM:   z = x_t W + h U + b;  i = ra(z_i), f = ra(z_f), g = act(z_c),
///           o = ra(z_o);  c' = f * c + i * g;  h' = o * act(c')
///   GRU, reset_after = 1 (Keras 3 default; the CuDNN form):
///           xz = x_t W + b_in;  hz = h U + b_rec;
///           z = ra(xz_z + hz_z);  r = ra(xz_r + hz_r);
///           hh = act(xz_h + r * hz_h);  h' = z * h + (1 - z) * hh
///   GRU, reset_after = 0 (Cho et al. 2014; one bias b):
///           xz = x_t W + b;  z = ra(xz_z + h U_z);  r = ra(xz_r + h U_r);
///           hh = act(xz_h + (r * h) U_h);  h' = z * h + (1 - z) * hh
typedef struct kiln_rnn_desc_t {
  int64_t cell;       ///< a kiln_rnn_cell_t
  int64_t batch;      ///< N >= 0 (0: nothing is computed, weight grads zeroed)
  int64_t steps;      ///< T >= 1
  int64_t input_size; ///< I >= 1
  int64_t units;      ///< H >= 1
  int64_t activation; ///< a kiln_epilogue_t (Keras `activation`)
  /// A kiln_epilogue_t (Keras `recurrent_activation`) for LSTM and GRU;
  /// ignored (any value) for SIMPLE.
  int64_t recurrent_activation;
  int64_t go_backwards;   ///< 0 or 1: step s reads x[:, T-1-s, :]
  int64_t reverse_output; ///< 0 or 1: step s writes y[:, T-1-s, :]
  /// GRU only, 0 or 1 (see the formulas above; 1 is Keras 3's default);
  /// must still be 0 or 1 for the other cells, which ignore it.
  int64_t reset_after;
  /// 0 or 1: a masked step writes zeros to y instead of the carried h.
  int64_t zero_output_for_mask;
  int64_t reserved[2]; ///< must be 0
} kiln_rnn_desc_t;

/// Number of elements (of the kernel's float type: floats for the f32
/// kernels, doubles for the f64 ones) of the workspace kiln_rnn_fwd_* fills
/// and kiln_rnn_bwd_* reads. It depends on the descriptor only. With
/// P = N*T rows (row n*T + t belongs to the step that reads x[n, t, :]),
/// the workspace holds, in this order:
///   gates  [P, G*H]  the activated gates of every step (SIMPLE: h itself;
///                    LSTM: i, f, g, o; GRU: z, r, hh)
///   h_prev [P, H]    the state each step started from
///   LSTM:  c_prev [P, H] (the cell state each step started from), then
///          act_c [P, H] (act(c') of each step)
///   GRU reset_after = 1: hz_h [P, H] (h U_h + b_rec,h of each step), then
///          [N, 3H] (one step's h U + b_rec, scratch of the forward pass)
///   GRU reset_after = 0: r * h_prev [P, H] of each step
/// so the size is
///   SIMPLE: 2*N*T*H            LSTM: 7*N*T*H
///   GRU:    5*N*T*H + 3*N*H (reset_after = 1), 5*N*T*H (reset_after = 0).
/// N = 0 gives 0.
///
/// Errors: none returned; an invalid descriptor (see kiln_rnn_desc_t) aborts
/// with a message naming the field, like the GEMM's bad arguments. So do
/// sizes whose element counts overflow int64_t.
/// Thread-safety: safe to call from any thread.
KILN_API int64_t kiln_rnn_workspace_size(const kiln_rnn_desc_t *d);

/// Forward pass of a recurrent layer over the whole sequence (formulas at
/// kiln_rnn_desc_t; `mask` [N, T] or NULL for no mask, see there):
/// reads initial_state [S, N, H] (NULL: zero states) and writes y [N, T, H]
/// (every step), final_state [S, N, H] (h_T, then LSTM's c_T; may be NULL)
/// and the workspace (kiln_rnn_workspace_size(d) elements) the backward pass
/// reads. `bias` may be NULL (Keras use_bias=False). y, final_state and
/// workspace are write-only (may hold garbage on entry) and must not overlap
/// each other or the inputs.
///
/// Computation: the input projections of all T steps are one GEMM (x [N*T,
/// I] * kernel [I, G*H] + input bias) into the workspace; then per step one
/// [N, H] x [H, G*H] GEMM adds h_prev * recurrent_kernel (GRU with
/// reset_after = 0: [N, H] x [H, 2H] for z, r, then (r * h_prev) [N, H] x
/// [H, H] for hh, which needs r first; no recurrent GEMM at the first step
/// when initial_state is NULL, where h_prev = 0), the activations run through
/// the GEMM's epilogues and the cell update in plain loops.
///
/// Numerics: f32 arithmetic (sums in the GEMM's fixed order, FMA where the
/// CPU has it) for the f32 kernel, f64 for the f64 kernel, which is the
/// reference the f32 one is tested against; the activations are exactly the
/// GEMM epilogues' (kiln_epilogue_t: same accuracy and NaN behaviour).
/// Results are bitwise identical for any thread count.
///
/// Threads: the GEMMs run on up to kiln_get_num_threads() threads (the
/// per-step GEMMs only when large enough, see kiln_gemm_f32); the
/// elementwise cell updates run on the calling thread. Memory: no
/// allocation (beyond the GEMM's per-thread packing buffers).
///
/// Errors: none returned. An invalid descriptor, a NULL kernel or
/// recurrent_kernel, or a NULL x, y or workspace with N > 0 is a bug in the
/// caller: the kernel prints the offending field or pointer to stderr and calls
/// abort().
///
/// Thread-safety: safe to call concurrently from several threads as long as
/// their outputs and workspaces do not overlap.
KILN_API void kiln_rnn_fwd_f32(const kiln_rnn_desc_t *d, const float *x,
                               const float *mask, const float *kernel,
                               const float *recurrent_kernel, const float *bias,
                               const float *initial_state, float *y,
                               float *final_state, float *workspace);

/// Backward pass (backpropagation through time) of kiln_rnn_fwd_f32 with
/// the same descriptor and inputs (the same mask, or NULL), given the
/// workspace that forward call filled (read only, unchanged). Inputs: dy [N, T,
/// H], the gradient of every element of y (zeros where y is unused, e.g. all
/// but the last step with return_sequences=False), and dfinal_state [S, N,
/// H], the gradient of final_state (NULL means zero). `y` is not read (the
/// workspace holds every state the gradients need) and may be NULL.
///
/// Outputs, all overwritten (not accumulated) and write-only: dx [N, T, I],
/// dkernel [I, G*H], drecurrent_kernel [H, G*H], dbias (the shape of the
/// forward's bias; NULL when the layer has no bias), dinitial_state [S, N,
/// H] (the gradient of initial_state; NULL when not wanted; the workspace
/// says whether the forward started from initial_state or zeros, so the
/// backward pass takes no initial_state). They must not overlap
/// each other or the inputs. With N = 0, dkernel, drecurrent_kernel and
/// dbias are zeroed.
///
/// Computation: the reverse time loop turns dy (and dfinal_state) into the
/// gradients of every step's gate pre-activations, with one GEMM per step
/// for the gradient reaching h_prev (dgates [N, G*H] x recurrent_kernel^T;
/// GRU reset_after = 0: a second [N, H] x [H, H] one for r * h_prev); after
/// the loop dx = dgates_all * kernel^T, dkernel = x^T * dgates_all and
/// drecurrent_kernel = h_prev_all^T * dgates_all are single GEMMs over the
/// N*T rows (GRU: the h block of drecurrent_kernel is its own GEMM, against
/// the gradient of hz_h (reset_after = 1) or against r * h_prev
/// (reset_after = 0)); dbias sums the rows of dgates_all in row order. The
/// activation derivatives come from the activations' outputs (sigmoid' =
/// y (1 - y), tanh' = 1 - y^2, relu' = (y > 0), so relu'(0) = 0 as in
/// TensorFlow and PyTorch).
///
/// Numerics and threads: as kiln_rnn_fwd_f32; results are bitwise identical
/// for any thread count. Memory: each calling thread keeps a scratch buffer
/// for the gate gradients (N*T*G*H + 3*N*H elements, plus N*H for LSTM,
/// N*T*H + 3*N*H for GRU with reset_after = 1, N*T*H + N*H for GRU with
/// reset_after = 0), grown on demand and freed at thread exit; the
/// workspace stays read-only.
///
/// Errors: as kiln_rnn_fwd_f32 (plus: NULL dkernel or drecurrent_kernel,
/// NULL workspace, dy or dx with N > 0 abort). Thread-safety: safe to call
/// concurrently from several threads as long as their outputs do not overlap.
KILN_API void kiln_rnn_bwd_f32(const kiln_rnn_desc_t *d, const float *x,
                               const float *mask, const float *kernel,
                               const float *recurrent_kernel, const float *y,
                               const float *workspace, const float *dy,
                               const float *dfinal_state, float *dx,
                               float *dkernel, float *drecurrent_kernel,
                               float *dbias, float *dinitial_state);

/// kiln_rnn_fwd_f32 for f64 tensors (arithmetic in f64): same rules and
/// behaviour; the workspace holds kiln_rnn_workspace_size(d) doubles.
KILN_API void kiln_rnn_fwd_f64(const kiln_rnn_desc_t *d, const double *x,
                               const double *mask, const double *kernel,
                               const double *recurrent_kernel,
                               const double *bias, const double *initial_state,
                               double *y, double *final_state,
                               double *workspace);

/// kiln_rnn_bwd_f32 for f64 tensors (arithmetic in f64): same rules and
/// behaviour.
KILN_API void kiln_rnn_bwd_f64(const kiln_rnn_desc_t *d, const double *x,
                               const double *mask, const double *kernel,
                               const double *recurrent_kernel, const double *y,
                               const double *workspace, const double *dy,
                               const double *dfinal_state, double *dx,
                               double *dkernel, double *drecurrent_kernel,
                               double *dbias, double *dinitial_state);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KILN_RUNTIME_H */
