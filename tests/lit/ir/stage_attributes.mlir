// RUN: kiln-opt %s -split-input-file -verify-diagnostics | FileCheck %s

// The stage-protocol attributes (the discardableAttrs of ir/KilnBase.td)
// are verified by the kiln dialect's hooks whenever IR is verified: this
// file runs no pass at all (in particular not kiln-verify-stage). One case
// per check of ir/KilnDialect.cpp.

// Tests that every attribute in its place and of its type passes unchanged.
// CHECK-LABEL: func.func @forward(
// CHECK-SAME: kiln.param = "dense/kernel", kiln.trainable
// CHECK-SAME: kiln.param = "bn/mean", kiln.state
// CHECK-SAME: kiln.state_update_of = 1 : i64
module attributes {kiln.model_name = "m", kiln.compile_config = {loss = "mse"},
                   kiln.layers = [{name = "dense"}]} {
func.func @forward(
    %w: tensor<4x2xf32> {kiln.param = "dense/kernel", kiln.trainable,
                         kiln.initializer = {name = "glorot_uniform"},
                         kiln.l1 = 0.0 : f64, kiln.l2 = 1.0e-3 : f64},
    %mean: tensor<2xf32> {kiln.param = "bn/mean", kiln.state,
                          kiln.init = dense<0.0> : tensor<2xf32>},
    %x: tensor<8x4xf32> {kiln.name = "x"},
    %step: tensor<i64> {kiln.step})
    -> (tensor<8x2xf32> {kiln.name = "y"},
        tensor<2xf32> {kiln.state_update_of = 1 : i64})
    attributes {kiln.partials = ["loss_sum"], kiln.metrics = ["loss"],
                kiln.forward = "forward", kiln.optimizer = "adam"} {
  %0 = kiln.matmul %x, %w : tensor<8x4xf32>, tensor<4x2xf32> -> tensor<8x2xf32>
  return %0, %mean : tensor<8x2xf32>, tensor<2xf32>
}
}

// -----

// Tests that an undeclared kiln attribute on an argument is reported.
// expected-error @+1 {{argument 0: unknown attribute 'kiln.bogus' (the kiln stage attributes are declared in ir/KilnBase.td)}}
func.func @unknown(%a: tensor<4xf32> {kiln.bogus}) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.param must be a string.
// expected-error @+1 {{argument 0: 'kiln.param' must be a string, got 3 : i64}}
func.func @param_type(%a: tensor<4xf32> {kiln.param = 3}) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.trainable must be a unit attribute.
// expected-error @+1 {{argument 0: 'kiln.trainable' must be a unit attribute, got "yes"}}
func.func @trainable_type(%a: tensor<4xf32> {kiln.param = "a", kiln.trainable = "yes"}) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.initializer must be a dictionary.
// expected-error @+1 {{argument 0: 'kiln.initializer' must be a dictionary, got "zeros"}}
func.func @initializer_type(%a: tensor<4xf32> {kiln.param = "a", kiln.initializer = "zeros"}) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.init must be dense elements.
// expected-error @+1 {{argument 0: 'kiln.init' must be dense elements, got 1.000000e+00 : f32}}
func.func @init_type(%a: tensor<4xf32> {kiln.param = "a", kiln.init = 1.0 : f32}) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.init must have the argument's type.
// expected-error @+1 {{argument 0: 'kiln.init' holds a value of type 'tensor<3xf32>', but the argument has type 'tensor<4xf32>'}}
func.func @init_shape(%a: tensor<4xf32> {kiln.param = "a", kiln.init = dense<0.0> : tensor<3xf32>}) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.l1 must be a float.
// expected-error @+1 {{argument 0: 'kiln.l1' must be a float, got 1 : i64}}
func.func @l1_type(%a: tensor<4xf32> {kiln.param = "a", kiln.l1 = 1}) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that a regularization factor must not be negative.
// expected-error @+1 {{argument 0: 'kiln.l2' must be a factor >= 0, got -1.000000e-02}}
func.func @l2_negative(%a: tensor<4xf32> {kiln.param = "a", kiln.l2 = -0.01 : f64}) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.adapt must be a dictionary.
// expected-error @+1 {{argument 0: 'kiln.adapt' must be a dictionary, got "mean"}}
func.func @adapt_type(%a: tensor<4xf32> {kiln.param = "a", kiln.adapt = "mean"}) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.step must be a unit attribute.
// expected-error @+1 {{argument 1: 'kiln.step' must be a unit attribute, got 0 : i64}}
func.func @step_type(%a: tensor<4xf32>, %s: tensor<i64> {kiln.step = 0}) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.opt_state must be a string.
// expected-error @+1 {{argument 0: 'kiln.opt_state' must be a string, got unit}}
func.func @opt_state_type(%a: tensor<4xf32> {kiln.opt_state}) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.initial_value must be a float.
// expected-error @+1 {{argument 0: 'kiln.initial_value' must be a float, got "zero"}}
func.func @initial_value_type(%a: tensor<4xf32> {kiln.opt_state = "m", kiln.initial_value = "zero"}) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.updated must be a unit attribute.
// expected-error @+1 {{argument 0: 'kiln.updated' must be a unit attribute, got true}}
func.func @updated_type(%a: tensor<4xf32> {kiln.updated = true}) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.name must be a string, on results too.
// expected-error @+1 {{result 0: 'kiln.name' must be a string, got 1 : i64}}
func.func @name_type(%a: tensor<4xf32>) -> (tensor<4xf32> {kiln.name = 1}) {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that a result attribute on an argument is reported.
// expected-error @+1 {{argument 0: 'kiln.update_of' is a function result attribute, not a function argument attribute}}
func.func @update_of_on_argument(%a: tensor<4xf32> {kiln.update_of = 0}) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that an argument attribute on a result is reported.
// expected-error @+1 {{result 0: 'kiln.state' is a function argument attribute, not a function result attribute}}
func.func @state_on_result(%a: tensor<4xf32>) -> (tensor<4xf32> {kiln.state}) {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.update_of must be an integer.
// expected-error @+1 {{result 0: 'kiln.update_of' must be an integer, got "a"}}
func.func @update_of_type(%a: tensor<4xf32>) -> (tensor<4xf32> {kiln.update_of = "a"}) {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.update_of must name an argument.
// expected-error @+1 {{result 0: 'kiln.update_of' = 1 names no argument (the function has 1)}}
func.func @update_of_range(%a: tensor<4xf32>) -> (tensor<4xf32> {kiln.update_of = 1}) {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that an update must have its argument's type.
// expected-error @+1 {{result 0: 'kiln.update_of' = 0: the result has type 'tensor<4xf32>', but argument 0 has type 'tensor<4xf64>'}}
func.func @update_of_type_mismatch(%a: tensor<4xf64>, %b: tensor<4xf32>) -> (tensor<4xf32> {kiln.update_of = 0}) {
  %0 = kiln.relu %b : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.gradient_of must name an argument.
// expected-error @+1 {{result 0: 'kiln.gradient_of' = -1 names no argument (the function has 1)}}
func.func @gradient_of_range(%a: tensor<4xf32>) -> (tensor<4xf32> {kiln.gradient_of = -1}) {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.state_update_of must name a state argument.
// expected-error @+1 {{result 0: 'kiln.state_update_of' = 0: argument 0 is not marked 'kiln.state'}}
func.func @state_update_of_param(%a: tensor<4xf32> {kiln.param = "a"}) -> (tensor<4xf32> {kiln.state_update_of = 0}) {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.loss_mask belongs on results (the Keras mask a forward
// function returns for the loss), not on arguments.
// expected-error @+1 {{argument 0: 'kiln.loss_mask' is a function result attribute, not a function argument attribute}}
func.func @loss_mask_on_argument(%m: tensor<2x4xf32> {kiln.loss_mask}) -> tensor<2x4xf32> {
  return %m : tensor<2x4xf32>
}

// -----

// Tests that state is a parameter: it needs a kiln.param name.
// expected-error @+1 {{argument 0: 'kiln.state' marks a parameter: the argument needs a 'kiln.param' name}}
func.func @state_without_param(%a: tensor<4xf32> {kiln.state}) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that state is never trainable.
// expected-error @+1 {{argument 0: 'kiln.state' is not trainable (the optimizer never touches state): remove 'kiln.trainable'}}
func.func @state_trainable(%a: tensor<4xf32> {kiln.param = "a", kiln.state, kiln.trainable}) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.partials must be an array of strings.
// expected-error @+1 {{'kiln.partials' must be an array of strings, got [1]}}
func.func @partials_type(%a: tensor<4xf32>) -> tensor<4xf32> attributes {kiln.partials = [1]} {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.metrics must be an array.
// expected-error @+1 {{'kiln.metrics' must be an array, got "loss"}}
func.func @metrics_type(%a: tensor<4xf32>) -> tensor<4xf32> attributes {kiln.metrics = "loss"} {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.forward must be a string.
// expected-error @+1 {{'kiln.forward' must be a string, got @forward}}
func.func @forward_type(%a: tensor<4xf32>) -> tensor<4xf32> attributes {kiln.forward = @forward} {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.optimizer must be a string.
// expected-error @+1 {{'kiln.optimizer' must be a string, got unit}}
func.func @optimizer_type(%a: tensor<4xf32>) -> tensor<4xf32> attributes {kiln.optimizer} {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.num_inputs must not be negative.
// expected-error @+1 {{'kiln.num_inputs' must be >= 0}}
func.func @num_inputs_negative(%a: tensor<4xf32>) -> tensor<4xf32> attributes {kiln.num_inputs = -1} {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.output_names must be an array of strings.
// expected-error @+1 {{'kiln.output_names' must be an array of strings, got [unit]}}
func.func @output_names_type(%a: tensor<4xf32>) -> tensor<4xf32> attributes {kiln.output_names = [unit]} {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.abi must be a dictionary.
// expected-error @+1 {{'kiln.abi' must be a dictionary, got []}}
func.func @abi_type(%a: tensor<4xf32>) -> tensor<4xf32> attributes {kiln.abi = []} {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that a module attribute on a function is reported.
// expected-error @+1 {{'kiln.layers' is a module attribute, not a function attribute}}
func.func @layers_on_function(%a: tensor<4xf32>) -> tensor<4xf32> attributes {kiln.layers = []} {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that a function attribute on a module is reported.
// expected-error @+1 {{'kiln.abi' is a function attribute, not a module attribute}}
module attributes {kiln.abi = {}} {
func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}
}

// -----

// Tests that kiln.model_name must be a string.
// expected-error @+1 {{'kiln.model_name' must be a string, got 7 : i64}}
module attributes {kiln.model_name = 7} {
func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}
}

// -----

// Tests that kiln.compile_config must be a dictionary.
// expected-error @+1 {{'kiln.compile_config' must be a dictionary, got "adam"}}
module attributes {kiln.compile_config = "adam"} {
func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}
}

// -----

// Tests that kiln.layers must be an array.
// expected-error @+1 {{'kiln.layers' must be an array, got {}}}
module attributes {kiln.layers = {}} {
func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}
}

// -----

// Tests that a stage attribute on an op other than a function or module is
// reported.
func.func @on_op(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.param' belongs on functions or modules}}
  %0 = kiln.relu %a {kiln.param = "a"} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that the attributes are verified in a module without any kiln op.
// expected-error @+1 {{argument 0: 'kiln.param' must be a string, got 3 : i64}}
func.func @no_kiln_ops(%a: tensor<4xf32> {kiln.param = 3}) -> tensor<4xf32> {
  return %a : tensor<4xf32>
}

// -----

// Tests that a parameter needs a non-empty name.
// expected-error @+1 {{argument 0: 'kiln.param' must name the parameter, got ""}}
func.func @empty_param(%a: tensor<4xf32> {kiln.param = ""}) -> tensor<4xf32> {
  return %a : tensor<4xf32>
}

// -----

// Tests that two arguments cannot share a parameter name (it keys
// checkpoints and header macros).
// expected-error @+1 {{argument 1: 'kiln.param' = "w" is also the name of argument 0}}
func.func @duplicate_param(%a: tensor<4xf32> {kiln.param = "w"}, %b: tensor<4xf32> {kiln.param = "w"}) -> tensor<4xf32> {
  return %a : tensor<4xf32>
}

// -----

// Tests that the step counter must be a rank-0 integer tensor.
// expected-error @+1 {{argument 0: 'kiln.step' marks the rank-0 integer step counter, but the argument has type 'tensor<4x3xf32>'}}
func.func @step_not_scalar(%s: tensor<4x3xf32> {kiln.step}) -> tensor<4x3xf32> {
  return %s : tensor<4x3xf32>
}

// -----

// Tests that the step counter is not a parameter.
// expected-error @+1 {{argument 0: 'kiln.step' marks the step counter, which is an input, not a parameter: remove 'kiln.param'}}
func.func @step_param(%s: tensor<i64> {kiln.param = "s", kiln.step}) -> tensor<i64> {
  return %s : tensor<i64>
}

// -----

// Tests that two results cannot give the same argument a new value.
// expected-error @+1 {{result 1: 'kiln.update_of' = 0 repeats result 0}}
func.func @update_twice(%a: tensor<4xf32> {kiln.param = "a"}) -> (tensor<4xf32> {kiln.update_of = 0}, tensor<4xf32> {kiln.update_of = 0}) {
  return %a, %a : tensor<4xf32>, tensor<4xf32>
}

// -----

// Tests that an index too large for 64 bits is reported as it was written.
// expected-error @+1 {{result 0: 'kiln.gradient_of' = 99999999999999999999 names no argument (the function has 1)}}
func.func @huge_index(%a: tensor<4xf32> {kiln.param = "a"}) -> (tensor<4xf32> {kiln.gradient_of = 99999999999999999999 : i128}) {
  return %a : tensor<4xf32>
}

// -----

// Tests that every offending attribute of a function is reported, not only
// the first (MLIR's verifier stops at the first).
// expected-error @+3 {{argument 0: 'kiln.param' must be a string, got 3 : i64}}
// expected-error @+2 {{argument 1: 'kiln.l2' must be a factor >= 0, got -1.000000e+00}}
// expected-error @+1 {{result 0: 'kiln.param' is a function argument attribute, not a function result attribute}}
func.func @all_offenders(%a: tensor<4xf32> {kiln.param = 3}, %b: tensor<4xf32> {kiln.l2 = -1.0 : f64}) -> (tensor<4xf32> {kiln.param = "out"}) {
  return %a : tensor<4xf32>
}

// -----

// Tests that the sample weights marked kiln.sample_weight are a rank-1 float tensor.
// expected-error @+1 {{argument 0: 'kiln.sample_weight' marks the per-sample weights [N] of the batch, but the argument has type 'tensor<4x3xf32>'}}
func.func @sample_weight_rank(%w: tensor<4x3xf32> {kiln.sample_weight}) -> tensor<4x3xf32> {
  return %w : tensor<4x3xf32>
}

// -----

// Tests that the sample weights are an input, not a parameter.
// expected-error @+1 {{argument 0: 'kiln.sample_weight' marks the sample weights, which are an input, not a parameter: remove 'kiln.param'}}
func.func @sample_weight_param(%w: tensor<4xf32> {kiln.param = "w", kiln.sample_weight}) -> tensor<4xf32> {
  return %w : tensor<4xf32>
}
