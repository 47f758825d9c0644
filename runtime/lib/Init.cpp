//===- Init.cpp - Keras initializers on a portable generator --------------===//
//
// Implements kiln/init.h.
//
//===----------------------------------------------------------------------===//

#include "kiln/init.h"

#include <Eigen/QR>

#include <cmath>
#include <cstring>

namespace {
/// splitmix64 (Steele, Lea, Flood 2014): a portable 64-bit stream.
struct Stream {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1) from 53 bits.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
  /// A unit normal (Box-Muller; the second value is dropped for simplicity).
  double normal() {
    double u1 = uniform(), u2 = uniform();
    double r = std::sqrt(-2.0 * std::log(1.0 - u1));
    return r * std::cos(6.283185307179586 * u2);
  }
  /// A unit normal truncated to [-2, 2] by redrawing.
  double truncatedNormal() {
    for (;;) {
      double z = normal();
      if (std::fabs(z) <= 2.0)
        return z;
    }
  }
};

/// The stddev of a unit normal truncated at +-2 (Keras' correction).
constexpr double kTruncatedStddev = 0.87962566103423978;

struct Fans {
  double in, out;
};

Fans computeFans(int32_t rank, const int64_t *shape) {
  if (rank == 0)
    return {1, 1};
  if (rank == 1)
    return {double(shape[0]), double(shape[0])};
  double receptive = 1;
  for (int32_t i = 0; i + 2 < rank; ++i)
    receptive *= double(shape[i]);
  return {double(shape[rank - 2]) * receptive,
          double(shape[rank - 1]) * receptive};
}

struct Named {
  const char *snake, *camel;
  kiln_initializer_kind_t kind;
};
const Named kNames[] = {
    {"zeros", "Zeros", KILN_INIT_ZEROS},
    {"ones", "Ones", KILN_INIT_ONES},
    {"constant", "Constant", KILN_INIT_CONSTANT},
    {"random_uniform", "RandomUniform", KILN_INIT_RANDOM_UNIFORM},
    {"random_normal", "RandomNormal", KILN_INIT_RANDOM_NORMAL},
    {"truncated_normal", "TruncatedNormal", KILN_INIT_TRUNCATED_NORMAL},
    {"glorot_uniform", "GlorotUniform", KILN_INIT_GLOROT_UNIFORM},
    {"glorot_normal", "GlorotNormal", KILN_INIT_GLOROT_NORMAL},
    {"he_uniform", "HeUniform", KILN_INIT_HE_UNIFORM},
    {"he_normal", "HeNormal", KILN_INIT_HE_NORMAL},
    {"lecun_uniform", "LecunUniform", KILN_INIT_LECUN_UNIFORM},
    {"lecun_normal", "LecunNormal", KILN_INIT_LECUN_NORMAL},
    {"orthogonal", "Orthogonal", KILN_INIT_ORTHOGONAL},
};
} // namespace

extern "C" kiln_status_t kiln_initializer_from_name(const char *name,
                                                    kiln_initializer_t *out) {
  if (!name || !out)
    return KILN_ERROR_INVALID_ARGUMENT;
  for (const Named &n : kNames)
    if (std::strcmp(name, n.snake) == 0 || std::strcmp(name, n.camel) == 0) {
      *out = kiln_initializer_t{};
      out->kind = n.kind;
      out->value = 0.0;
      out->minval = -0.05;
      out->maxval = 0.05;
      out->mean = 0.0;
      out->stddev = 0.05;
      out->gain = 1.0;
      return KILN_OK;
    }
  return KILN_ERROR_INVALID_ARGUMENT;
}

extern "C" kiln_status_t kiln_initialize_f32(const kiln_initializer_t *init,
                                             uint64_t seed, int32_t rank,
                                             const int64_t *shape, float *out) {
  if (!init || !out || rank < 0 || (rank > 0 && !shape))
    return KILN_ERROR_INVALID_ARGUMENT;
  int64_t count = 1;
  for (int32_t i = 0; i < rank; ++i) {
    if (shape[i] < 0)
      return KILN_ERROR_INVALID_ARGUMENT;
    count *= shape[i];
  }
  if (init->stddev < 0 || init->maxval < init->minval)
    return KILN_ERROR_INVALID_ARGUMENT;
  Stream stream{seed};
  Fans fans = computeFans(rank, shape);
  // Variance scaling: scale s over n fans.
  auto scaling = [&](double scale, double n, bool uniform) {
    for (int64_t i = 0; i < count; ++i) {
      if (uniform) {
        double limit = std::sqrt(3.0 * scale / n);
        out[i] = float(limit * (2.0 * stream.uniform() - 1.0));
      } else {
        double stddev = std::sqrt(scale / n) / kTruncatedStddev;
        out[i] = float(stddev * stream.truncatedNormal());
      }
    }
  };
  double avg = (fans.in + fans.out) / 2.0;
  switch (init->kind) {
  case KILN_INIT_ZEROS:
  case KILN_INIT_ONES:
  case KILN_INIT_CONSTANT: {
    float v = init->kind == KILN_INIT_ZEROS  ? 0.0f
              : init->kind == KILN_INIT_ONES ? 1.0f
                                             : float(init->value);
    for (int64_t i = 0; i < count; ++i)
      out[i] = v;
    return KILN_OK;
  }
  case KILN_INIT_RANDOM_UNIFORM:
    for (int64_t i = 0; i < count; ++i)
      out[i] = float(init->minval +
                     (init->maxval - init->minval) * stream.uniform());
    return KILN_OK;
  case KILN_INIT_RANDOM_NORMAL:
    for (int64_t i = 0; i < count; ++i)
      out[i] = float(init->mean + init->stddev * stream.normal());
    return KILN_OK;
  case KILN_INIT_TRUNCATED_NORMAL:
    for (int64_t i = 0; i < count; ++i)
      out[i] = float(init->mean + init->stddev * stream.truncatedNormal());
    return KILN_OK;
  case KILN_INIT_GLOROT_UNIFORM:
    scaling(1.0, avg, true);
    return KILN_OK;
  case KILN_INIT_GLOROT_NORMAL:
    scaling(1.0, avg, false);
    return KILN_OK;
  case KILN_INIT_HE_UNIFORM:
    scaling(2.0, fans.in, true);
    return KILN_OK;
  case KILN_INIT_HE_NORMAL:
    scaling(2.0, fans.in, false);
    return KILN_OK;
  case KILN_INIT_LECUN_UNIFORM:
    scaling(1.0, fans.in, true);
    return KILN_OK;
  case KILN_INIT_LECUN_NORMAL:
    scaling(1.0, fans.in, false);
    return KILN_OK;
  case KILN_INIT_ORTHOGONAL: {
    if (count == 0)
      return KILN_OK;
    if (!std::isfinite(init->gain))
      return KILN_ERROR_INVALID_ARGUMENT;
    int64_t cols = rank == 0 ? 1 : shape[rank - 1];
    int64_t rows = count / cols;
    int64_t tall = rows > cols ? rows : cols, thin = rows > cols ? cols : rows;
    Eigen::MatrixXd a(tall, thin);
    for (int64_t i = 0; i < tall; ++i)
      for (int64_t j = 0; j < thin; ++j)
        a(i, j) = stream.normal();
    Eigen::HouseholderQR<Eigen::MatrixXd> qr(a);
    Eigen::MatrixXd q =
        qr.householderQ() * Eigen::MatrixXd::Identity(tall, thin);
    for (int64_t j = 0; j < thin; ++j)
      if (qr.matrixQR()(j, j) < 0)
        q.col(j) = -q.col(j);
    // q is [tall, thin]: the [rows, cols] result is q, or q^T when rows <
    // cols.
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        out[i * cols + j] =
            float(init->gain * (rows >= cols ? q(i, j) : q(j, i)));
    return KILN_OK;
  }
  }
  return KILN_ERROR_INVALID_ARGUMENT;
}
