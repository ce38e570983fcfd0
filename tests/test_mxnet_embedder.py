"""The ``mxnet`` Embedder on the real 128-d MobileFaceNet checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import shared_path
from PIL import Image

from hyp_face.embed import build_embedder
from hyp_face.embed.mxnet_embedder import MXNetEmbedder
from hyp_face.formats.mxnet_symbol import parse_checkpoint_arg

torch.set_num_threads(1)
LFW = ("data", "lfw_view2_deepfunneled150", "warm-ice0x00_face-recognition-training", "lfw")


@pytest.fixture(scope="module")
def prefix():
    return shared_path("weights", "mxnet_mobilefacenet_128d") / "model_mobilefacenet"


def test_checkpoint_arg_forms(prefix):
    expected = (prefix.parent / "model_mobilefacenet-symbol.json", prefix.parent / "model_mobilefacenet-0200.params")
    assert parse_checkpoint_arg(f"{prefix},200") == expected
    assert parse_checkpoint_arg(str(expected[1])) == expected
    assert parse_checkpoint_arg(str(prefix), epoch=200) == expected
    with pytest.raises(ValueError, match="epoch"):
        parse_checkpoint_arg(str(prefix))
    with pytest.raises(FileNotFoundError, match="model_mobilefacenet-0007.params"):
        parse_checkpoint_arg(f"{prefix},7")


def test_same_person_closer_than_different(prefix):
    from hyp_face.detect import build_detector

    names = ["Abel_Pacheco_0001.jpg", "Abel_Pacheco_0004.jpg", "Amber_Tamblyn_0001.jpg"]
    images = []
    for name in names:
        with Image.open(shared_path(*LFW, name)) as im:
            images.append(np.asarray(im.convert("RGB")))
    dets = build_detector("retinaface_mnet025_embedded").detect(images, threshold=0.5)
    emb = build_embedder("mxnet", weights=f"{prefix},200")
    assert isinstance(emb, MXNetEmbedder) and emb.dim == 128 and emb.alignment == "arcface112"
    chips = emb.align_many(images, np.arange(3), np.stack([d.boxes[0] for d in dets]),
                           np.stack([d.landmarks[0] for d in dets]))
    vecs = emb.embed(chips)
    assert vecs.shape == (3, 128) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)
    same, diff = vecs[0] @ vecs[1], vecs[0] @ vecs[2]
    assert same > 0.4 and same > diff + 0.2
