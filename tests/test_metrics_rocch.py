"""ROCCH-EER, min/act DCF, Cllr and min Cllr on hand-computed cases and against a literal Bosaris reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hyp_face.metrics.dcf import act_dcf, bayes_threshold, cllr
from hyp_face.metrics.report import PRIORS, evaluate, prior_label, results_line
from hyp_face.metrics.rocch import lower_hull, min_cllr, min_dcf, rocch, rocch_eer, sort_scores


def _hull(tar, non):
    return rocch(*sort_scores(tar, non))


# ---- slow, readable reference: Bosaris compute_rocch + rocch2eer, PAV by explicit pooling ----
def _pav(y):
    """Pool adjacent violators (non-decreasing); returns block widths."""
    blocks = []  # [sum, width]
    for v in y:
        blocks.append([float(v), 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            s, w = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += w
    return [w for _, w in blocks]


def _reference(tar, non, priors):
    scores = np.concatenate((tar, non))
    labels = np.concatenate((np.ones(len(tar)), np.zeros(len(non))))
    labels = labels[np.argsort(scores, kind="mergesort")]
    nt, nn = len(tar), len(non)
    p_miss, p_fa, left = [0.0], [1.0], 0
    for w in _pav(labels):
        left += w
        p_miss.append(labels[:left].sum() / nt)
        p_fa.append((nn - (left - labels[:left].sum())) / nn)
    eer = 0.0
    for i in range(len(p_fa) - 1):
        xy = np.array([[p_fa[i], p_miss[i]], [p_fa[i + 1], p_miss[i + 1]]])
        if p_fa[i] != p_fa[i + 1] and p_miss[i] != p_miss[i + 1]:
            eer = max(eer, 1 / np.linalg.solve(xy, np.ones(2)).sum())
    mins = [min((p * m + (1 - p) * f) / min(p, 1 - p) for m, f in zip(p_miss, p_fa)) for p in priors]
    return eer, mins


@pytest.mark.parametrize("seed", range(6))
def test_rocch_matches_literal_bosaris_reference(seed):
    rng = np.random.default_rng(seed)
    nt, nn = rng.integers(1, 60), rng.integers(1, 400)
    tar = rng.normal(1.5, 1, nt)
    non = rng.normal(0, 1, nn)
    if seed % 2:  # many ties, including ties between targets and non-targets
        tar, non = np.round(tar), np.round(non)
    priors = [0.5, 0.05, 0.01, 0.001]
    eer_ref, mins_ref = _reference(tar, non, priors)
    hull = _hull(tar, non)
    assert rocch_eer(hull) == pytest.approx(eer_ref, abs=1e-12)
    assert [min_dcf(hull, p) for p in priors] == pytest.approx(mins_ref, abs=1e-12)


def test_lower_hull_vectorised_passes_agree_with_monotone_chain():
    rng = np.random.default_rng(7)
    x = np.cumsum(rng.integers(1, 5, 3000))
    y = np.cumsum(rng.integers(0, 3, 3000))
    assert np.array_equal(lower_hull(x, y), lower_hull(x, y, min_removed=2.0))  # 2.0: straight to the chain


def test_min_dcf_is_min_over_all_thresholds():
    rng = np.random.default_rng(3)
    tar, non = rng.normal(2, 1, 300), rng.normal(0, 1, 3000)
    thr = np.concatenate(([-np.inf], np.sort(np.concatenate((tar, non))), [np.inf]))
    for p in PRIORS:
        brute = min((p * np.mean(tar < t) + (1 - p) * np.mean(non >= t)) / min(p, 1 - p) for t in thr)
        assert min_dcf(_hull(tar, non), p) == pytest.approx(brute, abs=1e-12)


def test_perfect_separation():
    res = evaluate(np.array([2.0, 3.0]), np.array([0.0, 1.0]))
    assert res["eer_percent"] == 0.0
    assert all(v == 0.0 for v in res["min_dcf"].values())
    assert res["min_cllr"] == 0.0
    # theta(0.05) = 2.944: the target at 2 is a miss, nothing is a false alarm
    assert res["act_dcf"]["0.05"] == pytest.approx(0.5)


def test_all_equal_scores():
    tar, non = np.ones(2), np.ones(3)
    res = evaluate(tar, non)
    assert res["eer_percent"] == pytest.approx(50.0)
    assert all(v == pytest.approx(1.0) for v in res["min_dcf"].values())
    assert all(v == pytest.approx(1.0) for v in res["act_dcf"].values())  # all rejected: P_miss = 1
    assert res["min_cllr"] == pytest.approx(1.0)
    assert res["cllr"] == pytest.approx((math.log1p(math.exp(-1)) + math.log1p(math.e)) / (2 * math.log(2)))


def test_single_target_and_tie_rule():
    # sorted: 0 (non) 0.5 (tar) 1 (non) 2 (non) -> PAV bins [0] [1 0 0]: vertices (Pfa, Pmiss) =
    # (1, 0), (2/3, 0), (0, 1); EER from the segment (2/3,0)-(0,1): 1 / (3/2 + 1) = 0.4
    expected_cllr = (math.log(5 / 3) + 2 * math.log(2.5) / 3) / (2 * math.log(2))
    for tar in (0.5, 1.0):  # 1.0 ties a non-target: the tied target sorts first, giving the same hull
        hull = _hull(np.array([tar]), np.array([0.0, 1.0, 2.0]))
        assert rocch_eer(hull) == pytest.approx(0.4)
        assert min_dcf(hull, 0.05) == pytest.approx(1.0)
        assert min_dcf(hull, 0.5) == pytest.approx(2 / 3)
        assert min_cllr(hull) == pytest.approx(expected_cllr)


def test_eer_hand_computed_convex_hull():
    # labels by score 0..6: n t n t n t n -> cumulative points lie on (1,0)-(7,3): hull (0,0),(1,0),(7,3),
    # ROC vertices (Pfa, Pmiss) = (1,0), (3/4,0), (0,1): EER = 1 / (4/3 + 1) = 3/7
    hull = _hull(np.array([1.0, 3.0, 5.0]), np.array([0.0, 2.0, 4.0, 6.0]))
    assert hull.p_fa.tolist() == [1.0, 0.75, 0.0]
    assert hull.p_miss.tolist() == [0.0, 0.0, 1.0]
    assert rocch_eer(hull) == pytest.approx(3 / 7)
    assert min_dcf(hull, 0.01) == pytest.approx(1.0)


def test_act_dcf_ties_accept_and_threshold_formula():
    theta = bayes_threshold(0.05)
    assert theta == -np.log(0.05) + np.log(0.95)
    assert theta == pytest.approx(2.944, abs=5e-4)
    tar, non = sort_scores([theta], [theta])
    assert act_dcf(tar, non, 0.05) == pytest.approx(19.0)  # target accepted, non-target is a false alarm
    tar, non = sort_scores([theta], [np.nextafter(theta, -np.inf)])
    assert act_dcf(tar, non, 0.05) == 0.0


@pytest.mark.parametrize("p", PRIORS)
def test_act_dcf_each_prior(p):
    tar, non = sort_scores([0.0, 10.0], [-10.0, 1.0, 2.0, 3.0])
    theta = bayes_threshold(p)
    p_miss = np.mean(np.array([0.0, 10.0]) < theta)
    p_fa = np.mean(np.array([-10.0, 1.0, 2.0, 3.0]) >= theta)
    assert act_dcf(tar, non, p) == pytest.approx((p * p_miss + (1 - p) * p_fa) / p)


def test_cllr_and_min_cllr_bounds():
    assert cllr([0.0], [0.0]) == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    tar, non = rng.normal(3, 1, 500), rng.normal(0, 1, 5000)
    res = evaluate(tar, non)
    assert 0 < res["min_cllr"] < res["cllr"]
    # PAV calibration is optimal among monotone maps: any affine recalibration is no better
    assert res["min_cllr"] <= cllr(0.5 * tar - 1, 0.5 * non - 1)


def test_results_line_format():
    res = evaluate(np.array([1.0, 3.0, 5.0]), np.array([0.0, 2.0, 4.0, 6.0]))
    line = results_line(res)
    assert line.startswith("EER: 42.86 DCF5e-2: ")
    assert [prior_label(p) for p in PRIORS] == ["5e-2", "1e-2", "5e-3", "1e-3"]
    assert line.count(" / ") == 4 and not line.endswith("\n")
    assert line.split("DCF1e-3: ")[1] == f"{res['min_dcf']['0.001']:.3f} / {res['act_dcf']['0.001']:.3f}"


def test_bad_inputs():
    with pytest.raises(ValueError, match="NaN"):
        sort_scores([1.0, np.nan], [0.0])
    with pytest.raises(ValueError, match="need target"):
        sort_scores([], [0.0])
