"""MXNet ``.params`` reader: real fixtures (legacy and V2 layouts) and synthetic V1/V3 files with every dtype."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from conftest import shared_path

from hyp_face.formats.mxnet_params import (
    ARRAY_MAGIC_V1,
    ARRAY_MAGIC_V2,
    ARRAY_MAGIC_V3,
    MXNetParamsError,
    load_params,
    read_ndarray_list,
    split_arg_aux,
)

CODES = {np.float32: 0, np.float64: 1, np.float16: 2, np.uint8: 3, np.int32: 4, np.int8: 5, np.int64: 6}


def _record(array: np.ndarray, layout: str) -> bytes:
    """One array record in the given layout (independent writer, following spec/mxnet-params.md)."""
    shape = array.shape
    if layout == "legacy":
        head = struct.pack(f"<I{len(shape)}I", len(shape), *shape)
    elif layout == "v1":
        head = struct.pack(f"<II{len(shape)}q", ARRAY_MAGIC_V1, len(shape), *shape)
    else:
        magic = ARRAY_MAGIC_V2 if layout == "v2" else ARRAY_MAGIC_V3
        head = struct.pack(f"<IiI{len(shape)}q", magic, 0, len(shape), *shape)
    return head + struct.pack("<iii", 1, 0, CODES[array.dtype.type]) + array.astype(array.dtype.newbyteorder("<")).tobytes()


def _write(path, arrays: dict[str, np.ndarray], layout: str) -> None:
    blob = struct.pack("<QQQ", 0x112, 0, len(arrays)) + b"".join(_record(a, layout) for a in arrays.values())
    blob += struct.pack("<Q", len(arrays))
    for name in arrays:
        blob += struct.pack("<Q", len(name.encode())) + name.encode()
    path.write_bytes(blob)


@pytest.mark.parametrize("layout", ["legacy", "v1", "v2", "v3"])
def test_every_layout_and_dtype_round_trips(tmp_path, layout):
    rng = np.random.default_rng(0)
    arrays = {f"arg:w_{t.__name__}": (rng.standard_normal((2, 3, 4)) * 50).astype(t) for t in CODES}
    arrays["aux:bn_moving_var"] = rng.random(7).astype(np.float32)
    path = tmp_path / f"m-{layout}.params"
    _write(path, arrays, layout)
    got = load_params(path)
    assert list(got) == list(arrays)
    for name, ref in arrays.items():
        assert got[name].dtype == ref.dtype and got[name].shape == ref.shape
        np.testing.assert_array_equal(got[name], ref)


def test_split_arg_aux_strips_prefixes():
    args, aux = split_arg_aux({"arg:w": np.zeros(1), "aux:m": np.ones(1)})
    assert list(args) == ["w"] and list(aux) == ["m"]
    with pytest.raises(ValueError, match="prefix"):
        split_arg_aux({"w": np.zeros(1)})


def test_mtcnn_legacy_layout():
    params = load_params(shared_path("weights", "mxnet_insightface_fixtures", "mtcnn-det1-0001.params"))
    shapes = {k: v.shape for k, v in params.items()}
    assert shapes == {
        "arg:conv1_weight": (10, 3, 3, 3), "arg:conv1_bias": (10,), "arg:prelu1_gamma": (10,),
        "arg:conv2_weight": (16, 10, 3, 3), "arg:conv2_bias": (16,), "arg:prelu2_gamma": (16,),
        "arg:conv3_weight": (32, 16, 3, 3), "arg:conv3_bias": (32,), "arg:prelu3_gamma": (32,),
        "arg:conv4_1_weight": (2, 32, 1, 1), "arg:conv4_1_bias": (2,),
        "arg:conv4_2_weight": (4, 32, 1, 1), "arg:conv4_2_bias": (4,),
    }
    assert {v.dtype for v in params.values()} == {np.dtype(np.float32)}
    assert all(np.isfinite(v).all() for v in params.values())
    for det, count in (("det2", 16), ("det3", 21), ("det4", 73)):
        assert len(load_params(shared_path("weights", "mxnet_insightface_fixtures", f"mtcnn-{det}-0001.params"))) == count


def test_genderage_v2_layout():
    params = load_params(shared_path("weights", "mxnet_insightface_fixtures", "genderage-model-0000.params"))
    assert len(params) == 146
    assert sum(v.size for v in params.values()) == 272_546
    assert params["arg:conv_1_conv2d_weight"].shape == (8, 3, 3, 3)
    assert params["aux:bn1_moving_mean"].dtype == np.float32
    assert params["arg:pre_fc1_weight"].shape == (202, 256)


def test_mobilefacenet_v2_layout():
    params = load_params(shared_path("weights", "mxnet_mobilefacenet_128d", "model_mobilefacenet-0200.params"))
    assert len(params) == 284
    assert sum(v.size for v in params.values()) == 1_022_848
    assert params["arg:pre_fc1_weight"].shape == (128, 512)
    assert params["arg:fc1_gamma"].shape == (128,)
    assert params["aux:fc1_moving_var"].shape == (128,)
    assert all(k.startswith(("arg:", "aux:")) for k in params)
    assert any(k.endswith("_relu_gamma") for k in params)


def test_truncated_file_names_file_and_offset(tmp_path):
    src = shared_path("weights", "mxnet_insightface_fixtures", "mtcnn-det1-0001.params")
    data = src.read_bytes()
    bad = tmp_path / "cut.params"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(MXNetParamsError, match=r"cut\.params: byte \d+: truncated"):
        load_params(bad)


def test_trailing_bytes_rejected(tmp_path):
    src = shared_path("weights", "mxnet_insightface_fixtures", "mtcnn-det1-0001.params")
    bad = tmp_path / "long.params"
    bad.write_bytes(src.read_bytes() + b"\0\0\0\0")
    with pytest.raises(MXNetParamsError, match=r"long\.params: byte 27190: parse ended 4 bytes before end"):
        read_ndarray_list(bad)


def test_not_a_params_file(tmp_path):
    bad = tmp_path / "x.params"
    bad.write_bytes(b"PK\x03\x04" + b"\0" * 20)
    with pytest.raises(MXNetParamsError, match="not an MXNet NDArray list"):
        load_params(bad)
