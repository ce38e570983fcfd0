"""Train a calibration model on the trials of a key; writes a JSON model (docs/calibration.md).

Models (``--model``): ``linear``, ``llr = a*s + b`` (docs/original_recipe.md §7.1, the default); ``linear_atanh`` and
``linear_neglog1m``, ``llr = a*T(s) + b`` on a monotone transform of cosine scores; ``pav``, a monotone
non-parametric map for any score.
"""

from __future__ import annotations

import argparse
import logging
import sys

from hyp_face.calibrate.models import MODELS, train_named_calibration
from hyp_face.cli import probability, run_main, setup_logging
from hyp_face.io.manifest import Job, step_manifest
from hyp_face.metrics.scores import load_trials, trial_scores

log = logging.getLogger(__name__)

CALIBRATION_CODE = ("calibrate", "metrics", "bin/train_calibration.py")  # what a rerun compares (docs/rerun.md)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("trials", help="training key: <model> <test> target|nontarget")
    p.add_argument("scores", help="raw score file: <model> <test> <score>")
    p.add_argument("model_out", help="output JSON model")
    p.add_argument("--model", default="linear", choices=MODELS, help="calibration model (default: linear)")
    p.add_argument("--p-target", type=probability, default=0.05, help="training prior P, in (0, 1) (default 0.05)")
    p.add_argument("--l2-reg", type=float, default=1e-5,
                   help="L2 regularisation lambda (on a and the bias) of the linear models (default 1e-5)")
    p.add_argument("-v", "--verbose", type=int, default=1)
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    setup_logging(args.verbose)
    job = Job(f"train_calibration {args.model_out}", [args.model_out],
              step_manifest(args, {"trials": args.trials, "scores": args.scores}, ("model_out", "verbose"),
                            CALIBRATION_CODE))
    if not job.start(log):
        return
    trials = load_trials(args.trials)
    scores = trial_scores(trials, args.scores)
    try:
        cal = train_named_calibration(args.model, scores, trials.is_target, args.p_target, args.l2_reg)
    except ValueError as e:
        raise SystemExit(f"{args.scores}: {e}") from e
    log.info("%s (P=%g, %d targets, %d non-targets)", cal.describe(), cal.p_target, cal.train["n_target"],
             cal.train["n_nontarget"])
    log.info("training set: min DCF before %.4f, act DCF after %.4f", cal.train["min_dcf_before"],
             cal.train["act_dcf_after"])
    cal.save(args.model_out)
    job.finish()


if __name__ == "__main__":
    sys.exit(run_main(main))
