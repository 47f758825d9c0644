/*===- EnumOutOfRange.c - C callers passing values outside an enum --------===*\
|*                                                                            *|
|* In C any int converts to an enum type, and the runtime's C API answers     *|
|* such values ("unknown", NULL); in C++ creating one is undefined behaviour  *|
|* (UBSan's enum check). The C++ tests reach those answers through these      *|
|* C functions.                                                               *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include "kiln/runtime.h"

const char *kiln_test_status_message(int code) {
  return kiln_status_message((kiln_status_t)code);
}

const char *kiln_test_epilogue_name(int code) {
  return kiln_epilogue_name((kiln_epilogue_t)code);
}

const char *kiln_test_region_name(int code) {
  return kiln_region_name((kiln_region_t)code);
}
