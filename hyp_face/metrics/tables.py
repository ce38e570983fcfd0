"""Result tables over back-ends, normalisations and evaluation sets (docs/original_recipe.md §3.6, 8.4)."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from hyp_face.backend.versions import SPECS, parse_be_name

log = logging.getLogger(__name__)

DEFAULT_SETS = ("sre19_av_v_dev", "sre19_av_v_eval", "janus_dev_core", "janus_eval_core")
SET_TITLES = {
    "sre19_av_v_dev": "SRE19 DEV AV",
    "sre19_av_v_eval": "SRE19 EVAL AV",
    "janus_dev_core": "JANUS DEV CORE",
    "janus_eval_core": "JANUS EVAL CORE",
}


def score_subdirs(ncoh: int = 1000, cal_name: str = "cal_v1_sre19",
                  snorm_cal_name: str | None = None) -> tuple[tuple[str, str], ...]:
    """Calibrated score sub-directories the run_04x scripts write in a back-end dir, with the suffix of their row
    name: raw scores, faithful s-norm (``s-norm``, the original's row name) and the textbook ``asnorm``. The s-norm
    scores' calibration may differ from the raw ones' (``snorm_cal_name``, default ``cal_name``)."""
    snorm_cal = snorm_cal_name or cal_name
    return (("cosine_" + cal_name, ""), (f"cosine_snorm{ncoh}_v1_{snorm_cal}", "s-norm"),
            (f"cosine_asnorm{ncoh}_{snorm_cal}", "asnorm"))


DEFAULT_SUBDIRS = score_subdirs()
P_PRIMARY = "0.05"


@dataclass
class Row:
    """One table line: a back-end's calibrated directory and its results per set (None = missing)."""

    system: str
    path: str
    results: dict[str, dict | None]
    backend: dict[str, str | float] | None = None  # version and parameters read from the directory name


@dataclass
class Table:
    sets: list[str]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _natural_key(name: str) -> list:
    """Sort ``be_v2`` before ``be_v10``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _read_results(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: bad results JSON: {e}") from e


def _backend_of(name: str) -> dict[str, str | float] | None:
    """``{"version": .., <param>: ..}`` of a back-end directory name, None if it is not one of ``be_name``'s."""
    params = parse_be_name(name)
    if params is None:
        return None
    return {"version": params.version, **{p: getattr(params, p) for p in SPECS[params.version].params}}


def collect(score_dir: str | Path, sets=DEFAULT_SETS, subdirs=DEFAULT_SUBDIRS, pattern: str = "be_*") -> Table:
    """Read ``<score_dir>/<be>/<subdir>/<set>_results.json`` for every back-end dir matching ``pattern``.

    A row per sub-directory that exists (e.g. faithful and asnorm s-norm, whichever were run); a back-end with
    none of them gets a note.
    """
    score_dir = Path(score_dir)
    table = Table(sets=list(sets))
    backends = sorted((p for p in score_dir.glob(pattern) if p.is_dir()), key=lambda p: _natural_key(p.name))
    if not backends:
        table.notes.append(f"no back-end directories {pattern} in {score_dir}")
    for be in backends:
        found = [(be / subdir, suffix) for subdir, suffix in subdirs if (be / subdir).is_dir()]
        if not found:
            table.notes.append(f"{be}: none of {', '.join(d for d, _ in subdirs)}, no row")
        for path, suffix in found:
            results = {}
            for name in sets:
                res_file = path / f"{name}_results.json"
                results[name] = _read_results(res_file) if res_file.is_file() else None
                if results[name] is None:
                    table.notes.append(f"{res_file}: missing, cells left blank")
            table.rows.append(Row(f"{be.name} {suffix}".strip(), str(path), results, _backend_of(be.name)))
    for note in table.notes:
        log.warning(note)
    return table


def _cells(res: dict | None) -> tuple[str, str, str]:
    """EER, Min Cp, Act Cp formatted ``%.2f``, ``%.3f``, ``%.3f``; blanks when missing."""
    if res is None:
        return "", "", ""
    return f"{res['eer_percent']:.2f}", f"{res['min_dcf'][P_PRIMARY]:.3f}", f"{res['act_dcf'][P_PRIMARY]:.3f}"


def _title(name: str) -> str:
    return SET_TITLES.get(name, name)


def to_csv(table: Table) -> str:
    """The original CSV: two header lines, then ``<system>`` and ``EER,MinCp,ActCp`` per set.

    Every line has 1 + 3 x sets fields (the original rows had one more, an empty one after a trailing comma).
    """
    head1 = "System," + ",".join(f"{_title(s)},," for s in table.sets)
    head2 = "," + ",".join("EER,Min Cp,Act Cp" for _ in table.sets)
    lines = [head1, head2]
    for row in table.rows:
        lines.append(",".join([row.system, *(c for s in table.sets for c in _cells(row.results[s]))]))
    return "\n".join(lines) + "\n"


def to_markdown(table: Table) -> str:
    """Markdown table (EER in %, Min/Act Cp at P_target = 0.05) with notes on missing results."""
    cols = [f"{_title(s)} {m}" for s in table.sets for m in ("EER%", "Min Cp", "Act Cp")]
    lines = ["| System | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for row in table.rows:
        cells = [c for s in table.sets for c in _cells(row.results[s])]
        lines.append(f"| {row.system} | " + " | ".join(cells) + " |")
    if table.notes:
        lines += [""] + [f"- note: {n}" for n in table.notes]
    return "\n".join(lines) + "\n"


def to_json(table: Table) -> dict:
    """All numbers of every row and set (full results JSON, or null when missing)."""
    return {
        "sets": table.sets,
        "rows": [{"system": r.system, "path": r.path, "backend": r.backend, "results": r.results}
                 for r in table.rows],
        "notes": table.notes,
    }
