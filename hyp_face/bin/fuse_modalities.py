"""Fuse calibrated score files of several modalities (e.g. face and voice) on the same trials.

Writes the equal-weight mean of the LLRs to ``mean_out`` and, with ``--completed F1 F2 ...`` (one per input), each
input restricted to the trials and completed by the ``--missing`` policy, for the greedy logistic fusion
(``steps/train_fusion.sh`` / ``apply_fusion.sh``). A trial that a modality lacks is an error naming it, unless
``--missing single|neutral`` says what to do (``hyp_face.calibrate.av_fusion``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from hyp_face.calibrate.av_fusion import POLICIES, MissingTrialError, mean_fusion, modality_matrix
from hyp_face.cli import run_main, setup_logging
from hyp_face.io.manifest import Job, step_manifest
from hyp_face.metrics.scores import load_trials, write_scores

log = logging.getLogger("fuse_modalities")
FUSION_CODE = ("calibrate/av_fusion.py", "metrics/scores.py", "bin/fuse_modalities.py")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("trials", help="<model> <test> [target|nontarget]")
    p.add_argument("mean_out", help="fused score file: the mean of the inputs")
    p.add_argument("scores", nargs="+", help="calibrated score files (3 columns), one per modality")
    p.add_argument("--completed", nargs="+", default=[], help="one output per input: it on the trials, completed")
    p.add_argument("--missing", choices=POLICIES, default="error",
                   help="a trial one modality lacks: error (default), single (the other alone), neutral (LLR 0)")
    p.add_argument("-v", "--verbose", type=int, default=1)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    if args.completed and len(args.completed) != len(args.scores):
        raise SystemExit(f"fuse_modalities: {len(args.completed)} --completed outputs for {len(args.scores)} inputs")
    outputs = [args.mean_out, *args.completed]
    inputs = {"trials": args.trials, **{f"scores_{i}": f for i, f in enumerate(args.scores)}}
    job = Job(f"fuse_modalities {args.mean_out}", outputs,
              step_manifest(args, inputs, ("mean_out", "completed", "scores", "verbose"), FUSION_CODE))
    if not job.start(log):
        return 0
    trials = load_trials(args.trials, need_labels=False)
    try:
        scores = modality_matrix(trials, args.scores, args.missing)
    except MissingTrialError as err:
        raise SystemExit(f"fuse_modalities: {err} (or choose --missing single|neutral)") from None
    for j, path in enumerate(args.completed):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_scores(path, trials, scores[:, j])
    Path(args.mean_out).parent.mkdir(parents=True, exist_ok=True)
    write_scores(args.mean_out, trials, mean_fusion(scores))
    job.finish()
    log.info("%d trials: mean of %s -> %s", len(trials), " + ".join(args.scores), args.mean_out)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
