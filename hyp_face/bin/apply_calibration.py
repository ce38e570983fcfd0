"""Apply a calibration model to the trials of a key (docs/original_recipe.md §7.2; models: docs/calibration.md).

The model file says which model it is (``linear``, ``linear_atanh``, ``linear_neglog1m``, ``pav``);
``--model NAME`` also checks that it is that one. The output holds exactly the trials (a missing one is an
error), sorted by test id then model id as the original's calibrated files, scores printed with ``%f``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from hyp_face.calibrate.models import MODELS, load_calibration
from hyp_face.cli import run_main, setup_logging
from hyp_face.io.manifest import Job, step_manifest
from hyp_face.metrics.scores import load_trials, trial_scores, write_scores

log = logging.getLogger(__name__)

CALIBRATION_CODE = ("calibrate", "metrics", "bin/apply_calibration.py")  # what a rerun compares (docs/rerun.md)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="JSON model from train_calibration")
    p.add_argument("trials", help="key or trial list: <model> <test> target|nontarget")
    p.add_argument("scores_in", help="raw score file")
    p.add_argument("scores_out", help="calibrated score file")
    p.add_argument("--model", dest="model_name", default="auto", choices=("auto", *MODELS),
                   help="expected calibration model (default auto: the one the file holds)")
    p.add_argument("-v", "--verbose", type=int, default=1)
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    setup_logging(args.verbose)
    inputs = {"model": args.model, "trials": args.trials, "scores_in": args.scores_in}
    job = Job(f"apply_calibration {args.scores_out}", [args.scores_out],
              step_manifest(args, inputs, ("scores_out", "verbose"), CALIBRATION_CODE))
    if not job.start(log):
        return
    cal = load_calibration(args.model, None if args.model_name == "auto" else args.model_name)
    trials = load_trials(args.trials, need_labels=False)
    scores = trial_scores(trials, args.scores_in)
    try:
        llr = cal(scores)
    except ValueError as e:
        raise SystemExit(f"{args.scores_in}: {e}") from e
    write_scores(args.scores_out, trials, llr)
    job.finish()


if __name__ == "__main__":
    sys.exit(run_main(main))
