"""Re-rank a query x gallery score matrix with k-reciprocal encoding or ECN (``hyp_face.rerank``).

Inputs and output are score matrices (``.npz``, format in ``hyp_face.metrics.score_matrix``): the similarities
query x gallery, query x query and gallery x gallery in; the re-ranked query x gallery distances out.
"""

from __future__ import annotations

import argparse
import logging
import sys

from hyp_face.cli import run_main, setup_logging
from hyp_face.io.manifest import Job, step_manifest
from hyp_face.metrics.score_matrix import read_score_matrix, write_score_matrix
from hyp_face.rerank.matrices import METHODS, rerank_matrices

log = logging.getLogger(__name__)

RERANK_CODE = ("rerank", "metrics/score_matrix.py", "metrics/identification.py", "bin/rerank.py")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("query_gallery", help="similarity matrix query x gallery (.npz)")
    p.add_argument("query_query", help="similarity matrix query x query (.npz)")
    p.add_argument("gallery_gallery", help="similarity matrix gallery x gallery (.npz)")
    p.add_argument("out", help="re-ranked distance matrix query x gallery (.npz)")
    p.add_argument("--method", choices=sorted(METHODS), default="k_reciprocal")
    p.add_argument("--k1", type=int, default=20, help="k-reciprocal: neighbourhood size")
    p.add_argument("--k2", type=int, default=6, help="k-reciprocal: local query expansion size")
    p.add_argument("--lam", type=float, default=0.3, help="k-reciprocal: weight of the original distance")
    p.add_argument("--t", type=int, default=3, help="ECN: immediate neighbours")
    p.add_argument("--q", type=int, default=8, help="ECN: neighbours of each immediate neighbour")
    p.add_argument("--k", type=int, default=25, help="ECN: rank-list length")
    p.add_argument("--ecn-distance", choices=("rank", "dist"), default="rank", help="ECN: pair distance")
    p.add_argument("-v", "--verbose", type=int, default=1)
    return p.parse_args(argv)


def method_params(args: argparse.Namespace) -> dict:
    """The keyword parameters of the chosen method."""
    if args.method == "k_reciprocal":
        return {"k1": args.k1, "k2": args.k2, "lam": args.lam}
    return {"t": args.t, "q": args.q, "k": args.k, "method": args.ecn_distance}


def main(argv=None) -> None:
    args = parse_args(argv)
    setup_logging(args.verbose)
    inputs = {"query_gallery": args.query_gallery, "query_query": args.query_query,
              "gallery_gallery": args.gallery_gallery}
    job = Job(f"rerank {args.out}", [args.out], step_manifest(args, inputs, ("out", "verbose"), RERANK_CODE))
    if not job.start(log):
        return
    try:
        matrices = [read_score_matrix(path) for path in inputs.values()]
        out = rerank_matrices(*matrices, args.method, method_params(args))
    except ValueError as e:
        raise SystemExit(f"rerank {args.query_gallery}: {e}") from e
    write_score_matrix(args.out, out)
    log.info("%s: %s %s, %d queries x %d gallery items", args.out, args.method, method_params(args),
             *out.scores.shape)
    job.finish()


if __name__ == "__main__":
    sys.exit(run_main(main))
