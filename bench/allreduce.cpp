//===- allreduce.cpp - the gradient allreduce of data-parallel training ---===//
//
// kiln-bench-allreduce times what a data-parallel train step communicates:
// one in-place sum (kiln::driver::Parallel::sum, MPI_Allreduce with
// MPI_IN_PLACE and MPI_SUM over MPI_COMM_WORLD) of N float32 values, for
// the gradient sizes given on the command line. Run it under mpirun:
//
//   mpirun -np 2 build/bench/kiln-bench-allreduce 34826 235146 25557032
//
// For each size, after 3 warm-up sums, it times `reps` sums (default: as
// many as fit in about 1 s, at least 5), each preceded by a 1-element sum
// so that the processes enter it together, and prints on rank 0 the
// median and minimum per sum and the bus bandwidth of a ring allreduce,
// 2 (p - 1) / p * bytes / time (NCCL's "busbw"). Results:
// docs/scaling.md.
//
//===----------------------------------------------------------------------===//

#include "Mpi.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <vector>

using kiln::driver::Parallel;

int main(int argc, char **argv) {
  try {
    Parallel &p = Parallel::start();
    if (!p.active()) {
      std::fprintf(stderr, "kiln-bench-allreduce: run it under mpirun with "
                           "2 or more processes\n");
      return 2;
    }
    if (p.rank() == 0)
      std::printf("%d processes (%s)\n%12s %10s %12s %12s %10s\n", p.size(),
                  p.library().c_str(), "floats", "MB", "median_us", "min_us",
                  "busbw_GB/s");
    for (int i = 1; i < argc; ++i) {
      size_t n = std::strtoull(argv[i], nullptr, 10);
      std::vector<float> data(n, 1.0f);
      float sync = 0;
      for (int w = 0; w < 3; ++w)
        p.sum(data.data(), n);
      // Repetitions: about 1 s worth, decided on rank 0's estimate and
      // shared, so that every process runs as many.
      auto t0 = std::chrono::steady_clock::now();
      p.sum(data.data(), n);
      double once =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
              .count();
      double reps = std::clamp(1.0 / std::max(once, 1e-6), 5.0, 2000.0);
      p.broadcast(&reps, sizeof reps);
      std::vector<double> times;
      for (int r = 0; r < static_cast<int>(reps); ++r) {
        p.sum(&sync, 1);
        auto start = std::chrono::steady_clock::now();
        p.sum(data.data(), n);
        times.push_back(std::chrono::duration<double>(
                            std::chrono::steady_clock::now() - start)
                            .count());
      }
      std::sort(times.begin(), times.end());
      double median = times[times.size() / 2], best = times.front();
      double bytes = 4.0 * n;
      double bus = 2.0 * (p.size() - 1) / p.size() * bytes / median;
      if (p.rank() == 0)
        std::printf("%12zu %10.3f %12.1f %12.1f %10.2f\n", n, bytes / 1e6,
                    median * 1e6, best * 1e6, bus / 1e9);
    }
    return p.finish(0);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "kiln-bench-allreduce: error: %s\n", e.what());
    if (Parallel *p = Parallel::current())
      p->finish(1);
    return 1;
  }
}
