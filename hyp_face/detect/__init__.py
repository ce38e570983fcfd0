"""Face detectors (RetinaFace in torch, SCRFD, ...) with batched inference and NMS."""
