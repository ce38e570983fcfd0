"""The real audio-visual smoke test (hyp_face.eval.av_smoke) on the shared celebrity clips: voice enrollment from
the first 2.5 s of each clip, tests on the two other segments; every target above every non-target for voice, face
and fused scores. Far too small for an EER: it checks the pipeline on real speech and faces."""

from __future__ import annotations

from pathlib import Path

import pytest

from audio_media import ge2e_models_dir
from hyp_face.audio.config import SpeakerConfig
from hyp_face.eval.av_smoke import clip_segments, labelled_videos, run
from hyp_face.frontend import FrontEndConfig

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_every_target_above_every_nontarget(tmp_path, shared):
    pytest.importorskip("silero_vad")
    clips = shared("data/celeb_video_smoke")
    speaker = SpeakerConfig.from_file(ROOT / "global_conf/speaker/config_ge2e.sh", str(ge2e_models_dir(tmp_path)))
    face = FrontEndConfig.from_file(ROOT / "global_conf/config_embedded.sh", str(tmp_path / "face_models"))
    result = run(clips, speaker, face)
    summary = result["summary"]
    for kind in ("voice", "face", "fused"):
        assert summary[kind]["separated"], (kind, summary[kind])
        assert summary[kind]["targets"] >= 8 and summary[kind]["nontargets"] >= 24
    # Obama's clip has about 1 s of speech, all after 4 s: no enrollment speech, so his segments without speech
    # are left out of both modalities, named
    assert "Barack Obama/enroll" in result["left_out"]


def test_segments_of_a_clip(shared):
    clips = shared("data/celeb_video_smoke")
    videos = labelled_videos(clips)
    assert set(videos) == {"Lin-Manuel Miranda", "Barack Obama", "Joe Biden", "Alexandria Ocasio-Cortez",
                           "Katie Hill"}
    enroll, test1, test2 = clip_segments("Joe Biden", videos["Joe Biden"], 2.5)
    assert (enroll.start, enroll.end, test1.start, test2.end) == (0.0, 2.5, 2.5, pytest.approx(7.0, abs=0.05))
    assert test1.end == test2.start


def test_speaker_benchmark_runs(tmp_path, shared):
    pytest.importorskip("silero_vad")
    from hyp_face.bench.speaker import bench_speaker

    clip = shared("data/celeb_video_smoke/OpenTalker_SadTalker/examples/ref_video/WDA_KatieHill_000.mp4")
    speaker = SpeakerConfig.from_file(ROOT / "global_conf/speaker/config_ge2e.sh", str(ge2e_models_dir(tmp_path)))
    result = bench_speaker([str(clip)], speaker, repeat=1, rounds=1)
    assert result["utterances"] == 1 and 6.0 < result["speech_s"] <= result["files_s"] == 8.0
    rates = result["rates"]
    assert all(rates[name][kind] > 0 for name in ("ours_fp32", "ours_bf16", "ours_pipeline")
               for kind in ("wall", "cpu"))
    assert ("ours_int8" in rates) != ("ours_int8" in result["not_run"])  # int8 needs onnxruntime
    if "package" in rates:  # resemblyzer installed: same run, same utterances
        assert result["encoder_ratio"]["ours_fp32"]["cpu"] == pytest.approx(rates["ours_fp32"]["cpu"]
                                                                             / rates["package"]["cpu"])


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_reduced_precision_voice_is_close_to_fp32_and_keeps_the_separation(tmp_path, shared, precision):
    """``speaker_precision=bf16|int8`` (README "Audio-visual", speed): cosine >= 0.998 to the fp32 embedding of
    every segment, and every voice target still above every voice non-target."""
    pytest.importorskip("silero_vad")
    if precision == "int8":
        pytest.importorskip("onnxruntime")
    import dataclasses

    from hyp_face.eval.av_smoke import separation, voice_embeddings

    clips = shared("data/celeb_video_smoke")
    fp32 = SpeakerConfig.from_file(ROOT / "global_conf/speaker/config_ge2e.sh", str(ge2e_models_dir(tmp_path)))
    assert fp32.precision == "fp32"
    segments = [s for identity, path in labelled_videos(clips).items() for s in clip_segments(identity, path, 2.5)]
    exact = voice_embeddings(segments, fp32)
    fast = voice_embeddings(segments, dataclasses.replace(fp32, precision=precision))
    assert fast.keys() == exact.keys() and len(fast) >= 12
    assert min(float(fast[k] @ exact[k]) for k in fast) >= 0.998
    enrolls = [s for s in segments if s.name == "enroll" and s.key in fast]
    tests = [s for s in segments if s.name != "enroll" and s.key in fast]
    trials = [{"target": e.clip == t.clip, "voice": float(fast[e.key] @ fast[t.key])} for e in enrolls for t in tests]
    assert separation(trials, "voice")["separated"]
