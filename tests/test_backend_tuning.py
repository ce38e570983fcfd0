"""Back-end hyper-parameter tuning: the selection rule on hand-checkable costs, and the grid on a tiny corpus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hyp_face.backend import tuning
from hyp_face.backend.tuning import (
    GRID,
    SELECTION,
    VERSION_PARAMS,
    relative_cost,
    select,
    setting_key,
    settings,
    smoothed,
)
from hyp_face.io.embed_store import EmbedWriter

ROOT = Path(__file__).resolve().parents[1]


def flat_results(eer: float = 10.0, min_cp: float = 0.5) -> dict:
    """Every tuned version and grid point with the same EER and min Cp (all relative costs 1)."""
    return {v: {setting_key(st): {"eer": eer, "min_cp": min_cp} for st in settings(v)} for v in VERSION_PARAMS}


def test_versions_and_groups_come_from_the_version_specs():
    assert VERSION_PARAMS == {"v1": (), "v2": (), "v3": (), "v4": ("thr_ahc",), "v5": ("thr_ahc",),
                              "v6": ("self_att_a",), "v9": ("self_att_a",), "v7": ("self_att_a", "att_a")}
    assert SELECTION == ((("thr_ahc",), ("v4", "v5")), (("self_att_a", "att_a"), ("v6", "v7", "v9")))
    assert len(settings("v7")) == len(GRID["self_att_a"]) * len(GRID["att_a"]) and settings("v1") == [{}]
    assert setting_key({"self_att_a": 40.0, "att_a": 120.0}) == "self_att_a=40,att_a=120" and setting_key({}) == "-"


def test_smoothing_averages_each_point_with_its_neighbours():
    assert smoothed({(0,): 1.0, (1,): 4.0, (2,): 1.0}) == {(0,): 2.5, (1,): 2.0, (2,): 2.5}
    square = smoothed({(0, 0): 0.0, (0, 1): 4.0, (1, 0): 8.0, (1, 1): 12.0, (2, 0): 20.0, (2, 1): 0.0})
    assert square[(0, 0)] == 6.0  # 0, 4, 8, 12
    assert square[(2, 1)] == 10.0  # 8, 12, 20, 0


def test_relative_cost_is_the_mean_of_both_ratios_to_v1():
    res = flat_results()
    res["v4"]["thr_ahc=0.9"] = {"eer": 5.0, "min_cp": 0.5}  # (0.5 + 1) / 2 = 0.75
    res["v5"]["thr_ahc=0.9"] = {"eer": 10.0, "min_cp": 0.25}  # (1 + 0.5) / 2 = 0.75
    assert relative_cost(res, ("v4", "v5"), {"thr_ahc": 0.9}) == 0.75
    assert relative_cost(res, ("v4",), {"thr_ahc": 0.8}) == 1.0


def test_a_faultless_v1_is_floored():
    res = flat_results(eer=0.0, min_cp=0.0)
    res["v4"]["thr_ahc=0.8"] = {"eer": 0.2, "min_cp": 0.02}  # against the floors 0.1 and 0.01
    assert relative_cost(res, ("v4",), {"thr_ahc": 0.8}) == 2.0


def test_a_plateau_beats_an_isolated_dip():
    """thr_ahc: a dip to cost 0.1 at 0.9 (smoothed 0.7) and a plateau of 0.3 at 0.95-0.97 (smoothed 0.3 at 0.96)."""
    res = flat_results()
    for thr, eer in ((0.9, 1.0), (0.95, 3.0), (0.96, 3.0), (0.97, 3.0)):
        for v in ("v4", "v5"):
            res[v][f"thr_ahc={thr:g}"] = {"eer": eer, "min_cp": eer / 20}
    assert select(res)["thr_ahc"] == 0.96


def test_ties_go_to_the_first_grid_point():
    assert select(flat_results()) == {"thr_ahc": 0.8, "self_att_a": 2.0, "att_a": 4.0}


def test_self_att_a_and_att_a_are_chosen_jointly_over_v6_v7_v9():
    """Cost 0.2 for self_att_a 30-60 (v6, v9) and for those with att_a 80-120 (v7), else 1: the smoothed joint cost
    is lowest (0.2) only at self_att_a 40, att_a 120, whose neighbours all lie on both plateaus."""
    res = flat_results()
    for v in ("v6", "v9"):
        for a in (30.0, 40.0, 60.0):
            res[v][setting_key({"self_att_a": a})] = {"eer": 2.0, "min_cp": 0.1}
    for a in (30.0, 40.0, 60.0):
        for b in (80.0, 120.0):
            res["v7"][setting_key({"self_att_a": a, "att_a": b})] = {"eer": 2.0, "min_cp": 0.1}
    chosen = select(res)
    assert chosen["self_att_a"] == 40.0 and chosen["att_a"] == 120.0


def write_store(path: Path, videos: dict[str, np.ndarray]) -> None:
    with EmbedWriter(path / "embed") as w:
        for key, x in videos.items():
            w.write(key, x)


def make_set(root: Path, name: str, rng: np.random.Generator, dim: int = 8) -> None:
    """<name>_enroll / <name>_test data dirs and embeddings: 4 models, 8 test videos with a distractor."""
    ids = rng.normal(size=(6, dim))
    enroll, test = f"{name}_enroll", f"{name}_test"
    videos = {f"{name}-e{i}": ids[i] + 0.5 * rng.normal(size=(1 + i % 2, dim)) for i in range(4)}
    who = rng.integers(0, 6, size=8)
    tests = {f"{name}-t{j}": np.vstack([ids[k] + 0.5 * rng.normal(size=(2, dim)), ids[(k + 1) % 6][None]])
             for j, k in enumerate(who)}
    for d, utt2spk in ((enroll, {v: f"m{i}" for i, v in enumerate(videos)}), (test, {t: t for t in tests})):
        (root / "data" / d).mkdir(parents=True)
        (root / "data" / d / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in utt2spk.items()))
    (root / "data" / test / "trials").write_text("".join(
        f"m{i} {t} {'target' if who[j] == i else 'nontarget'}\n" for i in range(4) for j, t in enumerate(tests)))
    write_store(root / "emb" / "ref" / enroll, videos)
    write_store(root / "emb" / "facedet" / enroll, videos)
    write_store(root / "emb" / "facedet" / test, tests)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("tune")
    rng = np.random.default_rng(5)
    for name in ("dev", "eval"):
        make_set(root, name, rng)
    return root


def test_grid_scores_every_setting_and_matches_one_evaluation(corpus):
    data = corpus / "data"
    dev = tuning.EvalSet.load("dev", data / "dev_enroll", data / "dev_test", corpus / "emb")
    assert dev.stats()["target_trials"] + dev.stats()["nontarget_trials"] == 32
    results = tuning.run_grid([dev])["dev"]
    assert list(results) == list(VERSION_PARAMS)
    assert {v: len(r) for v, r in results.items()} == {v: len(settings(v)) for v in VERSION_PARAMS}
    one = dev.evaluate(tuning.BackendParams("v7", self_att_a=40.0, att_a=120.0))
    assert results["v7"]["self_att_a=40,att_a=120"] == one
    chosen = select(results)
    assert all(chosen[k] in GRID[k] for k in GRID)


def test_local_script_writes_grid_and_chosen_values(corpus, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, str(ROOT / "local/tune_backend_hparams.py"), "--data-dir",
                          str(corpus / "data"), "--embed-dir", str(corpus / "emb"), "--sets", "dev", "eval",
                          "--select-set", "dev", "--out-dir", str(tmp_path)], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    grid = json.loads((tmp_path / "grid.json").read_text())
    assert grid["chosen"] == select(grid["results"]["dev"])
    lines = (tmp_path / "chosen.sh").read_text().splitlines()
    assert lines == [f"{k}={v:g}" for k, v in grid["chosen"].items()] == res.stdout.splitlines()
    assert "| v7 | self_att_a=2,att_a=4 (original) |" in (tmp_path / "grid.md").read_text()
