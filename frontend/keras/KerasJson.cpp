//===- KerasJson.cpp - llvm::json helpers of the Keras importer -----------===//

#include "frontend/keras/KerasJson.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;
namespace json = llvm::json;

std::string kiln::keras::toSnakeCase(llvm::StringRef name) {
  // keras.src.utils.naming.to_snake_case: "(.)([A-Z][a-z0-9]+)" -> "\1_\2",
  // then "([a-z])([A-Z])" -> "\1_\2", then lower case.
  std::string first;
  for (size_t i = 0; i < name.size(); ++i) {
    if (i > 0 && llvm::isUpper(name[i]) && i + 1 < name.size() &&
        (llvm::isLower(name[i + 1]) || llvm::isDigit(name[i + 1])) &&
        first.back() != '_')
      first += '_';
    first += name[i];
  }
  std::string second;
  for (size_t i = 0; i < first.size(); ++i) {
    if (i > 0 && llvm::isUpper(first[i]) && llvm::isLower(first[i - 1]))
      second += '_';
    second += first[i];
  }
  return llvm::StringRef(second).lower();
}

Attribute kiln::keras::toAttribute(const json::Value &value,
                                   llvm::StringRef key, Builder &builder) {
  if (value.getAsNull())
    return {};
  if (auto b = value.getAsBoolean())
    return builder.getBoolAttr(*b);
  if (auto s = value.getAsString())
    return builder.getStringAttr(*s);
  if (auto n = value.getAsNumber()) {
    if (key == "seed")
      if (auto i = value.getAsInteger())
        return builder.getI64IntegerAttr(*i);
    return builder.getF64FloatAttr(*n);
  }
  if (const json::Array *array = value.getAsArray()) {
    SmallVector<Attribute> elements;
    for (const json::Value &element : *array) {
      Attribute attr = toAttribute(element, key, builder);
      elements.push_back(attr ? attr : builder.getUnitAttr());
    }
    return builder.getArrayAttr(elements);
  }
  if (const json::Object *object = value.getAsObject())
    return toDictionary(*object, builder);
  return {};
}

DictionaryAttr kiln::keras::toDictionary(const json::Object &object,
                                         Builder &builder) {
  SmallVector<NamedAttribute> members;
  for (const auto &[key, value] : object)
    if (Attribute attr = toAttribute(value, key, builder))
      members.push_back(builder.getNamedAttr(key, attr));
  return builder.getDictionaryAttr(members);
}

std::string kiln::keras::describe(const json::Value &value) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << value;
  if (text.size() > 60)
    text = text.substr(0, 57) + "...";
  return text;
}

/// The initializers kiln's driver knows how to draw (Keras names).
static bool isKnownInitializer(llvm::StringRef name) {
  return llvm::StringSwitch<bool>(name)
      .Cases("zeros", "ones", "constant", "random_normal", "random_uniform",
             true)
      .Cases("truncated_normal", "glorot_uniform", "glorot_normal",
             "he_uniform", "he_normal", true)
      .Cases("lecun_uniform", "lecun_normal", "variance_scaling", "orthogonal",
             "identity", true)
      .Default(false);
}

llvm::Expected<DictionaryAttr>
kiln::keras::parseInitializer(const json::Value &value, Builder &builder) {
  std::string name;
  SmallVector<NamedAttribute> members;
  if (auto s = value.getAsString()) {
    name = toSnakeCase(*s);
  } else if (const json::Object *object = value.getAsObject()) {
    auto className = object->getString("class_name");
    if (!className)
      return llvm::createStringError("initializer without 'class_name': " +
                                     describe(value));
    llvm::StringRef cls = *className;
    cls.consume_back("Initializer"); // Keras 3: OrthogonalInitializer
    name = toSnakeCase(cls);
    if (const json::Object *config = object->getObject("config"))
      for (NamedAttribute member : toDictionary(*config, builder))
        members.push_back(member);
  } else {
    return llvm::createStringError("initializer must be a name or an "
                                   "object: " +
                                   describe(value));
  }
  if (!isKnownInitializer(name))
    return llvm::createStringError("unknown initializer '" + name + "'");
  members.insert(members.begin(),
                 builder.getNamedAttr("name", builder.getStringAttr(name)));
  return builder.getDictionaryAttr(members);
}

llvm::Expected<kiln::keras::Regularizer>
kiln::keras::parseRegularizer(const json::Value &value) {
  Regularizer result;
  if (value.getAsNull())
    return result;
  // Keras' defaults for the string forms: 0.01.
  if (auto s = value.getAsString()) {
    if (*s == "l1")
      result.l1 = 0.01;
    else if (*s == "l2")
      result.l2 = 0.01;
    else if (*s == "l1_l2")
      result.l1 = result.l2 = 0.01;
    else
      return llvm::createStringError("unknown regularizer '" + s->str() + "'");
    return result;
  }
  const json::Object *object = value.getAsObject();
  auto className = object ? object->getString("class_name") : std::nullopt;
  if (!className)
    return llvm::createStringError("regularizer must be a name or an object "
                                   "with 'class_name': " +
                                   describe(value));
  const json::Object *config = object->getObject("config");
  auto factor = [&](llvm::StringRef key, double fallback) {
    if (!config)
      return fallback;
    return getNumber(config->get(key)).value_or(fallback);
  };
  if (*className == "L1" || *className == "l1") {
    result.l1 = factor("l1", 0.01);
  } else if (*className == "L2" || *className == "l2") {
    result.l2 = factor("l2", 0.01);
  } else if (*className == "L1L2" || *className == "l1_l2") {
    result.l1 = factor("l1", 0.0);
    result.l2 = factor("l2", 0.0);
  } else {
    return llvm::createStringError("unsupported regularizer '" +
                                   className->str() +
                                   "' (L1, L2 and L1L2 are supported)");
  }
  return result;
}
