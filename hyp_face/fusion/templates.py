"""The template protocol (issue 12): deterministic LFW template draws as data dirs, and its metrics.

Templates come from the face stores of :mod:`hyp_face.fusion.faces` (every image embedded clean and degraded).
For draw ``d`` and identity ``n`` (split by the hash of its name), a generator seeded by (seed, n, d) shuffles
the identity's images and cuts two disjoint templates of ``min(len // 2, max_size)`` images, the enrollment
template ``<n>-d<d>-e`` and the test template ``<n>-d<d>-t``. In the *degraded* condition a random half of each
template's images (``len // 2``, one more with probability 1/2 when the size is odd) come from the degraded store;
the *clean* condition uses the same images, all clean. ``<split>_faces.utt2spk`` (train, dev) maps every image of
the split to its identity, for training. Each condition of a split is a data dir:

* ``embed.{h5,scp}``: one (N, D) set per template, with its faces' metadata (so every aggregator can run);
* ``utt2spk``: every template -> its draw's template id (enrollment templates are the models) and ``spk``:
  template -> identity;
* ``trials``: within each draw, every enrollment template x every test template (target when the identities match).

Metrics (:func:`protocol_metrics`) are TAR at FAR 1e-2 / 1e-3 / 1e-4 over the trials and Rank-1 of each test
template against its draw's enrollment templates; :func:`paired_bootstrap` gives the 95% interval of a method's
difference from a baseline, resampling identities (the same resample for both).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from hyp_face.io.embed_store import EmbedReader, EmbedWriter, FaceMeta
from hyp_face.io.table import write_lines

from .faces import LFW_NAME, name_hash, split_of

log = logging.getLogger(__name__)

FARS = (1e-2, 1e-3, 1e-4)
CONDITIONS = ("clean", "degraded")


@dataclass(frozen=True)
class Template:
    key: str
    identity: str
    draw: int
    role: str  # "e" (enrollment) or "t" (test)
    images: tuple[str, ...]
    degraded: tuple[bool, ...]


def identities_of(keys: list[str]) -> dict[str, list[str]]:
    """Image keys (``<Name>_<NNNN>``) grouped by identity, sorted."""
    groups: dict[str, list[str]] = {}
    for key in sorted(keys):
        m = LFW_NAME.match(key + ".jpg")
        if m is None:
            raise ValueError(f"face store key {key!r} is not an LFW image name <Name>_<NNNN>")
        groups.setdefault(m["name"], []).append(key)
    return groups


def random_half(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random boolean mask of ``n // 2`` (odd n: one more with probability 1/2) True values."""
    k = n // 2 + int(n % 2 == 1 and rng.random() < 0.5)
    mask = np.zeros(n, bool)
    mask[rng.choice(n, size=k, replace=False)] = True
    return mask


def draw_templates(groups: dict[str, list[str]], split: str, num_draws: int, max_size: int, min_images: int = 4,
                   seed: int = 0) -> list[Template]:
    """Templates of the identities of ``split`` with >= ``min_images`` images, ``num_draws`` draws."""
    out = []
    for name in sorted(groups):
        images = groups[name]
        if split_of(name) != split or len(images) < min_images:
            continue
        size = min(len(images) // 2, max_size)
        for d in range(num_draws):
            rng = np.random.default_rng([seed, name_hash(name) % 2**32, d])
            order = rng.permutation(len(images))
            for role, part in (("e", order[:size]), ("t", order[size:2 * size])):
                out.append(Template(f"{name}-d{d}-{role}", name, d, role, tuple(images[i] for i in part),
                                    tuple(random_half(size, rng).tolist())))
    if not out:
        raise ValueError(f"no identity of split {split!r} has >= {min_images} images")
    return out


def write_condition(templates: list[Template], faces_dir: Path, condition: str, out_dir: Path) -> None:
    """The data dir of one split and condition (see the module docstring)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with EmbedReader(faces_dir / "clean.scp") as clean, EmbedReader(faces_dir / "degraded.scp") as bad, \
            EmbedWriter(out_dir / "embed") as writer:
        for t in templates:
            rows, metas = [], []
            for image, worse in zip(t.images, t.degraded):
                store = bad if worse and condition == "degraded" else clean
                rows.append(store.read(image))
                metas.append(store.read_meta(image))
            writer.write(t.key, np.concatenate(rows), FaceMeta.concat(metas))
    write_lines(out_dir / "utt2spk", sorted(f"{t.key} {t.key}" for t in templates))
    write_lines(out_dir / "spk", sorted(f"{t.key} {t.identity}" for t in templates))
    enroll = [t for t in templates if t.role == "e"]
    tests = [t for t in templates if t.role == "t"]
    lines = [f"{e.key} {t.key} {'target' if e.identity == t.identity else 'nontarget'}"
             for e in enroll for t in tests if e.draw == t.draw]
    write_lines(out_dir / "trials", lines)


def make_protocol(faces_dir: Path, out_dir: Path, num_draws: int, max_size: int, seed: int = 0,
                  splits: tuple[str, ...] = ("dev", "test")) -> None:
    """``<out_dir>/<split>_<condition>/`` data dirs for every split and condition."""
    with EmbedReader(faces_dir / "clean.scp") as reader:
        groups = identities_of(reader.keys())
    for split in ("train", "dev"):  # ProxyFusion's training and dev faces: image -> identity
        write_lines(out_dir / f"{split}_faces.utt2spk",
                    [f"{k} {n}" for n in sorted(groups) if split_of(n) == split for k in groups[n]])
    for split in splits:
        templates = draw_templates(groups, split, num_draws, max_size, seed=seed)
        for condition in CONDITIONS:
            write_condition(templates, faces_dir, condition, out_dir / f"{split}_{condition}")
        log.info("%s: %d identities x %d draws, templates of at most %d images", split,
                 len({t.identity for t in templates}), num_draws, max(len(t.images) for t in templates))


# ---------------------------------------------------------------------------------------------- metrics


@dataclass
class ScoredTrials:
    """Scores of a protocol's trials with the identities and draw of both sides (indices into ``identities``)."""

    scores: np.ndarray
    target: np.ndarray
    enroll_id: np.ndarray
    test_id: np.ndarray
    test_key: np.ndarray  # index of the test template (Rank-1 groups)
    identities: list[str]

    @cached_property
    def impostors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Impostor scores in descending order and the enrollment and test identities in that order."""
        imp = ~self.target
        order = np.argsort(-self.scores[imp], kind="stable")
        return self.scores[imp][order], self.enroll_id[imp][order], self.test_id[imp][order]

    @cached_property
    def rank1_hits(self) -> tuple[np.ndarray, np.ndarray]:
        """Per test template: whether its best-scoring enrollment template has its identity, and its identity."""
        n = int(self.test_key.max()) + 1
        best = np.full(n, -np.inf)
        np.maximum.at(best, self.test_key, self.scores)
        genuine = np.full(n, -np.inf)
        np.maximum.at(genuine, self.test_key[self.target], self.scores[self.target])
        identity = np.zeros(n, np.int64)
        identity[self.test_key] = self.test_id
        return genuine >= best, identity


def read_scored_trials(trials: Path, spk: Path, score_file: Path) -> ScoredTrials:
    """Join a trial list, its template -> identity map and a ``<model> <test> <score>`` file (every trial)."""
    ident = dict(line.split() for line in spk.read_text().splitlines())
    scores = {}
    for lineno, line in enumerate(score_file.read_text().splitlines(), 1):
        parts = line.split()
        if len(parts) != 3:
            raise ValueError(f"{score_file}:{lineno}: expected '<model> <test> <score>'")
        scores[(parts[0], parts[1])] = float(parts[2])
    names = sorted(set(ident.values()))
    index = {n: i for i, n in enumerate(names)}
    rows, tests = [], {}
    for lineno, line in enumerate(trials.read_text().splitlines(), 1):
        e, t, kind = line.split()
        if (e, t) not in scores:
            raise ValueError(f"{score_file}: no score for trial {e} {t} ({trials}:{lineno})")
        rows.append((scores[(e, t)], kind == "target", index[ident[e]], index[ident[t]], tests.setdefault(t, len(tests))))
    s, tgt, ei, ti, tk = (np.array(c) for c in zip(*rows))
    return ScoredTrials(s.astype(float), tgt.astype(bool), ei, ti, tk, names)


def tar_at_far(gen: np.ndarray, imp: np.ndarray, fars=FARS) -> np.ndarray:
    """TAR at each FAR: the fraction of genuine scores above the threshold that lets at most a FAR fraction of
    the impostor scores through."""
    imp_sorted = np.sort(imp)[::-1]
    return _tar_sorted(gen, np.ones(len(gen)), imp_sorted, np.ones(len(imp)), fars)


def _tar_sorted(gen: np.ndarray, gen_w: np.ndarray, imp_sorted: np.ndarray, imp_w: np.ndarray, fars) -> np.ndarray:
    """Weighted TAR at each FAR, the impostor scores (and their weights) in descending order."""
    cum = np.cumsum(imp_w) / imp_w.sum()
    out = []
    for far in fars:
        j = int(np.searchsorted(cum, far, side="right"))  # impostors allowed through: the j highest
        thr = imp_sorted[j] if j < len(imp_sorted) else -np.inf
        out.append(float(gen_w[gen > thr].sum() / gen_w.sum()))
    return np.array(out)


def rank1(st: ScoredTrials, counts: np.ndarray | None = None) -> float:
    """Fraction of test templates whose best-scoring enrollment template of their draw has their identity
    (identities weighted by ``counts``)."""
    hit, identity = st.rank1_hits
    w = np.ones(len(hit)) if counts is None else counts[identity]
    return float(w[hit].sum() / w.sum())


def protocol_metrics(st: ScoredTrials, counts: np.ndarray | None = None) -> np.ndarray:
    """[TAR@1e-2, TAR@1e-3, TAR@1e-4, Rank-1], identities weighted by ``counts`` (a bootstrap resample)."""
    c = np.ones(len(st.identities)) if counts is None else counts
    imp_sorted, imp_e, imp_t = st.impostors
    gen = st.target
    tars = _tar_sorted(st.scores[gen], c[st.enroll_id[gen]], imp_sorted, c[imp_e] * c[imp_t], FARS)
    return np.r_[tars, rank1(st, c)]


def eer_percent(st: ScoredTrials) -> float:
    """ROCCH-EER (%) of the trials, as steps/score_trials.sh reports it."""
    from hyp_face.metrics.rocch import rocch, rocch_eer, sort_scores

    return 100.0 * rocch_eer(rocch(*sort_scores(st.scores[st.target], st.scores[~st.target])))


def paired_bootstrap(method: ScoredTrials, baseline: ScoredTrials, reps: int = 1000, seed: int = 0):
    """Metrics of ``method`` minus ``baseline`` and the 2.5 / 97.5 percentiles of that difference over ``reps``
    resamples of the identities (with replacement, the same resample for both)."""
    rng = np.random.default_rng(seed)
    n = len(method.identities)
    diff = protocol_metrics(method) - protocol_metrics(baseline)
    reps_diff = []
    for _ in range(reps):
        counts = np.bincount(rng.integers(n, size=n), minlength=n).astype(float)
        reps_diff.append(protocol_metrics(method, counts) - protocol_metrics(baseline, counts))
    lo, hi = np.percentile(np.array(reps_diff), [2.5, 97.5], axis=0)
    return diff, lo, hi
