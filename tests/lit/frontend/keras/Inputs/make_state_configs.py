#!/usr/bin/python3
"""Writes the Keras 3 functional configs of tests/lit/frontend/keras/
recurrent_states.test into the directory given as argv[1]:
  states.json: Embedding -> LSTM(return_state) "enc" -> LSTM "dec" with
      initial_state=[enc h, enc c] -> Concatenate([dec, enc c]) -> Dense;
  keras2_states.json: the same model as Keras 2 writes it (the initial
      states are extra inbound-node inputs);
  bad_state_shape.json: GRU initial_state of 3 units for a 4-unit GRU;
  bad_state_count.json: LSTM initial_state with only h;
  bad_output_index.json: a layer reading output 3 of an LSTM with
      return_state (it has 3: out, h, c);
  bidi_state.json: Bidirectional(LSTM(return_state)).
"""
import json
import os
import sys

out = sys.argv[1]


def ref(r):
    name, k = (r, 0) if isinstance(r, str) else r
    return {"class_name": "__keras_tensor__",
            "config": {"keras_history": [name, 0, k]}}


def model(layers, output, batch=4, steps=6):
    entries = [{"class_name": "InputLayer", "name": "tokens",
                "config": {"batch_shape": [batch, steps], "dtype": "int32",
                           "name": "tokens"}, "inbound_nodes": []}]
    for cls, config, args, kwargs in layers:
        kw = {k: [ref(r) for r in v] if isinstance(v, list) else v
              for k, v in kwargs.items()}
        entries.append({"class_name": cls, "name": config["name"],
                        "config": config,
                        "inbound_nodes": [{"args": [ref(a) for a in args],
                                           "kwargs": kw}]})
    return {"class_name": "Functional", "config": {
        "name": "m", "layers": entries, "input_layers": [["tokens", 0, 0]],
        "output_layers": [[output, 0, 0]]}}


emb = ("Embedding", {"name": "emb", "input_dim": 20, "output_dim": 3},
       ["tokens"], {})
enc = ("LSTM", {"name": "enc", "units": 5, "return_state": True}, ["emb"], {})
configs = {
    "states.json": model([
        emb, enc,
        ("LSTM", {"name": "dec", "units": 5}, ["emb"],
         {"initial_state": [("enc", 1), ("enc", 2)]}),
        ("Concatenate", {"name": "cat"}, ["dec", ("enc", 2)], {}),
        ("Dense", {"name": "out", "units": 1, "activation": "sigmoid"},
         ["cat"], {})], "out"),
    "bad_state_shape.json": model([
        emb,
        ("GRU", {"name": "enc", "units": 3, "return_state": True}, ["emb"],
         {}),
        ("GRU", {"name": "dec", "units": 4}, ["emb"],
         {"initial_state": [("enc", 1)]})], "dec"),
    "bad_state_count.json": model([
        emb, enc,
        ("LSTM", {"name": "dec", "units": 5}, ["emb"],
         {"initial_state": [("enc", 1)]})], "dec"),
    "bad_output_index.json": model([
        emb, enc,
        ("Dense", {"name": "out", "units": 1}, [("enc", 3)], {})], "out"),
    "bidi_state.json": model([
        emb,
        ("Bidirectional", {"name": "bidi", "layer": {
            "class_name": "LSTM", "config": {"name": "lstm", "units": 5,
                                             "return_state": True}}},
         ["emb"], {})], "bidi"),
}
# Keras 2: inbound_nodes [[[layer, node, tensor, kwargs], ...]], the
# initial states after the sequence.
k2 = json.loads(json.dumps(configs["states.json"]))
for layer in k2["config"]["layers"]:
    nodes = layer["inbound_nodes"]
    if not nodes:
        continue
    node = nodes[0]
    refs = [a["config"]["keras_history"] + [{}] for a in node["args"]]
    refs += [a["config"]["keras_history"] + [{}]
             for a in node["kwargs"].get("initial_state", [])]
    layer["inbound_nodes"] = [refs]
configs["keras2_states.json"] = k2
for name, config in configs.items():
    with open(os.path.join(out, name), "w") as f:
        json.dump(config, f, indent=1)
