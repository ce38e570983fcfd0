"""Extraction end to end: the stage script on a generated corpus with a battery of broken videos, resume on rerun,
and the real celebrity videos of ../shared (each labelled video's target scores above all its non-targets)."""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, shared_path
from hyp_face.corpus import demo
from hyp_face.io.embed_store import EmbedReader
from synth_media import truncate_copy, write_audio_only

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HYP_FACE_THREADS": "1"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Two rendered videos with faces plus truncated, zero-byte, audio-only and garbage files."""
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    hopper, cameraman = demo.Actor.load("hopper"), demo.Actor.load("cameraman")
    good = {
        "both": demo.render(root / "both.mp4", [demo.random_track(hopper, rng, "left"),
                                                 demo.random_track(cameraman, rng, "right")], rng),
        "hopper": demo.render(root / "hopper.mp4", [demo.random_track(hopper, rng, "centre")], rng),
    }
    truncate_copy(root / "both.mp4", root / "truncated.mp4", keep=0.3)
    (root / "zero.mp4").write_bytes(b"")
    write_audio_only(root / "audio.m4a")
    (root / "garbage.mp4").write_bytes(np.random.default_rng(1).bytes(5000))
    data = root / "data"
    data.mkdir()
    names = ["audio", "both", "garbage", "hopper", "truncated", "zero"]
    ext = {"audio": "m4a"}
    (data / "vid.scp").write_text("".join(f"{n} {root / (n + '.' + ext.get(n, 'mp4'))}\n" for n in names))
    (data / "utt2spk").write_text("".join(f"{n} {n}\n" for n in names))
    return root, good


def _extract(data: Path, out: Path, conf_dir: Path, *opts: str) -> subprocess.CompletedProcess:
    conf_dir.mkdir(exist_ok=True)
    (conf_dir / "fe.sh").write_text('face_detector=retinaface_mnet025_embedded\nface_det_opts="--det-resize-policy=v0.2"\n'
                                    "face_recognizer=dlib_resnet128\n")
    cmd = [str(ROOT / "steps" / "extract_face_embed.sh"), "--nj", "2", "--fps", "1", "--max-unreadable", "4",
           "--config-file", str(conf_dir / "fe.sh"), *opts, str(data), str(out)]
    return subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)


def test_stage_survives_bad_videos_and_resumes(corpus, tmp_path):
    root, good = corpus
    out = tmp_path / "facedet"
    run = _extract(root / "data", out, tmp_path / "conf")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "6 videos, " in run.stdout and "unreadable zero: " in run.stdout  # the stage's summary
    with EmbedReader(out / "embed.scp") as r:
        assert sorted(r.keys()) == ["audio", "both", "garbage", "hopper", "truncated", "zero"]
        for key in ("zero", "garbage", "audio"):
            assert r.read(key).shape == (0, 128)
            assert r.status(key).startswith("video error") and key in r.status(key)
        assert len(r.read("hopper")) == 4  # 4 s at 1 fps, one face per frame
        assert len(r.read("both")) == 8  # two faces per frame
        meta = r.read_meta("hopper")
        np.testing.assert_allclose(meta.time, [0, 1, 2, 3], atol=0.06)
        # The stored boxes are where the renderer put the face (within a few pixels).
        truth = np.array([good["hopper"][int(round(t * 10))][0] for t in meta.time])
        assert np.abs(meta.box - truth).max() < 0.25 * (truth[:, 2] - truth[:, 0]).min()
        assert r.status("truncated") in ("ok", "no face found") or r.status("truncated").startswith("video error")
    logs = "".join(p.read_text() for p in (out / "log").glob("*.log"))
    assert "zero.mp4" in logs and "garbage.mp4" in logs
    assert "front end: detector retinaface_mnet025_embedded" in logs  # every job logs the resolved front end
    before = (out / "embed.1.h5").stat().st_mtime_ns
    rerun = _extract(root / "data", out, tmp_path / "conf")
    assert rerun.returncode == 0
    assert (out / "embed.1.h5").stat().st_mtime_ns == before  # finished jobs are skipped
    assert "2 of 2 job(s) unchanged (manifest matches), skipping them" in rerun.stdout
    assert "job 1/2: inputs, options and code unchanged, skipping" in (
        out / "log" / "face_embed_facedet.1.log").read_text()
    strict = _extract(root / "data", out, tmp_path / "conf", "--max-unreadable", "0")
    assert strict.returncode != 0 and "videos unreadable, more than --max-unreadable 0" in strict.stderr


def _celeb_trials(base: Path):
    """Enrollment photos per person (unique files) and the labelled videos whose person is enrolled."""
    rows = list(csv.DictReader(open(base / "labels.csv")))
    photos: dict[str, dict[str, Path]] = {}
    for r in rows:
        if r["media"] == "photo" and r["identity"]:
            photos.setdefault(r["identity"], {})[r["sha1"]] = base / r["path"]
    videos = {base / r["path"]: r["identity"] for r in rows if r["media"] == "video" and r["identity"] in photos}
    return {p: sorted(v.values()) for p, v in photos.items()}, videos


@pytest.mark.slow
def test_celebrity_videos_score_their_target_highest():
    from hyp_face.detect import build_detector
    from hyp_face.embed import build_embedder
    from hyp_face.extract import ExtractOptions, FaceExtractor

    base = shared_path("data", "celeb_video_smoke")
    photos, videos = _celeb_trials(base)
    assert len(videos) == 3  # Miranda, Obama, Biden
    extractor = FaceExtractor(build_detector("retinaface_mnet025_embedded", resize="v0.2"),
                              build_embedder("dlib_resnet128"), ExtractOptions(fps=1.0))
    enrolled = {}
    for person, files in photos.items():
        embeds = [extractor.process(str(f)).embeds for f in files]
        enrolled[person] = np.concatenate(embeds)
        assert len(enrolled[person]) >= 1, person
    for video, person in videos.items():
        faces = extractor.process(str(video)).embeds
        assert len(faces) >= 3, video
        scores = {p: float((e @ faces.T).max()) for p, e in enrolled.items()}  # v1: max cosine
        others = {p: s for p, s in scores.items() if p != person and not (person == "Lin-Manuel Miranda" and p == "Alex Lacamoire")}
        assert scores[person] > max(others.values()), (video.name, scores)


def test_mtcnn_alignment_mode_refines_landmarks(corpus):
    """--align-mode mtcnn: the MXNet MTCNN refines the detector's landmarks, which stay close to them."""
    from hyp_face.bin.extract_face_embed import build_job_extractor, job_frontend, parse_args

    def extractor(argv):
        args = parse_args(argv)
        return build_job_extractor(args, job_frontend(args))

    mtcnn_dir = shared_path("weights", "mxnet_insightface_fixtures")
    root, _ = corpus
    common = ["--vid-scp", "-", "--output-prefix", "-", "--embedder", "dlib_resnet128"]
    plain = extractor(common).process(str(root / "hopper.mp4"))
    refined = extractor(common + ["--align-mode", "mtcnn", "--mtcnn-dir", str(mtcnn_dir)]).process(str(root / "hopper.mp4"))
    assert len(plain.embeds) == len(refined.embeds) == 4
    iod = np.linalg.norm(plain.meta.landmarks[:, 1] - plain.meta.landmarks[:, 0], axis=1)
    err = np.linalg.norm(refined.meta.landmarks - plain.meta.landmarks, axis=2).mean(1) / iod
    assert 0 < err.max() < 0.15  # refined (not copied), yet the same face
    assert (plain.embeds * refined.embeds).sum(1).min() > 0.9  # same person either way
