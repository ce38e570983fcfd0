"""RetinaFace-R50 (insightface MXNet net3) detector: a tiny net3-like symbol graph with random weights, decoded by
our detector and by a plain numpy transcription of insightface's decoding (no real R50 file is needed)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from hyp_face.detect import build_detector
from hyp_face.detect.resize import ResizePolicy
from hyp_face.detect.retinaface_mxnet import RetinaFaceMXNetDetector

torch.set_num_threads(1)
RNG = np.random.default_rng(7)
STRIDES = (32, 16, 8)
A = 2  # anchors per cell


# ------------------------------------------------------------------------------------------ tiny net3 checkpoint
class Net3Builder:
    """Symbol JSON + params of a small graph with net3's structure: bn_data, a strided conv body (C8, C16, C32),
    FPN merges (nearest UpSampling, Crop to the lateral, add) and, per stride 32/16/8, the three insightface heads
    with their names (class score -> Reshape(0,2,-1,0) -> channel softmax -> Reshape(0,2A,-1,0), box, landmarks)."""

    def __init__(self, width: int = 6):
        self.nodes: list[dict] = []
        self.params: dict[str, np.ndarray] = {}
        self.width = width

    def var(self, name: str, value: np.ndarray | None = None, aux: bool = False) -> int:
        self.nodes.append({"op": "null", "name": name, "inputs": []})
        if value is not None:
            self.params[f"{'aux' if aux else 'arg'}:{name}"] = value.astype(np.float32)
        return len(self.nodes) - 1

    def op(self, op: str, name: str, inputs: list[int], **attrs) -> int:
        self.nodes.append({"op": op, "name": name, "attrs": {k: str(v) for k, v in attrs.items()},
                           "inputs": [[i, 0, 0] for i in inputs]})
        return len(self.nodes) - 1

    def conv(self, name: str, x: int, cin: int, cout: int, kernel: int = 3, stride: int = 1, scale: float = 0.5) -> int:
        w = self.var(f"{name}_weight", RNG.standard_normal((cout, cin, kernel, kernel)) * scale / kernel)
        b = self.var(f"{name}_bias", RNG.standard_normal(cout) * 0.1)
        return self.op("Convolution", name, [x, w, b], kernel=f"({kernel}, {kernel})", stride=f"({stride}, {stride})",
                       pad=f"({kernel // 2}, {kernel // 2})", num_filter=cout)

    def relu(self, name: str, x: int) -> int:
        return self.op("Activation", name, [x], act_type="relu")

    def build(self) -> tuple[dict, dict[str, np.ndarray]]:
        c = self.width
        data = self.var("data")
        bn = self.op("BatchNorm", "bn_data", [data, self.var("bn_data_gamma", np.ones(3)),
                                              self.var("bn_data_beta", np.zeros(3)),
                                              self.var("bn_data_moving_mean", np.full(3, 100.0), aux=True),
                                              self.var("bn_data_moving_var", np.full(3, 3000.0), aux=True)],
                     eps=2e-5, fix_gamma="True")
        x, cin, feats = bn, 3, {}
        for stride in (2, 4, 8, 16, 32):
            x = self.relu(f"body{stride}_relu", self.conv(f"body{stride}", x, cin, c, stride=2))
            cin = c
            feats[stride] = x
        lateral = {s: self.relu(f"lat{s}_relu", self.conv(f"lat{s}", feats[s], c, c, kernel=1)) for s in STRIDES}
        pyramid = {32: lateral[32]}
        for s in (16, 8):
            up = self.op("UpSampling", f"up{s}", [pyramid[2 * s]], scale=2, sample_type="nearest", num_args=1)
            crop = self.op("Crop", f"crop{s}", [up, lateral[s]], num_args=2)
            pyramid[s] = self.op("elemwise_add", f"plus{s}", [lateral[s], crop])
        heads = []
        for s in STRIDES:
            score = self.conv(f"face_rpn_cls_score_stride{s}", pyramid[s], c, 2 * A, kernel=1, scale=2.0)
            resh = self.op("Reshape", f"face_rpn_cls_score_reshape_stride{s}", [score], shape="(0, 2, -1, 0)")
            prob = self.op("SoftmaxActivation", f"face_rpn_cls_prob_stride{s}", [resh], mode="channel")
            back = self.op("Reshape", f"face_rpn_cls_prob_reshape_stride{s}", [prob], shape=f"(0, {2 * A}, -1, 0)")
            box = self.conv(f"face_rpn_bbox_pred_stride{s}", pyramid[s], c, 4 * A, kernel=1, scale=0.3)
            lmk = self.conv(f"face_rpn_landmark_pred_stride{s}", pyramid[s], c, 10 * A, kernel=1, scale=0.3)
            heads += [back, box, lmk]
        return {"nodes": self.nodes, "arg_nodes": [], "heads": [[h, 0, 0] for h in heads]}, self.params


def write_params_v2(path: Path, params: dict[str, np.ndarray]) -> None:
    """An MXNet NDArray-list file (V2 records, float32) as ``mx.nd.save`` writes it."""
    out = [struct.pack("<QQQ", 0x112, 0, len(params))]
    for value in params.values():
        a = np.ascontiguousarray(value, dtype="<f4")
        out.append(struct.pack(f"<IiI{a.ndim}q", 0xF993FAC9, 0, a.ndim, *a.shape) + struct.pack("<iii", 1, 0, 0))
        out.append(a.tobytes())
    out.append(struct.pack("<Q", len(params)))
    for name in params:
        out.append(struct.pack("<Q", len(name.encode())) + name.encode())
    path.write_bytes(b"".join(out))


@pytest.fixture(scope="module")
def prefix(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("retina-50")
    symbol, params = Net3Builder().build()
    (root / "R50-symbol.json").write_text(json.dumps(symbol))
    write_params_v2(root / "R50-0000.params", params)
    return root / "R50"


# --------------------------------------------------------------------------- numpy transcription of insightface
def insightface_anchors(stride: int) -> np.ndarray:
    """``generate_anchors(base_size=16, ratios=[1], scales)`` for the net3 config of ``stride``."""
    scales = {32: (32, 16), 16: (8, 4), 8: (2, 1)}[stride]
    base = np.array([0, 0, 15, 15], dtype=np.float64)
    w, h = base[2] - base[0] + 1, base[3] - base[1] + 1
    x_ctr, y_ctr = base[0] + 0.5 * (w - 1), base[1] + 0.5 * (h - 1)
    ws = np.round(np.sqrt(w * h))  # ratio 1
    ws, hs = ws * np.array(scales), ws * np.array(scales)
    return np.stack([x_ctr - 0.5 * (ws - 1), y_ctr - 0.5 * (hs - 1), x_ctr + 0.5 * (ws - 1), y_ctr + 0.5 * (hs - 1)], 1)


def insightface_decode(maps: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores (N,), boxes (N,4), landmarks (N,5,2) of one image (batch index 0) as insightface's ``detect``
    computes them before thresholding (strides in order 32, 16, 8)."""
    all_scores, all_boxes, all_points = [], [], []
    for level, stride in enumerate(STRIDES):
        cls, deltas, lmk = (m[:1].astype(np.float64) for m in maps[3 * level: 3 * level + 3])
        height, width = deltas.shape[2], deltas.shape[3]
        base = insightface_anchors(stride)
        anchors = np.zeros((height, width, A, 4))
        for i in range(height):
            for j in range(width):
                anchors[i, j] = base + np.array([j, i, j, i]) * stride
        anchors = anchors.reshape(-1, 4)
        scores = cls[:, A:, :, :].transpose(0, 2, 3, 1).reshape(-1)
        d = deltas.transpose(0, 2, 3, 1).reshape(-1, 4)
        widths, heights = anchors[:, 2] - anchors[:, 0] + 1, anchors[:, 3] - anchors[:, 1] + 1
        ctr_x, ctr_y = anchors[:, 0] + 0.5 * (widths - 1), anchors[:, 1] + 0.5 * (heights - 1)
        px, py = d[:, 0] * widths + ctr_x, d[:, 1] * heights + ctr_y
        pw, ph = np.exp(d[:, 2]) * widths, np.exp(d[:, 3]) * heights
        boxes = np.stack([px - 0.5 * (pw - 1), py - 0.5 * (ph - 1), px + 0.5 * (pw - 1), py + 0.5 * (ph - 1)], 1)
        ld = lmk.transpose(0, 2, 3, 1).reshape(-1, 5, 2)
        points = np.stack([ld[:, :, 0] * widths[:, None] + ctr_x[:, None],
                           ld[:, :, 1] * heights[:, None] + ctr_y[:, None]], axis=2)
        all_scores.append(scores)
        all_boxes.append(boxes)
        all_points.append(points)
    return np.concatenate(all_scores), np.concatenate(all_boxes), np.concatenate(all_points)


def greedy_nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    """Plain greedy NMS (IoU without the +1 pixel convention, as hyp_face.detect.nms)."""
    order, keep = list(np.argsort(-scores, kind="stable")), []
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order:
        i = order.pop(0)
        keep.append(i)
        rest = np.array(order, dtype=int)
        if rest.size == 0:
            break
        w = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]), 0, None)
        h = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]), 0, None)
        iou = w * h / (area[i] + area[rest] - w * h)
        order = [int(k) for k, o in zip(rest, iou) if o <= thr]
    return keep


def random_image(height: int, width: int) -> np.ndarray:
    return RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)


# ----------------------------------------------------------------------------------------------------------- tests
def test_anchors_are_insightface_net3():
    from hyp_face.detect.retinaface_mxnet import anchor_plane, base_anchors

    np.testing.assert_allclose(base_anchors(32), [[-248, -248, 263, 263], [-120, -120, 135, 135]])
    np.testing.assert_allclose(base_anchors(8), [[-8, -8, 23, 23], [0, 0, 15, 15]])
    for stride in STRIDES:
        np.testing.assert_allclose(base_anchors(stride), insightface_anchors(stride))
    plane = anchor_plane(2, 3, 16).numpy()
    assert plane.shape == (2 * 3 * A, 4)
    np.testing.assert_allclose(plane[2 * A + 1], base_anchors(16)[1] + [32, 0, 32, 0])  # row 0, column 2, anchor 1
    np.testing.assert_allclose(plane[3 * A], base_anchors(16)[0] + [0, 16, 0, 16])  # row 1, column 0


def test_decoding_matches_numpy_insightface(prefix):
    det = build_detector("retinaface_r50_mxnet", weights=str(prefix), resize="none")
    batch = det.input_batch([random_image(64, 96), random_image(64, 96)], [(64, 96), (64, 96)])
    maps = [m.numpy() for m in det.net(batch)]
    scores, boxes, points = det.raw_outputs(batch)
    ref_scores, ref_boxes, ref_points = insightface_decode(maps)
    assert scores.shape == (2, ref_scores.shape[0]) == (2, A * (2 * 3 + 4 * 6 + 8 * 12))
    np.testing.assert_allclose(scores[0].numpy(), ref_scores, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(boxes[0].numpy(), ref_boxes, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(points[0].numpy(), ref_points, rtol=1e-5, atol=1e-3)
    assert 0.05 < ref_scores.mean() < 0.95 and ref_scores.std() > 0.05  # the random net is not degenerate


def test_detect_matches_numpy_pipeline(prefix):
    image = random_image(96, 128)
    det = build_detector("retinaface_r50_mxnet", weights=f"{prefix},0", resize="none", clip_boxes=False)
    dets = det.detect([image], threshold=0.6)[0]
    maps = [m.numpy() for m in det.net(det.input_batch([image], [(96, 128)]))]
    scores, boxes, points = insightface_decode(maps)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2  # our pipeline also drops boxes centred beyond the right / bottom
    keep = np.flatnonzero((scores >= 0.6) & (centre[:, 0] < 128) & (centre[:, 1] < 96))
    kept = keep[greedy_nms(boxes[keep], scores[keep], 0.4)]
    assert 3 <= len(dets) == len(kept)
    np.testing.assert_allclose(dets.scores, scores[kept], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dets.boxes, boxes[kept], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(dets.landmarks, points[kept], rtol=1e-5, atol=1e-3)
    assert np.all(np.diff(dets.scores) <= 0)


def test_v01_resize_default_batching_and_rescale(prefix):
    det = build_detector("retinaface_r50_mxnet", weights=str(prefix.parent / "R50-0000.params"), batch_size=4)
    assert isinstance(det, RetinaFaceMXNetDetector) and det.policy == ResizePolicy(1024, 1980, True)
    frames = [random_image(36, 64), random_image(36, 64)]  # scaled by 1024/36 to 1024x1820, padded to 1024x1824
    together = det.detect(frames, threshold=0.7)
    alone = det.detect(frames[1:], threshold=0.7)[0]
    assert len(together[1]) == len(alone) > 0
    np.testing.assert_allclose(together[1].boxes, alone.boxes, atol=1e-3)
    for d in together:  # back in frame pixels, clipped to the frame
        assert d.boxes[:, [0, 2]].max() <= 64 and d.boxes[:, [1, 3]].max() <= 36 and d.boxes.min() >= 0
        assert d.landmarks.dtype == np.float32 and d.landmarks.shape[1:] == (5, 2)


def test_weights_errors(prefix, tmp_path):
    with pytest.raises(ValueError, match="needs its MXNet checkpoint"):
        build_detector("retinaface_r50_mxnet")
    with pytest.raises(FileNotFoundError, match="R50-0003.params"):
        build_detector("retinaface_r50_mxnet", weights=f"{prefix},3")
    symbol = json.loads((prefix.parent / "R50-symbol.json").read_text())
    for node in symbol["nodes"]:
        if node["name"] == "face_rpn_cls_prob_reshape_stride8":
            node["name"] = "renamed"
    (tmp_path / "bad-symbol.json").write_text(json.dumps(symbol))
    (tmp_path / "bad-0000.params").write_bytes((prefix.parent / "R50-0000.params").read_bytes())
    with pytest.raises(ValueError, match="face_rpn_cls_prob_reshape_stride8"):
        build_detector("retinaface_r50_mxnet", weights=str(tmp_path / "bad"))
