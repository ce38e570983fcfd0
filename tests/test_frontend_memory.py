"""Bounded memory in the front end: the sparse float copies give the same bits as full ones; decoder thread cap."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hyp_face.align import warp
from hyp_face.detect.resize import ResizePolicy, ResizeSource, bilinear_source_rows, row_runs
from hyp_face.extract import CPU_WORKERS
from hyp_face.video.reader import COMPUTE_THREADS, THREAD_PICTURE_BUDGET, decoder_threads


def _bilinear(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=False)


@pytest.mark.parametrize("shape,policy", [((1080, 1920), "v0.2"), ((2160, 3840), "v0.2"), ((360, 640), "v0.1"),
                                          ((1001, 777), "v0.2")])
def test_resize_from_the_rows_read_equals_the_full_copy(shape, policy):
    image = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    size = ResizePolicy.named(policy).resized_size(*shape)
    full = torch.from_numpy(image.astype(np.float32)[None]).permute(0, 3, 1, 2)
    sparse = torch.from_numpy(ResizeSource()(image, size[0])[None]).permute(0, 3, 1, 2)
    assert torch.equal(_bilinear(full, size), _bilinear(sparse, size))


def test_rows_read_by_a_downscale_are_a_fraction_and_come_in_runs():
    rows = bilinear_source_rows(4320, 450)
    assert 850 <= len(rows) <= 950 and rows.min() >= 0 and rows.max() < 4320
    assert row_runs(np.array([0, 1, 2, 5, 6, 9])) == [(0, 3), (5, 7), (9, 10)]
    assert len(bilinear_source_rows(360, 1024)) == 360  # an upscale reads every row


def test_warp_from_the_faces_regions_equals_the_full_conversion(monkeypatch):
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8) for _ in range(2)]
    angle, scale = rng.uniform(-0.5, 0.5, 6), rng.uniform(0.05, 1.5, 6)
    centres = np.c_[rng.uniform(-50, 1970, 6), rng.uniform(-50, 1130, 6)]  # some faces cross the border
    rot = np.stack([[[s * np.cos(a), -s * np.sin(a)], [s * np.sin(a), s * np.cos(a)]] for s, a in zip(scale, angle)])
    mats = np.concatenate([rot, (56 - rot @ centres[:, :, None])], axis=2)  # source pixel -> 112x112 chip
    index = np.array([0, 1, 0, 1, 1, 0])
    sparse = warp.warp_affine_batch(images, index, mats, 112)
    monkeypatch.setattr(warp, "_SPARSE_FROM_PIXELS", 10**9)
    assert np.array_equal(sparse, warp.warp_affine_batch(images, index, mats, 112))
    assert sparse.any()


def test_decoder_threads_use_the_cores_the_compute_leaves_within_the_picture_budget(monkeypatch):
    import torch

    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert COMPUTE_THREADS == 2 * CPU_WORKERS  # detection and embedding workers (hyp_face.extract)
    assert decoder_threads(1920, 1080) == 12  # four compute threads
    cap = decoder_threads(7680, 4320)
    assert cap == THREAD_PICTURE_BUDGET // (2 * 7680 * 4320 * 3 // 2) and 1 <= cap < 12
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    assert decoder_threads(1920, 1080) == 4
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    assert decoder_threads(1920, 1080) == 1  # never fewer than one
    monkeypatch.delitem(sys.modules, "torch")
    assert decoder_threads(640, 360) == 2  # no torch loaded: every core