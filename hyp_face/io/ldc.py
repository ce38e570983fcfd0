"""The LDC corpora: SRE19 AV visual track (LDC2019E56/57) and JANUS Multimedia core (LDC2019E55).

Reading (data preparation) and, for the corpus builders of :mod:`hyp_face.corpus`, writing the SRE19 AV ``docs/``
files (:func:`write_sre19_docs`, read back by :func:`prepare_sre19av`).

Produces the data dirs and line formats of the reference recipe (docs/original_recipe.md §4.1/4.2; see ``docs/data_preparation.md``),
with the fixes of docs/original_recipe.md §11.2: columns found by header name (with documented fallback positions), model ids may
contain ``-``, a segment may be enrolled by several models, an explicit exclusion list, a check that every
media file exists and is non-empty, and trial ids validated against the enrollment and test lists. Errors name the
file and the line.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from .datadir import DataDir, exclude_and_write, parse_box_row, parse_number
from .table import TableError, write_lines

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------------- TSV by header name


@dataclass(frozen=True)
class Column:
    """A column looked up by header name (case-insensitive) or, without a header, by 1-based position."""

    key: str
    names: tuple[str, ...]
    position: int
    required: bool = True


@dataclass
class TsvRow:
    """One data line: its number, all fields and the values of the requested columns ("" if absent)."""

    lineno: int
    fields: list[str]
    values: dict[str, str]

    def __getitem__(self, key: str) -> str:
        return self.values[key]


def split_fields(line: str, tabbed: bool) -> list[str]:
    """Fields of a line: tab-separated (empty fields kept) or, for files without tabs, whitespace-separated."""
    line = line.rstrip("\r\n")
    return [f.strip() for f in line.split("\t")] if tabbed else line.split()


def column_indices(path: str | os.PathLike, header: list[str] | None, columns: Sequence[Column]) -> dict[str, int]:
    """0-based index of each column: by header name, else (no header, or name not found) by position."""
    lowered = [h.lower() for h in header] if header is not None else []
    indices = {}
    for col in columns:
        found = next((lowered.index(n) for n in col.names if n in lowered), None)
        if found is None and header is not None:
            log.warning(
                "%s: header has no column named %s; using column %d", path, " or ".join(col.names), col.position
            )
        indices[col.key] = col.position - 1 if found is None else found
    return indices


def read_tsv(path: str | os.PathLike, columns: Sequence[Column]) -> list[TsvRow]:
    """Read a corpus TSV file; the first line is a header if one of its fields is a known column name.

    Rows missing a required column are an error naming the file and line.
    """
    with open(path, encoding="utf-8-sig") as f:
        lines = [(n, line) for n, line in enumerate(f, 1) if line.strip()]
    if not lines:
        return []
    tabbed = "\t" in lines[0][1]
    first = split_fields(lines[0][1], tabbed)
    known = {n for col in columns for n in col.names}
    header = first if any(h.lower() in known for h in first) else None
    indices = column_indices(path, header, columns)
    need = max((indices[c.key] for c in columns if c.required), default=-1) + 1
    rows = []
    for lineno, line in lines[1:] if header is not None else lines:
        fields = split_fields(line, tabbed)
        if len(fields) < need:
            raise TableError(path, lineno, f"expected at least {need} fields, got {len(fields)}: {line.rstrip()!r}")
        values = {c.key: fields[indices[c.key]] if indices[c.key] < len(fields) else "" for c in columns}
        rows.append(TsvRow(lineno, fields, values))
    return rows


def check_unique(path: str | os.PathLike, rows: Sequence[TsvRow], keys: Sequence[str]) -> None:
    """Error naming the line of the first repeated value of the columns ``keys``."""
    seen: dict[tuple[str, ...], int] = {}
    for row in rows:
        value = tuple(row[k] for k in keys)
        if value in seen:
            first = seen[value]
            raise TableError(path, row.lineno, f"duplicate {'/'.join(keys)} {' '.join(value)} (first at line {first})")
        seen[value] = row.lineno


# ----------------------------------------------------------------------------------------------- shared helpers


def read_exclude_list(path: str | os.PathLike | None) -> set[str]:
    """Ids to exclude: first field of each line; ``#`` starts a comment; blank lines ignored."""
    if not path:
        return set()
    ids = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split("#", 1)[0].split()
            if fields:
                ids.add(fields[0])
    return ids


def awk_number(value: float) -> str:
    """Format a number as awk's ``print`` does: integers without decimals, otherwise ``%.6g``."""
    return str(int(value)) if value.is_integer() else "%.6g" % value


# ----------------------------------------------------------------------------------------------- SRE19 AV


SRE19_ENROLL = (Column("model", ("modelid",), 1), Column("segment", ("segmentid",), 2))
SRE19_BBOX = (
    Column("segment", ("segmentid",), 1),
    Column("time", ("time", "timestamp", "time_sec", "seconds"), 3),
    Column("box", ("bbox", "boundingbox", "bounding_box", "box"), 4),
)
SRE19_BBOX_EXTRA = slice(4, 7)  # columns 5-7, copied through unused
SRE19_TRIALS = (Column("model", ("modelid",), 1), Column("segment", ("segmentid",), 2))
SRE19_KEY = SRE19_TRIALS + (Column("label", ("targettype", "target_type"), 4),)
SRE19_LABELS = ("target", "nontarget")


def sre19_doc(root: str | os.PathLike, subset: str, name: str) -> Path:
    """Path of the SRE19 AV ``docs/`` file ``name`` (e.g. ``trial_key``) of a subset (dev or eval)."""
    return Path(root) / "docs" / f"sre19_av_{subset}_{name}.tsv"


def sre19_docs(root: str, subset: str) -> dict[str, Path]:
    """The SRE19 AV ``docs/`` files of a subset (dev or eval) read by the data preparation."""
    names = ("enrollment", "enrollment_boundingbox", "trials", "trial_key")
    return {n: sre19_doc(root, subset, n) for n in names}


def sre19_enrollment(root: str, files: Mapping[str, Path]) -> tuple[DataDir, dict[str, str]]:
    """Enrollment data dir (utt ``<model>-<segment>``) and utt -> segment id."""
    rows = read_tsv(files["enrollment"], SRE19_ENROLL)
    check_unique(files["enrollment"], rows, ("model", "segment"))
    utt2seg, utt2spk = {}, {}
    for row in rows:
        utt = f"{row['model']}-{row['segment']}"
        if utt in utt2seg:
            raise TableError(files["enrollment"], row.lineno, f"utterance id {utt} is ambiguous (ids contain '-')")
        utt2seg[utt], utt2spk[utt] = row["segment"], row["model"]
    vid = {u: f"{root}/data/enrollment/{s}.mp4" for u, s in utt2seg.items()}
    boxes = sre19_boxes(files["enrollment_boundingbox"], utt2seg)
    return DataDir(vid, utt2spk, boxes=boxes), utt2seg


def sre19_boxes(path: Path, utt2seg: Mapping[str, str]) -> list[tuple[str, ...]]:
    """face_boundingbox rows in bbox-file order; a row goes to every utterance of its segment."""
    seg2utts: dict[str, list[str]] = {}
    for utt in sorted(utt2seg):
        seg2utts.setdefault(utt2seg[utt], []).append(utt)
    out, unknown = [], set()
    for row in read_tsv(path, SRE19_BBOX):
        coords = [c.strip() for c in row["box"].split(",")]
        if len(coords) != 4:
            raise TableError(path, row.lineno, f"box must be x1,y1,x2,y2, got {row['box']!r}")
        parse_box_row(path, row.lineno, row["time"], coords)
        if row["segment"] not in seg2utts:
            unknown.add(row["segment"])
        for utt in seg2utts.get(row["segment"], []):
            out.append((utt, row["time"], *coords, *row.fields[SRE19_BBOX_EXTRA]))
    if unknown:
        log.warning("%s: ignoring boxes of %d segments not enrolled: %s", path, len(unknown), sorted(unknown)[:10])
    missing = sorted(set(utt2seg) - {r[0] for r in out})
    if missing:
        log.warning("%s: %d enrollment utterances have no box: %s", path, len(missing), missing[:10])
    return out


def sre19_trials(files: Mapping[str, Path], models: set[str]) -> tuple[list[str], list[tuple[str, ...]]]:
    """Test segments (of the trial list) and trials ``(model, segment, label)`` (key order), cross-checked."""
    trial_rows = read_tsv(files["trials"], SRE19_TRIALS)
    key_rows = read_tsv(files["trial_key"], SRE19_KEY)
    for path, rows in ((files["trials"], trial_rows), (files["trial_key"], key_rows)):
        check_unique(path, rows, ("model", "segment"))
        for row in rows:
            if row["model"] not in models:
                raise TableError(path, row.lineno, f"model {row['model']!r} is not in {files['enrollment']}")
    for row in key_rows:
        if row["label"] not in SRE19_LABELS:
            msg = f"unknown targettype {row['label']!r} (expected target or nontarget)"
            raise TableError(files["trial_key"], row.lineno, msg)
    check_same_pairs((files["trials"], trial_rows), (files["trial_key"], key_rows))
    segments = sorted({row["segment"] for row in trial_rows})
    return segments, [(row["model"], row["segment"], row["label"]) for row in key_rows]


def check_same_pairs(a: tuple[Path, list[TsvRow]], b: tuple[Path, list[TsvRow]]) -> None:
    """The trial list and the key must hold the same (model, segment) pairs; names the first line that differs."""
    for (path, rows), (other_path, other_rows) in ((a, b), (b, a)):
        pairs = {(r["model"], r["segment"]) for r in other_rows}
        for row in rows:
            if (row["model"], row["segment"]) not in pairs:
                raise TableError(path, row.lineno, f"trial {row['model']} {row['segment']} is not in {other_path}")


def prepare_sre19av(
    root: str, out_dir: str | os.PathLike, subset: str, exclude: set[str] = frozenset(), strict: bool = False
) -> None:
    """Write ``sre19_av_v_<subset>_enroll`` and ``sre19_av_v_<subset>_test`` under ``out_dir`` (docs/original_recipe.md §4.1).

    ``exclude`` holds segment ids to leave out (with their trials); missing or empty videos are left out with a
    warning, or are an error with ``strict``.
    """
    files = sre19_docs(root, subset)
    enroll, utt2seg = sre19_enrollment(root, files)
    segments, trials = sre19_trials(files, set(enroll.utt2spk.values()))
    test = DataDir(
        vid={s: f"{root}/data/test/{s}.mp4" for s in segments},
        utt2spk={s: s for s in segments},
        trials=trials,
        copies={"trials.tsv": files["trials"], "trial_key.tsv": files["trial_key"]},
    )
    names = (f"sre19_av_v_{subset}_enroll", f"sre19_av_v_{subset}_test")
    exclude_and_write(Path(out_dir), names, (enroll, test), (utt2seg, {s: s for s in segments}), exclude, strict)


# ----------------------------------------------------------------------------------------------- SRE19 AV writer

#: Header line of each docs file written by :func:`write_sre19_docs` (the column names the reader looks up).
SRE19_HEADERS = {
    "enrollment": "modelid\tsegmentid",
    "enrollment_boundingbox": "segmentid\tframe\ttime\tbbox\tvisible\tpose\tsource",
    "trials": "modelid\tsegmentid\tside",
    "trial_key": "modelid\tsegmentid\tside\ttargettype",
    "segment_key": "segmentid\tsubjectid\tpartition",
}
SRE19_SIDE = "a"  # the trial side column of the visual track


@dataclass(frozen=True)
class BoxAnnotation:
    """One annotated face of an enrollment segment: frame, instant (s), box ``x1, y1, x2, y2`` (pixels), source."""

    segment: str
    frame: int
    time: float
    box: tuple[float, float, float, float]
    source: str

    def row(self) -> str:
        """The bounding-box line (time to 0.01 s, box to whole pixels, a visible frontal face)."""
        x1, y1, x2, y2 = self.box
        return f"{self.segment}\t{self.frame}\t{self.time:.2f}\t{x1:.0f},{y1:.0f},{x2:.0f},{y2:.0f}\t1\tfrontal\t{self.source}"


@dataclass
class Sre19Docs:
    """The rows of the ``docs/`` files of one SRE19 AV partition, as a corpus builder produces them.

    ``key`` holds ``(model, segment, targettype)``; the trial list is the key without its label. ``segment_key``
    (``segment, subject, partition``) is written only when given; the data preparation does not read it.
    """

    enrollment: list[tuple[str, str]] = field(default_factory=list)
    boxes: list[BoxAnnotation] = field(default_factory=list)
    key: list[tuple[str, str, str]] = field(default_factory=list)
    segment_key: list[tuple[str, str, str]] | None = None


def cross_trial_key(models: Sequence[tuple[str, str]], tests: Sequence[tuple[str, str | None]]
                    ) -> list[tuple[str, str, str]]:
    """Every ``(model id, identity)`` against every ``(segment, identity)``: a target when the identities match."""
    return [(model, seg, "target" if who == person else "nontarget") for model, person in models for seg, who in tests]


def write_sre19_docs(root: str | os.PathLike, subset: str, docs: Sre19Docs) -> None:
    """Write the ``docs/`` TSV files of one partition (with headers) as LDC2019E56/57 lays them out."""
    for model, seg, label in docs.key:
        if label not in SRE19_LABELS:
            raise ValueError(f"trial {model} {seg}: label {label!r} is not target or nontarget")
    rows = {
        "enrollment": ["\t".join(r) for r in docs.enrollment],
        "enrollment_boundingbox": [b.row() for b in docs.boxes],
        "trials": [f"{model}\t{seg}\t{SRE19_SIDE}" for model, seg, _ in docs.key],
        "trial_key": [f"{model}\t{seg}\t{SRE19_SIDE}\t{label}" for model, seg, label in docs.key],
    }
    if docs.segment_key is not None:
        rows["segment_key"] = ["\t".join(r) for r in docs.segment_key]
    for name, lines in rows.items():
        write_lines(sre19_doc(root, subset, name), [SRE19_HEADERS[name], *lines])


# ----------------------------------------------------------------------------------------------- JANUS


JANUS_MEDIA = (
    Column("video", ("video",), 1),
    Column("dev.enroll", ("dev.enroll",), 3, required=False),
    Column("dev.test", ("dev.core.test",), 4, required=False),
    Column("eval.enroll", ("eval.enroll",), 6, required=False),
    Column("eval.test", ("eval.core.test",), 7, required=False),
    Column("frame", ("face_frame",), 11, required=False),
    Column("x", ("face_x",), 12, required=False),
    Column("y", ("face_y",), 13, required=False),
    Column("w", ("face_w", "face_width"), 14, required=False),
    Column("h", ("face_h", "face_height"), 15, required=False),
)
JANUS_TRIALS = (
    Column("enroll", ("enroll_file",), 1),
    Column("test", ("test_file",), 2),
    Column("label", ("label",), 3),
    Column("condition", ("condition",), 4),
)
JANUS_LABELS = {"Y": "target", "N": "nontarget"}


def janus_media_path(root: str, video: str) -> str:
    """On disk the ``video/`` folder of the ids is ``videos/``."""
    return f"{root}/{video.replace('video/', 'videos/', 1)}"


def janus_box(path: Path, row: TsvRow) -> tuple[str, ...]:
    """``<id> <frame> <x> <y> <x+w> <y+h>`` (frame, x, y verbatim; sums formatted as awk does)."""
    vals = {k: parse_number(path, row.lineno, row[k], f"face_{k}") for k in ("frame", "x", "y", "w", "h")}
    if vals["w"] < 0 or vals["h"] < 0:
        raise TableError(path, row.lineno, f"negative face width or height: {row['w']} {row['h']}")
    x2, y2 = awk_number(vals["x"] + vals["w"]), awk_number(vals["y"] + vals["h"])
    return (row["video"], row["frame"], row["x"], row["y"], x2, y2)


def janus_enroll(root: str, path: Path, rows: Sequence[TsvRow], flag: str) -> DataDir:
    """Enrollment dir of the rows flagged ``Y`` in column ``flag``: each video is its own model."""
    sel = [r for r in rows if r[flag] == "Y"]
    vid = {r["video"]: janus_media_path(root, r["video"]) for r in sel}
    return DataDir(vid, {v: v for v in vid}, boxes=[janus_box(path, r) for r in sel])


def janus_trials(
    path: Path, rows: Sequence[TsvRow], condition: str, models: set[str], tests: set[str]
) -> list[tuple[str, ...]]:
    """Trials of one CONDITION (key order), labels Y/N -> target/nontarget, ids checked against the lists."""
    sel = [r for r in rows if r["condition"] == condition]
    check_unique(path, sel, ("enroll", "test"))
    trials = []
    for row in sel:
        if row["label"] not in JANUS_LABELS:
            raise TableError(path, row.lineno, f"unknown LABEL {row['label']!r} (expected Y or N)")
        if row["enroll"] not in models:
            raise TableError(path, row.lineno, f"ENROLL_FILE {row['enroll']!r} is not a {condition} enrollment video")
        if row["test"] not in tests:
            raise TableError(path, row.lineno, f"TEST_FILE {row['test']!r} is not a {condition} test video")
        trials.append((row["enroll"], row["test"], JANUS_LABELS[row["label"]]))
    return trials


def prepare_janus_core(
    root: str, out_dir: str | os.PathLike, exclude: set[str] = frozenset(), strict: bool = False
) -> None:
    """Write ``janus_{dev,eval}_enroll`` and ``janus_{dev,eval}_test_core`` under ``out_dir`` (docs/original_recipe.md §4.2).

    ``exclude`` holds video ids (e.g. ``video/1041.mp4``) left out of every set, with their trials.
    """
    docs = Path(root) / "docs"
    media_path, trials_path = docs / "janus_multimedia.tsv", docs / "janus_multimedia_trials.tsv"
    media = read_tsv(media_path, JANUS_MEDIA)
    check_unique(media_path, media, ("video",))
    key = read_tsv(trials_path, JANUS_TRIALS)
    for subset in ("dev", "eval"):
        enroll = janus_enroll(root, media_path, media, f"{subset}.enroll")
        tests = sorted(r["video"] for r in media if r[f"{subset}.test"] == "Y")
        trials = janus_trials(trials_path, key, f"{subset.upper()}.CORE", set(enroll.vid), set(tests))
        test = DataDir({t: janus_media_path(root, t) for t in tests}, {t: t for t in tests}, trials=trials)
        names = (f"janus_{subset}_enroll", f"janus_{subset}_test_core")
        ids = ({v: v for v in enroll.vid}, {t: t for t in tests})
        exclude_and_write(Path(out_dir), names, (enroll, test), ids, exclude, strict)
