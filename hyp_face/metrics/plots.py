"""Diagnostic plots (matplotlib, Agg backend): DET curve of the ROC convex hull and score histograms."""

from __future__ import annotations

import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy.stats import norm  # noqa: E402

from hyp_face.io.table import atomic_write  # noqa: E402
from hyp_face.metrics.dcf import bayes_threshold  # noqa: E402
from hyp_face.metrics.rocch import Rocch, rocch_eer  # noqa: E402

DET_TICKS = np.array([0.0001, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4])
#: Points per hull segment and axis: evenly spaced on the probit scale, so curved DET segments look smooth.
DET_DOTS = 32
TITLE_FONTSIZE = 11
MIN_TITLE_FONTSIZE = 6
MIN_TITLE_CHARS = 20
MIN_BINS, MAX_BINS = 10, 80
TARGET_COLOR, NONTARGET_COLOR = "tab:blue", "tab:red"


def _save(fig: Figure, path: str | os.PathLike) -> None:
    """Save a figure atomically as PNG and close it."""
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)


def _tokens(title: str, width: int) -> list[str]:
    """Pieces of ``title`` that end at a space or ``/``; a piece longer than ``width`` is cut after its ``_``."""
    pieces = re.split(r"(?<=[/\s])", title)
    return [sub for piece in pieces for sub in (re.split(r"(?<=_)", piece) if len(piece) > width else [piece])]


def _wrap(title: str, width: int) -> str:
    """Greedy line wrap of ``title`` (paths and set names) at :func:`_tokens`, lines of about ``width`` chars."""
    lines, line = [], ""
    for token in _tokens(title, width):
        if line and len(line) + len(token.rstrip()) > width:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
    lines.append(line.rstrip())
    return "\n".join(lines)


def fit_title(fig: Figure, title: str) -> None:
    """Set the figure title, wrapped and if needed shrunk until the renderer places it wholly inside the figure."""
    if not title:
        return
    width, size = len(title), TITLE_FONTSIZE
    while True:
        text = fig.suptitle(_wrap(title, width), fontsize=size)
        fig.canvas.draw()
        box = text.get_window_extent(fig.canvas.get_renderer())
        inside = box.x0 >= fig.bbox.x0 and box.x1 <= fig.bbox.x1 and box.y0 >= fig.bbox.y0 and box.y1 <= fig.bbox.y1
        if inside or size <= MIN_TITLE_FONTSIZE:
            return
        if width > MIN_TITLE_CHARS:
            width = max(MIN_TITLE_CHARS, int(width * 0.8))
        else:
            size -= 1


def _clip_to_box(p0: np.ndarray, p1: np.ndarray, lo: float, hi: float) -> tuple[float, float] | None:
    """Parameter range ``[t0, t1]`` of the segment ``p0 + t (p1 - p0)``, ``0 <= t <= 1``, inside ``[lo, hi]^2``."""
    t0, t1 = 0.0, 1.0
    for c0, d in zip(p0, p1 - p0):
        if d == 0:
            if not lo <= c0 <= hi:
                return None
            continue
        a, b = sorted(((lo - c0) / d, (hi - c0) / d))
        t0, t1 = max(t0, a), min(t1, b)
    return (t0, t1) if t0 <= t1 else None


def _segment_dots(p0: np.ndarray, p1: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """Points of ``p0 + t (p1 - p0)`` for ``t0 <= t <= t1``, evenly spaced on the probit scale of each axis."""
    q0, q1 = p0 + t0 * (p1 - p0), p0 + t1 * (p1 - p0)
    ts = [np.array([0.0, 1.0])]
    for c0, c1 in zip(q0, q1):
        if c1 != c0:
            ts.append((norm.cdf(np.linspace(norm.ppf(c0), norm.ppf(c1), DET_DOTS)) - c0) / (c1 - c0))
    t = np.unique(np.clip(np.concatenate(ts), 0.0, 1.0))
    return q0 + t[:, None] * (q1 - q0)


def det_points(hull: Rocch, lo: float = DET_TICKS[0], hi: float = DET_TICKS[-1]) -> tuple[np.ndarray, np.ndarray]:
    """``(p_fa, p_miss)`` of the ROCCH-DET curve inside the axes box ``[lo, hi]^2``, in probabilities.

    Each hull segment is clipped to the box in the ROC plane and sampled there (as Bosaris ``rocchdet``), so a
    vertex at P = 0 or 1, which has no place on probit axes, is never moved onto them. With perfect separation
    the hull runs along P_miss = 0 and P_fa = 0 and no point is inside the box.
    """
    vertices = np.column_stack([hull.p_fa, hull.p_miss]).astype(np.float64)
    pieces = []
    for p0, p1 in zip(vertices[:-1], vertices[1:]):
        span = _clip_to_box(p0, p1, lo, hi)
        if span is not None:
            pieces.append(_segment_dots(p0, p1, *span))
    if not pieces:
        return np.empty(0), np.empty(0)
    dots = np.concatenate(pieces)
    keep = np.append(True, np.any(dots[1:] != dots[:-1], axis=1))  # shared segment ends once
    return dots[keep, 0], dots[keep, 1]


def det_figure(hull: Rocch, title: str = "") -> Figure:
    """DET curve (probit axes) of the ROC convex hull, the EER diagonal and the EER point."""
    lo, hi = DET_TICKS[0], DET_TICKS[-1]
    eer = rocch_eer(hull)
    fig, ax = plt.subplots(figsize=(5, 5.3), layout="constrained")
    lim = norm.ppf([lo, hi])
    ax.plot(lim, lim, color="0.6", linestyle=":", linewidth=0.8)
    p_fa, p_miss = det_points(hull, lo, hi)
    if p_fa.size:
        ax.plot(norm.ppf(p_fa), norm.ppf(p_miss), color=TARGET_COLOR, linewidth=1.5, label="ROCCH-DET")
    if lo <= eer <= hi:
        ax.plot(norm.ppf(eer), norm.ppf(eer), "o", color="k", markersize=4, label=f"EER {100 * eer:.2f}%")
    if p_fa.size == 0:
        note = (
            "No errors: every target scores above every non-target.\nEER 0%; the DET curve lies at P = 0."
            if eer == 0
            else f"The DET curve lies outside the axes (EER {100 * eer:.2f}%)."
        )
        ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", fontsize=9,
                bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.7"})
    else:
        ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    ticks = norm.ppf(DET_TICKS)
    labels = [f"{100 * t:g}" for t in DET_TICKS]
    ax.set_xticks(ticks, labels, fontsize=8)
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.set_xlim(lim)
    ax.set_ylim(lim)
    ax.set_aspect("equal")
    ax.set_xlabel(f"False alarm probability (%)   [{hull.n_non} non-target trials]", fontsize=9)
    ax.set_ylabel(f"Miss probability (%)   [{hull.n_tar} target trials]", fontsize=9)
    ax.grid(True, linewidth=0.3)
    fit_title(fig, title)
    return fig


def plot_det(hull: Rocch, path: str | os.PathLike, title: str = "") -> None:
    """Write :func:`det_figure` as a PNG."""
    _save(det_figure(hull, title), path)


def _hist_range(tar: np.ndarray, non: np.ndarray) -> tuple[float, float]:
    """Histogram range: the 0.05th to 99.95th percentile of the finite scores of both classes."""
    finite = [x for x in (tar, non) if x.size]
    lo = min((np.percentile(x, 0.05) for x in finite), default=-1.0)
    hi = max((np.percentile(x, 99.95) for x in finite), default=1.0)
    if hi <= lo:  # all scores equal
        lo, hi = lo - 0.5, hi + 0.5
    return float(lo), float(hi)


def _num_bins(tar: np.ndarray, non: np.ndarray, lo: float, hi: float) -> int:
    """Bins over ``[lo, hi]``, 10 to 80: the Freedman-Diaconis width of the class with fewer trials."""
    small = min((x for x in (tar, non) if x.size), key=len, default=np.empty(0))
    q75, q25 = np.percentile(small, [75, 25]) if small.size > 1 else (0.0, 0.0)
    if q75 <= q25:
        return MIN_BINS
    width = 2 * (q75 - q25) / np.cbrt(small.size)
    return int(np.clip(round((hi - lo) / width), MIN_BINS, MAX_BINS))


def score_hist_figure(
    tar: np.ndarray, non: np.ndarray, llr: bool, p_target: float = 0.05, title: str = ""
) -> Figure:
    """Normalised target / non-target histograms; for LLRs (``llr``) the Bayes threshold at ``p_target`` is marked.

    Raw scores are labelled "score" and get no threshold: the Bayes threshold has a meaning only for calibrated
    log-likelihood ratios.
    """
    tar, non = tar[np.isfinite(tar)], non[np.isfinite(non)]
    lo, hi = _hist_range(tar, non)
    bins = np.linspace(lo, hi, _num_bins(tar, non, lo, hi) + 1)
    fig, ax = plt.subplots(figsize=(6, 4.2), layout="constrained")
    for x, color, name in ((non, NONTARGET_COLOR, "non-target"), (tar, TARGET_COLOR, "target")):
        if x.size:
            ax.hist(x, bins=bins, density=True, histtype="stepfilled", color=color, alpha=0.25)
            ax.hist(x, bins=bins, density=True, histtype="step", color=color, label=f"{name} ({x.size} trials)")
    if llr:
        theta = bayes_threshold(p_target)
        ax.axvline(theta, color="k", linestyle="--", linewidth=1,
                   label=f"Bayes threshold, P_target {p_target:g} ({theta:.2f})")
    ax.set_xlabel("LLR" if llr else "score")
    ax.set_ylabel("density")
    ax.grid(True, linewidth=0.3, alpha=0.5)
    ax.legend(fontsize=8, framealpha=0.9)
    fit_title(fig, title)
    return fig


def plot_score_hist(
    tar: np.ndarray, non: np.ndarray, path: str | os.PathLike, llr: bool, p_target: float = 0.05, title: str = ""
) -> None:
    """Write :func:`score_hist_figure` as a PNG."""
    _save(score_hist_figure(tar, non, llr, p_target, title), path)
