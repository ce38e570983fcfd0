"""Full score matrices between the items of a protocol's roles, through the video back-ends v1-v9.

Items and their faces:

* a role's items are its utts, except the queries of a ``search`` protocol, which are its speakers: a query scores
  with the faces of all its media (an enrollment model with several videos), as an enrollment model does;
* the faces of a medium come from ``<embed-dir>/facedet/<source>/embed.scp``; a role with a ``face_boundingbox``
  (SRE19/JANUS enrollment) scores with its bbox-guided references ``<embed-dir>/ref/<source>/embed.scp``, and a
  medium without a reference face falls back to its facedet faces (the back-end's rule,
  :func:`hyp_face.backend.inputs.reference_fallback`);
* a photo's item is one face: the detection nearest the image centre (as :mod:`hyp_face.eval.lfw` picks it);
* a medium without any face scores with a zero vector (logged, as the back-end does).

A matrix of row role R and column role C puts the protocol's enrollment-side role on the back-end's enrollment
side (gallery of ``closed``/``open``, queries of ``search``; a group's score is the max over its media, as in
:class:`hyp_face.backend.versions.Scorer`), transposed when that role is C; two test-side roles score R on the
enrollment side, one medium per item. Every score must be finite: a NaN is an error naming the item's line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hyp_face.backend.engine import NumpyEngine, TorchEngine
from hyp_face.backend.inputs import embedding_dim, read_required, reference_fallback
from hyp_face.backend.versions import BackendParams, Scorer, enroll_side, test_side
from hyp_face.eval.lfw import central_index
from hyp_face.io.embed_store import EmbedReader
from hyp_face.video.reader import is_photo, probe

from .protocols import ROLES, Protocol, RoleSet

log = logging.getLogger(__name__)


class ScoreError(ValueError):
    """A score that is not finite; the message names the item and its line."""


@dataclass
class Items:
    """The items of one role: ids, each item's media (utts), the identity label of each and its faces per medium."""

    ids: list[str]
    members: list[list[str]]
    labels: list[str]
    faces: list[list[np.ndarray]]
    role: RoleSet

    def where(self, i: int) -> str:
        return self.role.where(self.members[i][0])


def store_paths(items: RoleSet, embed_dir: str | Path) -> tuple[Path, Path | None]:
    """The facedet ``embed.scp`` of a role and, for a role with boxes, its reference one."""
    embed_dir = Path(embed_dir)
    ref = embed_dir / "ref" / items.source / "embed.scp" if items.boxes is not None else None
    return embed_dir / "facedet" / items.source / "embed.scp", ref


def photo_face(faces: np.ndarray, reader: EmbedReader, utt: str, media: str) -> np.ndarray:
    """The one face of a photo: the detection whose box centre is nearest the image centre."""
    if len(faces) <= 1:
        return faces
    width, height = probe(media).display_size
    i = central_index((height, width), reader.read_meta(utt).box.astype(np.float64))
    return faces[i:i + 1]


def load_faces(items: RoleSet, embed_dir: str | Path) -> dict[str, np.ndarray]:
    """Faces of every medium of a role (float64); a photo keeps one face, a medium without faces a zero vector."""
    facedet_scp, ref_scp = store_paths(items, embed_dir)
    out: dict[str, np.ndarray] = {}
    with EmbedReader(facedet_scp) as facedet:
        ref = EmbedReader(ref_scp) if ref_scp else None
        try:
            for utt, media in items.vid.items():
                faces = read_required(ref or facedet, utt)
                if ref is not None and len(faces) == 0:
                    faces = reference_fallback(facedet, utt, 0)
                out[utt] = photo_face(faces, facedet, utt, media) if is_photo(media) else faces
        finally:
            if ref is not None:
                ref.close()
    dim = embedding_dim(list(out.values()), 0, str(facedet_scp))
    empty = [u for u, f in out.items() if f.size == 0]
    if empty:
        log.warning("%s: %d of %d media without a face score with a zero vector, e.g. %s",
                    items.path or items.source, len(empty), len(out), empty[:5])
    if dim == 0:
        raise ScoreError(f"{facedet_scp}: no medium of {items.path or items.source} has a face")
    return {u: f if f.size else np.zeros((1, dim)) for u, f in out.items()}


def item_groups(protocol: Protocol, role: str) -> tuple[list[str], list[list[str]], list[str]]:
    """Ids, media and identity labels of the items of ``role``, in matrix order: search queries are speakers
    (their media grouped), every other item is one utt (C order)."""
    items = protocol.sets[role]
    if protocol.kind == "search" and role == "query":
        groups = items.spk2utt
        return list(groups), list(groups.values()), list(groups)
    ids = sorted(items.vid)
    return ids, [[u] for u in ids], [items.utt2spk[u] for u in ids]


def role_items(protocol: Protocol, role: str, embed_dir: str | Path) -> Items:
    """Items of ``role`` (:func:`item_groups`) with their faces."""
    faces = load_faces(protocol.sets[role], embed_dir)
    ids, members, labels = item_groups(protocol, role)
    return Items(ids, members, labels, [[faces[u] for u in m] for m in members], protocol.sets[role])


def group_scores(params: BackendParams, rows: Items, cols: Items, engine: NumpyEngine | TorchEngine | None = None,
                 workers: int = 1, block_rows: int = 4096) -> np.ndarray:
    """(rows x cols) scores: rows on the enrollment side (max over an item's media), cols on the test side (all
    faces of an item's media together)."""
    refs = [f for item in rows.faces for f in item]
    owner = np.repeat(np.arange(len(rows.ids)), [len(item) for item in rows.faces])
    scorer = Scorer(params, enroll_side(params, refs), owner, len(rows.ids), block_rows=block_rows,
                    engine=engine or NumpyEngine(), workers=workers)
    return scorer.score(test_side(params, [np.concatenate(item) for item in cols.faces]))


def pair_matrix(protocol: Protocol, params: BackendParams, rows: Items, cols: Items, **scoring) -> np.ndarray:
    """(rows x cols) scores, the protocol's enrollment-side role on the back-end's enrollment side."""
    enroll_role = protocol.sets[ROLES[protocol.kind][0]]
    if cols.role is enroll_role and rows.role is not enroll_role:
        scores = group_scores(params, cols, rows, **scoring).T
    else:
        scores = group_scores(params, rows, cols, **scoring)
    check_finite(scores, rows, cols)
    return np.ascontiguousarray(scores)


def check_finite(scores: np.ndarray, rows: Items, cols: Items) -> None:
    """A NaN or infinite score is an error naming its row and column items (and their lines)."""
    bad = np.argwhere(~np.isfinite(scores))
    if len(bad):
        r, c = bad[0]
        raise ScoreError(f"{rows.where(r)}: score of {rows.ids[r]!r} x {cols.ids[c]!r} ({cols.where(c)}) is "
                         f"{scores[r, c]} ({len(bad)} non-finite scores)")


#: The matrices each kind needs, as (row role, column role): the first is the one its metrics rank.
MATRICES: dict[str, tuple[tuple[str, str], ...]] = {
    "closed": (("probe", "gallery"), ("probe", "probe"), ("gallery", "gallery")),
    "open": (("probe", "gallery"),),
    "idrate": (("query", "query"), ("query", "distractor")),
    "search": (("query", "gallery"), ("query", "query"), ("gallery", "gallery")),
}


def protocol_matrices(protocol: Protocol, params: BackendParams, embed_dir: str | Path,
                      **scoring) -> tuple[dict[str, Items], dict[tuple[str, str], np.ndarray]]:
    """The items of every role and the score matrices of :data:`MATRICES` for ``protocol``."""
    items = {role: role_items(protocol, role, embed_dir) for role in protocol.sets}
    matrices = {(r, c): pair_matrix(protocol, params, items[r], items[c], **scoring)
                for r, c in MATRICES[protocol.kind]}
    return items, matrices
