"""Results of identification protocols as markdown and JSON tables, and their CMC and DIR-vs-FPIR plots.

One row per (config, back-end, protocol): the headline figures of its kind. Re-ranking rows follow their
protocol's plain row (method, setting and parameters in the last column).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from hyp_face.io.table import atomic_write, write_lines
from hyp_face.metrics.plots import _save, fit_title

COLUMNS = ("config", "back-end", "protocol", "R-1", "R-5", "R-10", "DIR@1e-3", "DIR@1e-2", "DIR@1e-1",
           "ID@1e-2", "ID@1e-3", "ID@1e-4", "AUC", "mAP", "re-ranking")


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def _keyed(table: dict, keys: Sequence) -> list:
    """Values of a dict whose keys are numbers, or their JSON (string) form once read back."""
    return [table.get(k, table.get(str(k)) if isinstance(table, dict) else None) for k in keys]


def _rerank_label(row: dict) -> str:
    if row["method"] == "none":
        return ""
    params = ", ".join(f"{k} {v}" for k, v in row["params"].items() if k != "method")
    return f"{row['method']} {row['setting']} ({params})"


def result_rows(result: dict) -> list[dict]:
    """Table rows of one protocol's ``results.json``: its headline row, then one per re-ranking setting."""
    base = {c: "" for c in COLUMNS}
    base.update({"config": result["config"], "back-end": result["backend"], "protocol": result["protocol"]})
    fig = result["figures"]
    rank = fig.get("rank", {})
    base.update(zip(("R-1", "R-5", "R-10"), map(_pct, _keyed(rank, (1, 5, 10)))))
    if "dir" in fig:
        base.update(zip(("DIR@1e-3", "DIR@1e-2", "DIR@1e-1"), map(_pct, _keyed(fig["dir"], (1e-3, 1e-2, 1e-1)))))
    if "id_rate" in fig:
        base.update(zip(("ID@1e-2", "ID@1e-3", "ID@1e-4"), map(_pct, _keyed(fig["id_rate"], (1e-2, 1e-3, 1e-4)))))
        base["AUC"] = f"{fig['auc']:.5f}"
    rows = []
    for rr in fig.get("retrieval", []):
        row = dict(base) if rr["method"] == "none" else {**{c: "" for c in COLUMNS}, **{
            k: base[k] for k in ("config", "back-end", "protocol")}}
        if rr["method"] != "none" or result["kind"] == "search":
            row.update(zip(("R-1", "R-5", "R-10"), map(_pct, _keyed(rr["rank"], (1, 5, 10)))))
        row["mAP"], row["re-ranking"] = _pct(rr["map"]), _rerank_label(rr)
        rows.append(row)
    return rows or [base]


def markdown(rows: Sequence[dict]) -> list[str]:
    """A markdown table of ``rows`` (figures in %, AUC as a fraction)."""
    used = [c for c in COLUMNS if any(r[c] for r in rows) or c in ("config", "back-end", "protocol")]
    return ["| " + " | ".join(used) + " |", "|" + "---|" * len(used)] + [
        "| " + " | ".join(r[c] for c in used) + " |" for r in rows]


def few_negatives_notes(results: Sequence[dict]) -> list[str]:
    """Notes on the figures at a false positive rate below 1 / (number of negatives): there, no false positive is
    allowed at all, so the figure says only where the single highest non-mated score lies."""
    notes = []
    for result in results:
        n = result["figures"].get("n_unknown")
        low = [f for f in (1e-3, 1e-2, 1e-1) if n and f * n < 1 and "dir" in result["figures"]]
        if low:
            notes.append(f"Note: {result['protocol']} has {n} unknown probes, fewer than 1/FPIR for DIR@"
                         + ", ".join(f"{f:g}" for f in low) + ": there no false positive is allowed.")
    return notes


def write_tables(out_dir: str | os.PathLike, results: Sequence[dict]) -> list[dict]:
    """``results.md`` and ``results.json`` (the rows and every protocol's full results) in ``out_dir``."""
    rows = [row for result in results for row in result_rows(result)]
    out_dir = Path(out_dir)
    notes = few_negatives_notes(results)
    write_lines(out_dir / "results.md", markdown(rows) + ([""] + notes if notes else []))
    with atomic_write(out_dir / "results.json") as f:
        json.dump({"rows": rows, "results": list(results)}, f, indent=1)
        f.write("\n")
    return rows


def plot_cmc(curves: dict[str, Sequence[float]], path: str | os.PathLike, title: str = "") -> None:
    """CMC curves (share of queries with a match within rank k), one line per label; each later curve is thinner
    and dashed, so that one that coincides with an earlier one shows on top of it instead of hiding it."""
    fig, ax = plt.subplots(figsize=(5.5, 4.5), layout="constrained")
    for i, (label, cmc) in enumerate(curves.items()):
        ax.step(np.arange(1, len(cmc) + 1), 100 * np.asarray(cmc), where="post", label=label,
                linewidth=max(2.5 - 0.6 * i, 1.0), linestyle="-" if i == 0 else (0, (4, 1 + i)), zorder=2 + i)
    ax.set_xscale("log")
    ax.set_xlabel("rank k", fontsize=9)
    ax.set_ylabel("identification rate within rank k (%)", fontsize=9)
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fit_title(fig, title)
    _save(fig, path)


def plot_dir_fpir(fpir: Sequence[float], dir_: Sequence[float], path: str | os.PathLike, title: str = "") -> None:
    """Open-set DIR (rank 1) against the achieved FPIR, log FPIR axis."""
    fig, ax = plt.subplots(figsize=(5.5, 4.5), layout="constrained")
    x, y = np.asarray(fpir), 100 * np.asarray(dir_)
    keep = x > 0
    ax.plot(x[keep], y[keep], marker=".", linewidth=1.5)
    ax.set_xscale("log")
    ax.set_xlabel("false positive identification rate (FPIR)", fontsize=9)
    ax.set_ylabel("detection and identification rate, rank 1 (%)", fontsize=9)
    ax.grid(True, which="both", linewidth=0.3)
    fit_title(fig, title)
    _save(fig, path)
