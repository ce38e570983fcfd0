"""Diagnostic plots (matplotlib, Agg backend): DET curve of the ROC convex hull and LLR histograms."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.stats import norm  # noqa: E402

from hyp_face.io.table import atomic_write  # noqa: E402
from hyp_face.metrics.dcf import bayes_threshold  # noqa: E402
from hyp_face.metrics.rocch import Rocch  # noqa: E402

DET_TICKS = np.array([0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4])


def _save(fig, path: str | os.PathLike) -> None:
    """Save a figure atomically as PNG and close it."""
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)


def plot_det(hull: Rocch, path: str | os.PathLike, title: str = "") -> None:
    """DET curve (probit axes) of the ROC convex hull, with the EER diagonal."""
    eps = 0.5 / max(hull.n_tar, hull.n_non)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(norm.ppf(np.clip(hull.p_fa, eps, 1 - eps)), norm.ppf(np.clip(hull.p_miss, eps, 1 - eps)), "b-")
    lim = norm.ppf([DET_TICKS[0], DET_TICKS[-1]])
    ax.plot(lim, lim, "k:", linewidth=0.8)
    ticks = norm.ppf(DET_TICKS)
    labels = [f"{100 * t:g}" for t in DET_TICKS]
    ax.set_xticks(ticks, labels)
    ax.set_yticks(ticks, labels)
    ax.set_xlim(lim)
    ax.set_ylim(lim)
    ax.set_xlabel("False alarm probability (%)")
    ax.set_ylabel("Miss probability (%)")
    ax.set_title(title)
    ax.grid(True, linewidth=0.3)
    _save(fig, path)


def plot_llr_hist(
    tar: np.ndarray, non: np.ndarray, path: str | os.PathLike, p_target: float = 0.05, title: str = ""
) -> None:
    """Normalised target / non-target score histograms with the Bayes threshold at ``p_target`` marked."""
    tar, non = tar[np.isfinite(tar)], non[np.isfinite(non)]
    finite = [x for x in (tar, non) if x.size]
    lo = min((np.percentile(x, 0.05) for x in finite), default=-1.0)
    hi = max((np.percentile(x, 99.95) for x in finite), default=1.0)
    if hi <= lo:  # all scores equal
        lo, hi = lo - 0.5, hi + 0.5
    bins = np.linspace(lo, hi, 101)
    fig, ax = plt.subplots(figsize=(6, 4))
    for x, color, name in ((non, "r", "non-target"), (tar, "b", "target")):
        if x.size:
            ax.hist(x, bins=bins, density=True, histtype="step", color=color, label=f"{name} ({x.size})")
    theta = bayes_threshold(p_target)
    ax.axvline(theta, color="k", linestyle="--", label=f"Bayes threshold P={p_target:g} ({theta:.3f})")
    ax.set_xlabel("LLR")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize=8, framealpha=0.8)
    _save(fig, path)
