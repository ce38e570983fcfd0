"""Face tracks over the sampled frames of a video (docs/tracks.md).

``tracker`` (TrackOptions, FaceTracker: association rules), ``shots`` (ShotCutDetector), ``video`` (the streaming
``track_faces`` over a FaceExtractor, ``track_video`` for a file), ``people`` (``cluster_tracks``), ``devparams``
(the per-embedder values, chosen on LFW). The store layout is in hyp_face/io/embed_store.py.
"""

from .types import Track

__all__ = ["Track"]
