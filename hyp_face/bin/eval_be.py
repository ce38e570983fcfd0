"""Score a trial list with a training-free video back-end v1-v9, optionally s-normalised (docs/original_recipe.md §6).

Writes ``<model> <test> <score>`` lines (``%f``) for every trial in trial-file order, or with ``--full-matrix true``
the model x test cross product grouped by test (sorted test ids outer, models in enrollment-list order inner).
Arguments may also come from ``@FILE`` (one argument per line), as the run_04x scripts do.
``--print-be-name`` / ``--print-be-options`` print the back-end's directory name / resolved options for bash.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import numpy as np

from hyp_face.backend.aggregate import (
    Aggregator,
    AggregatorError,
    aggregate_sets,
    parse_aggregator,
    proxyfusion_model_path,
    tag,
)
from hyp_face.backend.engine import make_engine
from hyp_face.backend.kspaced import kspaced_sets
from hyp_face.backend.inputs import (
    load_cohort,
    load_enrollment,
    load_metas,
    load_tests,
    read_trials,
)
from hyp_face.backend.snorm import MODES
from hyp_face.backend.tracksets import TrackSetError, max_over_tracks, require_tracks, split_tracks
from hyp_face.backend.versions import (
    PARAM_DEFAULTS,
    SPECS,
    VERSIONS,
    BackendParams,
    Scorer,
    be_name,
    be_options,
    config_keys,
    default_value,
    enroll_side,
    params_from_config,
    test_side,
)
from hyp_face.cli import pin_threads, read_shell_config, run_main, setup_logging, str2bool, thread_count
from hyp_face.io.manifest import Job, step_manifest
from hyp_face.io.table import write_lines
from hyp_face.memory import keep_freed_memory
from hyp_face.metrics.scores import score_lines, template_text

log = logging.getLogger("eval_be")

# Rerun rule (docs/rerun.md): input files count by content, the embedding stores also by the files they list;
# where and how fast the scores are computed does not change them.
INPUT_ARGS = ("trials", "enroll_utt2spk", "ref_embed_scp", "enroll_facedet_embed_scp", "test_embed_scp",
              "cohort_utt2spk", "cohort_embed_scp")
EMBED_SCP_ARGS = ("ref_embed_scp", "enroll_facedet_embed_scp", "test_embed_scp", "cohort_embed_scp")
NEUTRAL_ARGS = ("score_file", "block_rows", "engine", "device", "num_threads", "verbose",
                "config_file", "thr_ahc", "self_att_a", "att_a")  # the parameters count as resolved (be_job)
BACKEND_CODE = ("backend", "fusion", "io/embed_store.py", "io/datadir.py", "bin/eval_be.py")
AGGREGATOR_ARGS = ("aggregator", "enroll_aggregator", "test_aggregator")
TEST_SETS = ("video", "tracks")


POSITIONALS = ("trials", "enroll_utt2spk", "ref_embed_scp", "enroll_facedet_embed_scp", "test_embed_scp",
               "score_file")
PARAM_HELP = {
    "thr_ahc": "AHC stops merging below this average cosine",
    "self_att_a": "self-attention scale a of softmax(a * cos)",
    "att_a": "scale of the enrollment-guided attention pooling",
}


def _users(param: str) -> str:
    """The versions that use ``param``, e.g. ``v4, v5``."""
    return ", ".join(v for v, spec in SPECS.items() if param in spec.params)


def _versions_epilog() -> str:
    """One line per back-end version (what it scores with, its parameters' defaults) and the config rule."""
    lines = ["back-end versions (--backend):"]
    for name, spec in SPECS.items():
        defaults = ", ".join(f"{p} {default_value(name, p):g}" for p in spec.params)
        lines.append(f"  {name}: {spec.summary}" + (f" [{defaults}]" if defaults else ""))
    own = [f"For {v}, {p} (original {d:g}) is set only by {config_keys(v, p)[0]}."
           for v, spec in SPECS.items() for p, d in spec.own_defaults.items()]
    lines += ["", "parameter values: command line > --config-file > the version's original default.",
              "A config sets a parameter for every version that shares its original default with <param>",
              "(thr_ahc=0.95), and for one version with <param>_<version> (thr_ahc_v5=0.96).",
              *own]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, epilog=_versions_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter,
        fromfile_prefix_chars="@",
        usage="%(prog)s [options] --backend vN " + " ".join(POSITIONALS)
              + "\n       %(prog)s --print-be-name|--print-be-options --backend vN [--config-file F] [parameters]")
    inputs = p.add_argument_group("inputs and output (all required unless printing)")
    for name, text in zip(POSITIONALS, (
            "trial list: <model> <test> [target|nontarget] lines",
            "utt2spk of the enrollment set: <enrollment video> <model>",
            "reference (bbox-guided) embeddings of the enrollment set",
            "unconstrained (face detector) embeddings of the enrollment set; used for a video without a reference "
            "face",
            "embeddings of the test videos",
            "output: <model> <test> <score> lines")):
        inputs.add_argument(name, nargs="?", help=text)
    be = p.add_argument_group("back-end")
    be.add_argument("--backend", required=True, choices=VERSIONS, help="back-end version (see the list below)")
    be.add_argument("--config-file", metavar="FILE",
                    help="global_conf file whose back-end keys (see below) replace the defaults; read, never executed")
    for param, text in PARAM_HELP.items():
        be.add_argument(f"--{param.replace('_', '-')}", type=float, default=None, dest=param,
                        metavar="A" if "att" in param else "T",
                        help=f"{text} ({_users(param)}); default: the config file, else the version's original value")
    be.add_argument("--aggregator", metavar="SPEC", default="",
                    help="pool each set into one vector on both sides, replacing the version's side rules: mean, "
                         "median, pairs (mean-of-pairs scoring), qmean:score|size|sharpness|norm[:gamma] "
                         "(quality-weighted mean) or proxyfusion:MODEL.pt[:W] (W: weight of the mean in a residual blend; "
                         "see hyp_face.backend.aggregate)")
    be.add_argument("--kspaced", metavar="K", type=int, default=0,
                    help="keep only K evenly spaced faces of each enrollment and test video (by their stored times) "
                         "before pooling; with --aggregator pairs, K=5 is the face score of Tao et al. 2022 "
                         "(0: every face)")
    be.add_argument("--enroll-aggregator", metavar="SPEC", default="",
                    help="aggregator of the enrollment side only (overrides --aggregator there)")
    be.add_argument("--test-aggregator", metavar="SPEC", default="",
                    help="aggregator of the test side only (overrides --aggregator there)")
    be.add_argument("--test-sets", choices=TEST_SETS, default="video",
                    help="video: the faces of a test video form one set (default); tracks: each face track of a "
                         "test video (stored with extract_face_embed --track-fps) is a set of its own, pooled on its "
                         "own, and the video scores the maximum over its tracks (untracked faces form one set)")
    be.add_argument("--print-be-name", action="store_true",
                    help="print the back-end directory name (e.g. be_v4_thrahc0.8) and exit")
    be.add_argument("--print-be-options", action="store_true",
                    help="print the resolved --backend and parameter options, one line, and exit")
    sn = p.add_argument_group("s-norm")
    sn.add_argument("--snorm", default="none", choices=MODES,
                    help="faithful: the original adaptive s-norm; asnorm: the textbook one (default: none)")
    sn.add_argument("--cohort-utt2spk", metavar="FILE", help="utt2spk of the cohort set (needed with --snorm)")
    sn.add_argument("--cohort-embed-scp", metavar="FILE", help="embeddings of the cohort set (needed with --snorm)")
    sn.add_argument("--ncoh", metavar="N", type=int, default=1000, help="cohort faces kept per side (default: 1000)")
    sn.add_argument("--ncoh-discard", metavar="N", type=int, default=0,
                    help="closest cohort faces skipped first, e.g. when the test set is the cohort (default: 0)")
    run = p.add_argument_group("output and execution")
    run.add_argument("--full-matrix", metavar="BOOL", type=str2bool, default=False,
                     help="true: write the model x test cross product grouped by sorted test (default: false)")
    run.add_argument("--block-rows", metavar="N", type=int, default=4096,
                     help="test faces per score block (default: 4096)")
    run.add_argument("--engine", default="auto", choices=("auto", "numpy", "torch"),
                     help="array engine (float64 either way); auto: numpy on the CPU, torch on a GPU")
    run.add_argument("--device", metavar="DEV", default="cpu",
                     help="cpu, cuda or cuda:N (cuda needs the torch engine)")
    run.add_argument("--num-threads", metavar="N", type=int, default=None,
                     help="CPU threads scoring blocks concurrently (default: $HYP_FACE_THREADS or 1)")
    run.add_argument("--verbose", metavar="N", type=int, default=1,
                     help="0: warnings only; 1: progress and summary (default)")
    return p


def backend_params(args: argparse.Namespace) -> BackendParams:
    """The version's parameters: command line > ``--config-file`` > original defaults."""
    config = read_shell_config(args.config_file) if args.config_file else {}
    given = {p: getattr(args, p) for p in PARAM_DEFAULTS}
    try:
        return params_from_config(args.backend, config, given, origin=args.config_file or "config")
    except (OSError, ValueError) as err:
        raise SystemExit(f"eval_be: {err}") from None


def side_aggregators(args: argparse.Namespace) -> tuple[Aggregator | None, Aggregator | None]:
    """The enrollment and test aggregators (None: the version's own rule on that side)."""
    config = read_shell_config(args.config_file) if args.config_file else {}
    embedder = config.get("face_recognizer") or None
    specs = (args.enroll_aggregator or args.aggregator, args.test_aggregator or args.aggregator)
    try:
        aggs = tuple(parse_aggregator(s, embedder) if s else None for s in specs)
    except (AggregatorError, OSError) as err:
        raise SystemExit(f"eval_be: {err}") from None
    if aggs[1] is not None and SPECS[args.backend].attention_pooling:
        raise SystemExit(f"eval_be: {args.backend} pools the test side by attention; use another version with "
                         "a test-side aggregator (v1 scores the pooled vectors by plain cosine)")
    return aggs  # type: ignore[return-value]


def full_be_name(params: BackendParams, aggs: tuple[Aggregator | None, Aggregator | None], kspaced: int = 0,
                 test_sets: str = "video") -> str:
    """``be_name`` plus the K-spaced selection, per-track test sets and the aggregators, e.g.
    ``be_v1_agg_qmean-sharpness``, ``be_v1_k5_agg_pairs``, ``be_v1_tracks_agg_mean`` or
    ``be_v1_enragg_mean_testagg_pairs``."""
    enroll, test = aggs
    name = be_name(params) + (f"_k{kspaced}" if kspaced else "") + ("_tracks" if test_sets == "tracks" else "")
    if enroll is None and test is None:
        return name
    if enroll is not None and test is not None and enroll.spec == test.spec:
        return f"{name}_agg_{tag(enroll)}"
    sides = [f"{side}agg_{tag(a)}" for side, a in (("enr", enroll), ("test", test)) if a is not None]
    return "_".join([name, *sides])


def print_backend(args: argparse.Namespace, params: BackendParams) -> bool:
    """Answer ``--print-be-name`` / ``--print-be-options``; whether there was anything to print."""
    if args.print_be_name:
        print(full_be_name(params, side_aggregators(args), args.kspaced, args.test_sets))
    if args.print_be_options:
        print(" ".join(be_options(params)))
    return args.print_be_name or args.print_be_options


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line, with the inputs required unless only printing."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.kspaced < 0:
        parser.error(f"--kspaced must be 0 (every face) or a number of faces, got {args.kspaced}")
    if args.kspaced and args.test_sets == "tracks":
        parser.error("--kspaced selects faces per video and cannot be combined with --test-sets tracks")
    missing = [n for n in POSITIONALS if getattr(args, n) is None]
    if missing and not (args.print_be_name or args.print_be_options):
        parser.error("the following arguments are required: " + ", ".join(missing))
    return args


def format_lines(models: list[str], tests: list[str], model_idx: np.ndarray, test_idx: np.ndarray,
                 scores: np.ndarray) -> list[str]:
    """``<model> <test> <score>`` lines (``%f``) for the given (model, test) index pairs, as one block of text
    (:func:`hyp_face.metrics.scores.score_lines`)."""
    names_m, names_t = template_text(models), template_text(tests)
    return score_lines([names_m[m] for m in model_idx.tolist()], [names_t[t] for t in test_idx.tolist()],
                       scores[model_idx, test_idx].tolist())


def format_matrix(models: list[str], tests: list[str], scores: np.ndarray) -> list[str]:
    """The lines of :func:`format_lines` for the whole (models x tests) matrix, test-major, one block per test.

    Each test's lines come from one ``%`` of a template holding the model names (3x faster than one f-string per
    line on 10^5 lines and more).
    """
    template = "\n".join(m + " %s %f" for m in template_text(models))
    args: list[object] = [None] * (2 * len(models))
    blocks = []
    for test, column in zip(tests, scores.T.tolist()):
        args[0::2] = [test] * len(models)
        args[1::2] = column
        blocks.append(template % tuple(args))
    return blocks


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


def pooled_side(agg: Aggregator, sets: list[np.ndarray], scp: str, keys: list[str], side: str,
                metas: list | None = None) -> list[np.ndarray]:
    """One pooled vector per set, with the face metadata (``metas``, else read from ``scp``) when the aggregator
    weighs faces by quality (a set the loaders replaced by one stand-in vector is pooled without it)."""
    if not agg.needs_meta:
        metas = [None] * len(sets)
    elif metas is None:
        metas = [m if len(m) == len(x) else None for m, x in zip(load_metas(scp, keys), sets)]
    try:
        return aggregate_sets(agg, sets, metas, side, [f"{scp}: {k}" for k in keys])
    except AggregatorError as err:
        raise SystemExit(f"eval_be: {err}") from None


def track_test_sets(tests: list[np.ndarray], scp: str, keys: list[str]
                    ) -> tuple[list[np.ndarray], list, list[str], np.ndarray]:
    """The test videos split into their face tracks (``split_tracks``), from the metadata stored in ``scp``."""
    metas = load_metas(scp, keys)
    try:
        require_tracks(metas, scp)
    except TrackSetError as err:
        raise SystemExit(f"eval_be: {err}") from None
    return split_tracks(tests, metas, keys)


def be_job(args: argparse.Namespace, params: BackendParams) -> Job:
    """The scoring job: the score file and the manifest of its inputs (by content), options and code."""
    inputs = {name: getattr(args, name) for name in INPUT_ARGS}
    inputs.update({f"{name}_model": proxyfusion_model_path(getattr(args, name)) for name in AGGREGATOR_ARGS
                   if getattr(args, name).startswith("proxyfusion:")})  # a trained model counts by content
    manifest = step_manifest(args, inputs, NEUTRAL_ARGS, BACKEND_CODE, scp_inputs=EMBED_SCP_ARGS)
    manifest["options"].update({p: getattr(params, p) for p in SPECS[params.version].params})  # as resolved
    return Job(f"eval_be {args.score_file}", [args.score_file], manifest)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    params = backend_params(args)
    if print_backend(args, params):
        return
    setup_logging(args.verbose)
    if args.snorm != "none" and not (args.cohort_utt2spk and args.cohort_embed_scp):
        raise SystemExit("eval_be: --snorm needs --cohort-utt2spk and --cohort-embed-scp")
    job = be_job(args, params)
    if not job.start(log):
        return
    start = time.time()
    try:
        engine = make_engine(args.engine, args.device)
    except (ValueError, RuntimeError) as err:
        raise SystemExit(f"eval_be: {err}") from None
    # torch intra-op threads, or numpy block workers (the numpy engine never imports torch)
    threads = pin_threads(args.num_threads) if engine.name == "torch" else thread_count(args.num_threads)
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
    enroll_agg, test_agg = side_aggregators(args)
    test_names, test_metas, enroll_metas, track_owner = seg_set, None, None, None
    if args.kspaced:  # the cut sets keep their metadata, for the quality-weighted aggregators
        tests, test_metas = kspaced_sets(tests, load_metas(args.test_embed_scp, seg_set), args.kspaced)
        enroll.refs, enroll_metas = kspaced_sets(enroll.refs, load_metas(args.ref_embed_scp, enroll.videos),
                                                 args.kspaced)
    if args.test_sets == "tracks":
        tests, test_metas, test_names, track_owner = track_test_sets(tests, args.test_embed_scp, seg_set)
    tests = (test_side(params, tests) if test_agg is None
             else pooled_side(test_agg, tests, args.test_embed_scp, test_names, "test", test_metas))
    refs = (enroll_side(params, enroll.refs) if enroll_agg is None
            else pooled_side(enroll_agg, enroll.refs, args.ref_embed_scp, enroll.videos, "enroll", enroll_metas))
    scorer = Scorer(params, refs, enroll.video_model, len(enroll.models),
                    block_rows=args.block_rows, engine=engine,
                    workers=1 if engine.name == "torch" else threads,
                    unit_enroll=enroll_agg is None or enroll_agg.unit, unit_test=test_agg is None or test_agg.unit)
    if enroll_agg is not None or test_agg is not None:
        check_dims(tests, refs, "the enrollment side after pooling", "the test side after pooling")
    snorm = None
    if args.snorm != "none":
        cohort = load_cohort(args.cohort_utt2spk, args.cohort_embed_scp)
        if test_agg is not None and test_agg.kind == "proxyfusion":  # cohort faces as one-face gallery sets
            cohort = np.concatenate(aggregate_sets(test_agg, [f[None] for f in cohort], side="enroll"))
        check_dims(tests, [cohort], args.cohort_embed_scp, args.test_embed_scp)
        snorm = scorer.cohort_norm(args.snorm, cohort, args.ncoh, args.ncoh_discard)
    scores = scorer.score(tests, snorm, progress=args.verbose > 0)
    if track_owner is not None:
        scores = max_over_tracks(scores, track_owner)
    if args.full_matrix:
        write_lines(args.score_file, format_matrix(enroll.models, seg_set, scores))
    else:
        model_pos = {m: i for i, m in enumerate(enroll.models)}
        test_pos = {t: i for i, t in enumerate(seg_set)}
        model_idx = np.fromiter(map(model_pos.__getitem__, trial_models), np.int64, len(trial_models))
        test_idx = np.fromiter(map(test_pos.__getitem__, trial_tests), np.int64, len(trial_tests))
        write_lines(args.score_file, format_lines(enroll.models, seg_set, model_idx, test_idx, scores))
    job.finish()
    log.info("%s%s: %d models x %d tests, %d lines in %s (%s on %s, %.1f s)", args.backend,
             "" if args.snorm == "none" else f" + {args.snorm} s-norm", len(enroll.models), len(seg_set),
             scores.size if args.full_matrix else len(trial_models), args.score_file, engine.name, args.device,
             time.time() - start)


if __name__ == "__main__":
    keep_freed_memory()  # this process is one batch job: it reuses what it frees, in 4 kB pages (hyp_face.memory)
    sys.exit(run_main(main))
