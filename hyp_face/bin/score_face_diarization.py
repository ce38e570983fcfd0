"""Score face diarization and recognition of video timelines against a ground truth (hyp_face.eval.diarization).

Usage: python -m hyp_face.bin.score_face_diarization [options] GROUND_TRUTH_JSON HYP_DIR...

GROUND_TRUTH_JSON is a ``face_diarization/ground_truth.json`` of the LFW-composed corpus (its ``ground_truth.rttm``
beside it is the reference RTTM); each HYP_DIR holds ``<key>/timeline.json`` and ``<key>/<key>.rttm`` as written
by hyp_face.recognize.outputs. Prints a markdown table; ``--out`` also writes the scores as JSON (atomically).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from hyp_face.cli import run_main, setup_logging
from hyp_face.corpus.face_truth import read_face_truth
from hyp_face.eval.diarization import format_per_video, format_scores, load_hypotheses, read_rttm_file, score_videos
from hyp_face.io.table import TableError, atomic_write

log = logging.getLogger("score_face_diarization")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("truth", help="ground_truth.json (hyp_face.corpus.face_truth)")
    p.add_argument("hyp_dirs", nargs="+", help="folders of <key>/timeline.json (+ <key>.rttm)")
    p.add_argument("--ref-rttm", default=None, help="reference RTTM (default: ground_truth.rttm beside the JSON)")
    p.add_argument("--min-iou", type=float, default=0.5,
                   help="box IoU for a face to match the ground truth (default 0.5)")
    p.add_argument("--out", default=None, help="also write the scores (with the DER of each video) to this JSON file")
    p.add_argument("--per-video", action="store_true", help="also print the DER of each video, worst first")
    p.add_argument("--verbose", type=int, default=1, help="0: warnings only; 1: progress (default)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    ref_rttm = Path(args.ref_rttm) if args.ref_rttm else Path(args.truth).with_name("ground_truth.rttm")
    missing = [d for d in args.hyp_dirs if not Path(d).is_dir()]
    if missing:
        sys.exit(f"score_face_diarization: no such hypothesis folder {missing[0]}")
    try:
        import pyannote.metrics  # noqa: F401
    except ImportError:
        sys.exit('score_face_diarization: needs pyannote.metrics, the "eval" extra: pip install -e ".[eval]"')
    try:
        truth = read_face_truth(args.truth)
        hyps = load_hypotheses(args.hyp_dirs, truth)
        scores = score_videos(truth, read_rttm_file(ref_rttm), hyps, args.min_iou)
    except (OSError, ValueError, KeyError, TableError) as err:
        sys.exit(f"score_face_diarization: error: {err}")
    if scores.missing:
        log.warning("%d of %d ground-truth videos have no hypothesis: scored as missed", scores.missing,
                    scores.videos)
    print("\n".join(format_scores(scores)))
    if args.per_video:
        print("\n" + "\n".join(format_per_video(scores)))
    if args.out:
        with atomic_write(args.out) as f:
            json.dump(scores.as_dict(), f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
