"""ProxyFusion: learned set aggregation with sparse proxy experts (Jawade et al., NeurIPS 2024, "Face Feature
Aggregation Through Sparse Experts"), trained on precomputed embeddings only.

For one set X (N x D, unit rows, centred on the training mean and re-normalised):

* proxies, separate for probe (test) and gallery (enrollment) sets, and one shared linear projection to a small
  space (``proj_dim``, 10 in the paper) where the faces and the proxies are L2-normalised;
* expert selection: the ``k`` proxies with the highest similarity summed over the set;
* per selected expert, a small network over [set mean, set variance, proxy] gives a context vector c;
* per-face weights: softmax over the set of <f(x_n), c>, f the identity on the gallery side and an
  identity-initialised D x D layer on the probe side;
* output: the k pooled, L2-normalised vectors, concatenated (and scaled by 1/sqrt(k), so the output has unit norm
  and a cosine between two outputs is the mean of the k expert cosines).

It is linear in N and invariant to the order of the set. At initialisation the weights are almost uniform, so the
model starts close to mean pooling. Training: supervised contrastive loss (temperature 0.05) over the probe and
gallery outputs of a batch of subjects, plus 0.01 x a lattice loss (the mean squared cosine between distinct
projected proxies, which spreads them), with Adafactor.

Checkpoints hold only tensors, numbers and strings (``torch.load(weights_only=True)``) and record the embedder
(name and dimension) the model was trained on; loading it for another embedder is refused, naming both.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from hyp_face.backend.aggregate import AggregatorError

FORMAT = "hyp_face.proxyfusion/1"
SIDES = ("probe", "gallery")


@dataclass(frozen=True)
class ProxyFusionConfig:
    """Architecture of a ProxyFusion model."""

    dim: int
    num_proxies: int = 16
    k: int = 4
    proj_dim: int = 10
    hidden: int = 256

    def __post_init__(self) -> None:
        if not 1 <= self.k <= self.num_proxies:
            raise ValueError(f"k must be in 1..num_proxies ({self.num_proxies}), got {self.k}")


class ProxyFusion(nn.Module):
    """The model; ``forward`` pools a padded batch of sets (B, N, D) with a (B, N) mask of real faces."""

    def __init__(self, cfg: ProxyFusionConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.proxies = nn.ParameterDict({s: nn.Parameter(torch.randn(cfg.num_proxies, d) / math.sqrt(d))
                                         for s in SIDES})
        self.project = nn.Linear(d, cfg.proj_dim, bias=False)
        self.context = nn.Sequential(nn.Linear(3 * d, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, d))
        self.probe_map = nn.Linear(d, d, bias=False)
        with torch.no_grad():
            self.probe_map.weight.copy_(torch.eye(d))
        self.register_buffer("center", torch.zeros(d))

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Faces centred on the training mean and L2-normalised."""
        return F.normalize(F.normalize(x, dim=-1) - self.center, dim=-1)

    def projected_proxies(self, side: str) -> torch.Tensor:
        return F.normalize(self.project(self.proxies[side]), dim=-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, side: str) -> torch.Tensor:
        """(B, k * D) unit-norm outputs of the sets ``x`` (B, N, D); ``mask`` (B, N) marks real faces."""
        x = self.prepare(x)
        m = mask.to(x.dtype).unsqueeze(-1)  # (B, N, 1)
        count = m.sum(1).clamp_min(1.0)
        proxies = self.proxies[side]
        sims = F.normalize(self.project(x), dim=-1) @ self.projected_proxies(side).T  # (B, N, P)
        experts = (sims * m).sum(1).topk(self.cfg.k, dim=-1).indices  # (B, k)
        mean = (x * m).sum(1) / count
        var = (((x - mean.unsqueeze(1)) ** 2) * m).sum(1) / count
        chosen = proxies[experts]  # (B, k, D)
        stats = torch.cat([mean, var], -1).unsqueeze(1).expand(-1, self.cfg.k, -1)
        context = self.context(torch.cat([stats, chosen], -1))  # (B, k, D)
        feats = self.probe_map(x) if side == "probe" else x
        logits = torch.einsum("bnd,bkd->bkn", feats, context)
        logits = logits.masked_fill(~mask.unsqueeze(1), float("-inf"))
        pooled = torch.einsum("bkn,bnd->bkd", logits.softmax(-1), x)
        return F.normalize(pooled, dim=-1).flatten(1) / math.sqrt(self.cfg.k)

    def lattice_loss(self) -> torch.Tensor:
        """Mean squared cosine between distinct projected proxies of each side (small when they are spread)."""
        losses = []
        for side in SIDES:
            p = self.projected_proxies(side)
            g = p @ p.T
            off = g[~torch.eye(len(p), dtype=torch.bool, device=g.device)]
            losses.append((off ** 2).mean())
        return torch.stack(losses).mean()


def supcon_loss(z: torch.Tensor, labels: torch.Tensor, temperature: float = 0.05) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al. 2020) of unit-norm rows ``z`` with integer ``labels``."""
    logits = (z @ z.T) / temperature
    self_mask = torch.eye(len(z), dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - logits.logsumexp(1, keepdim=True)
    positive = (labels[:, None] == labels[None]) & ~self_mask
    has = positive.any(1)
    per_anchor = -(log_prob.masked_fill(~positive, 0.0).sum(1)[has] / positive.sum(1)[has])
    return per_anchor.mean()


def pad_sets(sets: Sequence[np.ndarray], device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """A (B, N_max, D) float32 batch and its (B, N_max) mask."""
    n = max(len(s) for s in sets)
    dim = sets[0].shape[1]
    x = np.zeros((len(sets), n, dim), np.float32)
    mask = np.zeros((len(sets), n), bool)
    for i, s in enumerate(sets):
        x[i, :len(s)] = s
        mask[i, :len(s)] = True
    return torch.from_numpy(x).to(device), torch.from_numpy(mask).to(device)


# ---------------------------------------------------------------------------------------------- checkpoints


class ModelError(AggregatorError):
    """A checkpoint that cannot be used here: wrong format, embedder or dimension."""


def save_model(path: str | Path, model: ProxyFusion, embedder: str, info: dict | None = None) -> None:
    """Write the checkpoint atomically: weights, architecture, embedder and training facts (plain types)."""
    from hyp_face.io.table import atomic_write

    payload = {"format": FORMAT, "config": asdict(model.cfg), "embedder": embedder,
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "info": info or {}}
    with atomic_write(path, "wb") as f:
        torch.save(payload, f)


def load_model(path: str | Path, embedder: str | None = None) -> tuple[ProxyFusion, dict]:
    """The model of a checkpoint (weights_only load) and its payload; ``embedder``, when given, must match."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"{path}: no such ProxyFusion model") from None
    except Exception as err:  # unpickling errors of a foreign or damaged file
        raise ModelError(f"{path}: not a ProxyFusion checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelError(f"{path}: not a ProxyFusion checkpoint (format {FORMAT} expected)")
    trained_on = payload["embedder"]
    if embedder is not None and embedder != trained_on:
        raise ModelError(f"{path}: this ProxyFusion model was trained on embeddings of {trained_on!r}; it cannot "
                         f"pool embeddings of {embedder!r}")
    model = ProxyFusion(ProxyFusionConfig(**payload["config"]))
    model.load_state_dict(payload["state_dict"])
    return model.eval(), payload


class ProxyFusionAggregator:
    """A trained model as a set aggregator: ``pool`` maps one (N, D) set to its (1, k*D) vector (float64)."""

    def __init__(self, model: ProxyFusion, path: str = "", embedder: str = ""):
        self.model, self.path, self.embedder = model, path, embedder
        self.dim = model.cfg.dim

    @classmethod
    def load(cls, path: str | Path, embedder: str | None = None) -> "ProxyFusionAggregator":
        model, payload = load_model(path, embedder)
        return cls(model, str(path), payload["embedder"])

    def check_dim(self, dim: int, what: str) -> None:
        if dim != self.dim:
            raise ModelError(f"{what}: {dim}-D features, but the ProxyFusion model {self.path} (trained on "
                             f"{self.embedder!r}) expects {self.dim}-D")

    @torch.no_grad()
    def pool(self, x: np.ndarray, side: str = "test", what: str = "set") -> np.ndarray:
        """``side`` enroll uses the gallery network, test the probe network."""
        self.check_dim(x.shape[1], what)
        batch, mask = pad_sets([np.asarray(x, np.float32)])
        out = self.model(batch, mask, "gallery" if side == "enroll" else "probe")
        return out.numpy().astype(np.float64)
