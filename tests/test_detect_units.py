"""RetinaFace building blocks: NMS, resize policies, batching, threshold back-off, BN folding, checkpoint loading."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import shared_path
from hyp_face.detect import ResizePolicy, build_detector
from hyp_face.detect.backoff import backoff_threshold, faces_at
from hyp_face.detect.nets import FusedConv2d, RetinaFace, fuse_for_inference
from hyp_face.detect.nms import nms
from hyp_face.detect.priors import PriorConfig, make_priors
from hyp_face.detect.resize import plan_batches
from hyp_face.extract import threshold_schedule
from hyp_face.formats.pth import CheckpointError, load_state_dict

torch.set_num_threads(1)

PHOTO = ("data", "dlib_faces_boxes", "davisking_dlib", "examples", "faces", "2008_002470.jpg")  # 6 faces
RETINAFACE_PTH = ("weights", "retinaface_mnet025_pytorch_retinaface", "mobilenet0.25_Final.pth")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.asarray(Image.open(shared_path(*PHOTO)).convert("RGB"))


@pytest.fixture(scope="module")
def detector():
    return build_detector("retinaface_mnet025_embedded", resize="none", batch_size=4)


# --- NMS -------------------------------------------------------------------------------------------------------


def greedy_nms_reference(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    """Textbook greedy NMS, one box at a time."""
    def iou(a, b):
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
        return w * h / union
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep: list[int] = []
    for i in order:
        if all(iou(boxes[i], boxes[k]) <= thr for k in keep):
            keep.append(i)
    return keep


@pytest.mark.parametrize("seed", range(6))
def test_nms_equals_greedy_loop(seed):
    rng = np.random.default_rng(seed)
    n = 400
    xy = rng.uniform(0, 200, (n, 2))
    wh = rng.uniform(5, 60, (n, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1)
    boxes[::10] = boxes[1::10]  # exact duplicates
    scores = rng.choice(np.linspace(0.1, 1.0, 50), n)  # ties
    thr = [0.3, 0.4, 0.5, 0.7, 0.2, 0.4][seed]
    keep = nms(torch.from_numpy(boxes), torch.from_numpy(scores), thr).tolist()
    assert keep == greedy_nms_reference(boxes, scores, thr)
    assert 0 < len(keep) < n


def test_nms_empty_and_single():
    assert nms(torch.zeros((0, 4)), torch.zeros(0)).numel() == 0
    assert nms(torch.tensor([[0.0, 0, 10, 10]]), torch.tensor([0.5])).tolist() == [0]


# --- priors ----------------------------------------------------------------------------------------------------


def test_priors_layout():
    priors = make_priors(PriorConfig(), 64, 96)
    assert priors.shape == ((8 * 12 + 4 * 6 + 2 * 3) * 2, 4)
    assert priors[:4].tolist() == [[4, 4, 16, 16], [4, 4, 32, 32], [12, 4, 16, 16], [12, 4, 32, 32]]
    assert priors[-1].tolist() == [80, 48, 512, 512]
    small = make_priors(PriorConfig.from_anchors("biubug6_1mb"), 64, 96)
    assert small[:2, 2].tolist() == [10, 20]
    clipped = make_priors(PriorConfig(clip=True), 64, 96)
    assert clipped[-1].tolist() == [80, 48, 96, 64]


# --- resize policy and batching --------------------------------------------------------------------------------


def test_resize_policies():
    v01, v02, none = (ResizePolicy.named(n) for n in ("v0.1", "v0.2", "none"))
    assert v01.resized_size(360, 640) == (1024, 1820)  # up-scaled 2.84x
    assert v01.resized_size(1080, 1920) == (1024, 1820)
    assert v01.resized_size(1000, 4000) == (495, 1980)  # long side capped
    assert v02.resized_size(720, 1280) == (450, 800)
    assert v02.resized_size(360, 640) == (360, 640)  # never up-scaled
    assert v02.resized_size(1280, 720) == (800, 450)
    assert none.resized_size(1234, 567) == (1234, 567)
    with pytest.raises(ValueError, match="v0.3"):
        ResizePolicy.named("v0.3")


def test_plan_batches_buckets_by_padded_size():
    sizes = [(352, 512), (224, 320), (352, 512), (352, 512), (224, 320), (736, 1280)]
    assert plan_batches(sizes, batch_size=2) == [[1, 4], [0, 2], [3], [5]]
    assert plan_batches(sizes, batch_size=8, max_pad_ratio=3.0) == [[1, 4, 0, 2, 3], [5]]


def test_resize_policy_maps_detections_back_to_the_frame(photo):
    big = np.repeat(np.repeat(photo, 2, axis=0), 2, axis=1)  # 664x1000 -> v0.2 resizes it to 531x800
    down = build_detector("retinaface_mnet025_embedded", resize="v0.2").detect([big], 0.9)[0]
    small = np.asarray(Image.fromarray(big).resize((800, 531), Image.BILINEAR))
    direct = build_detector("retinaface_mnet025_embedded", resize="none").detect([small], 0.9)[0]
    assert len(down) == len(direct) == 6
    ratio = np.array([1000 / 800, 664 / 531], np.float32)
    order = matched(down.boxes, direct.boxes * np.tile(ratio, 2))
    np.testing.assert_allclose(down.boxes, direct.boxes[order] * np.tile(ratio, 2), atol=1.0)
    np.testing.assert_allclose(down.landmarks, direct.landmarks[order] * ratio, atol=1.0)
    base = build_detector("retinaface_mnet025_embedded", resize="none").detect([photo], 0.9)[0]
    up = build_detector("retinaface_mnet025_embedded", resize="v0.1").detect([photo], 0.9)[0]  # 3.08x up
    assert len(up) == len(base) == 6
    assert np.abs(up.boxes - base.boxes[matched(up.boxes, base.boxes)]).max() < 8.0


def matched(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each box of ``a`` the index of the nearest box (by centre) of ``b``."""
    ca, cb = (a[:, :2] + a[:, 2:]) / 2, (b[:, :2] + b[:, 2:]) / 2
    return np.linalg.norm(ca[:, None] - cb[None], axis=2).argmin(axis=1)


def frames_of_several_sizes(photo: np.ndarray) -> list[np.ndarray]:
    return [photo, photo[:320, :480], photo[8:, 10:], photo[:200, :300], np.zeros((100, 90, 3), np.uint8)]


def test_batched_equals_one_by_one(detector, photo):
    frames = frames_of_several_sizes(photo)
    batched = detector.detect(frames, 0.5)
    assert [len(d) for d in batched][:1] == [6] and len(batched[-1]) == 0
    for frame, dets in zip(frames, batched):
        alone = detector.detect([frame], 0.5)[0]
        assert len(alone) == len(dets)
        np.testing.assert_allclose(dets.boxes, alone.boxes, atol=1e-3)
        np.testing.assert_allclose(dets.scores, alone.scores, atol=1e-5)
        np.testing.assert_allclose(dets.landmarks, alone.landmarks, atol=1e-3)


def test_cpu_network_chunks_and_reused_input_buffer_change_nothing(photo):
    """A batch split into one-frame network calls, and a reused input buffer, give the one-call results."""
    whole = build_detector("retinaface_mnet025_embedded", resize="none", batch_size=3, cpu_batch_pixels=10**9)
    chunked = build_detector("retinaface_mnet025_embedded", resize="none", batch_size=3, cpu_batch_pixels=1)
    frames = [photo, np.ascontiguousarray(photo[:, ::-1]), photo]
    cropped = [np.ascontiguousarray(f[:-7, :-5]) for f in frames]  # same padded size: the buffer is reused
    fresh = build_detector("retinaface_mnet025_embedded", resize="none", batch_size=3).detect(cropped, 0.5)
    for a, b in zip(whole.detect(frames, 0.5), chunked.detect(frames, 0.5)):
        assert len(a) == len(b) > 0
        np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-3)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
    for a, b in zip(chunked.detect(cropped, 0.5), fresh):
        assert len(a) == len(b) > 0
        np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-3)


def test_mixed_size_batches_keep_the_faces(photo):
    """With a large max_pad_ratio frames of different sizes share one padded batch; strong faces are unchanged."""
    frames = frames_of_several_sizes(photo)
    mixed = build_detector("retinaface_mnet025_embedded", resize="none", max_pad_ratio=10.0, batch_size=8)
    exact = build_detector("retinaface_mnet025_embedded", resize="none", batch_size=1)
    for a, b in zip(mixed.detect(frames, 0.9), exact.detect(frames, 0.9)):
        assert len(a) == len(b)
        np.testing.assert_allclose(a.boxes, b.boxes, atol=2.0)
        for box in a.boxes:  # nothing may come from the padding
            assert box[2] <= photo.shape[1] and box[3] <= photo.shape[0]


def test_bad_image_is_rejected(detector):
    with pytest.raises(ValueError, match="image 1"):
        detector.detect([np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10), np.uint8)], 0.5)


# --- threshold back-off ----------------------------------------------------------------------------------------


SCHEDULE = threshold_schedule(0.9)  # 0.9, 0.8, ..., 0.1


def test_backoff_picks_the_first_threshold_with_enough_faces():
    frames = [np.array([0.75, 0.35]), np.array([0.25]), np.zeros(0)]
    for min_faces, thr in [(1, 0.7), (2, 0.3), (3, 0.2), (4, None)]:
        assert backoff_threshold(frames, SCHEDULE, min_faces) == thr
    assert faces_at(frames, 0.2) == 3 and faces_at(frames, 0.75) == 1  # ">=": a score equal to the threshold counts


def test_backoff_counting_frames_for_one_face_per_frame():
    frames = [np.array([0.95, 0.93]), np.array([0.85]), np.zeros(0)]
    assert backoff_threshold(frames, SCHEDULE, 2) == 0.9
    assert backoff_threshold(frames, SCHEDULE, 2, one_per_frame=True) == 0.8
    assert backoff_threshold(frames, SCHEDULE, 3, one_per_frame=True) is None
    assert backoff_threshold(frames, [0.5, 0.99], 2, one_per_frame=True) == 0.5  # the schedule's order, not sorted


def test_one_pass_backoff_equals_detecting_at_each_threshold(detector, photo):
    frames = [photo, photo[::2, ::2], np.full((120, 160, 3), 128, np.uint8)]
    lowest = detector.detect(frames, min(SCHEDULE))
    counts = {}  # faces found by detecting at each threshold
    for thr in SCHEDULE:
        direct = detector.detect(frames, thr)
        for low, d in zip(lowest, direct):
            filtered = low.above(thr)
            assert len(filtered) == len(d)
            np.testing.assert_array_equal(filtered.boxes, d.boxes)
            np.testing.assert_array_equal(filtered.scores, d.scores)
        counts[thr] = sum(len(d) for d in direct)
    min_faces = counts[0.9] + 1
    chosen = backoff_threshold([d.scores for d in lowest], SCHEDULE, min_faces)
    assert chosen == max(t for t, c in counts.items() if c >= min_faces) < 0.9


# --- networks and checkpoints ----------------------------------------------------------------------------------


def randomise_batchnorm(net: torch.nn.Module, seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            for t in (m.weight.data, m.bias.data, m.running_mean):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.1 + (1.0 if t is m.weight.data else 0.0))
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)


@pytest.mark.parametrize("backbone", ["mnet025", "r50"])
def test_fuse_for_inference_keeps_outputs(backbone):
    net = RetinaFace(backbone).eval()
    randomise_batchnorm(net)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        before = net(x)
        fused = fuse_for_inference(net)
        after = fused(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    if backbone == "mnet025":  # every activation lives in a conv now
        assert not any(isinstance(m, (torch.nn.LeakyReLU, torch.nn.ReLU)) for m in fused.modules())
        assert sum(isinstance(m, FusedConv2d) and m.slope is not None for m in fused.modules()) == 27 + 5 + 15
    for a, b in zip(before, after):
        assert a.shape[1] == (8 * 12 + 4 * 6 + 2 * 3) * 2
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3)


def test_fused_conv_cpu_primitive_equals_conv_then_activation():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 16, 23, 41, generator=gen).contiguous(memory_format=torch.channels_last)
    for kwargs in ({"groups": 16}, {"stride": 2}, {}):
        conv = FusedConv2d(16, 16, 3, padding=1, slope=0.1, **kwargs)
        with torch.no_grad():  # oneDNN conv + post-op
            onednn = conv(x)
        reference = F.leaky_relu(F.conv2d(x, conv.weight, conv.bias, conv.stride, 1, 1, conv.groups), 0.1)
        assert conv.weight.requires_grad  # with autograd: the F.conv2d path
        torch.testing.assert_close(onednn, reference.detach(), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(conv(x).detach(), reference.detach(), atol=0, rtol=0)
        assert (onednn < 0).any() and (onednn > 0).any()


def test_fused_conv_repacks_a_changed_weight_and_copies():
    x = torch.randn(1, 8, 20, 24).contiguous(memory_format=torch.channels_last)
    conv = FusedConv2d(8, 8, 3, padding=1, slope=0.0)
    with torch.no_grad():
        first = conv(x)
        conv.weight.mul_(-1)  # in place: the packed copy must be rebuilt
        flipped = conv(x)
        twin = copy.deepcopy(conv)
        assert torch.equal(twin(x), flipped)
        conv.load_state_dict(pickle.loads(pickle.dumps(conv)).state_dict())
        assert torch.equal(conv(x), flipped)
    reference = F.relu(F.conv2d(x, -conv.weight.detach(), conv.bias.detach(), padding=1))
    torch.testing.assert_close(first, reference, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(first, flipped)


def test_r50_checkpoint_roundtrip_with_module_prefix(tmp_path):
    net = RetinaFace("r50").eval()
    randomise_batchnorm(net, seed=1)
    path = tmp_path / "Resnet50_Final.pth"
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, path)
    assert "body.layer4.2.bn3.running_var" in load_state_dict(path)
    det = build_detector("retinaface_r50", str(path), resize="none")
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = net(x)
    got = det.net(x)
    for a, b in zip(expected, got):
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3)


def test_legacy_pickle_checkpoint_loads_weights_only():
    state = load_state_dict(shared_path(*RETINAFACE_PTH))
    assert len(state) == 300 and state["body.stage1.0.0.weight"].shape == (8, 3, 3, 3)


class NotATensor:
    pass


def test_unsafe_or_foreign_checkpoints_are_refused(tmp_path):
    plain = tmp_path / "plain.pth"
    torch.save({"a": torch.zeros(1), "epoch": 3}, plain)
    with pytest.raises(CheckpointError, match="plain.pth.*epoch"):
        load_state_dict(plain)
    pickled = tmp_path / "object.pth"
    torch.save({"a": NotATensor()}, pickled)
    with pytest.raises(CheckpointError, match="object.pth"):
        load_state_dict(pickled)
    with pytest.raises(ValueError, match="needs a Pytorch_Retinaface"):
        build_detector("retinaface_mnet025")
    with pytest.raises(ValueError, match="unknown face detector"):
        build_detector("mtcnn_caffe")
