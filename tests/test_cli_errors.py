"""Bad input to a command is one line naming the file and line (hyp_face.cli.run_main), never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def run(module: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=env or ENV, capture_output=True,
                          text=True, check=False, timeout=120)


@pytest.mark.parametrize("bad, message", [
    ("a x.mp4\nb\n", "bad.scp:2: key 'b' has no value"),
    ("a x.mp4\na y.mp4\n", "bad.scp:2: duplicate key 'a'"),
])
def test_a_malformed_line_is_one_line_naming_file_and_line(tmp_path, bad, message):
    (tmp_path / "bad.scp").write_text(bad)
    res = run("hyp_face.bin.plan_extract_jobs", "--", "--vid-scp", str(tmp_path / "bad.scp"), "--output-prefix",
              str(tmp_path / "out" / "embed.JOB"))
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.strip().splitlines()[-1] == f"plan_extract_jobs: {tmp_path}/{message}"


def test_missing_files_and_bad_values_are_one_line_too(tmp_path):
    (tmp_path / "trials").write_text("m t target\nm u nontarget\n")
    (tmp_path / "scores").write_text("m t 0.5\nm u abc\n")
    res = run("hyp_face.bin.score_trials", str(tmp_path / "trials"), str(tmp_path / "scores"), str(tmp_path / "o"))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1] == f"score_trials: {tmp_path}/scores:2: bad score 'abc'"
    res = run("hyp_face.bin.apply_calibration", str(tmp_path / "nomodel.json"), str(tmp_path / "trials"),
              str(tmp_path / "scores"), str(tmp_path / "cal"))
    assert res.returncode == 1 and "Traceback" not in res.stderr and "nomodel.json" in res.stderr


def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "bad.scp").write_text("a\n")
    res = run("hyp_face.bin.plan_extract_jobs", "--", "--vid-scp", str(tmp_path / "bad.scp"), "--output-prefix",
              str(tmp_path / "embed.JOB"), env={**ENV, "HYP_FACE_DEBUG": "1"})
    assert res.returncode == 1 and "Traceback" in res.stderr and "TableError" in res.stderr
