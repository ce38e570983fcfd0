"""run_002 with configs that mix checkpoint formats: ONNX detector + MXNet recognizer, .pth detector + .pth
recognizer, chosen by --config-file alone (real shared weights)."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from conftest import ROOT, shared_path
from hyp_face.io.embed_store import EmbedReader
from hyp_face.video.synth import write_video

CONFIGS = {  # zoo models with the shared copies of their files (or a builder with a file of its own)
    "onnx_mxnet": ("scrfd_500m_kps", ("weights", "scrfd_kps_onnx", "scrfd_500m_kps.onnx"), "--det-thr-start=0.5",
                   "mxnet", ("weights", "mxnet_mobilefacenet_128d", "model_mobilefacenet-0200.params"), 128),
    "pth_pth": ("retinaface_mnet025_pth", ("weights", "retinaface_mnet025_pytorch_retinaface", "mobilenet0.25_Final.pth"),
                "--det-resize-policy=v0.2", "mobilefacenet_mit",
                ("weights", "arcface_mobilefacenet_casia", "arcface_mobilefacenet.pth"), 128),
}


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    """A work dir linked to the recipe, with one data dir of two face videos made from a shared photo."""
    from PIL import Image

    work = tmp_path_factory.mktemp("recipe")
    for name in ("cmd.sh", "path.sh", "utils", "steps", "conf", "hyp_face", "run_002_extract_embed.sh"):
        (work / name).symlink_to(ROOT / name)
    photo = Image.open(shared_path("data", "celeb_video_smoke", "ageitgey_face_recognition", "examples", "obama.jpg"))
    frame = np.asarray(photo.convert("RGB").resize((320, 400)))[:384]
    data = work / "data" / "clips"
    data.mkdir(parents=True)
    for k in (1, 2):
        write_video(work / f"clip{k}.mp4", (np.roll(frame, 8 * i * k, axis=1) for i in range(20)), fps=10)
    (data / "vid.scp").write_text("".join(f"clip{k} {work / f'clip{k}.mp4'}\n" for k in (1, 2)))
    (data / "utt2spk").write_text("clip1 clip1\nclip2 clip2\n")
    return work


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_run_002_runs_any_format_through_config_file(recipe, name):
    det, det_w, det_opts, reco, reco_w, dim = CONFIGS[name]
    config = recipe / f"{name}.sh"
    config.write_text(
        f"face_detector={det}\nface_det_opts=\"--det-weights={shared_path(*det_w)} {det_opts}\"\n"
        f"face_recognizer={reco}\nface_reco_opts=\"--embed-weights={shared_path(*reco_w)}\"\n"
        f"face_embed_name={name}\nface_embed_dir=$(pwd)/exp/face_embed/$face_embed_name\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(["./run_002_extract_embed.sh", "--config-file", str(config), "--stage", "3",
                          "--janus-enroll-sets", "", "--sre19-enroll-sets", "", "--test-sets", "clips"],
                         cwd=recipe, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    with EmbedReader(recipe / "exp" / "face_embed" / name / "facedet" / "clips" / "embed.scp") as r:
        a, b = r.read("clip1"), r.read("clip2")
    assert a.shape == (2, dim) and b.shape == (2, dim)  # 2 s at 1 fps, one face each
    assert (a @ b.T).min() > 0.5  # the same face, embedded consistently
