"""Data preparation of a user's own corpus laid out in folders (see ``docs/data_preparation.md``).

Layout::

    <corpus>/enroll/<model>/<file>.<video or photo ext>   enrollment media of model <model>
    <corpus>/enroll/<model>/<file>.box                    optional face boxes of that medium
    <corpus>/test/<any/sub/path>.<video or photo ext>     test media; test id = relative path without extension
    <trials>                                              <model> <test id> [target|nontarget]

Output: ``<prefix>_enroll`` (utt ``<model>-<relative path without extension>``, ``face_boundingbox`` from the
``.box`` files) and ``<prefix>_test`` (``trials``), in the formats of the LDC data dirs. Photos are one-frame media.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .datadir import DataDir, exclude_and_write, parse_box_row, read_trial_rows
from .table import TableError, read_rows

log = logging.getLogger(__name__)

VIDEO_EXTS = frozenset(".mp4 .m4v .mov .avi .mkv .webm .mpg .mpeg .wmv .flv .3gp .ts".split())
PHOTO_EXTS = frozenset(".jpg .jpeg .png .bmp .gif .tif .tiff .webp".split())
MEDIA_EXTS = VIDEO_EXTS | PHOTO_EXTS
BOX_EXT = ".box"


def check_id(kind: str, value: str, path: Path) -> str:
    """Kaldi ids and paths cannot contain whitespace."""
    if not value or any(c.isspace() for c in value) or any(c.isspace() for c in str(path)):
        raise ValueError(f"{path}: {kind} {value!r} (or its path) is empty or contains whitespace")
    return value


def media_files(folder: Path) -> dict[str, Path]:
    """Media files under ``folder`` (recursive, hidden entries skipped): id (relative path, no extension) -> path.

    Two files with the same id (e.g. ``a.jpg`` and ``a.mp4``) are an error; other files are ignored with a warning.
    """
    found: dict[str, Path] = {}
    ignored = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        ext = path.suffix.lower()
        if ext not in MEDIA_EXTS:
            if ext != BOX_EXT:
                ignored.append(str(rel))
            continue
        key = check_id("media id", rel.with_suffix("").as_posix(), path)
        if key in found:
            raise ValueError(f"{path}: same id {key!r} as {found[key]}")
        found[key] = path.resolve()
    if ignored:
        exts = " ".join(sorted(MEDIA_EXTS))
        log.warning("%s: ignoring %d files that are not media (%s): %s", folder, len(ignored), exts, ignored[:10])
    return found


def read_box_file(path: Path, utt: str) -> list[tuple[str, ...]]:
    """``face_boundingbox`` rows of one medium from ``<instant> <x1> <y1> <x2> <y2>`` lines (validated)."""
    rows = []
    for lineno, fields in read_rows(path, 5, 5):
        parse_box_row(path, lineno, fields[0], fields[1:])
        rows.append((utt, *fields))
    return rows


def folder_enrollment(enroll_dir: Path) -> DataDir:
    """Enrollment dir: every medium of ``enroll/<model>/`` is an utterance ``<model>-<id>`` of that model."""
    if not enroll_dir.is_dir():
        raise FileNotFoundError(f"{enroll_dir}: no enrollment folder")
    vid, utt2spk, boxes = {}, {}, []
    for model_dir in sorted(p for p in enroll_dir.iterdir() if not p.name.startswith(".")):
        if not model_dir.is_dir():
            raise ValueError(f"{model_dir}: enrollment media must be in a folder per model: enroll/<model>/<file>")
        model = check_id("model id", model_dir.name, model_dir)
        media = media_files(model_dir)
        if not media:
            broken = sorted(p.name for p in model_dir.iterdir() if p.is_symlink() and not p.exists())
            log.warning("%s: model %s has no media, skipped%s", model_dir, model,
                        f" (broken links: {', '.join(broken)})" if broken else "")
        for key, path in media.items():
            utt = f"{model}-{key}"
            vid[utt], utt2spk[utt] = str(path), model
            box_file = model_dir / f"{key}{BOX_EXT}"
            if box_file.is_file():
                boxes.extend(read_box_file(box_file, utt))
    if not vid:
        raise ValueError(f"{enroll_dir}: no enrollment media found")
    orphans = [p for p in enroll_dir.rglob(f"*{BOX_EXT}") if not any(p.with_suffix(e).exists() for e in MEDIA_EXTS)]
    if orphans:
        log.warning("%s: .box files without a medium of the same name: %s", enroll_dir, [str(p) for p in orphans[:10]])
    return DataDir(vid, utt2spk, boxes=sorted(boxes, key=lambda r: r[0]))


def folder_trials(path: str | os.PathLike, models: set[str], tests: set[str]) -> list[tuple[str, ...]]:
    """Trial rows (file order), every model and test id checked; errors name the file and line."""
    trials = []
    for lineno, fields in read_trial_rows(path):
        if fields[0] not in models:
            raise TableError(path, lineno, f"model {fields[0]!r} has no folder with media under enroll/")
        if fields[1] not in tests:
            raise TableError(path, lineno, f"test {fields[1]!r} is not a medium under test/ (ids have no extension)")
        trials.append(tuple(fields))
    return trials


def prepare_folder_corpus(
    corpus_dir: str | os.PathLike, trials_path: str | os.PathLike, prefix: str | os.PathLike, strict: bool = False
) -> None:
    """Write ``<prefix>_enroll`` and ``<prefix>_test`` from a folder corpus and a trial list.

    Empty media files are left out with a warning (and their trials), or are an error with ``strict``.
    """
    corpus = Path(corpus_dir)
    enroll = folder_enrollment(corpus / "enroll")
    if not (corpus / "test").is_dir():
        raise FileNotFoundError(f"{corpus / 'test'}: no test folder")
    tests = media_files(corpus / "test")
    trials = folder_trials(trials_path, set(enroll.utt2spk.values()), set(tests))
    test = DataDir({t: str(p) for t, p in tests.items()}, {t: t for t in tests}, trials=trials)
    prefix = Path(prefix)
    names = (f"{prefix.name}_enroll", f"{prefix.name}_test")
    ids = ({u: u for u in enroll.vid}, {t: t for t in tests})
    exclude_and_write(prefix.parent, names, (enroll, test), ids, set(), strict)
