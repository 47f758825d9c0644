"""What the MLP benchmarks share: paths, the 784-512-512-10 layer list, the
benchmark setup (OpenBLAS for numpy/torch) and the seeded parameters and
input batch (Glorot-uniform kernels as Keras initializes Dense layers, zero
biases, inputs in [0, 1))."""
import os
import subprocess

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("KILN_BUILD_DIR", os.path.join(ROOT, "build"))
LAYERS = [("dense", 784, 512), ("dense_1", 512, 512), ("dense_2", 512, 10)]


def setup_bench():
    """Installs what the benchmarks compare against (scripts/setup.sh)."""
    subprocess.run([os.path.join(ROOT, "scripts/setup.sh"), "--bench"],
                   check=True)


def mlp_params_and_input(rng, batch):
    """f32 parameters {name_kernel, name_bias} and an input batch [batch,
    784] drawn from `rng`."""
    params = {}
    for name, fan_in, fan_out in LAYERS:
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        params[name + "_kernel"] = rng.uniform(
            -limit, limit, (fan_in, fan_out)).astype(np.float32)
        params[name + "_bias"] = np.zeros(fan_out, np.float32)
    x = rng.uniform(0, 1, (batch, 784)).astype(np.float32)
    return params, x
