#!/usr/bin/python3
"""Generates the small ONNX models of the ONNX importer tests (committed).

Run with Debian's python3 (python3-onnx 1.12, numpy) from this directory:

    /usr/bin/python3 make_models.py

Writes *.onnx (plus the external data file of mlp_external.onnx) and, for the
models checked numerically, <model>.<input>.npy inputs and
<model>.expected.<i>.npy outputs computed with numpy (onnx 1.12 has no
reference evaluator). Deterministic: fixed seeds.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import convert_model_to_external_data

HERE = os.path.dirname(os.path.abspath(__file__))
F = TensorProto.FLOAT


def save(model, name, check=True):
    if check:
        onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, name))


def npy(name, array):
    np.save(os.path.join(HERE, name), array)


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def model_of(graph, opset):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="kiln-tests")
    m.ir_version = 8
    return m


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# MLP: x[4,8] -> Gemm(16, transB) -> Relu -> Gemm(3) -> Softmax (opset 13).
def mlp_graph(rng):
    w1 = rng.standard_normal((16, 8)).astype(np.float32) * 0.5
    b1 = rng.standard_normal(16).astype(np.float32) * 0.1
    w2 = rng.standard_normal((16, 3)).astype(np.float32) * 0.5
    b2 = rng.standard_normal(3).astype(np.float32) * 0.1
    nodes = [
        helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h"],
                         name="fc1", transB=1),
        helper.make_node("Relu", ["h"], ["a"], name="relu"),
        helper.make_node("Gemm", ["a", "fc2.weight", "fc2.bias"], ["logits"],
                         name="fc2"),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax",
                         axis=1),
    ]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", F, [4, 8])],
        [helper.make_tensor_value_info("probs", F, [4, 3])],
        [init("fc1.weight", w1), init("fc1.bias", b1),
         init("fc2.weight", w2), init("fc2.bias", b2)])
    def ref(x):
        return softmax(np.maximum(x @ w1.T + b1, 0) @ w2 + b2, 1)
    return graph, ref


def make_mlp():
    rng = np.random.default_rng(0)
    graph, ref = mlp_graph(rng)
    x = rng.standard_normal((4, 8)).astype(np.float32)
    save(model_of(graph, 13), "mlp.onnx")
    npy("mlp.x.npy", x)
    npy("mlp.expected.0.npy", ref(x).astype(np.float32))

    # The same model with its initializers in one external data file (each
    # at its own offset and length).
    model = model_of(graph, 13)
    data_file = os.path.join(HERE, "mlp_external.data")
    if os.path.exists(data_file):  # onnx.save appends to it
        os.remove(data_file)
    convert_model_to_external_data(model, all_tensors_to_one_file=True,
                                   location="mlp_external.data",
                                   size_threshold=0)
    save(model, "mlp_external.onnx", check=False)

    # External data past the end of its file.
    bad = onnx.load(os.path.join(HERE, "mlp_external.onnx"),
                    load_external_data=False)
    entries = bad.graph.initializer[0].external_data
    for key in ("offset", "length"):
        if not any(e.key == key for e in entries):
            entries.add(key=key, value="0")
    for entry in entries:
        if entry.key == "offset":
            entry.value = str(os.path.getsize(data_file) - 100)
        if entry.key == "length":
            entry.value = "512"
    onnx.save(bad, os.path.join(HERE, "external_past_end.onnx"))

    # Truncated copy: the protobuf cannot be parsed.
    with open(os.path.join(HERE, "mlp.onnx"), "rb") as f:
        data = f.read()
    with open(os.path.join(HERE, "truncated.onnx"), "wb") as f:
        f.write(data[: len(data) // 2])


def make_ops():
    """Most ops, broadcasting and batched MatMul, at opset 11 (Softmax
    coerced to 2-D, axes as attributes, Clip bounds as inputs) and opset 13
    (Softmax on one axis, ReduceSum/Squeeze/Unsqueeze axes as inputs)."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    b = rng.standard_normal((4, 5)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    col = rng.standard_normal((3, 1)).astype(np.float32)

    s = (a @ b + bias) - col  # [2,3,5]: batch-broadcast MatMul, [5], [3,1]
    lr = np.where(s >= 0, s, 0.01 * s)
    elu = np.where(s > 0, s, 0.5 * (np.exp(s) - 1))
    clip = np.clip(s, -0.5, 0.75)
    neg = -np.log(np.exp(np.sqrt(np.abs(s))))
    sp = np.log1p(np.exp(neg))
    sg = 1 / (1 + np.exp(-(sp ** 2 / 3)))
    prod = sg * np.tanh(lr)
    lsm = s - s.max(-1, keepdims=True)
    lsm = lsm - np.log(np.exp(lsm).sum(-1, keepdims=True))

    for opset in (11, 13):
        nodes = [
            helper.make_node("MatMul", ["a", "b"], ["mm"], name="mm"),
            helper.make_node("Add", ["mm", "bias"], ["mm_b"], name="add_bias"),
            helper.make_node("Sub", ["mm_b", "col"], ["s"], name="sub_col"),
            helper.make_node("Softmax", ["s"], ["sm"], name="softmax", axis=1),
            helper.make_node("LogSoftmax", ["s"], ["lsm"], name="logsoftmax",
                             axis=-1),
            helper.make_node("LeakyRelu", ["s"], ["lr"], name="leaky"),
            helper.make_node("Elu", ["s"], ["elu"], name="elu", alpha=0.5),
            helper.make_node("Clip", ["s", "lo", "hi"], ["clip"], name="clip"),
            helper.make_node("Abs", ["s"], ["abs"], name="abs"),
            helper.make_node("Sqrt", ["abs"], ["sqrt"], name="sqrt"),
            helper.make_node("Exp", ["sqrt"], ["exp"], name="exp"),
            helper.make_node("Log", ["exp"], ["log"], name="log"),
            helper.make_node("Neg", ["log"], ["neg"], name="neg"),
            helper.make_node("Softplus", ["neg"], ["sp"], name="softplus"),
            helper.make_node("Pow", ["sp", "two"], ["pw"], name="pow"),
            helper.make_node("Div", ["pw", "three"], ["dv"], name="div"),
            helper.make_node("Sigmoid", ["dv"], ["sg"], name="sigmoid"),
            helper.make_node("Tanh", ["lr"], ["th"], name="tanh"),
            helper.make_node("Mul", ["sg", "th"], ["prod"], name="mul"),
            helper.make_node("ReduceMean", ["elu"], ["rm"], name="rmean",
                             axes=[0, -1]),
            helper.make_node("ReduceMax", ["clip"], ["rx"], name="rmax"),
            helper.make_node("Dropout", ["rs"], ["dr"], name="dropout"),
            helper.make_node("Identity", ["dr"], ["rs_out"], name="id"),
            helper.make_node("Transpose", ["sm"], ["tr"], name="tr",
                             perm=[1, 0, 2]),
            helper.make_node("Reshape", ["lsm", "shape"], ["rsh"],
                             name="reshape"),
            helper.make_node("Concat", ["tr", "rsh"], ["cat"], name="concat",
                             axis=-1),
            helper.make_node("Flatten", ["cat"], ["fl"], name="flatten",
                             axis=2),
            helper.make_node("Slice", ["fl", "starts", "ends", "axes",
                                       "steps"], ["sl"], name="slice"),
            helper.make_node("Cast", ["sl"], ["sl64"], name="to_f64", to=11),
            helper.make_node("Cast", ["sl64"], ["sl_out"], name="to_f32",
                             to=1),
        ]
        if opset == 11:
            nodes += [
                helper.make_node("ReduceSum", ["prod"], ["rs0"], name="rsum",
                                 axes=[2], keepdims=0),
                helper.make_node("Unsqueeze", ["rs0"], ["us"], name="unsq",
                                 axes=[0]),
                helper.make_node("Squeeze", ["us"], ["rs"], name="sq",
                                 axes=[0]),
            ]
        else:
            nodes += [
                helper.make_node("ReduceSum", ["prod", "axis2"], ["rs0"],
                                 name="rsum", keepdims=0),
                helper.make_node("Unsqueeze", ["rs0", "axis0"], ["us"],
                                 name="unsq"),
                helper.make_node("Squeeze", ["us", "axis0"], ["rs"],
                                 name="sq"),
            ]
        # Topological order: the axes-versioned nodes produce 'rs' before
        # Dropout reads it.
        dropout_at = [n.name for n in nodes].index("dropout")
        nodes = nodes[:dropout_at] + nodes[-3:] + nodes[dropout_at:-3]
        inits = [
            init("b", b), init("bias", bias), init("col", col),
            init("lo", np.float32(-0.5)), init("hi", np.float32(0.75)),
            init("two", np.array([2.0], np.float32)),
            init("three", np.float32(3.0)),
            init("shape", np.array([3, -1, 0], np.int64)),
            init("starts", np.array([-4, 1], np.int64)),
            init("ends", np.array([100, -1], np.int64)),
            init("axes", np.array([0, 1], np.int64)),
            init("steps", np.array([1, 2], np.int64)),
            init("axis0", np.array([0], np.int64)),
            init("axis2", np.array([2], np.int64)),
        ]
        if opset == 11:
            inits = inits[:-2]
        outs = ["rs_out", "rm", "rx", "sl_out"]
        out_shapes = [[2, 3], [1, 3, 1], [1, 1, 1], [4, 4]]
        graph = helper.make_graph(
            nodes, "ops%d" % opset,
            [helper.make_tensor_value_info("a", F, [2, 3, 4])],
            [helper.make_tensor_value_info(o, F, shp)
             for o, shp in zip(outs, out_shapes)], inits)
        name = "ops_opset%d" % opset
        save(model_of(graph, opset), name + ".onnx")

        if opset == 11:  # coerced to 2-D at axis 1
            sm = softmax(s.reshape(2, 15), 1).reshape(2, 3, 5)
        else:
            sm = softmax(s, 1)
        rs = prod.sum(axis=2)
        rm = elu.mean(axis=(0, 2), keepdims=True)
        rx = clip.max(keepdims=True)
        cat = np.concatenate([sm.transpose(1, 0, 2), lsm.reshape(3, 2, 5)],
                             axis=-1)  # [3,2,10]
        sl = cat.reshape(6, 10)[2:6, 1:9:2]
        npy(name + ".a.npy", a)
        for i, e in enumerate([rs, rm, rx, sl]):
            npy("%s.expected.%d.npy" % (name, i), e.astype(np.float32))


def make_edges():
    """Corner cases: Gemm alpha/beta/transA with C of [M,1] and [1],
    vector MatMul, Flatten at axis 0, Squeeze without axes, Slice and Clip
    as attributes (opset 9), Softmax coerced at axis 0 (opset 9); ReduceSum
    over all axes, Unsqueeze with negative axes, Reshape with allowzero,
    Dropout with its mask, Constant value_floats, Cast from int64 (opset 14).
    """
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 2)).astype(np.float32)   # Gemm A^T: [2,3]
    w = rng.standard_normal((3, 4)).astype(np.float32)
    c_col = rng.standard_normal((2, 1)).astype(np.float32)
    v = rng.standard_normal(4).astype(np.float32)
    x3 = rng.standard_normal((2, 1, 3)).astype(np.float32)

    # opset 9
    nodes = [
        helper.make_node("Gemm", ["a", "w", "c_col"], ["g1"], name="gemm1",
                         transA=1, alpha=0.5, beta=2.0),
        helper.make_node("Gemm", ["a", "w", "c_one"], ["g2"], name="gemm2",
                         transA=1),
        helper.make_node("Add", ["g1", "g2"], ["g"], name="add"),   # [2,4]
        helper.make_node("MatMul", ["g", "v"], ["gv"], name="mv"),  # [2]
        helper.make_node("MatMul", ["v", "vv"], ["dot"], name="dot"),  # []
        helper.make_node("Flatten", ["x3"], ["f0"], name="flat0", axis=0),
        helper.make_node("Squeeze", ["x3"], ["sq"], name="sq"),      # [2,3]
        helper.make_node("Slice", ["sq"], ["sl"], name="slice9",
                         starts=[0, -2], ends=[-1, 1000], axes=[0, 1]),
        helper.make_node("Clip", ["sl"], ["cl"], name="clip9", min=-0.25,
                         max=0.25),
        helper.make_node("Softmax", ["x3"], ["sm0"], name="sm0", axis=0),
    ]
    vv = rng.standard_normal(4).astype(np.float32)
    graph = helper.make_graph(
        nodes, "edges9",
        [helper.make_tensor_value_info("a", F, [3, 2]),
         helper.make_tensor_value_info("x3", F, [2, 1, 3])],
        [helper.make_tensor_value_info("gv", F, [2]),
         helper.make_tensor_value_info("dot", F, []),
         helper.make_tensor_value_info("f0", F, [1, 6]),
         helper.make_tensor_value_info("cl", F, [1, 2]),
         helper.make_tensor_value_info("sm0", F, [2, 1, 3])],
        [init("w", w), init("c_col", c_col),
         init("c_one", np.array([0.25], np.float32)), init("v", v),
         init("vv", vv)])
    save(model_of(graph, 9), "edges_opset9.onnx")
    g = 0.5 * (a.T @ w) + 2.0 * c_col + (a.T @ w + 0.25)
    sq = x3.reshape(2, 3)
    flat = x3.reshape(2 * 3)
    expected = [g @ v, np.float32(v @ vv), x3.reshape(1, 6),
                np.clip(sq[0:1, 1:3], -0.25, 0.25),
                softmax(flat[None, :], 1).reshape(2, 1, 3)]
    npy("edges_opset9.a.npy", a)
    npy("edges_opset9.x3.npy", x3)
    for i, e in enumerate(expected):
        npy("edges_opset9.expected.%d.npy" % i,
            np.asarray(e, dtype=np.float32))

    # opset 14
    nodes = [
        helper.make_node("ReduceSum", ["x3"], ["total"], name="sum_all",
                         keepdims=0),
        helper.make_node("Unsqueeze", ["total", "neg_axes"], ["u"],
                         name="unsq"),                              # [1,1]
        helper.make_node("Reshape", ["x3", "shape0"], ["r"], name="rz",
                         allowzero=1),                              # [3,2]
        helper.make_node("Dropout", ["r"], ["d", "mask"], name="drop"),
        helper.make_node("Cast", ["mask"], ["maskf"], name="mask_f", to=1),
        helper.make_node("Mul", ["d", "maskf"], ["dm"], name="mul_mask"),
        helper.make_node("Constant", [], ["k"], name="k",
                         value_floats=[1.0, 2.0]),
        helper.make_node("Mul", ["dm", "k"], ["dk"], name="mul_k"),
        helper.make_node("Cast", ["ints"], ["intsf"], name="ints_f", to=1),
        helper.make_node("Add", ["dk", "intsf"], ["out"], name="add_ints"),
        helper.make_node("ReduceSum", ["out", "empty"], ["same"],
                         name="noop", noop_with_empty_axes=1),
    ]
    graph = helper.make_graph(
        nodes, "edges14",
        [helper.make_tensor_value_info("x3", F, [2, 1, 3])],
        [helper.make_tensor_value_info("u", F, [1, 1]),
         helper.make_tensor_value_info("same", F, [3, 2])],
        [init("neg_axes", np.array([-1, -2], np.int64)),
         init("shape0", np.array([3, 2], np.int64)),
         init("ints", np.array([[1], [2], [3]], np.int64)),
         init("empty", np.array([], np.int64))])
    save(model_of(graph, 14), "edges_opset14.onnx")
    out = x3.reshape(3, 2) * np.array([1, 2], np.float32) + \
        np.array([[1], [2], [3]], np.float32)
    npy("edges_opset14.x3.npy", x3)
    npy("edges_opset14.expected.0.npy",
        np.asarray(x3.sum(), np.float32).reshape(1, 1))
    npy("edges_opset14.expected.1.npy", out.astype(np.float32))


def make_errors():
    # A text file named .onnx.
    with open(os.path.join(HERE, "text.onnx"), "w") as f:
        f.write("This is not an ONNX model, just some text.\n")

    x = helper.make_tensor_value_info("x", F, [2, 3])
    y = helper.make_tensor_value_info("y", F, [2, 3])

    # Two unsupported ops (and a supported one between them).
    graph = helper.make_graph(
        [helper.make_node("Sin", ["x"], ["s"], name="sin_1"),
         helper.make_node("Relu", ["s"], ["r"], name="relu_1"),
         helper.make_node("Floor", ["r"], ["y"], name="floor_1")],
        "unsupported", [x], [y])
    save(model_of(graph, 13), "unsupported.onnx")

    # A node input nobody produces (the checker rejects it).
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "ghost"], ["y"], name="add_ghost")],
        "dangling", [x], [y])
    save(model_of(graph, 13), "dangling.onnx", check=False)

    # MatMul of [2,3] by [4,5]: shape inference fails.
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm_bad")],
        "mismatch", [x], [helper.make_tensor_value_info("y", F, [2, 5])],
        [init("w", np.ones((4, 5), np.float32))])
    save(model_of(graph, 13), "mismatch.onnx", check=False)

    # A dynamic batch dimension.
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")], "dynamic",
        [helper.make_tensor_value_info("x", F, ["N", 3])],
        [helper.make_tensor_value_info("y", F, ["N", 3])])
    save(model_of(graph, 13), "dynamic_batch.onnx")

    # An initializer that is also a graph input stays an overridable
    # argument (ir_version 3 style).
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "offset"], ["y"], name="add")],
        "overridable",
        [x, helper.make_tensor_value_info("offset", F, [3])], [y],
        [init("offset", np.array([1, 2, 3], np.float32))])
    save(model_of(graph, 13), "overridable.onnx")

    # A Reshape shape that is a graph input (overridable): not a constant.
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape_s")],
        "shape_input",
        [x, helper.make_tensor_value_info("s", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("y", F, [3, 2])],
        [init("s", np.array([3, 2], np.int64))])
    save(model_of(graph, 13), "shape_input.onnx")

    # Opset 6 is older than kiln imports.
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")], "opset6",
        [x], [y])
    save(model_of(graph, 6), "opset6.onnx")

    # A float16 input.
    graph = helper.make_graph(
        [helper.make_node("Relu", ["h"], ["y"], name="relu")], "half",
        [helper.make_tensor_value_info("h", TensorProto.FLOAT16, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [2, 3])])
    save(model_of(graph, 13), "float16.onnx")


def make_hard_sigmoid():
    """HardSigmoid with ONNX's defaults (alpha 0.2, beta 0.5) and with
    Keras 3's alpha 1/6 (as HardSwish's definition uses it), opset 13, on
    inputs that include the kinks."""
    x = np.array([[-3.0, -2.5, -1.0, 0.0, 0.5],
                  [1.7, 2.5, 3.0, -6.0, 6.0]], np.float32)
    alpha = np.float32(1.0 / 6.0)
    graph = helper.make_graph(
        [helper.make_node("HardSigmoid", ["x"], ["onnx"], name="hs_onnx"),
         helper.make_node("HardSigmoid", ["x"], ["keras"], name="hs_keras",
                          alpha=float(alpha), beta=0.5)],
        "hard_sigmoid", [helper.make_tensor_value_info("x", F, [2, 5])],
        [helper.make_tensor_value_info("onnx", F, [2, 5]),
         helper.make_tensor_value_info("keras", F, [2, 5])])
    save(model_of(graph, 13), "hard_sigmoid.onnx")
    x64 = x.astype(np.float64)
    npy("hard_sigmoid.x.npy", x)
    npy("hard_sigmoid.expected.0.npy",
        np.clip(np.float64(np.float32(0.2)) * x64 + 0.5, 0, 1)
        .astype(np.float32))
    npy("hard_sigmoid.expected.1.npy",
        np.clip(np.float64(alpha) * x64 + 0.5, 0, 1).astype(np.float32))


def make_cnn():
    """Convolutional models (opset 13).

    cnn_chain: x[2,3,8,8] -> Conv(4, 3x3, pads 1, bias) -> BatchNormalization
    -> Relu -> Conv(5, 3x3, stride 2, SAME_UPPER) -> y[2,5,4,4]; the
    expected output uses the batch statistics (kiln's @forward is
    BatchNormalization's training form), and the new running mean and
    variance are @forward's state-update results, computed with torch in
    float64.
    cnn_ops: MaxPool (ceil_mode, asymmetric pads), AveragePool (SAME_LOWER,
    count_include_pad), ConvTranspose (stride 2, output_padding, group 2),
    Pad (constant value, a negative pad), GlobalMaxPool; the IR is checked.
    cnn_errors: two nodes kiln rejects (MaxPool dilations, Pad mode
    reflect), both reported."""
    import torch
    import torch.nn.functional as tf
    rng = np.random.default_rng(3)
    w1 = rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.5
    b1 = rng.standard_normal(4).astype(np.float32) * 0.1
    gamma = rng.uniform(0.5, 1.5, 4).astype(np.float32)
    beta = rng.uniform(-0.2, 0.2, 4).astype(np.float32)
    mean = rng.uniform(-0.1, 0.1, 4).astype(np.float32)
    var = rng.uniform(0.5, 1.5, 4).astype(np.float32)
    w2 = rng.standard_normal((5, 4, 3, 3)).astype(np.float32) * 0.5
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization",
                         ["c1", "gamma", "beta", "mean", "var"], ["n1"],
                         name="bn1", epsilon=1e-3, momentum=0.8),
        helper.make_node("Relu", ["n1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["y"], name="conv2",
                         strides=[2, 2], auto_pad="SAME_UPPER"),
    ]
    graph = helper.make_graph(
        nodes, "cnn_chain", [helper.make_tensor_value_info("x", F,
                                                           [2, 3, 8, 8])],
        [helper.make_tensor_value_info("y", F, [2, 5, 4, 4])],
        [init("w1", w1), init("b1", b1), init("gamma", gamma),
         init("beta", beta), init("mean", mean), init("var", var),
         init("w2", w2)])
    save(model_of(graph, 13), "cnn_chain.onnx")
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    npy("cnn_chain.x.npy", x)
    t = lambda a: torch.from_numpy(a.astype(np.float64))
    h = tf.conv2d(t(x), t(w1), t(b1), padding=1)
    # The state updates (torch's momentum is the new value's weight; the
    # moving variance takes the unbiased batch variance).
    running_mean, running_var = t(mean), t(var)
    h = tf.batch_norm(h, running_mean, running_var, t(gamma), t(beta),
                      training=True, momentum=0.2, eps=1e-3)
    # SAME_UPPER with stride 2 on 8: total padding 1, at the end.
    h = tf.pad(torch.relu(h), (0, 1, 0, 1))
    y = tf.conv2d(h, t(w2), stride=2)
    npy("cnn_chain.expected.0.npy", y.numpy().astype(np.float32))
    npy("cnn_chain.expected.1.npy", running_mean.numpy().astype(np.float32))
    npy("cnn_chain.expected.2.npy", running_var.numpy().astype(np.float32))

    wt = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    nodes = [
        helper.make_node("MaxPool", ["x"], ["mp"], name="maxpool",
                         kernel_shape=[3, 3], strides=[2, 2],
                         pads=[0, 1, 1, 0], ceil_mode=1),
        helper.make_node("AveragePool", ["x"], ["ap"], name="avgpool",
                         kernel_shape=[2, 3], strides=[2, 2],
                         auto_pad="SAME_LOWER", count_include_pad=1),
        helper.make_node("ConvTranspose", ["x", "wt"], ["ct"], name="deconv",
                         strides=[2, 2], pads=[1, 1, 1, 1],
                         output_padding=[1, 0], group=2),
        helper.make_node("Pad", ["x", "pads", "value"], ["pd"], name="pad",
                         mode="constant"),
        helper.make_node("GlobalMaxPool", ["x"], ["gm"], name="gmp"),
    ]
    graph = helper.make_graph(
        nodes, "cnn_ops", [helper.make_tensor_value_info("x", F,
                                                         [1, 4, 7, 7])],
        [helper.make_tensor_value_info("mp", F, [1, 4, 4, 4]),
         helper.make_tensor_value_info("ap", F, [1, 4, 4, 4]),
         helper.make_tensor_value_info("ct", F, [1, 6, 14, 13]),
         helper.make_tensor_value_info("pd", F, [1, 4, 10, 6]),
         helper.make_tensor_value_info("gm", F, [1, 4, 1, 1])],
        [init("wt", wt), init("pads", np.array([0, 0, 1, -1, 0, 0, 2, 0],
                                               np.int64)),
         init("value", np.array(1.5, np.float32))])
    save(model_of(graph, 13), "cnn_ops.onnx")

    nodes = [
        helper.make_node("MaxPool", ["x"], ["mp"], name="dilated_pool",
                         kernel_shape=[2, 2], dilations=[2, 2]),
        helper.make_node("Pad", ["x", "pads"], ["pd"], name="reflect_pad",
                         mode="reflect"),
        helper.make_node("Relu", ["pd"], ["r"], name="relu_after"),
    ]
    graph = helper.make_graph(
        nodes, "cnn_errors", [helper.make_tensor_value_info("x", F,
                                                            [1, 2, 6, 6])],
        [helper.make_tensor_value_info("mp", F, [1, 2, 4, 4]),
         helper.make_tensor_value_info("r", F, [1, 2, 8, 8])],
        [init("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))])
    save(model_of(graph, 13), "cnn_errors.onnx")


if __name__ == "__main__":
    make_mlp()
    make_ops()
    make_edges()
    make_errors()
    make_hard_sigmoid()
    make_cnn()
