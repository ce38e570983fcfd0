"""Recognizers: the Embedder base, the registry, dlib ResNet and the torch ArcFace backbones (real weights)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from hyp_face.embed import Embedder, build_embedder, list_embedders, register_embedder
from hyp_face.embed.iresnet import IResNet
from hyp_face.embed.mobilefacenet import MobileFaceNet
from conftest import shared_path

torch.set_num_threads(1)

MIT_MFN = ("weights", "arcface_mobilefacenet_casia", "arcface_mobilefacenet.pth")
LFW = ("data", "lfw_view2_deepfunneled150")


class ToyEmbedder(Embedder):
    """Raw embedding = per-column channel means of the left/right halves: not mirror-invariant, not unit length."""

    name, dim, input_size = "toy", 4, 8

    def __init__(self, **kw):
        super().__init__(**kw)
        self.calls = 0

    def _forward(self, chips):
        self.calls += 1
        x = chips.astype(np.float32)
        return np.stack([x[:, :, :4, 0].mean((1, 2)), x[:, :, 4:, 0].mean((1, 2)), x[..., 1].mean((1, 2)) + 1,
                         x[..., 2].mean((1, 2))], axis=1)


def random_chips(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_base_normalises_batches_and_flip_averages():
    chips = random_chips(10, 8)
    plain = ToyEmbedder(batch_size=3)
    out = plain.embed(chips)
    assert out.shape == (10, 4) and out.dtype == np.float32 and plain.calls == 4
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(out, ToyEmbedder(batch_size=64).embed(chips), atol=1e-6)
    flipped = ToyEmbedder(flip=True).embed(chips)
    raw = plain._forward(chips) + plain._forward(chips[:, :, ::-1])
    np.testing.assert_allclose(flipped, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-6)
    assert flipped[:, 0] == pytest.approx(flipped[:, 1])  # left/right halves swap under the mirror
    assert ToyEmbedder().embed(np.zeros((0, 8, 8, 3), np.uint8)).shape == (0, 4)
    with pytest.raises(ValueError, match="toy"):
        plain.embed(np.zeros((2, 9, 9, 3), np.uint8))


def test_registry():
    names = list_embedders()
    for name in ("dlib_resnet128", "mobilefacenet_mit", "iresnet18", "iresnet34", "iresnet50", "iresnet100"):
        assert name in names
    with pytest.raises(KeyError, match="unknown embedder"):
        build_embedder("no_such_net")
    with pytest.raises(ValueError, match="twice"):
        register_embedder("dlib_resnet128")(lambda **kw: None)
    with pytest.raises(ValueError, match="needs a weights file"):
        build_embedder("iresnet18")


def test_iresnet_arcface_torch_layout(tmp_path):
    model = IResNet(18).eval()
    state = model.state_dict()
    expected = {"conv1.weight": (64, 3, 3, 3), "prelu.weight": (64,), "layer1.0.bn1.weight": (64,),
                "layer1.0.downsample.0.weight": (64, 64, 1, 1), "layer2.1.conv2.weight": (128, 128, 3, 3),
                "layer4.1.bn3.running_var": (512,), "bn2.weight": (512,), "fc.weight": (512, 25088),
                "features.weight": (512,)}
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape
    assert sum(k.startswith("layer3.") and k.endswith("conv1.weight") for k in IResNet(100).state_dict()) == 30
    torch.manual_seed(0)
    for p in model.parameters():
        p.data.normal_(0, 0.05)
    path = tmp_path / "r18.pth"
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, path)  # DDP-style prefix is stripped
    emb = build_embedder("iresnet18", weights=str(path))
    chips = random_chips(3, 112)
    out = emb.embed(chips)
    assert out.shape == (3, 512)
    with torch.no_grad():
        ref = model(torch.from_numpy(chips).permute(0, 3, 1, 2).float() / 127.5 - 1).numpy()
    np.testing.assert_allclose(out, ref / np.linalg.norm(ref, axis=1, keepdims=True), atol=1e-5)
    with pytest.raises(ValueError, match="does not match"):
        build_embedder("iresnet34", weights=str(path))


def lfw_faces(n_people: int = 4):
    """Two LFW photos each of ``n_people`` different people (from same-person pairs), with their central face."""
    from retinaface import detect_faces
    from PIL import Image

    root = shared_path(*LFW)
    with open(root / "pairs_resolved.csv", newline="") as f:
        by_person = {r["img1"].rsplit("_", 1)[0]: r for r in csv.DictReader(f) if r["same"] == "1"}
    rows = list(by_person.values())[:n_people]
    images, boxes, landmarks = [], [], []
    for path in [root / r[k] for r in rows for k in ("img1", "img2")]:
        image = np.asarray(Image.open(path).convert("RGB"))
        faces = detect_faces(image)
        face = min(faces, key=lambda f: abs(f.x + f.width / 2 - 75) + abs(f.y + f.height / 2 - 75))
        images.append(image)
        boxes.append([face.x, face.y, face.x + face.width, face.y + face.height])
        landmarks.append([[p.x, p.y] for p in face.landmarks])
    return images, np.array(boxes, float), np.array(landmarks, float)


def assert_same_people_closest(embeds: np.ndarray):
    """Rows 2i and 2i+1 are one person: each row's best match among the others is its partner."""
    sims = embeds @ embeds.T
    np.fill_diagonal(sims, -np.inf)
    partner = np.arange(len(embeds)) ^ 1
    np.testing.assert_array_equal(np.argmax(sims, axis=1), partner)


def check_embedder(emb: Embedder, chips: np.ndarray):
    out = emb.embed(chips)
    assert out.shape == (len(chips), emb.dim) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5)
    one_by_one = np.concatenate([emb.embed(c[None]) for c in chips[:3]])
    np.testing.assert_allclose(out[:3], one_by_one, atol=1e-5)
    return out


def test_mobilefacenet_mit_real_weights():
    weights = shared_path(*MIT_MFN)
    images, boxes, landmarks = lfw_faces()
    emb = build_embedder("mobilefacenet_mit", weights=str(weights))
    assert (emb.dim, emb.input_size, emb.alignment) == (128, 112, "arcface112")
    chips = emb.align_many(images, np.arange(len(images)), boxes, landmarks)
    assert emb.align(images[0], np.zeros((0, 4)), np.zeros((0, 5, 2))).shape == (0, 112, 112, 3)
    out = check_embedder(emb, chips)
    assert_same_people_closest(out)
    flipped = build_embedder("mobilefacenet_mit", weights=str(weights), flip=True).embed(chips)
    cos = np.sum(out * flipped, axis=1)
    assert (cos > 0.8).all() and (cos < 0.99999).any()
    assert_same_people_closest(flipped)


def test_mobilefacenet_checkpoint_keys_match_exactly_and_fusion_is_exact():
    state = torch.load(shared_path(*MIT_MFN), map_location="cpu", weights_only=True)
    assert set(state) == {f"arcface.{k}" for k in MobileFaceNet(128).state_dict()}
    model = MobileFaceNet(128)
    model.load_state_dict({k[len("arcface."):]: v for k, v in state.items()})
    model.eval()
    x = torch.randn(2, 3, 112, 112)
    with torch.no_grad():
        ref = model(x)
        fused = model.fuse_batchnorm()(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    torch.testing.assert_close(fused, ref, atol=1e-4, rtol=1e-4)


def test_dlib_resnet128_real_weights():
    import dlib

    images, boxes, landmarks = lfw_faces()
    emb = build_embedder("dlib_resnet128")  # torch back-end
    assert (emb.dim, emb.input_size, emb.alignment) == (128, 150, "dlib150")
    chips = emb.align_many(images, np.arange(len(images)), boxes, landmarks)
    assert chips.shape == (len(images), 150, 150, 3)
    out = check_embedder(emb, chips)
    assert_same_people_closest(out)
    # the torch network equals dlib-bin's own network on the same chips
    native = build_embedder("dlib_resnet128", backend="dlib")
    np.testing.assert_allclose(native.embed(chips), out, atol=1e-5)
    # and our chips equal dlib's one-call pipeline on the full image (same alignment)
    shapes = emb.shapes(images[0], boxes[:1])
    assert isinstance(shapes[0], dlib.full_object_detection) and shapes[0].num_parts == 5
    direct = np.asarray(native.recognizer.compute_face_descriptor(images[0], shapes[0]), np.float32)
    np.testing.assert_allclose(out[0], direct / np.linalg.norm(direct), atol=1e-5)
    # several faces of one image in one align call
    two = emb.align(images[0], np.stack([boxes[0], boxes[0]]), np.stack([landmarks[0], landmarks[0]]))
    np.testing.assert_array_equal(two[0], chips[0])
    np.testing.assert_array_equal(two[1], chips[0])
    assert emb.align(images[0], np.zeros((0, 4)), np.zeros((0, 5, 2))).shape == (0, 150, 150, 3)
    with pytest.raises(ValueError, match="backend"):
        build_embedder("dlib_resnet128", backend="onnx")


def test_dlib_file_reader_structure():
    from hyp_face.formats.dlib_models import DLIB_RECOGNITION_MODEL, dlib_model_path, read_dlib_metric_net

    net = read_dlib_metric_net(dlib_model_path(DLIB_RECOGNITION_MODEL))
    np.testing.assert_allclose(net.input_mean, [122.782, 117.001, 104.298], atol=1e-3)
    assert net.input_size == 150 and len(net.convs) == 29 and net.fc.shape == (256, 128)
    assert net.convs[0].weight.shape == (32, 3, 7, 7) and (net.convs[0].stride, net.convs[0].padding) == (2, 0)
    assert [c.stride for c in net.convs].count(2) == 5


def test_dlib_file_reader_rejects_other_files(tmp_path):
    from hyp_face.formats.dlib_models import read_dlib_metric_net

    bad = tmp_path / "x.dat"
    bad.write_bytes(b"\x01\x05con_4\x01\x07" + b"\x00" * 20)
    with pytest.raises(ValueError, match="x.dat"):
        read_dlib_metric_net(bad)
