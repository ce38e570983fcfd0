"""The ``inception_resnet_v1`` embedder and the FaceNet config: parity with facenet-pytorch 2.6.0's
InceptionResnetV1 and ``extract_face`` (the reference is imported from the zoo-fetched wheel), the margin crop, the
front end of ``global_conf/config_facenet.sh`` and an extraction of a real clip with it.

The VGGFace2 weights are not downloadable here (GitHub release); tests needing a checkpoint use a random state dict
in facenet-pytorch's layout, or the real file when ``$HYP_FACE_TEST_MODELS_DIR`` holds it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from facenet_ref import facenet_models, facenet_pytorch  # noqa: F401 (fixtures)
from hyp_face.align.crop import margin_crops, margin_windows
from hyp_face.embed.inception_resnet_v1 import InceptionResnetV1, load_inception_resnet_v1
from hyp_face.embed.registry import build_embedder
from hyp_face.frontend import FrontEndConfig, build_extractor, main
from hyp_face.zoo import zoo_models

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "global_conf" / "config_facenet.sh"
VGGFACE2 = zoo_models()["inception_resnet_v1_vggface2"].weights


def random_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A random state dict in facenet-pytorch's layout (with a VGGFace2-like classifier), sane batch-norm stats."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in InceptionResnetV1().state_dict().items():
        if not value.dtype.is_floating_point:
            state[key] = value
        elif key.endswith("running_var"):
            state[key] = torch.rand(value.shape, generator=gen) + 0.5
        elif key.endswith(".weight") and value.ndim == 1:  # batch-norm scales
            state[key] = torch.rand(value.shape, generator=gen) + 0.5
        else:
            state[key] = torch.randn(value.shape, generator=gen) * (0.1 if value.ndim == 1 else 0.05)
    state["logits.weight"], state["logits.bias"] = torch.randn(8631, 512, generator=gen), torch.zeros(8631)
    return state


@pytest.fixture(scope="module")
def random_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("irv1") / "random-vggface2.pt"
    torch.save(random_state(), path)
    return path


def test_same_state_dict_same_output_as_facenet_pytorch(facenet_pytorch, random_checkpoint):
    ref = facenet_pytorch.InceptionResnetV1(pretrained=None).eval()
    state = torch.load(random_checkpoint, weights_only=True)
    ref.logits = torch.nn.Linear(512, 8631)
    ref.load_state_dict(state)
    ours = load_inception_resnet_v1(random_checkpoint)
    x = (torch.rand(3, 3, 160, 160, generator=torch.Generator().manual_seed(1)) * 255 - 127.5) / 128
    with torch.inference_mode():
        want = ref(x)  # L2-normalised 512-D
        got = torch.nn.functional.normalize(ours(x), dim=1)
    assert got.shape == (3, 512)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def test_embedder_interface_chips_and_standardisation(random_checkpoint):
    emb = build_embedder("inception_resnet_v1", str(random_checkpoint), margin=20)
    assert (emb.dim, emb.input_size, emb.alignment, emb.margin) == (512, 160, "margin160", 20.0)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)
    boxes = np.array([[10.5, 20.2, 60.7, 80.9], [-5, -5, 30, 40]])
    chips = emb.align(image, boxes, np.zeros((2, 5, 2)))
    assert chips.shape == (2, 160, 160, 3) and chips.dtype == np.uint8
    out = emb.embed(chips)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5)
    x = torch.from_numpy(chips).permute(0, 3, 1, 2).float()
    with torch.inference_mode():
        want = torch.nn.functional.normalize(emb.model.backbone((x - 127.5) / 128), dim=1).numpy()
    np.testing.assert_allclose(out, want, atol=1e-5)
    with pytest.raises(ValueError, match="160x160x3"):
        emb.embed(np.zeros((1, 112, 112, 3), np.uint8))


def test_margin_windows_follow_extract_face():
    boxes = np.array([[10.7, 20.2, 60.1, 80.9], [-5, -5, 30, 40], [95, 5, 130, 50]])
    windows = margin_windows(boxes, 100, 90, 160, 32)
    grow_x, grow_y = 32 * (60.1 - 10.7) / 128 / 2, 32 * (80.9 - 20.2) / 128 / 2
    assert windows[0].tolist() == [int(10.7 - grow_x), int(20.2 - grow_y), int(60.1 + grow_x), int(80.9 + grow_y)]
    assert windows[1, :2].tolist() == [0, 0]
    assert windows[2].tolist() == [int(95 - 35 * 32 / 128 / 2), 0, 100, int(50 + 45 * 32 / 128 / 2)]
    assert (windows[:, 2:] > windows[:, :2]).all()


def test_margin_crops_equal_extract_face_on_tensors(facenet_pytorch):
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, (140, 110, 3), dtype=np.uint8), rng.integers(0, 256, (90, 200, 3), dtype=np.uint8)]
    boxes = np.array([[10.3, 12.8, 70.2, 90.6], [50.0, 10.0, 60.0, 25.0], [100.5, 3.3, 190.1, 88.8]])
    index = np.array([0, 0, 1])
    chips = margin_crops(images, index, boxes, 160, margin=14)
    for chip, i, box in zip(chips, index, boxes):
        want = facenet_pytorch.extract_face(torch.from_numpy(images[i]), box, 160, 14)  # (3,160,160) uint8 standard
        want = want.permute(1, 2, 0).numpy().astype(np.int64)
        assert np.abs(chip.astype(np.int64) - want).max() <= 1 and (chip == want).mean() > 0.99


def test_bad_checkpoint_names_the_file(tmp_path):
    bad = tmp_path / "bad.pt"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="bad.pt: not a facenet-pytorch InceptionResnetV1"):
        load_inception_resnet_v1(bad)
    with pytest.raises(ValueError, match="needs a weights file"):
        build_embedder("inception_resnet_v1")


@pytest.fixture(scope="module")
def facenet_models_dir(facenet_models, random_checkpoint, tmp_path_factory) -> Path:
    """A models dir with the real MTCNN nets and the VGGFace2 weights: the real file when the test models dir has
    it, else the random checkpoint in its place (the pipeline runs; the embeddings mean nothing)."""
    models = tmp_path_factory.mktemp("facenet_models")
    shutil.copytree(facenet_models / "facenet_pytorch", models / "facenet_pytorch")
    real = Path(os.environ.get("HYP_FACE_TEST_MODELS_DIR", "/nonexistent")) / VGGFACE2
    shutil.copyfile(real if real.is_file() else random_checkpoint, models / VGGFACE2)
    return models


def test_frontend_prints_the_facenet_front_end(facenet_models_dir, capsys):
    assert main(["--config-file", str(CONFIG), "--models-dir", str(facenet_models_dir)]) == 0
    line = capsys.readouterr().out
    assert line.startswith("front end: detector mtcnn_facenet (mtcnn)")
    assert "thresholds 0.9 to 0.7 step 0.1" in line and "embedder inception_resnet_v1_vggface2" in line
    assert line.rstrip().endswith("dim 512")
    assert FrontEndConfig.from_file(CONFIG).zoo_names() == ["mtcnn_facenet", "inception_resnet_v1_vggface2"]


def test_extracts_a_real_clip_with_the_facenet_config(shared, facenet_models_dir):
    clip = shared("data", "celeb_video_smoke", "hieubkvn123_face_recognition", "videos", "obama.mp4")
    cfg = FrontEndConfig.from_file(CONFIG, models_dir=str(facenet_models_dir))
    extractor = build_extractor(cfg, fps=1.0, max_frames=3)
    faces = extractor.process(str(clip))
    assert faces.status == "ok" and faces.threshold == 0.9
    assert faces.embeds.shape[1] == 512 and len(faces.embeds) >= 3
    np.testing.assert_allclose(np.linalg.norm(faces.embeds, axis=1), 1, atol=1e-5)
    sides = faces.meta.box[:, 2:] - faces.meta.box[:, :2]
    assert (sides > 20).all() and faces.meta.landmarks.shape == (len(faces.embeds), 5, 2)



def test_every_embedder_alignment_is_described():
    """The front-end line names each recognizer's chip alignment (a margin crop uses no landmarks)."""
    from hyp_face.embed.base import ALIGNMENTS, Embedder
    from hyp_face.embed.dlib_resnet import DlibResNetEmbedder
    from hyp_face.embed.inception_resnet_v1 import MarginCropEmbedder

    margin = ALIGNMENTS[MarginCropEmbedder.alignment]
    assert "no warp" in margin and "landmarks unused" in margin
    assert {Embedder.alignment, DlibResNetEmbedder.alignment} <= set(ALIGNMENTS)
