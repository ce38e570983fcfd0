"""Face diarization evaluation: ground truth of the LFW-composed corpus, DER (pyannote.metrics) and track scores."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from hyp_face.bin import score_face_diarization
from hyp_face.corpus import lfw_mock
from hyp_face.corpus.face_truth import TruthTrack, TruthVideo, read_face_truth, truth_rttm_lines, write_face_truth
from hyp_face.eval.diarization import read_rttm, score_videos
from hyp_face.io.table import TableError
from hyp_face.recognize.outputs import rttm_lines, timeline_dict, write_outputs
from hyp_face.recognize.timeline import UNKNOWN, TrackLabel, VideoTimeline
from hyp_face.track.types import Track

pytest.importorskip("pyannote.metrics")

FPS = 10.0
BOX_A = (10.0, 10.0, 50.0, 60.0)
BOX_B = (100.0, 10.0, 140.0, 60.0)


def truth_video() -> TruthVideo:
    """2 s at 10 fps: Alice (in the gallery) in frames 0-9 at BOX_A, Bob (not in it) in frames 10-19 at BOX_B."""
    return TruthVideo("v1", "data/test/v1.mp4", FPS, 160, 120, 20,
                      [TruthTrack(0, "Alice", True, 0, np.tile(BOX_A, (10, 1))),
                       TruthTrack(1, "Bob", False, 10, np.tile(BOX_B, (10, 1)))])


def track(track_id: int, times: list[float], box) -> Track:
    n = len(times)
    return Track(track_id, np.arange(n), np.round(np.asarray(times) * FPS).astype(np.int64), np.asarray(times),
                 np.tile(np.asarray(box, np.float32), (n, 1)), np.ones(n, np.float32), np.ones(2, np.float32), 1.0)


def hypothesis() -> VideoTimeline:
    """Track 1: Alice, right. Bob split in track 2 (called Carol: a false accept) and track 3 (unknown).
    Track 4: a false detection at 0.0 s where nobody is."""
    tracks = [track(1, [0.0, 0.2, 0.4, 0.6, 0.8], BOX_A), track(2, [1.0, 1.2], BOX_B),
              track(3, [1.4, 1.6, 1.8], BOX_B), track(4, [0.0], (0, 100, 5, 105))]
    labels = {1: TrackLabel(1, "person_00", "Alice", 0.8), 2: TrackLabel(2, "person_01", "Carol", 0.4),
              3: TrackLabel(3, "person_02", UNKNOWN, 0.1), 4: TrackLabel(4, "person_03", UNKNOWN, 0.0)}
    return VideoTimeline("v1", "v1.mp4", 160, 120, 2.0, 5.0, tracks, labels)


def test_scores_by_hand():
    doc = timeline_dict(hypothesis())
    ref = read_rttm(truth_rttm_lines([truth_video()]), "ref")
    hyp = read_rttm(rttm_lines(doc), "hyp")["v1"]
    scores = score_videos({"v1": truth_video()}, ref, {"v1": (doc, hyp)})
    # Carol (1.0-1.4 s) is confusion once person_02 maps to Bob; track 4 (0.0-0.2 s) overlaps Alice: false alarm.
    assert scores.reference_s == pytest.approx(2.0)
    assert (scores.missed, scores.false_alarm, scores.confusion) == pytest.approx((0.0, 0.1, 0.2))
    assert scores.der == pytest.approx(0.3)
    assert scores.per_video["v1"]["confusion"] == pytest.approx(0.4)  # seconds
    assert scores.track_purity == 1.0  # every hypothesised track holds one person
    assert scores.track_coverage == pytest.approx(8 / 10)  # Alice 5 of 5 in one track; Bob 3 of 5 in the best one
    assert (scores.matched_faces, scores.hyp_faces, scores.unmatched_tracks) == (10, 11, 1)
    assert (scores.gallery_tracks, scores.id_accuracy) == (1, 1.0)
    assert (scores.unknown_tracks, scores.unknown_far) == (2, 0.5)


def test_purity_is_by_person_and_coverage_by_appearance():
    """Alice in two shots (two ground-truth appearances), Bob in the second. Hyp track 1 follows Alice over both
    shots; hyp track 2 holds Bob's faces at 1.0-1.4 s, then Alice's at 1.6-1.8 s (a wrong join)."""
    video = TruthVideo("v1", "v1.mp4", FPS, 160, 120, 20,
                       [TruthTrack(0, "Alice", True, 0, np.tile(BOX_A, (10, 1))),
                        TruthTrack(1, "Alice", True, 10, np.tile(BOX_A, (10, 1))),
                        TruthTrack(2, "Bob", False, 10, np.tile(BOX_B, (10, 1)))])
    joined = track(2, [1.0, 1.2, 1.4, 1.6, 1.8], BOX_B)
    joined.box[3:] = BOX_A
    hyp = VideoTimeline("v1", "v1.mp4", 160, 120, 2.0, 5.0, [track(1, [0.0, 0.4, 0.8, 1.2], BOX_A), joined], {})
    scores = score_videos({"v1": video}, {}, {"v1": (timeline_dict(hyp), [])})
    assert scores.matched_faces == 9
    assert scores.track_purity == pytest.approx((4 + 3) / 9)  # track 1: 4 Alice; track 2: 3 Bob + 2 Alice
    # Alice's first shot: 3 faces, all in track 1; her second: 1 in track 1, 2 in track 2; Bob: 3 in track 2
    assert scores.track_coverage == pytest.approx((3 + 2 + 3) / 9)


def test_missing_hypothesis_is_all_missed():
    scores = score_videos({"v1": truth_video()}, read_rttm(truth_rttm_lines([truth_video()]), "ref"), {})
    assert (scores.missing, scores.der, scores.missed) == (1, 1.0, 1.0)
    assert np.isnan(scores.id_accuracy) and scores.as_dict()["id_accuracy"] is None


def test_rttm_errors_name_file_and_line():
    with pytest.raises(TableError, match="ref.rttm:2: start and duration"):
        read_rttm(["SPEAKER v1 1 0.0 1.0 <NA> <NA> A", "SPEAKER v1 1 x 1.0 <NA> <NA> B"], "ref.rttm")


def test_cli_scores_written_outputs(tmp_path, capsys):
    write_face_truth(tmp_path / "truth", [truth_video()], {"Alice": []})
    write_outputs(hypothesis(), tmp_path / "hyp", contact_sheets=False)
    out = tmp_path / "scores.json"
    assert score_face_diarization.main([str(tmp_path / "truth" / "ground_truth.json"), str(tmp_path / "hyp"),
                                        "--out", str(out), "--per-video"]) == 0
    scores = json.loads(out.read_text())
    assert scores["der"] == pytest.approx(0.3) and scores["unknown_far"] == 0.5
    printed = capsys.readouterr().out
    assert "| DER % | 30.00 |" in printed and "| v1 | 30.00 | 0.00 | 0.20 | 0.40 | 2.00 |" in printed
    assert scores["per_video"]["v1"]["der"] == pytest.approx(0.3)


# --- ground truth of the LFW-composed corpus --------------------------------------------------------------------------

def fake_lfw(folder: Path, counts: dict[str, int]) -> Path:
    """An LFW-like folder of ``<Name>_<NNNN>.jpg`` photos (150x150): black, white inside the default face box."""
    from PIL import Image

    folder.mkdir()
    x1, y1, x2, y2 = (round(v) for v in lfw_mock.DEFAULT_FACE_BOX)
    photo = np.zeros((150, 150, 3), np.uint8)
    photo[y1:y2, x1:x2] = 255
    for name, n in counts.items():
        for k in range(1, n + 1):
            Image.fromarray(photo).save(folder / f"{name}_{k:04d}.jpg")
    return folder


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "face_diarization" not in p.parts}


def test_lfw_mock_ground_truth(tmp_path, monkeypatch):
    lfw = fake_lfw(tmp_path / "lfw", {f"Rich_{c}": 3 for c in "ABCD"} | {f"Other_{c}": 1 for c in "EFGHIJ"})
    opts = lfw_mock.MockOptions(num_models=2, min_images=3, tests_per_model=1, num_impostor_tests=2, width=96,
                                height=72, fps=4)
    lfw_mock.build_lfw_mock_corpus(lfw, tmp_path / "corpus", opts)
    with monkeypatch.context() as m:  # the corpus without ground truth: every other file is byte-identical
        m.setattr(lfw_mock, "write_partition_truth", lambda *args: None)
        lfw_mock.build_lfw_mock_corpus(lfw, tmp_path / "plain", opts)
    for part in ("dev", "eval"):
        assert tree(tmp_path / "corpus" / f"sre19_av_{part}") == tree(tmp_path / "plain" / f"sre19_av_{part}")
    root = tmp_path / "corpus" / "sre19_av_dev"
    folder = root / "face_diarization"
    doc = json.loads((folder / "ground_truth.json").read_text())
    gallery = doc["gallery"]
    assert len(gallery) == 2 and all(name.startswith("Rich_") for name in gallery)
    for name in gallery:
        links = list((folder / "gallery" / name).iterdir())
        assert links and all(p.is_symlink() and p.resolve().parent == lfw.resolve() for p in links)
    truth = read_face_truth(folder / "ground_truth.json")
    mains = dict(line.split("\t")[:2] for line in (root / "docs" / "sre19_av_dev_segment_key.tsv").read_text()
                 .splitlines()[1:] if line.split("\t")[2] == "test")
    assert sorted(truth) == sorted(mains)
    assert len((folder / "ground_truth.rttm").read_text().splitlines()) == sum(len(v.tracks) for v in truth.values())
    for key, video in truth.items():
        assert mains[key] in {t.person for t in video.tracks}
        assert all(t.in_gallery == (t.person in gallery) for t in video.tracks)
        with av.open(str(root / video.path)) as c:
            frames = [f.to_ndarray(format="rgb24").astype(np.float64) for f in c.decode(video=0)]
        assert len(frames) == video.num_frames
        for t in video.tracks:  # the white face fills its box, which the black of the photo surrounds
            x1, y1, x2, y2 = np.round(t.boxes[1]).astype(int)
            inside = frames[t.first_frame + 1][y1 + 2:y2 - 2, x1 + 2:x2 - 2]
            assert inside.mean() > 120 and inside.std() < 40, (key, t.track)
