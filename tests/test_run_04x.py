"""End to end: run_04x on a tiny synthetic corpus (data dirs + embedding store) in a scratch recipe root."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hyp_face.backend.versions import VERSIONS
from hyp_face.io.embed_store import EmbedWriter

ROOT = Path(__file__).resolve().parents[1]
DIM = 8
SETS = {  # set name -> (enroll dir, test dir)
    "sre19_av_v_dev": ("sre19_av_v_dev_enroll", "sre19_av_v_dev_test"),
    "sre19_av_v_eval": ("sre19_av_v_eval_enroll", "sre19_av_v_eval_test"),
    "janus_dev_core": ("janus_dev_enroll", "janus_dev_test_core"),
    "janus_eval_core": ("janus_eval_enroll", "janus_eval_test_core"),
}
RUN_SCRIPTS = sorted(p.name for p in ROOT.glob("run_04?_eval_be_v?.sh"))
SUBDIRS = ("cosine", "cosine_cal_v1_sre19", "cosine_snorm1000_v1", "cosine_snorm1000_v1_cal_v1_sre19")


def needs(*paths: str) -> None:
    for p in paths:
        if not (ROOT / p).exists():
            pytest.skip(f"{p} is missing (calibration/scoring or launcher not there yet)")


def write_store(path: Path, videos: dict[str, np.ndarray]) -> None:
    with EmbedWriter(path / "embed") as w:
        for key, x in videos.items():
            w.write(key, x)


def make_set(root: Path, embed_dir: Path, rng: np.random.Generator, enroll: str, test: str) -> None:
    """6 identities; models 0-3 enrolled (1-3 reference faces), 10 test videos (one empty), all trials."""
    ids = rng.normal(size=(6, DIM))
    models = [f"{enroll}-m{i}" for i in range(4)]
    enroll_videos = {f"{enroll}-e{i}": ids[i] + 0.4 * rng.normal(size=(1 + i % 3, DIM)) for i in range(4)}
    test_ids = rng.integers(0, 6, size=10)
    test_ids[:4] = [0, 1, 2, 3]  # every model has a target trial
    tests = {f"{test}-t{j}": ids[k] + 0.4 * rng.normal(size=(1 + j % 4, DIM)) for j, k in enumerate(test_ids)}
    tests[f"{test}-t9"] = np.zeros((0, DIM))
    for d, utt2spk in ((enroll, dict(zip(enroll_videos, models))), (test, {t: f"spk{t}" for t in tests})):
        (root / "data" / d).mkdir(parents=True)
        (root / "data" / d / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in utt2spk.items()))
    lines = [f"{m} {t} {'target' if test_ids[j] == i else 'nontarget'}\n"
             for i, m in enumerate(models) for j, t in enumerate(tests) if j < 10]
    (root / "data" / test / "trials").write_text("".join(lines))
    write_store(embed_dir / "ref" / enroll, enroll_videos)
    write_store(embed_dir / "facedet" / enroll, enroll_videos)
    write_store(embed_dir / "facedet" / test, tests)


@pytest.fixture
def recipe(tmp_path):
    needs("steps/score_trials.sh", "steps/train_calibration.sh", "steps/apply_calibration.sh", "utils/run.pl")
    for name in ("path.sh", "cmd.sh", "steps", "utils", "local", "hyp_face", "run_050_make_res_tables.sh",
                 *RUN_SCRIPTS):
        (tmp_path / name).symlink_to(ROOT / name)
    embed_dir = tmp_path / "exp" / "face_embed" / "tiny"
    rng = np.random.default_rng(0)
    for enroll, test in SETS.values():
        make_set(tmp_path, embed_dir, rng, enroll, test)
    (tmp_path / "conf.sh").write_text(f"face_embed_name=tiny\nface_embed_dir={embed_dir}\nthr_ahc=0.9\n")
    return tmp_path


def run(recipe: Path, script: str, *opts: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", train_cmd="run.pl")
    return subprocess.run(["bash", script, "--config-file", "conf.sh", *opts], cwd=recipe, env=env,
                          capture_output=True, text=True, check=check)


def test_run_040_writes_all_scores_and_results(recipe):
    res = run(recipe, "run_040_eval_be_v1.sh", "--ncoh-discard", "3", "--score-plots", "false",
              check=False)  # tiny cohort (~30 faces)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    score_dir = recipe / "exp" / "scores" / "tiny" / "be_v1"
    for sub in SUBDIRS:
        for name, (_, test) in SETS.items():
            scores = (score_dir / sub / f"{name}_scores").read_text().splitlines()
            trials = (recipe / "data" / test / "trials").read_text().splitlines()
            assert sorted(s.split()[:2] for s in scores) == sorted(t.split()[:2] for t in trials)
            assert (score_dir / sub / f"{name}_results").read_text().strip()
    args = {i: (score_dir / SUBDIRS[2] / "tasks" / f"eval_be.{i}.args").read_text().split("\n") for i in (1, 3, 4)}
    discard = {i: a[a.index("--ncoh-discard") + 1] for i, a in args.items()}
    assert discard == {1: "0", 3: "3", 4: "0"}  # JANUS dev only (its test set is the cohort)


def be_name(recipe, script, *opts):
    return run(recipe, script, "--stage", "100", *opts).stdout.split("(")[1].split(")")[0]


def test_command_line_beats_config_beats_spec_defaults(recipe):
    assert be_name(recipe, "run_046_eval_be_v7.sh", "--att-a", "3") == "be_v7_selfatt_a2_att_a3"
    assert be_name(recipe, "run_043_eval_be_v4.sh") == "be_v4_thrahc0.9"  # from the config file
    assert be_name(recipe, "run_043_eval_be_v4.sh", "--thr-ahc", "0.7") == "be_v4_thrahc0.7"
    assert be_name(recipe, "run_044_eval_be_v5.sh", "--thr-ahc", "0.90") == "be_v5_thrahc0.9"  # one value, one dir


def test_v8_keeps_its_own_default_unless_its_own_key_or_the_command_line_says(recipe):
    conf = recipe / "conf.sh"
    conf.write_text(conf.read_text() + "self_att_a=40\n")  # the shared key: v6, v7, v9 only
    assert be_name(recipe, "run_045_eval_be_v6.sh") == "be_v6_selfatt_a40"
    assert be_name(recipe, "run_047_eval_be_v8.sh") == "be_v8_selfatt_a1"
    assert be_name(recipe, "run_047_eval_be_v8.sh", "--self-att-a", "5") == "be_v8_selfatt_a5"
    conf.write_text(conf.read_text() + "self_att_a_v8=3\nself_att_a_v9=7\n")
    assert be_name(recipe, "run_047_eval_be_v8.sh") == "be_v8_selfatt_a3"
    assert be_name(recipe, "run_048_eval_be_v9.sh") == "be_v9_selfatt_a7"


def test_v8_jobs_get_the_resolved_value(recipe):
    res = run(recipe, "run_047_eval_be_v8.sh", "--stop-stage", "4", "--score-plots", "false", check=False)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    args = (recipe / "exp/scores/tiny/be_v8_selfatt_a1/cosine/tasks/eval_be.1.args").read_text().split("\n")
    assert args[:4] == ["--backend", "v8", "--self-att-a", "1"] and "--thr-ahc" not in args


@pytest.mark.parametrize("script", RUN_SCRIPTS)
def test_help_starts_with_usage_and_names_every_stage(recipe, script):
    res = run(recipe, script, "--help")
    lines = res.stdout.splitlines()
    assert lines[0].startswith("Usage: ") and lines[0].split()[1].endswith(script)
    assert [line.split(":")[0].strip() for line in lines if line.lstrip().startswith("stage ")] == [
        "stage 4", "stage 6", "stage 9", "stage 11"]
    assert "--backend" in res.stdout and f"v{int(script[6]) + 1}" in res.stdout


def test_every_version_has_a_run_script():
    assert [name[len("run_04x_eval_be_"):-len(".sh")] for name in RUN_SCRIPTS] == list(VERSIONS)


def test_run_050_tabulates_asnorm_results(recipe):
    res = run(recipe, "run_040_eval_be_v1.sh", "--stage", "9", "--snorm", "asnorm", "--ncoh", "20",
              "--ncoh-discard", "3", "--score-plots", "false", "--sets", "sre19_av_v_dev sre19_av_v_eval", check=False)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    res = run(recipe, "run_050_make_res_tables.sh", "--ncoh", "20", "--sets", "sre19_av_v_dev sre19_av_v_eval")
    csv = (recipe / "exp/scores/tiny/results.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in csv[2:]] == ["be_v1 asnorm"] and "| be_v1 asnorm |" in res.stdout
    assert csv[2].count(",") == 6 and "" not in csv[2].split(",")


def test_a_failed_job_fails_the_stage(recipe):
    utt2spk = recipe / "data" / "janus_eval_enroll" / "utt2spk"
    utt2spk.write_text("\n".join(utt2spk.read_text().splitlines()[1:]) + "\n")  # a trial model loses its video
    res = run(recipe, "run_040_eval_be_v1.sh", "--stop-stage", "4", check=False)
    assert res.returncode != 0 and "failed" in res.stderr
    assert not (recipe / "exp/scores/tiny/be_v1/cosine/janus_eval_core_results").exists()


def test_missing_config_is_a_clear_error(recipe):
    res = run(recipe, "run_040_eval_be_v1.sh", "--config-file", "nope.sh", check=False)
    assert res.returncode != 0 and "nope.sh" in res.stderr


def test_config_names_the_calibration_of_raw_and_snorm_scores(recipe):
    """calibration= / snorm_calibration= choose the models, name the dirs, and run_050 tabulates those dirs."""
    conf = recipe / "conf.sh"
    conf.write_text(conf.read_text() + "calibration=linear_atanh\nsnorm_calibration=pav\n")
    sets = ("--sets", "sre19_av_v_dev sre19_av_v_eval")
    res = run(recipe, "run_040_eval_be_v1.sh", "--ncoh", "20", "--ncoh-discard", "3", "--score-plots", "false", *sets,
              check=False)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    score_dir = recipe / "exp/scores/tiny/be_v1"
    assert '"transform": "atanh"' in (score_dir / "cosine_cal_linear_atanh_sre19" / "cal_linear_atanh_sre19.json").read_text()
    assert (score_dir / "cosine_snorm20_v1_cal_pav_sre19" / "sre19_av_v_eval_results").exists()
    assert not list(score_dir.glob("*cal_v1_sre19"))
    res = run(recipe, "run_050_make_res_tables.sh", "--ncoh", "20", *sets)
    assert [line.split(",")[0] for line in (recipe / "exp/scores/tiny/results.csv").read_text().splitlines()[2:]] == [
        "be_v1", "be_v1 s-norm"]
    res = run(recipe, "run_040_eval_be_v1.sh", "--stage", "6", "--stop-stage", "6", "--calibration", "linear", *sets)
    assert (score_dir / "cosine_cal_v1_sre19" / "sre19_av_v_dev_scores").exists()  # the command line wins
