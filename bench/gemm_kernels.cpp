//===- gemm_kernels.cpp - f32 GEMM throughput on the model shapes -*- C++
//-*-===//
//
// GFLOP/s of kiln_gemm_f32 with each of kiln's f32 tile kernels (its own
// AVX-512 and AVX2 kernels, and Eigen 3.4, which it used before; see
// runtime/lib/SgemmKernels.h), of kiln_gemm_bf16_f32 (bf16 operands, f32
// sums) where the CPU has AVX512_BF16, and, when the build found oneDNN, of
// dnnl_sgemm, on the GEMMs of one MNIST-MLP (784-512-512-10, batch 128)
// training step, batch-1 predict and a square problem; 1 and 2 threads.
// The GEMMs of a training step are listed with their transposes as kiln's
// generated code calls them: forward x W (NN), backward data dy W^T (NT),
// backward weights x^T dy (TN).
//
// Usage: kiln-bench-gemm [min_seconds_per_measurement [max_threads]]
//        (defaults 0.3 and 2; KILN_BENCH_CLOCK=thread: CPU time, 1 thread)
// Results: bench/results/gemm_kernels.md.
//
//===----------------------------------------------------------------------===//

#include "BenchUtil.h"
#include "SgemmKernels.h"
#include "kiln/runtime.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#if KILN_BENCH_DNNL
#include <oneapi/dnnl/dnnl.h>
extern "C" void omp_set_num_threads(int);
#endif

using namespace kiln_bench;
namespace rt = kiln::runtime;

namespace {

struct Shape {
  const char *name;
  int64_t M, N, K;
  bool transA, transB;
};

/// The largest |kiln - reference| / max(1, |reference|) over C.
double maxRelativeError(const std::vector<float> &c,
                        const std::vector<double> &reference) {
  double worst = 0;
  for (size_t i = 0; i < c.size(); ++i)
    worst = std::max(worst, std::fabs(c[i] - reference[i]) /
                                std::max(1.0, std::fabs(reference[i])));
  return worst;
}

} // namespace

int main(int argc, char **argv) {
  if (argc > 1)
    minSeconds = std::atof(argv[1]);
  const int maxThreads = argc > 2 ? std::atoi(argv[2]) : 2;
  const Shape shapes[] = {
      {"mlp fwd 1: x W1", 128, 512, 784, false, false},
      {"mlp fwd 2: h1 W2", 128, 512, 512, false, false},
      {"mlp fwd 3: h2 W3", 128, 10, 512, false, false},
      {"mlp bwd data 3: dy W3^T", 128, 512, 10, false, true},
      {"mlp bwd data 2: dh2 W2^T", 128, 512, 512, false, true},
      {"mlp bwd weights 1: x^T dh1", 784, 512, 128, true, false},
      {"mlp bwd weights 2: h1^T dh2", 512, 512, 128, true, false},
      {"mlp bwd weights 3: h2^T dy", 512, 10, 128, true, false},
      {"mlp predict batch 1: x W1", 1, 512, 784, false, false},
      {"square 1024", 1024, 1024, 1024, false, false},
  };
  const auto measured = measurePeak();
  const double peak = measured.first;
  std::printf("Measured FP32 peak: %.1f GFLOP/s per core (%s, register-blocked "
              "FMAs on L1 data); %% of peak = GFLOP/s / (threads x peak). "
              "Default: kiln %s for products of 1-4 rows, Eigen above.\n\n",
              peak, measured.second,
              rt::sgemmKernelName(rt::selectedSgemmKernel()));
  std::printf("| shape | M x N x K | op | impl | threads | us/call | GFLOP/s "
              "| %% of peak | max rel. error |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");

  const rt::SgemmKernel kernels[] = {
      rt::SgemmKernel::Avx512, rt::SgemmKernel::Avx2, rt::SgemmKernel::Eigen};
  double mlpStepSeconds[2][5] = {}; // [threads - 1][impl]: the 8 step GEMMs
  for (const Shape &s : shapes) {
    std::vector<float> a = randomVector(size_t(s.M * s.K), 1),
                       b = randomVector(size_t(s.K * s.N), 2),
                       c(size_t(s.M * s.N));
    const int64_t lda = s.transA ? s.M : s.K, ldb = s.transB ? s.K : s.N;
    // Reference in double (naive), for the error column.
    std::vector<double> reference(size_t(s.M * s.N), 0.0);
    for (int64_t i = 0; i < s.M; ++i)
      for (int64_t k = 0; k < s.K; ++k) {
        double aik = s.transA ? a[k * lda + i] : a[i * lda + k];
        for (int64_t j = 0; j < s.N; ++j)
          reference[i * s.N + j] +=
              aik * (s.transB ? b[j * ldb + k] : b[k * ldb + j]);
      }
    const double flop = 2.0 * s.M * s.N * s.K;
    const bool inStep = s.name[0] == 'm' && s.M != 1;
    const char *op = s.transA ? "TN" : s.transB ? "NT" : "NN";
    for (int threads = 1; threads <= maxThreads; ++threads) {
      kiln_set_num_threads(threads);
      int implIndex = 0;
      auto row = [&](const char *impl, double seconds, double error) {
        double gflops = flop / seconds * 1e-9;
        std::printf("| %s | %lldx%lldx%lld | %s | %s | %d | %.1f | %.1f | %.0f "
                    "| %.1e |\n",
                    s.name, (long long)s.M, (long long)s.N, (long long)s.K, op,
                    impl, threads, seconds * 1e6, gflops,
                    peak > 0 ? 100 * gflops / (threads * peak) : 0.0, error);
        std::fflush(stdout);
        if (inStep)
          mlpStepSeconds[threads - 1][implIndex] += seconds;
        ++implIndex;
      };
      for (rt::SgemmKernel kernel : kernels) {
        if (!rt::setSgemmKernelForTesting(kernel)) {
          ++implIndex;
          continue;
        }
        auto run = [&] {
          kiln_gemm_f32(s.M, s.N, s.K, s.transA, s.transB, 1.0f, a.data(), lda,
                        b.data(), ldb, 0.0f, c.data(), s.N, nullptr,
                        KILN_EPILOGUE_NONE);
        };
        double seconds = timeIt(run);
        row((std::string("kiln ") + rt::sgemmKernelName(kernel)).c_str(),
            seconds, maxRelativeError(c, reference));
      }
      rt::setSgemmKernelForTesting(rt::SgemmKernel::Avx512) ||
          rt::setSgemmKernelForTesting(rt::SgemmKernel::Avx2);
      if (kiln_cpu_has_bf16()) {
        // Error against the f32 reference: bf16 operands (8 significant
        // bits) give about 1e-2 here; the unit tests check the rounding.
        auto runBf16 = [&] {
          kiln_gemm_bf16_f32(s.M, s.N, s.K, s.transA, s.transB, 1.0f, a.data(),
                             lda, b.data(), ldb, 0.0f, c.data(), s.N, nullptr,
                             KILN_EPILOGUE_NONE);
        };
        double seconds = timeIt(runBf16);
        row("kiln bf16 (AVX512_BF16)", seconds, maxRelativeError(c, reference));
      } else {
        ++implIndex;
      }
#if KILN_BENCH_DNNL
      omp_set_num_threads(threads);
      auto runDnnl = [&] {
        dnnl_sgemm(s.transA ? 'T' : 'N', s.transB ? 'T' : 'N', s.M, s.N, s.K,
                   1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), s.N);
      };
      double seconds = timeIt(runDnnl);
      row("oneDNN dnnl_sgemm", seconds, maxRelativeError(c, reference));
#endif
    }
  }
  rt::setSgemmKernelForTesting(rt::SgemmKernel::Avx512) ||
      rt::setSgemmKernelForTesting(rt::SgemmKernel::Avx2);

  const char *implNames[] = {"kiln avx512", "kiln avx2", "kiln eigen",
                             "kiln bf16 (AVX512_BF16)", "oneDNN dnnl_sgemm"};
  std::printf("\nThe 8 GEMMs of one MNIST-MLP training step (411 MFLOP), "
              "summed:\n\n| impl | threads | ms/step | GFLOP/s | %% of peak "
              "|\n|---|---|---|---|---|\n");
  double stepFlop = 0;
  for (const Shape &s : shapes)
    if (s.name[0] == 'm' && s.M != 1)
      stepFlop += 2.0 * s.M * s.N * s.K;
  for (int impl = 0; impl < 5; ++impl)
    for (int threads = 1; threads <= 2; ++threads) {
      double seconds = mlpStepSeconds[threads - 1][impl];
      if (seconds == 0)
        continue;
      double gflops = stepFlop / seconds * 1e-9;
      std::printf("| %s | %d | %.3f | %.1f | %.0f |\n", implNames[impl],
                  threads, seconds * 1e3, gflops,
                  peak > 0 ? 100 * gflops / (threads * peak) : 0.0);
    }
  return 0;
}
