// RUN: kiln-opt %s --kiln-attach-loss="loss=sparse_categorical_crossentropy from_logits=1 metrics=accuracy" | FileCheck %s
// RUN: kiln-opt %s --kiln-inference-form | FileCheck %s --check-prefix=INFER

// Tests that a forward result marked kiln.loss_mask (a Keras mask [N, T] of
// predictions [N, T, C]) weights every step as Keras' apply_mask does: the
// mask is not a result of @loss; the loss op reads the [N*T, C] logits,
// the [N*T] labels and the step weights w_n m_nt; the loss is op * sum(w m)
// / max(V, 1), V = sum(real_n m_nt) the valid steps of the samples (padded
// rows, w = +0, do not count); weight_sum is sum(w m) and valid_count V;
// the accuracy partial is sum(match * w m) over the steps. Inference drops
// the mask result (Keras' predict returns no masks).
// CHECK-LABEL: func.func @loss(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<2x3x5xf32> {kiln.name = "x"}, %[[M:[a-z0-9]+]]: tensor<2x3xf32> {kiln.name = "m"}, %[[Y:[a-z0-9]+]]: tensor<2x3xi32> {kiln.name = "labels"}, %[[SW:[a-z0-9]+]]: tensor<2xf32> {kiln.name = "sample_weight"})
// CHECK-SAME: -> (tensor<f32> {kiln.name = "loss"}, tensor<f32> {kiln.name = "loss_sum"}, tensor<f32> {kiln.name = "weight_sum"}, tensor<f32> {kiln.name = "sample_count"}, tensor<f32> {kiln.name = "valid_count"}, tensor<f32> {kiln.name = "sparse_categorical_accuracy_sum"})
// CHECK-SAME: kiln.partials = ["loss_sum", "weight_sum", "sample_count", "valid_count", "sparse_categorical_accuracy_sum"]
// CHECK: %[[Z:.+]] = kiln.mul %[[X]], %{{.+}} : tensor<2x3x5xf32>
// CHECK: %[[SWB:.+]] = kiln.broadcast_in_dim %[[SW]], dims = [0] : tensor<2xf32> -> tensor<2x3xf32>
// CHECK: %[[STEPW:.+]] = kiln.mul %[[SWB]], %[[M]] : tensor<2x3xf32>
// CHECK: %[[ZF:.+]] = kiln.reshape %[[Z]] : tensor<2x3x5xf32> -> tensor<6x5xf32>
// CHECK: %[[YF:.+]] = kiln.reshape %[[Y]] : tensor<2x3xi32> -> tensor<6xi32>
// CHECK: %[[WF:.+]] = kiln.reshape %[[STEPW]] : tensor<2x3xf32> -> tensor<6xf32>
// CHECK: %[[L:.+]] = kiln.sparse_categorical_crossentropy %[[ZF]], %[[YF]], %[[WF]] {from_logits = true}
// CHECK: %[[WS:.+]] = kiln.reduce_sum %[[STEPW]] {axes = array<i64: 0, 1>}
// CHECK: %[[REAL:.+]] = kiln.maximum
// CHECK: %[[N:.+]] = kiln.reduce_sum %[[REAL]]
// CHECK: %[[REALB:.+]] = kiln.broadcast_in_dim %[[REAL]], dims = [0]
// CHECK: %[[VM:.+]] = kiln.mul %[[REALB]], %[[M]]
// CHECK: %[[V:.+]] = kiln.reduce_sum %[[VM]] {axes = array<i64: 0, 1>}
// CHECK: %[[DEN:.+]] = kiln.maximum %[[V]], %{{.+}}
// CHECK: %[[FACTOR:.+]] = kiln.div %[[WS]], %[[DEN]]
// CHECK: %[[LOSS:.+]] = kiln.mul %[[L]], %[[FACTOR]]
// CHECK: %[[LSUM:.+]] = kiln.mul %[[LOSS]], %[[N]]
// CHECK: %[[MATCH:.+]] = kiln.compare eq, %{{.+}}, %{{.+}} : tensor<2x3xi64>
// CHECK: %[[MF:.+]] = kiln.convert %[[MATCH]] : tensor<2x3xi1> -> tensor<2x3xf32>
// CHECK: %[[MW:.+]] = kiln.mul %[[MF]], %[[STEPW]]
// CHECK: %[[ACC:.+]] = kiln.reduce_sum %[[MW]] {axes = array<i64: 0, 1>}
// CHECK: return %[[LOSS]], %[[LSUM]], %[[WS]], %[[N]], %[[V]], %[[ACC]] :
// INFER-LABEL: func.func @forward(
// INFER-SAME: -> (tensor<2x3x5xf32> {kiln.name = "out"})
// INFER: return %{{.+}} : tensor<2x3x5xf32>
func.func @forward(%w: tensor<2x3x5xf32> {kiln.param = "kernel", kiln.trainable},
                   %x: tensor<2x3x5xf32> {kiln.name = "x"},
                   %m: tensor<2x3xf32> {kiln.name = "m"})
    -> (tensor<2x3x5xf32> {kiln.name = "out"}, tensor<2x3xf32> {kiln.loss_mask}) {
  %0 = kiln.mul %x, %w : tensor<2x3x5xf32>
  return %0, %m : tensor<2x3x5xf32>, tensor<2x3xf32>
}
