"""The ``mtcnn`` detector: its pieces against plain references, and on real photos against facenet-pytorch 2.6.0's
``MTCNN.detect`` (boxes and landmarks within 1 px; the wheel is fetched by the zoo, PyPI must be reachable)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from facenet_ref import facenet_models, facenet_pytorch  # noqa: F401 (fixtures)
from hyp_face.align.crop import area_crops, integral_images
from hyp_face.detect.mtcnn import (
    ONet,
    MTCNNDetector,
    PNet,
    RNet,
    _canvas,
    build_mtcnn,
    crop_windows,
    mtcnn_weight_paths,
    pyramid_scales,
)
from hyp_face.detect.nms import batched_nms, nms
from hyp_face.detect.registry import build_detector
from hyp_face.zoo import DEFAULT_MANIFEST, ZooError, ZooFile, fetch, fetch_models, read_manifest, sha256_of

LFW = ("lfw_view2_deepfunneled150", "warm-ice0x00_face-recognition-training", "lfw")
PHOTOS = [("celeb_video_smoke", "ageitgey_face_recognition", "examples", "two_people.jpg"),
          ("celeb_video_smoke", "ageitgey_face_recognition", "examples", "knn_examples", "test", "kit_with_rose.jpg"),
          (*LFW, "Aaron_Eckhart_0001.jpg"), (*LFW, "Jennifer_Garner_0009.jpg"), (*LFW, "Toby_Keith_0001.jpg")]


def random_nets(seed: int = 0) -> tuple[PNet, RNet, ONet]:
    torch.manual_seed(seed)
    nets = (PNet(), RNet(), ONet())
    for net in nets:
        for p in net.parameters():
            p.data.normal_(0, 0.3)
    for head in (nets[0].conv4_1, nets[1].dense5_1, nets[2].dense6_1):  # P(face) 0.88 plus a little noise
        head.weight.data *= 1e-5
        head.bias.data = torch.tensor([-1.0, 1.0])
    for head in (nets[0].conv4_2, nets[1].dense5_2, nets[2].dense6_2):  # small box offsets
        head.weight.data *= 1e-3
    return nets


def test_pyramid_scales_follow_facenet_pytorch():
    scales = pyramid_scales(150, 200, 20, 0.709)
    assert scales[0] == pytest.approx(0.6) and all(b / a == pytest.approx(0.709) for a, b in zip(scales, scales[1:]))
    assert 150 * scales[-1] >= 12 > 150 * scales[-1] * 0.709
    assert pyramid_scales(11, 500, 12, 0.709) == []


def test_area_crops_equal_interpolate_area():
    gen = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (2, 3, 37, 53), generator=gen).float()
    windows = torch.tensor([[0, 0, 53, 37], [5, 7, 9, 30], [10, 2, 50, 12], [40, 30, 41, 31]])
    index = torch.tensor([0, 1, 1, 0])
    for size in (5, 24, 48):  # down- and up-sampling
        got = area_crops(integral_images(images), index, windows, size)
        for k, (x0, y0, x1, y1) in enumerate(windows.tolist()):
            want = F.interpolate(images[index[k], None, :, y0:y1, x0:x1], size=(size, size), mode="area")[0]
            torch.testing.assert_close(got[k], want, rtol=0, atol=1e-4)


def test_crop_windows_truncate_and_clip_like_pad():
    boxes = torch.tensor([[-3.7, 2.9, 10.2, 12.99], [5.5, -0.5, 120.0, 40.0]])
    assert crop_windows(boxes, 100, 30).tolist() == [[0, 1, 10, 12], [4, 0, 100, 30]]


def plain_nms(boxes: np.ndarray, scores: np.ndarray, thr: float, mode: str) -> list[int]:
    order, keep = list(np.argsort(-scores, kind="stable")), []
    while order:
        i = order.pop(0)
        keep.append(i)
        rest = []
        for j in order:
            w = max(0.0, min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]))
            h = max(0.0, min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]))
            areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in (boxes[i], boxes[j])]
            over = w * h / (min(areas) if mode == "min" else sum(areas) - w * h)
            if over <= thr:
                rest.append(j)
        order = rest
    return keep


@pytest.mark.parametrize("mode", ["iou", "min"])
def test_nms_modes_and_groups_match_a_plain_loop(mode):
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 50, (200, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 30, (200, 2))], axis=1)
    scores = rng.uniform(size=200)
    groups = rng.integers(0, 3, 200)
    got = nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.4, mode).tolist()
    assert got == plain_nms(boxes, scores, 0.4, mode)
    got = batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(groups), 0.4, mode)
    want = [i for g in range(3) for i in np.flatnonzero(groups == g)[plain_nms(boxes[groups == g],
                                                                                scores[groups == g], 0.4, mode)]]
    assert sorted(got.tolist()) == sorted(want) and (np.diff(scores[got.numpy()]) <= 0).all()
    with pytest.raises(ValueError, match="overlap mode"):
        nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.4, "union")


def test_pnet_on_packed_scales_equals_pnet_per_scale():
    """The trunk on the packed canvas gives, on each scale's own cells, what P-Net gives on that scale alone."""
    pnet = random_nets()[0].eval()
    images = torch.randn(2, 3, 61, 47)
    sizes = ((61, 47), (43, 34), (31, 24), (13, 12))  # odd and even: ceil-mode pooling ends differ
    with torch.inference_mode():
        canvas, places = _canvas([pnet.head(F.interpolate(images, size=s, mode="area")) for s in sizes])
        reg, prob = pnet.trunk(canvas)
        assert len({top for top, _ in places}) < len(places)  # some maps share a shelf
        for (top, left), size in zip(places, sizes):
            want_reg, want_prob = pnet(F.interpolate(images, size=size, mode="area"))
            rows, cols = want_prob.shape[2:]
            assert rows > 0 and cols > 0
            torch.testing.assert_close(prob[:, :, top : top + rows, left : left + cols], want_prob, rtol=0, atol=1e-6)
            torch.testing.assert_close(reg[:, :, top : top + rows, left : left + cols], want_reg, rtol=0, atol=1e-6)


def test_random_weight_detector_runs_batched_and_checks_input():
    det = MTCNNDetector(random_nets())
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (45, 60, 3), dtype=np.uint8) for _ in range(3)]
    images.append(rng.integers(0, 256, (30, 25, 3), dtype=np.uint8))
    together = det.detect(images, 0.7)
    alone = [det.detect([im], 0.7)[0] for im in images]
    assert sum(len(d) for d in together) > 0
    for a, b in zip(together, alone):
        np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-3)
        assert a.landmarks.shape == (len(a), 5, 2) and (np.diff(a.scores) <= 0).all() and (a.scores >= 0.7).all()
    with pytest.raises(ValueError, match="image 0: expected RGB uint8"):
        det.detect([images[0].astype(np.float32)], 0.5)


def test_build_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="needs its weights"):
        build_mtcnn(None)
    with pytest.raises(FileNotFoundError, match="rnet.pt"):
        mtcnn_weight_paths(tmp_path)
    with pytest.raises(ValueError, match="own image pyramid"):
        build_mtcnn(str(tmp_path), resize="v0.1")


def read_rgb(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_matches_facenet_pytorch_on_real_photos(shared, facenet_models, facenet_pytorch):
    ours = build_detector("mtcnn", str(facenet_models / "facenet_pytorch"))
    ref = facenet_pytorch.MTCNN(select_largest=False, keep_all=True)  # defaults: 20, 0.6/0.7/0.7, 0.709
    faces = 0
    for parts in PHOTOS:
        image = read_rgb(shared("data", *parts))
        boxes, probs, points = ref.detect(image, landmarks=True)
        det = ours.detect([image], 0.7)[0]
        assert boxes is not None and len(det) == len(boxes), parts[-1]
        boxes, probs, points = (np.asarray(a, dtype=np.float64) for a in (boxes, probs, points))
        order = np.argsort(-probs, kind="stable")
        np.testing.assert_allclose(det.boxes, boxes[order], atol=1.0, err_msg=parts[-1])
        np.testing.assert_allclose(det.landmarks, points[order], atol=1.0, err_msg=parts[-1])
        np.testing.assert_allclose(det.scores, probs[order], atol=1e-4, err_msg=parts[-1])
        faces += len(det)
    assert faces >= len(PHOTOS) + 2  # two two-person photos


def test_frames_in_one_batch_equal_frames_alone(shared, facenet_models):
    det = build_mtcnn(str(facenet_models / "facenet_pytorch" / "onet.pt"), batch_size=4)
    images = [read_rgb(shared("data", *LFW, name)) for name in ("Aaron_Eckhart_0001.jpg", "Toby_Keith_0001.jpg")]
    images.append(images[0][:, ::-1].copy())
    together = det.detect(images, 0.7)
    for image, dets in zip(images, together):
        alone = det.detect([image], 0.7)[0]
        assert len(alone) == len(dets) >= 1
        np.testing.assert_allclose(dets.boxes, alone.boxes, atol=1e-3)
        np.testing.assert_allclose(dets.landmarks, alone.landmarks, atol=1e-3)


def test_zoo_takes_the_nets_out_of_the_wheel_and_reuses_it(facenet_models, tmp_path, monkeypatch):
    rows = [e for e in read_manifest(DEFAULT_MANIFEST) if e.model == "mtcnn_facenet"]
    assert [e.source for e in rows] == ["pypi-wheel:facenet-pytorch==2.6.0"] * 3
    for entry in rows:
        assert sha256_of(facenet_models / entry.dest) == entry.sha256
    (tmp_path / ".downloads").mkdir()
    for wheel in (facenet_models / ".downloads").glob("*.whl"):
        (tmp_path / ".downloads" / wheel.name).symlink_to(wheel)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # a downloaded wheel needs no index
    monkeypatch.setenv("PIP_RETRIES", "0")
    fetch_models(DEFAULT_MANIFEST, ["mtcnn_facenet"], tmp_path)
    assert sorted(p.name for p in (tmp_path / "facenet_pytorch").iterdir()) == ["onet.pt", "pnet.pt", "rnet.pt"]
    bad = ZooFile("x", "x/pnet.pt", "-", "pypi-wheel:facenet-pytorch", "facenet_pytorch/data/pnet.pt")
    with pytest.raises(ZooError, match="expected pypi-wheel:<distribution>==<version>"):
        fetch(bad, tmp_path)
    missing = ZooFile("x", "x/pnet.pt", "-", "pypi-wheel:facenet-pytorch==0.0.1", "facenet_pytorch/data/pnet.pt")
    with pytest.raises(ZooError, match="pip download facenet-pytorch==0.0.1 failed"):
        fetch(missing, tmp_path)
