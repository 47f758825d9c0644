//===- cli_fuzzer.cpp - the generated program's command line --------------===//
//
// The bytes are a command line: arguments separated by NUL or newline bytes,
// given to kiln_cli_main (runtime/driver/Cli.cpp) with a small compiled
// model (the breast-cancer MLP, fuzz_model.o), as `prog ARGS...` would run.
// The harness runs in its scratch directory, which holds a small CSV
// (data.csv: 16 rows of examples/breast_cancer/test.csv, label column
// 'malignant') and a checkpoint of the model (ck.safetensors) written by
// `fit` at initialization; both are rewritten before every input, since a
// command may overwrite them.
//
// Bounds, so that a run stays short and inside the scratch directory:
// inputs whose arguments contain '/' (a path outside it) or a number above
// 64 (--epochs 1000000, --threads 100000 would only be slow) are skipped.
//
//===----------------------------------------------------------------------===//

#include "FuzzUtil.h"
#include "fuzz_model.h"
#include "kiln/session.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {
struct SeedFile {
  std::string name, bytes;
};
std::vector<SeedFile> seedFiles;

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    std::fprintf(stderr, "cli_fuzzer: cannot read %s\n", path.c_str());
    std::abort();
  }
  return text.str();
}

int run(std::vector<std::string> args) {
  std::vector<char *> argv;
  static char program[] = "prog";
  argv.push_back(program);
  for (std::string &a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  return kiln_cli_main(static_cast<int>(argv.size() - 1), argv.data(),
                       &fuzz_model);
}

// A number the driver would accept as a count, above `limit`.
bool largeNumber(const std::string &arg, double limit) {
  size_t eq = arg.find('=');
  std::string value = eq == std::string::npos ? arg : arg.substr(eq + 1);
  // Settings lists ("a=1,b=2") count too.
  std::stringstream items(value);
  std::string item;
  while (std::getline(items, item, ',')) {
    size_t at = item.find('=');
    std::string v = at == std::string::npos ? item : item.substr(at + 1);
    char *end = nullptr;
    errno = 0;
    double d = std::strtod(v.c_str(), &end);
    if (end != v.c_str() && (d > limit || d != d))
      return true;
  }
  return false;
}
} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  const std::string &dir = kiln_fuzz::scratchDir();
  if (chdir(dir.c_str()) != 0) {
    std::perror("cli_fuzzer: chdir");
    std::abort();
  }
  // 16 rows of the breast-cancer test set.
  std::stringstream csv(
      readFile(KILN_FUZZ_SOURCE_DIR "/examples/breast_cancer/test.csv"));
  std::string line, head;
  for (int i = 0; i < 17 && std::getline(csv, line); ++i)
    head += line + "\n";
  {
    std::ofstream out("data.csv", std::ios::binary);
    out << head;
  }
  if (run({"fit", "--data", "data.csv", "--label-column", "malignant",
           "--epochs", "1", "--quiet", "--checkpoint", "ck.safetensors"}) != 0)
    std::abort();
  for (const char *name : {"data.csv", "ck.safetensors"})
    seedFiles.push_back({name, readFile(name)});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<std::string> args(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0 || data[i] == '\n')
      args.emplace_back();
    else
      args.back() += static_cast<char>(data[i]);
  }
  for (const std::string &a : args)
    if (a.find('/') != std::string::npos || largeNumber(a, 64))
      return -1;
  for (const SeedFile &f : seedFiles)
    kiln_fuzz::writeScratchFile(
        f.name, reinterpret_cast<const uint8_t *>(f.bytes.data()),
        f.bytes.size());
  run(args);
  return 0;
}
