"""DET curve data (no artefacts at P = 0 or 1), score vs LLR histograms and titles that fit the figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from hyp_face.metrics.dcf import bayes_threshold
from hyp_face.metrics.plots import (
    DET_TICKS,
    _hist_range,
    _num_bins,
    det_figure,
    det_points,
    fit_title,
    score_hist_figure,
)
from hyp_face.metrics.rocch import rocch, rocch_eer, sort_scores

LO, HI = DET_TICKS[0], DET_TICKS[-1]
LONG_TITLE = "exp/scores/mnet025-dlib128/be_v7_selfatt_a40_att_a120/cosine_snorm1000_v1_cal_v1_sre19/" * 2 + "set"


def _hull(tar, non):
    return rocch(*sort_scores(tar, non))


def _gaussian_hull(seed=0, n_tar=300, n_non=3000):
    rng = np.random.default_rng(seed)
    return _hull(rng.normal(2.5, 1.0, n_tar), rng.normal(0.0, 1.0, n_non))


@pytest.mark.parametrize("n", [4, 8, 100, 5000])
def test_perfect_separation_has_no_det_point(n):
    """Before, P = 0 was clipped to 0.5/n, drawing a corner at (0.5/n, 0.5/n) on the EER diagonal."""
    hull = _hull(np.linspace(1.0, 2.0, n), np.linspace(-2.0, 0.0, n))
    assert rocch_eer(hull) == 0.0
    p_fa, p_miss = det_points(hull)
    assert p_fa.size == 0 and p_miss.size == 0


def test_perfect_separation_figure_draws_only_the_diagonal():
    fig = det_figure(_hull(np.array([3.0, 4.0, 5.0]), np.array([0.0, 1.0])))
    (ax,) = fig.axes
    assert len(ax.lines) == 1  # the dotted EER diagonal; no curve, no EER point
    assert "No errors" in " ".join(t.get_text() for t in ax.texts)
    plt.close(fig)


def test_det_points_lie_on_the_hull_inside_the_box():
    hull = _gaussian_hull()
    p_fa, p_miss = det_points(hull)
    assert p_fa.size > 100
    assert np.all((p_fa >= LO - 1e-15) & (p_fa <= HI + 1e-15) & (p_miss >= LO - 1e-15) & (p_miss <= HI + 1e-15))
    assert np.all(np.diff(p_fa) <= 1e-15) and np.all(np.diff(p_miss) >= -1e-15)  # thresholds increase
    # inside the box the hull has no vertical segment, so it is a function P_miss(P_fa)
    on_hull = np.interp(p_fa, hull.p_fa[::-1], hull.p_miss[::-1])
    np.testing.assert_allclose(p_miss, on_hull, rtol=0, atol=1e-12)
    # the curve reaches the edges of the box where the hull crosses them
    assert p_fa[0] == pytest.approx(HI) or p_miss[0] == pytest.approx(LO)
    assert p_fa[-1] == pytest.approx(LO) or p_miss[-1] == pytest.approx(HI)


def test_det_points_cross_the_diagonal_at_the_eer():
    hull = _gaussian_hull(seed=1)
    p_fa, p_miss = det_points(hull)
    d = p_miss - p_fa
    i = int(np.flatnonzero((d[:-1] < 0) & (d[1:] >= 0))[0])
    w = -d[i] / (d[i + 1] - d[i])  # consecutive points are collinear with the hull: the crossing is exact
    assert p_fa[i] + w * (p_fa[i + 1] - p_fa[i]) == pytest.approx(rocch_eer(hull), rel=1e-9)


def test_det_points_drop_vertices_at_zero():
    """One error only: the hull runs along P_miss = 0 and P_fa = 0 except for one sloped segment."""
    hull = _hull(np.array([-0.5, 1.0, 2.0, 3.0]), np.array([-2.0, -1.0, 0.0]))
    p_fa, p_miss = det_points(hull, lo=0.01, hi=0.99)
    assert p_fa.size and np.all(p_fa >= 0.01) and np.all(p_miss >= 0.01)
    np.testing.assert_allclose(p_miss, np.interp(p_fa, hull.p_fa[::-1], hull.p_miss[::-1]), atol=1e-12)


def _vertical_lines(ax):
    return [line for line in ax.lines if np.ptp(np.asarray(line.get_xdata(), dtype=float)) == 0]


def test_raw_score_histogram_has_no_threshold():
    rng = np.random.default_rng(0)
    fig = score_hist_figure(rng.normal(0.95, 0.02, 50), rng.normal(0.85, 0.03, 500), llr=False)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "score"
    assert _vertical_lines(ax) == []
    assert not any("Bayes" in t.get_text() for t in ax.get_legend().get_texts())
    plt.close(fig)


def test_llr_histogram_marks_the_bayes_threshold():
    rng = np.random.default_rng(0)
    fig = score_hist_figure(rng.normal(3.0, 1.0, 50), rng.normal(-3.0, 1.0, 500), llr=True, p_target=0.01)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "LLR"
    (line,) = _vertical_lines(ax)
    assert line.get_xdata()[0] == pytest.approx(bayes_threshold(0.01))
    assert any("Bayes threshold" in t.get_text() for t in ax.get_legend().get_texts())
    plt.close(fig)


def _title_inside(fig) -> bool:
    fig.canvas.draw()
    box = fig._suptitle.get_window_extent(fig.canvas.get_renderer())
    return fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1


def test_long_title_is_wrapped_inside_the_figure():
    fig = plt.figure(figsize=(5, 5))
    fig.suptitle(LONG_TITLE)
    assert not _title_inside(fig)  # as one line it would be clipped
    fit_title(fig, LONG_TITLE)
    assert _title_inside(fig)
    lines = fig._suptitle.get_text().split("\n")
    assert len(lines) > 1 and "".join(lines) == LONG_TITLE  # wrapped, nothing lost
    plt.close(fig)


@pytest.mark.parametrize("make", ["det", "hist"])
def test_plot_titles_fit(make):
    fig = det_figure(_gaussian_hull(), LONG_TITLE) if make == "det" else score_hist_figure(
        np.array([1.0, 2.0]), np.array([0.0, -1.0]), llr=True, title=LONG_TITLE
    )
    assert _title_inside(fig)
    plt.close(fig)


def test_short_title_is_kept():
    fig = plt.figure(figsize=(5, 5))
    fit_title(fig, "sre19_av_v_dev  v4  s-norm+cal")
    assert fig._suptitle.get_text() == "sre19_av_v_dev  v4  s-norm+cal"
    plt.close(fig)


def test_histogram_bins_resolve_a_few_trials_beside_an_outlier():
    """Demo-like raw scores: one non-target at 0 must not merge the target and non-target clusters near 1."""
    tar = np.array([0.975, 0.98, 0.982, 0.985, 0.99, 0.992])
    non = np.array([0.0, 0.0, 0.85, 0.86, 0.88, 0.885, 0.89, 0.89, 0.895, 0.9])
    lo, hi = _hist_range(tar, non)
    edges = np.linspace(lo, hi, _num_bins(tar, non, lo, hi) + 1)
    tar_bins = set(np.digitize(tar, edges)) - {0, len(edges)}
    non_bins = set(np.digitize(non, edges)) - {0, len(edges)}
    assert tar_bins and not tar_bins & non_bins
