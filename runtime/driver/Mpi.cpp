//===- Mpi.cpp - MPI loaded at run time -----------------------------------===//
//
// See Mpi.h. The MPI functions are called through pointers found with
// dlsym; the handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE) are
// those of the library's own mpi.h: for Open MPI the addresses of
// ompi_mpi_comm_world, ompi_mpi_float, ... and (void *)1, for MPICH the
// integers 0x44000000, 0x4c00040a, ... and (void *)-1.
//
//===----------------------------------------------------------------------===//

#include "Mpi.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <dlfcn.h>
#include <memory>
#include <stdexcept>
#include <vector>

namespace kiln::driver {
namespace {

/// The functions of one MPI ABI; H is the handle type (a pointer for Open
/// MPI, int for MPICH).
template <typename H> struct Api {
  int (*init)(int *, char ***) = nullptr;
  int (*commSize)(H, int *) = nullptr;
  int (*commRank)(H, int *) = nullptr;
  int (*allreduce)(const void *, void *, int, H, H, H) = nullptr;
  int (*bcast)(void *, int, H, int, H) = nullptr;
  int (*finalize)() = nullptr;
  int (*abort)(H, int) = nullptr;
  H world{}, f32{}, f64{}, byte{}, sum{};
  void *inPlace = nullptr;

  template <typename F> bool load(void *lib, F *&fn, const char *name) {
    fn = reinterpret_cast<F *>(dlsym(lib, name));
    return fn != nullptr;
  }
  bool loadFunctions(void *lib) {
    return load(lib, init, "MPI_Init") &&
           load(lib, commSize, "MPI_Comm_size") &&
           load(lib, commRank, "MPI_Comm_rank") &&
           load(lib, allreduce, "MPI_Allreduce") &&
           load(lib, bcast, "MPI_Bcast") &&
           load(lib, finalize, "MPI_Finalize") && load(lib, abort, "MPI_Abort");
  }
};

Api<void *> ompi;
Api<int> mpich;
bool isOmpi = false;
std::unique_ptr<Parallel> instance;

[[noreturn]] void fail(const std::string &message) {
  throw std::runtime_error(message);
}

void check(int rc, const char *what) {
  if (rc != 0)
    fail(std::string(what) + " failed (MPI error " + std::to_string(rc) + ")");
}

} // namespace

int launchedSize(std::string *variable) {
  for (const char *name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    const char *value = std::getenv(name);
    if (!value || !*value)
      continue;
    char *end = nullptr;
    long n = std::strtol(value, &end, 10);
    if (variable)
      *variable = name;
    return end && !*end && n > 0 && n <= INT_MAX ? static_cast<int>(n) : 1;
  }
  return 1;
}

Parallel *Parallel::current() { return instance.get(); }

Parallel &Parallel::start() {
  if (instance)
    return *instance;
  std::unique_ptr<Parallel> p(new Parallel());
  std::string variable;
  int launched = launchedSize(&variable);
  if (launched <= 1) {
    instance = std::move(p);
    return *instance;
  }
  std::string tried;
  void *lib = nullptr;
  const char *own = std::getenv("KILN_MPI_LIBRARY");
  std::vector<const char *> names = {"libmpi.so.40", "libmpi.so.12",
                                     "libmpi.so"};
  if (own && *own)
    names = {own};
  for (const char *name : names) {
    // RTLD_GLOBAL: Open MPI's plugins resolve symbols of libmpi.
    lib = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
    if (lib)
      break;
    const char *why = dlerror();
    tried += std::string(tried.empty() ? "" : "; ") + (why ? why : name);
  }
  if (!lib)
    fail("this process is one of " + std::to_string(launched) + " (" +
         variable + "=" + std::to_string(launched) +
         ": started by mpirun or another MPI launcher), but no MPI library "
         "can be loaded, so it would train alone (" +
         tried +
         "). Install Open MPI (Debian: openmpi-bin, libopenmpi3) or MPICH, "
         "set KILN_MPI_LIBRARY to the library's path, or start the program "
         "without mpirun");
  if (void *world = dlsym(lib, "ompi_mpi_comm_world")) {
    isOmpi = true;
    p->library_ = "Open MPI";
    if (!ompi.loadFunctions(lib))
      fail("the Open MPI library lacks an MPI function: " +
           std::string(dlerror() ? dlerror() : "?"));
    ompi.world = world;
    ompi.f32 = dlsym(lib, "ompi_mpi_float");
    ompi.f64 = dlsym(lib, "ompi_mpi_double");
    ompi.byte = dlsym(lib, "ompi_mpi_byte");
    ompi.sum = dlsym(lib, "ompi_mpi_op_sum");
    ompi.inPlace = reinterpret_cast<void *>(1);
    if (!ompi.f32 || !ompi.f64 || !ompi.byte || !ompi.sum)
      fail("the Open MPI library lacks a predefined datatype or operation");
    check(ompi.init(nullptr, nullptr), "MPI_Init");
    check(ompi.commSize(ompi.world, &p->size_), "MPI_Comm_size");
    check(ompi.commRank(ompi.world, &p->rank_), "MPI_Comm_rank");
  } else {
    p->library_ = "MPICH";
    if (!mpich.loadFunctions(lib))
      fail("the MPI library lacks an MPI function: " +
           std::string(dlerror() ? dlerror() : "?"));
    mpich.world = 0x44000000;
    mpich.f32 = 0x4c00040a;
    mpich.f64 = 0x4c00080b;
    mpich.byte = 0x4c00010d;
    mpich.sum = 0x58000003;
    mpich.inPlace = reinterpret_cast<void *>(intptr_t(-1));
    check(mpich.init(nullptr, nullptr), "MPI_Init");
    check(mpich.commSize(mpich.world, &p->size_), "MPI_Comm_size");
    check(mpich.commRank(mpich.world, &p->rank_), "MPI_Comm_rank");
  }
  if (p->size_ != launched)
    fail("MPI_COMM_WORLD has " + std::to_string(p->size_) +
         " processes but the launcher started " + std::to_string(launched) +
         " (" + variable + "): the MPI library loaded (" + p->library_ +
         ") is not the launcher's");
  instance = std::move(p);
  return *instance;
}

namespace {
template <typename H, typename T>
void sumWith(Api<H> &api, T *data, size_t count, H type) {
  constexpr size_t chunk = size_t(1) << 30;
  for (size_t done = 0; done < count; done += chunk) {
    int n = static_cast<int>(std::min(chunk, count - done));
    check(api.allreduce(api.inPlace, data + done, n, type, api.sum, api.world),
          "MPI_Allreduce");
  }
}
} // namespace

void Parallel::sum(float *data, size_t count) {
  if (!active() || count == 0)
    return;
  auto t0 = std::chrono::steady_clock::now();
  if (isOmpi)
    sumWith(ompi, data, count, ompi.f32);
  else
    sumWith(mpich, data, count, mpich.f32);
  sumSeconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  sumBytes += 4.0 * count;
  ++sumCalls;
}

void Parallel::sum(double *data, size_t count) {
  if (!active() || count == 0)
    return;
  auto t0 = std::chrono::steady_clock::now();
  if (isOmpi)
    sumWith(ompi, data, count, ompi.f64);
  else
    sumWith(mpich, data, count, mpich.f64);
  sumSeconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  sumBytes += 8.0 * count;
  ++sumCalls;
}

void Parallel::broadcast(void *data, size_t bytes) {
  if (!active())
    return;
  constexpr size_t chunk = size_t(1) << 30;
  char *p = static_cast<char *>(data);
  for (size_t done = 0; done < bytes; done += chunk) {
    int n = static_cast<int>(std::min(chunk, bytes - done));
    check(isOmpi ? ompi.bcast(p + done, n, ompi.byte, 0, ompi.world)
                 : mpich.bcast(p + done, n, mpich.byte, 0, mpich.world),
          "MPI_Bcast");
  }
}

int Parallel::finish(int status) {
  if (!active() || finished_)
    return status;
  finished_ = true;
  if (status != 0) {
    if (isOmpi)
      ompi.abort(ompi.world, status);
    else
      mpich.abort(mpich.world, status);
    return status;
  }
  if (isOmpi)
    check(ompi.finalize(), "MPI_Finalize");
  else
    check(mpich.finalize(), "MPI_Finalize");
  return status;
}

} // namespace kiln::driver
