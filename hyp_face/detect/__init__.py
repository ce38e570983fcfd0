"""Face detectors (RetinaFace in torch) with batched inference, own NMS and the threshold back-off."""

from .base import Detections, FaceDetector
from .registry import DETECTORS, build_detector
from .resize import ResizePolicy
from .retinaface import RetinaFaceDetector

__all__ = [
    "Detections", "FaceDetector", "DETECTORS", "build_detector", "ResizePolicy", "RetinaFaceDetector",
]
