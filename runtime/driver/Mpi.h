//===- Mpi.h - the processes of a data-parallel run -------------*- C++ -*-===//
//
// kiln::driver::Parallel is the driver's view of MPI: rank, size, in-place
// sums and a broadcast over MPI_COMM_WORLD. The driver does not link MPI:
// when the launcher says that this process is one of several
// (OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_SIZE above 1), Parallel::start
// loads the MPI library with dlopen (Open MPI's libmpi.so.40, then MPICH's
// libmpi.so.12; KILN_MPI_LIBRARY names the one to load instead) and calls
// MPI_Init. So a
// generated program builds and runs without MPI installed, and one started
// under mpirun without a loadable MPI library says so instead of training N
// independent copies. Both ABIs are handled: Open MPI's handles are the
// addresses of its predefined objects, MPICH's are the integer constants
// of its mpi.h (stable since MPICH 3.1's ABI initiative).
//
//===----------------------------------------------------------------------===//

#ifndef KILN_DRIVER_MPI_H
#define KILN_DRIVER_MPI_H

#include <cstddef>
#include <string>

namespace kiln::driver {

/// The number of processes the launcher started this one with: the first
/// of OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_SIZE that is set (1 when none
/// is, or when the value is not a positive integer). `variable` (may be
/// null) receives the variable's name.
int launchedSize(std::string *variable = nullptr);

class Parallel {
public:
  /// Loads MPI and calls MPI_Init when launchedSize() > 1; else returns a
  /// one-process Parallel that never calls MPI. Throws std::runtime_error
  /// naming the launcher variable and the libraries tried when this
  /// process is one of several and no MPI library can be loaded, or when
  /// MPI_COMM_WORLD's size disagrees with the launcher's.
  static Parallel &start();
  /// The Parallel of start(), or null before it.
  static Parallel *current();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool active() const { return size_ > 1; }
  /// "Open MPI" or "MPICH" (active runs).
  const std::string &library() const { return library_; }

  /// In-place sums over all processes (MPI_Allreduce, MPI_IN_PLACE,
  /// MPI_SUM) of `count` floats or doubles; counts above 2^30 are split.
  /// Every process must call them in the same order. No-ops when inactive.
  void sum(float *data, size_t count);
  void sum(double *data, size_t count);
  /// Copies `bytes` from process 0 to all (MPI_Bcast of MPI_BYTE).
  void broadcast(void *data, size_t bytes);
  /// Ends MPI: MPI_Finalize when `status` is 0, else MPI_Abort(status),
  /// which stops the other processes (they may wait in a collective the
  /// failed process never reaches). Returns `status`.
  int finish(int status);

  /// Seconds spent in sum() and bytes summed since start (for the
  /// summary line and bench/).
  double sumSeconds = 0;
  double sumBytes = 0;
  long long sumCalls = 0;

private:
  Parallel() = default;
  int rank_ = 0, size_ = 1;
  std::string library_;
  bool finished_ = false;
};

} // namespace kiln::driver

#endif // KILN_DRIVER_MPI_H
