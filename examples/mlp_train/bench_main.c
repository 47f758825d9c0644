/* bench_main.c - times the kiln-compiled training step of the MLP.
 *
 * examples/mlp_train/mlp.mlir through kiln-opt --kiln-training-pipeline
 * (sparse categorical cross-entropy from logits, accuracy, Adam) and
 * kilnc --emit=obj,header --name=mlp gives mlp.o and mlp.h with the entry
 * point mlp_train_step(params, opt_state, io, scratch), which updates the
 * params and the optimizer state in place. This program allocates the four
 * regions (zeroed: the correct initial Adam state, step 0), copies the
 * parameters, the input batch and its labels to the offsets mlp.h names, sets
 * the sample weights to 1 and the learning rate, then runs WARMUP untimed and
 * REPEATS timed training steps on that batch.
 *
 * Usage: mlp_train_bench DIR REPEATS [WARMUP [THREADS [LR]]]
 *   reads DIR/{dense_kernel,dense_bias,dense_1_kernel,dense_1_bias,
 *              dense_2_kernel,dense_2_bias,x}.f32 (raw little-endian f32,
 *              row-major, kernels [in, out]) and DIR/labels.i32
 *   WARMUP (default 5, at least 1: the first call is the checked
 *   kiln_regions_call), THREADS (default 0: the runtime's default, see
 *   kiln_set_num_threads), LR (default 1e-3).
 *   prints loss_first (the loss of the first step), loss_last (of the last
 *   step) and samples_per_second over the REPEATS timed steps.
 *
 * Build (see bench/mlp_train.py):
 *   kiln-opt --kiln-training-pipeline="..." mlp.mlir -o build/mlp_train.mlir
 *   kilnc build/mlp_train.mlir --emit=obj,header --name=mlp -o build/mlp
 *   cc -O2 -Ibuild -Iruntime/include bench_main.c build/mlp.o \
 *      libkiln_runtime.a -lstdc++ -lm -lpthread -o mlp_train_bench
 */
#define _POSIX_C_SOURCE 200809L
#include "kiln/runtime.h"
#include "mlp.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Reads exactly `size` bytes of DIR/FILE into `dest`; 0 on success. */
static int readFile(const char *dir, const char *file, void *dest,
                    size_t size) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  FILE *in = fopen(path, "rb");
  if (!in) {
    fprintf(stderr, "mlp_train_bench: cannot open %s\n", path);
    return 1;
  }
  size_t got = fread(dest, 1, size, in);
  int extra = fgetc(in) != EOF;
  fclose(in);
  if (got != size || extra) {
    fprintf(stderr, "mlp_train_bench: %s must hold exactly %zu bytes\n", path,
            size);
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s DIR REPEATS [WARMUP [THREADS [LR]]]\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  int repeats = atoi(argv[2]);
  int warmup = argc > 3 ? atoi(argv[3]) : 5;
  int threads = argc > 4 ? atoi(argv[4]) : 0;
  float lr = argc > 5 ? strtof(argv[5], NULL) : 1e-3f;
  if (repeats < 1 || warmup < 1) {
    fprintf(stderr, "mlp_train_bench: REPEATS and WARMUP must be >= 1\n");
    return 2;
  }
  kiln_set_num_threads(threads);

  kiln_region_sizes_t sizes = {0};
  sizes.alignment = MLP_ALIGNMENT;
  sizes.params_size = MLP_TRAIN_STEP_PARAMS_SIZE;
  sizes.opt_state_size = MLP_TRAIN_STEP_OPT_STATE_SIZE;
  sizes.io_size = MLP_TRAIN_STEP_IO_SIZE;
  sizes.scratch_size = MLP_TRAIN_STEP_SCRATCH_SIZE;
  kiln_regions_t *regions = NULL;
  kiln_status_t status = kiln_regions_create(&sizes, &regions);
  if (status != KILN_OK) {
    fprintf(stderr, "mlp_train_bench: %s\n", kiln_status_message(status));
    return 1;
  }
  char *params = (char *)regions->params;
  char *io = (char *)regions->io;
  void *state = regions->opt_state; /* zeroed: Adam moments 0, step 0 */
  void *scratch = regions->scratch;

  int failed =
      readFile(dir, "dense_kernel.f32",
               params + MLP_TRAIN_STEP_PARAM_DENSE_KERNEL_OFFSET,
               MLP_TRAIN_STEP_PARAM_DENSE_KERNEL_SIZE) ||
      readFile(dir, "dense_bias.f32",
               params + MLP_TRAIN_STEP_PARAM_DENSE_BIAS_OFFSET,
               MLP_TRAIN_STEP_PARAM_DENSE_BIAS_SIZE) ||
      readFile(dir, "dense_1_kernel.f32",
               params + MLP_TRAIN_STEP_PARAM_DENSE_1_KERNEL_OFFSET,
               MLP_TRAIN_STEP_PARAM_DENSE_1_KERNEL_SIZE) ||
      readFile(dir, "dense_1_bias.f32",
               params + MLP_TRAIN_STEP_PARAM_DENSE_1_BIAS_OFFSET,
               MLP_TRAIN_STEP_PARAM_DENSE_1_BIAS_SIZE) ||
      readFile(dir, "dense_2_kernel.f32",
               params + MLP_TRAIN_STEP_PARAM_DENSE_2_KERNEL_OFFSET,
               MLP_TRAIN_STEP_PARAM_DENSE_2_KERNEL_SIZE) ||
      readFile(dir, "dense_2_bias.f32",
               params + MLP_TRAIN_STEP_PARAM_DENSE_2_BIAS_OFFSET,
               MLP_TRAIN_STEP_PARAM_DENSE_2_BIAS_SIZE) ||
      readFile(dir, "x.f32", io + MLP_TRAIN_STEP_INPUT_X_OFFSET,
               MLP_TRAIN_STEP_INPUT_X_SIZE) ||
      readFile(dir, "labels.i32", io + MLP_TRAIN_STEP_INPUT_LABELS_OFFSET,
               MLP_TRAIN_STEP_INPUT_LABELS_SIZE);
  if (failed) {
    kiln_regions_destroy(regions);
    return 1;
  }
  float *weight = (float *)(io + MLP_TRAIN_STEP_INPUT_SAMPLE_WEIGHT_OFFSET);
  for (int i = 0; i < MLP_TRAIN_STEP_INPUT_SAMPLE_WEIGHT_COUNT; ++i)
    weight[i] = 1.0f;
  memcpy(io + MLP_TRAIN_STEP_INPUT_LEARNING_RATE_OFFSET, &lr, sizeof lr);
  const float *loss = (const float *)(io + MLP_TRAIN_STEP_OUTPUT_LOSS_OFFSET);

  /* The first step: the checked form of mlp_train_step. */
  status = kiln_regions_call(regions, &sizes, mlp_train_step);
  if (status != KILN_OK) {
    fprintf(stderr, "mlp_train_bench: %s\n", kiln_status_message(status));
    kiln_regions_destroy(regions);
    return 1;
  }
  float lossFirst = *loss;
  for (int i = 1; i < warmup; ++i)
    mlp_train_step(params, state, io, scratch);

  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (int i = 0; i < repeats; ++i)
    mlp_train_step(params, state, io, scratch);
  clock_gettime(CLOCK_MONOTONIC, &end);
  double seconds = (double)(end.tv_sec - start.tv_sec) +
                   1e-9 * (double)(end.tv_nsec - start.tv_nsec);
  double step;
  memcpy(&step, (char *)state + MLP_TRAIN_STEP_OPT_STATE_STEP_OFFSET,
         sizeof step);
  /* The batch size is the leading axis of x: COUNT / 784 rows. */
  double batch = (double)MLP_TRAIN_STEP_INPUT_X_COUNT / 784.0;
  printf("threads %d\n", kiln_get_num_threads());
  printf("steps %.0f\n", step);
  printf("loss_first %.9g\n", lossFirst);
  printf("loss_last %.9g\n", *loss);
  printf("samples_per_second %.1f\n", batch * repeats / seconds);
  kiln_regions_destroy(regions);
  return 0;
}
