"""Skipping non-reference frames between sampling targets: same frames, less decoding."""

from __future__ import annotations

import pytest

from hyp_face.video import sample_frames, window_frames
from hyp_face.video.reader import VideoDecoder
from hyp_face.video.synth import write_video
from synth_media import code_frame, read_code


@pytest.fixture(scope="module")
def bframes_video(tmp_path_factory):
    """10 s at 25 fps, x264 'medium' (B-frames, some of them non-reference), frame k showing code k."""
    path = tmp_path_factory.mktemp("skip") / "b.mp4"
    write_video(path, (code_frame(k, 96, 64) for k in range(250)), fps=25, lossless=False,
                options={"preset": "medium", "bf": "3", "crf": "18"})
    return path


def test_sampling_with_skipping_gives_identical_frames(bframes_video):
    def sampled(skip):
        return [(read_code(f.image), round(f.time, 3)) for f in sample_frames(bframes_video, fps=1.3, skip_nonref=skip, seek=False)]

    full = sampled(False)
    assert full == sampled(True)
    assert [c for c, _ in full][:4] == [0, 19, 38, 58]  # round(k * 25 / 1.3), first frame at or after k/1.3 - h


def test_decoder_skips_non_reference_frames_far_from_the_target(bframes_video):
    def decoded_until(target, skip):
        with VideoDecoder(bframes_video) as dec:
            dec.skip_ahead_of(target if skip else None)
            for t, frame in dec.frames():
                if t >= target:
                    return dec.n_decoded, round(t, 3)

    n_full, t_full = decoded_until(9.0, skip=False)
    n_skip, t_skip = decoded_until(9.0, skip=True)
    assert t_full == t_skip == 9.0  # the needed frame itself is decoded either way
    assert n_skip < 0.8 * n_full, (n_skip, n_full)


def test_frame_index_windows_count_every_frame(bframes_video):
    # JANUS windows count decoded frames, so they never skip: frame 100 is the frame showing code 100.
    frames = list(window_frames(bframes_video, [100], det_window=3, time_in_secs=False))
    assert [read_code(f.image) for f in frames] == [99, 100, 101]
