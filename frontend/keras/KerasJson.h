//===- KerasJson.h - llvm::json helpers of the Keras importer ---*- C++ -*-===//
//
// Small helpers over llvm::json for the Keras model config: names in the
// Keras spelling, JSON values as MLIR attributes, and the initializer and
// regularizer descriptions that become kiln.initializer / kiln.l1 / kiln.l2.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_FRONTEND_KERAS_KERASJSON_H
#define KILN_FRONTEND_KERAS_KERASJSON_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/JSON.h"

#include <optional>
#include <string>

namespace mlir::kiln::keras {

/// "GlorotUniform" -> "glorot_uniform", "SparseCategoricalCrossentropy" ->
/// "sparse_categorical_crossentropy" (Keras' own snake_case rule).
std::string toSnakeCase(llvm::StringRef camel);

/// A JSON value as an attribute: strings, booleans, arrays (ArrayAttr) and
/// objects (DictionaryAttr, null members left out); numbers are f64 except
/// the integral values of keys named "seed" (i64). Null gives a null
/// attribute.
Attribute toAttribute(const llvm::json::Value &value, llvm::StringRef key,
                      Builder &builder);
/// The members of `object` that are not null, as a dictionary.
DictionaryAttr toDictionary(const llvm::json::Object &object, Builder &builder);

/// The short text of a JSON value for diagnostics (at most ~60 characters).
std::string describe(const llvm::json::Value &value);

/// An initializer: "glorot_uniform" or {"class_name": "GlorotUniform",
/// "config": {"seed": 1}} (Keras 2 and 3). Returns the kiln.initializer
/// dictionary {name = "glorot_uniform", seed = 1 : i64, ...}, or an error
/// text.
llvm::Expected<DictionaryAttr> parseInitializer(const llvm::json::Value &value,
                                                Builder &builder);

/// L1 and L2 factors of a regularizer (null, "l1", "l2", "l1_l2", or
/// {"class_name": "L1" | "L2" | "L1L2", "config": {...}}).
struct Regularizer {
  double l1 = 0, l2 = 0;
};
llvm::Expected<Regularizer> parseRegularizer(const llvm::json::Value &value);

/// The value as a number, if it is one.
inline std::optional<double> getNumber(const llvm::json::Value *value) {
  return value ? value->getAsNumber() : std::nullopt;
}
/// True when the member is absent or null.
inline bool isNullOrAbsent(const llvm::json::Value *value) {
  return !value || value->getAsNull();
}

} // namespace mlir::kiln::keras

#endif // KILN_FRONTEND_KERAS_KERASJSON_H
