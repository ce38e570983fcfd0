"""dlib model files: locate those of the PyPI package ``face_recognition_models`` (CC0); read dlib's DNN format.

The package's ``__init__`` imports ``pkg_resources`` (absent from recent setuptools), so it is located with
``importlib.util.find_spec`` without being imported.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DLIB_RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
DLIB_SHAPE_PREDICTOR_5 = "shape_predictor_5_face_landmarks.dat"


def face_recognition_models_dir() -> Path:
    """The ``models`` folder of the installed ``face_recognition_models`` package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("python package face_recognition_models is not installed (pip install face_recognition_models)")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def dlib_model_path(filename: str) -> Path:
    """Full path of one of the package's model files; a clear error if it is missing."""
    path = face_recognition_models_dir() / filename
    if not path.is_file():
        raise FileNotFoundError(f"dlib model file not found: {path}")
    return path


# ------------------------------------------------------------------------------------------------------------------
# Reader of dlib DNN files (``dlib::serialize`` of a ``loss_metric`` ResNet), so the network can run in torch.
#
# Format facts used (checked on dlib_face_recognition_resnet_model_v1.dat): integers are dlib's packed ints (a
# header byte = byte count | 0x80 if negative, then little-endian bytes); strings are a packed length + bytes;
# floats outside tensors are a packed int64 mantissa and int16 exponent (value = m * 2**e); tensors are a packed
# version (2), four packed dims and raw little-endian float32 data. Layers are written from the input upwards.
# Only the layers with parameters are decoded field by field (``con_4``: params tensor = filters (n,k,r,c) then
# biases, followed by num_filters, nr, nc, stride_y, stride_x, padding_y, padding_x; ``affine_``: params = gamma then
# beta; ``fc_2``: num_outputs, num_inputs, then params (num_inputs, num_outputs)); the search for the next layer
# name never enters tensor data, because each tensor is skipped by its exact length.


@dataclass
class DlibConv:
    weight: np.ndarray  # (out, in, kh, kw) float32
    bias: np.ndarray | None
    stride: int
    padding: int


@dataclass
class DlibMetricNet:
    """Parameters of a dlib metric-learning ResNet, in forward order."""

    input_mean: np.ndarray  # (3,) RGB means subtracted before dividing by 256
    input_size: int
    convs: list[DlibConv]
    affines: list[tuple[np.ndarray, np.ndarray]]  # (gamma, beta) after each conv
    fc: np.ndarray  # (num_inputs, num_outputs)


_LAYER_NAME = re.compile(rb"\x01([\x03-\x20])((?:con_|affine_|fc_|input_rgb_image)[a-z_0-9]*)")


class _DlibStream:
    """Cursor over the bytes of a dlib serialized file; errors name the file and byte offset."""

    def __init__(self, path: Path):
        self.path = path
        self.data = path.read_bytes()
        self.pos = 0

    def fail(self, msg: str) -> ValueError:
        return ValueError(f"{self.path}: byte {self.pos}: {msg}")

    def int(self) -> int:
        if self.pos >= len(self.data):
            raise self.fail("unexpected end of file")
        head = self.data[self.pos]
        size = head & 0x0F
        if size > 8:
            raise self.fail(f"bad packed integer header 0x{head:02x}")
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if head & 0x80 else value

    def float(self) -> float:
        mantissa = self.int()
        return float(mantissa * 2.0 ** self.int())

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise self.fail(f"unsupported tensor version {version}")
        dims = [self.int() for _ in range(4)]
        count = int(np.prod(dims))
        end = self.pos + 4 * count
        if end > len(self.data):
            raise self.fail(f"tensor of {count} floats runs past the end of the file")
        values = np.frombuffer(self.data, "<f4", count, self.pos).astype(np.float32).reshape(dims)
        self.pos = end
        return values

    def next_layer(self) -> str | None:
        """Advance past the next parameter-layer name and return it (None at the end)."""
        m = _LAYER_NAME.search(self.data, self.pos)
        if m is None:
            return None
        length = m.group(1)[0]
        name = self.data[m.start(2) : m.start(2) + length].decode("ascii", "replace")
        self.pos = m.start(2) + length
        return name


def read_dlib_metric_net(path: str | Path) -> DlibMetricNet:
    """Parse a dlib ``loss_metric`` ResNet file (e.g. ``dlib_face_recognition_resnet_model_v1.dat``)."""
    s = _DlibStream(Path(path))
    mean, size, convs, affines, fc = None, 0, [], [], None
    while (name := s.next_layer()) is not None:
        if name == "input_rgb_image_sized":
            mean = np.array([s.float() for _ in range(3)], np.float32)
            size = s.int()
        elif name == "con_4":
            params = s.tensor().reshape(-1)
            nf, nr, nc, sy, sx, py, px = (s.int() for _ in range(7))
            if sy != sx or py != px or nr != nc:
                raise s.fail(f"non-square convolution {nr}x{nc} stride {sy},{sx} padding {py},{px}")
            k, rem = divmod(len(params) - nf, nf * nr * nc)
            has_bias = rem == 0
            if not has_bias:
                k, rem = divmod(len(params), nf * nr * nc)
                if rem:
                    raise s.fail(f"con_4 params of size {len(params)} do not fit {nf} filters of {nr}x{nc}")
            weight = params[: nf * k * nr * nc].reshape(nf, k, nr, nc)
            convs.append(DlibConv(weight, params[nf * k * nr * nc :] if has_bias else None, sy, py))
        elif name == "affine_":
            params = s.tensor().reshape(2, -1)
            affines.append((params[0], params[1]))
        elif name == "fc_2":
            n_out, n_in = s.int(), s.int()
            fc = s.tensor().reshape(-1)[: n_in * n_out].reshape(n_in, n_out)
        else:
            raise s.fail(f"unsupported layer {name!r}")
    if mean is None or fc is None or not convs or len(convs) != len(affines):
        raise ValueError(f"{path}: not a dlib metric ResNet ({len(convs)} con, {len(affines)} affine, fc={fc is not None})")
    return DlibMetricNet(mean, size, convs, affines, fc)
