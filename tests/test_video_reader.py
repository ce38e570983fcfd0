"""hyp_face.video reader: timestamp sampling, VFR, seeking, streaming, photos and broken files (generated media)."""

from __future__ import annotations

import logging
import weakref

import numpy as np
import pytest
from PIL import Image

from hyp_face.video import VideoError, probe, sample_frames, window_frames
from hyp_face.video import synth
from hyp_face.video.reader import VideoDecoder, _sample
import synth_media


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """Generated test media, shared by the tests of this module."""
    root = tmp_path_factory.mktemp("media")
    paths = {"cfr": root / "cfr10.mp4", "vfr": root / "vfr.mp4", "gop5": root / "gop5.mp4",
             "fast": root / "faststart.mp4"}
    synth.write_video(paths["cfr"], (synth_media.code_frame(i) for i in range(100)), fps=10, gop=12)
    paths["vfr_times"] = [0.0, 0.1, 0.25, 0.3, 1.0, 1.05, 2.5, 2.6, 2.7, 4.0, 4.04]
    synth.write_video(paths["vfr"], (synth_media.code_frame(i) for i in range(len(paths["vfr_times"]))),
                      times=paths["vfr_times"])
    synth.write_video(paths["gop5"], (synth_media.code_frame(i) for i in range(300)), fps=10, gop=5)
    synth.write_video(paths["fast"], (synth_media.code_frame(i) for i in range(60)), fps=10, gop=10, faststart=True)
    return paths


def codes(frames):
    return [synth_media.read_code(f.image) for f in frames]


def test_code_frame_roundtrip():
    for n in (0, 1, 255, 4097, 65535):
        assert synth_media.read_code(synth_media.code_frame(n, 48, 32)) == n


def test_sample_one_fps_by_timestamp(media, caplog):
    with caplog.at_level(logging.WARNING):
        frames = list(sample_frames(media["cfr"], fps=1.0))
    assert not caplog.records  # a complete file is not reported as truncated
    assert codes(frames) == list(range(0, 100, 10))
    assert [f.index for f in frames] == list(range(10))
    np.testing.assert_allclose([f.time for f in frames], np.arange(10.0), atol=1e-6)
    assert all(f.window == -1 and f.image.dtype == np.uint8 and f.image.shape == (64, 64, 3) for f in frames)


def test_sample_non_integer_ratio_and_max_frames(media):
    # targets 0, 1/3, 2/3, 1, ... each take the first frame at or after target - 0.05 s
    assert codes(sample_frames(media["cfr"], fps=3.0, max_frames=6)) == [0, 3, 7, 10, 13, 17]
    assert len(list(sample_frames(media["cfr"], fps=100.0))) == 100  # faster than the video: every frame once


def test_sample_variable_frame_rate(media, caplog):
    with caplog.at_level(logging.WARNING):
        frames = list(sample_frames(media["vfr"], fps=1.0))
    assert not caplog.records
    # a decode-counter sampler (every round(k * avg_rate)-th frame) would give 0, 3, 6, 10
    assert codes(frames) == [0, 4, 6, 9]
    np.testing.assert_allclose([f.time for f in frames], [0.0, 1.0, 2.5, 4.0], atol=1e-3)


def test_seek_and_no_seek_give_identical_frames(media):
    for fps in (0.3, 1.0, 2.5):
        with_seek = list(sample_frames(media["gop5"], fps=fps, seek=True))
        without = list(sample_frames(media["gop5"], fps=fps, seek=False))
        assert [f.time for f in with_seek] == [f.time for f in without]
        assert all(np.array_equal(a.image, b.image) for a, b in zip(with_seek, without))
        assert codes(with_seek) == [round(10 * k / fps) for k in range(len(with_seek))]


X264_BFRAMES = "bframes=3:b-adapt=0:keyint=7:min-keyint=7:scenecut=0"


@pytest.mark.parametrize("codec,options", [
    ("libx264", {"preset": "medium", "x264-params": X264_BFRAMES}),                 # closed GOP, B-frames
    ("libx264", {"preset": "medium", "x264-params": X264_BFRAMES + ":open-gop=1"}),  # leading B-frames
    ("mpeg4", {"bf": "2", "g": "7"})])
def test_seek_is_exact_with_b_frames(tmp_path, codec, options):
    path = tmp_path / "bframes.mp4"
    synth.write_video(path, (synth_media.code_frame(i) for i in range(200)), fps=10, codec=codec, lossless=False,
                      options=options)
    for fps, most_decoded in [(0.3, 150), (1.0, 220)]:
        decoder = VideoDecoder(path)
        with_seek = list(_sample(decoder, fps, None, True))
        without = list(sample_frames(path, fps=fps, seek=False))
        assert decoder.n_decoded <= most_decoded  # seeks pay off, failed seeks (open GOP) cost little
        assert [f.time for f in with_seek] == [f.time for f in without]
        assert all(np.array_equal(a.image, b.image) for a, b in zip(with_seek, without))
        assert codes(with_seek) == [round(10 * k / fps) for k in range(len(with_seek))]
    instants = [3.3, 12.0, 12.1, 15.56]
    assert [(synth_media.read_code(f.image), f.window) for f in window_frames(path, instants, 5, True)] == \
        [(synth_media.read_code(f.image), f.window) for f in window_frames(path, instants, 5, True, seek=False)]


def test_seeks_aim_at_keyframes_by_presentation_time(tmp_path):
    """With B-frames a keyframe is shown after its decode time; MP4 seeks by presentation time, so a seek chosen on
    decode times would land one group early and decode it again (at 1 fps: more frames than decoding on)."""
    path = tmp_path / "gop2s.mp4"
    synth.write_video(path, (synth_media.code_frame(i) for i in range(200)), fps=10, lossless=False,
                      options={"preset": "medium", "x264-params": "bframes=3:b-adapt=0:keyint=20:min-keyint=20:"
                                                                   "scenecut=0"})
    seeking, linear = VideoDecoder(path), VideoDecoder(path)
    with_seek = list(_sample(seeking, 1.0, None, True))
    without = list(_sample(linear, 1.0, None, False))
    assert codes(with_seek) == codes(without) == list(range(0, 200, 10))
    assert seeking.n_decoded <= linear.n_decoded
    sparse = VideoDecoder(path)
    assert codes(_sample(sparse, 0.2, None, True)) == [0, 50, 100, 150] and sparse.n_decoded < 120


def test_seek_saves_decoding(media):
    seeking, linear = VideoDecoder(media["gop5"]), VideoDecoder(media["gop5"])
    assert len(list(_sample(seeking, 0.3, None, True))) == len(list(_sample(linear, 0.3, None, False))) == 9
    assert linear.n_decoded == 300
    assert seeking.n_decoded < 100


def resident_bytes() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS"))


def test_streaming_is_lazy_and_memory_bounded(tmp_path):
    path = tmp_path / "long.mp4"
    n_frames, frame_bytes = 400, 320 * 240 * 3
    synth.write_video(path, (synth_media.code_frame(i, 320, 240) for i in range(n_frames)), fps=25, gop=25,
                      lossless=False)
    decoder = VideoDecoder(path, threads=1)
    first = next(_sample(decoder, 25.0, None, False))
    assert first.index == 0 and decoder.n_decoded < 50  # produced before the file is decoded
    base, growth, images = resident_bytes(), 0, []
    for frame in sample_frames(path, fps=25.0, threads=1):
        images.append(weakref.ref(frame.image))
        growth = max(growth, resident_bytes() - base)
    assert len(images) == n_frames
    assert sum(ref() is not None for ref in images) <= 1  # the reader keeps no yielded frame alive
    assert growth < n_frames * frame_bytes / 4  # holding every frame would take 92 MB


@pytest.mark.parametrize("rotation,hflip,corner", [
    (0, False, "top-left"), (90, False, "bottom-left"), (180, False, "bottom-right"),
    (-90, False, "top-right"), (0, True, "top-right"), (90, True, "bottom-right")])
def test_display_matrix_rotation(tmp_path, rotation, hflip, corner):
    stored = np.zeros((32, 64, 3), np.uint8)
    stored[:8, :8] = 255  # marker at the stored top-left corner
    path = tmp_path / "rot.mp4"
    synth.write_video(path, [stored] * 3, rotation=rotation, hflip=hflip)
    frames = list(sample_frames(path, fps=10))
    quarter = rotation % 180 == 90
    assert len(frames) == 3
    assert all(f.image.shape == ((64, 32, 3) if quarter else (32, 64, 3)) for f in frames)
    image = frames[0].image
    assert image.flags["C_CONTIGUOUS"]
    h, w = image.shape[:2]
    regions = {"top-left": image[:8, :8], "top-right": image[:8, w - 8:],
               "bottom-left": image[h - 8:, :8], "bottom-right": image[h - 8:, w - 8:]}
    assert regions[corner].mean() > 200
    assert all(r.mean() < 50 for name, r in regions.items() if name != corner)
    info = probe(path)
    assert (info.width, info.height, info.rotation, info.hflip) == (64, 32, rotation, hflip)
    assert info.display_size == (w, h)


def test_probe(media):
    info = probe(media["cfr"])
    assert (info.width, info.height, info.rotation, info.n_frames_estimate) == (64, 64, 0, 100)
    assert info.avg_fps == pytest.approx(10.0)
    assert info.duration == pytest.approx(10.0, abs=0.11)


def test_photo_is_a_one_frame_video(tmp_path):
    image = synth_media.code_frame(1234, 40, 30)
    path = tmp_path / "still.PNG"
    Image.fromarray(image).save(path, format="PNG")
    (frame,) = list(sample_frames(path, fps=5))
    assert (frame.index, frame.time, frame.window) == (0, 0.0, -1)
    np.testing.assert_array_equal(frame.image, image)
    (frame,) = list(window_frames(path, [7.0, 2.0], det_window=5, time_in_secs=True))
    assert frame.window == 1  # the earliest instant's row
    info = probe(path)
    assert info.is_photo and (info.width, info.height, info.n_frames_estimate) == (40, 30, 1)


@pytest.mark.parametrize("tag", range(1, 9))
def test_photo_exif_orientation_matches_pil(tmp_path, tag):
    from PIL import ImageOps

    rng = np.random.default_rng(tag)
    stored = np.kron(rng.integers(0, 2, (3, 4, 1)) * 255, np.ones((8, 8, 3))).astype(np.uint8)
    path = tmp_path / "exif.jpg"
    img = Image.fromarray(stored)
    exif = img.getexif()
    exif[0x0112] = tag
    img.save(path, exif=exif, quality=95)
    (frame,) = list(sample_frames(path))
    with Image.open(path) as ref:
        expected = np.asarray(ImageOps.exif_transpose(ref).convert("RGB"))
    np.testing.assert_array_equal(frame.image, expected)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(VideoError, match="zero-byte") as err:
        sample_frames(path)
    assert err.value.path == str(path) and str(path) in str(err.value)


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(VideoError, match="not found"):
        sample_frames(tmp_path / "absent.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(VideoError, match="cannot open"):
        sample_frames(junk)
    bad_photo = tmp_path / "junk.jpg"
    bad_photo.write_bytes(b"not a jpeg at all")
    with pytest.raises(VideoError, match="undecodable image"):
        sample_frames(bad_photo)


def test_audio_only_file(tmp_path):
    path = tmp_path / "speech.m4a"
    synth_media.write_audio_only(path, seconds=0.5)
    with pytest.raises(VideoError, match="no video stream.*audio"):
        sample_frames(path)
    with pytest.raises(VideoError, match="no video stream"):
        window_frames(path, [0.0], 5, True)


def test_truncated_file_without_index(media, tmp_path):
    path = tmp_path / "cut.mp4"
    synth_media.truncate_copy(media["cfr"], path, 0.6)  # the mp4 index (moov) is at the end: lost
    with pytest.raises(VideoError, match="cannot open"):
        sample_frames(path)


def test_truncated_file_yields_decodable_prefix(media, tmp_path, caplog):
    path = tmp_path / "cut.mp4"
    synth_media.truncate_copy(media["fast"], path, 0.6)
    with caplog.at_level(logging.WARNING, logger="hyp_face.video.reader"):
        frames = list(sample_frames(path, fps=10))
    assert 5 < len(frames) < 60
    assert codes(frames) == list(range(len(frames)))
    assert any("decoding stopped" in r.message and str(path) in r.message for r in caplog.records)


def test_truncated_file_with_nothing_decodable(media, tmp_path):
    path = tmp_path / "stub.mp4"
    fast = media["fast"].read_bytes()
    moov_end = fast.index(b"mdat") + 4  # keep the index and the mdat header, no frame data
    path.write_bytes(fast[:moov_end])
    with pytest.raises(VideoError, match="no decodable video frame"):
        list(sample_frames(path))
