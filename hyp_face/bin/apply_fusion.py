"""Apply fusion ``--fus-idx`` of a greedy fusion model to the trials of a key.

The score files must be given in the training order (only those the fusion uses are read). The output
holds exactly the trials, sorted by test id then model id.
"""

from __future__ import annotations

import argparse
import logging
import sys

import numpy as np

from hyp_face.calibrate.fusion import GreedyFusion
from hyp_face.cli import run_main, setup_logging
from hyp_face.io.manifest import Job, step_manifest
from hyp_face.metrics.scores import load_trials, trial_scores, write_scores

log = logging.getLogger(__name__)

FUSION_CODE = ("calibrate", "metrics", "bin/apply_fusion.py")  # what a rerun compares (docs/rerun.md)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("model", help="JSON model from train_fusion")
    p.add_argument("trials", help="key or trial list: <model> <test> target|nontarget")
    p.add_argument("scores_out", help="fused score file")
    p.add_argument("scores", nargs="+", help="score files of all training systems, in training order")
    p.add_argument("--fus-idx", type=int, default=None,
                   help="0-based fusion index (fusion of fus_idx+1 systems); default: the largest")
    p.add_argument("-v", "--verbose", type=int, default=1)
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    setup_logging(args.verbose)
    inputs = {"model": args.model, "trials": args.trials, **{f"scores_{i}": f for i, f in enumerate(args.scores)}}
    job = Job(f"apply_fusion {args.scores_out}", [args.scores_out],
              step_manifest(args, inputs, ("scores_out", "scores", "verbose"), FUSION_CODE))
    if not job.start(log):
        return
    model = GreedyFusion.load(args.model)
    if len(args.scores) != len(model.system_names):
        raise SystemExit(f"{args.model}: trained on {len(model.system_names)} score files, got {len(args.scores)}")
    fus_idx = len(model.fusions) - 1 if args.fus_idx is None else args.fus_idx
    if not 0 <= fus_idx < len(model.fusions):
        raise SystemExit(f"{args.model}: --fus-idx must be in 0..{len(model.fusions) - 1}, got {fus_idx}")
    fusion = model.fusions[fus_idx]
    trials = load_trials(args.trials, need_labels=False)
    scores = np.zeros((len(trials), len(args.scores)))
    for j in fusion.systems:
        scores[:, j] = trial_scores(trials, args.scores[j])
    log.info("fusion %d: %s", fus_idx, " + ".join(args.scores[j] for j in fusion.systems))
    write_scores(args.scores_out, trials, fusion(scores))
    job.finish()


if __name__ == "__main__":
    sys.exit(run_main(main))
