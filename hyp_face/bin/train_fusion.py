"""Train a greedy forward logistic-regression fusion of several score files (docs/original_recipe.md §7.3); JSON model."""

from __future__ import annotations

import argparse
import logging
import sys

import numpy as np

from hyp_face.calibrate.fusion import train_greedy_fusion
from hyp_face.cli import probability, run_main, setup_logging
from hyp_face.io.manifest import Job, step_manifest
from hyp_face.metrics.scores import load_trials, trial_scores

log = logging.getLogger(__name__)

FUSION_CODE = ("calibrate", "metrics", "bin/train_fusion.py")  # what a rerun compares (docs/rerun.md)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("trials", help="training key: <model> <test> target|nontarget")
    p.add_argument("model_out", help="output JSON model")
    p.add_argument("scores", nargs="+", help="score files of the systems (3 columns each), in a fixed order")
    p.add_argument("--max-systems", type=int, default=5, help="largest fusion to build (default 5)")
    p.add_argument("--p-target", type=probability, default=0.05, help="training prior P, in (0, 1) (default 0.05)")
    p.add_argument("--p-eval", type=probability, nargs="+", default=None,
                   help="priors of the selection act DCF (default: the training prior)")
    p.add_argument("--l2-reg", type=float, default=1e-5, help="L2 regularisation lambda (default 1e-5)")
    p.add_argument("-v", "--verbose", type=int, default=1)
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    setup_logging(args.verbose)
    inputs = {"trials": args.trials, **{f"scores_{i}": f for i, f in enumerate(args.scores)}}
    job = Job(f"train_fusion {args.model_out}", [args.model_out],
              step_manifest(args, inputs, ("model_out", "scores", "verbose"), FUSION_CODE))
    if not job.start(log):
        return
    trials = load_trials(args.trials)
    scores = np.column_stack([trial_scores(trials, f) for f in args.scores])
    model = train_greedy_fusion(
        scores, trials.is_target, args.scores, args.max_systems, args.p_target, args.l2_reg, args.p_eval
    )
    model.save(args.model_out)
    job.finish()


if __name__ == "__main__":
    sys.exit(run_main(main))
