"""ProxyFusion's HDF5 template layout, in and out of this recipe's embedding stores.

The layout: one file per subject, ``<dir>/<SID>.h5``, holding ``<SID>/probe_<i>`` (probe templates) and
``<SID>/gallery/images/<i>`` / ``<SID>/gallery/video/<i>`` (gallery templates from stills / from video), each an
(N, D) array of face features. Imported, template ``<SID>/probe_3`` becomes the store key ``<SID>-probe_3`` (and
``<SID>/gallery/video/0`` the key ``<SID>-gallery-video-0``), with ``utt2spk`` (key -> SID) and ``roles``
(key -> probe | gallery) beside the store; export writes the same layout back from a store and those two lists.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from hyp_face.backend.aggregate import AggregatorError
from hyp_face.io.datadir import read_utt2spk
from hyp_face.io.embed_store import EmbedReader, EmbedWriter
from hyp_face.io.table import read_scp, write_lines

GALLERY_KINDS = ("images", "video")


def _key(sid: str, name: str) -> str:
    """Store key of the dataset ``<sid>/<name>`` (``probe_3`` or ``gallery/video/0``)."""
    return f"{sid}-{name.replace('/', '-')}"


def read_subject_file(path: Path, dim: int | None = None) -> list[tuple[str, str, np.ndarray]]:
    """(dataset name, role, features) of one subject file; a bad shape, NaN or a dimension other than ``dim`` is
    an error naming the file and the dataset."""
    sid = path.stem
    out = []
    with h5py.File(path, "r") as h5:
        if sid not in h5:
            raise AggregatorError(f"{path}: no group {sid!r} (the file must be named after its subject)")
        names: list[str] = []
        h5[sid].visit(lambda n: names.append(n) if isinstance(h5[sid][n], h5py.Dataset) else None)
        for name in sorted(names):
            role = "probe" if name.startswith("probe_") else "gallery" if name.split("/")[:1] == ["gallery"] else ""
            if not role or (role == "gallery" and name.split("/")[1] not in GALLERY_KINDS):
                raise AggregatorError(f"{path}: dataset {sid}/{name} is neither probe_<i> nor "
                                      "gallery/{images,video}/<i>")
            x = np.asarray(h5[sid][name][()], dtype=np.float32)
            what = f"{path}: {sid}/{name}"
            if x.ndim != 2 or not len(x):
                raise AggregatorError(f"{what}: expected a non-empty (N, D) array, got shape {x.shape}")
            if not np.isfinite(x).all():
                raise AggregatorError(f"{what}: NaN or infinite features")
            if dim is not None and x.shape[1] != dim:
                raise AggregatorError(f"{what}: {x.shape[1]}-D features, expected {dim}-D")
            dim = x.shape[1]
            out.append((name, role, x))
    return out


def import_templates(in_dir: str | os.PathLike, out_dir: str | os.PathLike, dim: int | None = None) -> int:
    """``<out_dir>/embed.{h5,scp}``, ``utt2spk`` and ``roles`` from every ``<SID>.h5`` of ``in_dir``; returns
    the number of templates."""
    files = sorted(Path(in_dir).glob("*.h5"))
    if not files:
        raise AggregatorError(f"{in_dir}: no <SID>.h5 template file")
    out_dir = Path(out_dir)
    utt2spk, roles = [], []
    with EmbedWriter(out_dir / "embed") as writer:
        for path in files:
            for name, role, x in read_subject_file(path, dim):
                dim = x.shape[1]
                key = _key(path.stem, name)
                writer.write(key, x)
                utt2spk.append(f"{key} {path.stem}")
                roles.append(f"{key} {role}")
    write_lines(out_dir / "utt2spk", sorted(utt2spk))
    write_lines(out_dir / "roles", sorted(roles))
    return len(utt2spk)


def export_templates(embed_scp: str, utt2spk: str, roles: str, out_dir: str | os.PathLike,
                     gallery_kind: str = "images") -> int:
    """One ``<SID>.h5`` per subject of ``utt2spk`` in ``out_dir``: its probe and gallery templates (``roles``:
    ``<key> probe|gallery``), numbered in key order; returns the number of templates."""
    if gallery_kind not in GALLERY_KINDS:
        raise ValueError(f"gallery kind must be one of {GALLERY_KINDS}, got {gallery_kind!r}")
    role_of = read_scp(roles)
    by_subject: dict[str, list[str]] = {}
    for key, sid in read_utt2spk(utt2spk).items():
        by_subject.setdefault(sid, []).append(key)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    with EmbedReader(embed_scp) as reader:
        for sid, keys in sorted(by_subject.items()):
            tmp = out_dir / f".{sid}.h5.{os.getpid()}.tmp"
            numbers = {"probe": 0, "gallery": 0}
            with h5py.File(tmp, "w") as h5:
                for key in sorted(keys):
                    role = role_of.get(key)
                    if role not in numbers:
                        raise AggregatorError(f"{roles}: key {key!r} needs role probe or gallery, got {role!r}")
                    name = (f"probe_{numbers[role]}" if role == "probe"
                            else f"gallery/{gallery_kind}/{numbers[role]}")
                    h5.create_dataset(f"{sid}/{name}", data=reader.read(key))
                    numbers[role] += 1
                    count += 1
            os.replace(tmp, out_dir / f"{sid}.h5")
    return count
