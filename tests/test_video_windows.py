"""hyp_face.video.window_frames: det-window semantics of docs/original_recipe.md §5.2 in seconds and frames, on generated videos."""

from __future__ import annotations

import numpy as np
import pytest

from hyp_face.video import VideoError, window_frames
from hyp_face.video import synth
from hyp_face.video.reader import VideoDecoder
from hyp_face.video.windows import _WindowPlanner, _windows_by_time
import synth_media

VFR_TIMES = [0.0, 0.1, 0.25, 0.3, 1.0, 1.05, 2.5, 2.6, 2.7, 4.0, 4.04]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("windows")
    paths = {"cfr": root / "cfr10.mp4", "vfr": root / "vfr.mp4", "gop5": root / "gop5.mp4"}
    synth.write_video(paths["cfr"], (synth_media.code_frame(i) for i in range(100)), fps=10, gop=12)
    synth.write_video(paths["vfr"], (synth_media.code_frame(i) for i in range(len(VFR_TIMES))), times=VFR_TIMES)
    synth.write_video(paths["gop5"], (synth_media.code_frame(i) for i in range(300)), fps=10, gop=5)
    return paths


def code_and_window(frames):
    return [(synth_media.read_code(f.image), f.window) for f in frames]


EXPECTED_SRE19 = ([(i, 1) for i in range(0, 4)] + [(i, 0) for i in range(48, 53)] + [(53, 2), (54, 2)]
                  + [(97, 3), (98, 3), (99, 3)])


def test_seconds_windows_unsorted_overlapping_clipped(videos):
    # rows: 0 -> 5.0 s, 1 -> 0.1 s (clipped at frame 0), 2 -> 5.2 s (overlaps row 0), 3 -> 9.95 s (video end)
    frames = list(window_frames(videos["cfr"], [5.0, 0.1, 5.2, 9.95], det_window=5, time_in_secs=True))
    assert code_and_window(frames) == EXPECTED_SRE19
    assert [f.index for f in frames] == list(range(len(frames)))
    np.testing.assert_allclose([f.time for f in frames], [c / 10 for c, _ in EXPECTED_SRE19], atol=1e-6)


def test_frame_index_windows(videos):
    frames = list(window_frames(videos["cfr"], [50, 1, 52, 99], det_window=5, time_in_secs=False))
    assert code_and_window(frames) == EXPECTED_SRE19


def test_janus_wide_windows(videos):
    frames = list(window_frames(videos["cfr"], [40, 10], det_window=61, time_in_secs=False))
    assert code_and_window(frames) == [(i, 1) for i in range(0, 41)] + [(i, 0) for i in range(41, 71)]


def test_duplicate_instants_leave_the_second_window_empty(videos):
    frames = list(window_frames(videos["cfr"], [5, 5], det_window=3, time_in_secs=False))
    assert code_and_window(frames) == [(4, 0), (5, 0), (6, 0)]


def test_seconds_use_nearest_timestamp_not_truncation(videos):
    # int(0.39 * 10) = 3, but the frame nearest to 0.39 s is frame 4 (0.4 s)
    for instant, code in [(0.39, 4), (0.34, 3), (7.26, 73), (-1.0, 0)]:
        (frame,) = window_frames(videos["cfr"], [instant], det_window=1, time_in_secs=True)
        assert (synth_media.read_code(frame.image), frame.window) == (code, 0)


def test_variable_frame_rate_windows(videos):
    # nearest to 0.7 s is 1.0 s (frame 4); nearest to 2.0 s is 2.5 s (frame 6); windows of 3 never overlap
    frames = list(window_frames(videos["vfr"], [2.0, 0.7], det_window=3, time_in_secs=True))
    assert code_and_window(frames) == [(3, 1), (4, 1), (5, 1), (6, 0), (7, 0)]
    np.testing.assert_allclose([f.time for f in frames], [0.3, 1.0, 1.05, 2.5, 2.6], atol=1e-3)


def test_instants_past_the_end_are_missing(videos):
    assert list(window_frames(videos["cfr"], [20.0], det_window=5, time_in_secs=True)) == []
    assert list(window_frames(videos["cfr"], [500], det_window=5, time_in_secs=False)) == []
    assert list(window_frames(videos["cfr"], [], det_window=5, time_in_secs=True)) == []


def test_window_seek_matches_linear_decoding(videos):
    instants = [25.56, 3.3, 12.0, 12.1, 29.99]
    with_seek = list(window_frames(videos["gop5"], instants, 5, True, seek=True))
    without = list(window_frames(videos["gop5"], instants, 5, True, seek=False))
    assert code_and_window(with_seek) == code_and_window(without)
    assert all(np.array_equal(a.image, b.image) and a.time == b.time for a, b in zip(with_seek, without))
    # 29.99 s lies past the last frame (29.9 s): its window is centred on the would-be frame 300
    expected = ([(c, 1) for c in range(31, 36)] + [(c, 2) for c in range(118, 123)] + [(123, 3)]
                + [(c, 0) for c in range(254, 259)] + [(298, 4), (299, 4)])
    assert code_and_window(with_seek) == expected


def test_window_seek_saves_decoding(videos):
    decoder = VideoDecoder(videos["gop5"])
    frames = list(_windows_by_time(decoder, _WindowPlanner([3.3, 25.55], 2), seek=True))
    assert len(frames) == 10
    assert decoder.n_decoded < 120  # linear decoding up to frame 258 would need 259


def test_bad_arguments_and_files(videos, tmp_path):
    with pytest.raises(ValueError):
        window_frames(videos["cfr"], [1.0], det_window=0, time_in_secs=True)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match="zero-byte"):
        window_frames(empty, [1.0], det_window=5, time_in_secs=True)
