/*===- CliMain.c - main() of kilnc-generated executables ------------------===*\
|*                                                                            *|
|* `kilnc MODEL -o prog` links this file's main with the model's object file, *|
|* which defines kiln_main_model (an alias of <name>_model), so that the     *|
|* program's command line is the driver's (kiln/session.h: kiln_cli_main).   *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include "kiln/session.h"

extern const kiln_model_t kiln_main_model;
/* KerasExport.cpp (in this archive): `export --output m.keras|.h5`. */
void kiln_cli_register_keras_export(void);

int main(int argc, char **argv) {
  kiln_cli_register_keras_export();
  return kiln_cli_main(argc, argv, &kiln_main_model);
}
