"""Calibration models beside the faithful linear one: cosine transforms, PAV, model files, CLIs and steps."""

from __future__ import annotations

import json
import math
import os
import subprocess

import numpy as np
import pytest

from hyp_face.bin import apply_calibration, train_calibration
from hyp_face.calibrate.linear import LinearCalibration, TransformedLinearCalibration
from hyp_face.calibrate.logreg import fit_prior_weighted_lr
from hyp_face.calibrate.models import MODELS, load_calibration, train_named_calibration
from hyp_face.calibrate.pav import PavCalibration, pav_bins, train_pav_calibration
from hyp_face.calibrate.transforms import EPS, transform_cosines
from hyp_face.metrics.report import evaluate
from tests.conftest import ROOT


def _cosine_like(rng, n_tar=2000, n_non=40000):
    """dlib-like cosines: Gaussian on the atanh scale (true LLR 1.5 x - 1.125 there), crowded below 1."""
    x = np.concatenate((rng.normal(1.5, 1.0, n_tar), rng.normal(0.0, 1.0, n_non)))
    return np.tanh(x + 1.2), np.arange(n_tar + n_non) < n_tar


def _slow_pav_llr(tar, non, p_target):
    """Plain stack PAV on tie groups with prior weights and the Laplace pseudo-trials; LLR of each finite score."""
    n_tar, n_non = len(tar) + 2, len(non) + 2
    w_tar, w_non = p_target / n_tar, (1 - p_target) / n_non
    groups: dict[float, list[int]] = {}
    for scores, col in ((list(tar) + [-math.inf, math.inf], 0), (list(non) + [-math.inf, math.inf], 1)):
        for s in scores:
            groups.setdefault(s, [0, 0])[col] += 1
    blocks: list[list] = []  # [targets, non-targets, scores]
    for s in sorted(groups):
        blocks.append([groups[s][0], groups[s][1], [s]])
        while len(blocks) > 1:
            (t0, n0, _), (t1, n1, _) = blocks[-2], blocks[-1]
            if t0 * w_tar / (t0 * w_tar + n0 * w_non) < t1 * w_tar / (t1 * w_tar + n1 * w_non):
                break
            t, n, s1 = blocks.pop()
            blocks[-1] = [t0 + t, n0 + n, blocks[-1][2] + s1]
    return {s: math.log(t / n_tar) - math.log(n / n_non) for t, n, ss in blocks for s in ss if math.isfinite(s)}


# --- transforms ---------------------------------------------------------------------------------------------


def test_transforms_hand_values_and_monotone():
    assert transform_cosines("atanh", np.array([0.5]))[0] == pytest.approx(0.5 * math.log(3))
    assert transform_cosines("neglog1m", np.array([0.9]))[0] == pytest.approx(math.log(10))
    s = np.linspace(-1, 1, 2001)
    for name in ("atanh", "neglog1m"):
        t = transform_cosines(name, s)
        assert np.isfinite(t).all() and (np.diff(t) > 0).all()
        assert t[-1] == pytest.approx(transform_cosines(name, np.array([1 - EPS]))[0])
        assert transform_cosines(name, np.array([1.0000001]))[0] == t[-1]  # rounding above 1 is clipped


@pytest.mark.parametrize("bad", [1.5, -1.01, float("nan")])
def test_transform_rejects_non_cosines(bad):
    with pytest.raises(ValueError, match="cosine scores"):
        transform_cosines("atanh", np.array([0.2, bad]))


def test_unknown_transform():
    with pytest.raises(ValueError, match="unknown score transform"):
        transform_cosines("log", np.array([0.2]))
    with pytest.raises(ValueError, match="unknown calibration model"):
        train_named_calibration("linear_log", np.array([0.1, 0.2]), np.array([True, False]))


# --- linear models ------------------------------------------------------------------------------------------


def test_faithful_linear_is_unchanged(tmp_path):
    rng = np.random.default_rng(0)
    scores, is_target = _cosine_like(rng, 300, 3000)
    cal = train_named_calibration("linear", scores, is_target)
    w, b = fit_prior_weighted_lr(scores, is_target, 0.05, 1e-5)
    assert type(cal) is LinearCalibration and (cal.a, cal.b) == (float(w[0]), b)
    cal.save(tmp_path / "m.json")
    saved = json.loads((tmp_path / "m.json").read_text())
    assert list(saved) == ["type", "a", "b", "p_target", "l2_reg", "train"]  # the file format of docs/original_recipe.md §7.1
    assert saved["type"] == "linear_calibration"


@pytest.mark.parametrize("transform", ["atanh", "neglog1m"])
def test_transformed_linear_fits_on_the_transformed_scale(transform):
    rng = np.random.default_rng(1)
    scores, is_target = _cosine_like(rng, 20000, 200000)
    cal = train_named_calibration(f"linear_{transform}", scores, is_target)
    assert isinstance(cal, TransformedLinearCalibration) and cal.name == f"linear_{transform}"
    w, b = fit_prior_weighted_lr(transform_cosines(transform, scores), is_target, 0.05, 1e-5)
    assert (cal.a, cal.b) == (float(w[0]), b)
    if transform == "atanh":  # the data are Gaussian there: the true LLR is 1.5 (x - 1.2) - 1.125
        assert cal.a == pytest.approx(1.5, abs=0.05) and cal.b == pytest.approx(-1.5 * 1.2 - 1.125, abs=0.1)
    assert (np.diff(cal(np.linspace(-1, 1, 1001))) > 0).all()


def test_transformed_linear_closes_the_gap_that_linear_leaves():
    rng = np.random.default_rng(2)
    train, y_train = _cosine_like(rng)
    test, y_test = _cosine_like(rng)
    gap = {}
    for name in ("linear", "linear_atanh"):
        llr = train_named_calibration(name, train, y_train)(test)
        res = evaluate(llr[y_test], llr[~y_test])
        gap[name] = res["act_dcf"]["0.05"] - res["min_dcf"]["0.05"]
    assert gap["linear_atanh"] < 0.02 < gap["linear"]


def test_transformed_linear_rejects_snorm_scores():
    scores = np.array([0.5, 3.2, -1.0, 0.1])
    with pytest.raises(ValueError, match="'linear' or 'pav'"):
        train_named_calibration("linear_neglog1m", scores, np.array([True, True, False, False]))


# --- PAV ----------------------------------------------------------------------------------------------------


def test_pav_bins_hand_case():
    # with the pseudo-trials: groups -inf (1t 1n), 1 (n), 2 (t), 2.5 (n), 3 (t), +inf (1t 1n); 4 targets, 4 non
    bins = pav_bins(np.array([2.0, 3.0]), np.array([1.0, 2.5]))
    assert bins.lo.tolist() == [1.0, 2.0, 3.0] and bins.hi.tolist() == [1.0, 2.5, 3.0]
    assert bins.n_target.tolist() == [1, 1, 2] and bins.n_nontarget.tolist() == [2, 1, 1]
    np.testing.assert_allclose(bins.llr, [-math.log(2), 0.0, math.log(2)], atol=1e-15)


def test_pav_separable_case_is_bounded_and_interpolated():
    # groups -inf (1t 1n), 1 (n), 2 (n), 3 (t), 4 (t), +inf (1t 1n): bins {-inf, 1, 2} 1t 3n and {3, 4, +inf} 3t 1n
    cal = train_pav_calibration(np.array([3.0, 4.0, 1.0, 2.0]), np.array([True, True, False, False]))
    assert cal.knot_score == [1.0, 2.0, 3.0, 4.0]
    l3 = math.log(3)
    np.testing.assert_allclose(cal.knot_llr, [-l3, -l3, l3, l3], atol=1e-15)
    np.testing.assert_allclose(cal(np.array([-1e9, 1.5, 2.0, 2.25, 2.5, 3.0, 3.5, 1e9, np.inf])),
                               [-l3, -l3, -l3, -l3 / 2, 0.0, l3, l3, l3, l3], atol=1e-15)


def test_pav_one_score_bins_get_one_knot_and_training_scores_their_bin_llr():
    # bins as in test_pav_bins_hand_case: {1} -log 2, {2, 2.5} 0, {3} log 2
    scores, is_target = np.array([2.0, 3.0, 1.0, 2.5]), np.array([True, True, False, False])
    cal = train_pav_calibration(scores, is_target)
    assert cal.knot_score == [1.0, 2.0, 2.5, 3.0]
    np.testing.assert_allclose(cal(scores), [0.0, math.log(2), -math.log(2), 0.0], atol=1e-15)
    np.testing.assert_allclose(cal(np.array([1.5, 2.75])), [-math.log(2) / 2, math.log(2) / 2], atol=1e-15)


@pytest.mark.parametrize("p_target", [0.05, 0.5])
def test_pav_bins_match_slow_reference_with_ties(p_target):
    rng = np.random.default_rng(3)
    tar = rng.integers(3, 25, 60).astype(float)  # integers: many ties, also across the classes
    non = rng.integers(0, 20, 400).astype(float)
    ref = _slow_pav_llr(tar, non, p_target)
    bins = pav_bins(tar, non)
    assert (bins.lo <= bins.hi).all() and (bins.hi[:-1] < bins.lo[1:]).all() and (np.diff(bins.llr) > 0).all()
    scores = np.unique(np.concatenate((tar, non)))
    ours = bins.llr[np.searchsorted(bins.lo, scores, side="right") - 1]
    np.testing.assert_allclose(ours, [ref[s] for s in scores], rtol=0, atol=1e-12)
    assert bins.n_target.sum() <= len(tar) + 2 and bins.n_nontarget.sum() <= len(non) + 2


def test_pav_on_gaussians_is_monotone_bounded_and_near_the_true_llr():
    rng = np.random.default_rng(4)
    scores = np.concatenate((rng.normal(2, 1, 2000), rng.normal(0, 1, 100000)))
    is_target = np.arange(len(scores)) < 2000
    cal = train_named_calibration("pav", scores, is_target)
    grid = np.linspace(-10, 10, 4001)
    llr = cal(grid)
    assert (np.diff(llr) >= 0).all()
    assert -math.log(2002) <= llr[0] and llr[-1] <= math.log(100002)
    middle = (grid > 0) & (grid < 3)  # where both classes have many trials, the true LLR is 2 s - 2
    assert np.abs(llr[middle] - (2 * grid[middle] - 2)).max() < 0.6
    assert cal.train["act_dcf_after"] == pytest.approx(cal.train["min_dcf_before"], abs=1e-3)  # exact on training


def test_pav_rejects_bad_training_input():
    with pytest.raises(ValueError, match="finite"):
        train_pav_calibration(np.array([1.0, np.inf, 0.0]), np.array([True, True, False]))
    with pytest.raises(ValueError, match="NaN"):
        train_pav_calibration(np.array([1.0, np.nan, 0.0]), np.array([True, False, False]))
    with pytest.raises(ValueError, match="need target and non-target"):
        train_pav_calibration(np.array([1.0, 2.0]), np.array([False, False]))
    cal = train_pav_calibration(np.array([3.0, 4.0, 1.0, 2.0]), np.array([True, True, False, False]))
    with pytest.raises(ValueError, match="NaN"):
        cal(np.array([np.nan]))


@pytest.mark.parametrize(
    "knots, match",
    [(([1.0, 1.0], [0.0, 1.0]), "increase"), (([1.0, 2.0], [1.0, 0.0]), "not decrease"),
     (([], []), "non-empty"), (([1.0], [0.0, 1.0]), "equally long")],
)
def test_pav_model_validates_its_knots(knots, match):
    with pytest.raises(ValueError, match=match):
        PavCalibration(*knots)


# --- model files --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_save_load_round_trip(tmp_path, name):
    rng = np.random.default_rng(5)
    scores, is_target = _cosine_like(rng, 300, 3000)
    cal = train_named_calibration(name, scores, is_target, p_target=0.01)
    cal.save(tmp_path / "m.json")
    again = load_calibration(tmp_path / "m.json", expected=name)
    assert type(again) is type(cal) and again.name == name and again.train == cal.train
    probe = np.linspace(-1, 1, 501)
    assert np.array_equal(again(probe), cal(probe))
    assert load_calibration(tmp_path / "m.json").name == name
    other = next(m for m in MODELS if m != name)
    with pytest.raises(ValueError, match=f"a '{name}' calibration, expected '{other}'"):
        load_calibration(tmp_path / "m.json", expected=other)


@pytest.mark.parametrize(
    "text, match",
    [('{"type": "greedy_fusion"}', "not a calibration model"), ("[1, 2]", "not a model file"),
     ("{not json", "not a JSON model file"), ('{"type": "pav_calibration", "knot_score": [NaN], "knot_llr": [0]}',
                                              "not a JSON model file"),
     ('{"type": "pav_calibration", "knot_score": [2, 1], "knot_llr": [0, 1]}', "bad pav_calibration model"),
     ('{"type": "transformed_linear_calibration", "a": 1, "b": 0, "transform": "log"}', "unknown score transform"),
     ('{"type": "linear_calibration", "a": 1}', "bad linear_calibration model")],
)
def test_load_errors_name_the_file(tmp_path, text, match):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as err:
        load_calibration(path)
    assert str(path) in str(err.value)


def test_non_finite_model_is_not_written(tmp_path):
    with pytest.raises(ValueError):
        LinearCalibration(a=float("nan"), b=0.0).save(tmp_path / "m.json")
    assert list(tmp_path.iterdir()) == []


# --- CLIs and steps -----------------------------------------------------------------------------------------


def _write_trials(tmp_path, scores, is_target):
    trials = [f"m{i % 7} t{i:05d} {'target' if y else 'nontarget'}" for i, y in enumerate(is_target)]
    (tmp_path / "trials").write_text("\n".join(trials) + "\n")
    (tmp_path / "scores").write_text("".join(f"m{i % 7} t{i:05d} {float(s)!r}\n" for i, s in enumerate(scores)))


def test_cli_trains_and_applies_each_model(tmp_path):
    rng = np.random.default_rng(6)
    scores, is_target = _cosine_like(rng, 200, 2000)
    _write_trials(tmp_path, scores, is_target)
    files = [str(tmp_path / f) for f in ("trials", "scores")]
    for name in MODELS:
        model = tmp_path / f"{name}.json"
        train_calibration.main([*files, str(model), "--model", name, "-v", "0"])
        out = tmp_path / f"{name}.llr"
        apply_calibration.main([str(model), *files, str(out), "-v", "0"])
        llr = np.array([float(line.split()[2]) for line in out.read_text().splitlines()])
        order = np.lexsort(([f"m{i % 7}" for i in range(len(scores))], [f"t{i:05d}" for i in range(len(scores))]))
        np.testing.assert_allclose(llr, load_calibration(model)(scores[order]), atol=5e-7)  # printed with %f
    with pytest.raises(ValueError, match="expected 'linear'"):
        apply_calibration.main([str(tmp_path / "pav.json"), *files, str(tmp_path / "x"), "--model", "linear"])


def test_cli_errors_name_the_score_file(tmp_path):
    _write_trials(tmp_path, np.array([2.5, 0.3, 0.1, -0.2]), np.array([True, False, False, False]))
    files = [str(tmp_path / f) for f in ("trials", "scores")]
    with pytest.raises(SystemExit, match="scores: the neglog1m transform"):
        train_calibration.main([*files, str(tmp_path / "m.json"), "--model", "linear_neglog1m", "-v", "0"])
    assert not (tmp_path / "m.json").exists()
    with pytest.raises(SystemExit):
        train_calibration.main([*files, str(tmp_path / "m.json"), "--model", "isotonic"])


@pytest.mark.skipif(not (ROOT / "utils" / "run.pl").exists(), reason="utils/run.pl not present")
def test_step_scripts_pass_the_model(tmp_path):
    rng = np.random.default_rng(7)
    _write_trials(tmp_path, *_cosine_like(rng, 100, 1000))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    key, raw, model = tmp_path / "trials", tmp_path / "scores", tmp_path / "cal" / "pav.json"

    def step(*args):
        return subprocess.run(["bash", *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True)

    r = step("steps/train_calibration.sh", "--model", "pav", key, raw, model)
    assert r.returncode == 0, r.stderr
    assert json.loads(model.read_text())["type"] == "pav_calibration"
    r = step("steps/apply_calibration.sh", "--model", "pav", model, key, raw, tmp_path / "cal" / "s")
    assert r.returncode == 0, r.stderr
    assert len((tmp_path / "cal" / "s").read_text().splitlines()) == 1100
    r = step("steps/apply_calibration.sh", "--model", "linear", model, key, raw, tmp_path / "cal" / "s2")
    assert r.returncode != 0 and not (tmp_path / "cal" / "s2").exists()
    for script, default in (("steps/train_calibration.sh", "linear"), ("steps/apply_calibration.sh", "auto")):
        r = step(script, "--help")
        assert r.stdout.startswith("Usage:") and f"--model                    {default}" in r.stdout
