//===- Passes.td - kiln graph-level passes ------------------*- tablegen -*-===//
//
// Passes over kiln IR before lowering: stage-contract checks now; gradient
// derivation, loss and optimizer attachment and fusion join this file.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_PASSES_TD
#define KILN_PASSES_TD

include "mlir/Pass/PassBase.td"

def KilnVerifyStagePass : Pass<"kiln-verify-stage", "::mlir::ModuleOp"> {
  let summary = "Checks that a module meets the contract of a pipeline stage";
  let description = [{
    A cheap legality check run at a stage boundary (docs/architecture.md,
    "Stages and contracts"). Every op that breaks the contract gets a
    diagnostic at its location, then the pass fails; all offenders are
    reported, not only the first.

    - `stage=forward` (the frontend contract): only `kiln`, `func` and
      `arith.constant` ops; every value a statically shaped tensor of a kiln
      element type (f32, f64, i32, i64, i1).
    - `stage=linalg` (after convert-kiln-to-linalg): no kiln ops, no
      memrefs.
    - `stage=bufferized` (after kiln-bufferize): no tensors; no
      memref.alloc / alloca / dealloc; every public function takes
      `(params, opt_state, io, scratch)` as `memref<Nxi8>` and carries
      `kiln.abi`.
    - `stage=llvm` (after kiln-lower-to-llvm): only LLVM dialect ops.

    Example: `kiln-opt --kiln-verify-stage=stage=forward model.mlir` on

    ```mlir
    func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
      return %x : tensor<?x4xf32>
    }
    ```
    reports `argument 0 of 'func.func' has type 'tensor<?x4xf32>'; the
    forward stage needs static shapes of f32, f64, i32, i64 or i1`.
  }];
  let options = [
    Option<"stage", "stage", "std::string", /*default=*/"\"forward\"",
           "Stage whose contract to check: forward, linalg, bufferized, llvm">,
  ];
  let dependentDialects = ["::mlir::kiln::KilnDialect"];
}

def KilnDeriveGradientsPass
    : Pass<"kiln-derive-gradients", "::mlir::ModuleOp"> {
  let summary = "Reverse-mode differentiation: clones @f into @f_grad";
  let description = [{
    Clones the function named by `function` into `@<function>_grad`, which
    returns the original results followed by the gradient of the first
    result (the loss: a rank-0 float tensor) with respect to every argument
    marked `kiln.trainable`, in argument order. The gradient code is built by
    a reverse walk over the ops that lie on a path from a trainable argument
    to the loss: each op's DifferentiableOpInterface rule (VJP) maps result
    gradients to operand gradients, and contributions to a value used
    several times are summed (`kiln.add`). Ops with the ZeroGradient trait
    (compare, argmax, constant, iota, stop_gradient) propagate nothing; a
    trainable argument the loss does not depend on gets a zero gradient.

    When ops on that path have no rule, one error lists every such op (a
    note at each location) and the pass fails; it never crashes.

    Before:
    ```mlir
    func.func @loss(%w: tensor<3xf32> {kiln.trainable}) -> tensor<f32> {
      %0 = kiln.square %w : tensor<3xf32>
      %1 = kiln.reduce_sum %0 {axes = array<i64: 0>} : tensor<3xf32> -> tensor<f32>
      return %1 : tensor<f32>
    }
    ```
    After, beside it: `func.func @loss_grad(%w) -> (tensor<f32>, tensor<3xf32>)`
    returning the loss and 2 * w.
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"loss\"",
           "Function to differentiate; its first result is the loss">,
  ];
  let dependentDialects = ["::mlir::kiln::KilnDialect"];
}

def KilnAttachLossPass : Pass<"kiln-attach-loss", "::mlir::ModuleOp"> {
  let summary = "Builds @loss(params, x, y, sample_weight) from @forward";
  let description = [{
    Clones the forward function (option `function`, default `forward`) into
    `@loss`, which takes two more arguments, the labels `y` and the
    per-sample weights `sample_weight` (`[N]`, N the batch axis of the first
    forward result), and returns the loss (rank 0) followed by the metric
    partial sums of one batch:

    - the loss op chosen by `loss` (mean_squared_error, mean_absolute_error,
      binary_crossentropy, categorical_crossentropy,
      sparse_categorical_crossentropy) with `from_logits`, applied to the
      first forward result; sparse labels are `i32` class indices;
    - plus, for every parameter argument with `kiln.l1` / `kiln.l2`
      (f64), the Keras regularization terms `l1 * sum(|w|)` and
      `l2 * sum(w^2)`;
    - partials: `loss_sum` (loss times the weight sum) and `weight_sum`,
      then per metric in `metrics` (comma-separated: accuracy,
      binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
      precision, recall, f1, mae, mse) its weighted sums. Epoch values are
      ratios of partials summed over all batches, so they are exact
      (docs/spec.md, "Metrics").

    A forward result marked `kiln.loss_mask` (the Keras mask `[N, T]` of
    predictions `[N, T, C]`, 0/1 floats) is not returned; it weights every
    step as Keras does (keras/src/losses/loss.py `apply_mask`): the loss op
    reads `[N*T, C]` predictions with step weights `w_n m_nt`, the loss is
    `sum(w m l) / V` (V the valid steps of the samples, 0 when none), the
    mean metrics are `sum(w m v) / sum(w m)`, and the partial `valid_count`
    = V follows `sample_count` (docs/spec.md, "Loss reduction"):

    ```mlir
    // before
    func.func @forward(...) -> (tensor<4x6x5xf32> {kiln.name = "out"},
                                tensor<4x6xf32> {kiln.loss_mask})
    // after: @loss(..., %y: tensor<4x6xi32>, %w: tensor<4xf32>)
    %sw = kiln.mul (kiln.broadcast_in_dim %w, dims = [0]), %mask
    %l  = kiln.sparse_categorical_crossentropy %p_flat, %y_flat, %sw_flat
        : tensor<24x5xf32>, tensor<24xi32>, tensor<24xf32> -> tensor<f32>
    ```

    The names of the partials are recorded in `kiln.partials`, the metrics
    in `kiln.metrics`. A loss that does not fit the output (a sparse or
    categorical loss on a 1-unit output), an unknown name, or a loss mask
    whose shape does not fit the predictions is an error.
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"forward\"",
           "Forward function (its first result is the prediction)">,
    Option<"loss", "loss", "std::string", /*default=*/"\"\"",
           "Loss: mean_squared_error, mean_absolute_error, "
           "binary_crossentropy, categorical_crossentropy, "
           "sparse_categorical_crossentropy">,
    Option<"fromLogits", "from_logits", "bool", /*default=*/"false",
           "The forward result is logits, not probabilities">,
    Option<"metrics", "metrics", "std::string", /*default=*/"\"\"",
           "Comma-separated metrics">,
  ];
  let dependentDialects = ["::mlir::kiln::KilnDialect"];
}

def KilnAttachOptimizerPass
    : Pass<"kiln-attach-optimizer", "::mlir::ModuleOp"> {
  let summary = "Builds @train_step, @eval_step and @predict";
  let description = [{
    Needs `@forward`, `@loss` (kiln-attach-loss) and `@loss_grad`
    (kiln-derive-gradients with function=loss). Adds:

    - `@train_step(params..., opt_state..., step, inputs..., y,
      sample_weight, learning_rate) -> (loss, partials..., params'...,
      opt_state'..., state'..., step')`: one optimizer step. Parameters
      marked `kiln.state` are not trainable; their new values are the
      forward function's results marked `kiln.state_update_of`. The optimizer state holds
      per trainable parameter the slots of the optimizer (SGD momentum
      velocity; RMSprop mean square, momentum, mean gradient; Adam/AdamW
      first and second moments; Adagrad accumulator) and one step counter
      `step` (f64, 0 before the first step; the update uses t = step + 1).
      New values are results marked `kiln.update_of = <argument index>`;
      codegen writes them in place (the function itself is pure: state in,
      state out). `learning_rate` is a runtime argument, so schedules work.
    - `@eval_step(params..., inputs..., y, sample_weight) -> (loss,
      partials...)` and `@predict(params..., inputs...) -> outputs`: dropout
      is the identity in both; both read state and do not update it.

    Formulas: Keras 3 by default, PyTorch with `convention=pytorch`
    (docs/spec.md, "Optimizers"). Gradient clipping: `clipvalue` clips each
    element to [-c, c]; `global_clipnorm` scales all gradients by
    c / max(c, ||g||) (TensorFlow clip_by_global_norm). A negative
    `epsilon`, `weight_decay` or `initial_accumulator_value` means the
    convention's default.
  }];
  let options = [
    Option<"optimizer", "optimizer", "std::string", /*default=*/"\"sgd\"",
           "sgd, rmsprop, adam, adamw or adagrad">,
    Option<"convention", "convention", "std::string",
           /*default=*/"\"keras\"", "keras or pytorch">,
    Option<"momentum", "momentum", "double", /*default=*/"0.0",
           "SGD / RMSprop momentum">,
    Option<"nesterov", "nesterov", "bool", /*default=*/"false",
           "SGD Nesterov momentum">,
    Option<"rho", "rho", "double", /*default=*/"0.9",
           "RMSprop decay of the mean square">,
    Option<"centered", "centered", "bool", /*default=*/"false",
           "RMSprop: divide by the variance instead of the mean square">,
    Option<"beta1", "beta_1", "double", /*default=*/"0.9",
           "Adam first-moment decay">,
    Option<"beta2", "beta_2", "double", /*default=*/"0.999",
           "Adam second-moment decay">,
    Option<"epsilon", "epsilon", "double", /*default=*/"-1.0",
           "Denominator term (default: Keras 1e-7; PyTorch 1e-8, Adagrad "
           "1e-10)">,
    Option<"weightDecay", "weight_decay", "double", /*default=*/"-1.0",
           "AdamW decoupled weight decay (default: Keras 0.004, PyTorch "
           "0.01)">,
    Option<"initialAccumulatorValue", "initial_accumulator_value", "double",
           /*default=*/"-1.0",
           "Adagrad accumulator start (default: Keras 0.1, PyTorch 0)">,
    Option<"clipValue", "clipvalue", "double", /*default=*/"0.0",
           "Clip each gradient element to [-c, c] (0: off)">,
    Option<"globalClipNorm", "global_clipnorm", "double", /*default=*/"0.0",
           "Scale gradients to a global L2 norm of at most c (0: off)">,
    Option<"dataParallel", "data-parallel", "bool", /*default=*/"false",
           "Also emit @grad_step (forward + backward, gradients as results) "
           "and @apply_step (clipping + update from gradient inputs), the "
           "halves of @train_step a data-parallel driver runs with an "
           "allreduce between them">,
  ];
  let dependentDialects = ["::mlir::kiln::KilnDialect"];
}

def KilnRewriteLossesToLogitsPass
    : Pass<"kiln-rewrite-losses-to-logits", "::mlir::ModuleOp"> {
  let summary = "Probability losses on sigmoid/softmax become logits losses";
  let description = [{
    `binary_crossentropy(sigmoid(z))` becomes
    `binary_crossentropy(z) {from_logits = true}`, and
    `categorical_crossentropy(softmax(z))` /
    `sparse_categorical_crossentropy(softmax(z))` (softmax over the last
    axis) become their `from_logits` forms. The logits forms are exact where
    the probability forms clip probabilities to [1e-7, 1 - 1e-7]: a
    confidently wrong prediction with logit margin 1000 costs 1000 instead of
    -log(1e-7) = 16.1, and its gradient does not vanish. Keras does the same
    by recovering the logits of a sigmoid/softmax output. A reshape that
    keeps the last axis between the activation and the loss (the `[N*T, C]`
    rows of a masked per-step loss) is applied to the logits instead. Other
    users of the probabilities (metrics) keep them. The rewrite is optional
    (kiln-training-pipeline `stable_losses`, on by default).

    Before:
    ```mlir
    %p = kiln.sigmoid %z : tensor<8x1xf32>
    %l = kiln.binary_crossentropy %p, %y, %w : ...
    ```
    After:
    ```mlir
    %l = kiln.binary_crossentropy %z, %y, %w {from_logits = true} : ...
    ```
  }];
  let dependentDialects = ["::mlir::kiln::KilnDialect"];
}

def KilnInferenceFormPass
    : Pass<"kiln-inference-form", "::mlir::ModuleOp"> {
  let summary = "Forward functions in inference mode: dropout is the identity";
  let description = [{
    Turns every public function of the forward form into its inference form,
    as Keras runs a model outside `fit` (`training=False`): each op with
    `InferenceFormOpInterface` is replaced by its inference form (a
    `kiln.dropout` becomes its input, a `kiln.batch_norm` uses its moving
    statistics), and the arguments marked `kiln.step` (the dropout counter)
    or `kiln.sample_weight` (BatchNorm's row mask), which no op reads any
    more, are removed; results
    marked `kiln.state_update_of` are dropped (inference reads state and
    never updates it), and so is a result marked `kiln.loss_mask` (only a
    loss reads it; Keras' predict returns no masks). `kilnc` runs it
    for models compiled without a loss, whose one function is the program's
    `predict`; with a loss, `kiln-attach-optimizer` builds `@predict` the
    same way.

    Before:
    ```mlir
    func.func @forward(%x: tensor<4x8xf32>, %step: tensor<i64> {kiln.step}) -> tensor<4x8xf32> {
      %y = kiln.dropout %x, %step {rate = 2.000000e-01 : f64, seed = 1 : i64} : tensor<4x8xf32>, tensor<i64>
      return %y : tensor<4x8xf32>
    }
    ```
    After:
    ```mlir
    func.func @forward(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
      return %x : tensor<4x8xf32>
    }
    ```
  }];
  let dependentDialects = ["::mlir::kiln::KilnDialect"];
}

#endif // KILN_PASSES_TD
