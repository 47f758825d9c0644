//===- ThreadPool.h - parallel loop of the kiln runtime ---------*- C++ -*-===//
//
// The one parallel primitive the kernels use: run a loop body over an index
// range on the runtime's worker threads plus the calling thread. Internal to
// the runtime (not installed, not part of the C API).
//
//===----------------------------------------------------------------------===//

#ifndef KILN_RUNTIME_LIB_THREADPOOL_H
#define KILN_RUNTIME_LIB_THREADPOOL_H

#include <cstdint>

namespace kiln {
namespace runtime {

/// A loop body: processes item `index` of the loop whose state is `context`.
/// Must not throw.
using LoopBody = void (*)(void *context, int64_t index);

/// Calls body(context, i) exactly once for every i in [0, count) and returns
/// when all calls are done. Items run on up to kiln_get_num_threads() threads
/// (the caller included), in no particular order, so the body must make each
/// item independent of the others; callers that want results independent of
/// the thread count also make the split into items independent of it.
///
/// Runs everything on the calling thread when there is one item or one
/// thread, when called from inside a body (no nested parallelism), when
/// another thread is already using the workers (concurrent callers do not
/// queue behind each other), or when worker threads cannot be started.
///
/// Thread-safety: safe to call from any thread.
void parallelFor(int64_t count, LoopBody body, void *context);

} // namespace runtime
} // namespace kiln

#endif // KILN_RUNTIME_LIB_THREADPOOL_H
