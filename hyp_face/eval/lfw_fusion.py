"""Score fusion of two (or more) face systems on LFW View 2, calibrated over the 10 folds.

    python -m hyp_face.eval.lfw_fusion --lfw-dir DIR --pairs FILE --config-files A.sh B.sh [--out-dir D] \
        [--pairs-per-fold N]

Each system's pair scores come from ``hyp_face.eval.lfw`` (same front end, same embedding cache). For each fold,
every system's calibration (its config's ``calibration=``, e.g. ``linear_neglog1m`` for dlib) and the greedy
logistic fusion of the calibrated LLRs (``hyp_face.calibrate.fusion``) are trained on the 9 other folds and applied
to the held-out fold; the equal-weight mean of the calibrated LLRs needs no training. The pooled held-out LLRs give
the ROCCH-EER, Cllr, minCllr and min/act normalised DCF at P_target 0.05 of each system and of both fusions.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from hyp_face.calibrate.av_fusion import mean_fusion
from hyp_face.calibrate.fusion import train_greedy_fusion
from hyp_face.calibrate.models import train_named_calibration
from hyp_face.cli import pin_threads, read_shell_config, run_main, setup_logging
from hyp_face.eval.lfw import Pairs, cached_embeddings, pair_scores, read_pairs
from hyp_face.frontend import FrontEndConfig, MissingModelError
from hyp_face.io.table import atomic_write
from hyp_face.metrics.dcf import act_dcf, cllr
from hyp_face.metrics.rocch import min_cllr, min_dcf, rocch, rocch_eer, sort_scores

log = logging.getLogger("hyp_face.eval.lfw_fusion")
P_TARGET = 0.05


def crossfold_llrs(scores: np.ndarray, same: np.ndarray, fold: np.ndarray, calibrations: Sequence[str],
                   p_target: float = P_TARGET) -> dict[str, np.ndarray]:
    """Held-out LLRs of every system (columns of ``scores``) and of the mean and greedy fusions: each fold is
    calibrated and fused by models trained on the other folds."""
    n, m = scores.shape
    llr = np.zeros((n, m))
    greedy = np.zeros(n)
    for f in np.unique(fold):
        train, test = fold != f, fold == f
        train_llr = np.zeros((int(train.sum()), m))
        for j, name in enumerate(calibrations):
            cal = train_named_calibration(name, scores[train, j], same[train], p_target)
            train_llr[:, j], llr[test, j] = cal(scores[train, j]), cal(scores[test, j])
        fusion = train_greedy_fusion(train_llr, same[train], [str(j) for j in range(m)], m, p_target).fusions[-1]
        greedy[test] = fusion(llr[test])
    return {**{f"system{j + 1}": llr[:, j] for j in range(m)}, "mean": mean_fusion(llr), "greedy": greedy}


def llr_metrics(llr: np.ndarray, same: np.ndarray, p_target: float = P_TARGET) -> dict[str, float]:
    """ROCCH-EER (%), Cllr, minCllr, min and act normalised DCF at ``p_target``."""
    tar, non = sort_scores(llr[same], llr[~same])
    hull = rocch(tar, non)
    return {"eer": 100 * rocch_eer(hull), "cllr": cllr(tar, non), "min_cllr": min_cllr(hull),
            "min_dcf": min_dcf(hull, p_target), "act_dcf": act_dcf(tar, non, p_target)}


def system_scores(config_files: Sequence[str], pairs: Pairs, cache_dir: Path, device: str,
                  batch_size: int) -> tuple[np.ndarray, list[str], list[str]]:
    """(pairs, systems) cosine scores, the systems' front-end descriptions and calibration models."""
    columns, names, calibrations = [], [], []
    for path in config_files:
        cfg = FrontEndConfig.from_file(path)
        embeds, _, _ = cached_embeddings(cfg, pairs, cache_dir, device, batch_size, cfg.thresholds("facedet")[0])
        columns.append(pair_scores(embeds, pairs))
        names.append(f"{cfg.embedder} ({Path(path).name})")
        calibrations.append(read_shell_config(path).get("calibration", "linear"))
    return np.column_stack(columns), names, calibrations


def markdown(report: dict) -> str:
    lines = [f"# LFW View 2 fusion, {report['num_pairs']} pairs, calibrated over {report['num_folds']} folds", "",
             "| system | calibration | EER % | Cllr | minCllr | min Cp | act Cp |", "|---|---|---|---|---|---|---|"]
    for row in report["results"].values():
        m = row["metrics"]
        lines.append(f"| {row['name']} | {row['calibration']} | {m['eer']:.2f} | {m['cllr']:.4f} | "
                     f"{m['min_cllr']:.4f} | {m['min_dcf']:.3f} | {m['act_dcf']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lfw-dir", required=True)
    p.add_argument("--pairs", required=True, help="pairs_resolved.csv or pairs.txt")
    p.add_argument("--config-files", nargs="+", required=True, help="one global config per face system")
    p.add_argument("--pairs-per-fold", type=int, help="only the first N same and N different pairs of each fold")
    p.add_argument("--out-dir", default="exp/lfw_fusion", help="results; the embedding cache is <out-dir>/cache")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--num-threads", type=int, default=None)
    p.add_argument("--verbose", type=int, default=1)
    args = p.parse_args(argv)
    setup_logging(args.verbose)
    logging.getLogger("hyp_face.calibrate.fusion").setLevel(logging.WARNING)  # one line per candidate and fold
    pin_threads(args.num_threads)
    pairs = read_pairs(args.pairs, args.lfw_dir)
    if args.pairs_per_fold:
        pairs = pairs.subset(args.pairs_per_fold)
    out = Path(args.out_dir)
    try:
        scores, names, cals = system_scores(args.config_files, pairs, out / "cache", args.device, args.batch_size)
    except MissingModelError as err:
        raise SystemExit(f"hyp_face.eval.lfw_fusion: {err}") from None
    llrs = crossfold_llrs(scores, pairs.same, pairs.fold, cals)
    labels = {**{f"system{j + 1}": (n, c) for j, (n, c) in enumerate(zip(names, cals))},
              "mean": ("equal-weight mean of the calibrated LLRs", "-"),
              "greedy": ("greedy logistic fusion of the calibrated LLRs", "trained on 9 folds")}
    report = {"num_pairs": int(len(pairs.same)), "num_folds": int(len(np.unique(pairs.fold))), "p_target": P_TARGET,
              "results": {k: {"name": labels[k][0], "calibration": labels[k][1],
                              "metrics": llr_metrics(v, pairs.same)} for k, v in llrs.items()}}
    with atomic_write(out / "lfw_fusion.json") as f:
        json.dump(report, f, indent=2)
    with atomic_write(out / "lfw_fusion.md") as f:
        f.write(markdown(report))
    print(markdown(report))
    return report


if __name__ == "__main__":
    sys.exit(run_main(main))
