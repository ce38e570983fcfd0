"""Face tracks: association rules by hand (crossing, gaps, cuts, min_len, order), the shot-cut detector, the track
store group, person clustering, and the streaming generator over a real FaceExtractor with scripted faces
(bounded memory on one synthetic hour)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from hyp_face.backend.ops import ahc_labels
from hyp_face.detect import Detections
from hyp_face.embed.base import Embedder
from hyp_face.extract import ExtractOptions, FaceExtractor, chip_sharpness
from hyp_face.io.embed_store import EmbedReader, EmbedWriter, FaceMeta, StoreError
from hyp_face.track.people import cluster_tracks
from hyp_face.track.shots import ShotCutDetector
from hyp_face.track.tracker import FaceTracker, TrackOptions, box_iou, face_quality
from hyp_face.track.types import overlapping
from hyp_face.track.video import track_faces
from hyp_face.video import Frame

FPS = 5.0
A, B = np.eye(4, dtype=np.float32)[0], np.eye(4, dtype=np.float32)[1]  # two people, orthogonal embeddings


def box(x: float, y: float = 50.0, size: float = 60.0) -> np.ndarray:
    return np.array([x, y, x + size, y + size], np.float32)


class Feed:
    """Feeds a tracker frame by frame, numbering faces as a store would; remembers the ids it got back."""

    def __init__(self, opts: TrackOptions | None = None):
        self.tracker = FaceTracker(opts or TrackOptions(min_len=1))
        self.rows = 0
        self.ids: list[list[int]] = []

    def frame(self, k: int, faces: list[tuple[np.ndarray, np.ndarray]], cut: bool = False,
              time: float | None = None) -> list[int]:
        n = len(faces)
        boxes = np.stack([b for b, _ in faces]) if n else np.zeros((0, 4))
        embeds = np.stack([e for _, e in faces]) if n else np.zeros((0, 4))
        ids = self.tracker.update(k / FPS if time is None else time, k, boxes, np.full(n, 0.99), embeds,
                                  np.arange(self.rows, self.rows + n), cut=cut)
        self.rows += n
        self.ids.append(ids.tolist())
        return ids.tolist()


# -- association rules ----------------------------------------------------------------------------------------


def test_box_iou_by_hand():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(box_iou(a, b), [[1.0, 50 / 150, 0.0]])


def crossing(opts: TrackOptions) -> list[list[int]]:
    """A walks right, B walks left; at frames 4 -> 5 they pass each other so that each one's new box overlaps the
    other's last box more than its own (by IoU alone they would swap)."""
    xa = [0, 40, 80, 120, 140, 170, 210, 250]
    xb = [280, 240, 200, 160, 160, 130, 90, 50]
    feed = Feed(opts)
    for k, (a, b) in enumerate(zip(xa, xb)):
        feed.frame(k, [(box(a), A), (box(b), B)])
    return feed.ids


def test_two_faces_crossing_keep_their_tracks():
    ids = crossing(TrackOptions(min_len=1))
    assert ids == [[0, 1]] * 8
    # the same scene on box overlap alone swaps the two people: the embedding term is what keeps them apart
    ids_iou_only = crossing(TrackOptions(min_len=1, iou_weight=1.0, min_cos=-1.0))
    assert ids_iou_only[5] == [1, 0]


def gap_ids(gap_s: float, max_gap_s: float = 1.0) -> list[list[int]]:
    feed = Feed(TrackOptions(min_len=1, max_gap_s=max_gap_s))
    for k in range(5):
        feed.frame(k, [(box(100), A)])
    feed.frame(5, [(box(100), A)], time=4 / FPS + gap_s)
    return feed.ids


def test_gap_up_to_max_gap_continues_longer_starts_a_new_track():
    assert gap_ids(1.0)[-1] == [0]  # exactly max_gap_s: same track
    assert gap_ids(1.2)[-1] == [1]  # longer: the track has ended, the face starts a new one
    assert gap_ids(0.4)[-1] == [0]


def test_ended_tracks_carry_their_faces_and_pooled_embedding():
    feed = Feed(TrackOptions(min_len=1, max_gap_s=1.0))
    for k in range(3):
        feed.frame(k, [(box(100), A), (box(300), B)])
    feed.frame(10, [(box(300), B)])  # 1.4 s later: both tracks ended, B starts track 2
    ended = feed.tracker.finished()
    assert [t.track_id for t in ended] == [0, 1]
    assert ended[0].face_index.tolist() == [0, 2, 4] and ended[1].face_index.tolist() == [1, 3, 5]
    np.testing.assert_allclose(ended[0].embedding, A)
    assert ended[0].start == 0.0 and ended[0].end == pytest.approx(0.4)
    assert feed.tracker.finished() == []  # handed over once
    assert [t.track_id for t in feed.tracker.flush()] == [2]


def test_shot_cut_ends_every_open_track():
    feed = Feed()
    feed.frame(0, [(box(100), A)])
    feed.frame(1, [(box(100), A)])
    assert feed.frame(2, [(box(100), A)], cut=True) == [1]
    assert [len(t) for t in feed.tracker.finished()] == [2]


def test_admissibility_gates_on_cosine_and_iou():
    feed = Feed(TrackOptions(min_len=1, min_cos=0.5))
    feed.frame(0, [(box(100), A)])
    assert feed.frame(1, [(box(100), B)]) == [1]  # same place, another person: a new track
    feed = Feed(TrackOptions(min_len=1, min_iou=0.3))
    feed.frame(0, [(box(100), A)])
    assert feed.frame(1, [(box(400), A)]) == [1]  # same person far away, with a position gate


def test_a_face_that_jumps_needs_the_people_clustering_cosine():
    # a cut the histogram misses: a face away from the track's last box joins it only at rejoin_cos
    c = (2 * A + B) / np.linalg.norm(2 * A + B)  # cos 0.894 with A
    feed = Feed(TrackOptions(min_len=1, min_cos=0.6, rejoin_cos=0.9))
    feed.frame(0, [(box(100), A)])
    assert feed.frame(1, [(box(130), c)]) == [0]  # overlapping the last box: the tracker's own gate (0.6) applies
    feed = Feed(TrackOptions(min_len=1, min_cos=0.6, rejoin_cos=0.9))
    feed.frame(0, [(box(100), A)])
    assert feed.frame(1, [(box(400), c)]) == [1]  # elsewhere, cos 0.894 < 0.9: a new track
    assert feed.frame(2, [(box(100), A)]) == [0]  # back in place: track 0 again
    assert feed.frame(3, [(box(500), A)]) == [0]  # elsewhere, the same face (cos 1 >= 0.9): it follows
    with pytest.raises(ValueError, match="rejoin_cos"):
        TrackOptions(rejoin_cos=1.5)


def test_a_face_that_changes_size_at_once_needs_the_people_clustering_cosine():
    # a close-up cut to a wide shot of one stage: the boxes overlap, but the face is 2.6 times smaller
    c = (2 * A + B) / np.linalg.norm(2 * A + B)  # cos 0.894 with A
    big, small = np.array([461, 0, 627, 257], float), np.array([463, 130, 525, 229], float)
    feed = Feed(TrackOptions(min_len=1, min_cos=0.6, rejoin_cos=0.9))
    feed.frame(0, [(big, A)])
    assert feed.frame(1, [(small, c)]) == [1]  # cos 0.894 < 0.9: a new track, although the boxes overlap
    feed = Feed(TrackOptions(min_len=1, min_cos=0.6, rejoin_cos=0.9))
    feed.frame(0, [(big, A)])
    assert feed.frame(1, [(small, A)]) == [0]  # the same face (cos 1 >= 0.9): a zoom, it follows
    feed = Feed(TrackOptions(min_len=1, min_cos=0.6, rejoin_cos=0.9, max_scale_step=3.0))
    feed.frame(0, [(big, A)])
    assert feed.frame(1, [(small, c)]) == [0]  # within 3 times: the tracker's own gate (0.6) applies
    with pytest.raises(ValueError, match="max_scale_step"):
        TrackOptions(max_scale_step=0.5)


def test_the_last_face_must_pass_the_cosine_gate_too():
    # a track's mean stays close to a newcomer whose cosine with the last face is below the gate
    c = (A + B) / np.linalg.norm(A + B)  # cos 0.707 with A and with B
    feed = Feed(TrackOptions(min_len=1, min_cos=0.6))
    for k in range(3):
        feed.frame(k, [(box(100), A)])
    feed.frame(3, [(box(100), c)])  # cos with A 0.707: the same track
    assert feed.ids[-1] == [0]
    assert feed.frame(4, [(box(100), B)]) == [1]  # cos with the mean 0.45 < 0.6 anyway
    feed = Feed(TrackOptions(min_len=1, min_cos=0.6))
    for k in range(3):
        feed.frame(k, [(box(100), c)])
    feed.frame(3, [(box(100), A)])  # cos 0.707 with the mean and the last face (c): kept
    assert feed.ids[-1] == [0]
    d = (c + 0.55 * B) / np.linalg.norm(c + 0.55 * B)
    mean = 3 * c + A
    assert float(d @ mean / np.linalg.norm(mean)) >= 0.6 and float(d @ A) < 0.6
    assert feed.frame(4, [(box(100), d)]) == [1]  # close to the mean, not to the last face: a new track


def test_tracks_shorter_than_min_len_are_dropped():
    feed = Feed(TrackOptions(min_len=3))
    for k in range(4):
        feed.frame(k, [(box(100), A)] + ([(box(300), B)] if k < 2 else []))
    assert feed.tracker.status(0) == "kept" and feed.tracker.status(1) == "pending"
    feed.frame(20, [])
    assert feed.tracker.status(1) == "dropped"
    assert [t.track_id for t in feed.tracker.finished()] == [0]


def test_long_tracks_are_split_at_max_track_s():
    feed = Feed(TrackOptions(min_len=1, max_track_s=2.0))
    ids = [feed.frame(k, [(box(100), A)])[0] for k in range(25)]
    assert ids == [0] * 10 + [1] * 10 + [2] * 5


def test_order_of_faces_within_a_frame_does_not_change_the_tracks():
    rng = np.random.default_rng(0)
    people = np.linalg.qr(rng.normal(size=(8, 5)))[0].T.astype(np.float32)  # 5 orthonormal identities
    xs = rng.uniform(0, 600, size=5)
    scenes = [[(box(xs[p] + 8 * k), people[p]) for p in range(5) if (k + p) % 7] for k in range(30)]
    straight, shuffled = Feed(), Feed()
    for k, faces in enumerate(scenes):
        perm = rng.permutation(len(faces))
        ids = straight.frame(k, faces)
        ids_perm = shuffled.frame(k, [faces[i] for i in perm])
        assert [ids[i] for i in perm] == ids_perm


def test_times_must_not_decrease():
    feed = Feed()
    feed.frame(3, [])
    with pytest.raises(ValueError, match="before the previous"):
        feed.frame(2, [])


def test_face_quality_by_hand():
    boxes = np.stack([box(0, size=40), box(0, size=160), box(0, size=160)])
    q = face_quality(boxes, [0.9, 0.8, 1.0], [np.nan, 50.0, 500.0], sharpness_ref=100.0)
    np.testing.assert_allclose(q, [0.9 * 0.5, 0.8 * 0.5, 1.0])


def test_chip_sharpness_is_zero_when_flat_and_drops_with_blur():
    rng = np.random.default_rng(1)
    sharp = rng.integers(0, 256, size=(1, 32, 32, 3)).astype(np.uint8)
    blurred = ((sharp.astype(np.float32) + np.roll(sharp, 1, 1) + np.roll(sharp, 1, 2)) / 3).astype(np.uint8)
    flat = np.full((1, 32, 32, 3), 90, np.uint8)
    s = chip_sharpness(np.concatenate([sharp, blurred, flat]))
    assert s[2] == 0 and s[0] > 2 * s[1] > 0


# -- shot cuts ------------------------------------------------------------------------------------------------


def scene(colour: tuple[int, int, int], shift: int = 0, seed: int = 0) -> np.ndarray:
    """A 120x160 frame: a textured background of one colour and a grey square that moves with ``shift``."""
    rng = np.random.default_rng(seed)
    image = np.clip(np.array(colour) + rng.integers(-20, 20, size=(120, 160, 3)), 0, 255).astype(np.uint8)
    image[30:90, 20 + shift:80 + shift] = 128
    return image


def test_shot_cut_detector_fires_on_a_change_of_scene_only():
    det = ShotCutDetector(0.5)
    assert not det.is_cut(scene((40, 120, 200)))  # the first frame is never a cut
    assert not det.is_cut(scene((40, 120, 200), shift=10, seed=1))  # motion within the shot
    assert not det.is_cut(scene((40, 120, 200), shift=25, seed=2))
    assert det.is_cut(scene((200, 60, 30), seed=3))  # another scene
    assert 0.5 < det.last_distance <= 1.0
    assert not det.is_cut(scene((200, 60, 30), shift=5, seed=4))
    with pytest.raises(ValueError):
        ShotCutDetector(0.0)


# -- store ----------------------------------------------------------------------------------------------------


def stored_video() -> tuple[np.ndarray, FaceMeta, list]:
    feed = Feed()
    for k in range(4):
        feed.frame(k, [(box(100), A), (box(300), B)] if k < 3 else [(box(100), A)])
    tracks = feed.tracker.flush()
    n = feed.rows
    meta = FaceMeta(frame=[0, 0, 1, 1, 2, 2, 3], time=np.array([0, 0, 1, 1, 2, 2, 3]) / FPS,
                    box=np.stack([box(100), box(300)] * 3 + [box(100)]), score=np.full(n, 0.99),
                    landmarks=np.zeros((n, 5, 2)), track=sum(feed.ids, []))
    return np.stack([A, B] * 3 + [A]), meta, tracks


def test_tracks_round_trip_through_the_store_and_old_readers_still_work(tmp_path):
    embeds, meta, tracks = stored_video()
    with EmbedWriter(tmp_path / "embed") as w:
        w.write("vid/1", embeds, meta, tracks=tracks)
        w.write("vid2", embeds[:1], meta.select(np.array([0])))
    with EmbedReader(tmp_path / "embed.scp") as r:
        np.testing.assert_array_equal(r.read("vid/1"), embeds)  # the embeddings and faces are as before
        assert r.read_meta("vid/1").track.tolist() == [0, 1, 0, 1, 0, 1, 0]
        assert r.has_tracks("vid/1") and not r.has_tracks("vid2")
        back = r.read_tracks("vid/1")
        with pytest.raises(StoreError, match="no face tracks"):
            r.read_tracks("vid2")
    assert [t.track_id for t in back] == [0, 1]
    assert back[0].face_index.tolist() == [0, 2, 4, 6] and back[1].frame.tolist() == [0, 1, 2]
    np.testing.assert_allclose(back[1].box, tracks[1].box)
    np.testing.assert_allclose(back[0].embedding, A)
    assert back[0].end == pytest.approx(0.6) and back[0].quality == pytest.approx(tracks[0].quality)


def test_store_refuses_tracks_that_do_not_match_the_faces(tmp_path):
    embeds, meta, tracks = stored_video()
    with EmbedWriter(tmp_path / "embed") as w:
        with pytest.raises(ValueError, match="do not match"):
            w.write("v", embeds, meta, tracks=tracks[:1])


# -- people ---------------------------------------------------------------------------------------------------


def test_cluster_tracks_is_the_backend_ahc_on_pooled_embeddings():
    rng = np.random.default_rng(2)
    feed = Feed()
    for k in range(3):  # four tracks: A, B, then (after a cut) A, B again
        feed.frame(2 * k, [(box(100), A), (box(300), B)], cut=True)
    tracks = feed.tracker.flush()
    assert cluster_tracks(tracks, 0.5) == [0, 1, 0, 1, 0, 1]
    assert cluster_tracks([], 0.5) == []
    x = rng.normal(size=(6, 4))
    for t, e in zip(tracks, x):
        t.embedding = (e / np.linalg.norm(e)).astype(np.float32)
    embeds = np.stack([t.embedding for t in tracks])
    assert cluster_tracks(tracks, 0.3) == ahc_labels(embeds, 0.3, apart=overlapping(tracks)).tolist()


def test_lfw_pseudo_videos_of_devparams_are_clustered_as_sequential_tracks():
    from hyp_face.track.devparams import pairwise_f1, pseudo_videos

    rng = np.random.default_rng(4)
    centres = rng.normal(size=(8, 16))
    names = np.repeat(np.arange(8), 4)
    embeds = centres[names] + 0.05 * rng.normal(size=(32, 16))
    embeds /= np.linalg.norm(embeds, axis=1, keepdims=True)
    videos = pseudo_videos(embeds, names, n_videos=5)
    assert all(not overlapping(tracks).any() for tracks, _ in videos)
    assert pairwise_f1(videos, 0.9) == 1.0  # each person's two pseudo-tracks joined, nobody else


def test_tracks_on_screen_together_are_never_one_person():
    feed = Feed()
    for k in range(3):  # the same face twice at once (a screen in the scene, a twin), then once more, alone
        feed.frame(k, [(box(100), A), (box(300), A)])
    feed.frame(10, [(box(100), A)])
    tracks = feed.tracker.flush()
    assert [len(t) for t in tracks] == [3, 3, 1]
    assert overlapping(tracks).tolist() == [[False, True, False], [True, False, False], [False, False, False]]
    assert cluster_tracks(tracks, 0.5) == [0, 1, 0]  # the later track joins one of them, not both


# -- streaming over a FaceExtractor -----------------------------------------------------------------------------


class ScriptedFaces:
    """A detector that returns the boxes the test attached to each frame image (scores 0.99)."""

    def __init__(self):
        self.script: dict[int, np.ndarray] = {}

    def detect(self, images, threshold):
        out = []
        for image in images:
            boxes = self.script.pop(id(image)).reshape(-1, 4)
            x1, y1, x2, y2 = boxes.T[:, :, None]
            rel = np.array([[0.3, 0.35], [0.7, 0.35], [0.5, 0.55], [0.35, 0.75], [0.65, 0.75]])
            lmk = np.stack([x1 + rel[:, 0] * (x2 - x1), y1 + rel[:, 1] * (y2 - y1)], -1).reshape(-1, 5, 2)
            out.append(Detections(boxes, np.full(len(boxes), 0.99, np.float32), lmk.astype(np.float32)))
        return out


class ColourId(Embedder):
    """A real Embedder on chips: the chip's mean colour, centred on grey (red and blue faces are ~orthogonal)."""

    name, dim, input_size = "colour_id", 3, 16

    def _forward(self, chips):
        return chips.reshape(len(chips), -1, 3).mean(1) - 128.0


COLOURS = {"red": (250, 10, 10), "blue": (10, 10, 250)}


def make_frames(detector: ScriptedFaces, scenes, fps: float = FPS):
    """Frames (small grey images with coloured face squares) attached to their boxes in the scripted detector."""
    for k, faces in enumerate(scenes):
        image = np.full((120, 240, 3), 128, np.uint8)  # faces cover < 8%: no shot cut when they come and go
        boxes = []
        for colour, x in faces:
            image[8:40, x:x + 32] = COLOURS[colour]
            boxes.append([x, 8, x + 32, 40])
        detector.script[id(image)] = np.array(boxes, np.float32)
        yield Frame(image, k, k / fps)


def extractor(batch_size: int = 4, face_batch_size: int = 6) -> tuple[FaceExtractor, ScriptedFaces]:
    detector = ScriptedFaces()
    opts = ExtractOptions(batch_size=batch_size, face_batch_size=face_batch_size, prefetch_mb=0, thresholds=[0.5])
    return FaceExtractor(detector, ColourId(), opts), detector


def test_track_faces_streams_steps_in_order_with_tracks_filled():
    ex, det = extractor()
    scenes = [[("red", 4), ("blue", 60)]] * 6 + [[("red", 4)]] * 6 + [[("red", 4), ("blue", 60)]] + [[]] * 3
    steps = list(track_faces(ex, "synthetic", TrackOptions(min_len=3, max_gap_s=1.0, min_cos=0.5),
                             frames=make_frames(det, scenes)))
    assert [s.frame.index for s in steps] == list(range(len(scenes)))
    tracks = [t.track_id for s in steps for t in s.ended]
    assert sorted(tracks) == [0, 1]  # blue is back at frame 12 after 1.4 s: track 2, shorter than min_len
    track = np.concatenate([s.meta.track for s in steps]).tolist()
    assert track == [0, 1] * 6 + [0] * 6 + [0, -1]
    assert steps[-1].ended and steps[-1].ended[-1].track_id == 0  # flushed on the last step
    red = next(t for s in steps for t in s.ended if t.track_id == 0)
    assert red.face_index.tolist() == [0, 2, 4, 6, 8, 10, 12, 13, 14, 15, 16, 17, 18] and len(red) == 13
    assert red.quality > 0 and np.isfinite(np.concatenate([s.meta.sharpness for s in steps])).all()


@pytest.mark.slow
def test_one_synthetic_hour_streams_in_bounded_memory():
    """An hour at 5 fps (18,000 frames): people come and go; memory does not grow with the stream."""
    ex, det = extractor(batch_size=32, face_batch_size=64)
    rng = np.random.default_rng(3)
    hour = int(3600 * FPS)
    present = rng.random((hour // 50 + 1, 2)) < 0.7  # who is on screen, in 10 s blocks

    def scenes():
        for k in range(hour):
            yield [(c, x) for c, x, on in zip(("red", "blue"), (4, 60), present[k // 50]) if on]

    n_tracks = n_faces = n_steps = 0
    peaks = {}  # traced peak of minutes 10-30 and of minutes 30-60
    tracemalloc.start()
    try:
        for step in track_faces(ex, "hour", TrackOptions(max_track_s=60.0), frames=make_frames(det, scenes())):
            n_steps += 1
            n_faces += len(step.meta)
            n_tracks += len(step.ended)
            if n_steps in (3000, 9000):
                peaks[n_steps] = tracemalloc.get_traced_memory()[1]
                tracemalloc.reset_peak()
        peaks[n_steps] = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n_steps == hour and n_faces == int(present.sum(axis=1)[(np.arange(hour) // 50)].sum())
    assert n_tracks >= 60  # max_track_s cuts the long stays, blocks of absence end the others
    frame_bytes = 120 * 240 * 3
    # a few groups of 32 frames (one per embedding worker, the one being gathered, a detector batch), not the hour's
    # 18,000 (measured: about 180 frames' worth with two embedding workers, 150 with one)
    assert peaks[hour] < 250 * frame_bytes
    assert peaks[hour] <= 1.1 * peaks[9000]  # the second half hour needs no more than the first


# -- extraction job -------------------------------------------------------------------------------------------


def test_track_fps_enters_the_job_manifest_only_when_set():
    from conftest import ROOT
    from hyp_face.bin import extract_face_embed as xfe

    base = ["--vid-scp", "x", "--output-prefix", "y", "--config-file", str(ROOT / "global_conf/config_embedded.sh")]
    plain, tracked = xfe.parse_args(base), xfe.parse_args(base + ["--track-fps", "5"])
    cfg = xfe.job_frontend(plain)
    vids = {"a": "a.mp4"}
    without, with_tracks = xfe.job_manifest(plain, cfg, vids, {}), xfe.job_manifest(tracked, cfg, vids, {})
    assert not [k for k in without["options"] if k.startswith(("track", "people"))]  # options as before
    assert with_tracks["options"]["track"]["track_fps"] == 5.0
    assert with_tracks["options"]["track"]["min_cos"] == 0.91  # the embedded config's track_min_cos
    assert with_tracks["code"] != without["code"]  # the track code counts only for jobs with tracks
    with pytest.raises(SystemExit, match="facedet"):
        xfe.job_track_options(xfe.parse_args(base + ["--track-fps", "5", "--bbox-file", "b"]), cfg)
