"""Front-end benchmarks: looped and resized inputs, the memory job, the GPU script's CPU paths (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import shared_path
from hyp_face.bench import clips, gpu, memory
from hyp_face.video import probe, sample_frames
from hyp_face.video.synth import write_video


@pytest.fixture
def clip(tmp_path):
    """3 s at 10 fps, each frame a distinct flat grey (lossless), so frames are told apart by value."""
    frames = [np.full((48, 64, 3), 8 * i, np.uint8) for i in range(30)]
    path = tmp_path / "clip.mp4"
    write_video(path, frames, fps=10.0, gop=10)
    return path


def test_looped_video_repeats_the_same_frames_with_later_times(clip, tmp_path):
    out = clips.loop_video(clip, tmp_path / "x3.mp4", 3)
    assert probe(out).duration == pytest.approx(3 * probe(clip).duration, abs=0.05)
    once = list(sample_frames(clip, fps=2.0))
    thrice = list(sample_frames(out, fps=2.0))
    assert len(thrice) == 3 * len(once)
    for k in range(3):
        part = thrice[k * len(once):(k + 1) * len(once)]
        assert all(np.array_equal(a.image, b.image) for a, b in zip(once, part))
        assert [round(b.time - a.time, 3) for a, b in zip(once, part)] == [pytest.approx(3.0 * k, abs=0.01)] * len(once)


def test_looped_to_loops_only_short_clips(clip, tmp_path):
    assert clips.looped_to(clip, tmp_path, fps=1.0, min_frames=3) == clip
    looped = clips.looped_to(clip, tmp_path, fps=1.0, min_frames=7)
    assert looped.name == "clip_x3.mp4" and len(list(sample_frames(looped, fps=1.0))) >= 7


def test_resized_video_has_the_size_and_length_asked(clip, tmp_path):
    out = clips.resized_video(clip, tmp_path / "big.mp4", (128, 96), seconds=5.0, fps=5.0)
    info = probe(out)
    assert (info.width, info.height) == (128, 96)
    assert info.duration == pytest.approx(5.0, abs=0.25)
    before = out.stat().st_mtime_ns
    clips.resized_video(clip, out, (128, 96), seconds=5.0, fps=5.0)
    assert out.stat().st_mtime_ns == before  # reused, not rewritten


def test_peak_rss_is_read_and_grows_with_an_allocation():
    code = ("import numpy as np; from hyp_face.bench.memory import peak_rss_mb; a = peak_rss_mb(); "
            "b = np.ones(2**25); print(a, peak_rss_mb())")  # 256 MiB touched
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    before, after = map(float, out.split())
    assert before > 10 and after >= before + 250


def test_memory_job_reports_faces_and_peak(capsys):
    video = shared_path("data", "celeb_video_smoke", "hieubkvn123_face_recognition", "videos", "obama.mp4")
    memory.main(["--job", str(video), "--fps", "0.5"])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["status"] == "ok" and report["faces"] >= 2
    assert report["peak_mb"] >= report["loaded_mb"] > 50


def test_gpu_script_skips_without_the_device(capsys):
    if gpu.device_available("cuda"):
        pytest.skip("CUDA present: the skip path does not apply")
    assert gpu.main(["--device", "cuda"]) == 0
    rows = [r for r in capsys.readouterr().out.splitlines() if r.startswith("| ") and "skipped" in r]
    assert len(rows) == 5


@pytest.mark.slow
def test_gpu_script_cpu_paths_compare_the_cpu_with_itself(capsys, tmp_path):
    video = shared_path("data", "celeb_video_smoke", "timesler_facenet-pytorch", "examples", "video.mp4")
    assert gpu.main(["--device", "cpu", "--quick", "--clip", str(video), "--seconds", "2", "--versions", "v1",
                     "--snorm-versions", "v4", "--work-dir", str(tmp_path)]) == 0
    rows = {r.split(" | ")[0].strip("| "): r for r in capsys.readouterr().out.splitlines() if r.startswith("| ")}
    for check in ("detect", "embed", "backend v1", "extract 720p", "extract 1080p", "faithful s-norm v4"):
        assert rows[check].endswith("| True |"), rows[check]
    assert "box 0 px, landmarks 0 px, score 0" in rows["detect"]


@pytest.mark.slow
def test_extract_bench_loops_short_clips_and_alternates_rounds(tmp_path):
    from hyp_face.bench import extract

    video = shared_path("data", "celeb_video_smoke", "hieubkvn123_face_recognition", "videos", "obama.mp4")
    out = tmp_path / "r.json"
    assert extract.main(["--video", str(video), "--min-frames", "8", "--max-frames", "8", "--rounds", "2",
                         "--work-dir", str(tmp_path), "--out-json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["input"].endswith("obama_x2.mp4") and report["frames"] == 8  # 5 s at 1 fps, looped twice
    for name in ("whole pipeline", "peer: whole (sequential decode)", "ratio"):
        r = report["rounds"][name]
        assert len(r["rounds"]) == 2 and r["min"] <= r["median"] <= r["max"] and r["min"] > 0
