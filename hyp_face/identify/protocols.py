"""1:N identification and search protocols as Kaldi-style data dirs: built from LFW photos or from SRE19/JANUS
data dirs, written, and read back with every inconsistency an error naming the file and line.

A protocol directory holds:

* ``README``: one line, what the protocol is, its counts and how it was made;
* ``kind``: one word, ``closed``, ``open``, ``idrate`` or ``search``;
* one data dir per role (``vid.scp``, ``utt2spk``, ``spk2utt`` and ``source``, the name of the data dir whose
  embeddings its items use):

  - ``closed`` / ``open``: ``gallery/`` (spk = an enrolled identity, its utts = its gallery media) and ``probe/``
    (one probe per utt; its ``utt2spk`` is the key, the probe's true identity; in ``open`` a probe whose identity
    has no gallery entry is an unknown probe);
  - ``idrate``: ``query/`` and ``distractor/`` (one item per utt, ``utt2spk`` = identity);
  - ``search``: ``query/`` (spk = one query, its utts = the query's media, e.g. the enrollment videos of a model)
    and ``gallery/`` (one item per utt), plus ``relevant``: ``<query> [<gallery item> ...]``, one line per query
    (a query without relevant items keeps its line: its AP is 0).

Identity splits are deterministic: a name belongs to the first half when the sha256 of ``<salt><name>`` is even.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from hyp_face.io.datadir import (FACE_BBOX, SPK2UTT, TRIALS, UTT2SPK, VID_SCP, DataDir, read_trial_rows,
                                 write_data_dir)
from hyp_face.io.table import Row, TableError, read_rows, write_lines

KINDS = ("closed", "open", "idrate", "search")
#: The enrollment-side role (grouped by spk) and the test-side role (one item per utt) of each kind.
ROLES: dict[str, tuple[str, str]] = {
    "closed": ("gallery", "probe"), "open": ("gallery", "probe"), "idrate": ("query", "distractor"),
    "search": ("query", "gallery"),
}
README, KIND, SOURCE, RELEVANT = "README", "kind", "source", "relevant"
OPEN_SALT = "open:"  # salt of the enrolled half of the open-set protocol
DEV_SALT = "dev:"  # salt of the dev half of the identities (re-ranking parameters are chosen on it)


class ProtocolError(ValueError):
    """An inconsistent protocol directory; the message names the file (and line)."""


def first_half(name: str, salt: str) -> bool:
    """Whether ``name`` falls in the first half of the split named by ``salt`` (sha256 of ``salt + name`` even)."""
    return hashlib.sha256(f"{salt}{name}".encode()).digest()[-1] % 2 == 0


@dataclass
class RoleSet:
    """One role of a protocol: media and identity of each item (utt), and the data dir its embeddings come from."""

    vid: dict[str, str]
    utt2spk: dict[str, str]
    source: str
    boxes: list[tuple[str, ...]] | None = None
    lines: dict[str, int] = field(default_factory=dict)  # utt -> line of vid.scp (read protocols)
    path: Path | None = None

    @property
    def spk2utt(self) -> dict[str, list[str]]:
        """Items grouped by identity, identities and items in C order."""
        out: dict[str, list[str]] = {}
        for utt in sorted(self.utt2spk):
            out.setdefault(self.utt2spk[utt], []).append(utt)
        return {s: out[s] for s in sorted(out)}

    def where(self, utt: str) -> str:
        """``<vid.scp>:<line>`` of an item (the role name when the set was not read from disk)."""
        return f"{self.path / VID_SCP}:{self.lines[utt]}" if self.path and utt in self.lines else f"item {utt!r}"


@dataclass
class Protocol:
    """A protocol in memory: its kind, README line, role sets and (search) relevant gallery items per query."""

    kind: str
    readme: str
    sets: dict[str, RoleSet]
    relevant: dict[str, list[str]] | None = None

    @property
    def enroll(self) -> RoleSet:
        return self.sets[ROLES[self.kind][0]]

    @property
    def test(self) -> RoleSet:
        return self.sets[ROLES[self.kind][1]]


# ----------------------------------------------------------------------------------------------- LFW protocols


def photo_set(photos: Mapping[str, Sequence[Path]], source: str) -> RoleSet:
    """Role set of photos per identity: utt = file name without extension, spk = identity."""
    vid = {p.stem: str(p) for name in photos for p in photos[name]}
    return RoleSet(vid, {p.stem: name for name in photos for p in photos[name]}, source)


def lfw_closed_set(people: Mapping[str, list[Path]], source: str) -> Protocol:
    """Gallery = the first photo of each identity with >= 2 photos; probes = the rest of their photos."""
    multi = {n: ps for n, ps in people.items() if len(ps) >= 2}
    gallery = photo_set({n: ps[:1] for n, ps in multi.items()}, source)
    probe = photo_set({n: ps[1:] for n, ps in multi.items()}, source)
    readme = (f"LFW closed set: gallery = the first photo of each of the {len(multi)} identities with >= 2 photos, "
              f"probes = their other {len(probe.vid)} photos")
    return Protocol("closed", readme, {"gallery": gallery, "probe": probe})


def lfw_open_set(people: Mapping[str, list[Path]], source: str) -> Protocol:
    """Half of the identities with >= 2 photos enrolled (first photo) by name hash; probes = known + unknown."""
    multi = {n: ps for n, ps in people.items() if len(ps) >= 2}
    enrolled = {n: ps for n, ps in multi.items() if first_half(n, OPEN_SALT)}
    unknown = {n: ps for n, ps in people.items() if n not in enrolled}
    gallery = photo_set({n: ps[:1] for n, ps in enrolled.items()}, source)
    probe = photo_set({**{n: ps[1:] for n, ps in enrolled.items()}, **unknown}, source)
    known = sum(len(ps) - 1 for ps in enrolled.values())
    readme = (f"LFW open set: gallery = the first photo of {len(enrolled)} of the {len(multi)} identities with >= 2 "
              f"photos (sha256('{OPEN_SALT}' + name) even), probes = {known} known photos (their others) and "
              f"{len(probe.vid) - known} unknown (every photo of the {len(unknown)} other identities)")
    return Protocol("open", readme, {"gallery": gallery, "probe": probe})


def lfw_id_rate(people: Mapping[str, list[Path]], source: str) -> Protocol:
    """Queries = every photo of the identities with >= 2 photos; distractors = the single-photo identities."""
    multi = {n: ps for n, ps in people.items() if len(ps) >= 2}
    single = {n: ps for n, ps in people.items() if len(ps) == 1}
    query, distractor = photo_set(multi, source), photo_set(single, source)
    readme = (f"LFW ID rate: queries = the {len(query.vid)} photos of the {len(multi)} identities with >= 2 photos, "
              f"distractors = the {len(distractor.vid)} single-photo identities")
    return Protocol("idrate", readme, {"query": query, "distractor": distractor})


def lfw_search(people: Mapping[str, list[Path]], source: str, min_images: int = 5) -> Protocol:
    """Queries = the first photo of each identity with >= ``min_images`` photos; gallery = every other photo."""
    rich = [n for n, ps in people.items() if len(ps) >= min_images]
    query = photo_set({n: people[n][:1] for n in rich}, source)
    gallery = photo_set({n: [p for p in ps if p.stem not in query.vid] for n, ps in people.items()}, source)
    relevant = {n: [p.stem for p in people[n][1:]] for n in rich}
    readme = (f"LFW search: queries = the first photo of each of the {len(rich)} identities with >= {min_images} "
              f"photos, gallery = the other {len(gallery.vid)} photos, relevant = the same identity")
    return Protocol("search", readme, {"query": query, "gallery": gallery}, relevant)


def lfw_protocols(people: Mapping[str, list[Path]], source: str, min_search_images: int = 5) -> dict[str, Protocol]:
    """The four LFW protocols, by short name (closed, open, idrate, search)."""
    return {"closed": lfw_closed_set(people, source), "open": lfw_open_set(people, source),
            "idrate": lfw_id_rate(people, source), "search": lfw_search(people, source, min_search_images)}


def all_photos_dir(people: Mapping[str, list[Path]]) -> DataDir:
    """The data dir of every photo (the one that is embedded, once, for all LFW protocols)."""
    photos = photo_set(people, "")
    return DataDir(photos.vid, photos.utt2spk)


# ----------------------------------------------------------------------------------------------- video search


def video_search(enroll_dir: str | os.PathLike, test_dir: str | os.PathLike) -> Protocol:
    """Video search by portrait from an SRE19/JANUS enrollment dir and its test dir (with ``trials``).

    Each enrollment model is a query (its enrollment media, and their annotated boxes); every test video is a
    gallery item; the relevant items of a model are the test videos of its target trials.
    """
    enroll_dir, test_dir = Path(enroll_dir), Path(test_dir)
    query = read_role(enroll_dir, enroll_dir.name)
    gallery = read_role(test_dir, test_dir.name)
    relevant: dict[str, list[str]] = {model: [] for model in query.spk2utt}
    trials = test_dir / TRIALS
    for lineno, (model, test, *label) in read_trial_rows(trials):
        if model not in relevant:
            raise TableError(trials, lineno, f"model {model!r} has no enrollment media in {enroll_dir / UTT2SPK}")
        if test not in gallery.vid:
            raise TableError(trials, lineno, f"test {test!r} is not in {test_dir / VID_SCP}")
        if not label:
            raise TableError(trials, lineno, "trials without target/nontarget labels give no relevant items")
        if label[0] == "target":
            relevant[model].append(test)
    targets = sum(map(len, relevant.values()))
    readme = (f"video search by portrait: {len(relevant)} queries (the enrollment media of each model of "
              f"{enroll_dir.name}), gallery = the {len(gallery.vid)} test videos of {test_dir.name}, "
              f"relevant = the {targets} target trials")
    return Protocol("search", readme, {"query": query, "gallery": gallery},
                    {m: sorted(ts) for m, ts in relevant.items()})


# ----------------------------------------------------------------------------------------------- writing


def write_protocol(path: str | os.PathLike, protocol: Protocol) -> None:
    """Write a protocol dir (each role a data dir with its ``source``), then read it back to validate it."""
    path = Path(path)
    for role, items in protocol.sets.items():
        write_data_dir(path / role, DataDir(items.vid, items.utt2spk, boxes=items.boxes))
        write_lines(path / role / SOURCE, [items.source])
    if protocol.relevant is not None:
        write_lines(path / RELEVANT, [" ".join([q, *protocol.relevant[q]]) for q in sorted(protocol.relevant)])
    write_lines(path / KIND, [protocol.kind])
    write_lines(path / README, [protocol.readme])
    read_protocol(path)


# ----------------------------------------------------------------------------------------------- reading


def read_role(path: Path, source: str | None = None) -> RoleSet:
    """A role data dir; every item needs a key line in ``utt2spk`` and every key line an item in ``vid.scp``."""
    vid_rows = _rows(path / VID_SCP, 2, 2, "the list of items and their media")
    if not vid_rows:
        raise ProtocolError(f"{path / VID_SCP}: empty: no {path.name} item")
    vid, lines = {}, {}
    for lineno, (utt, media) in vid_rows:
        if utt in vid:
            raise TableError(path / VID_SCP, lineno, f"duplicate item {utt!r} (line {lines[utt]})")
        vid[utt], lines[utt] = media, lineno
    utt2spk = {}
    for lineno, (utt, spk) in _rows(path / UTT2SPK, 2, 2, "the identity of each item"):
        if utt not in vid:
            raise TableError(path / UTT2SPK, lineno, f"{utt!r} is not an item of {path / VID_SCP}")
        if utt in utt2spk:
            raise TableError(path / UTT2SPK, lineno, f"duplicate item {utt!r}")
        utt2spk[utt] = spk
    for utt in vid:
        if utt not in utt2spk:
            raise TableError(path / VID_SCP, lines[utt], f"{path.name} item {utt!r} is missing from the key "
                             f"{path / UTT2SPK}")
    if source is None:
        source = _one_word(path / SOURCE, "the name of the data dir whose embeddings the role uses")
    boxes = [tuple(f) for _, f in read_rows(path / FACE_BBOX, 6)] if (path / FACE_BBOX).is_file() else None
    items = RoleSet(vid, utt2spk, source, boxes, lines, path)
    if (path / SPK2UTT).is_file():
        check_spk2utt(path / SPK2UTT, items)
    return items


def check_spk2utt(path: Path, items: RoleSet) -> None:
    """``spk2utt`` must list exactly ``utt2spk``: an identity without an item, or an unknown item, is an error."""
    expected = items.spk2utt
    seen = set()
    for lineno, (spk, *utts) in _rows(path, 1, None, "the items of each identity"):
        if not utts:
            raise TableError(path, lineno, f"identity {spk!r} has no item")
        for utt in utts:
            if utt not in items.vid:
                raise TableError(path, lineno, f"identity {spk!r} lists {utt!r}, which is not in "
                                 f"{path.parent / VID_SCP}")
        if sorted(utts) != expected.get(spk):
            raise TableError(path, lineno, f"identity {spk!r} does not match {path.parent / UTT2SPK}")
        seen.add(spk)
    missing = sorted(set(expected) - seen)
    if missing:
        raise ProtocolError(f"{path}: identities of {path.parent / UTT2SPK} without a line, e.g. {missing[:5]}")


def read_protocol(path: str | os.PathLike) -> Protocol:
    """Read and validate a protocol dir (see the module docstring); the first problem is an error naming its file."""
    path = Path(path)
    kind = _one_word(path / KIND, f"the protocol's kind, one of {', '.join(KINDS)}")
    if kind not in KINDS:
        raise TableError(path / KIND, 1, f"unknown kind {kind!r}; expected one of {KINDS}")
    sets = {role: read_role(path / role) for role in ROLES[kind]}
    check_disjoint(sets)
    relevant = read_relevant(path / RELEVANT, sets["query"], sets["gallery"]) if kind == "search" else None
    readme = (path / README).read_text(encoding="utf-8").strip() if (path / README).is_file() else ""
    protocol = Protocol(kind, readme, sets, relevant)
    if kind == "open" and not set(protocol.test.utt2spk.values()) & set(protocol.enroll.utt2spk.values()):
        raise ProtocolError(f"{path / 'probe' / UTT2SPK}: no probe of an enrolled identity")
    if kind == "closed":
        check_closed(protocol)
    return protocol


def check_disjoint(sets: Mapping[str, RoleSet]) -> None:
    """No item may appear in two roles (a probe that is also a gallery item would match itself)."""
    owner: dict[str, RoleSet] = {}
    for items in sets.values():
        for utt in items.vid:
            if utt in owner:
                raise ProtocolError(f"{items.where(utt)}: duplicate item {utt!r}, also at {owner[utt].where(utt)}")
            owner[utt] = items


def check_closed(protocol: Protocol) -> None:
    """In a closed set every probe's identity is enrolled."""
    enrolled = set(protocol.enroll.utt2spk.values())
    probe = protocol.test
    for utt, spk in probe.utt2spk.items():
        if spk not in enrolled:
            raise ProtocolError(f"{probe.where(utt)}: probe {utt!r} of identity {spk!r}, which has no gallery "
                                f"item (a closed set needs every probe identity enrolled)")


def read_relevant(path: Path, query: RoleSet, gallery: RoleSet) -> dict[str, list[str]]:
    """``<query> [<gallery item> ...]`` lines: one per query of ``query/spk2utt``, items from ``gallery``."""
    relevant: dict[str, list[str]] = {}
    queries = set(query.utt2spk.values())
    for lineno, (q, *items) in _rows(path, 1, None, "the relevant items of each query"):
        if q not in queries:
            raise TableError(path, lineno, f"query {q!r} is not an identity of {query.path / UTT2SPK}")
        if q in relevant:
            raise TableError(path, lineno, f"duplicate query {q!r}")
        if len(set(items)) != len(items):
            raise TableError(path, lineno, f"query {q!r} lists a gallery item twice")
        for item in items:
            if item not in gallery.vid:
                raise TableError(path, lineno, f"relevant item {item!r} is not in {gallery.path / VID_SCP}")
        relevant[q] = items
    missing = sorted(queries - set(relevant))
    if missing:
        raise ProtocolError(f"{path}: queries missing from the key, e.g. {missing[:5]} (a query without relevant "
                            f"items needs a line with its name alone)")
    return relevant


def _rows(path: Path, min_cols: int, max_cols: int | None, what: str) -> list[Row]:
    if not path.is_file():
        raise ProtocolError(f"{path}: no such file ({what})")
    return read_rows(path, min_cols, max_cols)


def _one_word(path: Path, what: str) -> str:
    rows = _rows(path, 1, 1, what)
    if len(rows) != 1:
        raise ProtocolError(f"{path}: expected one line with one word, got {len(rows)} lines")
    return rows[0][1][0]
