// Tests kiln-attach-loss's errors: each is one clear message and a failed
// pass.

// RUN: not kiln-opt %s --kiln-attach-loss="loss=sparse_categorical_crossentropy" 2>&1 | FileCheck %s --check-prefix=ONEUNIT
// RUN: not kiln-opt %s --kiln-attach-loss="loss=hinge" 2>&1 | FileCheck %s --check-prefix=LOSS
// RUN: not kiln-opt %s --kiln-attach-loss="loss=binary_crossentropy metrics=accuracy,auc" 2>&1 | FileCheck %s --check-prefix=METRIC
// RUN: not kiln-opt %s --kiln-attach-loss="function=missing loss=mse" 2>&1 | FileCheck %s --check-prefix=MISSING

// ONEUNIT: attach_loss_errors.mlir:[[@LINE+5]]:{{[0-9]+}}: error: kiln-attach-loss: sparse_categorical_crossentropy needs a class axis of at least 2 classes, but @forward outputs 'tensor<2x1xf32>' (use binary_crossentropy for one output unit)
// LOSS: error: kiln-attach-loss: unknown loss 'hinge' (known: mean_squared_error, mean_absolute_error, binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy)
// METRIC: error: kiln-attach-loss: unknown metric 'auc' (known: accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, precision, recall, f1, mae, mse)
// MISSING: error: kiln-attach-loss: no function @missing with a body

func.func @forward(%w: tensor<4x1xf32> {kiln.param = "kernel", kiln.trainable},
                   %x: tensor<2x4xf32>) -> tensor<2x1xf32> {
  %0 = kiln.matmul %x, %w : tensor<2x4xf32>, tensor<4x1xf32> -> tensor<2x1xf32>
  return %0 : tensor<2x1xf32>
}
