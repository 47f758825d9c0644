//===- Cli.cpp - the command line of kilnc-generated programs -------------===//
//
//   prog fit --data F [--labels F | --label-column C] [--epochs N] ...
//   prog evaluate --data F [--labels F | --label-column C] [--checkpoint P]
//   prog predict --data F [--checkpoint P] --output F.csv|F.npy
//   prog export [--checkpoint P] --output F.onnx
//   prog summary
//
// Options are parsed with getopt_long (POSIX/glibc); `prog COMMAND --help`
// lists them. Keras' fit semantics are in Session.cpp; this file adds the
// files: data loading, progress lines, history, checkpoints each epoch,
// resume and the callbacks (their rules: Callbacks.h). docs/spec.md ("Generated
// programs") is the reference.
//
//===----------------------------------------------------------------------===//

#include "Callbacks.h"
#include "Checkpoint.h"
#include "ExportOnnx.h"
#include "KerasExport.h"
#include "Plot.h"
#include "Session.h"

#include "kiln/data.h"
#include "kiln/session.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <getopt.h>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace kiln::driver;
using nlohmann::json;

namespace {
/// argv[0] without its directory, for messages.
std::string programName = "model";

[[noreturn]] void fail(const std::string &message) {
  throw std::runtime_error(message);
}

/// A usage error: exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using ArrayPtr = std::unique_ptr<kiln_array_t, void (*)(kiln_array_t *)>;

bool endsWith(const std::string &s, const char *suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

/// The canonical form of `path`, which need not exist: realpath of the
/// file, or of its directory plus the name.
std::string canonical(std::string path) {
  char buffer[PATH_MAX];
  if (realpath(path.c_str(), buffer))
    return buffer;
  // A dangling symlink (a checkpoint not written yet): follow it by hand.
  struct stat info;
  for (int depth = 0;
       depth < 40 && lstat(path.c_str(), &info) == 0 && S_ISLNK(info.st_mode);
       ++depth) {
    ssize_t n = readlink(path.c_str(), buffer, sizeof buffer - 1);
    if (n <= 0)
      break;
    std::string target(buffer, static_cast<size_t>(n));
    size_t slash = path.rfind('/');
    path = target[0] == '/' || slash == std::string::npos
               ? target
               : path.substr(0, slash + 1) + target;
  }
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (dir.empty())
    dir = "/";
  if (realpath(dir.c_str(), buffer))
    return std::string(buffer) + "/" + name;
  return path;
}

/// Checks an output file before any work is done, so that a long training
/// run does not fail at its first checkpoint, and no input is overwritten:
/// `path` must be non-empty, differ from every file in `inputs` (the run's
/// inputs and other outputs), be a regular file if it exists (a symlink is
/// followed: its target is replaced) and sit in an existing, writable
/// directory. Returns the path to write (a symlink's target).
std::string checkOutput(const std::string &path, const std::string &option,
                        const std::vector<std::string> &inputs) {
  if (path.empty())
    throw UsageError(option + " needs a file name");
  std::string resolved = canonical(path);
  struct stat info, other;
  bool exists = stat(resolved.c_str(), &info) == 0;
  if (!exists && errno == ELOOP)
    fail(path + " (" + option + "): too many levels of symbolic links");
  for (const std::string &input : inputs)
    if (!input.empty() &&
        (canonical(input) == resolved ||
         (exists && stat(input.c_str(), &other) == 0 &&
          other.st_dev == info.st_dev && other.st_ino == info.st_ino)))
      throw UsageError(option + " " + path +
                       " is also an input or another output of this run; "
                       "choose another file");
  if (stat(resolved.c_str(), &info) == 0 && !S_ISREG(info.st_mode))
    fail(path + " (" + option + ") exists and is not a regular file");
  size_t slash = resolved.rfind('/');
  std::string dir =
      slash == std::string::npos ? "." : resolved.substr(0, slash);
  if (dir.empty())
    dir = "/";
  if (stat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode))
    fail(path + " (" + option + "): the directory " + dir + " does not exist");
  if (access(dir.c_str(), W_OK | X_OK) != 0)
    fail(path + " (" + option + "): cannot write in " + dir + ": " +
         std::strerror(errno));
  return resolved;
}

/// Replaces control characters (e.g. binary data quoted from a bad file) so
/// that an error message cannot garble the terminal.
std::string printable(const std::string &text) {
  std::string out;
  for (unsigned char c : text)
    out += (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f
               ? '?'
               : static_cast<char>(c);
  return out;
}

/// Set by SIGINT/SIGTERM during fit; the epoch loop stops before its next
/// step, so a checkpoint being written is finished, never torn.
volatile int interruptRequested = 0;
extern "C" void onInterrupt(int) { interruptRequested = 1; }

/// The format of a data file: by extension (.csv, .npy), else by its first
/// bytes (NPY magic, IDX magic 0x000008NN), else CSV.
enum class Format { Csv, Npy, Idx };
Format detect(const std::string &path) {
  if (endsWith(path, ".csv") || endsWith(path, ".CSV"))
    return Format::Csv;
  if (endsWith(path, ".npy"))
    return Format::Npy;
  unsigned char head[6] = {};
  if (FILE *f = std::fopen(path.c_str(), "rb")) {
    size_t got = std::fread(head, 1, sizeof head, f);
    std::fclose(f);
    if (got >= 6 && std::memcmp(head, "\x93NUMPY", 6) == 0)
      return Format::Npy;
    // IDX magic 0x0000TTNN: TT is 08 (u8), 09, 0B, 0C, 0D or 0E; the loader
    // names the unsupported ones.
    if (got >= 4 && head[0] == 0 && head[1] == 0 &&
        (head[2] == 0x08 || head[2] == 0x09 ||
         (head[2] >= 0x0B && head[2] <= 0x0E)))
      return Format::Idx;
  }
  return Format::Csv;
}

/// Fails unless `path` is a regular file (a FIFO or a device would block or
/// never end; a directory cannot be read).
void checkInput(const std::string &path, const std::string &what) {
  struct stat info;
  if (path.empty())
    return;
  if (stat(path.c_str(), &info) != 0)
    fail(path + ": " + std::strerror(errno) + " (" + what + ")");
  if (!S_ISREG(info.st_mode))
    fail(path + " (" + what + ") is not a regular file");
}

/// Loads `path` as features, and labels from `labelsPath` or the CSV column
/// `labelColumn` (a name, or a 0-based index).
/// With `weightColumn` (--sample-weight-column), that CSV column goes to
/// `*weights` instead of the features.
std::pair<ArrayPtr, ArrayPtr> loadData(const std::string &path,
                                       const std::string &labelsPath,
                                       const std::string &labelColumn,
                                       const std::string &weightColumn = "",
                                       ArrayPtr *weights = nullptr) {
  char error[1024] = "";
  auto load = [&](const std::string &file, const std::string &column,
                  bool wantLabels) -> std::pair<ArrayPtr, ArrayPtr> {
    checkInput(file, "data");
    kiln_array_t *features = nullptr, *labels = nullptr, *w = nullptr;
    kiln_status_t status = KILN_OK;
    Format format = detect(file);
    bool wantWeights = weights && !weightColumn.empty() && file == path;
    if (!column.empty() && format != Format::Csv)
      throw UsageError("--label-column applies to CSV data; " + file +
                       " is not CSV (give --labels FILE)");
    if (wantWeights && format != Format::Csv)
      throw UsageError("--sample-weight-column applies to CSV data; " + file +
                       " is not CSV (give --sample-weight FILE)");
    switch (format) {
    case Format::Npy:
      status = kiln_npy_load(file.c_str(), &features, error, sizeof error);
      break;
    case Format::Idx:
      status = kiln_idx_load(file.c_str(), &features, error, sizeof error);
      break;
    case Format::Csv: {
      kiln_csv_options_t options;
      kiln_csv_options_init(&options);
      bool numeric = !column.empty() && column.find_first_not_of(
                                            "0123456789") == std::string::npos;
      if (numeric) {
        errno = 0;
        long long index = std::strtoll(column.c_str(), nullptr, 10);
        if (errno || index > INT32_MAX)
          throw UsageError("--label-column index " + column + " is too large");
        options.label_index = static_cast<int32_t>(index);
      } else if (!column.empty())
        options.label_column = column.c_str();
      if (wantWeights)
        options.weight_column = weightColumn.c_str();
      status = kiln_csv_load_weighted(
          file.c_str(), &options, &features, wantLabels ? &labels : nullptr,
          wantWeights ? &w : nullptr, error, sizeof error);
      break;
    }
    }
    if (status != KILN_OK)
      fail(error[0] ? error : file + ": " + kiln_status_message(status));
    if (wantWeights)
      *weights = ArrayPtr(w, kiln_array_destroy);
    return {ArrayPtr(features, kiln_array_destroy),
            ArrayPtr(labels, kiln_array_destroy)};
  };
  auto [x, y] = load(path, labelColumn, !labelColumn.empty());
  if (!labelsPath.empty()) {
    auto [labels, unused] = load(labelsPath, "", false);
    y = std::move(labels);
  }
  return {std::move(x), std::move(y)};
}

std::string formatMetrics(const Metrics &metrics, const std::string &prefix) {
  std::string out;
  char buffer[64];
  for (const auto &[name, value] : metrics) {
    std::snprintf(buffer, sizeof buffer, "%.4f", value);
    out += " - " + prefix + name + ": " + buffer;
  }
  return out;
}

std::string formatDuration(double seconds) {
  char buffer[32];
  if (seconds < 1e-3)
    std::snprintf(buffer, sizeof buffer, "%.0fus", seconds * 1e6);
  else if (seconds < 1)
    std::snprintf(buffer, sizeof buffer, "%.0fms", seconds * 1000);
  else if (seconds < 60)
    std::snprintf(buffer, sizeof buffer, "%.0fs", seconds);
  else
    std::snprintf(buffer, sizeof buffer, "%dm%02ds",
                  static_cast<int>(seconds) / 60,
                  static_cast<int>(seconds) % 60);
  return buffer;
}

/// Keras-style progress: on a terminal a bar redrawn in place with the ETA;
/// otherwise only the final line of each epoch.
class ProgressLine {
public:
  explicit ProgressLine(bool enabled)
      : enabled(enabled), tty(enabled && isatty(STDOUT_FILENO)) {}
  void start() {
    begin = std::chrono::steady_clock::now();
    lastDraw = begin - std::chrono::seconds(1);
  }
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         begin)
        .count();
  }
  void update(int64_t step, int64_t steps, const Metrics &metrics) {
    if (!tty || step == steps)
      return;
    auto now = std::chrono::steady_clock::now();
    if (now - lastDraw < std::chrono::milliseconds(100))
      return;
    lastDraw = now;
    double perStep = elapsed() / step;
    std::printf("\r%s ETA: %s%s\033[K", bar(step, steps).c_str(),
                formatDuration(perStep * (steps - step)).c_str(),
                formatMetrics(metrics, "").c_str());
    std::fflush(stdout);
  }
  void finish(int64_t steps, const std::string &metricsText) {
    if (!enabled)
      return;
    double total = elapsed();
    std::printf("%s%s %s %s/step%s\n", tty ? "\r" : "",
                bar(steps, steps).c_str(), formatDuration(total).c_str(),
                formatDuration(steps ? total / steps : 0).c_str(),
                metricsText.c_str());
    std::fflush(stdout);
  }

private:
  static std::string bar(int64_t step, int64_t steps) {
    const int width = 20;
    int filled = steps ? static_cast<int>(width * step / steps) : width;
    std::string s = std::to_string(step) + "/" + std::to_string(steps) + " [";
    for (int i = 0; i < width; ++i)
      s += i < filled ? '=' : (i == filled ? '>' : '.');
    return s + "]";
  }
  bool enabled, tty;
  std::chrono::steady_clock::time_point begin, lastDraw;
};

/// Writes `text` to `path` through a temporary file and a rename.
void writeTextAtomically(const std::string &path, const std::string &text) {
  std::string error;
  if (!writeFileAtomically(path, {{text.data(), text.size()}}, &error))
    fail(error);
}

/// Keras' History.history: one list per metric, plus the epoch numbers.
struct History {
  std::vector<std::string> keys; // "epoch", "loss", ..., "val_loss", ...
  nlohmann::json values = nlohmann::json::object();

  /// Appends an epoch. A metric that is new (e.g. validation added on
  /// resume) gets null for the earlier epochs, one that is missing this
  /// epoch gets null, so every list has one entry per epoch.
  void add(int64_t epoch, const Metrics &train, const Metrics &validation,
           double seconds) {
    size_t row = rows();
    auto push = [&](const std::string &key, nlohmann::json v) {
      if (!values.contains(key)) {
        keys.push_back(key);
        values[key] = nlohmann::json::array();
        for (size_t i = 0; i < row; ++i)
          values[key].push_back(nullptr);
      }
      values[key].push_back(v);
    };
    push("epoch", epoch);
    for (const auto &[name, v] : train)
      push(name, v);
    for (const auto &[name, v] : validation)
      push("val_" + name, v);
    push("time", seconds);
    for (const std::string &key : keys)
      while (values[key].size() < row + 1)
        values[key].push_back(nullptr);
  }
  size_t rows() const {
    return values.contains("epoch") ? values["epoch"].size() : 0;
  }
  /// The lists in key order, optionally without the epoch times.
  nlohmann::ordered_json ordered(bool withTime) const {
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    for (const std::string &key : keys)
      if (withTime || key != "time")
        out[key] = values[key];
    return out;
  }
  std::string toJson() const { return ordered(true).dump(2) + "\n"; }
  /// Keras' CSVLogger: the column `epoch` (0-based, as Keras passes it to
  /// on_epoch_end), then the logged names in sorted order (no epoch time);
  /// values as Python writes a float (the shortest text that reads back the
  /// same double), NA where an epoch lacks a value.
  std::string csv() const {
    std::vector<std::string> columns;
    for (const std::string &key : keys)
      if (key != "epoch" && key != "time")
        columns.push_back(key);
    std::sort(columns.begin(), columns.end());
    std::ostringstream out;
    out << "epoch";
    for (const std::string &key : columns)
      out << "," << key;
    out << "\n";
    size_t count = rows();
    for (size_t r = 0; r < count; ++r) {
      const nlohmann::json &epoch = values["epoch"][r];
      out << (epoch.is_number_integer() ? epoch.get<int64_t>() - 1 : 0);
      for (const std::string &key : columns) {
        const nlohmann::json &list = values[key];
        const nlohmann::json &v =
            r < list.size() ? list[r] : nlohmann::json(nullptr);
        out << "," << (v.is_number() ? pythonFloat(v.get<double>()) : "NA");
      }
      out << "\n";
    }
    return out.str();
  }
  /// repr() of a Python float: the shortest round-trip digits, with ".0" on
  /// whole numbers.
  static std::string pythonFloat(double v) {
    char buffer[64];
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e16) {
      std::snprintf(buffer, sizeof buffer, "%.1f", v);
      return buffer;
    }
    if (std::isnan(v))
      return "nan";
    if (std::isinf(v))
      return v > 0 ? "inf" : "-inf";
    for (int precision = 1; precision <= 17; ++precision) {
      std::snprintf(buffer, sizeof buffer, "%.*g", precision, v);
      if (std::strtod(buffer, nullptr) == v)
        break;
    }
    return buffer;
  }
  /// Reads serialized(); the epoch times it lacks become null. A history
  /// that is not lists of numbers (or null) of equal length is ignored.
  void restore(const std::string &text) {
    nlohmann::ordered_json in =
        nlohmann::ordered_json::parse(text, nullptr, false);
    if (!in.is_object() || !in.contains("epoch") || !in["epoch"].is_array())
      return;
    for (auto &[key, list] : in.items()) {
      if (!list.is_array() || list.size() != in["epoch"].size())
        return;
      for (const auto &v : list)
        if (!v.is_number() && !v.is_null())
          return;
    }
    for (auto &[key, list] : in.items()) {
      keys.push_back(key);
      values[key] = list;
    }
    keys.push_back("time");
    values["time"] = nlohmann::json::array();
    for (size_t i = 0; i < in["epoch"].size(); ++i)
      values["time"].push_back(nullptr);
  }
  /// The lists as curves to plot (Plot.h): every logged name but the
  /// epoch times.
  Curves curves() const {
    Curves c;
    for (const auto &e :
         values.contains("epoch") ? values["epoch"] : nlohmann::json::array())
      c.epochs.push_back(e.is_number() ? e.get<double>() : NAN);
    for (const std::string &key : keys) {
      if (key == "epoch" || key == "time")
        continue;
      std::vector<double> list;
      for (const auto &v : values[key])
        list.push_back(v.is_number() ? v.get<double>() : NAN);
      c.series.push_back({key, std::move(list)});
    }
    return c;
  }
  /// The history kept in checkpoints: without the epoch times, so that the
  /// same seed and thread count give byte-identical checkpoint files.
  std::string serialized() const { return ordered(false).dump(); }
};

using callbacks::Mode;
Mode parseMode(const std::string &text, const std::string &option);

/// Whether `monitor` is minimized in mode "auto", as Keras 3's
/// MonitorCallback._set_monitor_op decides it for EarlyStopping,
/// ReduceLROnPlateau and ModelCheckpoint: the loss (also val_loss) is
/// minimized; a metric follows its `_direction` (accuracies, precision,
/// recall and f1 up; mae and mse down). Empty when the direction is unknown
/// (Keras raises a ValueError asking for mode="min" or "max").
std::optional<bool> autoMinimizes(const Manifest &m,
                                  const std::string &monitor) {
  std::string name =
      monitor.compare(0, 4, "val_") == 0 ? monitor.substr(4) : monitor;
  if (name == "loss")
    return true;
  for (const MetricInfo &metric : m.metrics)
    if (metric.name == name) {
      const std::string &k = metric.kind;
      if (k == "mae" || k == "mse")
        return true;
      if (k == "accuracy" || k.find("_accuracy") != std::string::npos ||
          k == "precision" || k == "recall" || k == "f1")
        return false;
    }
  return std::nullopt;
}

/// What a checkpoint records besides the session: the learning rate (or
/// schedule) and each callback's state, so that --resume continues them.
struct FitState {
  LearningRate lr;
  std::unique_ptr<callbacks::EarlyStopping> stopping;
  /// restore_best_weights: the params region of epoch bestWeightsEpoch,
  /// the best one this run has seen (Keras' best_weights).
  std::vector<char> bestWeights;
  int64_t bestWeightsEpoch = 0;
  std::unique_ptr<callbacks::ReduceLrOnPlateau> reduceLr;
  std::unique_ptr<callbacks::BestCheckpoint> bestCheckpoint;
  /// Where the best checkpoint goes (resolved by checkOutput).
  std::string bestCheckpointPath;
};

struct Options {
  std::string data, labels, labelColumn, validationData, validationLabels;
  std::string checkpoint, resume, history, output, earlyStopping;
  std::string lrSchedule, lrTrace, reduceLr, bestCheckpoint, bestMonitor;
  /// --class-weight, --sample-weight, --sample-weight-column, --plot.
  std::string classWeight, sampleWeight, sampleWeightColumn, plot;
  int64_t epochs = 1;
  double validationSplit = 0;
  /// --lr; unset: the checkpoint's (--resume), else the model's.
  std::optional<double> lr;
  bool shuffle = true, quiet = false;
  int threads = 0;
  bool seedGiven = false;
  uint64_t seed = 0;
};

/// A file name given to --NAME: an empty one is a usage error (an empty
/// --checkpoint used to train and write nothing).
std::string pathArgument(const char *text, const char *name) {
  if (!*text)
    throw UsageError(std::string("--") + name + " takes a file name, got ''");
  return text;
}

/// The value of --NAME, which must not be empty (an empty callback or
/// schedule option used to be ignored): `what` says what it takes.
std::string nonEmpty(const char *text, const char *name, const char *what) {
  if (!*text)
    throw UsageError(std::string("--") + name + " takes " + what + ", got ''");
  return text;
}

int64_t parseInt(const char *text, const char *option, int64_t min) {
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(text, &end, 10);
  if (errno || !*text || *end || v < min)
    throw UsageError(std::string("--") + option + " takes an integer >= " +
                     std::to_string(min) + ", got '" + text + "'");
  return v;
}
double parseDouble(const char *text, const char *option) {
  char *end = nullptr;
  double v = std::strtod(text, &end);
  if (!*text || *end || !std::isfinite(v))
    throw UsageError(std::string("--") + option + " takes a number, got '" +
                     text + "'");
  return v;
}

void printUsage(const std::string &program, const Manifest &m) {
  std::printf(
      "%s: the model '%s' (compiled by kilnc from %s)\n\n"
      "usage:\n"
      "  %s fit --data FILE [--labels FILE | --label-column NAME|INDEX]\n"
      "        [--epochs N] [--validation-split F | --validation-data FILE\n"
      "        [--validation-labels FILE]] [--no-shuffle] [--lr F]\n"
      "        [--checkpoint PATH] [--resume PATH] [--history PATH.csv|.json]\n"
      "        [--early-stopping METRIC:PATIENCE|METRIC:key=value,...]\n"
      "        [--lr-schedule CLASS:key=value,...|JSON] [--lr-trace PATH.csv]\n"
      "        [--reduce-lr-on-plateau METRIC[:key=value,...]]\n"
      "        [--best-checkpoint PATH [--best-monitor METRIC[:MODE]|\n"
      "        METRIC:key=value,...]]\n"
      "        [--class-weight CLASS:W,...|FILE.json | --sample-weight FILE |\n"
      "        --sample-weight-column NAME] [--plot PATH.svg|.png]\n"
      "        [--threads N] [--seed N] [--quiet]\n"
      "  %s evaluate --data FILE [--labels FILE | --label-column C]\n"
      "        [--sample-weight FILE | --sample-weight-column NAME]\n"
      "        [--checkpoint PATH] [--threads N] [--quiet]\n"
      "  %s predict --data FILE [--label-column C] [--checkpoint PATH]\n"
      "        --output FILE.csv|.npy [--threads N]\n"
      "  %s plot HISTORY.csv|.json -o OUT.svg|.png\n"
      "  %s export [--checkpoint PATH] --output "
      "FILE.onnx|FILE.keras|FILE.weights.h5\n"
      "  %s summary\n\n"
      "Data files: CSV with a header row, NPY (f32, f64, i32, i64, u8, bool;\n"
      "C order), or IDX (MNIST). Batch size %lld (fixed at compile time);\n"
      "the last partial batch counts exactly.%s\n",
      program.c_str(), m.name.c_str(), m.source.c_str(), program.c_str(),
      program.c_str(), program.c_str(), program.c_str(), program.c_str(),
      program.c_str(),
      static_cast<long long>(
          m.predict.tensors.empty()
              ? 0
              : m.predict.all(KILN_TENSOR_INPUT).front()->shape[0]),
      m.training ? ""
                 : "\nThis model was compiled without a loss: predict, "
                   "export and summary only.");
}

Options parseOptions(int argc, char **argv, const std::string &command) {
  enum {
    kData = 1000,
    kLabels,
    kLabelColumn,
    kEpochs,
    kValidationSplit,
    kValidationData,
    kValidationLabels,
    kNoShuffle,
    kLr,
    kCheckpoint,
    kResume,
    kHistory,
    kEarlyStopping,
    kLrSchedule,
    kLrTrace,
    kReduceLr,
    kBestCheckpoint,
    kBestMonitor,
    kThreads,
    kSeed,
    kOutput,
    kQuiet,
    kClassWeight,
    kSampleWeight,
    kSampleWeightColumn,
    kPlot,
    kHelp
  };
  static const option all[] = {
      {"data", required_argument, nullptr, kData},
      {"labels", required_argument, nullptr, kLabels},
      {"label-column", required_argument, nullptr, kLabelColumn},
      {"epochs", required_argument, nullptr, kEpochs},
      {"validation-split", required_argument, nullptr, kValidationSplit},
      {"validation-data", required_argument, nullptr, kValidationData},
      {"validation-labels", required_argument, nullptr, kValidationLabels},
      {"no-shuffle", no_argument, nullptr, kNoShuffle},
      {"lr", required_argument, nullptr, kLr},
      {"checkpoint", required_argument, nullptr, kCheckpoint},
      {"resume", required_argument, nullptr, kResume},
      {"history", required_argument, nullptr, kHistory},
      {"early-stopping", required_argument, nullptr, kEarlyStopping},
      {"lr-schedule", required_argument, nullptr, kLrSchedule},
      {"lr-trace", required_argument, nullptr, kLrTrace},
      {"reduce-lr-on-plateau", required_argument, nullptr, kReduceLr},
      {"best-checkpoint", required_argument, nullptr, kBestCheckpoint},
      {"best-monitor", required_argument, nullptr, kBestMonitor},
      {"threads", required_argument, nullptr, kThreads},
      {"seed", required_argument, nullptr, kSeed},
      {"output", required_argument, nullptr, kOutput},
      {"quiet", no_argument, nullptr, kQuiet},
      {"class-weight", required_argument, nullptr, kClassWeight},
      {"sample-weight", required_argument, nullptr, kSampleWeight},
      {"sample-weight-column", required_argument, nullptr, kSampleWeightColumn},
      {"plot", required_argument, nullptr, kPlot},
      {"help", no_argument, nullptr, kHelp},
      {nullptr, 0, nullptr, 0}};
  // Which options each command takes.
  auto allowed = [&](int id) {
    if (id == kHelp || id == kThreads)
      return true;
    if (command == "fit")
      return id != kOutput;
    if (command == "evaluate")
      return id == kData || id == kLabels || id == kLabelColumn ||
             id == kCheckpoint || id == kQuiet || id == kSampleWeight ||
             id == kSampleWeightColumn;
    if (command == "predict")
      return id == kData || id == kLabelColumn || id == kCheckpoint ||
             id == kOutput;
    if (command == "export")
      return id == kCheckpoint || id == kOutput;
    return false;
  };
  Options o;
  // 0, not 1: glibc then also resets its scan position, which otherwise
  // points into the argv of a previous call (kiln_cli_main called twice in
  // one process, as an embedding program or the fuzz harness does).
  optind = 0;
  opterr = 0;
  int id, index = 0;
  while ((id = getopt_long(argc, argv, "", all, &index)) != -1) {
    if (id == '?' || id == ':') {
      std::string arg = argv[optind - 1];
      throw UsageError(
          id == ':' ||
                  (optopt && arg.find('=') == std::string::npos && optopt != 0)
              ? "option '" + arg + "' needs a value"
              : "unknown option '" + arg + "' for '" + command + "'");
    }
    const char *name = all[index].name;
    for (const option &o2 : all)
      if (o2.val == id)
        name = o2.name;
    if (!allowed(id))
      throw UsageError("'" + command + "' does not take --" + name);
    switch (id) {
    case kData:
      o.data = pathArgument(optarg, "data");
      break;
    case kLabels:
      o.labels = pathArgument(optarg, "labels");
      break;
    case kLabelColumn:
      o.labelColumn = optarg;
      break;
    case kEpochs:
      o.epochs = parseInt(optarg, "epochs", 1);
      break;
    case kValidationSplit:
      o.validationSplit = parseDouble(optarg, "validation-split");
      if (o.validationSplit < 0 || o.validationSplit >= 1)
        throw UsageError("--validation-split takes a fraction in [0, 1), "
                         "got '" +
                         std::string(optarg) + "'");
      break;
    case kValidationData:
      o.validationData = pathArgument(optarg, "validation-data");
      break;
    case kValidationLabels:
      o.validationLabels = pathArgument(optarg, "validation-labels");
      break;
    case kNoShuffle:
      o.shuffle = false;
      break;
    case kLr:
      // The compiler's rule (compiler/TrainingConfig.cpp): finite and
      // >= 0; 0 takes no gradient step, as in PyTorch.
      o.lr = parseDouble(optarg, "lr");
      if (!(*o.lr >= 0))
        throw UsageError("--lr takes a finite non-negative number, got '" +
                         std::string(optarg) + "'");
      break;
    case kCheckpoint:
      o.checkpoint = pathArgument(optarg, "checkpoint");
      break;
    case kResume:
      o.resume = pathArgument(optarg, "resume");
      break;
    case kHistory:
      o.history = pathArgument(optarg, "history");
      if (!endsWith(o.history, ".csv") && !endsWith(o.history, ".json"))
        throw UsageError("--history takes a .csv or .json file name, got '" +
                         o.history + "'");
      break;
    case kEarlyStopping:
      o.earlyStopping = nonEmpty(optarg, "early-stopping", "a metric");
      break;
    case kLrSchedule:
      o.lrSchedule = nonEmpty(optarg, "lr-schedule", "a schedule");
      break;
    case kLrTrace:
      o.lrTrace = pathArgument(optarg, "lr-trace");
      break;
    case kReduceLr:
      o.reduceLr = nonEmpty(optarg, "reduce-lr-on-plateau", "a metric");
      break;
    case kBestCheckpoint:
      o.bestCheckpoint = pathArgument(optarg, "best-checkpoint");
      break;
    case kBestMonitor:
      o.bestMonitor = optarg;
      break;
    case kThreads:
      o.threads = static_cast<int>(
          std::min<int64_t>(parseInt(optarg, "threads", 1), INT32_MAX));
      if (o.threads > KILN_MAX_THREADS)
        throw UsageError("--threads takes at most " +
                         std::to_string(KILN_MAX_THREADS) + ", got '" +
                         std::string(optarg) + "'");
      break;
    case kSeed:
      o.seed = static_cast<uint64_t>(parseInt(optarg, "seed", 0));
      o.seedGiven = true;
      break;
    case kOutput:
      o.output = pathArgument(optarg, "output");
      break;
    case kQuiet:
      o.quiet = true;
      break;
    case kClassWeight:
      o.classWeight =
          nonEmpty(optarg, "class-weight", "CLASS:WEIGHT,... or a .json file");
      break;
    case kSampleWeight:
      o.sampleWeight = pathArgument(optarg, "sample-weight");
      break;
    case kSampleWeightColumn:
      o.sampleWeightColumn =
          nonEmpty(optarg, "sample-weight-column", "a CSV column name");
      break;
    case kPlot:
      o.plot = pathArgument(optarg, "plot");
      if (!endsWith(o.plot, ".svg") && !endsWith(o.plot, ".png"))
        throw UsageError("--plot takes a .svg or .png file name, got '" +
                         o.plot + "'");
      break;
    case kHelp:
      throw UsageError("");
    }
  }
  if (optind < argc)
    throw UsageError("unexpected argument '" + std::string(argv[optind]) + "'");
  if (command != "summary" && command != "export" && o.data.empty())
    throw UsageError("'" + command + "' needs --data FILE");
  if (!o.labels.empty() && !o.labelColumn.empty())
    throw UsageError("give --labels or --label-column, not both");
  if (o.validationSplit > 0 && !o.validationData.empty())
    throw UsageError("give --validation-split or --validation-data, not both");
  if (!o.validationLabels.empty() && o.validationData.empty())
    throw UsageError("--validation-labels needs --validation-data");
  if (o.lr && !o.lrSchedule.empty())
    throw UsageError("give --lr or --lr-schedule, not both");
  if (!o.bestMonitor.empty() && o.bestCheckpoint.empty())
    throw UsageError("--best-monitor needs --best-checkpoint PATH");
  if (!o.sampleWeight.empty() && !o.sampleWeightColumn.empty())
    throw UsageError(
        "give --sample-weight or --sample-weight-column, not both");
  // Keras 3 (ArrayDataAdapter): "You cannot `class_weight` and
  // `sample_weight` at the same time."
  if (!o.classWeight.empty() &&
      (!o.sampleWeight.empty() || !o.sampleWeightColumn.empty()))
    throw UsageError("give --class-weight or sample weights, not both "
                     "(Keras 3 fit refuses class_weight with sample_weight)");
  if (command == "predict") {
    if (o.output.empty())
      throw UsageError("'predict' needs --output FILE.csv or FILE.npy");
    if (!endsWith(o.output, ".csv") && !endsWith(o.output, ".npy"))
      throw UsageError("--output takes a .csv or .npy file name, got '" +
                       o.output + "'");
  }
  // export: one file per format, chosen by the output's extension.
  if (command == "export") {
    if (o.output.empty())
      throw UsageError("'export' needs --output FILE.onnx, FILE.keras or "
                       "FILE.weights.h5");
    // Keras 3 reads a weights-only file only under a `.weights.h5` name
    // (any other `.h5` goes to its Keras 2 reader, which needs a model).
    if (!endsWith(o.output, ".onnx") && !endsWith(o.output, ".keras") &&
        !endsWith(o.output, ".weights.h5"))
      throw UsageError("--output takes a .onnx, .keras or .weights.h5 file "
                       "name, got '" +
                       o.output + "'");
  }
  if ((command == "fit" || command == "evaluate") && o.labels.empty() &&
      o.labelColumn.empty())
    throw UsageError("'" + command +
                     "' needs labels: --labels FILE or --label-column NAME");
  return o;
}

int summary(const Manifest &m) {
  std::printf("Model: \"%s\" (from %s)\n", printable(m.name).c_str(),
              printable(m.source).c_str());
  const char *rule = "─────────────────────────────────────────────────"
                     "────────────────────────────";
  // Keras layers when the model records them; otherwise (ONNX, kiln IR)
  // one row per parameter.
  bool layers = !m.layers.empty();
  std::printf("%s\n %-36s %-24s %12s\n%s\n", rule,
              layers ? "Layer (type)" : "Parameter",
              layers ? "Output Shape" : "Shape", "Param #", rule);
  auto countOf = [&](const std::string &layer) {
    int64_t n = 0;
    for (const ParamInfo &p : m.params) {
      if (p.name.compare(0, layer.size() + 1, layer + "/") != 0)
        continue;
      int64_t c = 1;
      for (int64_t d : p.shape)
        c *= d;
      n += c;
    }
    return n;
  };
  auto shape = [](const std::vector<int64_t> &s) {
    std::string out = "(None";
    for (size_t i = 1; i < s.size(); ++i)
      out += ", " + std::to_string(s[i]);
    return out + (s.size() == 1 ? ",)" : ")");
  };
  if (!m.layers.empty()) {
    for (const LayerInfo &l : m.layers)
      std::printf(
          " %-36s %-24s %12lld\n", (l.name + " (" + l.className + ")").c_str(),
          shape(l.shape).c_str(), static_cast<long long>(countOf(l.name)));
  } else {
    // No layer records (ONNX, MLIR): one row per parameter.
    for (const ParamInfo &p : m.params) {
      int64_t c = 1;
      for (int64_t d : p.shape)
        c *= d;
      std::string s = "[";
      for (size_t i = 0; i < p.shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(p.shape[i]);
      std::printf(" %-36s %-24s %12lld\n", p.name.c_str(), (s + "]").c_str(),
                  static_cast<long long>(c));
    }
  }
  std::printf("%s\n", rule);
  std::printf(" Total params: %lld\n Trainable params: %lld\n Non-trainable "
              "params: %lld\n",
              static_cast<long long>(m.paramCount),
              static_cast<long long>(m.trainableParamCount),
              static_cast<long long>(m.paramCount - m.trainableParamCount));
  const TensorInfo *input = m.predict.all(KILN_TENSOR_INPUT).front();
  std::printf(" Batch size: %lld (compile time)\n",
              static_cast<long long>(input->shape[0]));
  if (m.training) {
    std::printf(" Training: loss %s%s, optimizer %s (learning rate %g%s%s)",
                m.loss.c_str(), m.fromLogits ? " (from logits)" : "",
                m.optimizer.c_str(), m.learningRate,
                m.schedule ? ", schedule " : "",
                m.schedule ? m.schedule->className.c_str() : "");
    for (size_t i = 0; i < m.metrics.size(); ++i)
      std::printf("%s%s", i ? ", " : ", metrics ", m.metrics[i].name.c_str());
    std::printf("\n");
  } else {
    std::printf(" Inference only (compiled without a loss)\n");
  }
  if (m.training)
    std::printf(" FLOPs: %.3g per train step, %.3g per predict batch\n",
                m.trainStepFlops, m.predictFlops);
  else
    std::printf(" FLOPs: %.3g per batch\n", m.predictFlops);
  return 0;
}

void saveCheckpoint(const Session &session, const std::string &path,
                    const History &history, const FitState &state) {
  auto number = [](double v) {
    char text[64];
    std::snprintf(text, sizeof text, "%.17g", v);
    return std::string(text);
  };
  // learning_rate: the rate of the next step (a schedule's at the current
  // step counter); lr_schedule: the schedule, which a resumed run follows.
  std::map<std::string, std::string> extra = {
      {"history", history.serialized()},
      {"learning_rate", number(state.lr.at(session.iterations()))}};
  if (state.lr.schedule)
    extra["lr_schedule"] = state.lr.schedule->json();
  // A best value is a string (%.17g, "nan" or "inf" included) or null
  // (Keras' None: no value yet).
  auto best = [&](const std::optional<double> &b) {
    return b ? json(number(*b)) : json(nullptr);
  };
  if (const callbacks::EarlyStopping *e = state.stopping.get())
    extra["early_stopping"] = json{
        {"monitor", e->monitor.name},
        {"best", best(e->best)},
        {"best_epoch", e->bestEpoch},
        {"wait", e->wait}}.dump();
  if (const callbacks::ReduceLrOnPlateau *r = state.reduceLr.get())
    extra["reduce_lr_on_plateau"] = json{
        {"monitor", r->monitor.name},
        {"best", best(r->best)},
        {"wait", r->wait},
        {"cooldown_counter",
         r->cooldownCounter}}.dump();
  if (const callbacks::BestCheckpoint *b = state.bestCheckpoint.get())
    extra["best_checkpoint"] =
        json{{"monitor", b->monitor.name}, {"best", best(b->best)}}.dump();
  session.save(path, extra);
}

/// Splits a callback option "MONITOR[:key=value,...]" into the monitor and
/// its arguments; `bare` names the argument a lone value after the colon
/// stands for (--early-stopping val_loss:3 is patience 3), or is null.
std::pair<std::string, std::map<std::string, std::string>>
callbackArguments(const std::string &text, const std::string &option,
                  const std::vector<std::string> &keys, const char *bare) {
  size_t colon = text.find(':');
  std::string monitor = text.substr(0, colon);
  std::map<std::string, std::string> args;
  if (colon == std::string::npos)
    return {monitor, args};
  std::string rest = text.substr(colon + 1);
  if (bare && rest.find('=') == std::string::npos) {
    args[bare] = rest;
    return {monitor, args};
  }
  std::stringstream items(rest);
  std::string item;
  while (std::getline(items, item, ',')) {
    size_t equals = item.find('=');
    std::string key = item.substr(0, equals);
    if (equals == std::string::npos ||
        std::find(keys.begin(), keys.end(), key) == keys.end()) {
      std::string list;
      for (const std::string &k : keys)
        list += (list.empty() ? "" : ", ") + k;
      throw UsageError(option + ": '" + item +
                       "' is not key=value with a key of " + list);
    }
    if (!args.emplace(key, item.substr(equals + 1)).second)
      throw UsageError(option + ": '" + key + "' is given twice");
  }
  return {monitor, args};
}

Mode parseMode(const std::string &text, const std::string &option) {
  if (text == "auto")
    return Mode::Auto;
  if (text == "min")
    return Mode::Min;
  if (text == "max")
    return Mode::Max;
  throw UsageError(option + ": mode must be auto, min or max, got '" + text +
                   "'");
}

bool parseBool(const std::string &text, const std::string &what) {
  if (text == "true" || text == "1")
    return true;
  if (text == "false" || text == "0")
    return false;
  throw UsageError(what + " takes true or false, got '" + text + "'");
}

/// The value of `name` among an epoch's training and validation metrics.
std::optional<double> monitored(const std::string &name, const Metrics &trained,
                                const Metrics &validated) {
  for (const auto &[metric, v] : trained)
    if (metric == name)
      return v;
  for (const auto &[metric, v] : validated)
    if ("val_" + metric == name)
      return v;
  return std::nullopt;
}

/// --class-weight: "CLASS:WEIGHT,..." (e.g. 0:1,1:3.5), a JSON object
/// {"0": 1, "1": 3.5} (Keras' class_weight dict), or a .json file holding
/// one. Class ids are integers; a class given twice or a weight that is
/// negative or not a finite number is a usage error.
std::map<int64_t, double> parseClassWeights(const std::string &spec) {
  std::map<int64_t, double> out;
  auto add = [&](const std::string &key, double weight,
                 const std::string &where) {
    char *end = nullptr;
    errno = 0;
    long long id = std::strtoll(key.c_str(), &end, 10);
    if (key.empty() || *end || errno)
      throw UsageError("--class-weight" + where + ": class '" + key +
                       "' is not an integer class id");
    if (!std::isfinite(weight) || weight < 0)
      throw UsageError("--class-weight" + where + ": the weight of class " +
                       key + " is not a finite number >= 0");
    if (!out.emplace(id, weight).second)
      throw UsageError("--class-weight" + where + ": class " + key +
                       " is given twice");
  };
  bool isFile = endsWith(spec, ".json");
  if (isFile || (!spec.empty() && spec[0] == '{')) {
    std::string text = spec, where;
    if (isFile) {
      checkInput(spec, "--class-weight");
      std::ifstream in(spec, std::ios::binary);
      text.assign(std::istreambuf_iterator<char>(in),
                  std::istreambuf_iterator<char>());
      where = " " + spec;
    }
    // A JSON object keeps the last of duplicated keys (RFC 8259 leaves it
    // open); Python's dict would too, but a class given twice is a mistake,
    // so the keys of the top-level object are collected while parsing.
    std::set<std::string> keys, duplicated;
    json value = json::parse(
        text,
        [&](int depth, json::parse_event_t event, json &parsed) {
          if (event == json::parse_event_t::key && depth == 1 &&
              parsed.is_string() &&
              !keys.insert(parsed.get<std::string>()).second)
            duplicated.insert(parsed.get<std::string>());
          return true;
        },
        false);
    if (value.is_discarded() || !value.is_object())
      throw UsageError("--class-weight" + where +
                       ": not a JSON object of class ids to weights");
    if (!duplicated.empty()) {
      std::string list;
      for (const std::string &key : duplicated)
        list += (list.empty() ? "" : ", ") + key;
      throw UsageError("--class-weight" + where +
                       (duplicated.size() == 1 ? ": class " : ": classes ") +
                       list + (duplicated.size() == 1 ? " is" : " are") +
                       " given twice (a JSON object key appears more than "
                       "once)");
    }
    for (const auto &[key, weight] : value.items()) {
      if (!weight.is_number())
        throw UsageError("--class-weight" + where + ": the weight of class " +
                         key + " is not a number");
      add(key, weight.get<double>(), where);
    }
    return out;
  }
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    std::string item = spec.substr(
        start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t colon = item.find(':');
    if (colon == std::string::npos)
      throw UsageError("--class-weight takes CLASS:WEIGHT,... (e.g. "
                       "0:1,1:3.5) or a .json file, got '" +
                       spec + "'");
    std::string weightText = item.substr(colon + 1);
    char *end = nullptr;
    double weight = std::strtod(weightText.c_str(), &end);
    if (weightText.empty() || *end)
      throw UsageError("--class-weight: '" + weightText +
                       "' is not a number (in '" + item + "')");
    add(item.substr(0, colon), weight, "");
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return out;
}

/// Sets data.w from --sample-weight-column (`column`, loaded with the data)
/// or the --sample-weight file (applied to the --data file only).
void attachSampleWeights(Session &session, Data &data, const Options &o,
                         const std::string &dataPath, const ArrayPtr &column,
                         bool useFile) {
  if (column) {
    // The column is read from CSV only (loadData checks).
    session.setSampleWeights(data, *column, dataPath, o.sampleWeightColumn,
                             /*csvRows=*/true);
  } else if (useFile && !o.sampleWeight.empty()) {
    auto [w, unused] = loadData(o.sampleWeight, "", "");
    session.setSampleWeights(data, *w, o.sampleWeight, "",
                             detect(o.sampleWeight) == Format::Csv);
  }
}

int fit(Session &session, const Options &o) {
  const Manifest &m = session.manifest();
  std::vector<std::string> inputs = {o.data, o.labels, o.validationData,
                                     o.validationLabels, o.sampleWeight};
  // Every output differs from the inputs and from the other outputs (the
  // checkpoint may be the --resume file).
  std::string checkpointPath, historyPath, tracePath, bestPath, plotPath;
  {
    auto outputsBut = [&](const std::string &self) {
      std::vector<std::string> others = inputs;
      for (const std::string *p :
           {&o.checkpoint, &o.history, &o.lrTrace, &o.bestCheckpoint, &o.plot})
        if (p != &self && !p->empty())
          others.push_back(*p);
      if (&self != &o.checkpoint)
        others.push_back(o.resume);
      return others;
    };
    if (!o.checkpoint.empty())
      checkpointPath =
          checkOutput(o.checkpoint, "--checkpoint", outputsBut(o.checkpoint));
    if (!o.history.empty())
      historyPath = checkOutput(o.history, "--history", outputsBut(o.history));
    if (!o.lrTrace.empty())
      tracePath = checkOutput(o.lrTrace, "--lr-trace", outputsBut(o.lrTrace));
    if (!o.bestCheckpoint.empty())
      bestPath = checkOutput(o.bestCheckpoint, "--best-checkpoint",
                             outputsBut(o.bestCheckpoint));
    if (!o.plot.empty())
      plotPath = checkOutput(o.plot, "--plot", outputsBut(o.plot));
  }
  std::map<int64_t, double> classWeights;
  if (!o.classWeight.empty())
    classWeights = parseClassWeights(o.classWeight);
  ArrayPtr weightColumn(nullptr, kiln_array_destroy);
  auto [x, y] = loadData(o.data, o.labels, o.labelColumn, o.sampleWeightColumn,
                         &weightColumn);
  if (!y)
    fail(o.data + ": no labels (give --labels FILE or --label-column NAME)");
  Data all = session.makeData(x.get(), y.get(), o.data, o.labels);
  x.reset();
  y.reset();
  // Keras: sample weights are split with --validation-split; class weights
  // apply to the training samples only.
  attachSampleWeights(session, all, o, o.data, weightColumn, true);
  Data train, validation;
  if (!o.validationData.empty()) {
    ArrayPtr validationWeights(nullptr, kiln_array_destroy);
    auto [vx, vy] = loadData(o.validationData, o.validationLabels,
                             o.validationLabels.empty() ? o.labelColumn : "",
                             o.sampleWeightColumn, &validationWeights);
    if (!vy)
      fail(o.validationData +
           ": no labels (give --validation-labels FILE, or a CSV with the "
           "--label-column)");
    validation = session.makeData(vx.get(), vy.get(), o.validationData,
                                  o.validationLabels);
    attachSampleWeights(session, validation, o, o.validationData,
                        validationWeights, false);
    if (validation.n == 0)
      fail(o.validationData + ": no validation samples");
    train = std::move(all);
  } else if (o.validationSplit > 0) {
    // Keras: the last fraction of the samples, before shuffling.
    int64_t split = static_cast<int64_t>(static_cast<double>(all.n) *
                                         (1.0 - o.validationSplit));
    train = session.slice(all, 0, split);
    validation = session.slice(all, split, all.n);
  } else {
    train = std::move(all);
  }
  if (train.n == 0)
    fail(o.data + ": no training samples" +
         (o.validationSplit > 0 ? " left by --validation-split" : ""));
  if (o.validationSplit > 0 && validation.n == 0)
    fail(o.data + ": --validation-split leaves no validation samples");
  if (!classWeights.empty())
    session.applyClassWeights(train, classWeights);

  // The names a callback may monitor: the logged loss and metrics.
  std::vector<std::string> known;
  for (const std::string &name : session.metricNames()) {
    known.push_back(name);
    if (validation.n > 0)
      known.push_back("val_" + name);
  }
  auto checkMonitor = [&](const std::string &option,
                          const std::string &monitor) {
    if (std::find(known.begin(), known.end(), monitor) != known.end())
      return;
    std::string list;
    for (const std::string &k : known)
      list += (list.empty() ? "" : ", ") + k;
    throw UsageError(option + ": unknown metric '" + monitor +
                     "' (this run has: " + list + ")");
  };
  // The direction of a monitor; mode auto follows Keras' MonitorCallback.
  auto minimizes = [&](Mode mode, const std::string &option,
                       const std::string &monitor) {
    if (mode != Mode::Auto)
      return mode == Mode::Min;
    if (std::optional<bool> minimize = autoMinimizes(m, monitor))
      return *minimize;
    throw UsageError(option + ": cannot tell whether '" + monitor +
                     "' should be minimized or maximized; give mode=min or "
                     "mode=max");
  };
  // min_delta, baseline, ...: finite numbers (Keras takes abs(min_delta)).
  auto number = [](const std::string &value, const std::string &what) {
    return parseDouble(value.c_str(), what.c_str());
  };

  History history;
  FitState state;
  if (!o.earlyStopping.empty()) {
    auto [monitor, args] =
        callbackArguments(o.earlyStopping, "--early-stopping",
                          {"patience", "min_delta", "mode", "baseline",
                           "restore_best_weights", "start_from_epoch"},
                          "patience");
    if (o.earlyStopping.find(':') == std::string::npos)
      throw UsageError("--early-stopping takes METRIC:PATIENCE or "
                       "METRIC:key=value,..., e.g. val_loss:3");
    checkMonitor("--early-stopping", monitor);
    auto stopping = std::make_unique<callbacks::EarlyStopping>();
    stopping->monitor.name = monitor;
    Mode mode = Mode::Auto;
    for (const auto &[key, value] : args) {
      if (key == "patience")
        stopping->patience =
            parseInt(value.c_str(), "early-stopping patience", 0);
      else if (key == "min_delta")
        stopping->monitor.minDelta =
            std::fabs(number(value, "early-stopping min_delta"));
      else if (key == "mode")
        mode = parseMode(value, "--early-stopping");
      else if (key == "baseline")
        stopping->baseline = number(value, "early-stopping baseline");
      else if (key == "restore_best_weights")
        stopping->restoreBestWeights =
            parseBool(value, "--early-stopping restore_best_weights");
      else if (key == "start_from_epoch")
        stopping->startFromEpoch =
            parseInt(value.c_str(), "early-stopping start_from_epoch", 0);
    }
    stopping->monitor.minimize = minimizes(mode, "--early-stopping", monitor);
    state.stopping = std::move(stopping);
  }
  if (!o.reduceLr.empty()) {
    auto [monitor, args] = callbackArguments(
        o.reduceLr, "--reduce-lr-on-plateau",
        {"factor", "patience", "min_delta", "cooldown", "min_lr", "mode"},
        nullptr);
    checkMonitor("--reduce-lr-on-plateau", monitor);
    auto reduce = std::make_unique<callbacks::ReduceLrOnPlateau>();
    reduce->monitor.name = monitor;
    Mode mode = Mode::Auto;
    for (const auto &[key, value] : args) {
      const char *c = value.c_str();
      if (key == "factor")
        reduce->factor = parseDouble(c, "reduce-lr-on-plateau factor");
      else if (key == "patience")
        reduce->patience = parseInt(c, "reduce-lr-on-plateau patience", 0);
      else if (key == "min_delta")
        reduce->monitor.minDelta =
            std::fabs(parseDouble(c, "reduce-lr-on-plateau min_delta"));
      else if (key == "cooldown")
        reduce->cooldown = parseInt(c, "reduce-lr-on-plateau cooldown", 0);
      else if (key == "min_lr")
        reduce->minLr = parseDouble(c, "reduce-lr-on-plateau min_lr");
      else if (key == "mode")
        mode = parseMode(value, "--reduce-lr-on-plateau");
    }
    // Keras refuses factor >= 1; a negative factor would make the rate
    // negative (then min_lr), so kiln refuses it too.
    if (!(reduce->factor >= 0 && reduce->factor < 1))
      throw UsageError("--reduce-lr-on-plateau: factor must be in [0, 1) "
                       "(new_lr = lr * factor), got " +
                       args["factor"]);
    if (!(reduce->minLr >= 0))
      throw UsageError("--reduce-lr-on-plateau: min_lr must be >= 0, got " +
                       args["min_lr"]);
    reduce->monitor.minimize =
        minimizes(mode, "--reduce-lr-on-plateau", monitor);
    state.reduceLr = std::move(reduce);
  }
  if (!o.bestCheckpoint.empty()) {
    auto best = std::make_unique<callbacks::BestCheckpoint>();
    state.bestCheckpointPath = bestPath;
    Mode mode = Mode::Auto;
    std::string option = "--best-monitor";
    if (!o.bestMonitor.empty()) {
      auto [monitor, args] = callbackArguments(
          o.bestMonitor, option, {"mode", "initial_value_threshold"}, "mode");
      best->monitor.name = monitor;
      for (const auto &[key, value] : args) {
        if (key == "mode")
          mode = parseMode(value, option);
        else if (key == "initial_value_threshold")
          best->best = number(value, "best-monitor initial_value_threshold");
      }
    } else {
      option = "--best-checkpoint (monitoring val_loss, Keras' default; give "
               "--best-monitor METRIC)";
    }
    checkMonitor(option, best->monitor.name);
    best->monitor.minimize = minimizes(mode, option, best->monitor.name);
    state.bestCheckpoint = std::move(best);
  }

  // The learning rate: --lr, --lr-schedule, else (on --resume) the
  // checkpoint's, else the model's rate or schedule.
  state.lr = LearningRate(o.lr ? *o.lr : m.learningRate);
  if (!o.lrSchedule.empty()) {
    try {
      state.lr.schedule =
          parseLearningRateSchedule(o.lrSchedule, "--lr-schedule");
    } catch (const std::runtime_error &e) {
      throw UsageError(e.what());
    }
  } else if (!o.lr) {
    state.lr.schedule = m.schedule;
  }
  if (!o.resume.empty()) {
    checkInput(o.resume, "--resume");
    if (o.seedGiven && !o.quiet)
      std::fprintf(stderr,
                   "%s fit: note: --seed is not used with --resume: "
                   "shuffling continues with the checkpoint's seed\n",
                   programName.c_str());
    std::map<std::string, std::string> meta = session.load(o.resume);
    if (meta.count("history"))
      history.restore(meta["history"]);
    // The run continues at the checkpoint's learning rate or schedule
    // unless --lr or --lr-schedule says otherwise.
    if (!o.lr && o.lrSchedule.empty()) {
      if (meta.count("lr_schedule")) {
        state.lr.schedule = parseLearningRateSchedule(
            meta["lr_schedule"], o.resume + ": metadata 'lr_schedule'");
      } else if (meta.count("learning_rate")) {
        char *end = nullptr;
        double saved = std::strtod(meta["learning_rate"].c_str(), &end);
        if (end && !*end && std::isfinite(saved) && saved >= 0) {
          state.lr.constant = saved;
          state.lr.schedule.reset();
        }
      }
    }
    // Callback state saved for the same monitor continues; a best of null
    // is Keras' None.
    auto restored = [&](const char *key, const std::string &monitor,
                        std::optional<double> *best) {
      json saved =
          meta.count(key) ? json::parse(meta[key], nullptr, false) : json();
      if (!saved.is_object() || saved.value("monitor", "") != monitor ||
          !saved.contains("best") ||
          !(saved["best"].is_string() || saved["best"].is_null()))
        return json();
      if (saved["best"].is_null())
        best->reset();
      else
        *best = std::strtod(saved["best"].get<std::string>().c_str(), nullptr);
      return saved;
    };
    auto counter = [](const json &saved, const char *key) {
      const json &v = saved.contains(key) ? saved[key] : json();
      return v.is_number_integer() ? v.get<int64_t>() : int64_t(0);
    };
    if (callbacks::EarlyStopping *e = state.stopping.get()) {
      json saved = restored("early_stopping", e->monitor.name, &e->best);
      if (!saved.is_null()) {
        e->bestEpoch = counter(saved, "best_epoch");
        e->wait = counter(saved, "wait");
      }
    }
    if (callbacks::ReduceLrOnPlateau *r = state.reduceLr.get()) {
      json saved = restored("reduce_lr_on_plateau", r->monitor.name, &r->best);
      if (!saved.is_null()) {
        r->wait = counter(saved, "wait");
        r->cooldownCounter = counter(saved, "cooldown_counter");
      }
    }
    if (callbacks::BestCheckpoint *b = state.bestCheckpoint.get())
      restored("best_checkpoint", b->monitor.name, &b->best);
    if (!o.quiet)
      // The optimizer's step counter: it also counts the steps of a Keras
      // optimizer state the model was compiled with.
      std::printf("Resumed from %s: %lld epoch(s) done, step %lld\n",
                  o.resume.c_str(), static_cast<long long>(session.epoch),
                  static_cast<long long>(session.iterations()));
  }
  // Keras: an optimizer whose learning rate is a schedule has no settable
  // rate for ReduceLROnPlateau to lower.
  if (state.reduceLr && state.lr.schedule)
    throw UsageError("--reduce-lr-on-plateau cannot lower a learning rate "
                     "that follows the " +
                     state.lr.schedule->className +
                     " schedule (Keras refuses it too); give --lr F to "
                     "train at a constant rate");
  int64_t resumedEpoch = o.resume.empty() ? -1 : session.epoch;
  if (session.needsAdapt())
    session.adapt(train);
  // Data-parallel: every process starts from process 0's parameters.
  session.broadcastState();

  // --lr-trace: the rate of every step of this run, by the optimizer's
  // step counter.
  std::string trace = "iteration,learning_rate\n";
  if (!tracePath.empty())
    session.onStep = [&](int64_t iteration, double rate) {
      char line[64];
      std::snprintf(line, sizeof line, "%lld,%.9g\n",
                    static_cast<long long>(iteration), rate);
      trace += line;
    };

  interruptRequested = 0;
  session.interrupt = &interruptRequested;
  std::signal(SIGINT, onInterrupt);
  std::signal(SIGTERM, onInterrupt);
  for (int64_t epoch = session.epoch + 1; epoch <= o.epochs; ++epoch) {
    if (!o.quiet)
      std::printf("Epoch %lld/%lld\n", static_cast<long long>(epoch),
                  static_cast<long long>(o.epochs));
    ProgressLine line(!o.quiet);
    line.start();
    Metrics trained;
    // The rate of this epoch's steps, as Keras logs it (its float32
    // variable) with ReduceLROnPlateau.
    double epochRate = static_cast<float>(state.lr.constant);
    try {
      trained = session.trainEpoch(
          train, epoch, o.shuffle, state.lr,
          [&](int64_t step, int64_t steps, const Metrics &metrics) {
            line.update(step, steps, metrics);
          });
    } catch (const NonFiniteLoss &stop) {
      std::fflush(stdout);
      std::fprintf(stderr, "\n%s fit: error: %s\n", programName.c_str(),
                   stop.what());
      if (!o.checkpoint.empty() && session.epoch > 0)
        std::fprintf(
            stderr, "The last good checkpoint, %s, holds epoch %lld.\n",
            o.checkpoint.c_str(), static_cast<long long>(session.epoch));
      return 1;
    } catch (const Interrupted &stop) {
      std::fflush(stdout);
      std::fprintf(stderr, "\n%s fit: %s\n", programName.c_str(), stop.what());
      if (!o.checkpoint.empty() && session.epoch > 0)
        std::fprintf(stderr,
                     "The checkpoint %s holds epoch %lld; continue with "
                     "--resume %s.\n",
                     o.checkpoint.c_str(),
                     static_cast<long long>(session.epoch),
                     o.checkpoint.c_str());
      return 130;
    }
    Metrics validated;
    if (validation.n > 0)
      validated = session.evaluate(validation, nullptr);
    double seconds = line.elapsed();
    int64_t steps =
        (train.n + session.globalBatchSize() - 1) / session.globalBatchSize();
    line.finish(steps,
                formatMetrics(trained, "") + formatMetrics(validated, "val_"));
    session.epoch = epoch;
    Metrics logged = trained;
    if (state.reduceLr)
      logged.push_back({"learning_rate", epochRate});
    history.add(epoch, logged, validated, seconds);
    bool stop = false;
    if (callbacks::EarlyStopping *e = state.stopping.get()) {
      // After a --resume the best epoch's weights may be older than this
      // run (bestEpoch restored, no snapshot): they stay unavailable
      // rather than being replaced by a later epoch's.
      bool haveWeights = !state.bestWeights.empty() || e->bestEpoch > 0;
      callbacks::EarlyStopping::Decision d = e->update(
          epoch, monitored(e->monitor.name, trained, validated).value_or(NAN),
          haveWeights);
      if (d.snapshotWeights) {
        state.bestWeights = session.paramsSnapshot();
        state.bestWeightsEpoch = epoch;
      }
      stop = d.stop;
    }
    if (callbacks::ReduceLrOnPlateau *r = state.reduceLr.get()) {
      double value =
          monitored(r->monitor.name, trained, validated).value_or(NAN);
      if (r->update(value, &state.lr.constant) && !o.quiet)
        std::printf("Epoch %lld: ReduceLROnPlateau reducing learning rate "
                    "to %.9g.\n",
                    static_cast<long long>(epoch), state.lr.constant);
    }
    if (callbacks::BestCheckpoint *b = state.bestCheckpoint.get())
      if (b->update(
              monitored(b->monitor.name, trained, validated).value_or(NAN)))
        saveCheckpoint(session, state.bestCheckpointPath, history, state);
    if (!checkpointPath.empty())
      saveCheckpoint(session, checkpointPath, history, state);
    if (!historyPath.empty())
      writeTextAtomically(historyPath, endsWith(o.history, ".json")
                                           ? history.toJson()
                                           : history.csv());
    if (!tracePath.empty())
      writeTextAtomically(tracePath, trace);
    if (!plotPath.empty())
      writeTextAtomically(
          plotPath, plotCurves(history.curves(), endsWith(o.plot, ".svg")));
    if (stop) {
      const callbacks::EarlyStopping &e = *state.stopping;
      if (!o.quiet)
        std::printf("Epoch %lld: early stopping: %s did not improve for %lld "
                    "epochs (best %.4f at epoch %lld)\n",
                    static_cast<long long>(epoch), e.monitor.name.c_str(),
                    static_cast<long long>(e.wait), e.best.value_or(NAN),
                    static_cast<long long>(e.bestEpoch));
      break;
    }
  }
  // EarlyStopping(restore_best_weights=True) puts the best epoch's
  // parameters back when training ends, stopped early or not; the
  // checkpoint then holds them (with the last epoch's optimizer state and
  // counters, the state of a Keras model after fit).
  if (callbacks::EarlyStopping *e = state.stopping.get();
      e && e->restoreBestWeights && e->bestEpoch > 0 &&
      resumedEpoch < o.epochs) {
    if (state.bestWeightsEpoch == e->bestEpoch) {
      if (e->bestEpoch != session.epoch) {
        session.restoreParams(state.bestWeights);
        if (!o.quiet)
          std::printf("Restoring model weights from the end of the best "
                      "epoch: %lld.\n",
                      static_cast<long long>(e->bestEpoch));
        if (!checkpointPath.empty())
          saveCheckpoint(session, checkpointPath, history, state);
      }
    } else if (!o.quiet) {
      std::fprintf(stderr,
                   "%s fit: note: the best epoch (%lld) came before the "
                   "--resume; its weights are not in the checkpoint, so "
                   "the last weights are kept\n",
                   programName.c_str(), static_cast<long long>(e->bestEpoch));
    }
  }
  if (Parallel *p = session.parallel(); p && p->active() && !o.quiet)
    std::fprintf(stderr,
                 "Data-parallel: %d processes (%s), global batch %lld; "
                 "%lld allreduces summed %.3f MB in %.3f s\n",
                 p->size(), p->library().c_str(),
                 static_cast<long long>(session.globalBatchSize()), p->sumCalls,
                 p->sumBytes / 1e6, p->sumSeconds);
  if (resumedEpoch >= o.epochs && !o.quiet)
    std::printf("Nothing to do: the checkpoint already holds %lld epochs "
                "(--epochs %lld)\n",
                static_cast<long long>(resumedEpoch),
                static_cast<long long>(o.epochs));
  return 0;
}

int evaluate(Session &session, const Options &o) {
  checkInput(o.checkpoint, "--checkpoint");
  if (!o.checkpoint.empty())
    session.load(o.checkpoint);
  checkInput(o.sampleWeight, "--sample-weight");
  ArrayPtr weightColumn(nullptr, kiln_array_destroy);
  auto [x, y] = loadData(o.data, o.labels, o.labelColumn, o.sampleWeightColumn,
                         &weightColumn);
  if (!y)
    fail(o.data + ": no labels (give --labels FILE or --label-column NAME)");
  Data data = session.makeData(x.get(), y.get(), o.data, o.labels);
  if (data.n == 0)
    fail(o.data + ": no samples to evaluate");
  attachSampleWeights(session, data, o, o.data, weightColumn, true);
  ProgressLine line(!o.quiet);
  line.start();
  Metrics metrics = session.evaluate(
      data, [&](int64_t step, int64_t steps, const Metrics &m) {
        line.update(step, steps, m);
      });
  line.finish((data.n + session.batchSize() - 1) / session.batchSize(),
              formatMetrics(metrics, ""));
  if (o.quiet) {
    std::string text = formatMetrics(metrics, "");
    std::printf("%s\n", text.size() > 3 ? text.c_str() + 3 : text.c_str());
  }
  return 0;
}

int exportKeras(Session &session, const Options &o);

/// prog export: the trained model in the format of --output's extension
/// (.onnx: the inference graph with the parameters as initializers,
/// ExportOnnx.h; .keras / .h5: the Keras 3 layout, exportKeras). Nothing
/// is written when the model has no such form.
int exportModel(Session &session, const kiln_model_t *model, const Options &o) {
  if (!endsWith(o.output, ".onnx"))
    return exportKeras(session, o);
  std::string outputPath = checkOutput(o.output, "--output", {o.checkpoint});
  checkInput(o.checkpoint, "--checkpoint");
  if (!o.checkpoint.empty())
    session.load(o.checkpoint);
  std::string bytes = onnxModelBytes(model, session);
  writeTextAtomically(outputPath, bytes);
  std::fprintf(stderr, "export: wrote %s (ONNX, %zu bytes)\n", o.output.c_str(),
               bytes.size());
  return 0;
}

int predict(Session &session, const Options &o) {
  std::string outputPath =
      checkOutput(o.output, "--output", {o.data, o.checkpoint});
  checkInput(o.checkpoint, "--checkpoint");
  if (!o.checkpoint.empty())
    session.load(o.checkpoint);
  // With --label-column, a CSV's label column is dropped (not used).
  auto [x, unused] = loadData(o.data, "", o.labelColumn);
  Data data = session.makeData(x.get(), nullptr, o.data);
  if (data.n == 0)
    fail(o.data + ": no samples to predict");
  auto start = std::chrono::steady_clock::now();
  kiln_dtype_t dtype;
  std::vector<int64_t> shape;
  std::vector<unsigned char> values =
      session.predict(data, &dtype, &shape, nullptr);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (endsWith(o.output, ".npy")) {
    kiln_array_t array = {};
    array.dtype = dtype;
    array.rank = static_cast<int32_t>(shape.size());
    for (size_t i = 0; i < shape.size(); ++i)
      array.shape[i] = shape[i];
    array.data = values.data();
    array.nbytes = values.size();
    char error[1024] = "";
    if (kiln_npy_save(outputPath.c_str(), &array, error, sizeof error) !=
        KILN_OK)
      fail(error);
  } else {
    int64_t per = 1;
    for (size_t i = 1; i < shape.size(); ++i)
      per *= shape[i];
    const std::string name =
        session.manifest().predict.all(KILN_TENSOR_OUTPUT).front()->name;
    std::ostringstream out;
    for (int64_t j = 0; j < per; ++j)
      out << (j ? "," : "") << name << (per > 1 ? "_" + std::to_string(j) : "");
    out << "\n";
    size_t size = kiln_dtype_size(dtype);
    char buffer[64];
    for (int64_t i = 0; i < data.n; ++i) {
      for (int64_t j = 0; j < per; ++j) {
        const unsigned char *p = values.data() + (i * per + j) * size;
        double v;
        if (dtype == KILN_DTYPE_F64) {
          std::memcpy(&v, p, 8);
          std::snprintf(buffer, sizeof buffer, "%.17g", v);
        } else {
          float f;
          std::memcpy(&f, p, 4);
          std::snprintf(buffer, sizeof buffer, "%.9g", f);
        }
        out << (j ? "," : "") << buffer;
      }
      out << "\n";
    }
    writeTextAtomically(outputPath, out.str());
  }
  std::fprintf(stderr,
               "predict: %lld samples in %.3f s (%.0f samples/s), wrote %s\n",
               static_cast<long long>(data.n), seconds,
               seconds > 0 ? data.n / seconds : 0.0, o.output.c_str());
  return 0;
}
/// `prog plot HISTORY.csv|.json -o OUT.svg|.png`: draws a history written
/// by fit --history (Plot.h). Needs no model.
int plotCommand(const std::string &program, int argc, char **argv) {
  std::string input, output;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-o" || arg == "--output") {
      if (i + 1 >= argc)
        throw UsageError("option '" + arg + "' needs a value");
      output = pathArgument(argv[++i], "output");
    } else if (arg.compare(0, 9, "--output=") == 0) {
      output = pathArgument(argv[i] + 9, "output");
    } else if (arg == "--help" || arg == "-h") {
      std::printf("usage: %s plot HISTORY.csv|.json -o OUT.svg|.png\n",
                  program.c_str());
      return 0;
    } else if (!arg.empty() && arg[0] == '-') {
      throw UsageError("unknown option '" + arg + "' for 'plot'");
    } else if (input.empty()) {
      input = arg;
    } else {
      throw UsageError("unexpected argument '" + arg + "'");
    }
  }
  if (input.empty())
    throw UsageError("'plot' needs a history file (written by fit --history)");
  if (output.empty())
    throw UsageError("'plot' needs -o FILE.svg or FILE.png");
  if (!endsWith(output, ".svg") && !endsWith(output, ".png"))
    throw UsageError("-o takes a .svg or .png file name, got '" + output + "'");
  checkInput(input, "history");
  std::string outputPath = checkOutput(output, "-o", {input});
  Curves curves = readHistory(input);
  std::vector<std::string> notes;
  writeTextAtomically(outputPath,
                      plotCurves(curves, endsWith(output, ".svg"), &notes));
  for (const std::string &note : notes)
    std::fprintf(stderr, "%s plot: warning: %s: %s\n",
                 printable(program).c_str(), printable(input).c_str(),
                 printable(note).c_str());
  return 0;
}

/// export to .keras / .h5: the parameters (of --checkpoint, else the
/// initial ones) through the exporter generated executables install
/// (KerasExport.h).
int exportKeras(Session &session, const Options &o) {
  std::string outputPath = checkOutput(o.output, "--output", {o.checkpoint});
  checkInput(o.checkpoint, "--checkpoint");
  if (!o.checkpoint.empty())
    session.load(o.checkpoint);
  if (!kerasExporter)
    fail("this program was linked without the Keras exporter (executables "
         "kilnc writes have it; an embedding program calls "
         "kiln_cli_register_keras_export() and links HDF5 and libzip)");
  kerasExporter(session, outputPath);
  std::fprintf(stderr, "export: wrote %s (%zu variables%s)\n", o.output.c_str(),
               session.manifest().kerasVariables.size(),
               endsWith(o.output, ".keras") ? ", config.json, metadata.json"
                                            : "");
  return 0;
}
} // namespace

// Defined here, in kiln_driver, so that programs without kiln_main link;
// kiln_cli_register_keras_export (kiln_main) sets it.
KerasExporter kiln::driver::kerasExporter = nullptr;

static int cliMain(int argc, char **argv, const kiln_model_t *model) {
  std::string program = argc > 0 ? argv[0] : "model";
  size_t slash = program.rfind('/');
  if (slash != std::string::npos)
    program = program.substr(slash + 1);
  programName = program;
  std::unique_ptr<Manifest> manifest;
  try {
    if (!model)
      fail("no model");
    manifest = std::make_unique<Manifest>(parseManifest(model->manifest));
  } catch (const std::exception &e) {
    std::fprintf(stderr, "%s: error: %s\n", program.c_str(), e.what());
    return 1;
  }
  std::string command = argc > 1 ? argv[1] : "";
  if (command.empty() || command == "--help" || command == "-h" ||
      command == "help") {
    printUsage(program, *manifest);
    return command.empty() ? 2 : 0;
  }
  if (command == "plot") {
    try {
      return plotCommand(program, argc, argv);
    } catch (const UsageError &e) {
      std::fprintf(stderr, "%s plot: error: %s (see %s plot --help)\n",
                   printable(program).c_str(), printable(e.what()).c_str(),
                   printable(program).c_str());
      return 2;
    } catch (const std::exception &e) {
      std::fprintf(stderr, "%s plot: error: %s\n", printable(program).c_str(),
                   printable(e.what()).c_str());
      return 1;
    }
  }
  if (command != "fit" && command != "evaluate" && command != "predict" &&
      command != "export" && command != "summary") {
    std::fprintf(stderr,
                 "%s: error: unknown command '%s' (fit, evaluate, predict, "
                 "plot, export, summary; see %s --help)\n",
                 program.c_str(), command.c_str(), program.c_str());
    return 2;
  }
  Options options;
  try {
    options = parseOptions(argc - 1, argv + 1, command);
  } catch (const UsageError &e) {
    if (!*e.what()) {
      printUsage(program, *manifest);
      return 0;
    }
    std::fprintf(stderr, "%s %s: error: %s (see %s --help)\n",
                 printable(program).c_str(), printable(command).c_str(),
                 printable(e.what()).c_str(), printable(program).c_str());
    return 2;
  }
  if (command == "summary") {
    summary(*manifest);
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
      std::fprintf(stderr,
                   "%s summary: error: cannot write the standard "
                   "output\n",
                   printable(program).c_str());
      return 1;
    }
    return 0;
  }
  if ((command == "fit" || command == "evaluate") && !manifest->training) {
    std::fprintf(stderr,
                 "%s %s: error: the model was compiled without a loss; "
                 "compile it with kilnc --loss=... to %s it\n",
                 program.c_str(), command.c_str(), command.c_str());
    return 1;
  }
  try {
    // Under mpirun: fit trains data-parallel; process 0 alone prints and
    // writes files (docs/spec.md, "Data-parallel training").
    Parallel *parallel = nullptr;
    std::string launcher;
    if (int launched = launchedSize(&launcher); launched > 1) {
      if (command != "fit")
        fail("this process is one of " + std::to_string(launched) + " (" +
             launcher + "); only fit runs data-parallel: start " + command +
             " without mpirun");
      parallel = &Parallel::start();
      if (parallel->rank() != 0) {
        options.quiet = true;
        for (std::string *path : {&options.checkpoint, &options.history,
                                  &options.lrTrace, &options.bestCheckpoint})
          path->clear();
        if (!std::freopen("/dev/null", "w", stdout))
          fail("cannot silence the standard output of process " +
               std::to_string(parallel->rank()));
      }
    }
    if (options.threads > 0)
      kiln_set_num_threads(options.threads);
    // kilnc --precision=bf16 on a CPU without AVX512_BF16: the GEMMs fall
    // back to f32 (kiln_gemm_bf16_f32); say so once, unless --quiet.
    if (manifest->precision == "bf16" && !kiln_cpu_has_bf16() &&
        !options.quiet && command != "export")
      std::fprintf(stderr,
                   "%s: note: compiled with --precision=bf16, but this CPU "
                   "has no AVX512_BF16: the matrix products run in f32\n",
                   program.c_str());
    Session session(model, options.seedGiven ? options.seed : manifest->seed);
    session.useParallel(parallel);
    int status = command == "fit"        ? fit(session, options)
                 : command == "evaluate" ? evaluate(session, options)
                 : command == "export"   ? exportModel(session, model, options)
                                         : predict(session, options);
    // Results printed to a full disk or a closed pipe are an error too.
    if (std::fflush(stdout) != 0 || std::ferror(stdout))
      fail(std::string("cannot write the standard output: ") +
           std::strerror(errno));
    return status;
  } catch (const UsageError &e) {
    std::fprintf(stderr, "%s %s: error: %s\n", program.c_str(), command.c_str(),
                 printable(e.what()).c_str());
    return 2;
  } catch (const std::exception &e) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s %s: error: %s\n", program.c_str(), command.c_str(),
                 printable(e.what()).c_str());
    return 1;
  }
}

extern "C" int kiln_cli_main(int argc, char **argv, const kiln_model_t *model) {
  int status = cliMain(argc, argv, model);
  // A data-parallel run ends MPI: a failed process aborts the others, which
  // may be waiting for it in an allreduce.
  if (Parallel *parallel = Parallel::current())
    status = parallel->finish(status);
  return status;
}
