"""Per-track test sets (hyp_face.backend.tracksets) and ``eval_be --test-sets tracks``, on hand-checkable 2-D faces."""

from __future__ import annotations

import numpy as np
import pytest

from hyp_face.backend.tracksets import TrackSetError, max_over_tracks, require_tracks, split_tracks
from hyp_face.bin import eval_be
from hyp_face.io.embed_store import EmbedWriter, FaceMeta

# t1: two faces of track 0 at (1, 0) and one of track 1 at (0, 1): two people in one video.
# t2: an untracked face (track -1) at (0, 1) and one of track 2 at (-1, 0).
TESTS = {"t1": (np.array([[1.0, 0], [0, 1], [1, 0]]), [0, 1, 0]),
         "t2": (np.array([[0.0, 1], [-1, 0]]), [-1, 2])}
ENROLL = {"e1": np.array([[1.0, 0]]), "e2": np.array([[0.0, 1]])}  # model m1 at (1, 0), m2 at (0, 1)


def meta_with_tracks(track: list[int]) -> FaceMeta:
    n = len(track)
    return FaceMeta(frame=np.arange(n), time=np.arange(n, dtype=float), box=np.tile([0, 0, 20, 20], (n, 1)),
                    score=np.ones(n), landmarks=np.zeros((n, 5, 2)), track=track)


def write_corpus(tmp, with_tracks: bool = True) -> list[str]:
    """The stores, utt2spk and the full 2 x 2 trial list; the positional arguments of eval_be."""
    with EmbedWriter(tmp / "test") as w:
        for key, (faces, track) in TESTS.items():
            w.write(key, faces, meta_with_tracks(track if with_tracks else [-1] * len(track)))
    with EmbedWriter(tmp / "enr") as w:
        for key, faces in ENROLL.items():
            w.write(key, faces, meta_with_tracks([-1]))
    (tmp / "utt2spk").write_text("e1 m1\ne2 m2\n")
    (tmp / "trials").write_text("m1 t1 target\nm2 t1 target\nm1 t2 nontarget\nm2 t2 target\n")
    return [str(tmp / n) for n in ("trials", "utt2spk", "enr.scp", "enr.scp", "test.scp", "scores")]


def scores_of(tmp, *options: str, with_tracks: bool = True) -> dict[tuple[str, str], float]:
    eval_be.main(["--backend", "v1", "--verbose", "0", *options, *write_corpus(tmp, with_tracks)])
    lines = [line.split() for line in (tmp / "scores").read_text().splitlines()]
    return {(m, t): float(s) for m, t, s in lines}


def test_split_tracks_groups_faces_by_track_with_untracked_faces_as_one_set():
    sets, metas, names, owner = split_tracks([f for f, _ in TESTS.values()],
                                             [meta_with_tracks(t) for _, t in TESTS.values()], list(TESTS))
    assert names == ["t1 track 0", "t1 track 1", "t2 track -1", "t2 track 2"]
    assert owner.tolist() == [0, 0, 1, 1]
    assert [s.tolist() for s in sets] == [[[1, 0], [1, 0]], [[0, 1]], [[0, 1]], [[-1, 0]]]
    assert [m.track.tolist() for m in metas] == [[0, 0], [1], [-1], [2]]


def test_a_video_without_faces_stays_one_set():
    sets, metas, names, owner = split_tracks([np.zeros((1, 2))], [FaceMeta()], ["empty"])
    assert len(sets) == 1 and metas == [None] and names == ["empty"] and owner.tolist() == [0]


def test_max_over_tracks_takes_each_videos_best_track():
    scores = np.array([[0.1, 0.5, 0.3, -0.2], [0.9, 0.0, -1.0, -0.5]])
    assert max_over_tracks(scores, np.array([0, 0, 1, 2])).tolist() == [[0.5, 0.3, -0.2], [0.9, -1.0, -0.5]]
    with pytest.raises(ValueError, match="4 score columns for 3 track sets"):
        max_over_tracks(scores, np.array([0, 0, 1]))


def test_require_tracks_names_the_store():
    with pytest.raises(TrackSetError, match="store.scp: no test face has a track id"):
        require_tracks([meta_with_tracks([-1, -1])], "store.scp")


def test_mean_per_track_scores_each_person_of_the_video(tmp_path):
    """Whole-video mean mixes t1's two people (cos 2/sqrt5 and 1/sqrt5); per track each model finds its own."""
    video = scores_of(tmp_path, "--aggregator", "mean")
    tracks = scores_of(tmp_path, "--aggregator", "mean", "--test-sets", "tracks")
    r5, r2 = 1 / np.sqrt(5), 1 / np.sqrt(2)
    assert video == pytest.approx({("m1", "t1"): 2 * r5, ("m2", "t1"): r5, ("m1", "t2"): -r2, ("m2", "t2"): r2})
    assert tracks == pytest.approx({("m1", "t1"): 1.0, ("m2", "t1"): 1.0, ("m1", "t2"): 0.0, ("m2", "t2"): 1.0})


def test_default_is_the_whole_video_and_v1_max_pair_is_the_same_either_way(tmp_path):
    assert scores_of(tmp_path, "--aggregator", "mean") == scores_of(tmp_path, "--aggregator", "mean",
                                                                     "--test-sets", "video")
    assert scores_of(tmp_path) == pytest.approx(scores_of(tmp_path, "--test-sets", "tracks"))


def test_snorm_normalises_each_track_before_the_max(tmp_path):
    """With s-norm every track set is normalised on its own; the cohort is the enrollment store here."""
    cohort = ["--snorm", "asnorm", "--cohort-utt2spk", str(tmp_path / "utt2spk"),
              "--cohort-embed-scp", str(tmp_path / "enr.scp"), "--ncoh", "2"]
    tracks = scores_of(tmp_path, "--aggregator", "mean", "--test-sets", "tracks", *cohort)
    assert np.isfinite(list(tracks.values())).all()
    assert tracks[("m1", "t1")] == pytest.approx(tracks[("m2", "t1")])  # symmetric: each model meets its own track


def test_a_store_without_tracks_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match=r"test\.scp: no test face has a track id"):
        scores_of(tmp_path, "--aggregator", "mean", "--test-sets", "tracks", with_tracks=False)


def test_kspaced_with_tracks_is_refused_and_the_name_says_tracks(tmp_path):
    with pytest.raises(SystemExit):
        eval_be.parse_args(["--backend", "v1", "--kspaced", "3", "--test-sets", "tracks", "--print-be-name"])
    args = eval_be.parse_args(["--backend", "v1", "--aggregator", "mean", "--test-sets", "tracks", "--print-be-name"])
    name = eval_be.full_be_name(eval_be.backend_params(args), eval_be.side_aggregators(args), 0, args.test_sets)
    assert name == "be_v1_tracks_agg_mean"
