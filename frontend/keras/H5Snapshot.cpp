//===- H5Snapshot.cpp - HDF5 files read in an isolated child
//---------------===//
//
// H5File::open: forks a child that runs writeH5Snapshot (KerasWeights.cpp,
// the only code that calls libhdf5 on an untrusted file) under a time and
// an address-space limit and writes the snapshot stream (H5Snapshot.h) to a
// pipe; the parent checks the stream (parseSnapshot) and answers the
// importer from it.
//
// Why fork (and not posix_spawn of a helper binary): the reader runs in
// kilnc, in the fuzz harnesses and in any program linking the compile
// library, none of which can rely on finding a helper executable. fork is
// safe here because the child only calls libhdf5 (serial build, used by
// no other thread: it is not thread-safe anyway), malloc (glibc's fork
// handlers reset its locks) and write, and leaves with _exit (no atexit
// handlers, no destructors of the parent's objects). kilnc has no other
// thread at that point (the import runs before any pass; MLIR's thread pool
// starts its threads with the first parallel pass).
//
//===----------------------------------------------------------------------===//

#include "frontend/keras/H5Snapshot.h"
#include "frontend/keras/KerasWeights.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <new>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

// Set by libFuzzer in the fuzz harnesses (it saves the input as a crash
// when a sanitizer reports); the child replaces it: a sanitizer report in
// the child (a memory error inside libhdf5, found by ASan's interceptors)
// is a crash of the reader, not of kiln.
extern "C" void __sanitizer_set_death_callback(void (*)(void))
    __attribute__((weak));

using namespace mlir::kiln::keras;
namespace snap = mlir::kiln::keras::snapshot;

namespace {
llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// "a//b/" -> "a/b"; "" and "/" -> "".
std::string canonical(llvm::StringRef path) {
  llvm::SmallVector<llvm::StringRef> parts;
  path.split(parts, '/', -1, /*KeepEmpty=*/false);
  return llvm::join(parts, "/");
}

std::string attributeKey(llvm::StringRef object, llvm::StringRef name) {
  return (object + llvm::StringRef("\0", 1) + name).str();
}

/// Exit statuses of the child besides 0.
constexpr int kExitOutOfMemory = 3;
constexpr int kExitWriteFailed = 4;
/// A sanitizer (ASan, UBSan builds: build-fuzz/) reported an error.
constexpr int kExitSanitizer = 5;
/// The most bytes the parent accepts from the child.
constexpr uint64_t kMaxStreamBytes = kMaxWeightsDataBytes + (uint64_t(1) << 30);

/// The longest time limit and largest memory budget the environment may
/// set (a day; 1 TiB): larger values are clamped, so that the deadline
/// arithmetic cannot overflow.
constexpr double kMaxTimeoutSeconds = 86400;
constexpr double kMaxMemoryMiB = double(uint64_t(1) << 20);

/// A positive number from the environment variable `name`, at most `max`,
/// or 0 when it is unset; any other value is ignored with a warning on
/// stderr that names it (the default applies).
double fromEnvironment(const char *name, double max) {
  const char *text = std::getenv(name);
  if (!text)
    return 0;
  char *end = nullptr;
  double value = std::strtod(text, &end);
  if (!*text || !end || *end != 0 || !std::isfinite(value) || !(value > 0)) {
    llvm::errs() << "kiln: warning: " << name << "='" << text
                 << "' is not a positive number; using the default\n";
    return 0;
  }
  return std::min(value, max);
}

/// The child: reads the file, writes the stream to `fd`, never returns.
[[noreturn]] void runChild(int fd, llvm::StringRef bytes, llvm::StringRef what,
                           llvm::ArrayRef<std::string> dataRoots,
                           uint64_t memoryMiB) {
  // A crash ends the child at once: no stack-trace printer or sanitizer
  // report handler of the parent, no core file.
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS})
    std::signal(sig, SIG_DFL);
  if (__sanitizer_set_death_callback)
    __sanitizer_set_death_callback([] { _exit(kExitSanitizer); });
  struct rlimit noCore = {0, 0};
  setrlimit(RLIMIT_CORE, &noCore);
  // The address space the child inherits (statm's first field, in pages)
  // plus the budget.
  if (memoryMiB) {
    char text[64] = {};
    int statm = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    ssize_t n = statm < 0 ? -1 : ::read(statm, text, sizeof(text) - 1);
    if (statm >= 0)
      ::close(statm);
    if (n > 0) {
      uint64_t pages = std::strtoull(text, nullptr, 10);
      uint64_t limit =
          pages * uint64_t(sysconf(_SC_PAGESIZE)) +
          std::min<uint64_t>(memoryMiB, uint64_t(1) << 40) * 1048576;
      struct rlimit as;
      if (getrlimit(RLIMIT_AS, &as) == 0 &&
          (as.rlim_cur == RLIM_INFINITY || as.rlim_cur > limit)) {
        as.rlim_cur = limit;
        setrlimit(RLIMIT_AS, &as);
      }
    }
  }
  std::set_new_handler([] { _exit(kExitOutOfMemory); });
  {
    llvm::raw_fd_ostream out(fd, /*shouldClose=*/false);
    out.SetBufferSize(1 << 20);
    writeH5Snapshot(bytes, what, dataRoots, out,
                    [] { _exit(kExitOutOfMemory); });
    out.flush();
    if (out.has_error())
      _exit(kExitWriteFailed);
  }
  _exit(0);
}

/// Forks the child and collects its stream into `stream`.
llvm::Error readInChild(llvm::StringRef bytes, llvm::StringRef what,
                        llvm::ArrayRef<std::string> dataRoots,
                        const H5ReadLimits &limits, std::string &stream) {
  auto fail = [&](const llvm::Twine &why) {
    return error("cannot read HDF5 file " + what + ": " + why);
  };
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return fail(llvm::Twine("cannot create a pipe: ") + std::strerror(errno));
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return fail(llvm::Twine("cannot start the reader process: ") +
                std::strerror(e));
  }
  if (pid == 0) {
    // The child dies with the parent (a killed kilnc must not leave a
    // reader spinning in libhdf5), also when the parent died before this
    // line; and it never outlives its time limit by much even if the
    // parent stops watching (RLIMIT_CPU: SIGXCPU, then SIGKILL).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(kExitWriteFailed);
    struct rlimit cpu;
    cpu.rlim_cur =
        rlim_t(std::min(limits.timeoutSeconds, kMaxTimeoutSeconds)) + 2;
    cpu.rlim_max = cpu.rlim_cur + 1;
    setrlimit(RLIMIT_CPU, &cpu);
    ::close(fds[0]);
    runChild(fds[1], bytes, what, dataRoots, limits.memoryMiB);
  }
  ::close(fds[1]);
  using Clock = std::chrono::steady_clock;
  auto deadline =
      Clock::now() +
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
          std::min(limits.timeoutSeconds, kMaxTimeoutSeconds)));
  auto msLeft = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - Clock::now())
                    .count();
    return int(std::clamp<int64_t>(left, 0, 1 << 30));
  };
  bool timedOut = false, tooLong = false;
  std::vector<char> chunk(1 << 16);
  while (true) {
    struct pollfd p = {fds[0], POLLIN, 0};
    int ready = poll(&p, 1, msLeft());
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready == 0) {
      timedOut = true;
      break;
    }
    ssize_t n = ::read(fds[0], chunk.data(), chunk.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (n <= 0)
      break;
    if (stream.size() + size_t(n) > kMaxStreamBytes) {
      tooLong = true;
      break;
    }
    stream.append(chunk.data(), size_t(n));
  }
  ::close(fds[0]);
  // The child has closed its end (or is stopped here): wait for it until
  // the deadline, then kill it.
  int status = 0;
  if (timedOut || tooLong)
    kill(pid, SIGKILL);
  while (true) {
    pid_t r = waitpid(pid, &status, timedOut || tooLong ? 0 : WNOHANG);
    if (r == pid)
      break;
    if (r < 0 && errno != EINTR) {
      status = 0;
      break;
    }
    if (r == 0) {
      if (msLeft() == 0) {
        timedOut = true;
        kill(pid, SIGKILL);
        continue;
      }
      usleep(1000);
    }
  }
  if (timedOut) {
    char seconds[32];
    std::snprintf(seconds, sizeof(seconds), "%g", limits.timeoutSeconds);
    return fail(llvm::Twine("the HDF5 library did not finish within ") +
                seconds + " s (KILN_HDF5_TIMEOUT sets the limit)");
  }
  if (tooLong)
    return fail("the HDF5 reader wrote more than " +
                llvm::Twine(kMaxStreamBytes) + " bytes");
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    std::string name = std::to_string(sig);
    if (const char *text = strsignal(sig))
      name += std::string(", ") + text;
    return fail("the HDF5 library crashed (signal " + name +
                "); the file is corrupt or not supported by libhdf5");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == kExitSanitizer)
    return fail("the HDF5 library crashed (a sanitizer found a memory error "
                "in it, reported above); the file is corrupt or not "
                "supported by libhdf5");
  if (WIFEXITED(status) && WEXITSTATUS(status) == kExitOutOfMemory)
    return fail("the HDF5 library needed more than " +
                llvm::Twine(limits.memoryMiB) +
                " MiB of memory (KILN_HDF5_MEMORY_MB sets the limit)");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return fail("the HDF5 reader process failed (exit status " +
                llvm::Twine(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                ")");
  return llvm::Error::success();
}

/// Reads the snapshot stream; every read is checked against what is left.
class StreamReader {
public:
  explicit StreamReader(llvm::StringRef rest) : rest(rest) {}
  bool failed() const { return !why.empty(); }
  const std::string &reason() const { return why; }
  bool atEnd() const { return rest.empty(); }
  char tag(const char *what) {
    if (failed())
      return 0;
    if (rest.empty()) {
      fail(llvm::Twine("the stream ends before ") + what);
      return 0;
    }
    char c = rest.front();
    rest = rest.drop_front();
    return c;
  }
  uint64_t u64(const char *what) {
    if (failed())
      return 0;
    if (rest.size() < 8) {
      fail(llvm::Twine("the stream ends inside ") + what);
      return 0;
    }
    uint64_t v = llvm::support::endian::read64le(rest.data());
    rest = rest.drop_front(8);
    return v;
  }
  llvm::StringRef string(const char *what) {
    uint64_t n = u64(what);
    if (failed())
      return {};
    if (n > rest.size()) {
      fail(llvm::Twine(what) + " of " + llvm::Twine(n) + " bytes, " +
           llvm::Twine(rest.size()) + " left");
      return {};
    }
    llvm::StringRef s = rest.take_front(n);
    rest = rest.drop_front(n);
    return s;
  }
  /// A count of items of at least `itemBytes` bytes each.
  uint64_t count(const char *what, uint64_t itemBytes) {
    uint64_t n = u64(what);
    if (!failed() && n > rest.size() / itemBytes)
      fail(llvm::Twine(what) + " " + llvm::Twine(n) +
           " is more than the stream holds");
    return failed() ? 0 : n;
  }
  void fail(const llvm::Twine &message) {
    if (!failed())
      why = message.str();
  }

private:
  llvm::StringRef rest;
  std::string why;
};
} // namespace

H5ReadLimits H5ReadLimits::resolve(uint64_t fileBytes) const {
  H5ReadLimits out = *this;
  if (out.timeoutSeconds <= 0)
    out.timeoutSeconds =
        fromEnvironment("KILN_HDF5_TIMEOUT", kMaxTimeoutSeconds);
  if (out.timeoutSeconds <= 0)
    out.timeoutSeconds = 5.0 + double(fileBytes >> 25);
  if (out.memoryMiB == 0)
    out.memoryMiB =
        uint64_t(fromEnvironment("KILN_HDF5_MEMORY_MB", kMaxMemoryMiB));
  if (out.memoryMiB == 0)
    out.memoryMiB = 1024 + 2 * (fileBytes >> 20);
  return out;
}

llvm::Expected<std::unique_ptr<H5File>>
H5File::open(llvm::StringRef bytes, llvm::StringRef what,
             llvm::ArrayRef<std::string> dataRoots, H5ReadLimits limits) {
  // Cheap checks first, without a child (the child repeats them).
  if (bytes.size() > kMaxWeightsFileBytes)
    return error(what + " is " + llvm::Twine(bytes.size()) +
                 " bytes, above the limit of " +
                 llvm::Twine(kMaxWeightsFileBytes) + " bytes");
  std::string stream;
  if (llvm::Error e = readInChild(bytes, what, dataRoots,
                                  limits.resolve(bytes.size()), stream))
    return std::move(e);
  return parseSnapshot(std::move(stream), what);
}

llvm::Expected<std::unique_ptr<H5File>>
H5File::parseSnapshot(std::string stream, llvm::StringRef what) {
  std::unique_ptr<H5File> file(new H5File());
  file->stream = std::move(stream);
  llvm::StringRef all = file->stream;
  auto malformed = [&](const llvm::Twine &why) {
    return error("cannot read HDF5 file " + what +
                 ": the HDF5 reader's output is malformed (" + why + ")");
  };
  if (!all.starts_with(snap::kMagic))
    return malformed("no header");
  StreamReader in(all.drop_front(snap::kMagic.size()));
  char head = in.tag("the header");
  if (head == snap::kFileError) {
    llvm::StringRef message = in.string("the error");
    if (in.failed() || !in.atEnd())
      return malformed(in.failed() ? in.reason() : "bytes after the error");
    return error(message);
  }
  if (head != snap::kFileOk)
    return malformed("bad header");
  // A status tag then either the error string (returned in `error`).
  auto status = [&](std::string &errorText) -> bool {
    char t = in.tag("a status");
    if (t == snap::kError) {
      errorText = in.string("an error message").str();
      return false;
    }
    if (t != snap::kOk)
      in.fail("bad status tag");
    return !in.failed();
  };
  auto path = [&](const char *what) {
    llvm::StringRef p = in.string(what);
    if (!in.failed() && canonical(p) != p)
      in.fail(llvm::Twine(what) + " '" + p + "' is not a plain path");
    return p;
  };
  while (!in.failed()) {
    char t = in.tag("the end record");
    if (in.failed())
      break;
    if (t == snap::kEnd) {
      if (!in.atEnd())
        in.fail("bytes after the end record");
      break;
    }
    switch (t) {
    case snap::kObject: {
      llvm::StringRef p = path("an object path");
      char kind = in.tag("an object kind");
      if (in.failed())
        break;
      if (p.empty() || kind < 0 || kind > 2)
        in.fail("bad object record");
      else if (!file->objects.try_emplace(p, uint8_t(kind)).second)
        in.fail("object '" + p + "' twice");
      break;
    }
    case snap::kAttribute:
    case snap::kAttributeList: {
      llvm::StringRef object = path("an attribute's object");
      if (in.failed())
        break;
      auto it = file->objects.find(object);
      if (!object.empty() && (it == file->objects.end() || it->second != 0)) {
        in.fail("attributes of '" + object + "', not a group read before");
        break;
      }
      if (t == snap::kAttributeList) {
        std::string message;
        if (status(message))
          in.fail("an attribute list record without an error");
        else if (!in.failed())
          file->attributeListErrors[object] = message;
        break;
      }
      llvm::StringRef name = in.string("an attribute name");
      if (in.failed())
        break;
      Attribute attribute;
      if (status(attribute.error)) {
        uint64_t n = in.count("a string count", 8);
        std::vector<std::string> strings;
        for (uint64_t i = 0; i < n && !in.failed(); ++i)
          strings.push_back(in.string("a string").str());
        attribute.strings = std::move(strings);
      }
      if (!in.failed() &&
          !file->attributes
               .try_emplace(attributeKey(object, name), std::move(attribute))
               .second)
        in.fail("attribute '" + name + "' of '" + object + "' twice");
      break;
    }
    case snap::kShape: {
      llvm::StringRef p = path("a dataset path");
      if (in.failed())
        break;
      auto it = file->objects.find(p);
      if (it == file->objects.end() || it->second != 1 ||
          file->datasetInfo.count(p)) {
        in.fail("shape of '" + p + "', not a dataset read before");
        break;
      }
      Dataset dataset;
      if (status(dataset.shapeError)) {
        uint64_t rank = in.u64("a rank");
        if (rank > 32) {
          in.fail("rank " + llvm::Twine(rank) + " of '" + p + "'");
          break;
        }
        llvm::SmallVector<int64_t> dims;
        for (uint64_t i = 0; i < rank && !in.failed(); ++i) {
          uint64_t d = in.u64("a dimension");
          if (d > uint64_t(std::numeric_limits<int64_t>::max()))
            in.fail("a dimension above 2^63");
          dims.push_back(int64_t(d));
        }
        uint64_t elementBytes = in.u64("an element size");
        if (!in.failed() && elementBytes != 4 && elementBytes != 8)
          in.fail("element size " + llvm::Twine(elementBytes));
        dataset.shape = std::move(dims);
        dataset.elementBytes = unsigned(elementBytes);
      }
      if (!in.failed())
        file->datasetInfo[p] = std::move(dataset);
      break;
    }
    case snap::kInteger: {
      llvm::StringRef p = path("a dataset path");
      uint64_t value = in.u64("an integer value");
      if (in.failed())
        break;
      auto it = file->datasetInfo.find(p);
      if (it == file->datasetInfo.end() || it->second.shape ||
          it->second.integer) {
        in.fail("integer value of '" + p +
                "' without the error record of its shape, or twice");
        break;
      }
      it->second.integer = int64_t(value);
      break;
    }
    case snap::kData: {
      llvm::StringRef p = path("a dataset path");
      if (in.failed())
        break;
      auto it = file->datasetInfo.find(p);
      if (it == file->datasetInfo.end() || !it->second.shape ||
          it->second.data || !it->second.dataError.empty()) {
        in.fail("values of '" + p + "' without its shape, or twice");
        break;
      }
      Dataset &dataset = it->second;
      std::string message;
      if (!status(message)) {
        if (!in.failed())
          dataset.dataError = message.empty() ? "no values" : message;
        break;
      }
      llvm::StringRef values = in.string("the values");
      if (in.failed())
        break;
      uint64_t expected = dataset.elementBytes;
      for (int64_t d : *dataset.shape) {
        if (d != 0 && expected > UINT64_MAX / uint64_t(d)) {
          expected = UINT64_MAX;
          break;
        }
        expected *= uint64_t(d);
      }
      if (values.size() != expected)
        in.fail("'" + p + "' has " + llvm::Twine(values.size()) +
                " bytes of values, its shape needs " + llvm::Twine(expected));
      else
        dataset.data = values;
      break;
    }
    case snap::kList: {
      llvm::StringRef root = path("a listed group");
      if (in.failed())
        break;
      if (!file->objects.count(root) || file->listings.count(root)) {
        in.fail("listing of '" + root + "', not an object read before");
        break;
      }
      Listing listing;
      if (status(listing.error)) {
        uint64_t n = in.count("a name count", 8);
        std::vector<std::string> names;
        for (uint64_t i = 0; i < n && !in.failed(); ++i)
          names.push_back(in.string("a name").str());
        listing.names = std::move(names);
      }
      if (!in.failed())
        file->listings[root] = std::move(listing);
      break;
    }
    default:
      in.fail(llvm::formatv("unknown record tag {0:x2}", unsigned(uint8_t(t)))
                  .str());
    }
  }
  if (in.failed())
    return malformed(in.reason());
  return file;
}

bool H5File::exists(llvm::StringRef path) const {
  std::string c = canonical(path);
  return c.empty() || objects.count(c);
}

bool H5File::isDataset(llvm::StringRef path) const {
  auto it = objects.find(canonical(path));
  return it != objects.end() && it->second == 1;
}

llvm::Expected<llvm::SmallVector<int64_t>>
H5File::floatShape(llvm::StringRef path) const {
  if (!isDataset(path))
    return error("'" + path + "' is not a dataset");
  auto it = datasetInfo.find(canonical(path));
  if (it == datasetInfo.end())
    return error("'" + path + "' was not read (not under a group kiln reads)");
  if (!it->second.shape)
    return error(it->second.shapeError);
  return *it->second.shape;
}

llvm::Expected<int64_t> H5File::integerScalar(llvm::StringRef path) const {
  if (!isDataset(path))
    return error("'" + path + "' is not a dataset");
  auto it = datasetInfo.find(canonical(path));
  if (it == datasetInfo.end())
    return error("'" + path + "' was not read (not under a group kiln reads)");
  if (!it->second.integer)
    return error("'" + path + "' is not an integer dataset with one element");
  return *it->second.integer;
}

llvm::Error H5File::readFloats(llvm::StringRef path, bool f64, char *out,
                               size_t bytes) const {
  auto shape = floatShape(path);
  if (!shape)
    return shape.takeError();
  uint64_t elements = 1;
  for (int64_t d : *shape) {
    if (d != 0 && elements > UINT64_MAX / 8 / uint64_t(d))
      return error("'" + path + "' is too large");
    elements *= uint64_t(d);
  }
  if (elements * (f64 ? 8 : 4) != bytes)
    return error("'" + path + "' holds " + llvm::Twine(elements) +
                 " elements, expected " + llvm::Twine(bytes / (f64 ? 8 : 4)));
  if (elements == 0)
    return llvm::Error::success();
  const Dataset &dataset = datasetInfo.find(canonical(path))->second;
  if (!dataset.data)
    return error(dataset.dataError);
  const char *in = dataset.data->data();
  if ((dataset.elementBytes == 8) == f64) {
    std::memcpy(out, in, bytes);
    return llvm::Error::success();
  }
  for (uint64_t k = 0; k < elements; ++k) {
    if (f64) {
      float v;
      std::memcpy(&v, in + 4 * k, 4);
      double w = v;
      std::memcpy(out + 8 * k, &w, 8);
    } else {
      // Outside the f32 range: +-inf, as HDF5's double-to-float conversion.
      double v;
      std::memcpy(&v, in + 8 * k, 8);
      constexpr double kMax = std::numeric_limits<float>::max();
      float w = v > kMax    ? std::numeric_limits<float>::infinity()
                : v < -kMax ? -std::numeric_limits<float>::infinity()
                            : float(v);
      std::memcpy(out + 4 * k, &w, 4);
    }
  }
  return llvm::Error::success();
}

llvm::Expected<std::optional<std::vector<std::string>>>
H5File::stringAttribute(llvm::StringRef path, llvm::StringRef name) const {
  std::string object = canonical(path);
  if (!exists(object))
    return std::nullopt;
  if (auto it = attributeListErrors.find(object);
      it != attributeListErrors.end())
    return error(it->second);
  auto it = attributes.find(attributeKey(object, name));
  if (it == attributes.end())
    return std::nullopt;
  if (!it->second.strings)
    return error(it->second.error);
  return *it->second.strings;
}

llvm::Expected<std::vector<std::string>>
H5File::datasets(llvm::StringRef path) const {
  std::string root = canonical(path);
  std::vector<std::string> out;
  if (!exists(root))
    return out;
  auto it = listings.find(root);
  if (it == listings.end())
    return error("'" + path + "' was not listed (not a group kiln reads)");
  if (!it->second.names)
    return error(it->second.error);
  for (const std::string &name : *it->second.names) {
    std::string full = canonical(root + "/" + name);
    if (isDataset(full))
      out.push_back(std::move(full));
  }
  return out;
}
