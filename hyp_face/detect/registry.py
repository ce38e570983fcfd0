"""Face detectors by name: ``build_detector(name, weights, device, **opts)``, ``list_detectors()``, and
``register_detector(name)`` to add one. Built-ins are imported only when built (``name -> "module:function"``).

Every builder has the signature ``f(weights=None, device="cpu", **opts) -> FaceDetector``:

* ``retinaface_mnet025_embedded``, ``retinaface_mnet025``, ``retinaface_r50``: torch RetinaFace
  (:mod:`hyp_face.detect.retinaface_build`: variants, anchors, resize options);
* ``retinaface_r50_mxnet``: insightface MXNet checkpoint (:mod:`hyp_face.detect.retinaface_mxnet`);
* ``scrfd``, ``yunet``: ONNX graphs with 5 keypoints (:mod:`hyp_face.detect.point_detector` options);
* ``mtcnn``: facenet-pytorch's MTCNN cascade (:mod:`hyp_face.detect.mtcnn`; weights: the folder of its 3 nets).

Which file each model needs, and where it comes from, is in ``conf/model_zoo.tsv`` (:mod:`hyp_face.zoo`).
"""

from __future__ import annotations

from hyp_face.registry import Registry

from .base import FaceDetector

_DETECTORS = Registry("face detector", {
    "retinaface_mnet025_embedded": "hyp_face.detect.retinaface_build:build_retinaface_mnet025_embedded",
    "retinaface_mnet025": "hyp_face.detect.retinaface_build:build_retinaface_mnet025",
    "retinaface_r50": "hyp_face.detect.retinaface_build:build_retinaface_r50",
    "retinaface_r50_mxnet": "hyp_face.detect.retinaface_mxnet:build_retinaface_mxnet",
    "scrfd": "hyp_face.detect.scrfd:build_scrfd",
    "yunet": "hyp_face.detect.yunet:build_yunet",
    "mtcnn": "hyp_face.detect.mtcnn:build_mtcnn",
})


def register_detector(name: str):
    """Decorator adding a builder ``f(weights=None, device="cpu", **opts) -> FaceDetector`` under ``name``."""
    return _DETECTORS.register(name)


def list_detectors() -> list[str]:
    """Names of every detector builder."""
    return _DETECTORS.names()


def build_detector(name: str, weights: str | None = None, device: str = "cpu", **opts) -> FaceDetector:
    """A detector by registry name, with its weights, on ``device``; ``opts`` as its builder documents."""
    return _DETECTORS.build(name, weights, device, **opts)
