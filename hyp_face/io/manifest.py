"""Job manifests: what a job's outputs were made from, so that a rerun redoes exactly the changed jobs.

Every job (one extraction part, one back-end scoring, one calibration, one scoring) writes
``<first output>.manifest.json`` beside its outputs once they are complete. The manifest records the content
hashes of the job's inputs, the options that change its outputs, and the code version. A rerun skips the job
only when all its outputs exist and the manifest it would write now is the one on disk; otherwise it redoes the
job and says what changed in one line (see docs/rerun.md).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import hyp_face
from hyp_face.io.table import atomic_write, read_scp

MANIFEST_SUFFIX = ".manifest.json"
RERUN_TAG = "rerun:"  # utils/show_rerun.sh copies the job log line holding this tag to the console
FRESH = ""  # rerun_reason() when the job never ran: no output and no manifest
PACKAGE_DIR = Path(hyp_face.__file__).parent
_SHOWN_CHANGES = 3
_GROUP_ORDER = ("options", "frontend", "job", "code", "inputs")


def manifest_path(output: str | os.PathLike) -> Path:
    """The manifest written beside ``output``."""
    output = Path(output)
    return output.with_name(output.name + MANIFEST_SUFFIX)


def sha256_of(path: str | os.PathLike) -> str:
    """sha256 of a file's content, read in blocks of 1 MiB (not cached: see :func:`file_sha256`)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@functools.lru_cache(maxsize=4096)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    return sha256_of(path)


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's content (cached per process while its size and mtime stay the same)."""
    st = os.stat(path)
    return _file_sha256(os.path.abspath(path), st.st_size, st.st_mtime_ns)


def media_stamps(paths: Iterable[str]) -> str:
    """sha256 of each media file's size and modification time (``absent`` for a missing file or a URL): a video
    repaired, replaced or deleted in place changes it. The content is not read: hashing every video of a corpus
    would cost a full read of it at each rerun."""
    stamps = []
    for path in paths:
        try:
            st = os.stat(path)
            stamps.append([st.st_size, st.st_mtime_ns])
        except OSError:
            stamps.append("absent")
    return json_sha256(stamps)


def json_sha256(obj: Any) -> str:
    """sha256 of the canonical JSON text of ``obj``."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def input_digest(path: str | os.PathLike, follow_scp: bool = False) -> str:
    """Content hash of an input file; with ``follow_scp``, also of every file its ``<key> <file>`` lines name
    (an ``embed.scp`` whose HDF5 files were rewritten in place is a changed input)."""
    if not follow_scp:
        return file_sha256(path)
    targets = sorted(set(read_scp(path).values()))
    return json_sha256([file_sha256(path)] + [[t, file_sha256(t)] for t in targets])


@functools.lru_cache(maxsize=None)
def code_version(parts: tuple[str, ...]) -> dict[str, str]:
    """hyp_face's version and one sha256 of the package sources under ``parts`` (files or folders relative to the
    package, e.g. ``("extract.py", "detect")``); computed once per process. Missing parts are skipped."""
    h = hashlib.sha256()
    for part in parts:
        root = PACKAGE_DIR / part
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root] if root.is_file() else []
        for f in files:
            h.update(f.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return {"hyp_face": hyp_face.__version__, "source_sha256": h.hexdigest()}


def options_of(args: argparse.Namespace, neutral: Iterable[str]) -> dict[str, Any]:
    """The parsed options that change a job's outputs: all of ``args`` except the ``neutral`` names."""
    skip = set(neutral)
    return {k: v for k, v in sorted(vars(args).items()) if k not in skip}


def step_manifest(args: argparse.Namespace, inputs: Mapping[str, str | None], neutral: Iterable[str],
                  code_parts: Sequence[str], scp_inputs: Iterable[str] = ()) -> dict[str, Any]:
    """Manifest of a one-job step whose inputs are the files ``inputs`` (option name -> path, None when unset).

    The input paths are recorded by content (``scp_inputs`` also by the files they list), so they and the
    ``neutral`` options (outputs, devices, threads, verbosity) are left out of the options."""
    follow = set(scp_inputs)
    return {
        "inputs": {name: input_digest(path, name in follow) for name, path in sorted(inputs.items()) if path},
        "options": options_of(args, set(neutral) | set(inputs)),
        "code": code_version(tuple(code_parts)),
    }


def read_manifest(path: str | os.PathLike) -> dict[str, Any] | None:
    """The manifest at ``path``, or None when it is missing or unreadable (then the job is redone)."""
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def write_manifest(path: str | os.PathLike, manifest: Mapping[str, Any]) -> None:
    """Write ``manifest`` atomically as sorted, indented JSON."""
    with atomic_write(path) as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, Mapping):
        flat: dict[str, Any] = {}
        for k, v in obj.items():
            flat.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return flat
    return {prefix: obj}


def _show(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, float):
        return f"{value:g}"
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _describe(name: str, old: Any, new: Any) -> str:
    group, _, short = name.partition(".")
    short = f"code {short}" if group == "code" else short or group
    if isinstance(old, str) and isinstance(new, str) and len(old) == len(new) == 64:  # a sha256
        return f"{short} changed"
    return f"{short} changed {_show(old)} \u2192 {_show(new)}"


def _cause_first(name: str) -> tuple[int, str]:
    """Causes before consequences: a new job split changes each job's inputs too."""
    group = name.partition(".")[0]
    return (_GROUP_ORDER.index(group) if group in _GROUP_ORDER else len(_GROUP_ORDER), name)


def manifest_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs between two manifests, one phrase per changed field (e.g. ``fps changed 1 → 5``), options
    first, inputs last."""
    a, b = _flatten(old), _flatten(new)
    changed = sorted((k for k in set(a) | set(b) if a.get(k) != b.get(k)), key=_cause_first)
    return [_describe(k, a.get(k), b.get(k)) for k in changed]


def rerun_reason(manifest: Mapping[str, Any], outputs: Sequence[str | os.PathLike],
                 manifest_file: str | os.PathLike | None = None) -> str | None:
    """None when the job is done with this very manifest, :data:`FRESH` when it never ran, else what changed.

    The manifest on disk is ``manifest_file`` (default: beside ``outputs[0]``); JSON round-tripping (tuples
    become lists) is undone by comparing the JSON forms."""
    on_disk = read_manifest(manifest_file or manifest_path(outputs[0]))
    missing = [str(o) for o in outputs if not Path(o).exists()]
    if on_disk is None:
        return FRESH if len(missing) == len(outputs) else "no manifest of the previous run"
    if missing:
        return f"output {missing[0]} missing"
    changes = manifest_changes(on_disk, json.loads(json.dumps(manifest)))
    if not changes:
        return None
    more = f" and {len(changes) - _SHOWN_CHANGES} more" if len(changes) > _SHOWN_CHANGES else ""
    return ", ".join(changes[:_SHOWN_CHANGES]) + more


def remove_stale_tmp(folder: str | os.PathLike, name: str = "") -> list[Path]:
    """Remove the ``.<name>.*.tmp`` files that writers killed mid-way left in ``folder`` (every ``.*.tmp`` file
    without ``name``); returns what was removed."""
    stale = sorted(Path(folder).glob(f".{name}.*.tmp" if name else ".*.tmp"))
    for path in stale:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return stale


class Job:
    """One job's outputs and the manifest it would write now; decides, logs, and records completion.

    ``start`` logs one ``rerun:`` line (none for a job that never ran) and returns False when the job can be
    skipped. Otherwise it removes the old manifest and stale temporary files; the caller does the work, then
    calls ``finish``.
    """

    def __init__(self, label: str, outputs: Sequence[str | os.PathLike], manifest: Mapping[str, Any],
                 manifest_file: str | os.PathLike | None = None):
        self.label = label
        self.outputs = [Path(o) for o in outputs]
        self.manifest = manifest
        self.manifest_file = Path(manifest_file or manifest_path(self.outputs[0]))

    def reason(self) -> str | None:
        """See :func:`rerun_reason`."""
        return rerun_reason(self.manifest, self.outputs, self.manifest_file)

    def start(self, log: logging.Logger) -> bool:
        """True when the job must run (logged with the reason), False when its outputs are up to date."""
        reason = self.reason()
        if reason is None:
            log.info("%s %s: inputs, options and code unchanged, skipping", RERUN_TAG, self.label)
            return False
        if reason != FRESH:
            log.info("%s %s: %s, redoing", RERUN_TAG, self.label, reason)
        self.manifest_file.unlink(missing_ok=True)
        for out in self.outputs:
            remove_stale_tmp(out.parent, out.name)
        return True

    def finish(self) -> None:
        """Record that the outputs are complete."""
        write_manifest(self.manifest_file, self.manifest)
