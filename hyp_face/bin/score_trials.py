"""Score a trial list: results line, JSON of all metrics, DET curve and score histogram (docs/original_recipe.md §8.1)."""

from __future__ import annotations

import argparse
import logging
import sys

from hyp_face.cli import probability, run_main, setup_logging, str2bool
from hyp_face.io.manifest import Job, step_manifest
from hyp_face.metrics.plots import plot_det, plot_score_hist
from hyp_face.metrics.report import evaluate, results_line, write_results
from hyp_face.metrics.rocch import rocch, sort_scores
from hyp_face.metrics.scores import load_trials, trial_scores

log = logging.getLogger(__name__)

SCORING_CODE = ("metrics", "bin/score_trials.py")  # what a rerun compares (docs/rerun.md)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("trials", help="trial key: <model> <test> target|nontarget")
    p.add_argument("scores", help="score file: <model> <test> <score> (extra pairs ignored)")
    p.add_argument(
        "out_prefix",
        help="writes <out_prefix>_results, _results.json, _det.png and _score_hist.png (_llr_hist.png with --llr true)",
    )
    p.add_argument("--plots", type=str2bool, default=True, help="write the PNG plots (true|false, default true)")
    p.add_argument(
        "--llr",
        type=str2bool,
        default=False,
        help="the scores are calibrated log-likelihood ratios (true|false): the histogram is then labelled LLR and "
        "marks the Bayes threshold; raw scores are labelled 'score', with no threshold",
    )
    p.add_argument("--hist-p-target", type=probability, default=0.05,
                   help="prior of the Bayes threshold marked for LLRs, in (0, 1) (default 0.05)")
    p.add_argument("--title", default="", help="plot title, e.g. 'sre19_av_v_dev v4 s-norm+cal' (default: out_prefix)")
    p.add_argument("-v", "--verbose", type=int, default=1)
    return p.parse_args(argv)


def score_job(args: argparse.Namespace) -> Job:
    """The scoring job: its result files (plots included when asked) and the manifest of what they come from."""
    hist = "_llr_hist.png" if args.llr else "_score_hist.png"
    suffixes = ["_results", "_results.json"] + (["_det.png", hist] if args.plots else [])
    manifest = step_manifest(args, {"trials": args.trials, "scores": args.scores}, ("out_prefix", "verbose"),
                             SCORING_CODE)
    return Job(f"score_trials {args.out_prefix}", [f"{args.out_prefix}{s}" for s in suffixes], manifest)


def main(argv=None) -> None:
    args = parse_args(argv)
    setup_logging(args.verbose)
    job = score_job(args)
    if not job.start(log):
        return
    trials = load_trials(args.trials)
    scores = trial_scores(trials, args.scores)
    tar, non = scores[trials.is_target], scores[~trials.is_target]
    res = evaluate(tar, non)
    write_results(args.out_prefix, res)
    log.info("%s: %s", args.scores, results_line(res))
    if args.plots:
        title = args.title or str(args.out_prefix)
        plot_det(rocch(*sort_scores(tar, non)), f"{args.out_prefix}_det.png", title=title)
        hist = f"{args.out_prefix}_{'llr' if args.llr else 'score'}_hist.png"
        plot_score_hist(tar, non, hist, args.llr, args.hist_p_target, title=title)
    job.finish()


if __name__ == "__main__":
    sys.exit(run_main(main))
