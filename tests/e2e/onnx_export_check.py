"""`prog export --output model.onnx` end to end (tests/lit/e2e/onnx_export.test).

  make DIR     writes three Keras model configs and their data to DIR:
               mlp (Dense, Dropout, softmax), cnn (Conv2D, BatchNormalization,
               MaxPooling2D, AveragePooling2D with same padding, Flatten,
               Dropout, Dense) and rnn (Embedding, Bidirectional LSTM, GRU,
               SimpleRNN with go_backwards, Dense sigmoid), misc
               (ZeroPadding2D, Conv2DTranspose, DepthwiseConv2D, elu,
               LeakyReLU, SeparableConv2D, UpSampling2D, Cropping2D,
               GlobalAveragePooling2D, LayerNormalization, gelu,
               hard_sigmoid, log_softmax), and data for
               examples/text_classifier/transformer.json (transformer:
               Embedding, PositionEmbedding, MultiHeadAttention,
               LayerNormalization, at sequence length 20), and torch.onnx
               (a PyTorch export of Embedding, bidirectional LSTM, GRU,
               Linear) with its data
  check DIR M  checks DIR/M.onnx with the ONNX checker (full_check: strict
               shape inference), runs it with the numpy evaluator
               tests/e2e/onnx_eval.py (float64, the ONNX operator docs) on
               DIR/M_x.npy, and compares with `prog predict` (DIR/M_p.npy) and
               with the exported model imported back into kiln
               (DIR/M_q.npy): every difference must stay below 1e-5.

The data sizes are not multiples of the batch size, so the last batch of
`prog predict` is padded; the evaluator pads its last chunk the same way
(the exported graph has the compiled batch size).
"""

import json
import os
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import onnx_eval  # noqa: E402

BATCH = 16


def layer(class_name, **config):
    return {"class_name": class_name, "config": config}


def sequential(name, layers):
    return {"class_name": "Sequential",
            "config": {"name": name, "layers": layers}}


def make(out):
    rng = np.random.default_rng(7)
    models = {
        "mlp": sequential("mlp", [
            layer("InputLayer", batch_shape=[None, 12], name="features"),
            layer("Dense", name="hidden", units=24, activation="tanh"),
            layer("Dropout", name="dropout", rate=0.3),
            layer("Dense", name="hidden_2", units=16, activation="relu"),
            layer("Dense", name="probs", units=3, activation="softmax"),
        ]),
        "cnn": sequential("cnn", [
            layer("InputLayer", batch_shape=[None, 10, 10, 2], name="image"),
            layer("Conv2D", name="conv", filters=6, kernel_size=[3, 3],
                  padding="same", activation="relu"),
            layer("BatchNormalization", name="bn"),
            layer("MaxPooling2D", name="pool", pool_size=[2, 2]),
            layer("Conv2D", name="conv_2", filters=4, kernel_size=[2, 2],
                  strides=[1, 1], dilation_rate=[1, 1]),
            layer("AveragePooling2D", name="avg", pool_size=[2, 2],
                  padding="same"),
            layer("Flatten", name="flatten"),
            layer("Dropout", name="dropout", rate=0.5),
            layer("Dense", name="probs", units=3, activation="softmax"),
        ]),
        "rnn": sequential("rnn", [
            layer("InputLayer", batch_shape=[None, 9], dtype="int32",
                  name="tokens"),
            layer("Embedding", name="embedding", input_dim=30, output_dim=5),
            layer("Bidirectional", name="bilstm", merge_mode="concat",
                  layer=layer("LSTM", name="lstm", units=4,
                              return_sequences=True)),
            layer("GRU", name="gru", units=3, return_sequences=True),
            layer("SimpleRNN", name="rnn", units=3, go_backwards=True),
            layer("Dense", name="spam", units=1, activation="sigmoid"),
        ]),
        "misc": sequential("misc", [
            layer("InputLayer", batch_shape=[None, 6, 6, 2], name="image"),
            layer("ZeroPadding2D", name="zp", padding=[[1, 0], [0, 1]]),
            layer("Conv2DTranspose", name="up", filters=3, kernel_size=[3, 3],
                  strides=[2, 2], padding="same"),
            layer("DepthwiseConv2D", name="dw", kernel_size=[3, 3],
                  depth_multiplier=2, activation="elu"),
            layer("LeakyReLU", name="lrelu", negative_slope=0.2),
            layer("SeparableConv2D", name="sep", filters=4,
                  kernel_size=[2, 2], strides=[2, 2]),
            layer("UpSampling2D", name="ups", size=[2, 2]),
            layer("Cropping2D", name="crop", cropping=[[1, 1], [0, 2]]),
            layer("GlobalAveragePooling2D", name="gap"),
            layer("LayerNormalization", name="ln"),
            layer("Dense", name="d1", units=8, activation="gelu"),
            layer("Dense", name="d2", units=6, activation="hard_sigmoid"),
            layer("Dense", name="probs", units=3, activation="log_softmax"),
        ]),
    }
    n = 40  # 2.5 batches
    data = {
        "mlp": (rng.normal(size=(n, 12)), rng.integers(0, 3, n)),
        "cnn": (rng.normal(size=(n, 10, 10, 2)), rng.integers(0, 3, n)),
        "rnn": (rng.integers(0, 30, (n, 9)), rng.integers(0, 2, n)),
        "misc": (rng.normal(size=(n, 6, 6, 2)), rng.normal(size=(n, 3))),
    }
    for name, config in models.items():
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump(config, f)
        x, y = data[name]
        dtype = np.int32 if name == "rnn" else np.float32
        np.save(os.path.join(out, name + "_x.npy"), x.astype(dtype))
        np.save(os.path.join(out, name + "_y.npy"),
                y.astype(np.int32 if name in ("mlp", "cnn") else np.float32))
    # An ONNX source: PyTorch's export of Embedding, bidirectional LSTM,
    # GRU and Linear (kiln's importer reorders the gates in the graph).
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(30, 5)
            self.lstm = torch.nn.LSTM(5, 4, batch_first=True,
                                      bidirectional=True)
            self.gru = torch.nn.GRU(8, 3, batch_first=True)
            self.out = torch.nn.Linear(3, 2)

        def forward(self, ids):
            y, _ = self.lstm(self.emb(ids))
            y, _ = self.gru(y)
            return torch.softmax(self.out(y[:, -1]), dim=-1)

    torch.manual_seed(0)
    torch.onnx.export(Net().eval(), torch.zeros(BATCH, 9, dtype=torch.int64),
                      os.path.join(out, "torch.onnx"), opset_version=14,
                      input_names=["ids"], output_names=["probs"])
    np.save(os.path.join(out, "torch_x.npy"),
            rng.integers(0, 30, (n, 9)).astype(np.int64))
    np.save(os.path.join(out, "torch_y.npy"),
            rng.integers(0, 2, n).astype(np.int32))
    np.save(os.path.join(out, "transformer_x.npy"),
            rng.integers(0, 10000, (n, 20)).astype(np.int32))
    np.save(os.path.join(out, "transformer_y.npy"),
            rng.integers(0, 2, n).astype(np.float32))


def check(out, name):
    model = onnx.load(os.path.join(out, name + ".onnx"))
    onnx.checker.check_model(model, full_check=True)
    print("checker: ok, opset", model.opset_import[0].version,
          ", initializers", len(model.graph.initializer))
    x = np.load(os.path.join(out, name + "_x.npy"))
    (inp,) = model.graph.input
    batch = inp.type.tensor_type.shape.dim[0].dim_value
    assert batch == BATCH, batch
    chunks = []
    for start in range(0, len(x), batch):
        part = x[start:start + batch]
        padded = np.concatenate(
            [part, np.zeros((batch - len(part),) + x.shape[1:], x.dtype)])
        (y,) = onnx_eval.run(model, {inp.name: padded}).values()
        chunks.append(y[:len(part)])
    reference = np.concatenate(chunks)
    predicted = np.load(os.path.join(out, name + "_p.npy"))
    reimported = np.load(os.path.join(out, name + "_q.npy"))
    assert predicted.shape == reference.shape, (predicted.shape,
                                                reference.shape)
    e1 = float(np.abs(predicted - reference).max())
    e2 = float(np.abs(reimported - predicted).max())
    print(f"{name}: max |predict - onnx (numpy)| = {e1:.3g}")
    print(f"{name}: max |predict - onnx (kiln import)| = {e2:.3g}")
    ok = e1 < 1e-5 and e2 < 1e-5
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        sys.exit(check(sys.argv[2], sys.argv[3]))
