"""Writes variants of a Keras model's compile_config for compile_config.test.

Usage: edit_compile_config.py MODEL.json OUTDIR
Each variant changes one part of the model's compile_config (an Adam
optimizer with sparse_categorical_crossentropy) and is written as
OUTDIR/<name>.json.
"""
import copy
import json
import os
import sys

model = json.load(open(sys.argv[1]))
out = sys.argv[2]
os.makedirs(out, exist_ok=True)


def variant(name, edit):
    m = copy.deepcopy(model)
    edit(m)
    json.dump(m, open(os.path.join(out, name + ".json"), "w"))


def optimizer_config(**settings):
    return lambda m: m["compile_config"]["optimizer"]["config"].update(settings)


def compile_config(**settings):
    return lambda m: m["compile_config"].update(settings)


def adamw(m):
    o = m["compile_config"]["optimizer"]
    o["class_name"] = "AdamW"
    o["config"].update(name="adamw", weight_decay=0.004)


def setitem(key, value):
    return lambda m: m.__setitem__(key, value)


variant("weight_decay", optimizer_config(weight_decay=0.1))
variant("weight_decay_zero", optimizer_config(weight_decay=0))
variant("adamw_weight_decay", adamw)
variant("sgd_beta", compile_config(optimizer={
    "class_name": "SGD", "config": {"momentum": 0.0, "nesterov": False,
                                    "beta_1": 0.5}}))
variant("beta_string", optimizer_config(beta_1="0.5"))
variant("nesterov_string", compile_config(optimizer={
    "class_name": "SGD", "config": {"momentum": 0.9, "nesterov": "true"}}))
variant("learning_rate_string", optimizer_config(learning_rate="0.1"))
variant("optimizer_number", compile_config(optimizer=3))
variant("optimizer_no_class", compile_config(
    optimizer={"config": {"learning_rate": 0.1}}))
variant("optimizer_null", compile_config(optimizer=None))
variant("from_logits_string", compile_config(loss={
    "class_name": "SparseCategoricalCrossentropy",
    "config": {"from_logits": "yes"}}))
variant("metrics_values", compile_config(metrics=[3, None, True]))
variant("metrics_twice", compile_config(metrics=["accuracy", "acc"]))
variant("label_smoothing", compile_config(loss={
    "class_name": "CategoricalCrossentropy",
    "config": {"from_logits": False, "label_smoothing": 0.1}}))
variant("label_smoothing_zero", compile_config(loss={
    "class_name": "CategoricalCrossentropy",
    "config": {"from_logits": False, "label_smoothing": 0.0}}))
variant("loss_weights", compile_config(loss_weights=[0.5]))
variant("compile_config_list", setitem("compile_config", [1, 2]))
variant("compile_config_null", setitem("compile_config", None))
