"""Fusion of modalities on the same trials (the --missing policy, the equal-weight mean), the K evenly spaced faces
score, and the LFW cross-fold fusion machinery on synthetic scores."""

from __future__ import annotations

import numpy as np
import pytest

from hyp_face.backend.kspaced import evenly_spaced, mean_of_pairs, select_kspaced
from hyp_face.bin import fuse_modalities
from hyp_face.calibrate.av_fusion import MissingTrialError, mean_fusion, modality_matrix
from hyp_face.eval.lfw_fusion import crossfold_llrs, llr_metrics
from hyp_face.metrics.scores import load_trials, read_scores


@pytest.fixture
def files(tmp_path):
    trials = tmp_path / "trials"
    trials.write_text("m1 t1 target\nm1 t2 nontarget\nm2 t1 nontarget\nm2 t2 target\n")
    face = tmp_path / "face"
    face.write_text("m1 t1 2.0\nm1 t2 -1.0\nm2 t1 -3.0\nm2 t2 4.0\n")
    voice = tmp_path / "voice"
    voice.write_text("m1 t1 1.0\nm1 t2 -2.0\nm2 t2 2.0\nx y 9\n")  # m2 t1 missing; x y is not a trial
    return trials, face, voice


def test_missing_trial_is_an_error_naming_it(files):
    trials, face, voice = files
    with pytest.raises(MissingTrialError, match=r"voice: no score for trial m2 t1 \(1 of 4 trials missing\)"):
        modality_matrix(load_trials(trials), [face, voice])


def test_missing_policies(files):
    trials, face, voice = files
    t = load_trials(trials)
    single = modality_matrix(t, [face, voice], "single")
    neutral = modality_matrix(t, [face, voice], "neutral")
    np.testing.assert_array_equal(single, [[2, 1], [-1, -2], [-3, -3], [4, 2]])
    np.testing.assert_array_equal(neutral, [[2, 1], [-1, -2], [-3, 0], [4, 2]])
    np.testing.assert_array_equal(mean_fusion(neutral), [1.5, -1.5, -1.5, 3.0])
    with pytest.raises(ValueError, match="unknown --missing policy"):
        modality_matrix(t, [face, voice], "drop")


def test_a_trial_no_modality_scored_is_always_an_error(files, tmp_path):
    trials, face, voice = files
    other = tmp_path / "other"
    other.write_text("m1 t1 1.0\nm1 t2 -2.0\nm2 t2 2.0\n")
    with pytest.raises(MissingTrialError, match="m2 t1"):
        modality_matrix(load_trials(trials), [voice, other], "single")


def test_fuse_modalities_cli(files, tmp_path):
    trials, face, voice = files
    mean = tmp_path / "out" / "mean_scores"
    completed = [tmp_path / "out" / "face_scores", tmp_path / "out" / "voice_scores"]
    with pytest.raises(SystemExit, match="no score for trial m2 t1.*--missing single"):
        fuse_modalities.main([str(trials), str(mean), str(face), str(voice)])
    assert fuse_modalities.main([str(trials), str(mean), str(face), str(voice), "--missing", "single",
                                 "--completed", *map(str, completed)]) == 0
    assert read_scores(mean) == {("m1", "t1"): 1.5, ("m1", "t2"): -1.5, ("m2", "t1"): -3.0, ("m2", "t2"): 3.0}
    assert read_scores(completed[1])[("m2", "t1")] == -3.0 and ("x", "y") not in read_scores(completed[1])


def test_evenly_spaced_faces():
    assert evenly_spaced(3, 5).tolist() == [0, 1, 2]
    assert evenly_spaced(9, 5).tolist() == [0, 2, 4, 6, 8]
    assert evenly_spaced(10, 1).tolist() == [0]
    with pytest.raises(ValueError):
        evenly_spaced(4, 0)
    embeds = np.arange(9, dtype=float)[:, None] * [1.0, 0.0]
    times = np.array([8, 7, 6, 5, 4, 3, 2, 1, 0], float)  # faces listed in reverse time order
    assert select_kspaced(embeds, times, 3)[:, 0].tolist() == [8.0, 4.0, 0.0]


def test_mean_of_pairs():
    a = np.array([[1.0, 0.0], [0.0, 2.0]])
    b = np.array([[3.0, 0.0]])
    assert mean_of_pairs(a, b) == pytest.approx(0.5)
    assert np.isnan(mean_of_pairs(a, np.zeros((0, 2))))


def test_crossfold_fusion_of_two_informative_systems():
    rng = np.random.default_rng(1)
    n = 4000
    same = rng.random(n) < 0.5
    fold = np.repeat(np.arange(1, 11), n // 10)
    signal = np.where(same, 1.0, -1.0)
    scores = np.column_stack([signal * 1.2 + rng.standard_normal(n), signal + rng.standard_normal(n)])
    llrs = crossfold_llrs(scores, same, fold, ["linear", "linear"])
    metrics = {k: llr_metrics(v, same) for k, v in llrs.items()}
    best = min(metrics["system1"]["eer"], metrics["system2"]["eer"])
    for fused in ("mean", "greedy"):
        assert metrics[fused]["eer"] <= best
        assert metrics[fused]["cllr"] < min(metrics["system1"]["cllr"], metrics["system2"]["cllr"])


def test_read_kspaced_from_the_store(tmp_path):
    from hyp_face.backend.kspaced import read_kspaced
    from hyp_face.io.embed_store import EmbedReader, EmbedWriter, FaceMeta

    embeds = np.arange(14, dtype=np.float32).reshape(7, 2)
    meta = FaceMeta.unknown(7)
    meta.time = np.array([6, 5, 4, 3, 2, 1, 0], float)
    with EmbedWriter(tmp_path / "embed") as writer:
        writer.write("v", embeds, meta)
    with EmbedReader(tmp_path / "embed.scp") as reader:
        picked = read_kspaced(reader, "v", 3)
    assert picked.dtype == np.float64 and picked[:, 0].tolist() == [12.0, 6.0, 0.0]  # times 0, 3, 6
