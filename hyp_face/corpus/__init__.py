"""Builders of synthetic corpora in the SRE19 AV LDC layout, for the demo and the back-end tuning.

* :mod:`hyp_face.corpus.demo`: two public-domain identities shipped by packages, offline (``run_demo.sh``);
* :mod:`hyp_face.corpus.lfw_mock`: a mock SRE19 AV corpus composed from LFW photos (``local/tune_backend_hparams.sh``).
* :mod:`hyp_face.corpus.face_truth`: the ground truth of who is visible where in such a corpus (face diarization).

Both write their ``docs/`` files with :func:`hyp_face.io.ldc.write_sre19_docs`; ``local/`` holds their scripts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np

from ..video.synth import write_video


class CorpusError(ValueError):
    """A corpus cannot be built from the given sources or into the given folder."""


def write_video_atomically(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float,
                           options: dict[str, str] | None = None) -> None:
    """Encode lossy H.264 into a temporary file renamed to ``path`` at the end (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.mp4")
    write_video(tmp, frames, fps=fps, lossless=False, options=options)
    tmp.replace(path)
