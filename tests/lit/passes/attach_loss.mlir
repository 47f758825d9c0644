// RUN: kiln-opt %s --kiln-attach-loss="function=classifier loss=sparse_categorical_crossentropy from_logits=1 metrics=accuracy" | FileCheck %s --check-prefix=SPARSE
// RUN: kiln-opt %s --kiln-attach-loss="function=detector loss=binary_crossentropy metrics=accuracy,precision,recall,f1" | FileCheck %s --check-prefix=BINARY
// RUN: kiln-opt %s --kiln-attach-loss="function=detector loss=mean_squared_error metrics=mae" | FileCheck %s --check-prefix=REG

// Tests that @loss takes the forward arguments plus i32 class labels and
// sample weights, applies the sparse loss from logits to the first forward
// result, and returns the loss, loss_sum = loss * n, weight_sum = sum(w),
// sample_count = n and the accuracy partial (argmax of the logits against
// the labels, as i64). The loss is Keras' sum_over_batch_size,
// sum(w l) / n = op * sum(w) / max(n, 1), n the rows with w != +0 (a -0
// weight, 1 / w < 0, is a sample of weight 0; +0 is padding).
// SPARSE-LABEL: func.func @loss(
// SPARSE-SAME: %[[W:.+]]: tensor<4x3xf32> {kiln.param = "kernel", kiln.trainable}, %[[X:.+]]: tensor<2x4xf32> {kiln.name = "x"}, %[[Y:.+]]: tensor<2xi32> {kiln.name = "labels"}, %[[SW:.+]]: tensor<2xf32> {kiln.name = "sample_weight"})
// SPARSE-SAME: -> (tensor<f32> {kiln.name = "loss"}, tensor<f32> {kiln.name = "loss_sum"}, tensor<f32> {kiln.name = "weight_sum"}, tensor<f32> {kiln.name = "sample_count"}, tensor<f32> {kiln.name = "sparse_categorical_accuracy_sum"})
// SPARSE-SAME: kiln.metrics = ["loss", "sparse_categorical_accuracy"], kiln.partials = ["loss_sum", "weight_sum", "sample_count", "sparse_categorical_accuracy_sum"]
// SPARSE: %[[Z:.+]] = kiln.matmul %[[X]], %[[W]]
// SPARSE: %[[L:.+]] = kiln.sparse_categorical_crossentropy %[[Z]], %[[Y]], %[[SW]] {from_logits = true}
// SPARSE: %[[WS:.+]] = kiln.reduce_sum %[[SW]]
// SPARSE: %[[ZERO:.+]] = kiln.constant dense<0.000000e+00> : tensor<2xf32>
// SPARSE: %[[NZ:.+]] = kiln.compare ne, %[[SW]], %[[ZERO]]
// SPARSE: %[[INV:.+]] = kiln.div %{{.+}}, %[[SW]]
// SPARSE: %[[NEGZ:.+]] = kiln.compare lt, %[[INV]], %[[ZERO]]
// SPARSE: %[[REAL:.+]] = kiln.maximum
// SPARSE: %[[N:.+]] = kiln.reduce_sum %[[REAL]]
// SPARSE: %[[DEN:.+]] = kiln.maximum %[[N]]
// SPARSE: %[[FACTOR:.+]] = kiln.div %[[WS]], %[[DEN]]
// SPARSE: %[[LOSS:.+]] = kiln.mul %[[L]], %[[FACTOR]]
// SPARSE: %[[LSUM:.+]] = kiln.mul %[[LOSS]], %[[N]]
// SPARSE-DAG: %[[TRUTH:.+]] = kiln.convert %[[Y]] : tensor<2xi32> -> tensor<2xi64>
// SPARSE-DAG: %[[PRED:.+]] = kiln.argmax %[[Z]] {axis = 1 : i64}
// SPARSE: kiln.compare eq, %[[PRED]], %[[TRUTH]]
// SPARSE: return %[[LOSS]], %[[LSUM]], %[[WS]], %[[N]], %{{.+}} :
func.func @classifier(%w: tensor<4x3xf32> {kiln.param = "kernel", kiln.trainable},
                      %x: tensor<2x4xf32> {kiln.name = "x"}) -> tensor<2x3xf32> {
  %0 = kiln.matmul %x, %w : tensor<2x4xf32>, tensor<4x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// Tests the binary metrics: decisions p > 0.5 and y > 0.5, accuracy as the
// per-sample mean of matches, and one set of counts (true, predicted and
// actual positives) shared by precision, recall and f1.
// BINARY-LABEL: func.func @loss(
// BINARY-SAME: kiln.metrics = ["loss", "binary_accuracy", "precision", "recall", "f1"], kiln.partials = ["loss_sum", "weight_sum", "sample_count", "binary_accuracy_sum", "true_positives", "predicted_positives", "actual_positives"]
// BINARY: kiln.binary_crossentropy
// BINARY: %[[HALF:.+]] = kiln.constant dense<5.000000e-01> : tensor<2x1xf32>
// BINARY: kiln.compare gt, %{{.+}}, %[[HALF]]

// Tests that kiln.l2 on a parameter adds l2 * sum(w^2) to the loss (after
// the sum_over_batch_size factor, which applies to the data loss only).
// REG-LABEL: func.func @loss(
// REG: %[[MSE:.+]] = kiln.mean_squared_error
// REG: %[[DATA:.+]] = kiln.mul %[[MSE]],
// REG: %[[SQ:.+]] = kiln.square %arg0
// REG: %[[SUM:.+]] = kiln.reduce_sum %[[SQ]]
// REG: %[[FACTOR:.+]] = kiln.constant dense<2.500000e-01> : tensor<f32>
// REG: %[[TERM:.+]] = kiln.mul %[[SUM]], %[[FACTOR]]
// REG: kiln.add %[[DATA]], %[[TERM]]
// REG: kiln.abs
func.func @detector(%w: tensor<4x1xf32> {kiln.param = "kernel", kiln.trainable, kiln.l2 = 0.25 : f64},
                    %x: tensor<2x4xf32>) -> tensor<2x1xf32> {
  %0 = kiln.matmul %x, %w : tensor<2x4xf32>, tensor<4x1xf32> -> tensor<2x1xf32>
  %1 = kiln.sigmoid %0 : tensor<2x1xf32>
  return %1 : tensor<2x1xf32>
}
