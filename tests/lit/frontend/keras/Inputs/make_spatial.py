"""Writes Keras 3 model configs (the model.to_json() layout) with the spatial
layers for tests/lit/frontend/keras/spatial_*.test and conv_errors.test.

usage: make_spatial.py OUTDIR

Each model is Functional: one input, every layer of interest reads it (or
the layer named in its `src`) and is a model output, so each layer's
import is checked on its own.
"""

import json
import os
import sys


def tensor(name):
    return {"class_name": "__keras_tensor__",
            "config": {"shape": None, "dtype": "float32",
                       "keras_history": [name, 0, 0]}}


def initializer(cls, **config):
    return {"module": "keras.initializers", "class_name": cls,
            "config": config, "registered_name": None}


def functional(name, batch_shape, layers, outputs=None):
    """layers: (class_name, config, source layer) in order."""
    entries = [{"module": "keras.layers", "class_name": "InputLayer",
                "config": {"batch_shape": batch_shape, "dtype": "float32",
                           "sparse": False, "name": "x"},
                "registered_name": None, "name": "x", "inbound_nodes": []}]
    for cls, config, src in layers:
        config = dict(config)
        config.setdefault("trainable", True)
        config.setdefault("dtype", "float32")
        entries.append({"module": "keras.layers", "class_name": cls,
                        "config": config, "registered_name": None,
                        "name": config["name"],
                        "inbound_nodes": [{"args": [tensor(src)],
                                           "kwargs": {}}]})
    if outputs is None:
        outputs = [config["name"] for _, config, _ in layers]
    return {"module": "keras.src.models.functional",
            "class_name": "Functional",
            "config": {"name": name, "trainable": True, "layers": entries,
                       "input_layers": [["x", 0, 0]],
                       "output_layers": [[o, 0, 0] for o in outputs]},
            "registered_name": None}


def conv(name, filters, kernel, src="x", **kw):
    config = {"name": name, "filters": filters, "kernel_size": kernel,
              "strides": [1, 1], "padding": "valid",
              "data_format": "channels_last", "dilation_rate": [1, 1],
              "groups": 1, "activation": "linear", "use_bias": True,
              "kernel_initializer": initializer("GlorotUniform", seed=None),
              "bias_initializer": initializer("Zeros"),
              "kernel_regularizer": None, "bias_regularizer": None,
              "activity_regularizer": None, "kernel_constraint": None,
              "bias_constraint": None}
    config.update(kw)
    return ("Conv2D", config, src)


def models():
    out = {}
    # [N, 9, 8, 3]: odd and even spatial sizes.
    out["spatial2d"] = functional("spatial2d", [None, 9, 8, 3], [
        conv("same_s2", 4, [3, 3], strides=[2, 2], padding="same",
             activation="relu"),
        conv("same_k4", 2, 4, padding="same", use_bias=False),
        conv("same_dil", 2, 3, padding="same", dilation_rate=2),
        conv("grouped", 6, 3, groups=3, activation="tanh",
             kernel_initializer=initializer("HeNormal", seed=5)),
        ("DepthwiseConv2D", {
            "name": "depthwise", "kernel_size": [3, 3], "strides": [1, 1],
            "padding": "valid", "depth_multiplier": 2,
            "data_format": "channels_last", "dilation_rate": [1, 1],
            "activation": "linear", "use_bias": True,
            "depthwise_initializer": initializer("GlorotUniform", seed=None),
            "bias_initializer": initializer("Zeros"),
            "depthwise_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "depthwise_constraint": None,
            "bias_constraint": None}, "x"),
        ("SeparableConv2D", {
            "name": "separable", "filters": 5, "kernel_size": 3,
            "strides": 1, "padding": "same", "depth_multiplier": 1,
            "data_format": "channels_last", "dilation_rate": 1,
            "activation": "relu", "use_bias": True,
            "depthwise_initializer": initializer("GlorotUniform", seed=None),
            "pointwise_initializer": initializer("GlorotUniform", seed=None),
            "bias_initializer": initializer("Zeros"),
            "depthwise_regularizer": None, "pointwise_regularizer": None,
            "bias_regularizer": None, "activity_regularizer": None,
            "depthwise_constraint": None, "pointwise_constraint": None,
            "bias_constraint": None}, "x"),
        ("Conv2DTranspose", {
            "name": "up_same", "filters": 2, "kernel_size": [3, 3],
            "strides": [2, 2], "padding": "same", "output_padding": None,
            "data_format": "channels_last", "dilation_rate": [1, 1],
            "activation": "linear", "use_bias": True}, "x"),
        ("Conv2DTranspose", {
            "name": "up_valid", "filters": 2, "kernel_size": [3, 3],
            "strides": [2, 2], "padding": "valid", "output_padding": [1, 1],
            "data_format": "channels_last", "dilation_rate": [1, 1],
            "activation": "linear", "use_bias": False}, "x"),
        ("MaxPooling2D", {"name": "max_same", "pool_size": [3, 3],
                          "strides": [2, 2], "padding": "same",
                          "data_format": "channels_last"}, "x"),
        ("AveragePooling2D", {"name": "avg_same", "pool_size": [2, 2],
                              "strides": None, "padding": "same",
                              "data_format": "channels_last"}, "x"),
        ("AveragePooling2D", {"name": "avg_valid", "pool_size": 2,
                              "strides": 1, "padding": "valid",
                              "data_format": "channels_last"}, "x"),
        ("GlobalAveragePooling2D", {"name": "gap", "data_format":
                                    "channels_last", "keepdims": True}, "x"),
        ("GlobalMaxPooling2D", {"name": "gmp", "data_format":
                                "channels_last", "keepdims": False}, "x"),
        ("BatchNormalization", {
            "name": "bn", "axis": -1, "momentum": 0.99, "epsilon": 0.001,
            "center": True, "scale": True,
            "beta_initializer": initializer("Zeros"),
            "gamma_initializer": initializer("Ones"),
            "moving_mean_initializer": initializer("Zeros"),
            "moving_variance_initializer": initializer("Ones"),
            "beta_regularizer": None, "gamma_regularizer": None,
            "beta_constraint": None, "gamma_constraint": None,
            "synchronized": False}, "x"),
        ("BatchNormalization", {
            "name": "bn_frozen", "trainable": False, "axis": 3,
            "momentum": 0.9, "epsilon": 0.01, "center": False,
            "scale": True}, "x"),
        ("ZeroPadding2D", {"name": "zpad", "padding": [[1, 2], [0, 3]],
                           "data_format": "channels_last"}, "x"),
        ("Cropping2D", {"name": "crop", "cropping": [[1, 0], [2, 2]],
                        "data_format": "channels_last"}, "x"),
        ("UpSampling2D", {"name": "upsample", "size": [2, 3],
                          "data_format": "channels_last",
                          "interpolation": "nearest"}, "x"),
        ("SpatialDropout2D", {"name": "sdrop", "rate": 0.25, "seed": 11,
                              "data_format": "channels_last"}, "x"),
        conv("first", 4, 2, data_format="channels_first"),
    ])
    # [N, 10, 3] sequences.
    out["spatial1d"] = functional("spatial1d", [None, 10, 3], [
        ("Conv1D", {"name": "causal", "filters": 4, "kernel_size": 3,
                    "strides": 1, "padding": "causal", "dilation_rate": 2,
                    "groups": 1, "activation": "relu", "use_bias": True,
                    "data_format": "channels_last"}, "x"),
        ("MaxPooling1D", {"name": "max1", "pool_size": 2, "strides": None,
                          "padding": "valid",
                          "data_format": "channels_last"}, "x"),
        ("AveragePooling1D", {"name": "avg1", "pool_size": 3, "strides": 2,
                              "padding": "same",
                              "data_format": "channels_last"}, "x"),
        ("GlobalAveragePooling1D", {"name": "gap1",
                                    "data_format": "channels_last",
                                    "keepdims": False}, "x"),
        ("ZeroPadding1D", {"name": "zpad1", "padding": [2, 1]}, "x"),
        ("UpSampling1D", {"name": "up1", "size": 2}, "x"),
    ])
    # Several bad layers: every problem in one report.
    out["bad"] = functional("bad", [None, 6, 6, 3], [
        conv("too_big", 2, 7),                        # kernel > input
        conv("zero_stride", 2, 3, strides=[0, 1]),    # stride 0
        conv("zero_dilation", 2, 3, dilation_rate=0),  # dilation 0
        conv("bad_groups", 4, 3, groups=2),           # 3 channels / 2
        conv("filters_groups", 5, 1, groups=2),       # 5 filters / 2
        conv("bad_padding", 2, 3, padding="full"),    # unknown padding
        ("MaxPooling2D", {"name": "pool_big", "pool_size": [7, 2],
                          "strides": [1, 1], "padding": "valid"}, "x"),
        # Shape rules still apply after a layer with a config issue (its
        # values are sanitized): the pool after the stride-0 conv (4x4)
        # does not fit.
        ("MaxPooling2D", {"name": "pool_after", "pool_size": [5, 5],
                          "strides": [1, 1], "padding": "valid"},
         "zero_stride"),
        ("Cropping2D", {"name": "crop_all", "cropping": [[3, 3], [0, 0]]},
         "x"),
        ("Conv2DTranspose", {"name": "outpad", "filters": 2,
                             "kernel_size": 3, "strides": 2,
                             "padding": "same", "output_padding": 2}, "x"),
    ])
    return out


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    for name, model in models().items():
        with open(os.path.join(outdir, name + ".json"), "w") as f:
            json.dump(model, f, indent=1)


if __name__ == "__main__":
    main()
