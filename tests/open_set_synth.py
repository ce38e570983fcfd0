"""A synthetic LFW-like open-set protocol with stored embeddings, for the tests of the unknown threshold."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hyp_face.identify.protocols import lfw_open_set, write_protocol
from hyp_face.io.embed_store import EmbedWriter


def stored_lfw_open_set(tmp_path: Path, num_people: int, seed: int):
    """An LFW-like open-set protocol of ``num_people`` people with 1-3 photos each, written in ``tmp_path/lfw_id_open``,
    and its stored embeddings in ``tmp_path/face_embed`` (as run_060_identify.sh writes them): (people, protocol)."""
    rng = np.random.default_rng(seed)
    people = {f"Person_{k:02d}": [tmp_path / f"Person_{k:02d}_{i:04d}.jpg" for i in range(1, 2 + k % 3)]
              for k in range(num_people)}
    centres = {name: rng.normal(size=8) for name in people}
    with EmbedWriter(tmp_path / "face_embed" / "facedet" / "lfw_id_all" / "embed") as w:
        for name, photos in people.items():
            for photo in photos:
                photo.write_bytes(b"x")
                w.write(photo.stem, _unit(centres[name] + 0.3 * rng.normal(size=8))[None])
    protocol = lfw_open_set(people, "lfw_id_all")
    write_protocol(tmp_path / "lfw_id_open", protocol)
    return people, protocol


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)
