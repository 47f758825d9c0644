//===- BenchUtil.h - timing, data and peak of the native benches -*- C++
//-*-===//
//
// Shared by kiln-bench-conv and kiln-bench-gemm: best-of-3 timing, random
// operands and the machine's measured per-core FP32 FMA peak.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_BENCH_BENCHUTIL_H
#define KILN_BENCH_BENCHUTIL_H

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <immintrin.h>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace kiln_bench {

/// Seconds on the clock the benchmarks time with: wall time, or with
/// KILN_BENCH_CLOCK=thread the calling thread's CPU time (for 1-thread
/// figures on a machine that other work shares; time a thread waits for a
/// core is then left out, cache interference is not).
inline double now() {
  static const bool threadClock = [] {
    const char *clock = std::getenv("KILN_BENCH_CLOCK");
    return clock && std::string(clock) == "thread";
  }();
  if (threadClock) {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
  }
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Seconds per measurement (the benchmarks' first argument).
inline double minSeconds = 0.3;

/// Best of 3 rounds of at least minSeconds / 3 each: seconds per call.
inline double timeIt(const std::function<void()> &fn) {
  fn(); // warm-up (workspaces, primitive caches, thread start)
  double best = 1e30;
  for (int round = 0; round < 3; ++round) {
    int reps = 0;
    const double start = now();
    double elapsed = 0;
    do {
      fn();
      ++reps;
      elapsed = now() - start;
    } while (elapsed < minSeconds / 3);
    best = std::min(best, elapsed / reps);
  }
  return best;
}

inline std::vector<float> randomVector(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float &e : v)
    e = dist(rng);
  return v;
}

/// GFLOP/s of one core's FMA units, measured rather than taken from a data
/// sheet: a 6 x 16 block of C kept in 12 ymm registers updated with
/// broadcast-A x B FMAs over L1-resident operands (the shape of BLIS's
/// Haswell GEMM micro-kernel; independent accumulators, so throughput, not
/// latency, bounds it), 2000 blocks of depth 256, best of 5 runs. AVX-512
/// machines get the 6 x 32 zmm variant.
inline constexpr int kPeakDepth = 256, kPeakBlocks = 2000;

__attribute__((target("avx2,fma"))) inline double peakAvx2() {
  std::vector<float> a(6 * kPeakDepth, 0.001f), b(16 * kPeakDepth, 0.002f);
  alignas(32) float out[6][16] = {};
  double best = 1e30;
  for (int run = 0; run < 5; ++run) {
    const double start = now();
    for (int block = 0; block < kPeakBlocks; ++block) {
      // Every block computes the same sums from the same operands, so
      // without this barrier the compiler may compute them once and hoist
      // the whole depth loop out of the block loop (it did: a "peak" of
      // 2-4x the FMA units' rate). The empty asm makes the operand pointers
      // unknown per block.
      const float *pa = a.data(), *pb = b.data();
      asm volatile("" : "+r"(pa), "+r"(pb));
      __m256 c[6][2];
      for (auto &row : c)
        row[0] = row[1] = _mm256_setzero_ps();
      for (int k = 0; k < kPeakDepth; ++k) {
        __m256 b0 = _mm256_loadu_ps(pb + 16 * k),
               b1 = _mm256_loadu_ps(pb + 16 * k + 8);
        for (int r = 0; r < 6; ++r) {
          __m256 ar = _mm256_broadcast_ss(pa + 6 * k + r);
          c[r][0] = _mm256_fmadd_ps(ar, b0, c[r][0]);
          c[r][1] = _mm256_fmadd_ps(ar, b1, c[r][1]);
        }
      }
      for (int r = 0; r < 6; ++r) {
        _mm256_store_ps(out[r], _mm256_add_ps(_mm256_load_ps(out[r]), c[r][0]));
        _mm256_store_ps(out[r] + 8,
                        _mm256_add_ps(_mm256_load_ps(out[r] + 8), c[r][1]));
      }
    }
    best = std::min(best, now() - start);
  }
  // Every sum is used, so no accumulator's work can be dropped (checking
  // only out[0][0] let the compiler drop 11 of the 12 FMA chains).
  float total = 0;
  for (auto &row : out)
    for (float x : row)
      total += x;
  if (total < 0)
    std::printf("unexpected\n");
  return double(kPeakBlocks) * 2 * 6 * 16 * kPeakDepth / best * 1e-9;
}

__attribute__((target("avx512f"))) inline double peakAvx512() {
  std::vector<float> a(6 * kPeakDepth, 0.001f), b(32 * kPeakDepth, 0.002f);
  alignas(64) float out[6][32] = {};
  double best = 1e30;
  for (int run = 0; run < 5; ++run) {
    const double start = now();
    for (int block = 0; block < kPeakBlocks; ++block) {
      const float *pa = a.data(), *pb = b.data(); // see peakAvx2
      asm volatile("" : "+r"(pa), "+r"(pb));
      __m512 c[6][2];
      for (auto &row : c)
        row[0] = row[1] = _mm512_setzero_ps();
      for (int k = 0; k < kPeakDepth; ++k) {
        __m512 b0 = _mm512_loadu_ps(pb + 32 * k),
               b1 = _mm512_loadu_ps(pb + 32 * k + 16);
        for (int r = 0; r < 6; ++r) {
          __m512 ar = _mm512_set1_ps(pa[6 * k + r]);
          c[r][0] = _mm512_fmadd_ps(ar, b0, c[r][0]);
          c[r][1] = _mm512_fmadd_ps(ar, b1, c[r][1]);
        }
      }
      for (int r = 0; r < 6; ++r) {
        _mm512_store_ps(out[r], _mm512_add_ps(_mm512_load_ps(out[r]), c[r][0]));
        _mm512_store_ps(out[r] + 16,
                        _mm512_add_ps(_mm512_load_ps(out[r] + 16), c[r][1]));
      }
    }
    best = std::min(best, now() - start);
  }
  float total = 0; // see peakAvx2
  for (auto &row : out)
    for (float x : row)
      total += x;
  if (total < 0)
    std::printf("unexpected\n");
  return double(kPeakBlocks) * 2 * 6 * 32 * kPeakDepth / best * 1e-9;
}

/// The measured per-core FP32 FMA peak (0 when the CPU has no AVX2/FMA) and
/// the instruction set it used.
inline std::pair<double, const char *> measurePeak() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f"))
    return {peakAvx512(), "AVX-512 FMA"};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return {peakAvx2(), "AVX2 FMA"};
  return {0.0, "none"};
}

} // namespace kiln_bench

#endif // KILN_BENCH_BENCHUTIL_H
