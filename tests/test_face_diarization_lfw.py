"""Face diarization end to end on a tiny LFW-composed corpus: real LFW photos (../shared) -> composed test videos with
ground truth -> recognition against the partition's gallery (embedded default config) -> score_face_diarization.
Skips without ../shared or pyannote.metrics."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT, shared_path
from hyp_face.bin import score_face_diarization
from hyp_face.corpus import lfw_mock
from hyp_face.corpus.face_truth import read_face_truth

pytest.importorskip("pyannote.metrics")

CONFIG = ROOT / "global_conf" / "config_embedded.sh"
LFW = ("data", "lfw_view2_deepfunneled150", "warm-ice0x00_face-recognition-training", "lfw")


def test_lfw_composed_corpus_end_to_end(tmp_path):
    from hyp_face.frontend import FrontEndConfig, build_extractor
    from hyp_face.recognize.gallery import enroll
    from hyp_face.recognize.pipeline import config_options, recognize

    opts = lfw_mock.MockOptions(num_models=3, tests_per_model=1, num_impostor_tests=2)
    lfw_mock.build_lfw_mock_corpus(shared_path(*LFW), tmp_path / "corpus", opts)
    root = tmp_path / "corpus" / "sre19_av_dev"
    folder = root / "face_diarization"
    truth = read_face_truth(folder / "ground_truth.json")
    assert len(truth) == 5

    cfg = FrontEndConfig.from_file(CONFIG)
    extractor = build_extractor(cfg)
    gallery = enroll(folder / "gallery", extractor, cfg.fingerprint(), tmp_path / "gallery")
    identifier = gallery.identifier(cfg.recognize_unknown_thr)
    for key, video in truth.items():
        timeline = recognize(extractor, str(root / video.path), key, identifier,
                             config_options(cfg, contact_sheets=False), tmp_path / "hyp")
        assert timeline.status == "ok", (key, timeline.status)

    out = tmp_path / "scores.json"
    assert score_face_diarization.main([str(folder / "ground_truth.json"), str(tmp_path / "hyp"),
                                        "--out", str(out)]) == 0
    scores = json.loads(out.read_text())
    assert (scores["videos"], scores["missing"]) == (5, 0)
    # each gallery person is the main person of one video; the two impostors and the distractors are not in it
    assert scores["gallery_tracks"] >= 3 and scores["unknown_tracks"] >= 2
    # loose bounds for 5 videos (the README table has the measured figures of the full partitions)
    assert scores["der"] < 0.25 and scores["track_purity"] > 0.9
    assert scores["id_accuracy"] >= 0.6 and scores["unknown_far"] <= 0.5
