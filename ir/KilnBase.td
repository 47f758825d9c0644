//===- KilnBase.td - kiln dialect definition and type constraints -*- tablegen -*-===//
//
// The kiln dialect: value-semantics tensor ops for neural-network training
// graphs. This file holds the dialect record, the base op class and the type
// constraints every op family shares.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_BASE_TD
#define KILN_BASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/EnumAttr.td"

def Kiln_Dialect : Dialect {
  let name = "kiln";
  let cppNamespace = "::mlir::kiln";
  let summary = "Tensor ops for ahead-of-time compiled neural-network training";
  let description = [{
    The kiln dialect models a training graph as a static directed acyclic
    graph of pure operations on statically shaped ranked tensors. Floating
    point data is `f32` (the default) or `f64` (used for gradient checks);
    labels and indices are `i32` or `i64`; comparisons produce `i1`.

    Broadcasting is never implicit: elementwise binary ops require operands of
    one type, and `kiln.broadcast_in_dim` expands a tensor explicitly. This
    keeps every vector-Jacobian product rule local (the VJP of a broadcast is
    a `kiln.reduce_sum`).

    Losses reduce a batch to a scalar with per-sample weights:
    `sum_i(w_i * l_i) / sum_i(w_i)` (0 when all weights are 0), so that a last
    partial batch padded with weight-0 rows behaves exactly like the short
    batch.

    See docs/spec.md for the semantics, shape rules and constraint labels of
    every op.
  }];
  let hasConstantMaterializer = 1;

  // The stage protocol: the discardable attributes that carry the contract
  // between stages (docs/architecture.md, "Forward form" and "Stage
  // attributes"). Each generates a typed helper, e.g.
  // `KilnDialect::ParamAttrHelper::getNameStr()` == "kiln.param"; the
  // dialect hooks below check every one of them whenever the IR is verified
  // (placement, type, and cross-references such as `kiln.update_of`'s
  // argument index), not only when kiln-verify-stage runs.
  let discardableAttrs = (ins
    // Function arguments (forward form and the entry points).
    "::mlir::StringAttr":$param,
    "::mlir::UnitAttr":$trainable,
    "::mlir::UnitAttr":$state,
    "::mlir::DictionaryAttr":$initializer,
    "::mlir::DenseElementsAttr":$init,
    "::mlir::FloatAttr":$l1,
    "::mlir::FloatAttr":$l2,
    "::mlir::DictionaryAttr":$adapt,
    "::mlir::DenseI64ArrayAttr":$index_range,
    "::mlir::UnitAttr":$step,
    "::mlir::UnitAttr":$sample_weight,
    "::mlir::StringAttr":$opt_state,
    "::mlir::FloatAttr":$initial_value,
    "::mlir::UnitAttr":$updated,
    // Function arguments and results.
    "::mlir::StringAttr":$name,
    // Function results.
    "::mlir::IntegerAttr":$update_of,
    "::mlir::IntegerAttr":$gradient_of,
    "::mlir::IntegerAttr":$state_update_of,
    "::mlir::UnitAttr":$loss_mask,
    // Functions.
    "::mlir::StringAttr":$forward,
    "::mlir::ArrayAttr":$partials,
    "::mlir::ArrayAttr":$metrics,
    "::mlir::StringAttr":$optimizer,
    "::mlir::IntegerAttr":$num_inputs,
    "::mlir::ArrayAttr":$output_names,
    "::mlir::DictionaryAttr":$abi,
    // Modules.
    "::mlir::StringAttr":$model_name,
    "::mlir::DictionaryAttr":$compile_config,
    "::mlir::ArrayAttr":$layers,
    "::mlir::DictionaryAttr":$keras_variables,
    // A Keras file's optimizer state (KerasImporter::loadOptimizerState,
    // loadKeras2OptimizerState): {source, iterations, params, variables}
    // (Keras 3) or {source, iterations, slots, slot_names, legacy} (Keras
    // 2); read by kiln-attach-optimizer.
    "::mlir::DictionaryAttr":$keras_optimizer_state,
    // "bf16": a Keras mixed_bfloat16 dtype policy (kilnc --precision).
    "::mlir::StringAttr":$precision
  );
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
}

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def Kiln_Float : AnyTypeOf<[F32, F64]>;
def Kiln_Int : AnyTypeOf<[I32, I64]>;

/// An f64 attribute holding a finite number (activation slopes and
/// offsets: a NaN or infinite coefficient is an error, not a silent NaN).
def Kiln_FiniteF64Attr : ConfinedAttr<F64Attr, [AttrConstraint<
    CPred<"::std::isfinite(::llvm::cast<::mlir::FloatAttr>($_self)"
          ".getValueAsDouble())">,
    "whose value is finite">]>;

/// Floating-point tensors: the data and parameter type of every model.
def Kiln_FloatTensor : StaticShapeTensorOf<[F32, F64]>;
/// Integer tensors: class labels and indices.
def Kiln_IntTensor : StaticShapeTensorOf<[I32, I64]>;
/// Boolean tensors: results of comparisons.
def Kiln_BoolTensor : StaticShapeTensorOf<[I1]>;
/// Any tensor element type kiln handles.
def Kiln_Tensor : StaticShapeTensorOf<[F32, F64, I32, I64, I1]>;
/// A rank-0 floating-point tensor (losses).
def Kiln_FloatScalar : 0DTensorOf<[F32, F64]>;
/// A rank-0 integer tensor (step counters).
def Kiln_IntScalar : 0DTensorOf<[I32, I64]>;

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Kiln_CmpEQ : I32EnumAttrCase<"eq", 0>;
def Kiln_CmpNE : I32EnumAttrCase<"ne", 1>;
def Kiln_CmpLT : I32EnumAttrCase<"lt", 2>;
def Kiln_CmpLE : I32EnumAttrCase<"le", 3>;
def Kiln_CmpGT : I32EnumAttrCase<"gt", 4>;
def Kiln_CmpGE : I32EnumAttrCase<"ge", 5>;

def Kiln_ComparisonDirection : I32EnumAttr<"ComparisonDirection",
    "Direction of an elementwise comparison",
    [Kiln_CmpEQ, Kiln_CmpNE, Kiln_CmpLT, Kiln_CmpLE, Kiln_CmpGT, Kiln_CmpGE]> {
  let cppNamespace = "::mlir::kiln";
}

//===----------------------------------------------------------------------===//
// Base op class
//===----------------------------------------------------------------------===//

class Kiln_Op<string mnemonic, list<Trait> traits = []>
    : Op<Kiln_Dialect, mnemonic, traits>;

#endif // KILN_BASE_TD
