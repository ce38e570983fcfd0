"""Run an ONNX graph with torch ops: ``OnnxModule(path)`` is an ``nn.Module`` (no onnxruntime in the hot path).

The model is parsed with the ``onnx`` package (protobuf, nothing executed). Float initializers and float
``Constant`` outputs become buffers (they follow ``.to(device, dtype)``, so ``.half()`` gives fp16 on CUDA); integer
ones stay CPU tensors, as do the values of shape arithmetic (``Shape`` -> ``Gather`` -> ``Concat`` -> ``Reshape``),
so dynamic shapes cost no device round trip. ``forward(*inputs)`` evaluates the nodes in graph order and returns
the graph outputs in order (a tuple). Operator semantics follow the ONNX spec for the model's opset; an operator
or attribute combination not implemented raises ``NotImplementedError`` naming the node, at load time where
possible. Covered: the ops of SCRFD, YuNet and insightface ArcFace recognizers (see ``OPS``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .onnx_graph import OnnxNode

TORCH_DTYPES = {1: torch.float32, 2: torch.uint8, 3: torch.int8, 5: torch.int16, 6: torch.int32, 7: torch.int64,
                9: torch.bool, 10: torch.float16, 11: torch.float64, 16: torch.bfloat16}


def _attr_value(attr) -> object:
    """A decoded node attribute: tensors as numpy arrays, strings as ``str``."""
    import onnx
    from onnx import numpy_helper

    value = onnx.helper.get_attribute_value(attr)
    if isinstance(value, onnx.TensorProto):
        return numpy_helper.to_array(value)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return [v.decode() for v in value]
    return value


def _load_model(source: str | Path | bytes):
    """The ``onnx.ModelProto`` of a file path or serialized bytes (ValueError naming the file if unreadable)."""
    import onnx

    try:
        if isinstance(source, (bytes, bytearray)):
            return onnx.load_from_string(bytes(source))
        return onnx.load(str(source))
    except Exception as err:  # protobuf DecodeError and friends
        name = "<bytes>" if isinstance(source, (bytes, bytearray)) else source
        raise ValueError(f"{name}: not a readable ONNX model: {err}") from err


class Ctx:
    """What an op needs besides its inputs: the node, the opset and the module's float dtype."""

    def __init__(self, node: OnnxNode, opset: int, float_dtype: torch.dtype):
        self.node, self.opset, self.float_dtype = node, opset, float_dtype

    def attr(self, name: str, default=None):
        return self.node.attrs.get(name, default)

    def unsupported(self, what: str) -> NotImplementedError:
        return NotImplementedError(f"ONNX {self.node.op_type} node {self.node.name!r}: {what} is not supported")


# ----------------------------------------------------------------------------------------------------------------
# helpers

def _ints(t: torch.Tensor | None) -> list[int] | None:
    """A small int tensor (shape arithmetic) as a Python list."""
    return None if t is None else [int(v) for v in t.reshape(-1).tolist()]


def _align(*xs: torch.Tensor) -> list[torch.Tensor]:
    """Operands moved to the device (and float dtype) of the first one that is off the CPU, if any."""
    ref = next((x for x in xs if x.device.type != "cpu"), None)
    if ref is None:
        return list(xs)
    out = []
    for x in xs:
        if x.device != ref.device:
            x = x.to(ref.device, ref.dtype if x.is_floating_point() and ref.is_floating_point() else x.dtype)
        out.append(x)
    return out


def _spatial_pads(ctx: Ctx, x: torch.Tensor, kernel: list[int], strides: list[int],
                  dilations: list[int]) -> list[tuple[int, int]]:
    """(begin, end) padding per spatial axis from ``pads`` / ``auto_pad``."""
    n = len(kernel)
    auto = ctx.attr("auto_pad", "NOTSET")
    if auto in ("NOTSET", "VALID"):
        pads = ctx.attr("pads", [0] * 2 * n) if auto == "NOTSET" else [0] * 2 * n
        return [(pads[i], pads[i + n]) for i in range(n)]
    if auto not in ("SAME_UPPER", "SAME_LOWER"):
        raise ctx.unsupported(f"auto_pad={auto}")
    result = []
    for size, k, s, d in zip(x.shape[2:], kernel, strides, dilations):
        total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
        small, big = total // 2, total - total // 2
        result.append((small, big) if auto == "SAME_UPPER" else (big, small))
    return result


def _pad_spatial(x: torch.Tensor, pads: list[tuple[int, int]], value: float) -> torch.Tensor:
    """Pad the trailing spatial axes explicitly (F.pad wants the last axis first)."""
    flat = [p for begin_end in reversed(pads) for p in begin_end]
    return F.pad(x, flat, value=value) if any(flat) else x


def _symmetric(pads: list[tuple[int, int]]) -> bool:
    return all(b == e for b, e in pads)


# ----------------------------------------------------------------------------------------------------------------
# operators: f(ctx, *inputs) -> tensor or tuple of tensors (missing optional inputs are None)

def op_conv(ctx: Ctx, x, w, b=None):
    n = x.dim() - 2
    strides = ctx.attr("strides", [1] * n)
    dilations = ctx.attr("dilations", [1] * n)
    pads = _spatial_pads(ctx, x, list(w.shape[2:]), strides, dilations)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[n]
    padding = [p[0] for p in pads] if _symmetric(pads) else 0
    if not _symmetric(pads):
        x = _pad_spatial(x, pads, 0.0)
    return conv(x, w, b, strides, padding, dilations, ctx.attr("group", 1))


def _pool(ctx: Ctx, x, kind: str):
    n = x.dim() - 2
    kernel = ctx.attr("kernel_shape")
    strides = ctx.attr("strides", [1] * n)
    dilations = ctx.attr("dilations", [1] * n)
    pads = _spatial_pads(ctx, x, kernel, strides, dilations)
    ceil_mode = bool(ctx.attr("ceil_mode", 0))
    if kind == "max":
        padding = [p[0] for p in pads] if _symmetric(pads) else 0
        if not _symmetric(pads):
            x = _pad_spatial(x, pads, -math.inf)
        pool = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[n]
        return pool(x, kernel, strides, padding, dilations, ceil_mode)
    if any(d != 1 for d in dilations):
        raise ctx.unsupported("dilated AveragePool")
    include = bool(ctx.attr("count_include_pad", 0))
    if not _symmetric(pads):
        if not include:
            raise ctx.unsupported("asymmetric pads with count_include_pad=0")
        x, pads = _pad_spatial(x, pads, 0.0), [(0, 0)] * n
    pool = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[n]
    return pool(x, kernel, strides, [p[0] for p in pads], ceil_mode, include)


def op_maxpool(ctx: Ctx, x):
    if len(ctx.node.outputs) > 1 and ctx.node.outputs[1]:
        raise ctx.unsupported("the Indices output")
    return _pool(ctx, x, "max")


def op_avgpool(ctx: Ctx, x):
    return _pool(ctx, x, "avg")


def op_global_avgpool(ctx: Ctx, x):
    return x.mean(dim=tuple(range(2, x.dim())), keepdim=True)


def op_global_maxpool(ctx: Ctx, x):
    return x.amax(dim=tuple(range(2, x.dim())), keepdim=True)


def op_batchnorm(ctx: Ctx, x, scale, bias, mean, var):
    if ctx.attr("training_mode", 0):
        raise ctx.unsupported("training_mode=1")
    return F.batch_norm(x, mean, var, scale, bias, training=False, eps=ctx.attr("epsilon", 1e-5))


def op_prelu(ctx: Ctx, x, slope):
    x, slope = _align(x, slope)
    return torch.where(x >= 0, x, x * slope)


def op_leaky_relu(ctx: Ctx, x):
    return F.leaky_relu(x, ctx.attr("alpha", 0.01))


def op_clip(ctx: Ctx, x, low=None, high=None):
    if ctx.opset < 11:
        low, high = ctx.attr("min"), ctx.attr("max")
    low = low.item() if isinstance(low, torch.Tensor) else low
    high = high.item() if isinstance(high, torch.Tensor) else high
    return x.clamp(low, high)


def op_softmax(ctx: Ctx, x):
    axis = ctx.attr("axis", -1 if ctx.opset >= 13 else 1) % x.dim()
    if ctx.opset >= 13 or axis == x.dim() - 1:
        return torch.softmax(x, dim=axis)
    return torch.softmax(x.reshape(math.prod(x.shape[:axis]), -1), dim=1).reshape(x.shape)  # old 2-D coercion


def _binary(fn: Callable) -> Callable:
    def op(ctx: Ctx, a, b):
        return fn(*_align(a, b))
    return op


def _div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """ONNX Div: integer division truncates."""
    if a.is_floating_point() or b.is_floating_point():
        return a / b
    return torch.div(a, b, rounding_mode="trunc")


def op_sum(ctx: Ctx, *xs):
    xs = _align(*xs)
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


def op_gemm(ctx: Ctx, a, b, c=None):
    a = a.transpose(0, 1) if ctx.attr("transA", 0) else a
    b = b.transpose(0, 1) if ctx.attr("transB", 0) else b
    y = ctx.attr("alpha", 1.0) * (a @ b)
    return y if c is None else y + ctx.attr("beta", 1.0) * c


def op_matmul(ctx: Ctx, a, b):
    return torch.matmul(*_align(a, b))


def op_concat(ctx: Ctx, *xs):
    return torch.cat(_align(*xs), dim=ctx.attr("axis"))


def op_reshape(ctx: Ctx, x, shape=None):
    shape = _ints(shape) if ctx.opset >= 5 else list(ctx.attr("shape"))
    if not ctx.attr("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def op_flatten(ctx: Ctx, x):
    axis = ctx.attr("axis", 1)
    axis = axis + x.dim() if axis < 0 else axis
    return x.reshape(math.prod(x.shape[:axis]), -1)


def op_transpose(ctx: Ctx, x):
    return x.permute(ctx.attr("perm", list(range(x.dim() - 1, -1, -1))))


def _axes(ctx: Ctx, axes_input) -> list[int] | None:
    return _ints(axes_input) if axes_input is not None else ctx.attr("axes")


def op_unsqueeze(ctx: Ctx, x, axes=None):
    axes = _axes(ctx, axes)
    rank = x.dim() + len(axes)
    for axis in sorted(a % rank for a in axes):
        x = x.unsqueeze(axis)
    return x


def op_squeeze(ctx: Ctx, x, axes=None):
    axes = _axes(ctx, axes)
    if axes is None:
        return x.squeeze()
    return x.squeeze(tuple(a % x.dim() for a in axes))


def op_shape(ctx: Ctx, x):
    dims = list(x.shape)[ctx.attr("start", 0):ctx.attr("end", None)]
    return torch.tensor(dims, dtype=torch.int64)


def op_gather(ctx: Ctx, x, index):
    axis = ctx.attr("axis", 0) % x.dim()
    index = index.to(x.device).long()
    index = torch.where(index < 0, index + x.shape[axis], index)
    out = x.index_select(axis, index.reshape(-1))
    return out.reshape(x.shape[:axis] + index.shape + x.shape[axis + 1:])


def op_slice(ctx: Ctx, x, starts=None, ends=None, axes=None, steps=None):
    if ctx.opset < 10:
        starts, ends, axes, steps = ctx.attr("starts"), ctx.attr("ends"), ctx.attr("axes"), None
    else:
        starts, ends, axes, steps = _ints(starts), _ints(ends), _ints(axes), _ints(steps)
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis %= x.dim()
        begin, stop, step = slice(start, end, step).indices(x.shape[axis])  # same clamping as the ONNX spec
        if step > 0:
            index = [slice(None)] * axis + [slice(begin, stop, step)]
            x = x[tuple(index)]
        else:
            x = x.index_select(axis, torch.arange(begin, stop, step, device=x.device))
    return x


def op_split(ctx: Ctx, x, split=None):
    axis = ctx.attr("axis", 0) % x.dim()
    sizes = _ints(split) if split is not None else ctx.attr("split")
    if sizes is None:
        parts = len(ctx.node.outputs)
        sizes = [-(-x.shape[axis] // parts)] * parts
        sizes[-1] = x.shape[axis] - sum(sizes[:-1])
    return tuple(torch.split(x, sizes, dim=axis))


def op_pad(ctx: Ctx, x, pads=None, value=None, axes=None):
    if ctx.opset < 11:
        pads, value = list(ctx.attr("pads")), ctx.attr("value", 0.0)
    else:
        pads, value = _ints(pads), (0.0 if value is None else value.item())
    axes = list(range(x.dim())) if axes is None else [a % x.dim() for a in _ints(axes)]
    n = len(axes)
    per_axis = {axis: (pads[i], pads[i + n]) for i, axis in enumerate(axes)}
    mode = ctx.attr("mode", "constant")
    modes = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}
    if mode not in modes:
        raise ctx.unsupported(f"mode={mode}")
    first = min((a for a, p in per_axis.items() if any(p)), default=x.dim())
    if mode != "constant" and first < 2:
        raise ctx.unsupported(f"{mode} padding of batch or channel axes")
    flat = [p for axis in range(x.dim() - 1, first - 1, -1) for p in per_axis.get(axis, (0, 0))]
    if any(p < 0 for p in flat):
        raise ctx.unsupported("negative pads")
    return F.pad(x, flat, mode=modes[mode], value=value if mode == "constant" else None)


def op_cast(ctx: Ctx, x):
    dtype = TORCH_DTYPES.get(ctx.attr("to"))
    if dtype is None:
        raise ctx.unsupported(f"cast to ONNX type {ctx.attr('to')}")
    if dtype.is_floating_point and x.device.type != "cpu":
        dtype = ctx.float_dtype  # data path: keep the module's precision (fp16 only ever runs on CUDA)
    return x.to(dtype)


def _resize_scales_and_size(ctx: Ctx, x, scales, sizes) -> tuple[list[float] | None, list[int] | None]:
    """Spatial scales or output size of Resize / Upsample (batch and channel must stay)."""
    if ctx.node.op_type == "Upsample" and ctx.opset < 9:
        scales = torch.tensor(ctx.attr("scales"))
    if sizes is not None and sizes.numel():
        sizes = _ints(sizes)
        if sizes[:2] != list(x.shape[:2]):
            raise ctx.unsupported("resizing the batch or channel axes")
        return None, sizes[2:]
    scales = [float(s) for s in scales.reshape(-1).tolist()]
    if scales[:2] != [1.0, 1.0]:
        raise ctx.unsupported("resizing the batch or channel axes")
    return scales[2:], None


def op_resize(ctx: Ctx, x, *args):
    if ctx.node.op_type == "Upsample" or ctx.opset < 11:
        scales, sizes, transform, nearest = (args[0] if args else None), None, "asymmetric", "floor"
    else:
        scales, sizes = (args[1] if len(args) > 1 else None), (args[2] if len(args) > 2 else None)
        transform = ctx.attr("coordinate_transformation_mode", "half_pixel")
        nearest = ctx.attr("nearest_mode", "round_prefer_floor")
    scales, size = _resize_scales_and_size(ctx, x, scales, sizes)
    mode = ctx.attr("mode", "nearest")
    kwargs = {"size": size} if size is not None else {"scale_factor": scales, "recompute_scale_factor": False}
    if mode == "nearest":
        if transform == "asymmetric" and nearest == "floor":
            return F.interpolate(x, mode="nearest", **kwargs)
        if transform in ("half_pixel", "pytorch_half_pixel") and nearest == "round_prefer_ceil":
            return F.interpolate(x, mode="nearest-exact", **kwargs)
    elif mode in ("linear", "bilinear") and x.dim() == 4:
        if transform in ("half_pixel", "pytorch_half_pixel", "align_corners"):
            return F.interpolate(x, mode="bilinear", align_corners=transform == "align_corners", **kwargs)
    raise ctx.unsupported(f"mode={mode} with coordinate_transformation_mode={transform}, nearest_mode={nearest}")


def op_identity(ctx: Ctx, x, *_):
    return x


def _unary(fn: Callable) -> Callable:
    def op(ctx: Ctx, x):
        return fn(x)
    return op


OPS: dict[str, Callable] = {
    "Conv": op_conv, "BatchNormalization": op_batchnorm,
    "MaxPool": op_maxpool, "AveragePool": op_avgpool,
    "GlobalAveragePool": op_global_avgpool, "GlobalMaxPool": op_global_maxpool,
    "Relu": _unary(F.relu), "Sigmoid": _unary(torch.sigmoid), "Tanh": _unary(torch.tanh),
    "Exp": _unary(torch.exp), "Sqrt": _unary(torch.sqrt), "Neg": _unary(torch.neg),
    "PRelu": op_prelu, "LeakyRelu": op_leaky_relu, "Clip": op_clip, "Softmax": op_softmax,
    "Add": _binary(torch.add), "Sub": _binary(torch.sub), "Mul": _binary(torch.mul), "Div": _binary(_div),
    "Sum": op_sum, "Gemm": op_gemm, "MatMul": op_matmul,
    "Concat": op_concat, "Reshape": op_reshape, "Flatten": op_flatten, "Transpose": op_transpose,
    "Unsqueeze": op_unsqueeze, "Squeeze": op_squeeze, "Shape": op_shape, "Gather": op_gather,
    "Slice": op_slice, "Split": op_split, "Pad": op_pad, "Cast": op_cast,
    "Resize": op_resize, "Upsample": op_resize, "Identity": op_identity, "Dropout": op_identity,
}


# ----------------------------------------------------------------------------------------------------------------

def _constant_value(node: OnnxNode) -> np.ndarray:
    """The value of a ``Constant`` node."""
    for key, dtype in (("value", None), ("value_float", np.float32), ("value_floats", np.float32),
                       ("value_int", np.int64), ("value_ints", np.int64)):
        if key in node.attrs:
            return np.asarray(node.attrs[key], dtype=dtype)
    raise NotImplementedError(f"ONNX Constant node {node.name!r}: attributes {sorted(node.attrs)} not supported")


class OnnxModule(nn.Module):
    """An ONNX model evaluated with torch ops; ``forward(*inputs)`` returns the graph outputs (tuple)."""

    def __init__(self, source: str | Path | bytes):
        super().__init__()
        model = _load_model(source)
        self.source = "<bytes>" if isinstance(source, (bytes, bytearray)) else str(source)
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
        graph = model.graph
        self._buffer_of: dict[str, str] = {}  # ONNX tensor name -> buffer attribute
        self._consts: dict[str, torch.Tensor] = {}  # non-float constants (CPU)
        from onnx import numpy_helper

        for tensor in graph.initializer:
            self._add_constant(tensor.name, numpy_helper.to_array(tensor))
        self.nodes: list[OnnxNode] = []
        for index, n in enumerate(graph.node):
            node = OnnxNode(n.op_type, n.name or f"{n.op_type}_{index}", tuple(n.input), tuple(n.output),
                            {a.name: _attr_value(a) for a in n.attribute})
            if n.domain not in ("", "ai.onnx"):
                raise NotImplementedError(f"{self.source}: node {node.name!r} uses operator domain {n.domain!r}")
            if node.op_type == "Constant":
                self._add_constant(node.outputs[0], _constant_value(node))
                continue
            if node.op_type not in OPS:
                raise NotImplementedError(
                    f"{self.source}: ONNX op {node.op_type!r} (node {node.name!r}) is not supported")
            self.nodes.append(node)
        known = set(self._buffer_of) | set(self._consts)
        self.input_names = [i.name for i in graph.input if i.name not in known]
        self.output_names = [o.name for o in graph.output]

    def _add_constant(self, name: str, value: np.ndarray) -> None:
        tensor = torch.from_numpy(np.array(value))
        if tensor.is_floating_point():
            key = f"c{len(self._buffer_of)}"
            self.register_buffer(key, tensor.float())
            self._buffer_of[name] = key
        else:
            self._consts[name] = tensor

    @property
    def float_dtype(self) -> torch.dtype:
        """The dtype of the float weights (float32, or float16 after ``.half()``)."""
        return next((b.dtype for b in self.buffers() if b.is_floating_point()), torch.float32)

    @property
    def device(self) -> torch.device:
        return next((b.device for b in self.buffers()), torch.device("cpu"))

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if len(inputs) != len(self.input_names):
            raise ValueError(f"{self.source}: expected {len(self.input_names)} inputs {self.input_names}, "
                             f"got {len(inputs)}")
        dtype, device = self.float_dtype, self.device
        env: dict[str, torch.Tensor | None] = {"": None}
        env.update(self._consts)
        env.update({name: getattr(self, key) for name, key in self._buffer_of.items()})
        for name, x in zip(self.input_names, inputs):
            env[name] = x.to(device, dtype) if x.is_floating_point() else x.to(device)
        for node in self.nodes:
            args = [env[name] for name in node.inputs]
            try:
                out = OPS[node.op_type](Ctx(node, self.opset, dtype), *args)
            except NotImplementedError:
                raise
            except Exception as err:
                raise RuntimeError(f"{self.source}: ONNX {node.op_type} node {node.name!r} failed: {err}") from err
            outs = out if isinstance(out, tuple) else (out,)
            env.update(zip(node.outputs, outs))
        return tuple(env[name] for name in self.output_names)


def onnx_to_torch(source: str | Path | bytes, device: str | torch.device = "cpu", fp16: bool = False) -> OnnxModule:
    """An :class:`OnnxModule` in eval mode on ``device`` (fp16 weights only on CUDA)."""
    module = OnnxModule(source).eval().to(device)
    if fp16 and torch.device(device).type == "cuda":
        module = module.half()
    return module
