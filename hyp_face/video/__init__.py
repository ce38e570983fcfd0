"""Streaming video and photo decoding by presentation timestamp (PyAV); see docs/video.md."""

from hyp_face.video.orientation import Orientation, rotate_boxes
from hyp_face.video.reader import Frame, VideoError, VideoInfo, is_photo, probe, sample_frames
from hyp_face.video.windows import window_frames

__all__ = ["Frame", "Orientation", "VideoError", "VideoInfo", "is_photo", "probe", "rotate_boxes",
           "sample_frames", "window_frames"]
