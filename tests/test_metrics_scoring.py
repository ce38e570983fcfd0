"""Score files, trial joins, the score_trials / calibration / fusion CLIs and their step scripts."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hyp_face.bin import apply_calibration, apply_fusion, score_trials, train_calibration, train_fusion
from hyp_face.io.table import TableError
from hyp_face.metrics.report import evaluate, results_line
from hyp_face.metrics.scores import Trials, load_trials, read_scores, trial_scores, write_scores

ROOT = Path(__file__).resolve().parents[1]


def _write_key_and_scores(tmp_path, n_models=6, n_tests=80, seed=0, shift=2.0, name="scores"):
    """A key over a model x test grid (target when test % models == model) and a full-matrix score file."""
    rng = np.random.default_rng(seed)
    key, lines, tar, non = [], [], [], []
    for t in range(n_tests):
        for m in range(n_models):
            is_tar = t % n_models == m
            s = rng.normal(shift if is_tar else 0.0, 1.0)
            lines.append(f"m{m} t{t:03d} {s:f}")
            if (t + m) % 3:  # only part of the grid is a trial; the rest are extra scores
                key.append(f"m{m} t{t:03d} {'target' if is_tar else 'nontarget'}")
                (tar if is_tar else non).append(float(f"{s:f}"))
    (tmp_path / "trials").write_text("\n".join(key) + "\n")
    (tmp_path / name).write_text("\n".join(lines) + "\n")
    return np.array(tar), np.array(non)


def test_scores_are_written_in_the_original_order_and_format(tmp_path):
    """Sorted by test, then model, in code point order (as numpy sorts strings), stable for repeated pairs, ``%f``;
    against a plain reference on names with prefixes, case, non-ASCII and '%'."""
    rng = np.random.default_rng(3)
    pool = ["a", "ab", "B", "b%d", "é1", "z", "100%", "a_b", "A"]
    models = [pool[i] for i in rng.integers(0, len(pool), 400)]
    tests = [pool[i] for i in rng.integers(0, len(pool), 400)]
    scores = rng.normal(size=400)
    write_scores(tmp_path / "s", Trials(models, tests, None), scores)
    order = np.lexsort((np.asarray(models), np.asarray(tests)))
    expected = "".join(f"{models[i]} {tests[i]} {scores[i]:f}\n" for i in order)
    assert (tmp_path / "s").read_text() == expected
    write_scores(tmp_path / "empty", Trials([], [], None), np.zeros(0))
    assert (tmp_path / "empty").read_text() == ""


def test_trial_scores_join_and_errors(tmp_path):
    tar, non = _write_key_and_scores(tmp_path)
    trials = load_trials(tmp_path / "trials")
    scores = trial_scores(trials, tmp_path / "scores")
    assert np.array_equal(np.sort(scores[trials.is_target]), np.sort(tar))
    assert np.array_equal(np.sort(scores[~trials.is_target]), np.sort(non))
    lines = (tmp_path / "scores").read_text().splitlines()
    kept = [line for line in lines if not line.startswith("m1 t001 ")]
    (tmp_path / "short").write_text("\n".join(kept) + "\n")
    with pytest.raises(ValueError, match=r"short: no score for trial m1 t001"):
        trial_scores(trials, tmp_path / "short")
    (tmp_path / "bad").write_text("m0 t000 0.5\nm0 t001 nan\n")
    with pytest.raises(TableError, match=r"bad:2: bad score"):
        read_scores(tmp_path / "bad")
    (tmp_path / "dup").write_text("m0 t000 0.5\nm1 t000 1\nm0 t000 0.7\n")
    with pytest.raises(TableError, match=r"dup:3: duplicate"):
        read_scores(tmp_path / "dup")
    (tmp_path / "cols").write_text("m0 t000 0.5\nm0 t001\n")
    with pytest.raises(TableError, match=r"cols:2"):
        read_scores(tmp_path / "cols")


def test_score_trials_cli_outputs(tmp_path):
    tar, non = _write_key_and_scores(tmp_path)
    score_trials.main([str(tmp_path / "trials"), str(tmp_path / "scores"), str(tmp_path / "out" / "set"), "-v", "0"])
    line = (tmp_path / "out" / "set_results").read_text()
    assert line == results_line(evaluate(tar, non)) + "\n"  # one line, ending with a newline
    res = json.loads((tmp_path / "out" / "set_results.json").read_text())
    assert (res["n_target"], res["n_nontarget"]) == (len(tar), len(non))
    assert set(res["min_dcf"]) == set(res["act_dcf"]) == {"0.05", "0.01", "0.005", "0.001"}
    assert {"eer_percent", "cllr", "min_cllr"} <= set(res)
    for png in ("set_det.png", "set_score_hist.png"):  # raw scores by default: no LLR histogram
        assert (tmp_path / "out" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "out" / "set_llr_hist.png").exists()
    llr_args = ["--llr", "true", "--title", "dev v1 cal", "-v", "0"]
    score_trials.main([str(tmp_path / "trials"), str(tmp_path / "scores"), str(tmp_path / "llr" / "set"), *llr_args])
    assert (tmp_path / "llr" / "set_llr_hist.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "llr" / "set_score_hist.png").exists()


def test_calibration_cli_round_trip(tmp_path):
    _write_key_and_scores(tmp_path, n_tests=300)
    model = tmp_path / "cal" / "cal.json"
    train_calibration.main([str(tmp_path / "trials"), str(tmp_path / "scores"), str(model), "-v", "0"])
    cal = json.loads(model.read_text())
    assert cal["type"] == "linear_calibration" and cal["p_target"] == 0.05 and cal["a"] > 0
    out = tmp_path / "cal" / "scores"
    apply_calibration.main([str(model), str(tmp_path / "trials"), str(tmp_path / "scores"), str(out), "-v", "0"])
    trials = load_trials(tmp_path / "trials")
    rows = [line.split() for line in out.read_text().splitlines()]
    assert len(rows) == len(trials)  # exactly the trials, sorted by test then model
    assert [(r[1], r[0]) for r in rows] == sorted(zip(trials.tests, trials.models))
    raw = read_scores(tmp_path / "scores")
    m, t, s = rows[0]
    assert float(s) == pytest.approx(cal["a"] * raw[(m, t)] + cal["b"], abs=1e-6)
    # an unlabelled trial list is enough to apply, not to train
    (tmp_path / "ndx").write_text("".join(f"{m} {t}\n" for m, t in zip(trials.models, trials.tests)))
    apply_calibration.main([str(model), str(tmp_path / "ndx"), str(tmp_path / "scores"), str(out) + "2", "-v", "0"])
    assert Path(str(out) + "2").read_text() == out.read_text()
    with pytest.raises(TableError, match="no target/nontarget labels"):
        train_calibration.main([str(tmp_path / "ndx"), str(tmp_path / "scores"), str(model), "-v", "0"])


def test_fusion_cli_round_trip(tmp_path):
    _write_key_and_scores(tmp_path, n_tests=300, seed=1, shift=3.0, name="good")
    _write_key_and_scores(tmp_path, n_tests=300, seed=2, shift=0.0, name="noise")
    model = tmp_path / "fus.json"
    files = [str(tmp_path / "noise"), str(tmp_path / "good")]
    train_fusion.main([str(tmp_path / "trials"), str(model), *files, "--max-systems", "2", "-v", "0"])
    fus = json.loads(model.read_text())
    assert [f["systems"] for f in fus["fusions"]] == [[1], [1, 0]]
    out = tmp_path / "fused"
    apply_fusion.main([str(model), str(tmp_path / "trials"), str(out), *files, "--fus-idx", "0", "-v", "0"])
    good = read_scores(tmp_path / "good")
    f0 = fus["fusions"][0]
    for m, t, s in (line.split() for line in out.read_text().splitlines()[:5]):
        assert float(s) == pytest.approx(f0["weights"][0] * good[(m, t)] + f0["bias"], abs=1e-6)
    with pytest.raises(SystemExit):
        apply_fusion.main([str(model), str(tmp_path / "trials"), str(out), files[0], "-v", "0"])


def _run_step(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(["bash", *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True)


@pytest.mark.skipif(not (ROOT / "utils" / "run.pl").exists(), reason="utils/run.pl not present")
def test_step_scripts_round_trip(tmp_path):
    tar, non = _write_key_and_scores(tmp_path, n_tests=200)
    key, raw = tmp_path / "trials", tmp_path / "scores"
    r = _run_step("steps/train_calibration.sh", "--p-target", "0.01", key, raw, tmp_path / "cal" / "model.json")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "cal" / "model.json").read_text())["p_target"] == 0.01
    assert (tmp_path / "cal" / "log" / "train_calibration_model.json.log").exists()
    r = _run_step("steps/apply_calibration.sh", tmp_path / "cal" / "model.json", key, raw, tmp_path / "cal" / "s")
    assert r.returncode == 0, r.stderr
    r = _run_step("steps/score_trials.sh", "--plots", "false", "--llr", "true", "--label", "dev  v1  cal", key,
                  tmp_path / "cal" / "s", tmp_path / "cal" / "set")
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "cal" / "set_results.json").read_text())
    cp_min, cp_act = res["min_dcf"]["0.05"], res["act_dcf"]["0.05"]
    assert r.stdout == f"dev  v1  cal  EER {res['eer_percent']:.2f}%  min Cp {cp_min:.3f}  act Cp {cp_act:.3f}\n"
    r = _run_step("steps/train_fusion.sh", "--max-systems", "1", key, tmp_path / "f.json", raw)
    assert r.returncode == 0, r.stderr
    r = _run_step("steps/apply_fusion.sh", tmp_path / "f.json", key, tmp_path / "fused", raw)
    assert r.returncode == 0, r.stderr
    assert len((tmp_path / "fused").read_text().splitlines()) == len(tar) + len(non)
    # a missing trial score fails the step, and the log names the file and the trial
    lines = raw.read_text().splitlines()
    (tmp_path / "short").write_text("\n".join(lines[:1] + lines[2:]) + "\n")  # drops trial m1 t000
    r = _run_step("steps/score_trials.sh", key, tmp_path / "short", tmp_path / "x" / "set")
    assert r.returncode != 0
    assert "no score for trial m1 t000" in (tmp_path / "x" / "log" / "score_set.log").read_text()
    assert _run_step("steps/score_trials.sh", key).returncode != 0  # usage error
