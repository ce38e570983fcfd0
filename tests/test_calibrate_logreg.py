"""Prior-weighted logistic-regression calibration and greedy fusion."""

from __future__ import annotations

import numpy as np
import pytest

from hyp_face.calibrate.fusion import GreedyFusion, train_greedy_fusion
from hyp_face.calibrate.linear import LinearCalibration, train_calibration
from hyp_face.calibrate.logreg import fit_prior_weighted_lr, logit
from hyp_face.metrics.report import evaluate


def _gaussian_scores(rng, n_tar, n_non, mu_tar=2.0, mu_non=0.0, sigma=1.0):
    scores = np.concatenate((rng.normal(mu_tar, sigma, n_tar), rng.normal(mu_non, sigma, n_non)))
    return scores, np.arange(n_tar + n_non) < n_tar


def test_recovers_true_llr_of_equal_variance_gaussians():
    # llr(s) = (mu_t - mu_n)/sigma^2 * s - (mu_t^2 - mu_n^2) / (2 sigma^2) = 1.5 s - 1.125 for (1.5, 0, 1)
    rng = np.random.default_rng(0)
    scores, is_target = _gaussian_scores(rng, 20000, 200000, mu_tar=1.5)
    w, b = fit_prior_weighted_lr(scores, is_target, p_target=0.05, l2_reg=1e-5)
    assert w[0] == pytest.approx(1.5, abs=0.05)
    assert b == pytest.approx(-1.125, abs=0.06)


def test_newton_reaches_the_exact_minimiser():
    rng = np.random.default_rng(1)
    scores, is_target = _gaussian_scores(rng, 300, 3000, sigma=0.7)
    p, lam = 0.05, 1e-5
    w, b = fit_prior_weighted_lr(scores, is_target, p, lam)
    theta = np.array([w[0], b + logit(p)])  # undo the bias shift
    z = scores * theta[0] + theta[1]
    wt = np.where(is_target, p / is_target.sum(), (1 - p) / (~is_target).sum())
    resid = wt * (1 / (1 + np.exp(-z)) - is_target)
    grad = np.array([resid @ scores, resid.sum()]) + lam * theta
    assert np.abs(grad).max() < 1e-13


def test_separable_data_stays_finite():
    is_target = np.array([True, True, False, False, False])
    w, b = fit_prior_weighted_lr(np.array([1.0, 2.0, -1.0, -2.0, 0.0]), is_target)
    assert np.isfinite(w).all() and np.isfinite(b) and w[0] > 0


def test_act_dcf_close_to_min_dcf_on_training_set(tmp_path):
    rng = np.random.default_rng(2)
    scores, is_target = _gaussian_scores(rng, 5000, 50000, mu_tar=0.6, mu_non=0.2, sigma=0.15)
    cal = train_calibration(scores, is_target, p_target=0.05)
    llr = cal(scores)
    res = evaluate(llr[is_target], llr[~is_target])
    assert res["act_dcf"]["0.05"] - res["min_dcf"]["0.05"] < 0.01
    assert cal.train["act_dcf_after"] == pytest.approx(res["act_dcf"]["0.05"])
    assert cal.train["min_dcf_before"] == pytest.approx(res["min_dcf"]["0.05"])
    cal.save(tmp_path / "cal.json")
    again = LinearCalibration.load(tmp_path / "cal.json")
    assert (again.a, again.b) == (cal.a, cal.b)


def test_load_rejects_wrong_model_type(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{"type": "greedy_fusion"}')
    with pytest.raises(ValueError, match="m.json"):
        LinearCalibration.load(path)


def test_greedy_fusion_picks_informative_system_first(tmp_path):
    rng = np.random.default_rng(3)
    n_tar, n_non = 2000, 20000
    is_target = np.arange(n_tar + n_non) < n_tar
    strong = np.where(is_target, 3.0, 0.0) + rng.normal(0, 1, len(is_target))
    weak = np.where(is_target, 1.0, 0.0) + rng.normal(0, 1, len(is_target))
    noise = rng.normal(0, 1, len(is_target))
    scores = np.column_stack((noise, weak, strong))
    model = train_greedy_fusion(scores, is_target, ["noise", "weak", "strong"], max_systems=3)
    assert [f.systems for f in model.fusions] == [[2], [2, 1], [2, 1, 0]]
    assert model.fusions[1].act_dcf <= model.fusions[0].act_dcf
    assert all(w > 0 for w in model.fusions[1].weights)
    model.save(tmp_path / "fus.json")
    loaded = GreedyFusion.load(tmp_path / "fus.json")
    assert np.allclose(loaded.fusions[1](scores), scores[:, [2, 1]] @ model.fusions[1].weights + model.fusions[1].bias)
