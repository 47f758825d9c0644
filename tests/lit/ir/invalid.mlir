// RUN: kiln-opt %s -split-input-file -verify-diagnostics

// One case per constraint label (ir/ShapeInference.cpp and the element-type
// rules in ir/KilnOps.cpp). Ops whose result type comes from
// inferReturnTypes report the label from there, followed by MLIR's generic
// "failed to infer returned types".

// Tests that an element count overflowing 64 bits is rejected (shape).
func.func @shape_overflow(%x: tensor<4611686018427387904x4xf32>) -> tensor<16xf32> {
  // expected-error @+1 {{[shape] element count of [4611686018427387904, 4] overflows 64 bits}}
  %0 = kiln.reshape %x : tensor<4611686018427387904x4xf32> -> tensor<16xf32>
  return %0 : tensor<16xf32>
}

// -----

// Tests that matmul rejects a rank-1 operand (matmul_c1).
func.func @matmul_rank_one(%a: tensor<4xf32>, %b: tensor<4x2xf32>) -> tensor<2xf32> {
  // expected-error @+2 {{[matmul_c1] operands must have equal rank >= 2, got 1 and 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.matmul %a, %b : tensor<4xf32>, tensor<4x2xf32> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// Tests that matmul rejects operands of different ranks (matmul_c1).
func.func @matmul_rank_mismatch(%a: tensor<2x3x4xf32>, %b: tensor<4x5xf32>) -> tensor<2x3x5xf32> {
  // expected-error @+2 {{[matmul_c1] operands must have equal rank >= 2, got 3 and 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.matmul %a, %b : tensor<2x3x4xf32>, tensor<4x5xf32> -> tensor<2x3x5xf32>
  return %0 : tensor<2x3x5xf32>
}

// -----

// Tests that matmul rejects operands of different element types (matmul_c2).
func.func @matmul_element_types(%a: tensor<2x3xf32>, %b: tensor<3x4xf64>) -> tensor<2x4xf32> {
  // expected-error @+2 {{[matmul_c2] operand element types differ}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.matmul %a, %b : tensor<2x3xf32>, tensor<3x4xf64> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// Tests that batched matmul rejects different batch axes (matmul_c3).
func.func @matmul_batch(%a: tensor<2x3x4xf32>, %b: tensor<5x4x6xf32>) -> tensor<2x3x6xf32> {
  // expected-error @+2 {{[matmul_c3] batch axis 0 differs: 2 vs 5}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.matmul %a, %b : tensor<2x3x4xf32>, tensor<5x4x6xf32> -> tensor<2x3x6xf32>
  return %0 : tensor<2x3x6xf32>
}

// -----

// Tests that matmul rejects different contraction sizes (matmul_c4).
func.func @matmul_contraction(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) -> tensor<2x5xf32> {
  // expected-error @+2 {{[matmul_c4] contraction sizes differ: 3 vs 4}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.matmul %a, %b : tensor<2x3xf32>, tensor<4x5xf32> -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

// Tests that matmul applies transpose_rhs before comparing contraction sizes
// (matmul_c4).
func.func @matmul_contraction_transposed(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x3xf32> {
  // expected-error @+2 {{[matmul_c4] contraction sizes differ: 3 vs 4}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.matmul %a, %b {transpose_rhs = true} : tensor<2x3xf32>, tensor<3x4xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Tests that a matmul result type other than the inferred one is rejected.
func.func @matmul_wrong_result(%a: tensor<2x3xf32>, %b: tensor<3x5xf32>) -> tensor<5x2xf32> {
  // expected-error @+2 {{'kiln.matmul' op inferred type(s) 'tensor<2x5xf32>' are incompatible with return type(s) of operation 'tensor<5x2xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.matmul %a, %b : tensor<2x3xf32>, tensor<3x5xf32> -> tensor<5x2xf32>
  return %0 : tensor<5x2xf32>
}

// -----

// Tests that a dynamically shaped operand fails the kiln type constraints.
func.func @dynamic_operand(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{'kiln.add' op operand #0 must be statically shaped tensor}}
  %0 = kiln.add %x, %x : tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

// Tests that a reduction rejects an axis past the rank (reduce_c1).
func.func @reduce_axis_range(%x: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+2 {{[reduce_c1] axis 2 is out of range [0, 2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.reduce_sum %x {axes = array<i64: 2>} : tensor<2x3xf32> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// Tests that a reduction rejects a negative axis (reduce_c1).
func.func @reduce_axis_negative(%x: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+2 {{[reduce_c1] axis -1 is out of range [0, 2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.reduce_max %x {axes = array<i64: -1>} : tensor<2x3xf32> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// Tests that a reduction rejects a repeated axis (reduce_c2).
func.func @reduce_axis_repeated(%x: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+2 {{[reduce_c2] axis 1 appears more than once}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.reduce_mean %x {axes = array<i64: 1, 1>} : tensor<2x3xf32> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// Tests that argmax rejects an axis past the rank (argmax_c1).
func.func @argmax_axis(%x: tensor<8x10xf32>) -> tensor<8xi64> {
  // expected-error @+2 {{[argmax_c1] axis 2 is out of range [0, 2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.argmax %x {axis = 2 : i64} : tensor<8x10xf32> -> tensor<8xi64>
  return %0 : tensor<8xi64>
}

// -----

// Tests that transpose rejects a permutation of the wrong length
// (transpose_c1).
func.func @transpose_length(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+2 {{[transpose_c1] permutation has 1 entries for a rank-2 input}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.transpose %x {permutation = array<i64: 0>} : tensor<2x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Tests that transpose rejects a list that is not a permutation
// (transpose_c1).
func.func @transpose_not_permutation(%x: tensor<2x3xf32>) -> tensor<2x2xf32> {
  // expected-error @+2 {{[transpose_c1] [0, 0] is not a permutation of [0, 2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.transpose %x {permutation = array<i64: 0, 0>} : tensor<2x3xf32> -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

// Tests that concat rejects an empty input list (concat_c1).
func.func @concat_no_inputs() -> tensor<2xf32> {
  // expected-error @+2 {{[concat_c1] needs at least one input}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = "kiln.concat"() <{axis = 0 : i64}> : () -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// Tests that concat rejects an axis past the rank (concat_c2).
func.func @concat_axis(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>) -> tensor<2x6xf32> {
  // expected-error @+2 {{[concat_c2] axis 2 is out of range [0, 2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.concat %a, %b {axis = 2 : i64} : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x6xf32>
  return %0 : tensor<2x6xf32>
}

// -----

// Tests that concat rejects inputs of different ranks (concat_c3).
func.func @concat_rank(%a: tensor<2x3xf32>, %b: tensor<3xf32>) -> tensor<2x6xf32> {
  // expected-error @+2 {{[concat_c3] input 1 has rank 1, expected 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.concat %a, %b {axis = 1 : i64} : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x6xf32>
  return %0 : tensor<2x6xf32>
}

// -----

// Tests that concat rejects inputs of different element types (concat_c3).
func.func @concat_element_types(%a: tensor<2x3xf32>, %b: tensor<2x3xf64>) -> tensor<2x6xf32> {
  // expected-error @+2 {{[concat_c3] input 1 has element type}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.concat %a, %b {axis = 1 : i64} : tensor<2x3xf32>, tensor<2x3xf64> -> tensor<2x6xf32>
  return %0 : tensor<2x6xf32>
}

// -----

// Tests that concat rejects inputs whose other axes differ (concat_c4).
func.func @concat_other_axis(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x7xf32> {
  // expected-error @+2 {{[concat_c4] input 1 has size 3 on axis 0, expected 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.concat %a, %b {axis = 1 : i64} : tensor<2x3xf32>, tensor<3x4xf32> -> tensor<2x7xf32>
  return %0 : tensor<2x7xf32>
}

// -----

// Tests that slice needs one start, limit and stride per axis (slice_c1).
func.func @slice_entries(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  // expected-error @+2 {{[slice_c1] start, limit and strides need 2 entries each, got 1, 2 and 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.slice %x {start = array<i64: 0>, limit = array<i64: 2, 4>, strides = array<i64: 1, 1>} : tensor<2x4xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// Tests that slice rejects a limit past the axis size (slice_c2).
func.func @slice_limit(%x: tensor<2x4xf32>) -> tensor<2x5xf32> {
  // expected-error @+2 {{[slice_c2] axis 1: need 0 <= start (0) <= limit (5) <= size (4)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.slice %x {start = array<i64: 0, 0>, limit = array<i64: 2, 5>, strides = array<i64: 1, 1>} : tensor<2x4xf32> -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

// Tests that slice rejects a start after the limit (slice_c2).
func.func @slice_start_after_limit(%x: tensor<2x4xf32>) -> tensor<2x1xf32> {
  // expected-error @+2 {{[slice_c2] axis 0: need 0 <= start (2) <= limit (1) <= size (2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.slice %x {start = array<i64: 2, 0>, limit = array<i64: 1, 1>, strides = array<i64: 1, 1>} : tensor<2x4xf32> -> tensor<2x1xf32>
  return %0 : tensor<2x1xf32>
}

// -----

// Tests that slice rejects a stride below 1 (slice_c3).
func.func @slice_stride(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  // expected-error @+2 {{[slice_c3] axis 0: stride 0 must be >= 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.slice %x {start = array<i64: 0, 0>, limit = array<i64: 2, 4>, strides = array<i64: 0, 1>} : tensor<2x4xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// Tests that pad needs one low and high entry per axis (pad_c1).
func.func @pad_entries(%x: tensor<2x2xf32>) -> tensor<3x4xf32> {
  // expected-error @+2 {{[pad_c1] low, high (and interior) need 2 entries each, got 1, 2 and 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.pad %x {low = array<i64: 1>, high = array<i64: 0, 2>} : tensor<2x2xf32> -> tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}

// -----

// Tests that pad rejects negative padding (pad_c2).
func.func @pad_negative(%x: tensor<2x2xf32>) -> tensor<1x2xf32> {
  // expected-error @+2 {{[pad_c2] axis 0: padding (low -1, high 0, interior 0) must be non-negative}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.pad %x {low = array<i64: -1, 0>, high = array<i64: 0, 0>} : tensor<2x2xf32> -> tensor<1x2xf32>
  return %0 : tensor<1x2xf32>
}

// -----

// Tests that reshape rejects a different element count (reshape_c1).
func.func @reshape_count(%x: tensor<2x3xf32>) -> tensor<5xf32> {
  // expected-error @+1 {{'kiln.reshape' op [reshape_c1] [2, 3] has 6 elements but [5] has 5}}
  %0 = kiln.reshape %x : tensor<2x3xf32> -> tensor<5xf32>
  return %0 : tensor<5xf32>
}

// -----

// Tests that reshape rejects a different element type (reshape_c2).
func.func @reshape_element_type(%x: tensor<2x3xf32>) -> tensor<6xf64> {
  // expected-error @+1 {{'kiln.reshape' op [reshape_c2] element types differ}}
  %0 = kiln.reshape %x : tensor<2x3xf32> -> tensor<6xf64>
  return %0 : tensor<6xf64>
}

// -----

// Tests that broadcast_in_dim needs one dimension per operand axis
// (broadcast_in_dim_c1).
func.func @broadcast_entries(%x: tensor<3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'kiln.broadcast_in_dim' op [broadcast_in_dim_c1] 2 broadcast dimensions for a rank-1 operand}}
  %0 = kiln.broadcast_in_dim %x, dims = [0, 1] : tensor<3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Tests that broadcast_in_dim rejects a dimension past the result rank
// (broadcast_in_dim_c2).
func.func @broadcast_range(%x: tensor<3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'kiln.broadcast_in_dim' op [broadcast_in_dim_c2] dimensions [2] must be strictly increasing in [0, 2)}}
  %0 = kiln.broadcast_in_dim %x, dims = [2] : tensor<3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Tests that broadcast_in_dim rejects decreasing dimensions, which would
// transpose (broadcast_in_dim_c2).
func.func @broadcast_order(%x: tensor<3x3xf32>) -> tensor<3x3xf32> {
  // expected-error @+1 {{'kiln.broadcast_in_dim' op [broadcast_in_dim_c2] dimensions [1, 0] must be strictly increasing in [0, 2)}}
  %0 = kiln.broadcast_in_dim %x, dims = [1, 0] : tensor<3x3xf32> -> tensor<3x3xf32>
  return %0 : tensor<3x3xf32>
}

// -----

// Tests that broadcast_in_dim rejects an operand axis that is neither 1 nor
// the result size (broadcast_in_dim_c3).
func.func @broadcast_size(%x: tensor<3xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'kiln.broadcast_in_dim' op [broadcast_in_dim_c3] operand axis 0 has size 3, result axis 1 has 4; need 1 or equal}}
  %0 = kiln.broadcast_in_dim %x, dims = [1] : tensor<3xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// Tests that broadcast_in_dim rejects a different element type
// (broadcast_in_dim_c4).
func.func @broadcast_element_type(%x: tensor<3xf32>) -> tensor<2x3xf64> {
  // expected-error @+1 {{'kiln.broadcast_in_dim' op [broadcast_in_dim_c4] element types differ}}
  %0 = kiln.broadcast_in_dim %x, dims = [1] : tensor<3xf32> -> tensor<2x3xf64>
  return %0 : tensor<2x3xf64>
}

// -----

// Tests that softmax rejects an axis past the rank (softmax_c1).
func.func @softmax_axis(%x: tensor<8x10xf32>) -> tensor<8x10xf32> {
  // expected-error @+1 {{'kiln.softmax' op [softmax_c1] axis 2 is out of range [0, 2)}}
  %0 = kiln.softmax %x {axis = 2 : i64} : tensor<8x10xf32>
  return %0 : tensor<8x10xf32>
}

// -----

// Tests that log_softmax rejects a negative axis (softmax_c1).
func.func @log_softmax_axis(%x: tensor<8x10xf32>) -> tensor<8x10xf32> {
  // expected-error @+1 {{'kiln.log_softmax' op [softmax_c1] axis -1 is out of range [0, 2)}}
  %0 = kiln.log_softmax %x {axis = -1 : i64} : tensor<8x10xf32>
  return %0 : tensor<8x10xf32>
}

// -----

// Tests that a dense-label loss rejects rank-0 predictions (loss_c1).
func.func @loss_rank(%p: tensor<f32>, %w: tensor<1xf32>) -> tensor<f32> {
  // expected-error @+2 {{[loss_c1] predictions need rank >= 1 with a leading batch axis, got rank 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.mean_squared_error %p, %p, %w : tensor<f32>, tensor<f32>, tensor<1xf32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that the sparse loss rejects rank-1 predictions, which leave no class
// axis (loss_c1).
func.func @sparse_loss_rank(%p: tensor<8xf32>, %l: tensor<8xi64>, %w: tensor<8xf32>) -> tensor<f32> {
  // expected-error @+2 {{[loss_c1] predictions need rank >= 2 with a leading batch axis, got rank 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.sparse_categorical_crossentropy %p, %l, %w : tensor<8xf32>, tensor<8xi64>, tensor<8xf32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that categorical cross-entropy rejects rank-1 predictions, which
// leave no class axis after the batch axis (loss_c1).
func.func @categorical_loss_rank(%p: tensor<8xf32>, %w: tensor<8xf32>) -> tensor<f32> {
  // expected-error @+2 {{[loss_c1] predictions need rank >= 2 with a leading batch axis, got rank 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.categorical_crossentropy %p, %p, %w : tensor<8xf32>, tensor<8xf32>, tensor<8xf32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that a dense-label loss rejects labels of another shape (loss_c2).
func.func @loss_label_shape(%p: tensor<8x10xf32>, %y: tensor<8x9xf32>, %w: tensor<8xf32>) -> tensor<f32> {
  // expected-error @+2 {{[loss_c2] labels have shape [8, 9], expected [8, 10]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.mean_absolute_error %p, %y, %w : tensor<8x10xf32>, tensor<8x9xf32>, tensor<8xf32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that the sparse loss rejects one-hot shaped labels (loss_c2).
func.func @sparse_loss_label_shape(%p: tensor<8x10xf32>, %l: tensor<8x10xi64>, %w: tensor<8xf32>) -> tensor<f32> {
  // expected-error @+2 {{[loss_c2] labels have shape [8, 10], expected [8]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.sparse_categorical_crossentropy %p, %l, %w {from_logits = true} : tensor<8x10xf32>, tensor<8x10xi64>, tensor<8xf32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that a loss rejects a sample weight whose length is not the batch
// size (loss_c3).
func.func @loss_weight_length(%p: tensor<8x10xf32>, %y: tensor<8x10xf32>, %w: tensor<4xf32>) -> tensor<f32> {
  // expected-error @+2 {{[loss_c3] sample_weight has shape [4], expected [8]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.binary_crossentropy %p, %y, %w : tensor<8x10xf32>, tensor<8x10xf32>, tensor<4xf32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that a loss rejects a sample weight that is not rank 1 (loss_c3).
func.func @loss_weight_rank(%p: tensor<8x10xf32>, %l: tensor<8xi32>, %w: tensor<8x1xf32>) -> tensor<f32> {
  // expected-error @+2 {{[loss_c3] sample_weight has shape [8, 1], expected [8]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.sparse_categorical_crossentropy %p, %l, %w : tensor<8x10xf32>, tensor<8xi32>, tensor<8x1xf32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that a dense-label loss rejects labels of another element type
// (loss_c4).
func.func @loss_label_element_type(%p: tensor<8x10xf32>, %y: tensor<8x10xf64>, %w: tensor<8xf32>) -> tensor<f32> {
  // expected-error @+2 {{[loss_c4] labels have element type}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.categorical_crossentropy %p, %y, %w : tensor<8x10xf32>, tensor<8x10xf64>, tensor<8xf32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that a loss rejects a sample weight of another element type
// (loss_c4).
func.func @loss_weight_element_type(%p: tensor<8x10xf32>, %y: tensor<8x10xf32>, %w: tensor<8xf64>) -> tensor<f32> {
  // expected-error @+2 {{[loss_c4] sample_weight has element type}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.mean_squared_error %p, %y, %w : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8xf64> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that the sparse loss checks the sample weight's element type against
// the predictions (loss_c4), while its integer labels are exempt.
func.func @sparse_loss_weight_element_type(%p: tensor<8x10xf64>, %l: tensor<8xi64>, %w: tensor<8xf32>) -> tensor<f64> {
  // expected-error @+2 {{[loss_c4] sample_weight has element type}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.sparse_categorical_crossentropy %p, %l, %w : tensor<8x10xf64>, tensor<8xi64>, tensor<8xf32> -> tensor<f64>
  return %0 : tensor<f64>
}

// -----

// Tests that dropout rejects a rate of 1 (dropout_c1).
func.func @dropout_rate_one(%x: tensor<4xf32>, %step: tensor<i64>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.dropout' op [dropout_c1] rate 1.000000e+00 is not in [0, 1)}}
  %0 = kiln.dropout %x, %step {rate = 1.0 : f64, seed = 0 : i64} : tensor<4xf32>, tensor<i64>
  return %0 : tensor<4xf32>
}

// -----

// Tests that dropout rejects a negative rate (dropout_c1).
func.func @dropout_rate_negative(%x: tensor<4xf32>, %step: tensor<i64>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.dropout' op [dropout_c1] rate -1.000000e-01 is not in [0, 1)}}
  %0 = kiln.dropout %x, %step {rate = -0.1 : f64, seed = 0 : i64} : tensor<4xf32>, tensor<i64>
  return %0 : tensor<4xf32>
}

// -----

// Tests that kiln.iota rejects a dimension outside [0, rank) (iota_c1).
func.func @iota_dimension() -> tensor<4x3xi64> {
  // expected-error @+1 {{[iota_c1] dimension 2 is out of range [0, 2)}}
  %0 = kiln.iota {dimension = 2 : i64} : tensor<4x3xi64>
  return %0 : tensor<4x3xi64>
}

// -----

// Tests that interior padding needs one entry per axis (pad_c1).
func.func @pad_interior_count(%x: tensor<2x2xf32>) -> tensor<2x3xf32> {
  // expected-error @+2 {{[pad_c1] low, high (and interior) need 2 entries each, got 2, 2 and 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.pad %x {low = array<i64: 0, 0>, high = array<i64: 0, 0>, interior = array<i64: 1>} : tensor<2x2xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Tests that an activation coefficient must be finite (a NaN or infinite
// alpha or beta would silently make every output NaN).
func.func @hard_sigmoid_inf_alpha(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{attribute 'alpha' failed to satisfy constraint: 64-bit float attribute whose value is finite}}
  %0 = kiln.hard_sigmoid %x {alpha = 0x7FF0000000000000 : f64} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests the same for beta (NaN).
func.func @hard_sigmoid_nan_beta(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{attribute 'beta' failed to satisfy constraint: 64-bit float attribute whose value is finite}}
  %0 = kiln.hard_sigmoid %x {beta = 0x7FF8000000000000 : f64} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests the same for leaky_relu's slope.
func.func @leaky_relu_nan_alpha(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{attribute 'alpha' failed to satisfy constraint: 64-bit float attribute whose value is finite}}
  %0 = kiln.leaky_relu %x {alpha = 0x7FF8000000000000 : f64} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that conv rejects an input without spatial axes (conv_c1).
func.func @conv_rank(%x: tensor<4x3xf32>, %w: tensor<3x4xf32>) -> tensor<4x4xf32> {
  // expected-error @+2 {{[conv_c1] the input [4, 3] needs rank 3, 4 or 5 ([N, spatial..., C])}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.conv %x, %w {strides = array<i64>, dilations = array<i64>, pad_low = array<i64>, pad_high = array<i64>} : tensor<4x3xf32>, tensor<3x4xf32> -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

// Tests that conv rejects a strides list without one entry per spatial axis (conv_c2).
func.func @conv_entries(%x: tensor<1x5x5x3xf32>, %w: tensor<3x3x3x4xf32>) -> tensor<1x3x3x4xf32> {
  // expected-error @+2 {{[conv_c2] strides has 1 entries, the input has 2 spatial axes}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.conv %x, %w {strides = array<i64: 1>, dilations = array<i64: 1, 1>, pad_low = array<i64: 0, 0>, pad_high = array<i64: 0, 0>} : tensor<1x5x5x3xf32>, tensor<3x3x3x4xf32> -> tensor<1x3x3x4xf32>
  return %0 : tensor<1x3x3x4xf32>
}

// -----

// Tests that conv rejects a zero stride (conv_c3).
func.func @conv_stride(%x: tensor<1x5x5x3xf32>, %w: tensor<3x3x3x4xf32>) -> tensor<1x3x3x4xf32> {
  // expected-error @+2 {{[conv_c3] stride 0 of spatial axis 0 must be >= 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.conv %x, %w {strides = array<i64: 0, 1>, dilations = array<i64: 1, 1>, pad_low = array<i64: 0, 0>, pad_high = array<i64: 0, 0>} : tensor<1x5x5x3xf32>, tensor<3x3x3x4xf32> -> tensor<1x3x3x4xf32>
  return %0 : tensor<1x3x3x4xf32>
}

// -----

// Tests that conv rejects groups that do not divide the input channels (conv_c4).
func.func @conv_groups(%x: tensor<1x5x5x3xf32>, %w: tensor<3x3x1x4xf32>) -> tensor<1x3x3x4xf32> {
  // expected-error @+2 {{[conv_c4] 3 input channels are not divisible by 2 groups}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.conv %x, %w {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pad_low = array<i64: 0, 0>, pad_high = array<i64: 0, 0>, groups = 2 : i64} : tensor<1x5x5x3xf32>, tensor<3x3x1x4xf32> -> tensor<1x3x3x4xf32>
  return %0 : tensor<1x3x3x4xf32>
}

// -----

// Tests that conv rejects a dilated window larger than the padded input (conv_c5).
func.func @conv_window(%x: tensor<1x2x5x3xf32>, %w: tensor<3x3x3x4xf32>) -> tensor<1x1x3x4xf32> {
  // expected-error @+2 {{[conv_c5] spatial axis 0: the window (kernel 3, dilation 1: 3 positions) is larger than the padded input (2 + 0 + 0 = 2), the output would be empty}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.conv %x, %w {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pad_low = array<i64: 0, 0>, pad_high = array<i64: 0, 0>} : tensor<1x2x5x3xf32>, tensor<3x3x3x4xf32> -> tensor<1x1x3x4xf32>
  return %0 : tensor<1x1x3x4xf32>
}

// -----

// Tests that conv rejects operands of different element types (conv_c6).
func.func @conv_element_types(%x: tensor<1x5x5x3xf32>, %w: tensor<3x3x3x4xf64>) -> tensor<1x3x3x4xf32> {
  // expected-error @+2 {{[conv_c6] operand element types differ: 'f32' vs 'f64'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.conv %x, %w {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pad_low = array<i64: 0, 0>, pad_high = array<i64: 0, 0>} : tensor<1x5x5x3xf32>, tensor<3x3x3x4xf64> -> tensor<1x3x3x4xf32>
  return %0 : tensor<1x3x3x4xf32>
}

// -----

// Tests that conv_transpose rejects a result whose convolution does not give the input (conv_transpose_c1).
func.func @conv_transpose_shape(%dy: tensor<1x3x3x4xf32>, %w: tensor<3x3x3x4xf32>) -> tensor<1x6x5x3xf32> {
  // expected-error @+1 {{[conv_transpose_c1] the input (the convolution of the result) must have shape [1, 4, 3, 4], got [1, 3, 3, 4]}}
  %0 = kiln.conv_transpose %dy, %w {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pad_low = array<i64: 0, 0>, pad_high = array<i64: 0, 0>} : tensor<1x3x3x4xf32>, tensor<3x3x3x4xf32> -> tensor<1x6x5x3xf32>
  return %0 : tensor<1x6x5x3xf32>
}

// -----

// Tests that conv_filter_grad rejects an output gradient of another shape than the convolution's result (conv_filter_grad_c1).
func.func @conv_filter_grad_shape(%x: tensor<1x5x5x3xf32>, %dy: tensor<1x4x3x4xf32>) -> tensor<3x3x3x4xf32> {
  // expected-error @+1 {{[conv_filter_grad_c1] the output gradient (the convolution's result) must have shape [1, 3, 3, 4], got [1, 4, 3, 4]}}
  %0 = kiln.conv_filter_grad %x, %dy {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pad_low = array<i64: 0, 0>, pad_high = array<i64: 0, 0>} : tensor<1x5x5x3xf32>, tensor<1x4x3x4xf32> -> tensor<3x3x3x4xf32>
  return %0 : tensor<3x3x3x4xf32>
}

// -----

// Tests that max_pool rejects an input without spatial axes (pool_c1).
func.func @pool_rank(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+2 {{[pool_c1] the input [4, 3] needs rank 3, 4 or 5 ([N, spatial..., C])}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.max_pool %x {window = array<i64>, strides = array<i64>, pad_low = array<i64>, pad_high = array<i64>} : tensor<4x3xf32> -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

// Tests that max_pool rejects a window without one entry per spatial axis (pool_c2).
func.func @pool_entries(%x: tensor<1x4x4x3xf32>) -> tensor<1x2x2x3xf32> {
  // expected-error @+2 {{[pool_c2] window has 1 entries, the input has 2 spatial axes}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.max_pool %x {window = array<i64: 2>, strides = array<i64: 2, 2>, pad_low = array<i64: 0, 0>, pad_high = array<i64: 0, 0>} : tensor<1x4x4x3xf32> -> tensor<1x2x2x3xf32>
  return %0 : tensor<1x2x2x3xf32>
}

// -----

// Tests that avg_pool rejects a zero stride (pool_c3).
func.func @pool_stride(%x: tensor<1x4x4x3xf32>) -> tensor<1x2x2x3xf32> {
  // expected-error @+2 {{[pool_c3] spatial axis 1: window 2 and stride 0 must be >= 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.avg_pool %x {window = array<i64: 2, 2>, strides = array<i64: 2, 0>, pad_low = array<i64: 0, 0>, pad_high = array<i64: 0, 0>} : tensor<1x4x4x3xf32> -> tensor<1x2x2x3xf32>
  return %0 : tensor<1x2x2x3xf32>
}

// -----

// Tests that max_pool rejects padding as large as the window (pool_c4).
func.func @pool_pad(%x: tensor<1x4x4x3xf32>) -> tensor<1x3x2x3xf32> {
  // expected-error @+2 {{[pool_c4] spatial axis 0: padding (2, 0) must be smaller than the window 2, or a window could hold only padding}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.max_pool %x {window = array<i64: 2, 2>, strides = array<i64: 2, 2>, pad_low = array<i64: 2, 0>, pad_high = array<i64: 0, 0>} : tensor<1x4x4x3xf32> -> tensor<1x3x2x3xf32>
  return %0 : tensor<1x3x2x3xf32>
}

// -----

// Tests that avg_pool rejects a window larger than the padded input (pool_c5).
func.func @pool_window(%x: tensor<1x4x2x3xf32>) -> tensor<1x3x1x3xf32> {
  // expected-error @+2 {{[pool_c5] spatial axis 1: the window 3 is larger than the padded input (2 + 0 + 0 = 2), the output would be empty}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.avg_pool %x {window = array<i64: 2, 3>, strides = array<i64: 1, 1>, pad_low = array<i64: 0, 0>, pad_high = array<i64: 0, 0>} : tensor<1x4x2x3xf32> -> tensor<1x3x1x3xf32>
  return %0 : tensor<1x3x1x3xf32>
}

// -----

// Tests that max_pool_grad rejects an output gradient of another element type (pool_c6).
func.func @pool_element_types(%x: tensor<1x4x4x3xf32>, %dy: tensor<1x2x2x3xf64>) -> tensor<1x4x4x3xf32> {
  // expected-error @+1 {{[pool_c6] operand element types differ: 'f32' vs 'f64'}}
  %0 = kiln.max_pool_grad %x, %dy {window = array<i64: 2, 2>, strides = array<i64: 2, 2>, pad_low = array<i64: 0, 0>, pad_high = array<i64: 0, 0>} : tensor<1x4x4x3xf32>, tensor<1x2x2x3xf64> -> tensor<1x4x4x3xf32>
  return %0 : tensor<1x4x4x3xf32>
}

// -----

// Tests that avg_pool_grad rejects an output gradient of another shape than the pooling of its result (pool_grad_c1).
func.func @pool_grad_shape(%dy: tensor<1x3x2x3xf32>) -> tensor<1x4x4x3xf32> {
  // expected-error @+1 {{[pool_grad_c1] the output gradient (the pooling of the result) must have shape [1, 2, 2, 3], got [1, 3, 2, 3]}}
  %0 = kiln.avg_pool_grad %dy {window = array<i64: 2, 2>, strides = array<i64: 2, 2>, pad_low = array<i64: 0, 0>, pad_high = array<i64: 0, 0>} : tensor<1x3x2x3xf32> -> tensor<1x4x4x3xf32>
  return %0 : tensor<1x4x4x3xf32>
}

// -----

// Tests that batch_norm rejects a channel axis out of range (batch_norm_c1).
func.func @batch_norm_axis(%x: tensor<4x3xf32>, %p: tensor<3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{[batch_norm_c1] axis 2 is not in [0, 2)}}
  %y, %m, %v = kiln.batch_norm %x, %p, %p, %p, %p {axis = 2 : i64, epsilon = 1.0e-3 : f64, momentum = 0.99 : f64} : tensor<4x3xf32>, tensor<3xf32>
  return %y : tensor<4x3xf32>
}

// -----

// Tests that batch_norm needs one parameter per channel (batch_norm_c2).
func.func @batch_norm_params(%x: tensor<4x3xf32>, %p: tensor<4xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{[batch_norm_c2] scale, offset and the moving statistics must be 'tensor<3xf32>' (one value per channel of axis 1), got 'tensor<4xf32>'}}
  %y, %m, %v = kiln.batch_norm %x, %p, %p, %p, %p {axis = 1 : i64, epsilon = 1.0e-3 : f64, momentum = 0.99 : f64} : tensor<4x3xf32>, tensor<4xf32>
  return %y : tensor<4x3xf32>
}

// -----

// Tests that batch_norm rejects a non-positive epsilon (batch_norm_c3).
func.func @batch_norm_epsilon(%x: tensor<4x3xf32>, %p: tensor<3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{[batch_norm_c3] epsilon 0.000000e+00 must be finite and > 0}}
  %y, %m, %v = kiln.batch_norm %x, %p, %p, %p, %p {axis = 1 : i64, epsilon = 0.0 : f64, momentum = 0.99 : f64} : tensor<4x3xf32>, tensor<3xf32>
  return %y : tensor<4x3xf32>
}

// -----

// Tests that batch_norm rejects a momentum outside [0, 1] (batch_norm_c3).
func.func @batch_norm_momentum(%x: tensor<4x3xf32>, %p: tensor<3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{[batch_norm_c3] momentum 1.500000e+00 must be in [0, 1]}}
  %y, %m, %v = kiln.batch_norm %x, %p, %p, %p, %p {axis = 1 : i64, epsilon = 1.0e-3 : f64, momentum = 1.5 : f64} : tensor<4x3xf32>, tensor<3xf32>
  return %y : tensor<4x3xf32>
}

// -----

// Tests that batch_norm needs one sample weight per row of axis 0 (batch_norm_c4).
func.func @batch_norm_weights(%x: tensor<4x3xf32>, %p: tensor<3xf32>, %w: tensor<3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{[batch_norm_c4] the sample weights must be 'tensor<4xf32>' (one per sample of axis 0, which is not the channel axis), got 'tensor<3xf32>' with channel axis 1}}
  %y, %m, %v = kiln.batch_norm %x, %p, %p, %p, %p sample_weight(%w : tensor<3xf32>) {axis = 1 : i64, epsilon = 1.0e-3 : f64, momentum = 0.99 : f64} : tensor<4x3xf32>, tensor<3xf32>
  return %y : tensor<4x3xf32>
}

// -----

// Tests that conv rejects a padded size that overflows 64 bits (conv_c5).
func.func @conv_overflow(%x: tensor<1x5x3x2xf32>, %w: tensor<3x1x2x4xf32>) -> tensor<1x3x3x4xf32> {
  // expected-error @+2 {{[conv_c5] spatial axis 0: the padded input (5 + 9223372036854775807 + 9223372036854775807) or the dilated window (kernel 3, dilation 1) overflows 64 bits}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.conv %x, %w {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pad_low = array<i64: 9223372036854775807, 0>, pad_high = array<i64: 9223372036854775807, 0>} : tensor<1x5x3x2xf32>, tensor<3x1x2x4xf32> -> tensor<1x3x3x4xf32>
  return %0 : tensor<1x3x3x4xf32>
}

// -----

// Tests that max_pool rejects a padded size that overflows 64 bits (pool_c5).
func.func @pool_overflow(%x: tensor<1x5x3x2xf32>) -> tensor<1x1x3x2xf32> {
  // expected-error @+2 {{[pool_c5] spatial axis 0: the padded input (5 + 9223372036854775806 + 9223372036854775806) overflows 64 bits}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.max_pool %x {window = array<i64: 9223372036854775807, 1>, strides = array<i64: 1, 1>, pad_low = array<i64: 9223372036854775806, 0>, pad_high = array<i64: 9223372036854775806, 0>} : tensor<1x5x3x2xf32> -> tensor<1x1x3x2xf32>
  return %0 : tensor<1x1x3x2xf32>
}

// -----

// Tests that gather rejects an axis outside the input's rank (gather_c1).
func.func @gather_axis(%t: tensor<10x4xf32>, %i: tensor<3xi32>) -> tensor<10x3xf32> {
  // expected-error @+2 {{[gather_c1] axis 2 is out of range [0, 2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.gather %t[%i] {axis = 2 : i64} : tensor<10x4xf32>, tensor<3xi32> -> tensor<10x3xf32>
  return %0 : tensor<10x3xf32>
}

// -----

// Tests that gather needs integer indices.
func.func @gather_float_indices(%t: tensor<10x4xf32>, %i: tensor<3xf32>) -> tensor<3x4xf32> {
  // expected-error @+1 {{operand #1 must be statically shaped tensor of 32-bit signless integer or 64-bit signless integer values}}
  %0 = kiln.gather %t[%i] : tensor<10x4xf32>, tensor<3xf32> -> tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}

// -----

// Tests that scatter_add needs room for the indices (scatter_add_c1).
func.func @scatter_add_axis(%u: tensor<3x4xf32>, %i: tensor<2x3xi32>) -> tensor<10x4xf32> {
  // expected-error @+2 {{[scatter_add_c1] axis 1 with rank-2 indices does not fit rank-2 updates}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.scatter_add %u[%i] {axis = 1 : i64, size = 10 : i64} : tensor<3x4xf32>, tensor<2x3xi32> -> tensor<10x4xf32>
  return %0 : tensor<10x4xf32>
}

// -----

// Tests that scatter_add needs a positive size (scatter_add_c1).
func.func @scatter_add_size(%u: tensor<3x4xf32>, %i: tensor<3xi32>) -> tensor<0x4xf32> {
  // expected-error @+2 {{[scatter_add_c1] size 0 must be >= 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.scatter_add %u[%i] {size = 0 : i64} : tensor<3x4xf32>, tensor<3xi32> -> tensor<0x4xf32>
  return %0 : tensor<0x4xf32>
}

// -----

// Tests that the updates carry the indices' shape at the axis (scatter_add_c2).
func.func @scatter_add_shape(%u: tensor<2x4x5xf32>, %i: tensor<2x3xi32>) -> tensor<10x5xf32> {
  // expected-error @+2 {{[scatter_add_c2] updates [2, 4, 5] do not have the indices' shape [2, 3] at axis 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.scatter_add %u[%i] {size = 10 : i64} : tensor<2x4x5xf32>, tensor<2x3xi32> -> tensor<10x5xf32>
  return %0 : tensor<10x5xf32>
}

// -----

// Tests that rnn names its cells (rnn_c1).
func.func @rnn_cell(%x: tensor<2x5x3xf32>, %k: tensor<3x4xf32>, %rk: tensor<4x4xf32>, %b: tensor<4xf32>) -> tensor<2x5x4xf32> {
  // expected-error @+2 {{[rnn_c1] cell "elman" is not "simple", "lstm" or "gru"}}
  // expected-error @+1 {{failed to infer returned types}}
  %y, %st, %ws = kiln.rnn %x, %k, %rk, %b {cell = "elman"} : tensor<2x5x3xf32>, tensor<3x4xf32>, tensor<4x4xf32>, tensor<4xf32> -> tensor<2x5x4xf32>, tensor<1x2x4xf32>, tensor<80xf32>
  return %y : tensor<2x5x4xf32>
}

// -----

// Tests that rnn knows its activations (rnn_c1).
func.func @rnn_activation(%x: tensor<2x5x3xf32>, %k: tensor<3x4xf32>, %rk: tensor<4x4xf32>, %b: tensor<4xf32>) -> tensor<2x5x4xf32> {
  // expected-error @+1 {{[rnn_c1] activation "softsign" is not "tanh", "sigmoid", "relu" or "linear"}}
  %y, %st, %ws = kiln.rnn %x, %k, %rk, %b {cell = "simple", activation = "softsign"} : tensor<2x5x3xf32>, tensor<3x4xf32>, tensor<4x4xf32>, tensor<4xf32> -> tensor<2x5x4xf32>, tensor<1x2x4xf32>, tensor<80xf32>
  return %y : tensor<2x5x4xf32>
}

// -----

// Tests that the LSTM kernel has 4 gate blocks per unit (rnn_c2).
func.func @rnn_kernel(%x: tensor<2x5x3xf32>, %k: tensor<3x6xf32>, %rk: tensor<4x16xf32>, %b: tensor<16xf32>) -> tensor<2x5x4xf32> {
  // expected-error @+2 {{[rnn_c2] the kernel must be [I, 4*H] = [3, 4*H] with H >= 1, got [3, 6]}}
  // expected-error @+1 {{failed to infer returned types}}
  %y, %st, %ws = kiln.rnn %x, %k, %rk, %b {cell = "lstm"} : tensor<2x5x3xf32>, tensor<3x6xf32>, tensor<4x16xf32>, tensor<16xf32> -> tensor<2x5x4xf32>, tensor<2x2x4xf32>, tensor<280xf32>
  return %y : tensor<2x5x4xf32>
}

// -----

// Tests that the recurrent kernel is [H, G*H] (rnn_c3).
func.func @rnn_recurrent(%x: tensor<2x5x3xf32>, %k: tensor<3x16xf32>, %rk: tensor<3x16xf32>, %b: tensor<16xf32>) -> tensor<2x5x4xf32> {
  // expected-error @+2 {{[rnn_c3] the recurrent kernel must be [H, 4*H] = [4, 16], got [3, 16]}}
  // expected-error @+1 {{failed to infer returned types}}
  %y, %st, %ws = kiln.rnn %x, %k, %rk, %b {cell = "lstm"} : tensor<2x5x3xf32>, tensor<3x16xf32>, tensor<3x16xf32>, tensor<16xf32> -> tensor<2x5x4xf32>, tensor<2x2x4xf32>, tensor<280xf32>
  return %y : tensor<2x5x4xf32>
}

// -----

// Tests that a reset_after GRU takes a [2, 3H] bias (rnn_c4).
func.func @rnn_bias(%x: tensor<2x5x3xf32>, %k: tensor<3x12xf32>, %rk: tensor<4x12xf32>, %b: tensor<12xf32>) -> tensor<2x5x4xf32> {
  // expected-error @+2 {{[rnn_c4] the bias must be tensor<2x12xf32>, got tensor<12xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %y, %st, %ws = kiln.rnn %x, %k, %rk, %b {cell = "gru"} : tensor<2x5x3xf32>, tensor<3x12xf32>, tensor<4x12xf32>, tensor<12xf32> -> tensor<2x5x4xf32>, tensor<1x2x4xf32>, tensor<224xf32>
  return %y : tensor<2x5x4xf32>
}

// -----

// Tests that the kernels share the input's element type (rnn_c5).
func.func @rnn_types(%x: tensor<2x5x3xf32>, %k: tensor<3x4xf64>, %rk: tensor<4x4xf32>, %b: tensor<4xf32>) -> tensor<2x5x4xf32> {
  // expected-error @+2 {{[rnn_c5] the kernels must have the input's element type}}
  // expected-error @+1 {{failed to infer returned types}}
  %y, %st, %ws = kiln.rnn %x, %k, %rk, %b {cell = "simple"} : tensor<2x5x3xf32>, tensor<3x4xf64>, tensor<4x4xf32>, tensor<4xf32> -> tensor<2x5x4xf32>, tensor<1x2x4xf32>, tensor<80xf32>
  return %y : tensor<2x5x4xf32>
}

// -----

// Tests that rnn_grad takes the workspace kiln.rnn gives (rnn_grad_c1).
func.func @rnn_grad_workspace(%x: tensor<2x5x3xf32>, %k: tensor<3x4xf32>, %rk: tensor<4x4xf32>, %ws: tensor<79xf32>, %dy: tensor<2x5x4xf32>, %dst: tensor<1x2x4xf32>) -> tensor<3x4xf32> {
  // expected-error @+2 {{[rnn_grad_c1] the workspace, result gradient and final state gradient must be tensor<80xf32>, tensor<2x5x4xf32> and tensor<1x2x4xf32>, got tensor<79xf32>, tensor<2x5x4xf32> and tensor<1x2x4xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %dx, %dk, %drk, %db, %ds0 = kiln.rnn_grad %x, %k, %rk, %ws, %dy, %dst {cell = "simple"} : tensor<2x5x3xf32>, tensor<3x4xf32>, tensor<4x4xf32>, tensor<79xf32>, tensor<2x5x4xf32>, tensor<1x2x4xf32> -> tensor<2x5x3xf32>, tensor<3x4xf32>, tensor<4x4xf32>, tensor<4xf32>, tensor<1x2x4xf32>
  return %dk : tensor<3x4xf32>
}

// -----

// Tests that rnn_grad takes the final state gradient of kiln.rnn's shape
// (rnn_grad_c1): an LSTM's is [2, N, H].
func.func @rnn_grad_final_state(%x: tensor<2x5x3xf32>, %k: tensor<3x16xf32>, %rk: tensor<4x16xf32>, %ws: tensor<280xf32>, %dy: tensor<2x5x4xf32>, %dst: tensor<1x2x4xf32>) -> tensor<3x16xf32> {
  // expected-error @+2 {{[rnn_grad_c1] the workspace, result gradient and final state gradient must be tensor<280xf32>, tensor<2x5x4xf32> and tensor<2x2x4xf32>, got tensor<280xf32>, tensor<2x5x4xf32> and tensor<1x2x4xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %dx, %dk, %drk, %db, %ds0 = kiln.rnn_grad %x, %k, %rk, %ws, %dy, %dst {cell = "lstm"} : tensor<2x5x3xf32>, tensor<3x16xf32>, tensor<4x16xf32>, tensor<280xf32>, tensor<2x5x4xf32>, tensor<1x2x4xf32> -> tensor<2x5x3xf32>, tensor<3x16xf32>, tensor<4x16xf32>, tensor<16xf32>, tensor<2x2x4xf32>
  return %dk : tensor<3x16xf32>
}

// -----

// Tests that an LSTM's initial state is [2, N, H], h and c (rnn_c8).
func.func @rnn_initial_state(%x: tensor<2x5x3xf32>, %k: tensor<3x16xf32>, %rk: tensor<4x16xf32>, %b: tensor<16xf32>, %s0: tensor<1x2x4xf32>) -> tensor<2x5x4xf32> {
  // expected-error @+2 {{[rnn_c8] the initial state must be tensor<2x2x4xf32> (h and c, batch, units), got tensor<1x2x4xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %y, %st, %ws = kiln.rnn %x, %k, %rk, %b initial_state(%s0 : tensor<1x2x4xf32>) {cell = "lstm"} : tensor<2x5x3xf32>, tensor<3x16xf32>, tensor<4x16xf32>, tensor<16xf32> -> tensor<2x5x4xf32>, tensor<2x2x4xf32>, tensor<280xf32>
  return %y : tensor<2x5x4xf32>
}

// -----

// Tests that a GRU's initial state has the batch of the input (rnn_c8).
func.func @rnn_initial_state_batch(%x: tensor<2x5x3xf32>, %k: tensor<3x12xf32>, %rk: tensor<4x12xf32>, %b: tensor<2x12xf32>, %s0: tensor<1x3x4xf32>) -> tensor<2x5x4xf32> {
  // expected-error @+2 {{[rnn_c8] the initial state must be tensor<1x2x4xf32> (h, batch, units), got tensor<1x3x4xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %y, %st, %ws = kiln.rnn %x, %k, %rk, %b initial_state(%s0 : tensor<1x3x4xf32>) {cell = "gru"} : tensor<2x5x3xf32>, tensor<3x12xf32>, tensor<4x12xf32>, tensor<2x12xf32> -> tensor<2x5x4xf32>, tensor<1x2x4xf32>, tensor<224xf32>
  return %y : tensor<2x5x4xf32>
}

// -----

// Tests that only rnn_grad reads the rnn workspace (rnn_c6): it has no
// gradient, so a loss reading it would silently lose one.
func.func @rnn_workspace_use(%x: tensor<2x5x3xf32>, %k: tensor<3x4xf32>, %rk: tensor<4x4xf32>, %b: tensor<4xf32>) -> tensor<f32> {
  // expected-error @+1 {{[rnn_c6] the workspace is read only by kiln.rnn_grad, not by 'kiln.reduce_sum'}}
  %y, %st, %ws = kiln.rnn %x, %k, %rk, %b {cell = "simple"} : tensor<2x5x3xf32>, tensor<3x4xf32>, tensor<4x4xf32>, tensor<4xf32> -> tensor<2x5x4xf32>, tensor<1x2x4xf32>, tensor<80xf32>
  %s = kiln.reduce_sum %ws {axes = array<i64: 0>} : tensor<80xf32> -> tensor<f32>
  return %s : tensor<f32>
}

// -----

// Tests that scatter_add's axis check does not overflow (scatter_add_c1).
func.func @scatter_add_axis_overflow(%u: tensor<3x4xf32>, %i: tensor<3xi32>) -> tensor<10x4xf32> {
  // expected-error @+2 {{[scatter_add_c1] axis 9223372036854775807 with rank-1 indices does not fit rank-2 updates}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.scatter_add %u[%i] {axis = 9223372036854775807 : i64, size = 10 : i64} : tensor<3x4xf32>, tensor<3xi32> -> tensor<10x4xf32>
  return %0 : tensor<10x4xf32>
}
