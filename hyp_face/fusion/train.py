"""Training of ProxyFusion (:mod:`hyp_face.fusion.proxyfusion`) on an embedding store and its utt2spk.

Every utterance (a video, a template or a photo) of a subject is a group of faces. A training example of a subject
is a probe set and a gallery set with no group in common (the faces of a single group are split when the subject
has one group), at most ``max_set`` faces each. With an augmentation store holding degraded variants of the same
keys (the template protocol's degraded faces), a random half of each set's faces is replaced by their variants,
so that quality varies within a set. A batch holds ``batch_size`` distinct subjects. The dev subjects are drawn the
same way, ``dev_draws`` times with a fixed seed; after each epoch the model's TAR at FAR 1e-2 and 1e-3 on them
(summed) picks the best epoch, and training stops after ``patience`` epochs without improvement.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from hyp_face.backend.aggregate import AggregatorError
from hyp_face.io.datadir import read_utt2spk
from hyp_face.io.embed_store import EmbedReader

from .proxyfusion import ProxyFusion, ProxyFusionConfig, pad_sets, supcon_loss
from .templates import random_half, tar_at_far

log = logging.getLogger(__name__)


@dataclass
class Subject:
    """The face groups of one identity and, when an augmentation store is given, their degraded variants."""

    name: str
    groups: list[np.ndarray]
    variants: list[np.ndarray | None] = field(default_factory=list)

    @property
    def num_faces(self) -> int:
        return sum(len(g) for g in self.groups)


@dataclass(frozen=True)
class TrainOptions:
    batch_size: int = 128
    max_set: int = 8
    max_epochs: int = 60
    patience: int = 8
    lr: float = 1e-2
    temperature: float = 0.05
    lattice_weight: float = 0.01
    dev_draws: int = 5
    seed: int = 0
    clean_share: float = 0.0  # share of training sets kept clean (no degraded variant), for clean templates


def load_subjects(embed_scp: str, utt2spk: str, augment_scp: str | None = None) -> list[Subject]:
    """The subjects of ``utt2spk`` with at least 2 faces in ``embed_scp``; NaN features and fewer than two usable
    subjects are errors naming the file."""
    by_spk: dict[str, list[str]] = {}
    for utt, spk in read_utt2spk(utt2spk).items():
        by_spk.setdefault(spk, []).append(utt)
    with EmbedReader(embed_scp) as reader:
        aug = EmbedReader(augment_scp) if augment_scp else None
        subjects = []
        dims = set()
        for spk, utts in sorted(by_spk.items()):
            groups, variants = [], []
            for utt in utts:
                if utt not in reader:
                    continue
                x = checked(reader.read(utt), embed_scp, utt)
                if not len(x):
                    continue
                dims.add(x.shape[1])
                groups.append(x)
                variants.append(checked(aug.read(utt), augment_scp, utt) if aug is not None and utt in aug else None)
            subject = Subject(spk, groups, variants)
            if subject.num_faces >= 2:
                subjects.append(subject)
        if aug is not None:
            aug.close()
    if len(dims) > 1:
        raise AggregatorError(f"{embed_scp}: embeddings of different dimensions {sorted(dims)}")
    if len(subjects) < 2:
        raise AggregatorError(f"{utt2spk}: {len(subjects)} identity(ies) with 2 faces or more in {embed_scp}; "
                              "training needs at least 2 identities")
    return subjects


def checked(x: np.ndarray, scp: str | None, key: str) -> np.ndarray:
    if not np.isfinite(x).all():
        raise AggregatorError(f"{scp}: key {key!r} holds NaN or infinite features")
    return x


def sample_pair(s: Subject, rng: np.random.Generator, max_set: int,
                clean_share: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A probe and a gallery set of subject ``s`` (see the module docstring); with probability ``clean_share`` a
    set gets no degraded variant."""
    faces = [(g, r) for g, x in enumerate(s.groups) for r in range(len(x))]
    if len(s.groups) >= 2:
        order = rng.permutation(len(s.groups))
        probe_groups = set(order[:int(rng.integers(1, len(s.groups)))].tolist())
        sides = [[f for f in faces if (f[0] in probe_groups) == probe] for probe in (True, False)]
    else:
        order = rng.permutation(len(faces))
        cut = int(rng.integers(1, len(faces)))
        sides = [[faces[i] for i in order[:cut]], [faces[i] for i in order[cut:]]]
    # no draw when clean_share is 0, so that the random stream is the one of the models measured without it
    probe, gallery = (_face_set(s, side, rng, max_set, clean_share > 0 and rng.random() < clean_share)
                      for side in sides)
    return probe, gallery


def _face_set(s: Subject, faces: list[tuple[int, int]], rng: np.random.Generator, max_set: int,
              clean: bool = False) -> np.ndarray:
    """At most ``max_set`` random faces of ``faces``, a random half of them degraded where a variant exists
    (none when ``clean``)."""
    chosen = [faces[i] for i in rng.permutation(len(faces))[:max_set]]
    worse = random_half(len(chosen), rng) & (not clean)
    rows = []
    for (g, r), bad in zip(chosen, worse):
        variant = s.variants[g] if s.variants else None
        rows.append(variant[r] if bad and variant is not None else s.groups[g][r])
    return np.stack(rows)


def dev_pairs(subjects: list[Subject], draws: int, max_set: int, seed: int) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """``draws`` fixed lists of (probe, gallery) sets, one per dev subject."""
    rng = np.random.default_rng([seed, 1])
    return [[sample_pair(s, rng, max_set) for s in subjects] for _ in range(draws)]


@torch.no_grad()
def dev_score(model: ProxyFusion | None, draws: list[list[tuple[np.ndarray, np.ndarray]]]) -> np.ndarray:
    """[TAR@1e-2, TAR@1e-3] over the dev draws (probe x gallery within each draw); ``model`` None: mean pooling."""
    gen, imp = [], []
    for pairs in draws:
        probe, gallery = (embed_sets(model, [p[i] for p in pairs], side) for i, side in ((0, "probe"), (1, "gallery")))
        scores = probe @ gallery.T
        same = np.eye(len(pairs), dtype=bool)
        gen.append(scores[same])
        imp.append(scores[~same])
    return tar_at_far(np.concatenate(gen), np.concatenate(imp), (1e-2, 1e-3))


def embed_sets(model: ProxyFusion | None, sets: list[np.ndarray], side: str) -> np.ndarray:
    """Unit-norm pooled vectors of ``sets`` (mean pooling when ``model`` is None)."""
    if model is None:
        means = np.stack([x.mean(0) for x in sets])
        return means / np.linalg.norm(means, axis=1, keepdims=True)
    x, mask = pad_sets(sets)
    return model(x, mask, side).numpy()


def train(subjects: list[Subject], dev: list[Subject], cfg: ProxyFusionConfig, opts: TrainOptions,
          progress: bool = True) -> tuple[ProxyFusion, dict]:
    """The model of the best dev epoch and the training facts (epochs, dev scores, seconds)."""
    from tqdm import tqdm

    torch.manual_seed(opts.seed)
    rng = np.random.default_rng(opts.seed)
    model = ProxyFusion(cfg)
    faces = np.concatenate([g for s in subjects for g in s.groups])
    with torch.no_grad():
        model.center.copy_(torch.from_numpy((faces / np.linalg.norm(faces, axis=1, keepdims=True)).mean(0)))
    optim = torch.optim.Adafactor(model.parameters(), lr=opts.lr)
    draws = dev_pairs(dev, opts.dev_draws, opts.max_set, opts.seed)
    baseline = dev_score(None, draws)
    untrained = dev_score(model.eval(), draws)  # centred, almost uniform weights: what training adds comes on top
    best, best_epoch, best_state, history = -1.0, -1, None, []
    start = time.time()
    bar = tqdm(range(opts.max_epochs), desc="proxyfusion", unit="epoch", disable=not progress)
    for epoch in bar:
        model.train()
        order = rng.permutation(len(subjects))
        losses = []
        for a in range(0, len(order) - 1, opts.batch_size):
            batch = [subjects[i] for i in order[a:a + opts.batch_size]]
            if len(batch) < 2:
                continue
            pairs = [sample_pair(s, rng, opts.max_set, opts.clean_share) for s in batch]
            z = torch.cat([model(*pad_sets([p[0] for p in pairs]), "probe"),
                           model(*pad_sets([p[1] for p in pairs]), "gallery")])
            labels = torch.arange(len(batch)).repeat(2)
            loss = supcon_loss(z, labels, opts.temperature) + opts.lattice_weight * model.lattice_loss()
            optim.zero_grad()
            loss.backward()
            optim.step()
            losses.append(loss.item())
        model.eval()
        score = dev_score(model, draws)
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "dev_tar": score.tolist()})
        bar.set_postfix(loss=f"{np.mean(losses):.3f}", dev=f"{score[0]:.3f}/{score[1]:.3f}")
        if score.sum() > best:
            best, best_epoch = float(score.sum()), epoch
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        elif epoch - best_epoch >= opts.patience:
            log.info("early stop after epoch %d: no dev gain since epoch %d", epoch, best_epoch)
            break
    model.load_state_dict(best_state)
    model.eval()
    info = {"best_epoch": best_epoch, "epochs_run": len(history), "seconds": time.time() - start,
            "dev_tar_1e-2_1e-3": history[best_epoch]["dev_tar"], "dev_mean_pooling": baseline.tolist(),
            "dev_untrained": untrained.tolist(),
            "train_subjects": len(subjects), "dev_subjects": len(dev), "history": history}
    log.info("best dev epoch %d: TAR@1e-2/1e-3 %.4f/%.4f (mean pooling %.4f/%.4f), %.0f s", best_epoch,
             *history[best_epoch]["dev_tar"], *baseline, info["seconds"])
    return model, info
