"""Face detectors (RetinaFace in torch) with batched inference, own NMS and the threshold back-off."""

from .backoff import DEFAULT_THRESHOLDS, BackoffResult, backoff, detect_with_backoff
from .base import Detections, FaceDetector
from .registry import build_detector, list_detectors, register_detector
from .resize import ResizePolicy
from .retinaface import RetinaFaceDetector

__all__ = [
    "DEFAULT_THRESHOLDS", "BackoffResult", "backoff", "detect_with_backoff", "Detections", "FaceDetector",
    "build_detector", "list_detectors", "register_detector", "ResizePolicy", "RetinaFaceDetector",
]
