"""hyp_face: a Kaldi-style recipe toolkit for face recognition in videos.

Data flows one way: video -> frames -> faces -> embeddings -> scores -> results.
"""

import os

# OpenMP threads that spin-wait make torch many times slower when another process holds a core (measured: 2
# threads 12-40x slower at batch 1 on a busy 2-core machine; with PASSIVE within 20% of 1 thread). This only
# takes effect when hyp_face is imported before torch; path.sh exports it for every recipe job.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
