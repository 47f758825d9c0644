//===- ThreadPool.cpp - worker threads and the thread-count API -*- C++ -*-===//
//
// A fixed set of worker threads that, together with the calling thread,
// drain the items of one parallelFor at a time from a shared atomic counter;
// plus kiln_set_num_threads / kiln_get_num_threads.
//
// Plain std::thread rather than OpenMP: programs that link the runtime need
// only -pthread (no libgomp/libomp matching the compiler that builds them),
// and the kernels split work into items themselves, so results do not depend
// on the number of threads. Between loops a worker first spins for up to
// kSpinMicroseconds, watching for the next loop, and then sleeps on a
// condition variable, so an idle runtime costs no CPU, while the loops of a
// model step, which follow each other within microseconds, start without a
// wake-up (a futex wake-up costs tens of microseconds on a virtual machine:
// more than a whole batch-1 convolution layer). The caller likewise spins
// briefly before sleeping while the last items finish. The caller never
// waits for a worker that has not joined by the time the items run out (on
// a busy machine that can take milliseconds): such a worker skips the loop.
//
// The pool is created on first use and resized lazily when the thread count
// changes. It is never destroyed at exit: joining threads from static
// destructors races with other exiting code, and the OS reclaims the threads.
//
//===----------------------------------------------------------------------===//

#include "ThreadPool.h"

#include "kiln/runtime.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

using namespace kiln::runtime;

namespace {

/// True on a thread while it runs loop items, to keep nested parallelFor
/// calls on that thread.
thread_local bool insideLoop = false;

/// How long a worker watches for the next loop, and the caller for the
/// workers to finish, before sleeping.
constexpr std::chrono::microseconds kSpinMicroseconds{200};

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/// Spins until `ready()` or kSpinMicroseconds have passed; returns ready().
template <typename Ready> bool spinUntil(Ready ready) {
  auto deadline = std::chrono::steady_clock::now() + kSpinMicroseconds;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (ready())
        return true;
      cpuRelax();
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return ready();
  }
}

/// Runs items [next, count) of the current loop on this thread.
void drain(std::atomic<int64_t> &next, int64_t count, LoopBody body,
           void *context) {
  insideLoop = true;
  for (int64_t i = next.fetch_add(1, std::memory_order_relaxed); i < count;
       i = next.fetch_add(1, std::memory_order_relaxed))
    body(context, i);
  insideLoop = false;
}

class ThreadPool {
public:
  /// Starts `numWorkers` threads; throws std::system_error if one cannot be
  /// started (the ones already started are joined).
  explicit ThreadPool(int numWorkers) {
    workers.reserve(numWorkers);
    try {
      for (int i = 0; i < numWorkers; ++i)
        workers.emplace_back([this] { workerLoop(); });
    } catch (...) {
      stopAndJoin();
      throw;
    }
  }

  ~ThreadPool() { stopAndJoin(); }

  int numWorkers() const { return static_cast<int>(workers.size()); }

  /// Runs one loop on the workers and the calling thread. Only one run() at
  /// a time (the caller holds poolMutex).
  void run(int64_t count, LoopBody body, void *context) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      jobBody = body;
      jobCount = count;
      jobContext = context;
      jobOpen = true;
      next.store(0, std::memory_order_relaxed);
      generation.fetch_add(1, std::memory_order_release);
    }
    wake.notify_all();
    drain(next, count, body, context);
    // Every item is taken. Close the loop so that workers that have not woken
    // up yet skip it instead of being waited for, then wait for the ones
    // still running items: the loop state lives in the caller's frame.
    {
      std::lock_guard<std::mutex> lock(mutex);
      jobOpen = false;
    }
    // No worker joins from here on; wait for the ones that did.
    if (spinUntil([this] {
          return activeWorkers.load(std::memory_order_acquire) == 0;
        }))
      return;
    std::unique_lock<std::mutex> lock(mutex);
    done.wait(lock, [this] {
      return activeWorkers.load(std::memory_order_relaxed) == 0;
    });
  }

private:
  void workerLoop() {
    uint64_t seenGeneration = 0;
    for (;;) {
      int64_t count;
      LoopBody body;
      void *context;
      spinUntil([&] {
        return generation.load(std::memory_order_acquire) != seenGeneration;
      });
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] {
          return stopping ||
                 generation.load(std::memory_order_relaxed) != seenGeneration;
        });
        if (stopping)
          return;
        seenGeneration = generation.load(std::memory_order_relaxed);
        if (!jobOpen)
          continue;
        activeWorkers.fetch_add(1, std::memory_order_relaxed);
        count = jobCount;
        body = jobBody;
        context = jobContext;
      }
      drain(next, count, body, context);
      std::lock_guard<std::mutex> lock(mutex);
      if (activeWorkers.fetch_sub(1, std::memory_order_release) == 1)
        done.notify_one();
    }
  }

  void stopAndJoin() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    for (std::thread &worker : workers)
      worker.join();
    workers.clear();
  }

  std::vector<std::thread> workers;
  std::mutex mutex;
  std::condition_variable wake; ///< Signals a new generation or stopping.
  std::condition_variable done; ///< Signals activeWorkers reaching 0.
  // The current loop, written under `mutex`. A new loop bumps `generation`;
  // workers join it only while `jobOpen`, and `activeWorkers` counts those
  // that joined and have not finished. `generation` and `activeWorkers` are
  // atomic so that spinning threads can read them without the mutex.
  std::atomic<uint64_t> generation{0};
  bool stopping = false;
  bool jobOpen = false;
  std::atomic<int> activeWorkers{0};
  int64_t jobCount = 0;
  LoopBody jobBody = nullptr;
  void *jobContext = nullptr;
  std::atomic<int64_t> next{0};
};

/// Held by the thread running a parallel loop, and while resizing the pool.
std::mutex poolMutex;
/// Guarded by poolMutex; intentionally leaked at exit (see the file comment).
ThreadPool *pool = nullptr;

/// The thread count set by kiln_set_num_threads; 0 until first needed.
std::atomic<int> configuredThreads{0};

int defaultNumThreads() {
  if (const char *env = std::getenv("KILN_NUM_THREADS")) {
    char *end = nullptr;
    long value = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && value > 0)
      return static_cast<int>(std::min<long>(value, KILN_MAX_THREADS));
  }
  unsigned hardware = std::thread::hardware_concurrency();
  if (hardware == 0)
    return 1;
  return static_cast<int>(std::min<unsigned>(hardware, KILN_MAX_THREADS));
}

void runSerially(int64_t count, LoopBody body, void *context) {
  for (int64_t i = 0; i < count; ++i)
    body(context, i);
}

} // namespace

extern "C" void kiln_set_num_threads(int n) {
  configuredThreads.store(n <= 0 ? defaultNumThreads()
                                 : std::min(n, KILN_MAX_THREADS),
                          std::memory_order_relaxed);
}

extern "C" int kiln_get_num_threads(void) {
  int n = configuredThreads.load(std::memory_order_relaxed);
  if (n > 0)
    return n;
  // First use: racing threads compute and store the same value.
  n = defaultNumThreads();
  configuredThreads.store(n, std::memory_order_relaxed);
  return n;
}

extern "C" void kiln_parallel_for(int64_t count,
                                  void (*body)(void *context, int64_t index),
                                  void *context) {
  kiln::runtime::parallelFor(count, body, context);
}

void kiln::runtime::parallelFor(int64_t count, LoopBody body, void *context) {
  if (count <= 0)
    return;
  int threads = kiln_get_num_threads();
  if (count == 1 || threads <= 1 || insideLoop)
    return runSerially(count, body, context);
  std::unique_lock<std::mutex> lock(poolMutex, std::try_to_lock);
  if (!lock.owns_lock())
    return runSerially(count, body, context);
  if (!pool || pool->numWorkers() != threads - 1) {
    delete pool;
    pool = nullptr;
    try {
      pool = new ThreadPool(threads - 1);
    } catch (const std::exception &) {
      // No threads (resource limits) or no memory: degrade to serial.
      return runSerially(count, body, context);
    }
  }
  pool->run(count, body, context);
}
