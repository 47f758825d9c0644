/*===- kiln/init.h - parameter initializers ------------------------*- C
-*-===*\
|*                                                                            *|
|* The Keras initializers, drawn from a seeded, platform-independent         *|
|* generator: what the Keras importer records as `kiln.initializer` and what *|
|* a driver or the C++ builder fills the params region with at init time.    *|
|*                                                                            *|
|* Distributions and defaults follow Keras 3 (keras/src/initializers):       *|
|*   zeros, ones, constant(value);                                            *|
|*   random_uniform(minval = -0.05, maxval = 0.05);                           *|
|*   random_normal(mean = 0, stddev = 0.05);                                  *|
|*   truncated_normal(mean = 0, stddev = 0.05): redrawn beyond 2 stddev;      *|
|*   variance scaling with n = fan_in (he, lecun) or (fan_in + fan_out) / 2   *|
|*   (glorot) and scale s = 2 (he) or 1 (glorot, lecun):                      *|
|*     *_uniform: uniform in [-sqrt(3 s / n), sqrt(3 s / n)];                 *|
|*     *_normal: truncated normal with stddev sqrt(s / n) / 0.87962566103423978
*|
|*   (the stddev of a unit normal truncated at 2 is 0.8796...).               *|
|* Fans as Keras' compute_fans: rank 1: fan_in = fan_out = shape[0]; rank 2:  *|
|* [fan_in, fan_out]; rank > 2: the receptive field (product of all but the  *|
|* last two dims) times shape[-2] and shape[-1]; rank 0: 1 and 1.             *|
|*                                                                            *|
|* The generator is a splitmix64 stream from the seed (uniform doubles from  *|
|* 53 bits, normals by Box-Muller), so the same seed gives the same values   *|
|* on every platform. The values are not Keras' own (Keras draws from its    *|
|* backend's generator); their distributions are.                             *|
\*===----------------------------------------------------------------------===*/

#ifndef KILN_INIT_H
#define KILN_INIT_H

#include "kiln/runtime.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The Keras initializers. Values are part of the API and never change.
typedef enum kiln_initializer_kind_t {
  KILN_INIT_ZEROS = 0,
  KILN_INIT_ONES = 1,
  KILN_INIT_CONSTANT = 2,
  KILN_INIT_RANDOM_UNIFORM = 3,
  KILN_INIT_RANDOM_NORMAL = 4,
  KILN_INIT_TRUNCATED_NORMAL = 5,
  KILN_INIT_GLOROT_UNIFORM = 6,
  KILN_INIT_GLOROT_NORMAL = 7,
  KILN_INIT_HE_UNIFORM = 8,
  KILN_INIT_HE_NORMAL = 9,
  KILN_INIT_LECUN_UNIFORM = 10,
  KILN_INIT_LECUN_NORMAL = 11,
  /// Keras Orthogonal (Saxe et al. 2014): the shape viewed as [rows =
  /// product of all but the last axis, cols = last axis]; a standard
  /// normal [max, min] matrix's thin QR factor Q, with each column's sign
  /// made that of R's diagonal, transposed when rows < cols, times `gain`.
  /// Orthonormal rows or columns, whichever fit.
  KILN_INIT_ORTHOGONAL = 12,
} kiln_initializer_kind_t;

/// An initializer and its parameters (unused fields are ignored).
/// Thread-safety: plain data.
typedef struct kiln_initializer_t {
  kiln_initializer_kind_t kind;
  /// constant: the value.
  double value;
  /// random_uniform: the range [minval, maxval).
  double minval, maxval;
  /// random_normal, truncated_normal: the distribution before truncation.
  double mean, stddev;
  /// orthogonal: the scale of the orthogonal matrix (Keras default 1).
  double gain;
} kiln_initializer_t;

/// Fills `*out` with the initializer called `name` (Keras' snake_case name,
/// e.g. "glorot_uniform"; also the Keras class names "GlorotUniform", ...)
/// and Keras' default parameters.
/// Errors: KILN_ERROR_INVALID_ARGUMENT for NULL pointers or an unknown name.
/// Thread-safety: safe to call from any thread.
KILN_API kiln_status_t kiln_initializer_from_name(const char *name,
                                                  kiln_initializer_t *out);

/// Writes `count` = product(shape[0 .. rank-1]) f32 values of `init` to
/// `out`, drawn from the generator seeded with `seed` (deterministic: the
/// same arguments give the same values on every platform).
/// Errors: KILN_ERROR_INVALID_ARGUMENT for NULL pointers, a negative rank or
/// dimension, an unknown kind, or parameters out of range (stddev < 0,
/// maxval < minval).
/// Ownership: `out` belongs to the caller and holds `count` floats.
/// Thread-safety: safe to call from any thread; calls share no state.
KILN_API kiln_status_t kiln_initialize_f32(const kiln_initializer_t *init,
                                           uint64_t seed, int32_t rank,
                                           const int64_t *shape, float *out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KILN_INIT_H */
