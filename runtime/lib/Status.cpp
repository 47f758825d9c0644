//===- Status.cpp - status messages and epilogue names ----------*- C++ -*-===//
//
// The static strings behind kiln_status_message and kiln_epilogue_name. A C
// caller may pass any int (C converts it to the enum), while in C++ a value
// outside the enum is undefined: each function copies its argument to an int
// before looking at it.
//
//===----------------------------------------------------------------------===//

#include "kiln/runtime.h"

#include <cstring>

namespace {
template <typename Enum> int asInt(const Enum &value) {
  static_assert(sizeof(Enum) == sizeof(int));
  int code;
  std::memcpy(&code, &value, sizeof code);
  return code;
}
} // namespace

extern "C" const char *kiln_status_message(kiln_status_t status) {
  switch (asInt(status)) {
  case KILN_OK:
    return "success";
  case KILN_ERROR_INVALID_ARGUMENT:
    return "invalid argument";
  case KILN_ERROR_OUT_OF_MEMORY:
    return "out of memory";
  case KILN_ERROR_IO:
    return "input/output error";
  case KILN_ERROR_FORMAT:
    return "malformed data";
  case KILN_ERROR_UNIMPLEMENTED:
    return "not implemented";
  case KILN_ERROR_INTERNAL:
    return "internal error (a bug in kiln)";
  }
  // Reached for values outside the enum, e.g. a status from a newer runtime.
  return "unknown status code";
}

extern "C" const char *kiln_epilogue_name(kiln_epilogue_t epilogue) {
  switch (asInt(epilogue)) {
  case KILN_EPILOGUE_NONE:
    return "none";
  case KILN_EPILOGUE_RELU:
    return "relu";
  case KILN_EPILOGUE_SIGMOID:
    return "sigmoid";
  case KILN_EPILOGUE_TANH:
    return "tanh";
  }
  return "unknown";
}
