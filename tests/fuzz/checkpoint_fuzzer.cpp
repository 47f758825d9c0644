//===- checkpoint_fuzzer.cpp - safetensors checkpoints
//---------------------===//
//
// The bytes are a checkpoint file, read twice as a generated program reads
// one (runtime/driver): readCheckpoint (the safetensors parser and its
// checks), then kiln_session_load into a session of a small compiled model
// (the breast-cancer MLP, fuzz_model.o built by kilnc), which also checks
// the metadata, names, dtypes, shapes and values against the model. The
// harness's initialization saves a real checkpoint of that model into the
// first corpus directory given (valid-kiln-checkpoint), a seed that passes
// every check.
//
//===----------------------------------------------------------------------===//

#include "Checkpoint.h"
#include "FuzzUtil.h"
#include "fuzz_model.h"
#include "kiln/session.h"

#include <cstdlib>
#include <sys/stat.h>

namespace {
kiln_session_t *session() {
  static kiln_session_t *s = [] {
    kiln_session_t *created = nullptr;
    char error[512];
    if (kiln_session_create(&fuzz_model, 1, &created, error, sizeof error) !=
        KILN_OK) {
      std::fprintf(stderr, "checkpoint_fuzzer: %s\n", error);
      std::abort();
    }
    return created;
  }();
  return s;
}
} // namespace

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv) {
  // A valid checkpoint of the model (a check of the harness itself), and a
  // seed: it is saved into the first corpus directory on the command line.
  std::string path = kiln_fuzz::scratchDir() + "/valid.safetensors";
  for (int i = 1; i < *argc; ++i) {
    struct stat st;
    if ((*argv)[i][0] != '-' && stat((*argv)[i], &st) == 0 &&
        S_ISDIR(st.st_mode)) {
      path = std::string((*argv)[i]) + "/valid-kiln-checkpoint";
      break;
    }
  }
  if (kiln_session_save(session(), path.c_str()) != KILN_OK ||
      kiln_session_load(session(), path.c_str()) != KILN_OK) {
    std::fprintf(stderr, "checkpoint_fuzzer: %s\n",
                 kiln_session_error(session()));
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = kiln_fuzz::writeScratchFile("ck.safetensors", data, size);
  kiln::driver::LoadedCheckpoint checkpoint;
  std::string error;
  if (kiln::driver::readCheckpoint(path, &checkpoint, &error)) {
    // Every tensor read holds exactly its shape's bytes.
    for (const auto &[name, tensor] : checkpoint.tensors) {
      uint64_t count = 1;
      for (int64_t d : tensor.shape)
        count *= static_cast<uint64_t>(d);
      if (count * kiln::driver::dtypeSize(tensor.dtype) != tensor.bytes.size())
        std::abort();
    }
  } else if (error.empty()) {
    std::abort();
  }
  (void)kiln_session_load(session(), path.c_str());
  return 0;
}
