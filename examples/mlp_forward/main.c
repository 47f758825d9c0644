/* main.c - runs the kiln-compiled MLP forward pass from C.
 *
 * Shows the embedding ABI: the program owns every byte. It allocates the
 * params, io and scratch regions that mlp.h sizes, copies the parameters and
 * the input batch (raw little-endian f32 files, row-major) to the offsets
 * mlp.h names, calls mlp_forward, and writes the probabilities out.
 *
 * Usage: mlp_forward DIR [REPEATS]
 *   reads  DIR/{dense_kernel,dense_bias,dense_1_kernel,dense_1_bias,
 *               dense_2_kernel,dense_2_bias,x}.f32
 *   writes DIR/probabilities.f32
 *   With REPEATS > 0 it also times REPEATS calls and prints samples/s.
 *
 * Build (see README.md):
 *   kilnc mlp.mlir --emit=obj,header -o build/mlp
 *   cc -O2 -Ibuild -Iruntime/include main.c build/mlp.o libkiln_runtime.a \
 *      -lstdc++ -lm -lpthread -o mlp_forward
 */
#define _POSIX_C_SOURCE 200809L
#include "kiln/runtime.h"
#include "mlp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Reads exactly `size` bytes of DIR/NAME.f32 into `dest`; 0 on success. */
static int readTensor(const char *dir, const char *name, void *dest,
                      size_t size) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.f32", dir, name);
  FILE *file = fopen(path, "rb");
  if (!file) {
    fprintf(stderr, "mlp_forward: cannot open %s\n", path);
    return 1;
  }
  size_t got = fread(dest, 1, size, file);
  int extra = fgetc(file) != EOF;
  fclose(file);
  if (got != size || extra) {
    fprintf(stderr, "mlp_forward: %s must hold exactly %zu bytes\n", path,
            size);
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s DIR [REPEATS]\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  int repeats = argc > 2 ? atoi(argv[2]) : 0;

  kiln_region_sizes_t sizes = {0};
  sizes.alignment = MLP_ALIGNMENT;
  sizes.params_size = MLP_PARAMS_SIZE;
  sizes.opt_state_size = MLP_OPT_STATE_SIZE;
  sizes.io_size = MLP_IO_SIZE;
  sizes.scratch_size = MLP_SCRATCH_SIZE;
  kiln_regions_t *regions = NULL;
  kiln_status_t status = kiln_regions_create(&sizes, &regions);
  if (status != KILN_OK) {
    fprintf(stderr, "mlp_forward: %s\n", kiln_status_message(status));
    return 1;
  }
  char *params = (char *)regions->params;
  char *io = (char *)regions->io;
  void *state = regions->opt_state;
  void *scratch = regions->scratch;

  int failed = readTensor(dir, "dense_kernel",
                          params + MLP_FORWARD_PARAM_DENSE_KERNEL_OFFSET,
                          MLP_FORWARD_PARAM_DENSE_KERNEL_SIZE) ||
               readTensor(dir, "dense_bias",
                          params + MLP_FORWARD_PARAM_DENSE_BIAS_OFFSET,
                          MLP_FORWARD_PARAM_DENSE_BIAS_SIZE) ||
               readTensor(dir, "dense_1_kernel",
                          params + MLP_FORWARD_PARAM_DENSE_1_KERNEL_OFFSET,
                          MLP_FORWARD_PARAM_DENSE_1_KERNEL_SIZE) ||
               readTensor(dir, "dense_1_bias",
                          params + MLP_FORWARD_PARAM_DENSE_1_BIAS_OFFSET,
                          MLP_FORWARD_PARAM_DENSE_1_BIAS_SIZE) ||
               readTensor(dir, "dense_2_kernel",
                          params + MLP_FORWARD_PARAM_DENSE_2_KERNEL_OFFSET,
                          MLP_FORWARD_PARAM_DENSE_2_KERNEL_SIZE) ||
               readTensor(dir, "dense_2_bias",
                          params + MLP_FORWARD_PARAM_DENSE_2_BIAS_OFFSET,
                          MLP_FORWARD_PARAM_DENSE_2_BIAS_SIZE) ||
               readTensor(dir, "x", io + MLP_FORWARD_INPUT_X_OFFSET,
                          MLP_FORWARD_INPUT_X_SIZE);
  if (failed) {
    kiln_regions_destroy(regions);
    return 1;
  }

  /* The checked form of mlp_forward(params, state, io, scratch). */
  status = kiln_regions_call(regions, &sizes, mlp_forward);
  if (status != KILN_OK) {
    fprintf(stderr, "mlp_forward: %s\n", kiln_status_message(status));
    kiln_regions_destroy(regions);
    return 1;
  }

  char path[4096];
  snprintf(path, sizeof path, "%s/probabilities.f32", dir);
  FILE *out = fopen(path, "wb");
  if (!out || fwrite(io + MLP_FORWARD_OUTPUT_PROBABILITIES_OFFSET, 1,
                     MLP_FORWARD_OUTPUT_PROBABILITIES_SIZE,
                     out) != MLP_FORWARD_OUTPUT_PROBABILITIES_SIZE) {
    fprintf(stderr, "mlp_forward: cannot write %s\n", path);
    if (out)
      fclose(out);
    kiln_regions_destroy(regions);
    return 1;
  }
  fclose(out);

  if (repeats > 0) {
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < repeats; ++i)
      mlp_forward(params, state, io, scratch);
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (double)(end.tv_sec - start.tv_sec) +
                     1e-9 * (double)(end.tv_nsec - start.tv_nsec);
    /* The batch size is the leading axis of x: COUNT / 784 rows. */
    double batch = (double)MLP_FORWARD_INPUT_X_COUNT / 784.0;
    printf("samples_per_second %.1f\n", batch * repeats / seconds);
  }
  kiln_regions_destroy(regions);
  return 0;
}
