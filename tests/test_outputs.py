"""Outputs of a video timeline: timeline.json, RTTM, WebVTT (hand-checked), the annotated MP4 decoded back."""

from __future__ import annotations

import json
import os
import stat

import av
import numpy as np
import pytest
from PIL import Image, ImageFont

from hyp_face.recognize.annotate import PALETTE, BoxSchedule, Drawn, annotate_video, face_layer
from hyp_face.recognize.contact import (COLUMNS, HEADER, THUMB, SampledCrops, TrackCrops, cut_crops,
                                        planned_crops)
from hyp_face.recognize.outputs import (SCHEMA_VERSION, TimelineWriter, output_dir, read_timeline, rttm_lines,
                                        timeline_dict, vtt_lines, write_outputs, write_text_outputs)
from hyp_face.recognize.timeline import UNKNOWN, TrackLabel, VideoTimeline, track_segments
from hyp_face.track.types import Track
from hyp_face.video import sample_frames
from hyp_face.video.synth import write_video
from conftest import shared_path
from synth_media import truncate_copy

FPS = 10
TRACK_FPS = 5.0
W, H = 160, 120
GREY = 128


def make_track(track_id: int, times: list[float], box: tuple[float, ...]) -> Track:
    n = len(times)
    return Track(track_id, np.arange(n), np.round(np.asarray(times) * FPS).astype(np.int64),
                 np.asarray(times, dtype=np.float64), np.tile(np.asarray(box, np.float32), (n, 1)),
                 np.full(n, 0.9, np.float32), np.ones(4, np.float32) / 2, 0.5)


def two_people(source: str = "clip.mp4", duration: float = 2.0) -> VideoTimeline:
    """Track 1 (Obama, person_00) at 0..0.8 s on the left; track 2 (unknown, person_01) at 1.0..1.8 s on the right."""
    t1 = make_track(1, [0.0, 0.2, 0.4, 0.6, 0.8], (10, 20, 60, 90))
    t2 = make_track(2, [1.0, 1.2, 1.4, 1.6, 1.8], (90, 20, 150, 100))
    labels = {1: TrackLabel(1, "person_00", "Obama", 0.71), 2: TrackLabel(2, "person_01", UNKNOWN, 0.12)}
    return VideoTimeline("vid-1", source, W, H, duration, TRACK_FPS, [t1, t2], labels)


def test_track_segments_split_at_gaps_and_clip_to_duration():
    track = make_track(5, [0.0, 0.2, 0.4, 1.4, 1.6], (0, 0, 1, 1))
    segments = track_segments(track, TRACK_FPS, duration=1.7)
    assert [(s.start, round(s.end, 6)) for s in segments] == [(0.0, 0.6), (1.4, 1.7)]


def test_timeline_document_people_tracks_segments():
    doc = timeline_dict(two_people())
    assert doc["version"] == SCHEMA_VERSION and doc["width"] == W and doc["track_fps"] == TRACK_FPS
    assert [(p["person"], p["identity"], p["tracks"], p["segments"]) for p in doc["people"]] == [
        ("person_00", "Obama", [1], [[0.0, 1.0]]), ("person_01", UNKNOWN, [2], [[1.0, 2.0]])]
    first = doc["tracks"][0]
    assert first["faces"][1] == {"frame": 2, "time": 0.2, "box": [10.0, 20.0, 60.0, 90.0], "score": 0.9}
    assert first["score"] == 0.71 and first["num_faces"] == 5


def test_person_identity_is_the_one_with_most_screen_time():
    tl = two_people()
    tl.tracks[1] = make_track(2, [1.0, 1.2], (90, 20, 150, 100))
    tl.tracks.append(make_track(3, [1.0], (0, 0, 5, 5)))
    tl.labels[2] = TrackLabel(2, "person_00", "Biden", 0.9)
    tl.labels[3] = TrackLabel(3, "person_00", UNKNOWN, float("nan"))
    person = timeline_dict(tl)["people"][0]
    assert person["identity"] == "Obama" and person["score"] == 0.71  # 1.0 s of Obama, 0.4 s of Biden
    assert person["tracks"] == [1, 2, 3] and person["segments"] == [[0.0, 1.4]]


def test_rttm_and_webvtt_by_hand():
    doc = timeline_dict(two_people())
    assert rttm_lines(doc) == ["SPEAKER vid-1 1 0.000 1.000 <NA> <NA> Obama <NA> <NA>",
                               "SPEAKER vid-1 1 1.000 1.000 <NA> <NA> person_01 <NA> <NA>"]
    assert vtt_lines(doc) == ["WEBVTT", "", "00:00:00.000 --> 00:00:01.000", "Obama (0.71)", "",
                              "00:00:01.000 --> 00:00:02.000", "unknown (person_01)"]


def test_webvtt_does_not_split_a_cue_where_one_person_goes_on_in_a_new_track():
    tl = two_people()
    tl.tracks[1] = make_track(2, [1.0, 1.2], (90, 20, 150, 100))
    tl.tracks.append(make_track(3, [1.4, 1.6, 1.8], (90, 20, 150, 100)))
    tl.labels[3] = TrackLabel(3, "person_01", UNKNOWN, float("nan"))
    lines = vtt_lines(timeline_dict(tl))
    assert lines[2:] == ["00:00:00.000 --> 00:00:01.000", "Obama (0.71)", "",
                         "00:00:01.000 --> 00:00:02.000", "unknown (person_01)"]


def test_webvtt_lists_everyone_on_screen():
    tl = two_people()
    tl.tracks[1] = make_track(2, [0.4, 0.6], (90, 20, 150, 100))
    lines = vtt_lines(timeline_dict(tl))
    assert lines[2:] == ["00:00:00.000 --> 00:00:00.400", "Obama (0.71)", "",
                         "00:00:00.400 --> 00:00:00.800", "Obama (0.71)", "unknown (person_01)", "",
                         "00:00:00.800 --> 00:00:01.000", "Obama (0.71)"]


def test_rttm_and_webvtt_follow_the_players_timeline():
    """A video stream that starts after the container (its audio first) shifts the RTTM and the cues, not the
    timeline's own times."""
    tl = two_people()
    tl.media_offset = 0.85
    doc = timeline_dict(tl)
    assert doc["media_offset"] == 0.85 and doc["tracks"][0]["segments"][0][0] == 0.0
    assert vtt_lines(doc)[2] == "00:00:00.850 --> 00:00:01.850"  # the cue of 0.0-1.0 above
    assert rttm_lines(doc)[0].split()[3] == "0.850"


def test_media_offset_of_a_clip_whose_audio_starts_first():
    clip = shared_path("data", "celeb_video_smoke", "ageitgey_face_recognition", "examples", "short_hamilton_clip.mp4")
    frames = sample_frames(clip, fps=5)
    assert frames.media_offset == pytest.approx(0.844, abs=1e-3)  # video 0.852 s, audio 0.008 s (ffprobe)
    assert next(iter(frames)).time == 0.0


def test_write_outputs_text_files_atomic_and_umask(tmp_path):
    old = os.umask(0o027)
    try:
        paths = write_outputs(two_people(), tmp_path, contact_sheets=False)
    finally:
        os.umask(old)
    assert sorted(paths) == ["rttm", "timeline", "vtt"]
    assert paths["rttm"] == tmp_path / "vid-1" / "vid-1.rttm"
    for path in paths.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert not [p for p in (tmp_path / "vid-1").iterdir() if p.name.startswith(".")]  # no temporary left
    assert read_timeline(paths["timeline"]) == json.loads(json.dumps(timeline_dict(two_people())))


def test_read_timeline_rejects_unknown_version(tmp_path):
    path = tmp_path / "timeline.json"
    path.write_text(json.dumps({"schema": "hyp_face.timeline", "version": 99}))
    with pytest.raises(ValueError, match="timeline.json"):
        read_timeline(path)


def test_timeline_writer_waits_ten_times_what_a_write_cost(tmp_path, monkeypatch):
    clock = iter([0.0, 3.0,  # first write: 3 s
                  20.0,  # too early: the next write waits until 0 + 10 x 3 = 30 s
                  31.0, 31.1])  # written (0.1 s): the next waits the minimum interval, 1 s
    monkeypatch.setattr("hyp_face.recognize.outputs.time.monotonic", lambda: next(clock))
    writer = TimelineWriter(tmp_path, min_interval=1.0, cost_factor=10.0)
    assert writer.update(two_people()) and not writer.update(two_people()) and writer.update(two_people())
    assert writer._next_write == pytest.approx(32.0)


def test_timeline_writer_rate_limits_and_forces(tmp_path):
    writer = TimelineWriter(tmp_path, min_interval=3600)
    tl = two_people()
    assert writer.update(tl) and not writer.update(tl)
    tl.duration = 5.0
    assert writer.update(tl, force=True)
    assert read_timeline(tmp_path / "vid-1" / "timeline.json")["duration"] == 5.0


@pytest.mark.parametrize("source", ["missing.mp4", "garbage.mp4", "rtsp://camera.invalid/stream"])
def test_unreadable_source_keeps_text_outputs(tmp_path, caplog, source):
    (tmp_path / "garbage.mp4").write_bytes(b"not a video" * 100)
    source = source if "://" in source else str(tmp_path / source)
    paths = write_outputs(two_people(source), tmp_path / "out", video=True)
    assert sorted(paths) == ["rttm", "timeline", "vtt"] and paths["timeline"].exists()
    assert f"{source}" in caplog.text and "no annotated video" in caplog.text


def test_box_schedule_holds_one_period():
    schedule = BoxSchedule(two_people())
    assert [f.text for f in schedule.at(0.1)] == ["Obama 0.71"]
    assert [f.text for f in schedule.at(0.95)] == ["Obama 0.71"]  # the face at 0.8 s holds until 1.0 s
    assert schedule.at(-0.5) == [] and schedule.at(2.0) == []
    assert [f.text for f in schedule.at(1.05)] == ["unknown person_01"]


# --- annotated MP4, decoded back ------------------------------------------------------------------------------------

def write_clip(path, seconds: float = 2.0, rotation: int = 0, audio: str | None = "aac") -> None:
    """A grey clip at FPS with (optionally) a 440 Hz tone in codec ``audio``; ``rotation`` as the display matrix."""
    frames = [np.full((H, W, 3), GREY, np.uint8)] * int(seconds * FPS)
    if rotation:  # stored frames are the displayed ones turned back: a 90-degree clip is stored H x W
        frames = [np.full((W, H, 3), GREY, np.uint8)] * int(seconds * FPS)
    write_video(path, frames, fps=FPS, rotation=rotation, lossless=False)
    if audio:
        add_audio(path, seconds, audio)


def add_audio(path, seconds: float, codec: str, rate: int = 16000) -> None:
    """Remux ``path`` with a tone track of ``seconds`` in ``codec``."""
    tmp = f"{path}.a{os.path.splitext(path)[1]}"
    tone = (0.1 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate)).astype(np.float32)
    with av.open(str(path)) as src, av.open(tmp, "w") as out:
        vin = src.streams.video[0]
        vout = out.add_stream_from_template(vin)
        aout = out.add_stream(codec, rate=rate, layout="mono")
        for packet in src.demux(vin):
            if packet.dts is not None:
                packet.stream = vout
                out.mux(packet)
        step = aout.codec_context.frame_size or 1024
        for start in range(0, len(tone), step):
            samples = tone[None, start:start + step]
            if codec == "pcm_s16le":
                samples = (samples * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(samples, format="s16" if codec == "pcm_s16le" else "fltp",
                                               layout="mono")
            frame.sample_rate, frame.pts = rate, start
            out.mux(aout.encode(frame))
        out.mux(aout.encode(None))
    os.replace(tmp, path)


def decoded(path) -> tuple[list[np.ndarray], float]:
    """Every frame of ``path`` (RGB) and its audio duration in seconds (0 without audio)."""
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        audio = c.streams.audio[0] if c.streams.audio else None
        seconds = float(audio.duration * audio.time_base) if audio is not None and audio.duration else 0.0
    return frames, seconds


def is_colour(pixels: np.ndarray, colour: tuple[int, int, int], tol: float = 45) -> bool:
    return bool(np.abs(pixels.reshape(-1, 3).mean(0) - np.asarray(colour)).max() < tol)


def check_boxes(frames: list[np.ndarray]) -> None:
    """Frames 0..9 show person_00's box (left), 10..19 person_01's (right), at the timeline's coordinates."""
    red, green = PALETTE[0], PALETTE[1]
    for i, image in enumerate(frames):
        left_edge = image[40:70, 10:13]  # left side of box 1 (x1=10), a 3-pixel line
        right_edge = image[40:80, 148:150]  # right side of box 2 (x2=150)
        assert is_colour(left_edge, red) == (i < 10), i
        assert is_colour(right_edge, green) == (i >= 10), i
        assert is_colour(image[50:60, 70:80], (GREY,) * 3)  # between the boxes: never drawn on


def test_annotated_mp4_decoded_back(tmp_path):
    clip = tmp_path / "clip.mp4"
    write_clip(clip)
    paths = write_outputs(two_people(str(clip)), tmp_path / "out", video=True, contact_sheets=False)
    frames, audio_seconds = decoded(paths["video"])
    assert len(frames) == 20 and frames[0].shape == (H, W, 3)
    assert audio_seconds == pytest.approx(2.0, abs=0.1)
    check_boxes(frames)


def test_annotated_mp4_reencodes_audio_mp4_cannot_hold(tmp_path):
    clip = tmp_path / "clip.mkv"
    write_clip(clip, audio="pcm_s16le")
    paths = write_outputs(two_people(str(clip)), tmp_path / "out", video=True, contact_sheets=False)
    frames, audio_seconds = decoded(paths["video"])
    with av.open(str(paths["video"])) as c:
        assert c.streams.audio[0].codec_context.name == "aac"
    assert len(frames) == 20 and audio_seconds == pytest.approx(2.0, abs=0.15)
    check_boxes(frames)


def test_annotated_mp4_of_a_rotated_video_is_upright(tmp_path):
    clip = tmp_path / "rotated.mp4"
    write_clip(clip, rotation=90, audio=None)
    paths = write_outputs(two_people(str(clip)), tmp_path / "out", video=True, contact_sheets=False)
    frames, audio_seconds = decoded(paths["video"])
    assert len(frames) == 20 and frames[0].shape == (H, W, 3) and audio_seconds == 0.0
    check_boxes(frames)


def test_contact_sheets_one_png_per_person_with_one_crop_per_face(tmp_path):
    clip = tmp_path / "clip.mp4"
    write_clip(clip, audio=None)
    paths = write_outputs(two_people(str(clip)), tmp_path / "out")
    assert paths["contact:person_00"] == tmp_path / "out" / "vid-1" / "contact" / "person_00.png"
    sheet = np.asarray(Image.open(paths["contact:person_01"]).convert("RGB"))
    assert sheet.shape == (HEADER + 2 * THUMB, COLUMNS * THUMB, 3)  # 5 faces: two rows of 4
    cells = [sheet[HEADER + (i // COLUMNS) * THUMB + 40, (i % COLUMNS) * THUMB + 56] for i in range(8)]
    assert [int(c.mean()) > 100 for c in cells] == [True] * 5 + [False] * 3  # grey crops, then the dark page


def test_contact_sheets_cut_in_the_annotated_pass_equal_a_pass_of_their_own(tmp_path):
    clip = tmp_path / "clip.mp4"
    write_clip(clip, audio=None)
    with_video = write_outputs(two_people(str(clip)), tmp_path / "a", video=True)
    alone = write_outputs(two_people(str(clip)), tmp_path / "b")
    for person in ("person_00", "person_01"):
        key = f"contact:{person}"
        assert np.array_equal(np.asarray(Image.open(with_video[key])), np.asarray(Image.open(alone[key])))


def sampled_crops(timeline: VideoTimeline, max_bytes: int = 2**22) -> SampledCrops:
    """The faces of ``timeline`` offered frame by frame as recognition would (sampled at TRACK_FPS), each track
    ended after its last face."""
    crops = SampledCrops(max_bytes)
    for frame in sample_frames(timeline.source, fps=TRACK_FPS):
        faces = [(t.box[i], t.track_id) for t in timeline.tracks for i in np.flatnonzero(t.time == frame.time)]
        crops.offer(frame.time, frame.image, np.array([b for b, _ in faces]), np.ones(len(faces)),
                    np.array([i for _, i in faces]))
        crops.end([t for t in timeline.tracks if t.end == frame.time])
    return crops


def test_contact_crops_cut_from_the_sampled_frames_equal_a_pass_of_their_own(tmp_path):
    clip = tmp_path / "clip.mp4"
    write_clip(clip, seconds=4.0, audio=None)
    timeline = two_people(str(clip), duration=4.0)
    timeline.tracks[0].score[2] = 0.95  # a best face that is not the first
    long = make_track(3, [round(0.2 * i, 6) for i in range(20)], (40, 30, 100, 110))
    long.score[:] = np.linspace(0.5, 1.0, 20)
    timeline.tracks.append(long)
    timeline.labels[3] = TrackLabel(3, "person_02", UNKNOWN, 0.1)
    own = cut_crops(str(clip), planned_crops(timeline))
    kept = sampled_crops(timeline)
    sampled = kept.crops(timeline)
    assert {p: [t for t, _ in c] for p, c in sampled.items()} == {p: [t for t, _ in c] for p, c in own.items()}
    assert len(own["person_02"]) == 12
    for person in own:
        assert all(np.array_equal(np.asarray(a), np.asarray(b)) for (_, a), (_, b) in zip(own[person], sampled[person]))
    assert kept.nbytes == (5 + 5 + 12) * 3 * THUMB * THUMB  # the long track keeps only the faces it can show


def test_contact_crops_beyond_their_memory_bound_are_decoded_again(tmp_path):
    clip = tmp_path / "clip.mp4"
    write_clip(clip, audio=None)
    timeline = two_people(str(clip))
    bounded = sampled_crops(timeline, max_bytes=4 * 3 * THUMB * THUMB)
    assert bounded.nbytes <= 4 * 3 * THUMB * THUMB and bounded.crops(timeline) is None
    from_pass = write_outputs(timeline, tmp_path / "a", track_crops=bounded)
    alone = write_outputs(timeline, tmp_path / "b")
    for person in ("person_00", "person_01"):
        key = f"contact:{person}"
        assert np.array_equal(np.asarray(Image.open(from_pass[key])), np.asarray(Image.open(alone[key])))


def test_live_contact_sheets_from_track_crops_without_the_source(tmp_path):
    timeline = two_people(str(tmp_path / "gone.mp4"))
    crops = TrackCrops()
    image = np.full((H, W, 3), GREY, np.uint8)
    for track in timeline.tracks:
        for t, box, score in zip(track.time, track.box, track.score):
            crops.offer(float(t), image, box[None], np.array([score]), np.array([track.track_id]))
    crops.offer(0.0, image, np.array([[0, 0, 8, 8]]), np.array([1.0]), np.array([-1]))  # untracked: ignored
    assert sorted(crops.best) == [1, 2] and crops.best[1][1] == 0.0  # equal quality: the first face stays
    bounded = TrackCrops(max_tracks=1)
    for track_id in (5, 6):
        bounded.offer(0.0, image, np.array([[0, 0, 8, 8]]), np.array([1.0]), np.array([track_id]))
    assert list(bounded.best) == [6]
    paths = TimelineWriter(tmp_path / "out").close(timeline, track_crops=crops)
    sheet = np.asarray(Image.open(paths["contact:person_00"]).convert("RGB"))
    assert sheet.shape == (HEADER + THUMB, COLUMNS * THUMB, 3)  # one crop: the best face of its one track
    assert int(sheet[HEADER + 40, 56].mean()) > 100 and int(sheet[HEADER + 40, THUMB + 56].mean()) < 100


def test_annotated_mp4_of_a_truncated_source_keeps_the_frames_before_the_cut(tmp_path):
    full, cut = tmp_path / "full.mp4", tmp_path / "cut.mp4"
    rng = np.random.default_rng(0)
    frames = [np.full((H, W, 3), GREY, np.uint8) for _ in range(20)]
    for image in frames:  # noise below the boxes, so that every frame takes its share of the bytes
        image[106:] = rng.integers(0, 255, (H - 106, W, 3), np.uint8)
    write_video(full, frames, fps=FPS, lossless=False, faststart=True)
    truncate_copy(full, cut, 0.6)
    paths = write_outputs(two_people(str(cut)), tmp_path / "out", video=True, contact_sheets=False)
    frames, _ = decoded(paths["video"])
    assert 0 < len(frames) < 20 and frames[0].shape == (H, W, 3)
    check_boxes(frames)


def test_webvtt_escapes_names_and_empty_tracks_are_left_out():
    tl = two_people()
    tl.labels[1] = TrackLabel(1, "person_00", "Tom & <Jerry>", 0.5)
    tl.tracks.append(make_track(9, [], (0, 0, 1, 1)))
    doc = timeline_dict(tl)
    assert [t["track_id"] for t in doc["tracks"]] == [1, 2]
    assert vtt_lines(doc)[3] == "Tom &amp; &lt;Jerry&gt; (0.50)"
    assert rttm_lines(doc)[0].split()[7] == "Tom_Jerry"


def test_annotated_mp4_of_an_odd_sized_source_in_another_pixel_format(tmp_path):
    clip = tmp_path / "odd.mkv"  # MJPEG, yuvj422p, 161 x 121: converted to yuv420p, the odd last row/column cut
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("mjpeg", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = W + 1, H + 1, "yuvj422p"
        for i in range(20):
            frame = av.VideoFrame.from_ndarray(np.full((H + 1, W + 1, 3), GREY, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame.reformat(format="yuvj422p")))
        out.mux(stream.encode(None))
    assert annotate_video(two_people(str(clip)), tmp_path / "odd.mp4") == 20
    frames, _ = decoded(tmp_path / "odd.mp4")
    assert len(frames) == 20 and frames[0].shape == (H, W, 3)
    check_boxes(frames)


def test_contact_faces_spread_over_a_long_track():
    from hyp_face.recognize.contact import pick_faces

    long = make_track(1, [i * 0.2 for i in range(48)], (0, 0, 10, 10))
    long.score[:] = np.linspace(1.0, 0.5, 48)  # the best faces are all at the start
    short = make_track(2, [0.0, 0.2], (0, 0, 20, 20))
    picked = [t for t, _ in pick_faces([long, short], limit=6)]
    # round robin, long track first: its runs of 8 faces give 0.0, 1.6, 3.2, 4.8; the short one 0.0 and 0.2
    assert picked == pytest.approx([0.0, 0.0, 0.2, 1.6, 3.2, 4.8])


def test_annotated_mp4_of_a_large_source_is_scaled_down(tmp_path):
    clip = tmp_path / "clip.mp4"
    write_clip(clip, audio=None)
    assert annotate_video(two_people(str(clip)), tmp_path / "small.mp4", max_short_side=60) == 20
    frames, _ = decoded(tmp_path / "small.mp4")
    assert frames[0].shape == (60, 80, 3)  # 160 x 120 at half size
    assert is_colour(frames[0][20:35, 5:7], PALETTE[0]) and is_colour(frames[0][25:30, 35:40], (GREY,) * 3)


def test_a_caption_at_the_right_edge_stays_inside_the_frame():
    font = ImageFont.load_default(size=10)
    layer = np.asarray(face_layer((120, 80), [Drawn((100, 40, 119, 70), "unknown (person_00)", (255, 0, 0))], font))
    caption_rows = layer[:40, :, 3] > 0  # above the box
    columns = np.flatnonzero(caption_rows.any(axis=0))
    assert columns.min() < 100 and columns.max() == 119  # moved left to fit, ending at the frame's edge


def test_summarize_recognition_counts_and_fails_past_max_unreadable(tmp_path, capsys):
    from hyp_face.bin import summarize_recognition

    out = tmp_path / "out"
    for key, status in (("a", "ok"), ("b", "video error: zero-byte file"), ("c", "ok")):
        folder = output_dir(out, key)
        folder.mkdir(parents=True)
        write_text_outputs(VideoTimeline(key, f"/x/{key}.mp4", status=status), folder)
    scp = tmp_path / "vid.scp"
    scp.write_text("a /x/a.mp4\nb /x/b.mp4\nc /x/c.mp4\n")
    assert summarize_recognition.main([str(scp), str(out)]) == 1
    printed = capsys.readouterr()
    assert "3 videos, 0 tracks (0 named), 2 without a face, 1 unreadable" in printed.out
    assert "unreadable b: video error: zero-byte file" in printed.out
    assert "1 of 3 videos unreadable, more than --max-unreadable 0" in printed.err
    assert summarize_recognition.main([str(scp), str(out), "--max-unreadable", "34%"]) == 0
    scp.write_text(scp.read_text() + "d /x/d.mp4\n")  # a video whose job left nothing
    assert summarize_recognition.main([str(scp), str(out), "--max-unreadable", "1"]) == 1
    assert "1 of 4 videos have no timeline.json" in capsys.readouterr().err


def test_a_contact_sheet_title_names_the_person_as_timeline_json_does():
    from hyp_face.recognize.contact import person_title

    tl = two_people()
    tl.tracks[1] = make_track(2, [1.0, 1.2], (90, 20, 150, 100))
    tl.tracks.append(make_track(3, [1.4], (90, 20, 150, 100)))
    tl.labels[2] = TrackLabel(2, "person_00", "Biden", 0.9)  # the better score, but 0.4 s against Obama's 1.0 s
    tl.labels[3] = TrackLabel(3, "person_00", UNKNOWN, float("nan"))
    assert timeline_dict(tl)["people"][0]["identity"] == "Obama"
    assert person_title(tl, "person_00", tl.tracks) == "person_00: Obama (0.71)"
    tl.labels = {k: TrackLabel(k, "person_00", UNKNOWN, 0.3) for k in tl.labels}
    assert person_title(tl, "person_00", tl.tracks) == "person_00: unknown"
