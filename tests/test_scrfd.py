"""SCRFD from the real insightface ONNX exports: decoding, batching, recall on LFW, landmarks vs RetinaFace."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import shared_path
from hyp_face.detect.scrfd import SCRFDDetector, build_scrfd

torch.set_num_threads(1)

LFW = ("data", "lfw_view2_deepfunneled150", "warm-ice0x00_face-recognition-training", "lfw")
SCRFD = ("weights", "scrfd_kps_onnx")
RECALL_SAMPLE = 300
LANDMARK_SAMPLE = 20


def lfw_sample(count: int) -> list[np.ndarray]:
    """A deterministic, evenly spaced sample of the shared LFW images (150x150 RGB, one main face each)."""
    files = sorted(shared_path(*LFW).glob("*.jpg"))
    return [np.asarray(Image.open(f).convert("RGB")) for f in files[:: len(files) // count][:count]]


def central_face_recalled(dets, height: int, width: int) -> bool:
    """A detection's box contains the image centre, or overlaps the central box (middle 60%) with IoU > 0.3."""
    boxes = dets.boxes
    if len(boxes) == 0:
        return False
    contains = ((boxes[:, 0] <= width / 2) & (boxes[:, 2] >= width / 2)
                & (boxes[:, 1] <= height / 2) & (boxes[:, 3] >= height / 2))
    centre = np.array([0.2 * width, 0.2 * height, 0.8 * width, 0.8 * height])
    inter = (np.clip(np.minimum(boxes[:, 2], centre[2]) - np.maximum(boxes[:, 0], centre[0]), 0, None)
             * np.clip(np.minimum(boxes[:, 3], centre[3]) - np.maximum(boxes[:, 1], centre[1]), 0, None))
    union = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) + 0.36 * width * height - inter
    return bool((contains | (inter / union > 0.3)).any())


def recall(detector, images) -> float:
    results = detector.detect(images)  # default threshold
    return float(np.mean([central_face_recalled(d, *im.shape[:2]) for d, im in zip(results, images)]))


def landmark_error_vs_retinaface(detector, images) -> float:
    """Mean landmark distance to RetinaFace mnet0.25's (top face of each image), in RetinaFace inter-ocular units."""
    from hyp_face.detect import build_detector

    ref = build_detector("retinaface_mnet025_embedded").detect(images, 0.5)
    ours = detector.detect(images)
    errors = []
    for a, b in zip(ours, ref):
        assert len(a) and len(b)
        iod = np.linalg.norm(b.landmarks[0, 0] - b.landmarks[0, 1])
        errors.append(np.linalg.norm(a.landmarks[0] - b.landmarks[0], axis=1).mean() / iod)
    return float(np.mean(errors))


@pytest.fixture(scope="module", params=["scrfd_2.5g_kps.onnx", "scrfd_500m_kps.onnx"])
def scrfd(request):
    return build_scrfd(str(shared_path(*SCRFD, request.param)), batch_size=32)


def test_decoding_distances_and_anchor_centres():
    """One stride-8 anchor pair per cell: boxes and keypoints are distances x stride from the cell corner point."""
    det = object.__new__(SCRFDDetector)
    det.weights = "synthetic"
    height, width = 32, 64  # stride 8: 4x8 cells, 16: 2x4, 32: 1x2; 2 anchors per cell
    counts = [2 * (height // s) * (width // s) for s in (8, 16, 32)]
    scores = [torch.zeros(1, n, 1) for n in counts]
    dists = [torch.zeros(1, n, 4) for n in counts]
    kps = [torch.zeros(1, n, 10) for n in counts]
    cell = 1 * 8 + 3  # stride 8, row 1, column 3 -> centre (24, 8); second anchor of that cell
    scores[0][0, 2 * cell + 1, 0] = 0.9
    dists[0][0, 2 * cell + 1] = torch.tensor([1.0, 0.5, 2.0, 1.5])
    kps[0][0, 2 * cell + 1] = torch.arange(10, dtype=torch.float32) / 10
    s, b, p = det.decode((*scores, *dists, *kps), height, width)
    assert s.shape == (1, sum(counts)) and b.shape == (1, sum(counts), 4) and p.shape == (1, sum(counts), 5, 2)
    best = int(s[0].argmax())
    assert best == 2 * cell + 1
    torch.testing.assert_close(b[0, best], torch.tensor([24 - 8.0, 8 - 4.0, 24 + 16.0, 8 + 12.0]))
    expected = torch.tensor([24.0, 8.0]) + 8 * (torch.arange(10, dtype=torch.float32) / 10).reshape(5, 2)
    torch.testing.assert_close(p[0, best], expected)
    # stride 32 level: anchors 2 and 3 belong to its second cell, centred at (32, 0)
    last = sum(counts[:2]) + 2
    torch.testing.assert_close(b[0, last], torch.tensor([32.0, 0.0, 32.0, 0.0]))
    dists[2][0, 2] = torch.tensor([1.0, 1.0, 1.0, 1.0])
    _, b, _ = det.decode((*scores, *dists, *kps), height, width)
    torch.testing.assert_close(b[0, last], torch.tensor([0.0, -32.0, 64.0, 32.0]))


def test_recall_on_lfw_sample(scrfd):
    assert recall(scrfd, lfw_sample(RECALL_SAMPLE)) >= 0.99


def test_landmarks_close_to_retinaface(scrfd):
    assert landmark_error_vs_retinaface(scrfd, lfw_sample(LANDMARK_SAMPLE)) < 0.05


def test_detections_format_and_order(scrfd):
    image = lfw_sample(1)[0]
    dets = scrfd.detect([image])[0]
    assert dets.boxes.dtype == np.float32 and dets.boxes.shape == (len(dets), 4)
    assert dets.landmarks.shape == (len(dets), 5, 2) and np.all(np.diff(dets.scores) <= 0)
    assert np.all(dets.scores >= scrfd.default_threshold)
    eyes, mouth = dets.landmarks[0, :2], dets.landmarks[0, 3:]
    assert eyes[0, 0] < eyes[1, 0] and mouth[0, 0] < mouth[1, 0]  # image-left first
    assert eyes[:, 1].max() < dets.landmarks[0, 2, 1] < mouth[:, 1].min()  # eyes above nose above mouth


def test_batched_equals_single_and_rescaling(scrfd):
    images = lfw_sample(4)
    batched = scrfd.detect(images)
    for image, dets in zip(images, batched):
        single = scrfd.detect([image])[0]
        np.testing.assert_allclose(single.boxes, dets.boxes, atol=1e-3)
        np.testing.assert_allclose(single.landmarks, dets.landmarks, atol=1e-3)
    big = np.asarray(Image.fromarray(images[0]).resize((300, 300), Image.BILINEAR))
    down = build_scrfd(scrfd.weights, max_long_side=150).detect([big])[0]  # detector halves it back
    assert len(down) >= 1
    np.testing.assert_allclose(down.boxes[0] / 2, batched[0].boxes[0], atol=3.0)
    np.testing.assert_allclose(down.landmarks[0] / 2, batched[0].landmarks[0], atol=3.0)


def test_threshold_and_empty_image(scrfd):
    image = lfw_sample(1)[0]
    assert len(scrfd.detect([image], threshold=0.999)[0]) == 0
    assert len(scrfd.detect([np.zeros((64, 96, 3), np.uint8)])[0]) == 0
    assert scrfd.detect([]) == []


def test_needs_weights_and_a_scrfd_graph():
    with pytest.raises(ValueError, match="scrfd"):
        build_scrfd(None)
    with pytest.raises(ValueError, match="outputs"):
        build_scrfd(str(shared_path("weights", "yunet", "yunet_n_dynamic.onnx")))
