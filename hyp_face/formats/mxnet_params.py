"""Numpy reader of MXNet ``.params`` files (NDArray lists), without MXNet.

Layouts (see ``spec/mxnet-params.md``): legacy (no magic, uint32 dims), V1 (0xF993FAC8), V2 (0xF993FAC9) and
V3 (0xF993FACA, same record as V2). The parse must end exactly at end of file, otherwise ``MXNetParamsError``
names the file and the byte offset.

``load_params`` keeps the names as stored (``arg:<name>`` for weights, ``aux:<name>`` for BatchNorm running
statistics); ``split_arg_aux`` splits them into two dicts without prefixes, as MXNet's ``load_checkpoint`` does.
"""

from __future__ import annotations

import os
import struct

import numpy as np

LIST_MAGIC = 0x112
ARRAY_MAGIC_V1 = 0xF993FAC8
ARRAY_MAGIC_V2 = 0xF993FAC9
ARRAY_MAGIC_V3 = 0xF993FACA
DTYPES = {
    0: np.dtype("<f4"),
    1: np.dtype("<f8"),
    2: np.dtype("<f2"),
    3: np.dtype("u1"),
    4: np.dtype("<i4"),
    5: np.dtype("i1"),
    6: np.dtype("<i8"),
}


class MXNetParamsError(ValueError):
    """A malformed ``.params`` file; the message names the file and byte offset."""

    def __init__(self, path: str | os.PathLike, offset: int, msg: str):
        super().__init__(f"{path}: byte {offset}: {msg}")
        self.path = str(path)
        self.offset = offset


class _Cursor:
    """Little-endian reader over a byte buffer that reports errors with the file name and offset."""

    def __init__(self, data: bytes, path: str | os.PathLike):
        self.data = data
        self.path = path
        self.pos = 0

    def error(self, msg: str, offset: int | None = None) -> MXNetParamsError:
        return MXNetParamsError(self.path, self.pos if offset is None else offset, msg)

    def take(self, nbytes: int, what: str) -> bytes:
        if nbytes < 0 or self.pos + nbytes > len(self.data):
            raise self.error(f"truncated file: need {nbytes} bytes for {what}, {len(self.data) - self.pos} left")
        chunk = self.data[self.pos : self.pos + nbytes]
        self.pos += nbytes
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def u32(self, what: str) -> int:
        return self.unpack("I", what)[0]

    def u64(self, what: str) -> int:
        return self.unpack("Q", what)[0]


def _read_shape(cur: _Cursor) -> tuple[int, ...]:
    """Read the magic (if any) and the shape of one array record."""
    start = cur.pos
    first = cur.u32("array magic / ndim")
    if first in (ARRAY_MAGIC_V2, ARRAY_MAGIC_V3):
        stype = cur.unpack("i", "storage type")[0]
        if stype != 0:
            raise cur.error(f"sparse storage type {stype} is not supported", start)
    if first in (ARRAY_MAGIC_V1, ARRAY_MAGIC_V2, ARRAY_MAGIC_V3):
        ndim = cur.u32("ndim")
        dims = cur.unpack(f"{ndim}q", "dims")
    else:
        ndim = first
        if ndim > 32:
            raise cur.error(f"unknown array magic or implausible ndim 0x{first:08X}", start)
        dims = cur.unpack(f"{ndim}I", "dims")
    if any(d < 0 for d in dims):
        raise cur.error(f"negative dimension in shape {dims}", start)
    return tuple(dims)


def _read_array(cur: _Cursor) -> np.ndarray:
    """Read one NDArray record (any layout)."""
    shape = _read_shape(cur)
    if len(shape) == 0:
        return np.zeros((0,), dtype=np.float32)
    _dev_type, _dev_id, code = cur.unpack("iii", "context and dtype")
    if code not in DTYPES:
        raise cur.error(f"unknown dtype code {code}", cur.pos - 4)
    dtype = DTYPES[code]
    count = int(np.prod(shape, dtype=np.int64))
    raw = cur.take(count * dtype.itemsize, f"data of shape {shape}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def read_ndarray_list(path: str | os.PathLike) -> tuple[list[np.ndarray], list[str]]:
    """Read all arrays and names of an NDArray-list file, in file order."""
    with open(path, "rb") as f:
        cur = _Cursor(f.read(), path)
    magic = cur.u64("list magic")
    if magic != LIST_MAGIC:
        raise cur.error(f"not an MXNet NDArray list (magic 0x{magic:X}, expected 0x{LIST_MAGIC:X})", 0)
    cur.u64("reserved")
    arrays = [_read_array(cur) for _ in range(cur.u64("number of arrays"))]
    num_names = cur.u64("number of names")
    if num_names not in (0, len(arrays)):
        raise cur.error(f"{num_names} names for {len(arrays)} arrays", cur.pos - 8)
    names = [cur.take(cur.u64("name length"), "name").decode("utf-8") for _ in range(num_names)]
    if cur.pos != len(cur.data):
        raise cur.error(f"parse ended {len(cur.data) - cur.pos} bytes before end of file")
    return arrays, names


def load_params(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Named arrays of a ``.params`` file, keys as stored (``arg:...`` / ``aux:...``)."""
    arrays, names = read_ndarray_list(path)
    if not names:
        raise MXNetParamsError(path, 0, "the file has no array names")
    if len(set(names)) != len(names):
        raise MXNetParamsError(path, 0, "duplicate array names")
    return dict(zip(names, arrays))


def split_arg_aux(params: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Split ``load_params`` output into (arg_params, aux_params) keyed by bare names."""
    out: dict[str, dict[str, np.ndarray]] = {"arg": {}, "aux": {}}
    for key, value in params.items():
        kind, sep, name = key.partition(":")
        if not sep or kind not in out:
            raise ValueError(f"parameter name {key!r} has no arg:/aux: prefix")
        out[kind][name] = value
    return out["arg"], out["aux"]
