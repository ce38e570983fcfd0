"""The benchmark against the original builds a readable case and the aliases the original needs (no hyperion here)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hyp_face.backend.inputs import load_cohort, load_tests
from hyp_face.bench import vs_original
from hyp_face.bench.vs_original import Case, CaseSize, write_case
from hyp_face.io.datadir import read_trials, read_utt2spk


def test_case_has_the_requested_sizes_and_reads_back(tmp_path):
    size = CaseSize(models=3, tests=5, cohort_faces=40, cohort_videos=4, dim=8, max_faces=4)
    case = write_case(tmp_path / "case", size)
    models, tests, labels = read_trials(case.trials)
    assert len(models) == 15 and labels.sum() == 5  # full matrix, one target per test video
    assert sorted(set(read_utt2spk(case.enroll_utt2spk).values())) == sorted(set(models))
    mats = load_tests(str(case.test_scp), sorted(set(tests)))
    assert all(1 <= len(m) <= 4 and m.shape[1] == 8 for m in mats)
    assert load_cohort(str(case.cohort_utt2spk), str(case.cohort_scp)).shape == (40, 8)


def test_commands_pass_the_same_parameters_to_both_sides(tmp_path):
    case = Case.at(tmp_path)
    original = vs_original.original_command(tmp_path / "hyp", case, "v6", True, 100, tmp_path / "o")
    project = vs_original.project_command(case, "v6", True, 100, tmp_path / "p")
    assert original[1].endswith("steps_be/eval-face-vid-be-snorm-v6.py")
    assert original[original.index("--self-att-a") + 1] == project[project.index("--self-att-a") + 1] == "2"
    assert original[original.index("--coh-nbest") + 1] == project[project.index("--ncoh") + 1] == "100"
    assert "--full-matrix" in project and project[-1] == str(tmp_path / "p")


def test_sitecustomize_restores_the_removed_numpy_and_scipy_names(tmp_path):
    shims = vs_original.write_sitecustomize(tmp_path / "shims")
    code = "import numpy as np, scipy.signal as s; print(np.int is int, np.float is float, s.hann is s.windows.hann)"
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(shims)),
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True", "True"]


def test_a_folder_that_is_not_hyperion_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="not a hyperion checkout"):
        vs_original.check_hyperion(tmp_path)


def test_both_sides_get_the_same_threads_without_oversubscribing(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    original, project = vs_original.environments(tmp_path / "hyp", tmp_path / "shims", 2, 2)
    assert original["OPENBLAS_NUM_THREADS"] == original["OMP_NUM_THREADS"] == "2"
    assert project["HYP_FACE_THREADS"] == "2"  # block workers ...
    assert project["OPENBLAS_NUM_THREADS"] == project["OMP_NUM_THREADS"] == "1"  # ... of one BLAS thread each
    assert "HYP_FACE_THREADS" not in original
    assert "PYTHONDONTWRITEBYTECODE" not in original and "PYTHONDONTWRITEBYTECODE" not in project  # both cache
