# lit configuration for kiln: runs kiln-opt (and later kilnc) with FileCheck
# from Debian's LLVM 19 tools directory.
import os
import shutil

import lit.formats
from lit.llvm import llvm_config

config.name = "kiln"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.kiln_obj_root, "tests", "lit")
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "Inputs"]

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.kiln_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(["kiln-opt", "kilnc"], [config.kiln_tools_dir])

# End-to-end tests compile generated objects with clang and link the runtime.
config.substitutions.append(("%kiln_src", config.kiln_src_root))
config.substitutions.append(("%cc", "clang-19"))
config.substitutions.append(
    ("%kiln_driver_lib", os.path.join(config.kiln_obj_root, "runtime",
                                      "driver", "libkiln_driver.a")))
# MNIST (scripts/fetch-mnist.sh, which scripts/test.sh runs first).
config.substitutions.append(
    ("%mnist_dir", os.environ.get("KILN_MNIST_DIR",
                                  os.path.join(config.kiln_src_root, "data",
                                               "mnist"))))
# The Spam Assassin corpus tarball (examples/text_classifier/prepare_data.py
# --fetch-only, which scripts/test.sh runs first).
config.substitutions.append(
    ("%spam_assassin_dir",
     os.environ.get("KILN_SPAM_ASSASSIN_DIR",
                    os.path.join(config.kiln_src_root, "data",
                                 "spam_assassin"))))
config.substitutions.append(
    ("%kiln_runtime_include", os.path.join(config.kiln_src_root, "runtime",
                                           "include")))
config.substitutions.append(
    ("%kiln_runtime_lib", os.path.join(config.kiln_obj_root, "runtime",
                                       "libkiln_runtime.a")))
# Reference computations use Debian's python3 with numpy and torch (not
# %python, which lit binds to the interpreter running lit).
config.substitutions.append(("%refpython", "/usr/bin/python3"))
# scripts/check-deps.py reads the build tree's programs.
config.substitutions.append(("%kiln_build", config.kiln_obj_root))
# Data-parallel tests run generated programs under Open MPI's mpirun
# (scripts/setup.sh installs openmpi-bin); as root it needs
# --allow-run-as-root, and --oversubscribe lets 2 ranks share fewer cores.
if shutil.which("mpirun"):
    config.available_features.add("mpirun")
    # Open MPI's shared-memory transport copies large messages with
    # process_vm_readv, which containers without CAP_SYS_PTRACE refuse.
    config.environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none"
    config.substitutions.append(
        ("%mpirun2", "mpirun --allow-run-as-root --oversubscribe -np 2"))
