"""Gallery recognition of face tracks, and the per-video timeline it produces."""

from .timeline import UNKNOWN, TrackLabel, VideoTimeline

__all__ = ["UNKNOWN", "TrackLabel", "VideoTimeline"]
