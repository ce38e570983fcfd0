"""Extraction logic: threshold schedule, box matching, back-off, reference selection, video errors.

A scripted detector (detections chosen per frame by the test) drives the real pipeline over real encoded
videos, so the selection rules are checked exactly; the real detector and embedder are exercised end to end in
tests/test_extract_e2e.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from hyp_face.detect import Detections
from hyp_face.embed.base import Embedder
from hyp_face.extract import ExtractOptions, FaceExtractor, box_match, cpu_workers, threshold_schedule
from hyp_face.video.synth import write_video
from synth_media import code_frame, read_code


class ScriptedDetector:
    """Returns, for the frame whose pixels encode number k, the detections script[k % len] at the threshold."""

    def __init__(self, script: list[list[tuple[float, tuple[float, float, float, float]]]]):
        self.script = script
        self.seen = 0
        self.thresholds: list[float] = []

    def detect(self, images, threshold):
        self.thresholds.append(threshold)
        out = []
        for image in images:
            faces = self.script[read_code(image) % len(self.script)]
            self.seen += 1
            boxes = np.array([b for _, b in faces], np.float32).reshape(-1, 4)
            lmk = np.stack([_landmarks(b) for b in boxes]) if len(boxes) else np.zeros((0, 5, 2), np.float32)
            det = Detections(boxes, np.array([s for s, _ in faces], np.float32), lmk)
            out.append(det.above(threshold))
        return out


def _landmarks(box: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    rel = np.array([[0.3, 0.35], [0.7, 0.35], [0.5, 0.55], [0.35, 0.75], [0.65, 0.75]])
    return (np.array([x1, y1]) + rel * np.array([w, h])).astype(np.float32)


class MeanColour(Embedder):
    """A tiny real Embedder: the mean colour of the aligned chip plus one, normalised."""

    name, dim, input_size = "mean_colour", 3, 16

    def _forward(self, chips):
        return chips.reshape(len(chips), -1, 3).mean(1) + 1.0


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "v.mp4"
    write_video(path, (code_frame(k, 96, 64) for k in range(50)), fps=10)
    return str(path)


def test_threshold_schedule_has_no_floating_drift():
    assert threshold_schedule(0.9) == [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    assert threshold_schedule(0.8, 0.1, 0.1)[-1] == 0.1 and len(threshold_schedule(0.8)) == 8
    assert threshold_schedule(0.5, 0.5) == [0.5]


def test_box_match_iou_and_coverage_by_hand():
    ref = np.array([0, 0, 10, 10], np.float32)
    boxes = np.array([[0, 0, 10, 10], [0, 0, 20, 20], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(box_match(boxes, ref, "coverage"), [1, 1, 0.5, 0])
    np.testing.assert_allclose(box_match(boxes, ref, "iou"), [1, 0.25, 50 / 150, 0])
    with pytest.raises(ValueError, match="unknown box match"):
        box_match(boxes, ref, "dice")


def test_facedet_keeps_every_face_at_start_threshold(video):
    face = (10.0, 10.0, 40.0, 50.0)
    det = ScriptedDetector([[(0.95, face), (0.5, (50.0, 10.0, 80.0, 50.0))]])
    ex = FaceExtractor(det, MeanColour(), ExtractOptions(fps=1.0, batch_size=2))
    out = ex.process(video)
    assert out.status == "ok" and out.threshold == 0.9
    assert len(out.embeds) == 5  # 5 s at 1 fps, one face >= 0.9 per frame
    np.testing.assert_allclose(np.linalg.norm(out.embeds, axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(out.meta.time, [0, 1, 2, 3, 4], atol=0.06)
    assert set(det.thresholds) == {0.1}  # the network runs once, at the lowest threshold


def test_facedet_backs_off_to_the_highest_threshold_with_a_face(video):
    det = ScriptedDetector([[], [(0.35, (10.0, 10.0, 40.0, 50.0))], [(0.25, (50.0, 10.0, 80.0, 50.0))]])
    out = FaceExtractor(det, MeanColour(), ExtractOptions(fps=1.0)).process(video)
    assert out.threshold == 0.3
    # Sampled frames 0, 10, 20, 30, 40 hit script entries 0, 1, 2, 0, 1: the 0.35 face twice.
    assert out.meta.score.tolist() == pytest.approx([0.35, 0.35])
    assert out.meta.frame.tolist() == [1, 4]
    assert det.seen == 10  # decoded twice: once to find the threshold, once to embed


def test_no_face_at_all_gives_empty_set_with_reason(video):
    out = FaceExtractor(ScriptedDetector([[(0.05, (1.0, 1.0, 9.0, 9.0))]]), MeanColour(), ExtractOptions()).process(video)
    assert out.status == "no face found" and out.embeds.shape == (0, 3)


def test_ref_mode_prefers_iou_over_a_large_covering_box(video):
    ref = np.array([10, 10, 40, 50], np.float32)
    big, tight = (0.0, 0.0, 96.0, 64.0), (12.0, 11.0, 41.0, 49.0)
    det = ScriptedDetector([[(0.99, big), (0.9, tight)]])
    opts = ExtractOptions(mode="ref", thresholds=threshold_schedule(0.8), det_window=5, time_in_secs=True)
    out = FaceExtractor(det, MeanColour(), opts).process(video, [(1.0, ref)])
    assert len(out.embeds) == 5  # one face per frame of the 5-frame window
    np.testing.assert_allclose(out.meta.box, np.tile(tight, (5, 1)))
    opts.match = "coverage"  # the original rule picks the first box of maximal coverage: the big one
    out = FaceExtractor(ScriptedDetector([[(0.99, big), (0.9, tight)]]), MeanColour(), opts).process(video, [(1.0, ref)])
    np.testing.assert_allclose(out.meta.box, np.tile(big, (5, 1)))


def test_ref_mode_final_selection_keeps_matches_above_half_the_best(video):
    ref = np.array([10, 10, 40, 50], np.float32)
    det = ScriptedDetector([[(0.9, (10.0, 10.0, 40.0, 50.0))], [(0.9, (30.0, 10.0, 60.0, 50.0))]])
    opts = ExtractOptions(mode="ref", thresholds=threshold_schedule(0.8), det_window=5, time_in_secs=False)
    out = FaceExtractor(det, MeanColour(), opts).process(video, [(10, ref)])
    # IoU 1 on even frames, 1/7 on odd frames: only the exact matches survive (1/7 < 1/2).
    assert len(out.embeds) == 3 and np.all(out.meta.box[:, 0] == 10)


def test_ref_mode_without_boxes_and_broken_videos_do_not_raise(tmp_path):
    ex = FaceExtractor(ScriptedDetector([[]]), MeanColour(), ExtractOptions(mode="ref"))
    assert ex.process(str(tmp_path / "x.mp4"), []).status == "no reference box"
    empty = tmp_path / "zero.mp4"
    empty.write_bytes(b"")
    out = FaceExtractor(ScriptedDetector([[]]), MeanColour(), ExtractOptions()).process(str(empty))
    assert out.status.startswith("video error") and "zero.mp4" in out.status and out.embeds.shape == (0, 3)


def test_frames_are_released_once_their_faces_are_aligned(tmp_path):
    """Decoded frames do not wait for the recognizer: at most two detector batches of frames are alive at once,
    however long the video (the aligned chips wait instead)."""
    import weakref

    path = tmp_path / "long.mp4"
    write_video(path, (code_frame(k, 96, 64) for k in range(300)), fps=10)  # 30 s: 30 sampled frames
    alive: set[int] = set()
    most = []

    class Recording(ScriptedDetector):
        def detect(self, images, threshold):
            for image in images:
                alive.add(id(image))
                weakref.finalize(image, alive.discard, id(image))
            most.append(len(alive))
            return super().detect(images, threshold)

    frame_mb = 96 * 64 * 3 / 2**20
    opts = ExtractOptions(fps=1.0, batch_size=16, prefetch_mb=3.5 * frame_mb)  # byte budget: 3 frames a batch
    out = FaceExtractor(Recording([[(0.95, (10.0, 10.0, 40.0, 50.0))]]), MeanColour(), opts).process(str(path))
    assert len(out.embeds) == 30 and out.embeds.shape[1] == 3
    assert max(most) <= 6  # this batch and the previous one, not the 30 frames of the faces waiting


class SlowFirstDetector(ScriptedDetector):
    """Concurrent: every other call sleeps, so the batch after it finishes first; records its threads."""

    concurrent = True

    def __init__(self, script):
        super().__init__(script)
        self.threads: set[str] = set()
        self.calls = 0

    def detect(self, images, threshold):
        import threading
        import time

        self.threads.add(threading.current_thread().name)
        self.calls += 1
        time.sleep(0.03 if self.calls % 2 else 0.0)
        return super().detect(images, threshold)


def test_cpu_workers_follow_the_cores_the_device_and_the_model():
    import torch

    class Model:
        concurrent = True
        device = torch.device("cpu")

    cores = {"n": 2}
    mp = pytest.MonkeyPatch()
    mp.setattr("hyp_face.extract.usable_cores", lambda: cores["n"])
    mp.setattr(torch, "get_num_threads", lambda: 1)
    try:
        assert cpu_workers(Model()) == 2
        cores["n"] = 16
        assert cpu_workers(Model()) == 2  # CPU_WORKERS at most
        cores["n"] = 1
        assert cpu_workers(Model()) == 1
        cores["n"] = 2
        cuda, serial = Model(), Model()
        cuda.device, serial.concurrent = torch.device("cuda"), False
        assert cpu_workers(cuda) == 1 and cpu_workers(serial) == 1
        assert cpu_workers(object()) == 1  # a model that does not say is run one batch at a time
        mp.setattr(torch, "get_num_threads", lambda: 2)
        assert cpu_workers(Model()) == 1  # one worker of 2 threads fills the 2 cores
    finally:
        mp.undo()


def test_two_workers_keep_frame_order_and_the_same_embeddings(video, monkeypatch):
    """Detector batches finishing out of order on two worker threads: frames, faces and embeddings come out as
    with one worker (the pipeline and the streaming path)."""
    two_faces = [(0.97, (8.0, 6.0, 30.0, 36.0)), (0.92, (50.0, 10.0, 90.0, 60.0))]
    script = [[(0.95, (10.0, 10.0, 40.0, 50.0))], [], two_faces]
    opts = dict(fps=5.0, batch_size=2, face_batch_size=3, prefetch_mb=1)
    import torch

    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    monkeypatch.setattr("hyp_face.extract.usable_cores", lambda: 1)
    one = FaceExtractor(SlowFirstDetector(script), MeanColour(), ExtractOptions(**opts))
    ref = one.process(video)
    ref_stream = list(one.stream_faces(one._frames(video, None), 0.9))
    monkeypatch.setattr("hyp_face.extract.usable_cores", lambda: 2)
    two = FaceExtractor(SlowFirstDetector(script), MeanColour(), ExtractOptions(**opts))
    out = two.process(video)
    stream = list(two.stream_faces(two._frames(video, None), 0.9))
    assert len(one.detector.threads) == 1 and len(two.detector.threads) == 2
    assert len(ref.embeds) > 10 and np.array_equal(out.embeds, ref.embeds)
    assert np.array_equal(out.meta.frame, ref.meta.frame) and np.array_equal(out.meta.box, ref.meta.box)
    order = [f.frame.index for f in stream]
    assert order == [f.frame.index for f in ref_stream] == sorted(order)
    for a, b in zip(stream, ref_stream):
        assert np.array_equal(a.embeds, b.embeds) and np.array_equal(a.meta.box, b.meta.box)
    frame_mb = 96 * 64 * 3 / 2**20  # a budget of 1.5 frames: one batch of one frame in flight, one worker busy
    small_budget = ExtractOptions(**{**opts, "prefetch_mb": 1.5 * frame_mb})
    big = FaceExtractor(SlowFirstDetector(script), MeanColour(), small_budget)
    assert np.array_equal(big.process(video).embeds, ref.embeds) and len(big.detector.threads) == 1
