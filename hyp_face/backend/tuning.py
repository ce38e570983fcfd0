"""Grid search of the back-end hyper-parameters thr_ahc, self_att_a, att_a and the rule that picks their values.

Every version whose parameters are all set by the shared config keys (``versions.config_keys``: v1-v7 and v9; v8's
self_att_a has its own key) is scored on raw cosine scores (no s-norm, no calibration) for every grid value, with
ROCCH-EER and min Cp (normalised min DCF at P_target = 0.05, docs/original_recipe.md §8.2).

Selection rule, on one set, per parameter group and over the versions that use it (``thr_ahc``: v4, v5;
``self_att_a`` and ``att_a`` jointly: v6, v7, v9, where v6 and v9 do not depend on ``att_a``):

* cost of a grid point = mean over those versions of (EER / EER_v1 + min Cp / min Cp_v1) / 2, i.e. both metrics of
  the results tables with equal weight, relative to the parameter-free v1 of the same set (floored, ``BASE_FLOOR``);
* smoothed cost = mean cost over the point and its grid neighbours (index distance <= 1 in every parameter), so a
  value on a broad good plateau wins over an isolated dip (one target trial is 0.16% of the miss rate with 640);
* the lowest smoothed cost wins (rounded to 1e-9; ties: the first in grid order).

The method and the numbers for the embedded default are in docs/backend_hparams.md.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hyp_face.backend.inputs import load_enrollment, load_tests, read_trials
from hyp_face.backend.versions import PARAM_DEFAULTS, SPECS, BackendParams, Scorer, enroll_side, test_side
from hyp_face.metrics.report import evaluate

log = logging.getLogger(__name__)

P_TARGET = 0.05
GRID: dict[str, tuple[float, ...]] = {
    "thr_ahc": (0.8, 0.85, 0.9, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98),
    "self_att_a": (2.0, 10.0, 20.0, 30.0, 40.0, 60.0, 80.0, 120.0),
    "att_a": (4.0, 10.0, 20.0, 40.0, 60.0, 80.0, 120.0),
}
#: Parameters chosen together (v7 uses both self_att_a and att_a).
GROUPS: tuple[tuple[str, ...], ...] = (("thr_ahc",), ("self_att_a", "att_a"))
BASE_FLOOR = {"eer": 0.1, "min_cp": 0.01}
#: Parameters of each tuned version, the parameter-free ones and then by number of parameters (tables list v7 last).
VERSION_PARAMS: dict[str, tuple[str, ...]] = {
    name: spec.params for name, spec in sorted(SPECS.items(), key=lambda item: len(item[1].params))
    if not spec.own_defaults
}
#: Per group, the tuned versions that use one of its parameters.
SELECTION: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = tuple(
    (names, tuple(v for v in SPECS if v in VERSION_PARAMS and set(VERSION_PARAMS[v]) & set(names)))
    for names in GROUPS
)

Results = dict[str, dict[str, dict[str, float]]]  # version -> setting key -> {"eer", "min_cp"}


@dataclass
class EvalSet:
    """One trial set loaded for scoring: enrollment refs, test faces and the trials as matrix indices + labels."""

    name: str
    refs: list[np.ndarray]
    video_model: np.ndarray
    num_models: int
    tests: list[np.ndarray]
    model_idx: np.ndarray
    test_idx: np.ndarray
    labels: np.ndarray

    @classmethod
    def load(cls, name: str, enroll: Path, test: Path, embed_dir: Path) -> EvalSet:
        """Set ``name`` from its enrollment and test data dirs and ``embed_dir``/{ref,facedet}/<data dir>."""
        models, segs, labels = read_trials(test / "trials")
        if labels is None:
            raise SystemExit(f"{test / 'trials'}: needs target/nontarget labels")
        seg_set = sorted(set(segs))
        en = load_enrollment(str(enroll / "utt2spk"), models, str(embed_dir / "ref" / enroll.name / "embed.scp"),
                             str(embed_dir / "facedet" / enroll.name / "embed.scp"))
        tests = load_tests(str(embed_dir / "facedet" / test.name / "embed.scp"), seg_set, en.refs[0].shape[1])
        model_pos = {m: i for i, m in enumerate(en.models)}
        test_pos = {t: i for i, t in enumerate(seg_set)}
        return cls(name, en.refs, en.video_model, len(en.models), tests,
                   np.array([model_pos[m] for m in models]), np.array([test_pos[t] for t in segs]), labels)

    def stats(self) -> dict:
        """Counts of the set: models, test videos, faces, trials."""
        return {"models": self.num_models, "enroll_videos": len(self.refs), "ref_faces": sum(map(len, self.refs)),
                "test_videos": len(self.tests), "test_faces": sum(map(len, self.tests)),
                "target_trials": int(self.labels.sum()), "nontarget_trials": int((~self.labels).sum())}

    def evaluate(self, params: BackendParams) -> dict[str, float]:
        """EER (%) and min Cp of the raw scores of one version and setting."""
        scorer = Scorer(params, enroll_side(params, self.refs), self.video_model, self.num_models)
        scores = scorer.score(test_side(params, self.tests))[self.model_idx, self.test_idx]
        res = evaluate(scores[self.labels], scores[~self.labels], priors=(P_TARGET,))
        return {"eer": res["eer_percent"], "min_cp": res["min_dcf"][str(P_TARGET)]}


def settings(version: str) -> list[dict[str, float]]:
    """Grid points of a version (one empty setting for the parameter-free ones)."""
    names = VERSION_PARAMS[version]
    return [dict(zip(names, values)) for values in itertools.product(*(GRID[n] for n in names))]


def setting_key(setting: dict[str, float]) -> str:
    """``thr_ahc=0.95`` or ``self_att_a=40,att_a=120``; ``-`` for no parameter."""
    return ",".join(f"{k}={v:g}" for k, v in setting.items()) or "-"


def run_grid(sets: list[EvalSet]) -> dict[str, Results]:
    """results[set][version][setting key] = {eer, min_cp}."""
    results: dict[str, Results] = {s.name: {} for s in sets}
    for s in sets:
        for version in VERSION_PARAMS:
            start = time.time()
            results[s.name][version] = {setting_key(st): s.evaluate(BackendParams(version, **st))
                                        for st in settings(version)}
            log.info("%s %s: %d settings in %.1f s", s.name, version, len(settings(version)), time.time() - start)
    return results


def relative_cost(res: Results, versions: tuple[str, ...], point: dict[str, float]) -> float:
    """Mean over ``versions`` of (EER / EER_v1 + min Cp / min Cp_v1) / 2 at the parameter values ``point``.

    The v1 values are floored (``BASE_FLOOR``) so that a set where v1 makes no error still ranks the points.
    """
    eer_v1, cp_v1 = (max(res["v1"]["-"][m], BASE_FLOOR[m]) for m in ("eer", "min_cp"))
    return float(np.mean([(r["eer"] / eer_v1 + r["min_cp"] / cp_v1) / 2
                          for r in (res[v][setting_key({k: point[k] for k in VERSION_PARAMS[v]})] for v in versions)]))


def smoothed(cost: dict[tuple[int, ...], float]) -> dict[tuple[int, ...], float]:
    """Mean cost over each grid point (given by its indices) and its neighbours (index distance <= 1 per axis)."""
    return {i: float(np.mean([c for j, c in cost.items() if max(abs(a - b) for a, b in zip(i, j)) <= 1]))
            for i in cost}


def select(res: Results) -> dict[str, float]:
    """Chosen values on one set's results: lowest grid-smoothed relative cost (module docstring)."""
    chosen: dict[str, float] = {}
    for names, versions in SELECTION:
        index = itertools.product(*(range(len(GRID[n])) for n in names))
        cost = smoothed({i: relative_cost(res, versions, {n: GRID[n][k] for n, k in zip(names, i)}) for i in index})
        best = min(cost, key=lambda i: round(cost[i], 9))
        chosen.update({n: GRID[n][k] for n, k in zip(names, best)})
    return chosen


def markdown(results: dict[str, Results], chosen: dict[str, float], select_set: str) -> list[str]:
    """Tables: summary (original vs chosen) and the full grid per version."""
    set_names = list(results)
    head = "| back-end | setting | " + " | ".join(f"{s} EER % | {s} min Cp" for s in set_names) + " |"
    rule = "|---|---|" + "---:|---:|" * len(set_names)

    def row(version: str, setting: dict[str, float], tag: str = "") -> str:
        key = setting_key({k: setting[k] for k in VERSION_PARAMS[version]})
        cells = " | ".join(f"{results[s][version][key]['eer']:.2f} | {results[s][version][key]['min_cp']:.3f}"
                           for s in set_names)
        return f"| {version} | {key}{tag} | {cells} |"

    lines = [f"Chosen on {select_set}: " + ", ".join(f"{k}={v:g}" for k, v in chosen.items()), "",
             "### Original (docs/original_recipe.md §12.1) vs chosen values", "", head, rule]
    for version, names in VERSION_PARAMS.items():
        lines.append(row(version, PARAM_DEFAULTS, " (original)" if names else ""))
        if names:
            lines.append(row(version, chosen, " (chosen)"))
    lines += ["", "### Full grid", "", head, rule]
    for version, names in VERSION_PARAMS.items():
        lines += [row(version, st) for st in settings(version) if names]
    return lines
