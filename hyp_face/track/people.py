"""People per video: the tracks of a video clustered by their pooled embeddings (docs/tracks.md).

The clustering is the average-linkage AHC of back-ends v4/v5 (:func:`hyp_face.backend.ops.ahc_labels`), reused,
with the threshold of the embedder's config (``people_ahc_thr``, read as
``hyp_face.frontend.FrontEndConfig.people_ahc_thr``), and tracks on screen at the same time kept apart (its
cannot-link pairs): one person shows one face at a time.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..backend.ops import ahc_labels
from .types import Track, overlapping

#: ``people_ahc_thr`` of a config that sets none: a centred (ArcFace-like) embedding, chosen on LFW for
#: mobilefacenet_mit (python -m hyp_face.track.devparams).
DEFAULT_PEOPLE_AHC_THR = 0.38


def cluster_tracks(tracks: Sequence[Track], threshold: float) -> list[int]:
    """Person index of each track (0..K-1 in order of first appearance in ``tracks``); tracks that overlap in time
    never share one."""
    if not tracks:
        return []
    embeds = np.stack([np.asarray(t.embedding, np.float64) for t in tracks])
    return [int(k) for k in ahc_labels(embeds, threshold, apart=overlapping(tracks))]

