"""Face detectors (RetinaFace in torch) with batched inference, own NMS and the threshold back-off."""

from .base import Detections, FaceDetector
from .registry import build_detector, list_detectors, register_detector
from .resize import ResizePolicy
from .retinaface import RetinaFaceDetector

__all__ = [
    "Detections", "FaceDetector",
    "build_detector", "list_detectors", "register_detector", "ResizePolicy", "RetinaFaceDetector",
]
