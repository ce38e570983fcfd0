"""Interpreter of MXNet symbol graphs (``*-symbol.json`` + ``.params``) as a torch ``nn.Module``, without MXNet.

Each operator node becomes a small torch module holding its own weights (taken from the ``.params`` file at build
time; BatchNorm is folded into a per-channel scale and shift with the node's own ``fix_gamma`` and ``eps``).
The graph runs the needed nodes in topological order; node outputs are addressed by ``(node_id, out_idx)``.
Graph inputs are the variable nodes that have no stored array (``data``; labels of ``*Output`` ops are dropped).

Covers the ops of insightface recognizers (fresnet, fmobilefacenet), RetinaFace (``net3``), MTCNN det1-det4 and
the gender-age net; an unknown op raises ``MXNetSymbolError`` naming the op and the node.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hyp_face.formats.mxnet_params import load_params

Ref = tuple[int, int]


class MXNetSymbolError(ValueError):
    """A symbol graph that cannot be interpreted (unknown op, bad attribute, missing weight)."""


@dataclass
class Node:
    """One node of an MXNet symbol graph."""

    id: int
    op: str
    name: str
    attrs: dict[str, str]
    inputs: list[Ref]


@dataclass
class SymbolGraph:
    """Parsed ``symbol.json``: nodes in file order and the graph heads."""

    nodes: list[Node]
    heads: list[Ref]
    by_name: dict[str, int] = field(default_factory=dict)


def parse_symbol(symbol: str | os.PathLike | dict) -> SymbolGraph:
    """Parse a symbol JSON file (or its decoded dict); attrs may sit under "attrs", "attr" or "param"."""
    data = symbol if isinstance(symbol, dict) else json.loads(Path(symbol).read_text(encoding="utf-8"))
    nodes = []
    for i, raw in enumerate(data["nodes"]):
        attrs = raw.get("attrs") or raw.get("attr") or raw.get("param") or {}
        inputs = [(int(e[0]), int(e[1])) for e in raw.get("inputs", [])]
        if any(src >= i for src, _ in inputs):
            raise MXNetSymbolError(f"node {raw['name']!r} ({i}) uses a later node: graph is not topologically ordered")
        nodes.append(Node(i, raw["op"], raw["name"], {k: str(v) for k, v in attrs.items()}, inputs))
    heads = [(int(h[0]), int(h[1])) for h in data["heads"]]
    return SymbolGraph(nodes, heads, {n.name: n.id for n in nodes})


# ----------------------------------------------------------------------------------------------------- attributes
def stored_key(name: str, params: dict[str, np.ndarray]) -> str | None:
    """The key of variable ``name`` in a ``load_params`` dict (``arg:``, ``aux:`` or unprefixed), or None."""
    return next((k for k in (f"arg:{name}", f"aux:{name}", name) if k in params), None)


class OpContext:
    """What an op builder sees: the node, typed attribute access and its stored weights."""

    def __init__(self, node: Node, graph: SymbolGraph, params: dict[str, np.ndarray]):
        self.node = node
        self.graph = graph
        self.params = params

    def fail(self, msg: str) -> MXNetSymbolError:
        return MXNetSymbolError(f"op {self.node.op!r} node {self.node.name!r}: {msg}")

    def raw(self, key: str, default: str | None = None) -> str | None:
        value = self.node.attrs.get(key)
        return default if value in (None, "None") else value

    def string(self, key: str, default: str) -> str:
        return self.raw(key, default)

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise self.fail(f"attribute {key}={value!r} is not a boolean")

    def number(self, key: str, default: float) -> float:
        value = self.raw(key)
        return default if value is None else float(value)

    def integer(self, key: str, default: int) -> int:
        value = self.raw(key)
        return default if value is None else int(value)

    def ints(self, key: str, default: Sequence[int] = ()) -> tuple[int, ...]:
        """A tuple attribute such as ``(3, 3)``, ``(3,3)``, ``[1,1]`` or ``3``; empty means the default."""
        value = self.raw(key)
        if value is None:
            return tuple(default)
        try:
            parsed = ast.literal_eval(value.replace("L", ""))
        except (ValueError, SyntaxError) as exc:
            raise self.fail(f"attribute {key}={value!r} is not a tuple of ints") from exc
        parsed = tuple(parsed) if isinstance(parsed, (tuple, list)) else (parsed,)
        return tuple(int(v) for v in parsed) if parsed else tuple(default)

    def spatial(self, key: str, ndim: int, fill: int) -> tuple[int, ...]:
        """A per-spatial-dimension tuple (stride, pad, dilate) with MXNet's default."""
        value = self.ints(key, (fill,) * ndim)
        if len(value) != ndim:
            raise self.fail(f"attribute {key}={value} does not have {ndim} dimensions")
        return value

    def weight(self, pos: int) -> torch.Tensor:
        """The stored array feeding input ``pos`` as a float32 tensor."""
        if pos >= len(self.node.inputs):
            raise self.fail(f"has no input {pos} (weight expected)")
        name = self.graph.nodes[self.node.inputs[pos][0]].name
        key = stored_key(name, self.params)
        if key is None:
            raise self.fail(f"weight {name!r} is not in the .params file")
        return torch.from_numpy(np.asarray(self.params[key], dtype=np.float32).copy())


# ------------------------------------------------------------------------------------------------------- op modules
class Lambda(nn.Module):
    """A parameter-free op: ``fn(*inputs)``."""

    def __init__(self, fn: Callable, desc: str):
        super().__init__()
        self.fn = fn
        self.desc = desc

    def forward(self, *xs: torch.Tensor):
        return self.fn(*xs)

    def extra_repr(self) -> str:
        return self.desc


class ChannelAffine(nn.Module):
    """Folded BatchNorm: ``x * scale + shift`` along ``axis``."""

    def __init__(self, scale: torch.Tensor, shift: torch.Tensor, axis: int):
        super().__init__()
        self.register_buffer("scale", scale)
        self.register_buffer("shift", shift)
        self.axis = axis

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = [1] * x.dim()
        shape[self.axis] = -1
        return x * self.scale.view(shape) + self.shift.view(shape)


class PReLU(nn.Module):
    """PReLU with one slope per channel (axis 1)."""

    def __init__(self, gamma: torch.Tensor):
        super().__init__()
        self.gamma = nn.Parameter(gamma, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = [1] * x.dim()
        shape[1] = -1
        return torch.where(x >= 0, x, x * self.gamma.view(shape))


class Constant(nn.Module):
    """A stored array used as a data input."""

    def __init__(self, value: torch.Tensor):
        super().__init__()
        self.register_buffer("value", value)

    def forward(self) -> torch.Tensor:
        return self.value


def _frozen(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def _check_shape(ctx: OpContext, what: str, tensor: torch.Tensor, shape: Sequence[int]) -> None:
    if tuple(tensor.shape) != tuple(shape):
        raise ctx.fail(f"{what} has shape {tuple(tensor.shape)}, expected {tuple(shape)}")


def _check_layout(ctx: OpContext) -> None:
    layout = ctx.raw("layout")
    if layout not in (None, "NCHW"):
        raise ctx.fail(f"layout {layout} is not supported (only NCHW)")


def build_convolution(ctx: OpContext) -> nn.Module:
    _check_layout(ctx)
    kernel = ctx.ints("kernel")
    if len(kernel) != 2:
        raise ctx.fail(f"only 2-D kernels are supported, got {kernel}")
    groups, no_bias = ctx.integer("num_group", 1), ctx.flag("no_bias", False)
    weight = ctx.weight(1)
    out_ch = ctx.integer("num_filter", weight.shape[0])
    _check_shape(ctx, "weight", weight, (out_ch, weight.shape[1], *kernel))
    conv = nn.Conv2d(weight.shape[1] * groups, out_ch, kernel, ctx.spatial("stride", 2, 1), ctx.spatial("pad", 2, 0),
                     ctx.spatial("dilate", 2, 1), groups, bias=not no_bias)
    conv.weight.data.copy_(weight)
    if not no_bias:
        conv.bias.data.copy_(ctx.weight(2).reshape(-1))
    return _frozen(conv)


def build_deconvolution(ctx: OpContext) -> nn.Module:
    _check_layout(ctx)
    kernel = ctx.ints("kernel")
    if len(kernel) != 2:
        raise ctx.fail(f"only 2-D kernels are supported, got {kernel}")
    if any(ctx.ints("target_shape")):
        raise ctx.fail("target_shape is not supported; give pad/adj instead")
    groups, no_bias = ctx.integer("num_group", 1), ctx.flag("no_bias", True)
    weight = ctx.weight(1)
    out_ch = ctx.integer("num_filter", weight.shape[1] * groups)
    _check_shape(ctx, "weight", weight, (weight.shape[0], out_ch // groups, *kernel))
    deconv = nn.ConvTranspose2d(weight.shape[0], out_ch, kernel, ctx.spatial("stride", 2, 1), ctx.spatial("pad", 2, 0),
                                ctx.spatial("adj", 2, 0), groups, bias=not no_bias,
                                dilation=ctx.spatial("dilate", 2, 1))
    deconv.weight.data.copy_(weight)
    if not no_bias:
        deconv.bias.data.copy_(ctx.weight(2).reshape(-1))
    return _frozen(deconv)


def build_batchnorm(ctx: OpContext) -> nn.Module:
    """Fold gamma/beta/moving stats into scale/shift (inference always uses the moving statistics)."""
    mean, var = ctx.weight(3).double(), ctx.weight(4).double()
    beta = ctx.weight(2).double()
    gamma = torch.ones_like(mean) if ctx.flag("fix_gamma", True) else ctx.weight(1).double()
    for what, t in (("gamma", gamma), ("beta", beta), ("moving_var", var)):
        _check_shape(ctx, what, t, mean.shape)
    scale = gamma / torch.sqrt(var + ctx.number("eps", 1e-3))
    return ChannelAffine(scale.float(), (beta - mean * scale).float(), ctx.integer("axis", 1))


ACTIVATIONS: dict[str, Callable] = {
    "relu": F.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softrelu": F.softplus,
    "softsign": F.softsign,
}


def build_activation(ctx: OpContext) -> nn.Module:
    act = ctx.string("act_type", "relu")
    if act not in ACTIVATIONS:
        raise ctx.fail(f"act_type {act!r} is not supported")
    return Lambda(ACTIVATIONS[act], act)


def build_leaky_relu(ctx: OpContext) -> nn.Module:
    act, slope = ctx.string("act_type", "leaky"), ctx.number("slope", 0.25)
    if act == "prelu":
        return PReLU(ctx.weight(1).reshape(-1))
    if act == "leaky":
        return Lambda(lambda x: F.leaky_relu(x, slope), f"leaky slope={slope}")
    if act == "elu":
        return Lambda(lambda x: F.elu(x, slope), f"elu alpha={slope}")
    if act == "selu":
        return Lambda(F.selu, "selu")
    if act == "gelu":
        return Lambda(F.gelu, "gelu")
    if act == "rrelu":
        mid = (ctx.number("lower_bound", 0.125) + ctx.number("upper_bound", 0.334)) / 2
        return Lambda(lambda x: F.leaky_relu(x, mid), f"rrelu (inference) slope={mid}")
    raise ctx.fail(f"act_type {act!r} is not supported")


def _pool_output(size: int, kernel: int, stride: int, pad: int, full: bool) -> int:
    span = size + 2 * pad - kernel
    return 1 + (-(-span // stride) if full else span // stride)


def build_pooling(ctx: OpContext) -> nn.Module:
    _check_layout(ctx)
    pool_type = ctx.string("pool_type", "max")
    if pool_type not in ("max", "avg", "sum"):
        raise ctx.fail(f"pool_type {pool_type!r} is not supported")
    if ctx.flag("global_pool", False):
        reduce = torch.amax if pool_type == "max" else (torch.mean if pool_type == "avg" else torch.sum)
        return Lambda(lambda x: reduce(x, dim=(2, 3), keepdim=True), f"global {pool_type}")
    kernel = ctx.ints("kernel")
    if len(kernel) != 2:
        raise ctx.fail(f"only 2-D pooling is supported, got kernel {kernel}")
    stride, pad = ctx.spatial("stride", 2, 1), ctx.spatial("pad", 2, 0)
    convention = ctx.string("pooling_convention", "valid")
    if convention not in ("valid", "full"):
        raise ctx.fail(f"pooling_convention {convention!r} is not supported")
    full = convention == "full"
    count_include_pad = ctx.flag("count_include_pad", True)

    def pool(x: torch.Tensor) -> torch.Tensor:
        if pool_type == "max":
            y = F.max_pool2d(x, kernel, stride, pad, ceil_mode=full)
        else:
            y = F.avg_pool2d(x, kernel, stride, pad, ceil_mode=full,
                             count_include_pad=count_include_pad)
            if pool_type == "sum":
                y = y * (kernel[0] * kernel[1])
        expected = tuple(_pool_output(s, k, st, p, full) for s, k, st, p in zip(x.shape[2:], kernel, stride, pad))
        if tuple(y.shape[2:]) != expected:
            raise MXNetSymbolError(f"Pooling node {ctx.node.name!r}: output {tuple(y.shape[2:])} "
                                   f"differs from MXNet's {expected} for input {tuple(x.shape)}")
        return y

    return Lambda(pool, f"{pool_type} kernel={kernel} stride={stride} pad={pad} {convention}")


def build_fully_connected(ctx: OpContext) -> nn.Module:
    no_bias, flatten = ctx.flag("no_bias", False), ctx.flag("flatten", True)
    weight = ctx.weight(1)
    linear = nn.Linear(weight.shape[1], weight.shape[0], bias=not no_bias)
    _check_shape(ctx, "weight", weight, (ctx.integer("num_hidden", weight.shape[0]), weight.shape[1]))
    linear.weight.data.copy_(weight)
    if not no_bias:
        linear.bias.data.copy_(ctx.weight(2).reshape(-1))
    linear = _frozen(linear)
    if not flatten:
        return linear
    return nn.Sequential(nn.Flatten(1), linear)


def _softmax_flat(x: torch.Tensor) -> torch.Tensor:
    """Softmax over all non-batch elements, shape preserved (SoftmaxActivation "instance")."""
    return F.softmax(x.reshape(x.shape[0], -1), dim=1).reshape(x.shape)


def build_softmax_activation(ctx: OpContext) -> nn.Module:
    mode = ctx.string("mode", "instance")
    if mode == "channel":
        return Lambda(lambda x: F.softmax(x, dim=1), "softmax channel")
    if mode == "instance":
        return Lambda(_softmax_flat, "softmax instance")
    raise ctx.fail(f"mode {mode!r} is not supported")


def build_softmax(ctx: OpContext) -> nn.Module:
    axis, temperature = ctx.integer("axis", -1), ctx.number("temperature", 1.0)
    log = ctx.node.op == "log_softmax"
    fn = F.log_softmax if log else F.softmax
    return Lambda(lambda x: fn(x / temperature, dim=axis), f"{ctx.node.op} axis={axis} t={temperature}")


def build_softmax_output(ctx: OpContext) -> nn.Module:
    """SoftmaxOutput at inference: a softmax (the label input is ignored)."""
    if ctx.flag("multi_output", False):
        return Lambda(lambda x: F.softmax(x, dim=1), "softmax axis=1")
    if ctx.flag("preserve_shape", False):
        return Lambda(lambda x: F.softmax(x, dim=-1), "softmax axis=-1")
    return Lambda(_softmax_flat, "softmax over flattened")


def build_crop(ctx: OpContext) -> nn.Module:
    """Crop to ``h_w`` or to the spatial shape of the second input, at ``offset`` or centred."""
    offset, h_w, center = ctx.ints("offset", (0, 0)), ctx.ints("h_w", (0, 0)), ctx.flag("center_crop", False)
    name = ctx.node.name

    def crop(x: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
        h, w = like.shape[2:] if like is not None else h_w
        oy, ox = ((x.shape[2] - h) // 2, (x.shape[3] - w) // 2) if center else offset
        if oy < 0 or ox < 0 or oy + h > x.shape[2] or ox + w > x.shape[3]:
            raise MXNetSymbolError(f"Crop node {name!r}: {h}x{w} at ({oy},{ox}) exceeds input {tuple(x.shape)}")
        return x[:, :, oy:oy + h, ox:ox + w]

    return Lambda(crop, f"crop offset={offset} h_w={h_w} center={center}")


def build_upsampling(ctx: OpContext) -> nn.Module:
    scale, sample_type = ctx.integer("scale", 1), ctx.string("sample_type", "nearest")
    if sample_type == "bilinear":
        kernel, pad = 2 * scale - scale % 2, math.ceil((scale - 1) / 2)
        weight = ctx.weight(1)
        channels = ctx.integer("num_filter", weight.shape[0])
        return Lambda(lambda x: F.conv_transpose2d(x, weight.to(x), stride=scale, padding=pad, groups=channels),
                      f"bilinear scale={scale} kernel={kernel}")
    if sample_type != "nearest":
        raise ctx.fail(f"sample_type {sample_type!r} is not supported")
    mode = ctx.string("multi_input_mode", "concat")
    if mode not in ("concat", "sum"):
        raise ctx.fail(f"multi_input_mode {mode!r} is not supported")

    def upsample(*xs: torch.Tensor) -> torch.Tensor:
        size = [s * scale for s in xs[0].shape[2:]]
        ups = [F.interpolate(x, size=size, mode="nearest") for x in xs]
        if len(ups) == 1:
            return ups[0]
        return torch.cat(ups, dim=1) if mode == "concat" else torch.stack(ups).sum(0)

    return Lambda(upsample, f"nearest scale={scale}")


def mx_reshape_shape(in_shape: Sequence[int], spec: Sequence[int], reverse: bool = False) -> tuple[int, ...]:
    """Output shape of MXNet ``Reshape`` with its special codes 0, -1, -2, -3, -4."""
    if reverse:
        if -4 in spec:
            raise MXNetSymbolError("Reshape: reverse=True with -4 is not supported")
        return tuple(reversed(mx_reshape_shape(list(reversed(in_shape)), list(reversed(spec)))))
    out: list[int] = []
    src, infer, i = 0, -1, 0
    while i < len(spec):
        code = spec[i]
        if code > 0:
            out.append(code)
            src += 1
        elif code == 0:
            out.append(in_shape[src])
            src += 1
        elif code == -1:
            if infer >= 0:
                raise MXNetSymbolError(f"Reshape {tuple(spec)}: more than one -1")
            infer = len(out)
            out.append(1)
            src += 1
        elif code == -2:
            out.extend(in_shape[src:])
            src = len(in_shape)
        elif code == -3:
            out.append(in_shape[src] * in_shape[src + 1])
            src += 2
        elif code == -4:
            d0, d1 = spec[i + 1], spec[i + 2]
            dim = in_shape[src]
            d0 = dim // d1 if d0 == -1 else d0
            d1 = dim // d0 if d1 == -1 else d1
            if d0 * d1 != dim:
                raise MXNetSymbolError(f"Reshape {tuple(spec)}: cannot split {dim} into {d0}x{d1}")
            out.extend([d0, d1])
            src += 1
            i += 2
        else:
            raise MXNetSymbolError(f"Reshape {tuple(spec)}: unknown code {code}")
        i += 1
    if infer >= 0:
        out[infer] = math.prod(in_shape) // math.prod(out)
    if math.prod(out) != math.prod(in_shape):
        raise MXNetSymbolError(f"Reshape {tuple(spec)}: {tuple(out)} does not match input {tuple(in_shape)}")
    return tuple(out)


def build_reshape(ctx: OpContext) -> nn.Module:
    if any(ctx.ints("target_shape")):
        raise ctx.fail("the deprecated target_shape attribute is not supported")
    spec, reverse = ctx.ints("shape"), ctx.flag("reverse", False)
    return Lambda(lambda x: x.reshape(mx_reshape_shape(x.shape, spec, reverse)), f"reshape {spec}")


def build_transpose(ctx: OpContext) -> nn.Module:
    axes = ctx.ints("axes")
    return Lambda(lambda x: x.permute(axes or tuple(reversed(range(x.dim())))), f"transpose {axes}")


def build_slice_channel(ctx: OpContext) -> nn.Module:
    num, axis, squeeze = ctx.integer("num_outputs", 1), ctx.integer("axis", 1), ctx.flag("squeeze_axis", False)
    name = ctx.node.name

    def split(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if x.shape[axis] % num:
            raise MXNetSymbolError(f"SliceChannel node {name!r}: axis size {x.shape[axis]} not divisible by {num}")
        parts = torch.split(x, x.shape[axis] // num, dim=axis)
        return tuple(p.squeeze(axis) for p in parts) if squeeze else tuple(parts)

    return Lambda(split, f"split {num} axis={axis} squeeze={squeeze}")


def build_slice_axis(ctx: OpContext) -> nn.Module:
    axis, begin, end = ctx.integer("axis", 0), ctx.integer("begin", 0), ctx.raw("end")
    stop = None if end is None else int(end)

    def slice_axis(x: torch.Tensor) -> torch.Tensor:
        index = [slice(None)] * x.dim()
        index[axis] = slice(begin, stop)
        return x[tuple(index)]

    return Lambda(slice_axis, f"slice_axis {axis} [{begin}:{end}]")


def build_concat(ctx: OpContext) -> nn.Module:
    dim = ctx.integer("dim", 1)
    return Lambda(lambda *xs: torch.cat(xs, dim=dim), f"concat dim={dim}")


def build_l2_normalization(ctx: OpContext) -> nn.Module:
    mode, eps = ctx.string("mode", "instance"), ctx.number("eps", 1e-10)
    if mode == "instance":
        return Lambda(lambda x: x / torch.sqrt((x.reshape(x.shape[0], -1) ** 2).sum(1) + eps).view(
            [-1] + [1] * (x.dim() - 1)), "l2norm instance")
    if mode == "channel":
        return Lambda(lambda x: x / torch.sqrt((x**2).sum(1, keepdim=True) + eps), "l2norm channel")
    raise ctx.fail(f"mode {mode!r} is not supported")


def build_clip(ctx: OpContext) -> nn.Module:
    lo, hi = ctx.number("a_min", -math.inf), ctx.number("a_max", math.inf)
    return Lambda(lambda x: x.clamp(lo, hi), f"clip [{lo}, {hi}]")


def _scalar_op(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> Callable[[OpContext], nn.Module]:
    def build(ctx: OpContext) -> nn.Module:
        scalar = ctx.number("scalar", 0.0)
        return Lambda(lambda x: fn(x, scalar), f"{ctx.node.op} {scalar}")

    return build


def _fixed(fn: Callable, desc: str) -> Callable[[OpContext], nn.Module]:
    return lambda ctx: Lambda(fn, desc)


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _sum_all(*xs: torch.Tensor) -> torch.Tensor:
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    return total


BUILDERS: dict[str, Callable[[OpContext], nn.Module]] = {
    "Convolution": build_convolution,
    "Deconvolution": build_deconvolution,
    "BatchNorm": build_batchnorm,
    "Activation": build_activation,
    "LeakyReLU": build_leaky_relu,
    "Pooling": build_pooling,
    "FullyConnected": build_fully_connected,
    "Flatten": _fixed(lambda x: x.reshape(x.shape[0], -1), "flatten"),
    "SoftmaxActivation": build_softmax_activation,
    "softmax": build_softmax,
    "log_softmax": build_softmax,
    "SoftmaxOutput": build_softmax_output,
    "LinearRegressionOutput": _fixed(_identity, "identity (regression output)"),
    "LogisticRegressionOutput": _fixed(torch.sigmoid, "sigmoid (logistic output)"),
    "Crop": build_crop,
    "UpSampling": build_upsampling,
    "Concat": build_concat,
    "Reshape": build_reshape,
    "transpose": build_transpose,
    "SliceChannel": build_slice_channel,
    "slice_axis": build_slice_axis,
    "L2Normalization": build_l2_normalization,
    "clip": build_clip,
    "_plus_scalar": _scalar_op(lambda x, s: x + s),
    "_minus_scalar": _scalar_op(lambda x, s: x - s),
    "_rminus_scalar": _scalar_op(lambda x, s: s - x),
    "_mul_scalar": _scalar_op(lambda x, s: x * s),
    "_div_scalar": _scalar_op(lambda x, s: x / s),
    "_rdiv_scalar": _scalar_op(lambda x, s: s / x),
    "_power_scalar": _scalar_op(lambda x, s: x**s),
    "add_n": _fixed(_sum_all, "add_n"),
}
for _ops, _fn in (
    (("elemwise_add", "_Plus", "_plus", "_add", "broadcast_add", "broadcast_plus"), torch.add),
    (("elemwise_sub", "_Minus", "_minus", "_sub", "broadcast_sub", "broadcast_minus"), torch.sub),
    (("elemwise_mul", "_Mul", "_mul", "broadcast_mul"), torch.mul),
    (("elemwise_div", "_Div", "_div", "broadcast_div"), torch.div),
    (("Dropout", "identity", "_copy", "BlockGrad", "stop_gradient"), _identity),
):
    for _op in _ops:
        BUILDERS[_op] = _fixed(_fn, _op)
BUILDERS["ElementWiseSum"] = BUILDERS["add_n"]
BUILDERS["split"] = BUILDERS["SliceChannel"]
BUILDERS["concat"] = BUILDERS["Concat"]

# number of leading data inputs for ops whose other inputs are stored weights or labels (others: all inputs are data)
DATA_INPUTS = {
    "Convolution": 1, "Deconvolution": 1, "BatchNorm": 1, "LeakyReLU": 1, "FullyConnected": 1,
    "SoftmaxOutput": 1, "LinearRegressionOutput": 1, "LogisticRegressionOutput": 1,
}


def data_input_count(node: Node) -> int:
    """How many of ``node``'s inputs are data (the rest are weights read at build time, or labels)."""
    if node.op == "UpSampling" and node.attrs.get("sample_type") == "bilinear":
        return 1
    return DATA_INPUTS.get(node.op, len(node.inputs))


# ------------------------------------------------------------------------------------------------------------ graph
class MXNetModel(nn.Module):
    """A symbol graph as a torch module. ``forward(*inputs)`` takes the graph inputs in ``input_names`` order."""

    def __init__(self, graph: SymbolGraph, params: dict[str, np.ndarray], outputs: Sequence[Ref]):
        super().__init__()
        self.output_refs = list(outputs)
        needed = _needed_nodes(graph, self.output_refs)
        self.layers = nn.ModuleDict()
        self.plan: list[tuple[int, str, list[Ref]]] = []
        self.input_ids: list[int] = []
        for node in (graph.nodes[i] for i in sorted(needed)):
            if node.op == "null":
                stored = stored_key(node.name, params)
                if stored is None:
                    self.input_ids.append(node.id)
                    continue
                key, module = f"n{node.id}", Constant(torch.from_numpy(np.array(params[stored], dtype=np.float32)))
            else:
                if node.op not in BUILDERS:
                    raise MXNetSymbolError(f"unsupported op {node.op!r} at node {node.name!r}")
                key, module = f"n{node.id}", BUILDERS[node.op](OpContext(node, graph, params))
            self.layers[key] = module
            self.plan.append((node.id, key, node.inputs[: data_input_count(node)] if node.op != "null" else []))
        self.input_names = [graph.nodes[i].name for i in self.input_ids]
        self._last_use = _last_uses(self.plan, self.output_refs)
        self.register_buffer("_dtype_probe", torch.zeros(0), persistent=False)

    def forward(self, *inputs: torch.Tensor):
        if len(inputs) != len(self.input_ids):
            raise ValueError(f"expected {len(self.input_ids)} inputs {self.input_names}, got {len(inputs)}")
        dtype = self._dtype_probe.dtype
        values: dict[Ref, torch.Tensor] = {(i, 0): x.to(dtype) for i, x in zip(self.input_ids, inputs)}
        for step, (node_id, key, refs) in enumerate(self.plan):
            out = self.layers[key](*[values[r] for r in refs])
            for k, value in enumerate(out if isinstance(out, tuple) else (out,)):
                values[(node_id, k)] = value
            for ref in self._last_use.get(step, ()):
                values.pop(ref, None)
        outs = tuple(values[r] for r in self.output_refs)
        return outs[0] if len(outs) == 1 else outs


def _needed_nodes(graph: SymbolGraph, outputs: Sequence[Ref]) -> set[int]:
    """Node ids reachable backwards from ``outputs`` through data inputs."""
    needed: set[int] = set()
    stack = [nid for nid, _ in outputs]
    while stack:
        nid = stack.pop()
        if nid in needed:
            continue
        needed.add(nid)
        node = graph.nodes[nid]
        stack.extend(src for src, _ in node.inputs[: data_input_count(node)])
    return needed


def _last_uses(plan: list[tuple[int, str, list[Ref]]], outputs: Sequence[Ref]) -> dict[int, list[Ref]]:
    """For each step, the values no later step (nor the output) needs: freed to save memory."""
    last: dict[Ref, int] = {}
    for step, (_, _, refs) in enumerate(plan):
        for ref in refs:
            last[ref] = step
    keep = set(outputs)
    freed: dict[int, list[Ref]] = {}
    for ref, step in last.items():
        if ref not in keep:
            freed.setdefault(step, []).append(ref)
    return freed


def resolve_output(graph: SymbolGraph, name: str) -> Ref:
    """``fc1_output`` / ``slice_output1`` / ``fc1`` -> (node_id, out_idx), as MXNet's ``get_internals()`` names."""
    if name in graph.by_name:
        return graph.by_name[name], 0
    match = re.fullmatch(r"(.+)_output(\d*)", name)
    if match and match.group(1) in graph.by_name:
        return graph.by_name[match.group(1)], int(match.group(2) or 0)
    raise MXNetSymbolError(f"no node named {name!r} in the symbol graph")


def checkpoint_paths(prefix: str | os.PathLike, epoch: int) -> tuple[Path, Path]:
    """``(<prefix>-symbol.json, <prefix>-<epoch:04d>.params)`` as MXNet's ``load_checkpoint`` names them."""
    return Path(f"{prefix}-symbol.json"), Path(f"{prefix}-{int(epoch):04d}.params")


def build_mxnet_model(
    symbol_json: str | os.PathLike | dict,
    params_path: str | os.PathLike | dict[str, np.ndarray],
    outputs: Sequence[str] | str | None = None,
    device: str | torch.device = "cpu",
    half: bool = False,
) -> MXNetModel:
    """Build an inference module from a symbol graph and its ``.params`` (path or ``load_params`` dict).

    ``outputs`` selects internal layers by name (``fc1_output``), default the graph heads. ``half`` converts the
    weights to float16 (for CUDA); inputs are cast to the module's dtype.
    """
    graph = parse_symbol(symbol_json)
    params = params_path if isinstance(params_path, dict) else load_params(params_path)
    names = [outputs] if isinstance(outputs, str) else outputs
    refs = graph.heads if names is None else [resolve_output(graph, n) for n in names]
    model = MXNetModel(graph, params, refs).to(device).eval()
    return model.half() if half else model


def parse_checkpoint_arg(weights: str, epoch: int | None = None) -> tuple[Path, Path]:
    """(symbol.json, .params) paths from ``PREFIX,EPOCH`` (insightface style), ``PREFIX-NNNN.params``, or a
    ``PREFIX`` plus ``epoch``."""
    prefix, sep, tail = weights.rpartition(",")
    params_name = re.fullmatch(r"(.+)-(\d{4})\.params", weights)
    if sep and tail.strip().isdigit():
        found = int(tail)
    elif params_name:
        prefix, found = params_name.group(1), int(params_name.group(2))
    else:
        prefix, found = weights, None
    if found is not None and epoch is not None and found != int(epoch):
        raise ValueError(f"MXNet weights {weights!r} name epoch {found} but epoch={epoch} was given")
    epoch = found if found is not None else epoch
    if epoch is None:
        raise ValueError(f"MXNet weights {weights!r}: give PREFIX,EPOCH, PREFIX-NNNN.params or the epoch option")
    symbol, params = checkpoint_paths(prefix, epoch)
    for path in (symbol, params):
        if not path.is_file():
            raise FileNotFoundError(f"MXNet checkpoint file not found: {path} (from weights {weights!r})")
    return symbol, params
