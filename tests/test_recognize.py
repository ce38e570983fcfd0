"""Gallery recognition (hyp_face.recognize, hyp_face.bin.recognize_video) on rendered videos of the demo's
public-domain faces: identification and its threshold, gallery enrolment and its reruns, the bad inputs of
README "Who appears when" (bad gallery images, a person without a face, an unopenable URL, a stream cut mid-way,
a video without a face, a rotated video), live frames with dropping, and the recipe scripts."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hyp_face.corpus import demo
from hyp_face.identify.protocols import RoleSet
from hyp_face.metrics.identification import dir_at_fpir
from hyp_face.recognize.identify import Identifier, label_tracks, person_names
from hyp_face.recognize.threshold import keep_share, threshold_at_fpir
from hyp_face.recognize.timeline import UNKNOWN
from hyp_face.track.types import Track
from hyp_face.video import probe
from hyp_face.video.orientation import Orientation, apply_orientation
from hyp_face.video.synth import write_video
from hyp_face.zoo import locate_pypi_file
from open_set_synth import stored_lfw_open_set
from synth_media import truncate_copy

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "global_conf" / "config_embedded.sh"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "HYP_FACE_PYTHON": sys.executable}


def unit(v) -> np.ndarray:
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


# ---------------------------------------------------------------------------------------------- identification


def test_identity_score_is_the_best_item_and_unknown_is_below_the_threshold():
    gallery = unit([[1, 0, 0], [0.6, 0.8, 0], [0, 0, 1]])
    ident = Identifier(gallery, ["ann", "ann", "bob"], threshold=0.9)
    probes = unit([[0.6, 0.8, 0.05], [0.05, 0, 1], [0.7, 0, 0.7]])
    found = ident.identify(probes)
    assert found.identity == ["ann", "bob", UNKNOWN]
    assert found.best[2] in ("ann", "bob")
    np.testing.assert_allclose(found.score[0], float(unit([0.6, 0.8, 0.05]) @ gallery[1]), rtol=1e-6)
    assert found.score[2] < 0.9


def test_empty_probe_set_and_mismatched_gallery():
    ident = Identifier(unit([[1, 0]]), ["ann"], 0.5)
    assert ident.identify(np.zeros((0, 2), np.float32)).identity == []
    with pytest.raises(ValueError, match="2 gallery embeddings but 1 names"):
        Identifier(unit([[1, 0], [0, 1]]), ["ann"], 0.5)


def test_tracks_get_people_in_order_of_appearance_and_identities():
    tracks = [Track(k, np.array([k]), np.array([k]), np.array([k * 0.2]), np.zeros((1, 4), np.float32),
                    np.ones(1, np.float32), e) for k, e in enumerate(unit([[1, 0], [0, 1], [0.99, 0.1]]))]
    labels = label_tracks(tracks, [4, 2, 4], Identifier(unit([[1, 0]]), ["ann"], 0.95))
    assert [labels[k].person for k in range(3)] == ["person_00", "person_01", "person_00"]
    assert [labels[k].identity for k in range(3)] == ["ann", UNKNOWN, "ann"]
    assert person_names([7, 7, 3]) == ["person_00", "person_00", "person_01"]


def test_video_context_names_a_weak_track_of_a_named_person_when_its_gallery_agrees():
    """ann's gallery item is [1, 0], bob's [0, 1]; track 0 passes the threshold; tracks 1-3 score below it. 1 is of
    the same person as track 0 and its best identity is ann: named. 2 is of the same person but its best identity is
    bob: stays unknown. 3 ranks ann first but is another person: stays unknown."""
    tracks = [Track(k, np.array([k]), np.array([k]), np.array([float(k)]), np.zeros((1, 4), np.float32),
                    np.ones(1, np.float32), unit(e)) for k, e in enumerate([[1, 0.05], [1, 0.6], [0.6, 1], [1, 0.7]])]
    ident = Identifier(unit([[1, 0], [0, 1]]), ["ann", "bob"], 0.95)
    people = [0, 0, 0, 1]
    assert [v.identity for v in label_tracks(tracks, people, ident, context=False).values()] == ["ann"] + [UNKNOWN] * 3
    labels = label_tracks(tracks, people, ident)
    assert [labels[k].identity for k in range(4)] == ["ann", "ann", UNKNOWN, UNKNOWN]
    assert labels[1].score < 0.95  # the track's own score is kept


def test_threshold_is_the_open_set_metric_threshold():
    rng = np.random.default_rng(0)
    gallery = unit(rng.normal(size=(20, 16)))
    known = unit(gallery + 0.3 * rng.normal(size=gallery.shape))
    unknown = unit(rng.normal(size=(300, 16)))
    ids = [f"p{k}" for k in range(20)]
    probes = np.concatenate([known, unknown])
    probe_ids = ids + [f"u{k}" for k in range(300)]
    res = threshold_at_fpir(probes, probe_ids, gallery, ids, 1e-2)
    expected = dir_at_fpir(probes @ gallery.T, probe_ids, ids, (1e-2,))[1e-2]
    assert res.threshold == pytest.approx(expected["threshold"], abs=1e-6)
    assert (res.n_known, res.n_unknown, res.n_gallery) == (20, 300, 20)
    found = Identifier(gallery, ids, res.threshold).identify(unknown)
    assert np.mean([i != UNKNOWN for i in found.identity]) <= 1e-2
    assert "recognize_unknown_thr=" in res.config_line("x")


def test_probe_share_is_deterministic():
    items = RoleSet({f"u{k}": f"/x/{k}.jpg" for k in range(50)}, {f"u{k}": "a" for k in range(50)}, "src")
    first = keep_share(items, 10)
    assert len(first) == 10 and first == keep_share(items, 10)
    assert keep_share(items, None) == items.vid


# ---------------------------------------------------------------------------------------------- media


def render_video(path: Path, actors: list[str], rng, rotation: int = 0) -> None:
    """A 4 s demo video of the given actors (none: background only), stored rotated by ``rotation``."""
    tracks = [demo.random_track(demo.Actor.load(a), rng, side)
              for a, side in zip(actors, ["left", "right"] if len(actors) > 1 else ["centre"])]
    bg = demo.background(rng)
    n = int(demo.SECONDS * demo.FPS)
    undo = Orientation(rotation).inverse()

    def frames():
        for k in range(n):
            canvas = bg.copy()
            for t in tracks:
                t.paste(canvas, k / (n - 1))
            yield apply_orientation(np.asarray(canvas), undo)

    write_video(path, frames(), fps=demo.FPS, rotation=rotation, faststart=True)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """A gallery (hopper, collins, and bad items) and videos: hopper, cameraman (not in the gallery), both
    (hopper + cameraman), no face, hopper rotated 90 degrees, both truncated mid-way."""
    root = tmp_path_factory.mktemp("recognize")
    gallery = root / "gallery"
    for name, key in (("hopper", "hopper"), ("collins", "collins")):
        (gallery / name).mkdir(parents=True)
        shutil.copy(locate_pypi_file(demo.PHOTOS[key][0])[0], gallery / name / f"{key}{Path(demo.PHOTOS[key][0]).suffix}")
    (gallery / "hopper" / "empty.jpg").write_bytes(b"")
    (gallery / "collins" / "garbage.png").write_bytes(np.random.default_rng(1).bytes(3000))
    (gallery / "nobody").mkdir()
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(gallery / "nobody" / "grey.png")
    rng = np.random.default_rng(0)
    videos = root / "videos"
    videos.mkdir()
    for name, actors, rotation in (("hopper", ["hopper"], 0), ("cameraman", ["cameraman"], 0),
                                   ("both", ["hopper", "cameraman"], 0), ("noface", [], 0),
                                   ("rotated", ["hopper"], 90)):
        render_video(videos / f"{name}.mp4", actors, rng, rotation)
    truncate_copy(videos / "both.mp4", videos / "truncated.mp4", keep=0.5)
    return root


@pytest.fixture(scope="module")
def extractor():
    from hyp_face.frontend import FrontEndConfig, build_extractor

    return build_extractor(FrontEndConfig.from_file(CONFIG), batch_size=4)


def test_gallery_enrolment_logs_bad_items_and_reuses_unchanged_ones(media, extractor, tmp_path, caplog):
    from hyp_face.recognize.gallery import enroll

    gallery = tmp_path / "gallery"
    shutil.copytree(media / "gallery", gallery)
    store = tmp_path / "store"
    with caplog.at_level(logging.INFO):
        first = enroll(gallery, extractor, {"fe": 1}, store)
    assert sorted(first.names) == ["collins", "hopper"]
    text = caplog.text
    assert "hopper-empty" in text and "zero-byte" in text
    assert "collins-garbage" in text and "nobody-grey" in text and "no face found" in text
    assert "no usable face for nobody" in text
    caplog.clear()
    with caplog.at_level(logging.INFO):
        again = enroll(gallery, extractor, {"fe": 1}, store)
    assert "unchanged, skipping" in caplog.text
    np.testing.assert_array_equal(again.embeds, first.embeds)
    (gallery / "cameraman").mkdir()
    shutil.copy(locate_pypi_file(demo.PHOTOS["cameraman"][0])[0], gallery / "cameraman" / "camera.png")
    caplog.clear()
    with caplog.at_level(logging.INFO):
        third = enroll(gallery, extractor, {"fe": 1}, store)
    assert "6 items: 5 unchanged, 1 embedded now, 3 without a usable face" in caplog.text
    assert sorted(third.names) == ["cameraman", "collins", "hopper"]
    caplog.clear()
    with caplog.at_level(logging.INFO):
        enroll(gallery, extractor, {"fe": 2}, store)  # another front end: everything again
    assert "6 items: 0 unchanged, 3 embedded now, 3 without a usable face" in caplog.text


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hyp_face.bin.recognize_video", "--config", str(CONFIG), *args],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, check=False, timeout=600)


def read_timeline(out: Path, key: str) -> dict:
    return json.loads((out / key / "timeline.json").read_text())


def named_time(doc: dict, identity: str) -> float:
    return sum(p["screen_time"] for p in doc["people"] if p["identity"] == identity)


def test_recognize_video_names_gallery_people_and_survives_bad_inputs(media, tmp_path):
    out = tmp_path / "out"
    v = media / "videos"
    inputs = [v / f"{k}.mp4" for k in ("hopper", "cameraman", "noface", "rotated", "truncated")]
    res = run_cli("--gallery", str(media / "gallery"), "--out-dir", str(out), "--contact-sheets", "false",
                  *map(str, inputs), "rtsp://127.0.0.1:9/nothing")
    # every input is processed; those that cannot be read whole (the URL, the truncated file) are named and fail
    # the command
    assert res.returncode == 1, res.stdout + res.stderr
    assert "2 of 6 inputs could not be read or failed: truncated, 127.0.0.1_9_nothing" in res.stderr, res.stderr
    lines = {line.split(":")[0]: line for line in res.stdout.splitlines()}
    hopper = read_timeline(out, "hopper")
    assert hopper["status"] == "ok" and named_time(hopper, "hopper") >= 3.0
    end = probe(v / "hopper.mp4").duration  # the last sampled frame's period never runs past the file's end
    assert hopper["duration"] <= end + 1e-3 and max(e for t in hopper["tracks"] for _, e in t["segments"]) <= end + 1e-3
    cameraman = read_timeline(out, "cameraman")
    assert cameraman["tracks"] and {t["identity"] for t in cameraman["tracks"]} == {UNKNOWN}
    noface = read_timeline(out, "noface")
    assert noface["status"] == "ok" and noface["tracks"] == [] and "0 tracks" in lines["noface"]
    rotated = read_timeline(out, "rotated")
    stored = probe(v / "rotated.mp4")
    assert (stored.width, stored.height, stored.rotation) == (demo.H, demo.W, 90)
    assert (rotated["width"], rotated["height"]) == (demo.W, demo.H)  # the displayed size, after the rotation
    assert named_time(rotated, "hopper") >= 3.0
    boxes = np.array([f["box"] for t in rotated["tracks"] for f in t["faces"]])
    assert (boxes[:, 2] <= demo.W + 1).all() and (boxes[:, 3] <= demo.H + 1).all()
    cut = read_timeline(out, "truncated")
    assert cut["tracks"] and 0.5 < cut["duration"] < demo.SECONDS - 0.5  # the part before the cut, kept
    assert cut["status"].startswith("video error: ") and "[Errno" not in cut["status"], cut["status"]
    assert (out / "truncated" / "truncated.rttm").read_text().startswith("SPEAKER truncated 1 ")
    url = [line for key, line in lines.items() if key.startswith("127.0.0.1")]
    assert url and "video error" in url[0], res.stdout
    url_doc = read_timeline(out, url[0].split(":")[0])
    assert url_doc["status"].startswith("video error") and url_doc["tracks"] == []
    # the rerun rule: nothing changed, every file is skipped, and one that could not be read says so again
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    again = run_cli("--gallery", str(media / "gallery"), "--out-dir", str(out), "--contact-sheets", "false",
                    "--max-unreadable", "1", str(v / "hopper.mp4"), str(empty))
    assert again.returncode == 0, again.stdout + again.stderr  # 1 of 2 tolerated
    assert "hopper: unchanged, skipped\n" in again.stdout and "empty: video error: zero-byte file" in again.stdout
    third = run_cli("--gallery", str(media / "gallery"), "--out-dir", str(out), "--contact-sheets", "false", str(empty))
    assert third.returncode == 1 and "empty: unchanged, skipped (video error: zero-byte file)" in third.stdout


def test_live_frames_pace_the_file_and_drop_frames_for_a_slow_consumer(media):
    from hyp_face.recognize.live import LiveFrames

    path = str(media / "videos" / "hopper.mp4")
    all_frames = [f.time for f in LiveFrames(path, fps=5.0, live=False)]
    assert len(all_frames) == int(demo.SECONDS * 5) and all_frames == sorted(all_frames)
    live = LiveFrames(path, fps=5.0, live=True)
    start, got = time.monotonic(), []
    for frame in live:
        got.append(frame.time)
        time.sleep(0.5)  # slower than the 0.2 s between sampled frames
    elapsed = time.monotonic() - start
    assert elapsed >= demo.SECONDS - 0.5  # wall-clock pace
    assert live.dropped > 0 and live.dropped + len(got) == len(all_frames)
    assert got == sorted(got)
    stopped = LiveFrames(path, fps=5.0, live=True)
    for k, _ in enumerate(stopped):
        if k == 2:
            stopped.stop()
    assert stopped.delivered == 3


def test_unopenable_live_source_is_a_video_error():
    from hyp_face.recognize.live import LiveFrames
    from hyp_face.video import VideoError

    with pytest.raises(VideoError, match="cannot open"):
        LiveFrames("/nonexistent/video.mp4", fps=5.0)


def test_recipe_scripts_print_usage():
    for script in ("run_070_recognize.sh", "steps/recognize_video.sh"):
        res = subprocess.run(["bash", script, "--help"], cwd=ROOT, env=ENV, capture_output=True, text=True, check=False)
        assert res.returncode != 0 or res.stdout or res.stderr
        assert (res.stdout + res.stderr).lstrip().startswith("Usage:"), script


@pytest.mark.parametrize("script", ["steps/recognize_video.sh", "steps/extract_face_embed.sh",
                                    "steps/extract_speaker_embed.sh"])
def test_a_bad_max_unreadable_is_refused_before_any_work(script, tmp_path):
    res = subprocess.run(["bash", script, "--max-unreadable", "lots", str(tmp_path / "a"), str(tmp_path / "b")],
                         cwd=ROOT, env=ENV, capture_output=True, text=True, check=False)
    assert res.returncode == 1 and "--max-unreadable must be a count or a percentage like 5%, got 'lots'" in res.stderr


def test_threshold_from_the_stored_embeddings_of_the_lfw_open_set(tmp_path):
    _, protocol = stored_lfw_open_set(tmp_path, 40, 3)
    embed_dir = tmp_path / "face_embed"
    out = tmp_path / "thr.json"
    res = subprocess.run([sys.executable, "-m", "hyp_face.bin.choose_unknown_thr", "--protocol",
                          str(tmp_path / "lfw_id_open"), "--embed-dir", str(embed_dir), "--fpir", "0.1",
                          "--out", str(out)], cwd=ROOT, env=ENV, capture_output=True, text=True, check=False, timeout=300)
    assert res.returncode == 0, res.stderr
    doc = json.loads(out.read_text())
    assert res.stdout.startswith(f"recognize_unknown_thr={doc['threshold']:.4f}")
    assert doc["fpir_achieved"] <= 0.1 and doc["n_gallery"] == len(protocol.sets["gallery"].vid)
    assert doc["n_known"] + doc["n_unknown"] == len(protocol.sets["probe"].vid)


def test_recipe_step_runs_jobs_through_run_pl_and_skips_unchanged_videos(media, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "vid.scp").write_text("".join(f"{k} {media / 'videos' / k}.mp4\n" for k in ("hopper", "noface")))
    out = tmp_path / "out"
    cmd = ["bash", "steps/recognize_video.sh", "--nj", "2", "--contact-sheets", "false", "--config-file", str(CONFIG),
           str(data), str(media / "gallery"), str(out)]
    first = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, check=False, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "hopper: ok, 1 track, 1 person (hopper)" in first.stdout
    assert "noface: ok, 0 tracks" in first.stdout
    assert read_timeline(out, "hopper")["tracks"]
    again = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, check=False, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "hopper: unchanged, skipped" in again.stdout and "noface: unchanged, skipped" in again.stdout


def test_live_mode_prints_load_and_people_and_stops_cleanly_on_ctrl_c(media, tmp_path):
    import signal

    out = tmp_path / "out"
    args = [sys.executable, "-m", "hyp_face.bin.recognize_video", "--config", str(CONFIG), "--gallery",
            str(media / "gallery"), "--out-dir", str(out), "--contact-sheets", "false", "--live", "--print-every", "0.5",
            str(media / "videos" / "hopper.mp4")]
    full = subprocess.run(args, cwd=ROOT, env=ENV, capture_output=True, text=True, check=False, timeout=600)
    assert full.returncode == 0, full.stderr
    status = [line for line in full.stdout.splitlines() if " load " in line]
    assert status and "on screen: hopper" in full.stdout and "dropped" in status[0]
    loads = [float(re.search(r" load (\S+) ", line).group(1)) for line in status[1:]]
    assert loads and all(0.0 < x < 50.0 for x in loads)  # CPU time per media second over the cores: never 0
    doc = read_timeline(out, "hopper")
    assert f"{doc['dropped_frames']} frames dropped" in full.stdout.splitlines()[-1]
    assert named_time(doc, "hopper") > 1.0
    shutil.rmtree(out / "hopper")
    proc = subprocess.Popen(args, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    status_lines = 0
    for line in proc.stdout:
        status_lines += " load " in line
        if status_lines == 2:  # the outputs are written as the stream goes
            assert read_timeline(out, "hopper")["key"] == "hopper"
            proc.send_signal(signal.SIGINT)
            break
    rest, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert rest.splitlines()[-1].startswith("hopper: ok")
    stopped = read_timeline(out, "hopper")
    assert stopped["status"] == "ok" and stopped["duration"] < doc["duration"]


def test_per_face_mode_makes_each_face_a_track_numbered_over_the_stream():
    from hyp_face.io.embed_store import FaceMeta
    from hyp_face.recognize.pipeline import RecognizeOptions, TimelineBuilder
    from hyp_face.track.video import TrackStep
    from hyp_face.video import Frame

    ident = Identifier(unit([[1, 0], [0, 1]]), ["ann", "bob"], 0.9)
    build = TimelineBuilder("k", "src", RecognizeOptions(per_face=True), ident)
    for index, embeds in enumerate([unit([[1, 0.01], [0.01, 1]]), unit([[0.7, 0.7]])]):
        n = len(embeds)
        meta = FaceMeta(frame=[index] * n, time=[index * 0.2] * n, box=np.tile([10, 10, 50, 50], (n, 1)),
                        score=[0.99] * n, landmarks=np.zeros((n, 5, 2)))
        build.add(TrackStep(Frame(np.zeros((60, 80, 3), np.uint8), index, index * 0.2), embeds, meta))
    timeline = build.labelled()
    assert [t.track_id for t in timeline.tracks] == [0, 1, 2]
    assert [timeline.labels[k].identity for k in range(3)] == ["ann", "bob", UNKNOWN]
    assert (timeline.width, timeline.height) == (80, 60) and timeline.duration == pytest.approx(0.4)


def test_an_http_url_is_read_like_a_file_and_a_cut_stream_ends_cleanly(media, tmp_path):
    import functools
    import http.server
    import threading

    from hyp_face.recognize.live import LiveFrames

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(media / "videos"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hopper.mp4"
    try:
        assert len(list(LiveFrames(url, fps=5.0, live=False))) == int(demo.SECONDS * 5)
        cut = LiveFrames(f"http://127.0.0.1:{server.server_address[1]}/truncated.mp4", fps=5.0, live=False)
        frames = list(cut)
        assert 0 < len(frames) < int(demo.SECONDS * 5)
        out = tmp_path / "out"
        res = run_cli("--gallery", str(media / "gallery"), "--out-dir", str(out), "--contact-sheets", "false", url)
    finally:
        server.shutdown()
    assert res.returncode == 0, res.stderr
    key = res.stdout.splitlines()[-1].split(":")[0]
    doc = read_timeline(out, key)
    assert doc["source"] == url and named_time(doc, "hopper") >= 3.0 and doc["dropped_frames"] == 0


def test_a_config_without_unknown_threshold_asks_for_one(tmp_path):
    config = tmp_path / "config.sh"
    config.write_text("".join(line for line in CONFIG.read_text().splitlines(keepends=True)
                              if not line.startswith("recognize_")))
    res = subprocess.run([sys.executable, "-m", "hyp_face.bin.recognize_video", "--config", str(config), "--gallery",
                          str(tmp_path), "--out-dir", str(tmp_path / "out"), "x.mp4"],
                         cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode != 0 and "has no recognize_unknown_thr; give --unknown-thr" in res.stderr


def test_a_gallery_can_be_a_data_dir_or_a_folder(tmp_path):
    from hyp_face.recognize.gallery import gallery_media

    data = tmp_path / "data"
    data.mkdir()
    (data / "vid.scp").write_text("a1 /x/a1.jpg\nb1 /x/b1.mp4\n")
    (data / "utt2spk").write_text("a1 ann\nb1 bob\n")
    assert gallery_media(data) == ({"a1": "/x/a1.jpg", "b1": "/x/b1.mp4"}, {"a1": "ann", "b1": "bob"})
    (data / "utt2spk").write_text("a1 ann\n")
    with pytest.raises(ValueError, match="utt2spk: no person for 1 items of vid.scp, e.g. b1"):
        gallery_media(data)
    folder = tmp_path / "folder"
    (folder / "ann").mkdir(parents=True)
    (folder / "ann" / "p1.jpg").write_bytes(b"x")
    (folder / "ann" / "clip.mp4").write_bytes(b"x")
    vid, utt2spk = gallery_media(folder)
    assert utt2spk == {"ann-clip": "ann", "ann-p1": "ann"} and vid["ann-p1"].endswith("p1.jpg")


def test_a_gallery_clip_enrolls_its_largest_face_per_frame(media, extractor, tmp_path):
    from hyp_face.recognize.gallery import embed_item, enroll

    (tmp_path / "g" / "hopper").mkdir(parents=True)
    shutil.copy(media / "videos" / "both.mp4", tmp_path / "g" / "hopper" / "clip.mp4")  # hopper is the larger face
    gallery = enroll(tmp_path / "g", extractor, {"fe": 1}, tmp_path / "store")
    assert gallery.keys == ["hopper-clip"] and gallery.embeds.shape == (1, extractor.embedder.dim)
    photo = next((media / "gallery" / "hopper").glob("hopper.*"))
    probe_row, status = embed_item(extractor, "photo", str(photo))
    assert status == "ok"
    found = gallery.identifier(0.9502).identify(probe_row)
    assert found.identity == ["hopper"], found.score


def test_a_changed_option_is_reported_once_in_the_rerun_reason(tmp_path):
    from hyp_face.bin import recognize_video as rv
    from hyp_face.frontend import FrontEndConfig
    from hyp_face.io.manifest import manifest_changes
    from hyp_face.recognize.gallery import ScoringRule

    video = tmp_path / "v.mp4"
    video.write_bytes(b"not a video, hashed only")
    (tmp_path / "gallery.scp").write_text("")

    def manifest(*extra: str) -> dict:
        args = rv.parse_args(["--gallery", "g", "--out-dir", str(tmp_path), "--config-file", str(CONFIG), *extra])
        cfg = FrontEndConfig.from_args(args)
        opts = rv.config_options(cfg, args.track_fps, per_face=args.per_face, video=args.video,
                                 contact_sheets=args.contact_sheets)
        return rv.file_job(args, "v", str(video), tmp_path / "gallery.scp", cfg, opts, ScoringRule(0.9)).manifest

    assert manifest_changes(manifest(), manifest("--video", "true")) == ["recognize.video changed false \u2192 true"]
    changes = manifest_changes(manifest(), manifest("--track-fps", "10"))
    assert len(changes) == 1 and changes[0].startswith("recognize.track.track_fps changed 5"), changes
