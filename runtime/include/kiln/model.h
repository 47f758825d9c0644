/*===- kiln/model.h - a compiled model as one object ---------------*- C
-*-===*\
|*                                                                            *|
|* Every object file kilnc writes defines `const kiln_model_t <name>_model`:  *|
|* the model's entry points plus its manifest, a JSON document describing     *|
|* the regions, every tensor's place in them, the parameters' initializers,   *|
|* the loss, metrics and optimizer, and the layers (docs/spec.md, "Model      *|
|* manifest"). The session API (kiln/session.h) needs nothing else to train,  *|
|* evaluate and predict, and checkpoints name the model by the manifest's     *|
|* fingerprint.                                                               *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef KILN_MODEL_H
#define KILN_MODEL_H

#include "kiln/runtime.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The layout version of kiln_model_t; a session refuses other versions.
#define KILN_MODEL_ABI_VERSION 2

/// A compiled model. Plain constant data emitted by kilnc; never modified.
typedef struct kiln_model_t {
  /// KILN_MODEL_ABI_VERSION of the kilnc that wrote the object.
  uint32_t abi_version;
  uint32_t reserved;
  /// The manifest: NUL-terminated UTF-8 JSON (format "kiln-model", version 1).
  const char *manifest;
  /// One training step (forward, backward, optimizer update); NULL for an
  /// inference-only model (compiled without a loss).
  kiln_entry_point_t train_step;
  /// Loss and metric partial sums of one batch without updating anything;
  /// NULL without a loss.
  kiln_entry_point_t eval_step;
  /// The model's outputs for one batch (dropout off). For a model compiled
  /// without a loss this is the model's own function.
  kiln_entry_point_t predict;
  /// Initial values stored in the model (e.g. ONNX initializers), at the
  /// offsets the manifest gives ("init": {"stored": offset}); NULL if none.
  const void *initial_values;
  uint64_t initial_values_size;
  /// Data-parallel halves of train_step (kilnc --data-parallel), else NULL:
  /// grad_step runs the forward and backward pass and writes the loss, the
  /// partials and the gradients (io outputs grad/<param>, consecutive) and
  /// the state updates; apply_step clips and applies gradients given as io
  /// inputs and advances the step counter. A driver sums the gradients of
  /// all processes between the two (docs/architecture.md, "Data-parallel
  /// training"). Version 2.
  kiln_entry_point_t grad_step;
  kiln_entry_point_t apply_step;
} kiln_model_t;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KILN_MODEL_H */
