// Tests that kilnc --loss runs the training pipeline (the same function as
// kiln-opt --kiln-training-pipeline) before code generation: the header
// declares train_step, eval_step and predict, the parameters and the Adam
// slots live in the params and opt_state regions and are updated in place,
// and the parameter offsets agree between the entry points.

// RUN: kilnc %s --loss=sparse_categorical_crossentropy --from-logits --metrics=accuracy --optimizer=adam:beta_1=0.8,epsilon=1e-6 --emit=header --name=m | FileCheck %s
// RUN: kiln-opt %s --kiln-training-pipeline="loss=sparse_categorical_crossentropy from_logits=1 metrics=accuracy optimizer=adam beta_1=0.8 epsilon=1e-6" | FileCheck %s --check-prefix=IR
// RUN: not kilnc %s --loss=sparse_categorical_crossentropy --optimizer=adam:bogus=1 --emit=header 2>&1 | FileCheck %s --check-prefix=BADOPT
// RUN: not kilnc %s --loss=hinge --emit=header 2>&1 | FileCheck %s --check-prefix=BADLOSS
// RUN: not kilnc %s --metrics=accuracy --emit=header 2>&1 | FileCheck %s --check-prefix=NOLOSS
// RUN: not kilnc %s --batch-size=4 --emit=header 2>&1 | FileCheck %s --check-prefix=BATCH
// --data-parallel splits the training step: without one (no --loss, no
// compile_config) it is an error, not an inference-only program.
// RUN: not kilnc %s --data-parallel --emit=obj -o %t.o 2>&1 | FileCheck %s --check-prefix=DPNOLOSS
// RUN: not kilnc %S/../frontend/keras/Inputs/hard_sigmoid.json --batch-size=4 --data-parallel --emit=obj -o %t.o 2>&1 | FileCheck %s --check-prefix=DPNOCONFIG
// RUN: kilnc %S/../frontend/keras/Inputs/hard_sigmoid.json --batch-size=4 --emit=header -o /dev/null
// RUN: not kilnc %s --loss=mse --optimizer=sgd:momentum=2 --emit=header 2>&1 | FileCheck %s --check-prefix=RANGE
// A setting the optimizer does not read is an error naming both, not ignored.
// RUN: not kilnc %s --loss=mse --optimizer=adam:weight_decay=0.1 --emit=header 2>&1 | FileCheck %s --check-prefix=WDADAM
// RUN: not kilnc %s --loss=mse --optimizer=adam:momentum=0.9 --emit=header 2>&1 | FileCheck %s --check-prefix=MOMADAM
// RUN: not kilnc %s --loss=mse --optimizer=rmsprop:initial_accumulator_value=0.2 --emit=header 2>&1 | FileCheck %s --check-prefix=ACCRMS
// RUN: kilnc %s --loss=mse --optimizer=adamw:weight_decay=0.1,beta_1=0.8,clipvalue=1 --emit=header > /dev/null
// RUN: kilnc %s --loss=mse --optimizer=rmsprop:momentum=0.5,centered=true,epsilon=1e-6 --emit=header > /dev/null
// A key given twice, a non-boolean value of a boolean setting, a metric
// given twice: errors naming them.
// RUN: not kilnc %s --loss=mse --optimizer=adam:learning_rate=1,learning_rate=2 --emit=header 2>&1 | FileCheck %s --check-prefix=TWICE
// RUN: not kilnc %s --loss=mse --optimizer=sgd:momentum=0.9,nesterov=-3 --emit=header 2>&1 | FileCheck %s --check-prefix=NESTEROVVALUE
// RUN: not kilnc %s --loss=mse --optimizer=rmsprop:centered=7 --emit=header 2>&1 | FileCheck %s --check-prefix=CENTEREDVALUE
// RUN: kilnc %s --loss=mse --optimizer=sgd:momentum=0.9,nesterov=1 --emit=header > /dev/null
// RUN: not kilnc %s --loss=mse --metrics=mae,mae --emit=header 2>&1 | FileCheck %s --check-prefix=METRICTWICE
// RUN: not kilnc %s --loss=categorical_crossentropy --metrics=accuracy,categorical_accuracy --emit=header 2>&1 | FileCheck %s --check-prefix=METRICALIAS
// --emit=kiln shows the forward form (no training step), but the training
// flags are checked all the same.
// RUN: kilnc %s --loss=mse --optimizer=adam:beta_1=0.8 --emit=kiln | FileCheck %s --check-prefix=FORWARD
// RUN: not kilnc %s --loss=mse --optimizer=adam:weight_decay=0.1 --emit=kiln 2>&1 | FileCheck %s --check-prefix=WDADAM
// RUN: not kilnc %s --loss=mse --optimizer=sgd:momentum=2 --emit=kiln 2>&1 | FileCheck %s --check-prefix=RANGE
// RUN: not kilnc %s --metrics=accuracy --emit=kiln 2>&1 | FileCheck %s --check-prefix=NOLOSS

// CHECK: #define M_OPT_STATE_SIZE 192
// CHECK: /* param 'kernel': f32[4, 3] in the params region at byte 0, updated in place */
// CHECK: /* opt_state 'kernel/m': f32[4, 3] in the opt_state region at byte 0, updated in place */
// CHECK: /* opt_state 'kernel/v': f32[4, 3] in the opt_state region at byte 64, updated in place */
// CHECK: /* opt_state 'step': f64[] in the opt_state region at byte 128, updated in place */
// CHECK: /* input 'labels': i32[2] in the io region
// CHECK: /* input 'learning_rate': f32[] in the io region
// CHECK: /* output 'loss': f32[] in the io region
// CHECK: /* output 'sparse_categorical_accuracy_sum': f32[] in the io region
// CHECK: void m_train_step(void *params, void *opt_state, void *io, void *scratch);
// CHECK: /* param 'kernel': f32[4, 3] in the params region at byte 0 */
// CHECK: void m_eval_step(void *params, void *opt_state, void *io, void *scratch);
// CHECK: /* param 'kernel': f32[4, 3] in the params region at byte 0 */
// CHECK: void m_predict(void *params, void *opt_state, void *io, void *scratch);
// IR-DAG: kiln.constant dense<8.000000e-01>
// IR-DAG: kiln.constant dense<9.99999997E-7>
// BADOPT: kilnc: error: --optimizer: unknown setting 'bogus=1' (known: learning_rate,
// BADLOSS: error: the training options: unknown loss 'hinge'
// NOLOSS: kilnc: error: --metrics configures the training step; give --loss too
// DPNOLOSS: kilnc: error: --data-parallel configures the training step; give --loss too
// DPNOCONFIG: error: --data-parallel configures the training step, but the model has no compile_config; give --loss too
// BATCH: kilnc: error: --batch-size applies to imported models (.onnx, .json, .keras, .h5); a .mlir model has static shapes
// RANGE: error: the training options: momentum = 2.000000e+00 is out of range [0, 1]
// WDADAM: error: the training options: weight_decay does not apply to adam (it applies to: adamw)
// MOMADAM: error: the training options: momentum does not apply to adam (it applies to: sgd, rmsprop)
// ACCRMS: error: the training options: initial_accumulator_value does not apply to rmsprop (it applies to: adagrad)
// TWICE: kilnc: error: --optimizer: learning_rate is given twice
// NESTEROVVALUE: kilnc: error: --optimizer: nesterov must be true or false (1 or 0), got '-3'
// CENTEREDVALUE: kilnc: error: --optimizer: centered must be true or false (1 or 0), got '7'
// FORWARD: func.func @forward(
// FORWARD-NOT: train_step
// METRICTWICE: error: the training options: metric 'mae' is given twice
// METRICALIAS: error: the training options: metric 'categorical_accuracy' is given twice (as 'accuracy' and 'categorical_accuracy')
func.func @forward(%w: tensor<4x3xf32> {kiln.param = "kernel", kiln.trainable},
                   %x: tensor<2x4xf32> {kiln.name = "x"}) -> tensor<2x3xf32> {
  %0 = kiln.matmul %x, %w : tensor<2x4xf32>, tensor<4x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}
