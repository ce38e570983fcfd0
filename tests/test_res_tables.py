"""run_050 result tables on a fake score directory."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np

from hyp_face.bin import make_res_tables
from hyp_face.metrics.report import evaluate, write_results

ROOT = Path(__file__).resolve().parents[1]
SETS = ("sre19_av_v_dev", "sre19_av_v_eval", "janus_dev_core", "janus_eval_core")
HEADER = [
    "System,SRE19 DEV AV,,,SRE19 EVAL AV,,,JANUS DEV CORE,,,JANUS EVAL CORE,,",
    ",EER,Min Cp,Act Cp,EER,Min Cp,Act Cp,EER,Min Cp,Act Cp,EER,Min Cp,Act Cp",
]


def _fake_score_dir(root: Path, ncoh: int = 1000) -> dict:
    """be_v1 (plain + s-norm, janus_eval_core missing for s-norm), be_v10 (plain only), be_v2 (plain, s-norm and
    asnorm), be_v4_thrahc0.95 (plain + asnorm), be_v3 (uncalibrated only)."""
    rng = np.random.default_rng(0)
    made = {}
    layout = {
        ("be_v1", "cosine_cal_v1_sre19"): SETS,
        ("be_v1", f"cosine_snorm{ncoh}_v1_cal_v1_sre19"): SETS[:3],
        ("be_v2", "cosine_cal_v1_sre19"): SETS,
        ("be_v2", f"cosine_snorm{ncoh}_v1_cal_v1_sre19"): SETS,
        ("be_v2", f"cosine_asnorm{ncoh}_cal_v1_sre19"): SETS,
        ("be_v4_thrahc0.95", "cosine_cal_v1_sre19"): SETS,
        ("be_v4_thrahc0.95", f"cosine_asnorm{ncoh}_cal_v1_sre19"): SETS,
        ("be_v10", "cosine_cal_v1_sre19"): SETS,
    }
    for (be, sub), sets in layout.items():
        for name in sets:
            res = evaluate(rng.normal(rng.uniform(1, 4), 1, 50), rng.normal(0, 1, 500))
            write_results(root / be / sub / name, res)
            made[(be, sub, name)] = res
    (root / "be_v10" / f"cosine_snorm{ncoh}_v1").mkdir(parents=True)  # an uncalibrated dir is not tabulated
    (root / "be_v3" / "cosine").mkdir(parents=True)
    return made


def _cells(res):
    return f",{res['eer_percent']:.2f},{res['min_dcf']['0.05']:.3f},{res['act_dcf']['0.05']:.3f}"


def test_make_res_tables_csv_markdown_json(tmp_path, capsys):
    made = _fake_score_dir(tmp_path)
    make_res_tables.main([str(tmp_path), "-v", "0"])
    csv = (tmp_path / "results.csv").read_text().splitlines()
    assert csv[:2] == HEADER
    assert [line.split(",")[0] for line in csv[2:]] == [
        "be_v1", "be_v1 s-norm", "be_v2", "be_v2 s-norm", "be_v2 asnorm", "be_v4_thrahc0.95",
        "be_v4_thrahc0.95 asnorm", "be_v10"]
    assert {line.count(",") for line in csv} == {3 * len(SETS)}  # every row has as many fields as the header
    snorm = "cosine_snorm1000_v1_cal_v1_sre19"
    assert csv[2] == "be_v1" + "".join(_cells(made[("be_v1", "cosine_cal_v1_sre19", s)]) for s in SETS)
    assert csv[3] == "be_v1 s-norm" + "".join(_cells(made[("be_v1", snorm, s)]) for s in SETS[:3]) + ",,,"
    assert csv[8] == "be_v4_thrahc0.95 asnorm" + "".join(
        _cells(made[("be_v4_thrahc0.95", "cosine_asnorm1000_cal_v1_sre19", s)]) for s in SETS)
    markdown = (tmp_path / "results.md").read_text()
    assert capsys.readouterr().out == markdown
    assert "| be_v2 s-norm | " in markdown and "janus_eval_core_results.json: missing" in markdown
    assert "be_v3: none of cosine_cal_v1_sre19, " in markdown and "be_v10: none" not in markdown
    data = json.loads((tmp_path / "results.json").read_text())
    row = data["rows"][1]
    assert row["system"] == "be_v1 s-norm" and row["results"]["janus_eval_core"] is None
    assert row["results"]["sre19_av_v_dev"] == made[("be_v1", snorm, "sre19_av_v_dev")]
    assert data["rows"][5]["backend"] == {"version": "v4", "thr_ahc": 0.95}
    assert data["rows"][0]["backend"] == {"version": "v1"} and data["rows"][-1]["backend"] is None  # be_v10


def test_run_050_script_with_custom_sets_and_ncoh(tmp_path):
    made = _fake_score_dir(tmp_path, ncoh=20)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run(
        ["bash", "run_050_make_res_tables.sh", "--score-dir", str(tmp_path), "--sets", "janus_dev_core sre19_av_v_dev",
         "--ncoh", "20", "--calibration", "linear", "--snorm-calibration", "linear"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stderr
    csv = (tmp_path / "results.csv").read_text().splitlines()
    assert csv[0] == "System,JANUS DEV CORE,,,SRE19 DEV AV,,"
    cal = "cosine_cal_v1_sre19"
    assert csv[2] == "be_v1" + _cells(made[("be_v1", cal, "janus_dev_core")]) + _cells(
        made[("be_v1", cal, "sre19_av_v_dev")])
    assert "be_v2 s-norm" in csv[5] and "be_v2 asnorm" in csv[6]  # faithful and asnorm s-norm, whichever exist
    asnorm = "cosine_asnorm20_cal_v1_sre19"
    assert csv[8] == "be_v4_thrahc0.95 asnorm" + _cells(made[("be_v4_thrahc0.95", asnorm, "janus_dev_core")]) + _cells(
        made[("be_v4_thrahc0.95", asnorm, "sre19_av_v_dev")])
    assert r.stdout == (tmp_path / "results.md").read_text()
