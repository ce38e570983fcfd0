"""YuNet-n from the real libfacedetection.train ONNX export: decoding, recall on LFW, landmark order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import shared_path
from hyp_face.detect.yunet import YuNetDetector, build_yunet
from test_scrfd import LANDMARK_SAMPLE, RECALL_SAMPLE, landmark_error_vs_retinaface, lfw_sample, recall

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def yunet():
    return build_yunet(str(shared_path("weights", "yunet", "yunet_n_dynamic.onnx")), batch_size=32)


def test_decoding_cell_offsets_log_sizes_and_score():
    det = object.__new__(YuNetDetector)
    det.weights = "synthetic"
    strides = (8, 16, 32)
    det.output_index = {f"{h}_{s}": 3 * i + j for i, h in enumerate(("cls", "obj", "bbox", "kps"))
                        for j, s in enumerate(strides)}
    height, width = 64, 32
    counts = [(height // s) * (width // s) for s in strides]
    outs = [torch.zeros(1, n, c) for c in (1, 1, 4, 10) for n in counts]
    cell = 2 * 2 + 1  # stride 16: 4 rows x 2 columns; row 2, column 1
    outs[1][0, cell, 0], outs[4][0, cell, 0] = 0.81, 0.64  # cls_16, obj_16
    outs[7][0, cell] = torch.tensor([0.5, 0.25, np.log(2.0), 0.0])  # bbox_16
    outs[10][0, cell] = torch.arange(10, dtype=torch.float32) / 10  # kps_16
    scores, boxes, points = det.decode(tuple(outs), height, width)
    index = counts[0] + cell
    assert int(scores[0].argmax()) == index
    assert scores[0, index].item() == pytest.approx(np.sqrt(0.81 * 0.64))
    centre = torch.tensor([(1 + 0.5) * 16, (2 + 0.25) * 16])
    torch.testing.assert_close(boxes[0, index], torch.cat([centre - torch.tensor([16.0, 8.0]),
                                                           centre + torch.tensor([16.0, 8.0])]))
    expected = (torch.tensor([1.0, 2.0]) + (torch.arange(10, dtype=torch.float32) / 10).reshape(5, 2)) * 16
    torch.testing.assert_close(points[0, index], expected)


def test_recall_on_lfw_sample(yunet):
    assert recall(yunet, lfw_sample(RECALL_SAMPLE)) >= 0.99


def test_landmarks_in_our_order_and_near_retinaface(yunet):
    dets = yunet.detect(lfw_sample(1))[0]
    eyes, mouth = dets.landmarks[0, :2], dets.landmarks[0, 3:]
    assert eyes[0, 0] < eyes[1, 0] and mouth[0, 0] < mouth[1, 0]
    assert eyes[:, 1].max() < dets.landmarks[0, 2, 1] < mouth[:, 1].min()
    # YuNet-n (76k parameters) is coarser than SCRFD: 7-8% of the inter-ocular distance from RetinaFace's
    assert landmark_error_vs_retinaface(yunet, lfw_sample(LANDMARK_SAMPLE)) < 0.10


def test_batch_of_mixed_sizes(yunet):
    images = lfw_sample(3)
    wide = np.zeros((150, 330, 3), np.uint8)
    wide[:, 90:240] = images[0]
    results = yunet.detect([images[0], wide, images[1]])
    assert [len(r) >= 1 for r in results] == [True, True, True]
    np.testing.assert_allclose(results[1].boxes[0] - [90, 0, 90, 0], results[0].boxes[0], atol=4.0)  # other context
    assert np.all(results[1].boxes[:, [0, 2]] <= 330) and np.all(results[1].boxes >= 0)


def test_needs_a_yunet_graph():
    with pytest.raises(ValueError, match="yunet"):
        build_yunet(None)
    with pytest.raises(ValueError, match="not a YuNet graph"):
        build_yunet(str(shared_path("weights", "scrfd_kps_onnx", "scrfd_500m_kps.onnx")))
