"""Re-ranking of query x gallery similarities into re-ranked distances (lower = better).

    k_reciprocal(sim_qg, sim_qq, sim_gg, k1=20, k2=6, lam=0.3) -> (Q, G) distance   # Zhong et al., CVPR 2017
    ecn(sim_qg, sim_qq, sim_gg, t=3, q=8, k=25, method="rank") -> (Q, G) distance    # Sarfraz et al., CVPR 2018

Inputs are similarity matrices (cosine, or any back-end score where higher = more alike): query x gallery,
query x query and gallery x gallery. See each module's docstring for the exact algorithm. On-disk score
matrices (``hyp_face.metrics.score_matrix``) are re-ranked by ``hyp_face.rerank.matrices.rerank_matrices``, the CLI
``python -m hyp_face.bin.rerank`` and ``steps/rerank.sh``. To score a re-ranked distance with
``hyp_face.metrics.identification``, pass its negation (``ScoreMatrix.similarity()``).
"""

from hyp_face.rerank.ecn import ecn
from hyp_face.rerank.kreciprocal import k_reciprocal

__all__ = ["ecn", "k_reciprocal"]
