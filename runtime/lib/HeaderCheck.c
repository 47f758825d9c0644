/*===- HeaderCheck.c - compiles kiln/runtime.h as C11 -------------*- C -*-===*\
|*                                                                            *|
|* The runtime is written in C++, but its header is included by C programs    *|
|* and by generated C headers. This file includes it as strict C11 (see       *|
|* CMakeLists.txt) so that C++-only syntax in the header breaks the build     *|
|* instead of a user's program. It defines no symbols.                        *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include "kiln/data.h"
#include "kiln/init.h"
#include "kiln/runtime.h"

/* ISO C forbids an empty translation unit. */
typedef kiln_status_t kiln_header_check_t;
