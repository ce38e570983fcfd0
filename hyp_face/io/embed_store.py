"""The embedding store: HDF5 files indexed by Kaldi ``embed.scp`` lists.

Layout (compatible with the original recipe's readers):

* ``embed.scp``: ``<key> <absolute path of embed.J.h5>``, one line per video;
* in the HDF5 file, one float32 dataset of shape (N, D) per key, at the path ``key``
  (keys containing ``/`` become nested groups, as JANUS ids do in the original);
* per-face metadata in the same file, under ``/__faces__/<key>/``: ``frame`` (int64), ``time`` (float64,
  seconds), ``box`` (float32 x1 y1 x2 y2), ``score`` (float32), ``landmarks`` (float32, 5 x 2), and, in files
  written since they were added, ``norm`` (float32, the embedding's L2 norm before normalisation), ``sharpness``
  (float32, of the aligned chip) and ``track`` (int64, the face track of the video; -1: none). Older files read
  with NaN norms and sharpness and track -1;
* the dataset attribute ``status`` is ``"ok"`` or the reason why a video yielded no face (e.g. a decode error);
* face tracks (written with ``--track-fps``; docs/tracks.md), one row per track under ``/__tracks__/<key>/``:
  ``track_id`` (int64), ``start`` and ``end`` (float64, seconds), ``embedding`` (float32 (T, D), pooled and
  L2-normalised), ``quality`` (float32, pooled face quality) and ``num_faces`` (int64). A track's faces are the
  rows of ``/__faces__/<key>/`` whose ``track`` is its id (their frames, times, boxes and scores). Readers that do
  not know tracks never look there.

Files are written to a temporary name and renamed when complete, so a reader never sees a half file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import h5py
import numpy as np

from ..track.types import Track
from .table import TableError, atomic_write, read_scp

META_ROOT = "__faces__"
TRACK_ROOT = "__tracks__"
TRACK_FIELDS = ("track_id", "start", "end", "embedding", "quality", "num_faces")
STATUS_OK = "ok"
STATUS_VIDEO_ERROR = "video error: "  # prefix of the status of a video that cannot be read
RAW_DTYPE = np.dtype("<f4")  # embeddings whose stored bytes EmbedReader.read_many reads directly


class StoreError(KeyError):
    """A missing or unreadable entry; the message names the file and the key."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


@dataclass
class FaceMeta:
    """Per-face metadata, one row per embedding."""

    frame: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    time: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    box: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    score: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    landmarks: np.ndarray = field(default_factory=lambda: np.zeros((0, 5, 2), np.float32))
    norm: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    sharpness: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    track: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    FIELDS = ("frame", "time", "box", "score", "landmarks", "norm", "sharpness", "track")
    DTYPES = (np.int64, np.float64, np.float32, np.float32, np.float32, np.float32, np.float32, np.int64)
    OPTIONAL = {"norm": np.nan, "sharpness": np.nan, "track": -1}  # filled with this value when not given

    def __post_init__(self) -> None:
        for name, dtype in zip(self.FIELDS, self.DTYPES):
            setattr(self, name, np.asarray(getattr(self, name), dtype=dtype))
        self.box = self.box.reshape(-1, 4)
        self.landmarks = self.landmarks.reshape(-1, 5, 2)
        n = len(self.frame)
        for name, fill in self.OPTIONAL.items():
            if n and not len(getattr(self, name)):
                setattr(self, name, np.full(n, fill, dtype=getattr(self, name).dtype))
        n = {len(getattr(self, name)) for name in self.FIELDS}
        if len(n) != 1:
            raise ValueError(f"FaceMeta fields have different lengths: {n}")

    def __len__(self) -> int:
        return len(self.frame)

    @classmethod
    def unknown(cls, n: int) -> "FaceMeta":
        """Metadata for ``n`` faces whose origin is not known (frame -1, NaN elsewhere)."""
        return cls(np.full(n, -1), np.full(n, np.nan), np.full((n, 4), np.nan), np.full(n, np.nan),
                   np.full((n, 5, 2), np.nan))

    @classmethod
    def concat(cls, metas: Iterable["FaceMeta"]) -> "FaceMeta":
        metas = list(metas)
        if not metas:
            return cls()
        return cls(*(np.concatenate([getattr(m, name) for m in metas]) for name in cls.FIELDS))

    def select(self, index: np.ndarray) -> "FaceMeta":
        return FaceMeta(*(getattr(self, name)[index] for name in self.FIELDS))


class EmbedWriter:
    """Writes ``<prefix>.h5`` and ``<prefix>.scp``; both appear atomically on :meth:`close`.

    Use as a context manager; on an exception nothing is left behind.
    """

    def __init__(self, prefix: str | os.PathLike):
        prefix = Path(prefix).absolute()
        prefix.parent.mkdir(parents=True, exist_ok=True)
        self.h5_path = prefix.with_name(prefix.name + ".h5")
        self.scp_path = prefix.with_name(prefix.name + ".scp")
        self._tmp = self.h5_path.with_name(f".{self.h5_path.name}.{os.getpid()}.tmp")
        self._h5 = h5py.File(self._tmp, "w")
        self._keys: list[str] = []

    def write(self, key: str, embeds: np.ndarray, meta: FaceMeta | None = None, status: str = STATUS_OK,
              tracks: Sequence[Track] | None = None) -> None:
        """Store the (N, D) embeddings of one video, its per-face metadata, its status and, when given, its tracks
        (whose faces are the rows of ``meta`` with their ``track`` id)."""
        embeds = np.asarray(embeds, dtype=np.float32)
        if embeds.ndim != 2:
            raise ValueError(f"{key}: embeddings must be 2-D (N, D), got shape {embeds.shape}")
        meta = meta if meta is not None else FaceMeta.unknown(len(embeds))
        if len(meta) != len(embeds):
            raise ValueError(f"{key}: {len(embeds)} embeddings but {len(meta)} metadata rows")
        if key in self._keys:
            raise ValueError(f"{key}: written twice to {self.h5_path}")
        try:
            ds = self._h5.create_dataset(key, data=embeds)
            ds.attrs["status"] = status
            group = self._h5.create_group(f"{META_ROOT}/{key}")
            for name in FaceMeta.FIELDS:
                group.create_dataset(name, data=getattr(meta, name))
            if tracks is not None:
                self._write_tracks(key, tracks, meta, embeds.shape[1])
        except (ValueError, TypeError) as e:  # h5py raises these on name clashes
            raise ValueError(f"{self.h5_path}: cannot store key {key!r}: {e}") from e
        self._keys.append(key)

    def _write_tracks(self, key: str, tracks: Sequence[Track], meta: FaceMeta, dim: int) -> None:
        counts = {t.track_id: len(t) for t in tracks}
        ids, n = np.unique(meta.track[meta.track >= 0], return_counts=True)
        if dict(zip(ids.tolist(), n.tolist())) != counts:
            raise ValueError(f"{key}: the tracks' faces do not match the faces' track ids")
        group = self._h5.create_group(f"{TRACK_ROOT}/{key}")
        embeds = np.stack([t.embedding for t in tracks]) if tracks else np.zeros((0, dim))
        columns = (np.array([t.track_id for t in tracks], np.int64), np.array([t.start for t in tracks]),
                   np.array([t.end for t in tracks]), embeds.astype(np.float32),
                   np.array([t.quality for t in tracks], np.float32), np.array([len(t) for t in tracks], np.int64))
        for name, column in zip(TRACK_FIELDS, columns):
            group.create_dataset(name, data=column)

    def close(self) -> None:
        self._h5.close()
        os.replace(self._tmp, self.h5_path)
        with atomic_write(self.scp_path) as f:
            for key in sorted(self._keys):
                f.write(f"{key} {self.h5_path}\n")

    def abort(self) -> None:
        self._h5.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "EmbedWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class EmbedReader:
    """Random access to the embeddings listed in an ``embed.scp``."""

    def __init__(self, scp_path: str | os.PathLike):
        self.scp_path = str(scp_path)
        self._index = read_scp(scp_path)
        self._files: dict[str, h5py.File] = {}

    def keys(self) -> list[str]:
        return list(self._index)

    def __contains__(self, key: str) -> bool:
        return key in self._index

    def __len__(self) -> int:
        return len(self._index)

    def _file(self, key: str) -> h5py.File:
        if key not in self._index:
            raise StoreError(f"{self.scp_path}: key {key!r} is not listed")
        path = self._index[key]
        if path not in self._files:
            try:
                self._files[path] = h5py.File(path, "r")
            except OSError as e:
                raise StoreError(f"{path} (listed for key {key!r} in {self.scp_path}): cannot open: {e}") from e
        return self._files[path]

    def _dataset(self, key: str) -> h5py.Dataset:
        h5 = self._file(key)
        ds = h5.get(key)
        if not isinstance(ds, h5py.Dataset):
            raise StoreError(f"{h5.filename}: no dataset for key {key!r}")
        return ds

    def read(self, key: str) -> np.ndarray:
        """The (N, D) float32 embeddings of ``key``.

        Reads through h5py's low-level API, in the file opened once for all its keys: half the cost per key of
        the high-level one, which counts when a back-end reads thousands of videos.
        """
        ds = self._matrix(key)
        out = np.empty(ds.shape, dtype=np.float32)
        if out.size:
            ds.read(h5py.h5s.ALL, h5py.h5s.ALL, out)
        return out

    def read_many(self, keys: Sequence[str], dtype: type = np.float32) -> list[np.ndarray]:
        """The embeddings of each key (as :meth:`read`) in ``dtype``: views of one buffer, in key order.

        The bytes of a plain float32 dataset (contiguous, unfiltered, little-endian: what :class:`EmbedWriter`
        writes) are read straight from its file at the offset HDF5 gives, once per file; any other dataset
        goes through HDF5.
        """
        shapes, raw, other = [], {}, {}
        for i, key in enumerate(keys):
            ds = self._matrix(key)  # not kept: thousands of live HDF5 objects slow h5py down
            shape = ds.shape
            offset = ds.get_offset() if ds.dtype == RAW_DTYPE else None  # None: not one plain extent
            if offset is not None:
                raw.setdefault(self._index[key], []).append((offset, i))  # the path the file was opened with
            elif shape[0] and shape[1]:
                other[i] = np.empty(shape, dtype=np.float32)
                ds.read(h5py.h5s.ALL, h5py.h5s.ALL, other[i])
            shapes.append(shape)
        sizes = [n * d for n, d in shapes]
        starts = np.cumsum([0] + sizes).tolist()
        flat = np.empty(starts[-1], dtype=dtype)
        mats = [flat[a:a + n * d].reshape(n, d) for a, (n, d) in zip(starts, shapes)]
        scratch = None if flat.dtype == RAW_DTYPE else np.empty(max(sizes, default=0), dtype=RAW_DTYPE)
        for path, parts in raw.items():
            _read_extents(path, [(offset, mats[i]) for offset, i in parts], scratch)
        for i, mat in other.items():
            mats[i][...] = mat
        return mats

    def _matrix(self, key: str) -> h5py.h5d.DatasetID:
        """The (N, D) dataset of ``key`` (low-level)."""
        h5 = self._file(key)
        try:
            ds = h5py.h5d.open(h5.id, key.encode())
        except KeyError:  # absent, or a group
            raise StoreError(f"{h5.filename}: no dataset for key {key!r}") from None
        if len(ds.shape) != 2:
            raise StoreError(f"{h5.filename}: key {key!r} has shape {ds.shape}, expected (N, D)")
        return ds

    def status(self, key: str) -> str:
        return str(self._dataset(key).attrs.get("status", STATUS_OK))

    def num_faces(self, key: str) -> int:
        """How many faces ``key`` has, without reading them."""
        return int(self._dataset(key).shape[0])

    def read_meta(self, key: str) -> FaceMeta:
        """Per-face metadata of ``key`` (frame indices -1 when the file predates metadata)."""
        h5 = self._file(key)
        group = h5.get(f"{META_ROOT}/{key}")
        if group is None:
            return FaceMeta.unknown(len(self._dataset(key)))
        return FaceMeta(**{name: group[name][()] for name in FaceMeta.FIELDS if name in group})

    def has_tracks(self, key: str) -> bool:
        """Whether ``key`` was written with its face tracks."""
        return f"{TRACK_ROOT}/{key}" in self._file(key)

    def read_tracks(self, key: str) -> list[Track]:
        """The face tracks of ``key`` in track-id order, their faces' frames, times, boxes and scores taken from
        the per-face metadata; a ``StoreError`` when the key was written without tracks."""
        h5 = self._file(key)
        group = h5.get(f"{TRACK_ROOT}/{key}")
        if group is None:
            raise StoreError(f"{h5.filename}: key {key!r} has no face tracks (extracted without --track-fps)")
        columns = {name: group[name][()] for name in TRACK_FIELDS}
        meta = self.read_meta(key)
        tracks = []
        for i, track_id in enumerate(columns["track_id"]):
            rows = np.flatnonzero(meta.track == track_id)
            if len(rows) != columns["num_faces"][i]:
                raise StoreError(f"{h5.filename}: key {key!r} track {track_id}: {columns['num_faces'][i]} faces "
                                 f"listed, {len(rows)} found")
            tracks.append(Track(int(track_id), rows.astype(np.int64), meta.frame[rows], meta.time[rows],
                                meta.box[rows], meta.score[rows], columns["embedding"][i],
                                float(columns["quality"][i])))
        return tracks

    def close(self) -> None:
        for h5 in self._files.values():
            h5.close()
        self._files.clear()

    def __enter__(self) -> "EmbedReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _read_extents(path: str, parts: list[tuple[int, np.ndarray]], scratch: np.ndarray | None = None) -> None:
    """Fill each array of ``parts`` with the float32 values stored at its offset in ``path`` (one open, in offset
    order), read through ``scratch`` (float32, large enough) when the arrays hold another type."""
    with open(path, "rb") as f:
        for offset, mat in sorted(parts, key=lambda part: part[0]):
            into = mat if scratch is None else scratch[:mat.size].reshape(mat.shape)
            f.seek(offset)
            if f.readinto(memoryview(into).cast("B")) != into.nbytes:
                raise StoreError(f"{path}: truncated file (a dataset ends after its end)")
            if scratch is not None:
                mat[...] = into


def merge_scps(parts: Iterable[str | os.PathLike], out: str | os.PathLike) -> int:
    """Concatenate ``embed.J.scp`` files into ``out`` (sorted by key); duplicate keys are an error."""
    merged: dict[str, str] = {}
    origin: dict[str, str] = {}
    for part in parts:
        for key, value in read_scp(part).items():
            if key in merged:
                raise TableError(part, 0, f"key {key!r} already listed in {origin[key]}")
            merged[key] = value
            origin[key] = str(part)
    with atomic_write(out) as f:
        for key in sorted(merged):
            f.write(f"{key} {merged[key]}\n")
    return len(merged)
