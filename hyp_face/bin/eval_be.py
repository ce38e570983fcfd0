"""Score a trial list with a training-free video back-end v1-v9, optionally s-normalised (spec 6).

Writes ``<model> <test> <score>`` lines (``%f``) for every trial in trial-file order, or with ``--full-matrix true``
the model x test cross product grouped by test (sorted test ids outer, models in enrollment-list order inner).
Arguments may also come from ``@FILE`` (one argument per line), as the run_04x scripts do.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np

from hyp_face.backend.engine import make_engine
from hyp_face.backend.inputs import (
    load_cohort,
    load_enrollment,
    load_tests,
    read_trials,
)
from hyp_face.backend.snorm import MODES
from hyp_face.backend.versions import (
    VERSIONS,
    BackendParams,
    Scorer,
    enroll_side,
    test_side,
)
from hyp_face.cli import pin_threads, setup_logging, str2bool
from hyp_face.io.manifest import Job, step_manifest
from hyp_face.io.table import write_lines

log = logging.getLogger("eval_be")

# Rerun rule (docs/rerun.md): input files count by content, the embedding stores also by the files they list;
# where and how fast the scores are computed does not change them.
INPUT_ARGS = ("trials", "enroll_utt2spk", "ref_embed_scp", "enroll_facedet_embed_scp", "test_embed_scp",
              "cohort_utt2spk", "cohort_embed_scp")
EMBED_SCP_ARGS = ("ref_embed_scp", "enroll_facedet_embed_scp", "test_embed_scp", "cohort_embed_scp")
NEUTRAL_ARGS = ("score_file", "block_rows", "engine", "device", "num_threads", "verbose")
BACKEND_CODE = ("backend", "io/embed_store.py", "io/datadir.py", "bin/eval_be.py")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                fromfile_prefix_chars="@")
    p.add_argument("trials")
    p.add_argument("enroll_utt2spk")
    p.add_argument("ref_embed_scp", help="reference (bbox-guided) embeddings of the enrollment set")
    p.add_argument("enroll_facedet_embed_scp", help="unconstrained embeddings of the enrollment set")
    p.add_argument("test_embed_scp")
    p.add_argument("score_file")
    p.add_argument("--backend", required=True, choices=VERSIONS)
    p.add_argument("--thr-ahc", type=float, default=0.8)
    p.add_argument("--self-att-a", type=float, default=None, help="default 2 (1 for v8, as the original)")
    p.add_argument("--att-a", type=float, default=4.0)
    p.add_argument("--snorm", default="none", choices=MODES)
    p.add_argument("--cohort-utt2spk")
    p.add_argument("--cohort-embed-scp")
    p.add_argument("--ncoh", type=int, default=1000)
    p.add_argument("--ncoh-discard", type=int, default=0)
    p.add_argument("--full-matrix", type=str2bool, default=False)
    p.add_argument("--block-rows", type=int, default=4096, help="test faces per score block")
    p.add_argument("--engine", default="auto", choices=("auto", "numpy", "torch"),
                   help="array engine (float64 either way); auto: numpy on the CPU, torch on a GPU")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (cuda needs the torch engine)")
    p.add_argument("--num-threads", type=int, default=None,
                   help="CPU threads scoring blocks concurrently (default: $HYP_FACE_THREADS or 1)")
    p.add_argument("--verbose", type=int, default=1)
    return p


def format_lines(models: list[str], tests: list[str], model_idx: np.ndarray, test_idx: np.ndarray,
                 scores: np.ndarray) -> list[str]:
    """``<model> <test> <score>`` lines for the given (model, test) index pairs."""
    values = scores[model_idx, test_idx]
    return [f"{models[m]} {tests[t]} {v:f}" for m, t, v in zip(model_idx.tolist(), test_idx.tolist(), values)]


def check_dims(tests: list[np.ndarray], others: list[np.ndarray], other: str, test_scp: str) -> None:
    """Exit naming both sources when two embedding sets differ in dimension (e.g. two networks mixed)."""
    test_dim, dims = tests[0].shape[1], sorted({m.shape[1] for m in others})
    if dims != [test_dim]:
        raise SystemExit(f"eval_be: {other} holds {'/'.join(map(str, dims))}-D embeddings but {test_scp} holds "
                         f"{test_dim}-D ones")


def require_some_faces(mats: list[np.ndarray], what: str, sources: str) -> None:
    """Exit naming ``sources`` when no video of ``what`` has an embedding: the loaders stand in a zero vector for
    each video without faces, so every score would be 0 (EER 50%), typically after a moved or broken corpus."""
    if not any(np.count_nonzero(m) for m in mats):
        raise SystemExit(f"eval_be: no {what} has a face embedding in {sources}: check the extraction summary "
                         "(unreadable videos, e.g. a vid.scp pointing at a moved corpus)")


def be_job(args: argparse.Namespace) -> Job:
    """The scoring job: the score file and the manifest of its inputs (by content), options and code."""
    inputs = {name: getattr(args, name) for name in INPUT_ARGS}
    manifest = step_manifest(args, inputs, NEUTRAL_ARGS, BACKEND_CODE, scp_inputs=EMBED_SCP_ARGS)
    return Job(f"eval_be {args.score_file}", [args.score_file], manifest)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    if args.snorm != "none" and not (args.cohort_utt2spk and args.cohort_embed_scp):
        raise SystemExit("eval_be: --snorm needs --cohort-utt2spk and --cohort-embed-scp")
    job = be_job(args)
    if not job.start(log):
        return
    start = time.time()
    try:
        engine = make_engine(args.engine, args.device)
    except (ValueError, RuntimeError) as err:
        raise SystemExit(f"eval_be: {err}") from None
    threads = pin_threads(args.num_threads)  # torch intra-op threads, or numpy block workers
    self_att_a = args.self_att_a if args.self_att_a is not None else 1.0 if args.backend == "v8" else 2.0
    params = BackendParams(args.backend, args.thr_ahc, self_att_a, args.att_a)
    trial_models, trial_tests, _ = read_trials(args.trials)
    seg_set = sorted(set(trial_tests))
    if not seg_set:
        raise SystemExit(f"eval_be: {args.trials} has no trials")
    tests = load_tests(args.test_embed_scp, seg_set)
    enroll = load_enrollment(args.enroll_utt2spk, trial_models, args.ref_embed_scp, args.enroll_facedet_embed_scp,
                             default_dim=tests[0].shape[1])
    require_some_faces(tests, "test video", args.test_embed_scp)
    require_some_faces(enroll.refs, "enrollment model", f"{args.ref_embed_scp} or {args.enroll_facedet_embed_scp}")
    check_dims(tests, enroll.refs, f"{args.ref_embed_scp} + {args.enroll_facedet_embed_scp}", args.test_embed_scp)
    tests = test_side(params, tests)
    scorer = Scorer(params, enroll_side(params, enroll.refs), enroll.video_model, len(enroll.models),
                    block_rows=args.block_rows, engine=engine,
                    workers=1 if engine.name == "torch" else threads)
    snorm = None
    if args.snorm != "none":
        cohort = load_cohort(args.cohort_utt2spk, args.cohort_embed_scp)
        check_dims(tests, [cohort], args.cohort_embed_scp, args.test_embed_scp)
        snorm = scorer.cohort_norm(args.snorm, cohort, args.ncoh, args.ncoh_discard)
    scores = scorer.score(tests, snorm, progress=args.verbose > 0)
    if args.full_matrix:
        test_idx, model_idx = np.divmod(np.arange(scores.size), len(enroll.models))
    else:
        model_pos = {m: i for i, m in enumerate(enroll.models)}
        test_pos = {t: i for i, t in enumerate(seg_set)}
        model_idx = np.array([model_pos[m] for m in trial_models], dtype=np.int64)
        test_idx = np.array([test_pos[t] for t in trial_tests], dtype=np.int64)
    write_lines(args.score_file, format_lines(enroll.models, seg_set, model_idx, test_idx, scores))
    job.finish()
    log.info("%s%s: %d models x %d tests, %d lines in %s (%s on %s, %.1f s)", args.backend,
             "" if args.snorm == "none" else f" + {args.snorm} s-norm", len(enroll.models), len(seg_set),
             len(model_idx), args.score_file, engine.name, args.device, time.time() - start)


if __name__ == "__main__":
    main()
