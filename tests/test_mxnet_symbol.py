"""Symbol-graph interpreter: per-op parity against hand-written torch on random weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hyp_face.formats.mxnet_symbol import MXNetSymbolError, build_mxnet_model, mx_reshape_shape

torch.set_num_threads(1)
RNG = np.random.default_rng(1234)


class Graph:
    """Tiny symbol-JSON builder: variables, ops, heads."""

    def __init__(self):
        self.nodes: list[dict] = []
        self.params: dict[str, np.ndarray] = {}

    def var(self, name: str, value: np.ndarray | None = None, aux: bool = False) -> tuple[int, int]:
        self.nodes.append({"op": "null", "name": name, "inputs": []})
        if value is not None:
            self.params[f"{'aux' if aux else 'arg'}:{name}"] = np.asarray(value, dtype=np.float32)
        return len(self.nodes) - 1, 0

    def op(self, op: str, name: str, inputs, key: str = "attrs", **attrs) -> tuple[int, int]:
        node = {"op": op, "name": name, "inputs": [[i, k, 0] for i, k in inputs]}
        node[key] = {k: str(v) for k, v in attrs.items()}
        self.nodes.append(node)
        return len(self.nodes) - 1, 0

    def build(self, *heads, outputs=None):
        sym = {"nodes": self.nodes, "arg_nodes": [], "heads": [[i, k, 0] for i, k in heads]}
        return build_mxnet_model(sym, self.params, outputs=outputs)


def rand(*shape) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a)


def close(a: torch.Tensor, b: torch.Tensor) -> None:
    assert a.shape == b.shape
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("groups,stride,pad,dilate,no_bias", [(1, 1, 0, 1, False), (2, 2, 1, 1, True), (4, 1, 2, 2, False)])
def test_convolution(groups, stride, pad, dilate, no_bias):
    g = Graph()
    x = g.var("data")
    w, b = rand(8, 4 // groups, 3, 3), rand(8)
    inputs = [x, g.var("c_weight", w)] + ([] if no_bias else [g.var("c_bias", b)])
    y = g.op("Convolution", "c", inputs, kernel="(3, 3)", num_filter=8, num_group=groups, stride=f"({stride},{stride})",
             pad=f"({pad}, {pad})", dilate=f"({dilate},{dilate})", no_bias=no_bias)
    xin = rand(2, 4, 11, 9)
    ref = F.conv2d(t(xin), t(w), None if no_bias else t(b), stride, pad, dilate, groups)
    close(g.build(y)(t(xin)), ref)


def test_deconvolution_default_no_bias_and_adj():
    g = Graph()
    w = rand(4, 3, 4, 4)
    y = g.op("Deconvolution", "d", [g.var("data"), g.var("d_weight", w)], kernel="(4,4)", stride="(2,2)",
             pad="(1,1)", adj="(1,1)", num_filter=6, num_group=2)
    xin = rand(1, 4, 5, 7)
    close(g.build(y)(t(xin)), F.conv_transpose2d(t(xin), t(w), None, 2, 1, 1, 2))


@pytest.mark.parametrize("attrs,use_gamma,eps", [({}, False, 1e-3), ({"fix_gamma": "False"}, True, 1e-3),
                                                 ({"fix_gamma": "False", "eps": "2e-5"}, True, 2e-5),
                                                 ({"fix_gamma": "True", "eps": "0.1", "use_global_stats": "True"},
                                                  False, 0.1)])
def test_batchnorm_folding_uses_own_fix_gamma_and_eps(attrs, use_gamma, eps):
    g = Graph()
    gamma, beta, mean, var = rand(5) + 2.0, rand(5), rand(5), np.abs(rand(5)) * 0.01 + 0.01
    y = g.op("BatchNorm", "bn", [g.var("data"), g.var("bn_gamma", gamma), g.var("bn_beta", beta),
                                 g.var("bn_moving_mean", mean, aux=True), g.var("bn_moving_var", var, aux=True)], **attrs)
    xin = rand(3, 5, 4, 4)
    ref = F.batch_norm(t(xin), t(mean), t(var), t(gamma) if use_gamma else None, t(beta), False, 0.0, eps)
    close(g.build(y)(t(xin)), ref)


@pytest.mark.parametrize("act,fn", [("relu", F.relu), ("sigmoid", torch.sigmoid), ("tanh", torch.tanh),
                                    ("softrelu", F.softplus)])
def test_activation(act, fn):
    g = Graph()
    y = g.op("Activation", "a", [g.var("data")], act_type=act)
    xin = rand(2, 3, 4, 4)
    close(g.build(y)(t(xin)), fn(t(xin)))


def test_leaky_relu_variants():
    xin = rand(2, 6, 3, 3)
    gamma = rand(6)
    g = Graph()
    x = g.var("data")
    p = g.op("LeakyReLU", "p", [x, g.var("p_gamma", gamma)], act_type="prelu")
    lk = g.op("LeakyReLU", "l", [x], act_type="leaky", slope=0.1)
    default = g.op("LeakyReLU", "d", [x])
    elu = g.op("LeakyReLU", "e", [x], act_type="elu", slope=0.5)
    outs = g.build(p, lk, default, elu)(t(xin))
    close(outs[0], F.prelu(t(xin), t(gamma)))
    close(outs[1], F.leaky_relu(t(xin), 0.1))
    close(outs[2], F.leaky_relu(t(xin), 0.25))
    close(outs[3], F.elu(t(xin), 0.5))


@pytest.mark.parametrize("op,fn", [("elemwise_add", torch.add), ("_Plus", torch.add), ("_plus", torch.add),
                                   ("broadcast_add", torch.add), ("elemwise_sub", torch.sub),
                                   ("broadcast_mul", torch.mul), ("elemwise_div", torch.div)])
def test_binary_ops(op, fn):
    g = Graph()
    y = g.op(op, "b", [g.var("data"), g.var("data2")])
    a, b = rand(2, 3, 4), rand(2, 3, 4) + 5.0
    close(g.build(y)(t(a), t(b)), fn(t(a), t(b)))


def test_add_n():
    g = Graph()
    y = g.op("ElementWiseSum", "s", [g.var("a"), g.var("b"), g.var("c")], num_args=3)
    a, b, c = rand(2, 3), rand(2, 3), rand(2, 3)
    close(g.build(y)(t(a), t(b), t(c)), t(a) + t(b) + t(c))


@pytest.mark.parametrize("op,fn", [("_plus_scalar", lambda x: x + 1.5), ("_minus_scalar", lambda x: x - 1.5),
                                   ("_mul_scalar", lambda x: x * 1.5), ("_div_scalar", lambda x: x / 1.5),
                                   ("_rminus_scalar", lambda x: 1.5 - x)])
def test_scalar_ops(op, fn):
    g = Graph()
    y = g.op(op, "s", [g.var("data")], scalar="1.5")
    xin = rand(2, 5)
    close(g.build(y)(t(xin)), fn(t(xin)))


def test_pooling_max_full_is_ceil_mode_and_valid_is_floor():
    xin = rand(1, 2, 13, 10)
    g = Graph()
    x = g.var("data")
    full = g.op("Pooling", "pf", [x], kernel="(3,3)", stride="(2,2)", pool_type="max", pooling_convention="full")
    valid = g.op("Pooling", "pv", [x], kernel="(3,3)", stride="(2,2)", pool_type="max")
    out_full, out_valid = g.build(full, valid)(t(xin))
    assert out_full.shape[2:] == (6, 5) and out_valid.shape[2:] == (6, 4)
    close(out_full, F.max_pool2d(t(xin), 3, 2, ceil_mode=True))
    close(out_valid, F.max_pool2d(t(xin), 3, 2))


def test_pooling_avg_with_pad_counts_pad_and_global():
    xin = rand(2, 3, 7, 7)
    g = Graph()
    x = g.var("data")
    avg = g.op("Pooling", "pa", [x], kernel="(3,3)", stride="(2,2)", pad="(1,1)", pool_type="avg")
    gavg = g.op("Pooling", "ga", [x], kernel="(7,7)", global_pool="True", pool_type="avg")
    gmax = g.op("Pooling", "gm", [x], kernel="(1,1)", global_pool="True", pool_type="max")
    outs = g.build(avg, gavg, gmax)(t(xin))
    close(outs[0], F.avg_pool2d(t(xin), 3, 2, 1, count_include_pad=True))
    close(outs[1], t(xin).mean((2, 3), keepdim=True))
    close(outs[2], t(xin).amax((2, 3), keepdim=True))


def test_fully_connected_flatten_and_not():
    xin = rand(2, 3, 4)
    w1, b1, w2 = rand(5, 12), rand(5), rand(6, 4)
    g = Graph()
    x = g.var("data")
    fc1 = g.op("FullyConnected", "fc1", [x, g.var("fc1_weight", w1), g.var("fc1_bias", b1)], num_hidden=5)
    fc2 = g.op("FullyConnected", "fc2", [x, g.var("fc2_weight", w2)], num_hidden=6, no_bias="True", flatten="False")
    out1, out2 = g.build(fc1, fc2)(t(xin))
    close(out1, t(xin).reshape(2, 12) @ t(w1).T + t(b1))
    close(out2, t(xin) @ t(w2).T)


def test_flatten_dropout_identity_copy_blockgrad():
    xin = rand(2, 3, 2, 2)
    g = Graph()
    y = g.var("data")
    for op in ("Dropout", "identity", "_copy", "BlockGrad"):
        y = g.op(op, op.lower(), [y], p=0.5)
    y = g.op("Flatten", "flat", [y])
    close(g.build(y)(t(xin)), t(xin).reshape(2, 12))


def test_softmax_family_and_label_input_is_dropped():
    xin = rand(2, 3, 4, 5)
    g = Graph()
    x = g.var("data")
    ch = g.op("SoftmaxActivation", "sc", [x], key="param", mode="channel")
    inst = g.op("SoftmaxActivation", "si", [x])
    ax = g.op("softmax", "sa", [x], axis=2)
    so = g.op("SoftmaxOutput", "so", [x, g.var("so_label")], multi_output="True")
    model = g.build(ch, inst, ax, so)
    assert model.input_names == ["data"]
    outs = model(t(xin))
    close(outs[0], F.softmax(t(xin), 1))
    close(outs[1], F.softmax(t(xin).reshape(2, -1), 1).reshape(xin.shape))
    close(outs[2], F.softmax(t(xin), 2))
    close(outs[3], F.softmax(t(xin), 1))


def test_crop_to_second_input_offset_and_center():
    xin, like = rand(1, 2, 10, 9), rand(1, 5, 6, 4)
    g = Graph()
    x, ref = g.var("data"), g.var("like")
    off = g.op("Crop", "co", [x, ref], num_args=2, offset="(1,2)")
    cen = g.op("Crop", "cc", [x, ref], num_args=2, center_crop="True")
    hw = g.op("Crop", "ch", [x], num_args=1, h_w="(3,3)")
    outs = g.build(off, cen, hw)(t(xin), t(like))
    close(outs[0], t(xin)[:, :, 1:7, 2:6])
    close(outs[1], t(xin)[:, :, 2:8, 2:6])
    close(outs[2], t(xin)[:, :, :3, :3])


def test_upsampling_nearest():
    xin = rand(1, 3, 4, 5)
    g = Graph()
    y = g.op("UpSampling", "up", [g.var("data")], scale=2, sample_type="nearest", num_args=1)
    close(g.build(y)(t(xin)), t(xin).repeat_interleave(2, 2).repeat_interleave(2, 3))


def test_concat_transpose_slicechannel():
    a, b = rand(2, 3, 4), rand(2, 1, 4)
    g = Graph()
    cat = g.op("Concat", "cat", [g.var("a"), g.var("b")], dim=1, num_args=2)
    tr = g.op("transpose", "tr", [cat], axes="(0, 2, 1)")
    sl = g.op("SliceChannel", "sl", [cat], num_outputs=2, axis=1)
    sq = g.op("SliceChannel", "sq", [tr], num_outputs=4, axis=2, squeeze_axis="True")
    outs = g.build(cat, tr, (sl[0], 1), (sq[0], 3))(t(a), t(b))
    ref = torch.cat([t(a), t(b)], 1)
    close(outs[0], ref)
    close(outs[1], ref.permute(0, 2, 1))
    close(outs[2], ref[:, 2:4])
    close(outs[3], ref.permute(0, 2, 1)[:, :, 3])


@pytest.mark.parametrize("shape,spec,reverse,expected", [
    ((2, 3, 4), (4, 0, 2), False, (4, 3, 2)),
    ((2, 3, 4), (6, 1, -1), False, (6, 1, 4)),
    ((2, 3, 4), (3, -1, 8), False, (3, 1, 8)),
    ((2, 3, 4), (-1,), False, (24,)),
    ((2, 3, 4), (-2, 1, 1), False, (2, 3, 4, 1, 1)),
    ((2, 3, 4, 5), (-3, -3), False, (6, 20)),
    ((2, 3, 4), (0, -3), False, (2, 12)),
    ((2, 3, 4), (-4, 1, 2, -2), False, (1, 2, 3, 4)),
    ((2, 3, 4), (2, -4, -1, 3, -2), False, (2, 1, 3, 4)),
    # MXNet's shape inference (not its docstring): -1 consumes a source dim, 0 copies the next one
    ((10, 5, 4), (-1, 0), False, (40, 5)),
    ((10, 5, 4), (-1, 0), True, (50, 4)),
    ((1, 4, 20, 20), (0, 2, -1, 0), False, (1, 2, 40, 20)),
])
def test_reshape_codes(shape, spec, reverse, expected):
    assert mx_reshape_shape(shape, spec, reverse) == expected


def test_reshape_node_runs():
    xin = rand(1, 4, 3, 5)
    g = Graph()
    y = g.op("Reshape", "r", [g.var("data")], shape="(0, 2, -1, 0)")
    close(g.build(y)(t(xin)), t(xin).reshape(1, 2, 6, 5))


def test_retinaface_style_head():
    """FPN merge (UpSampling + Crop + add) and a 2-class anchor softmax head, as in RetinaFace net3."""
    c5, c4 = rand(1, 4, 5, 5), rand(1, 4, 9, 9)
    w = rand(4, 4, 1, 1)
    g = Graph()
    p5, p4 = g.var("c5"), g.var("c4")
    up = g.op("UpSampling", "up", [p5], scale=2, sample_type="nearest", num_args=1)
    crop = g.op("Crop", "crop", [up, p4], num_args=2)
    merged = g.op("_plus", "plus", [p4, crop])
    score = g.op("Convolution", "cls", [merged, g.var("cls_weight", w)], kernel="(1,1)", num_filter=4, no_bias="True")
    resh = g.op("Reshape", "r1", [score], shape="(0, 2, -1, 0)")
    prob = g.op("SoftmaxActivation", "sm", [resh], mode="channel")
    back = g.op("Reshape", "r2", [prob], shape="(0, 4, -1, 0)")
    out = g.build(back)(t(c5), t(c4))
    up_ref = t(c5).repeat_interleave(2, 2).repeat_interleave(2, 3)[:, :, :9, :9]
    s = F.conv2d(t(c4) + up_ref, t(w))
    close(out, F.softmax(s.reshape(1, 2, 18, 9), 1).reshape(1, 4, 9, 9))


def test_internal_output_by_name_and_pruning():
    g = Graph()
    x = g.var("data")
    a = g.op("_mul_scalar", "scale", [x], scalar=2)
    b = g.op("UnknownOpNotNeeded", "later", [a])
    model = g.build(b, outputs=["scale_output"])
    close(model(torch.ones(1, 2)), torch.full((1, 2), 2.0))


def test_unknown_op_names_op_and_node():
    g = Graph()
    y = g.op("FancyOp", "my_layer", [g.var("data")])
    with pytest.raises(MXNetSymbolError, match="'FancyOp'.*'my_layer'"):
        g.build(y)


def test_missing_weight_names_node_and_weight():
    g = Graph()
    y = g.op("Convolution", "conv9", [g.var("data"), g.var("conv9_weight")], kernel="(1,1)", num_filter=2,
             no_bias="True")
    with pytest.raises(MXNetSymbolError, match="conv9.*conv9_weight"):
        g.build(y)


def test_half_converts_weights_and_casts_input():
    g = Graph()
    w = rand(3, 2)
    y = g.op("FullyConnected", "fc", [g.var("data"), g.var("fc_weight", w)], num_hidden=3, no_bias="True")
    model = g.build(y).half()
    assert all(p.dtype == torch.float16 for p in model.parameters())
    xin = rand(4, 2)
    out = model(t(xin))
    assert out.dtype == torch.float16
    torch.testing.assert_close(out.float(), t(xin) @ t(w).T, rtol=1e-2, atol=1e-2)
