"""Real MXNet checkpoints run end to end by the interpreter: MTCNN det1-det4, gender-age, MobileFaceNet."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import shared_path
from PIL import Image

from hyp_face.formats.mxnet_symbol import build_mxnet_model, checkpoint_paths

torch.set_num_threads(1)
LFW = ("data", "lfw_view2_deepfunneled150", "warm-ice0x00_face-recognition-training", "lfw")


def fixture_model(name: str, epoch: int, **kw):
    prefix = shared_path("weights", "mxnet_insightface_fixtures") / name
    return build_mxnet_model(*checkpoint_paths(prefix, epoch), **kw)


def lfw_image(name: str) -> np.ndarray:
    with Image.open(shared_path(*LFW, name)) as im:
        return np.asarray(im.convert("RGB"))


def mtcnn_input(rgb: np.ndarray, size: int | None = None) -> torch.Tensor:
    """MTCNN input: BGR, (pixel - 127.5) / 128, NCHW; optionally resized to size x size."""
    if size is not None:
        rgb = np.asarray(Image.fromarray(rgb).resize((size, size), Image.BILINEAR))
    x = torch.from_numpy(np.ascontiguousarray(rgb[:, :, ::-1])).permute(2, 0, 1)[None].float()
    return (x - 127.5) / 128


@pytest.fixture(scope="module")
def face_crop() -> np.ndarray:
    """The central face region of a deep-funneled LFW image (roughly the face box)."""
    return lfw_image("Aaron_Eckhart_0001.jpg")[25:125, 25:125]


def test_pnet_runs_fully_convolutionally():
    model = fixture_model("mtcnn-det1", 1)
    reg, prob = model(mtcnn_input(lfw_image("Aaron_Eckhart_0001.jpg")))
    assert reg.shape == (1, 4, 70, 70) and prob.shape == (1, 2, 70, 70)  # 150 -conv3-> 148 -pool(full)-> 74 -> 72 -> 70
    torch.testing.assert_close(prob.sum(1), torch.ones(1, 70, 70))
    assert prob[0, 1].max() > 0.9


@pytest.mark.parametrize("det,size", [("mtcnn-det2", 24), ("mtcnn-det3", 48)])
def test_rnet_onet_face_probability(face_crop, det, size):
    model = fixture_model(det, 1)
    outs = model(mtcnn_input(face_crop, size))
    prob = outs[-1]
    assert prob.shape == (1, 2)
    assert prob[0, 1] > 0.9
    noise = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    assert model(mtcnn_input(noise))[-1][0, 1] < 0.5
    if det == "mtcnn-det3":
        points = outs[0][0].reshape(2, 5).T  # (x1..x5, y1..y5) relative to the box
        assert points[0, 0] < points[1, 0] and points[3, 0] < points[4, 0]  # image-left points left of right ones
        assert points[:2, 1].max() < points[2, 1] < points[3:, 1].min()  # eyes above nose above mouth


def test_lnet_offsets_near_patch_centre(face_crop):
    model = fixture_model("mtcnn-det4", 1)
    x = torch.cat([mtcnn_input(face_crop[y : y + 24, x : x + 24]) for x, y in
                   ((20, 30), (55, 30), (38, 50), (25, 70), (55, 70))], dim=1)
    outs = model(x)
    assert len(outs) == 5 and all(o.shape == (1, 2) for o in outs)
    assert all(((o > -0.5) & (o < 1.5)).all() for o in outs)


def test_genderage_output(face_crop):
    model = fixture_model("genderage-model", 0)
    chip = np.array(Image.fromarray(face_crop).resize((112, 112), Image.BILINEAR))
    out = model(torch.from_numpy(chip).permute(2, 0, 1)[None].float())
    assert out.shape == (1, 202)
    age = int(out[0, 2:].reshape(100, 2).argmax(1).sum())
    assert 15 <= age <= 80


def test_fp16_matches_fp32_on_cuda(face_crop):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    x = mtcnn_input(face_crop, 48).cuda()
    ref = fixture_model("mtcnn-det3", 1, device="cuda")(x)
    half = fixture_model("mtcnn-det3", 1, device="cuda", half=True)(x)
    for a, b in zip(ref, half):
        torch.testing.assert_close(b.float(), a, rtol=2e-2, atol=2e-2)
