"""Re-ranking (hyp_face.rerank) against slow plain-loop references written from the papers."""

from __future__ import annotations

import numpy as np
import pytest

from hyp_face.rerank import ecn, k_reciprocal


def random_problem(rng, n_query, n_gallery, dim=8, n_ids=5):
    """Cosine similarities of clustered unit vectors: (sim_qg, sim_qq, sim_gg)."""
    centres = rng.normal(size=(n_ids, dim))
    x = centres[rng.integers(0, n_ids, n_query + n_gallery)] + 0.7 * rng.normal(size=(n_query + n_gallery, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    s = x @ x.T
    q = n_query
    return s[:q, q:], s[:q, :q], s[q:, q:]


def stacked(sim_qg, sim_qq, sim_gg):
    return np.block([[sim_qq, sim_qg], [sim_qg.T, sim_gg]])


def plain_k_reciprocal(sim_qg, sim_qq, sim_gg, k1, k2, lam):
    """Zhong et al. 2017, one item at a time."""
    q = sim_qg.shape[0]
    dist = 2.0 - 2.0 * stacked(sim_qg, sim_qq, sim_gg)
    dist = (dist / dist.max(axis=0)).T                    # per-column normalisation, as the reference code
    n = len(dist)
    rank = np.argsort(dist, axis=1, kind="stable")

    def reciprocal(i, k):
        return [j for j in rank[i, :k + 1] if i in rank[j, :k + 1]]

    v = np.zeros((n, n))
    for i in range(n):
        r = reciprocal(i, k1)
        expanded = set(r)
        for c in r:
            rc = reciprocal(c, int(np.around(k1 / 2.0)))
            if len(set(rc) & set(r)) >= 2.0 / 3.0 * len(rc):
                expanded |= set(rc)
        idx = sorted(expanded)
        w = np.exp(-dist[i, idx])
        v[i, idx] = w / w.sum()
    if k2 != 1:
        v = np.array([v[rank[i, :k2]].mean(axis=0) for i in range(n)])
    out = np.empty((q, n - q))
    for i in range(q):
        for j in range(q, n):
            m = sum(min(v[i, l], v[j, l]) for l in range(n))
            out[i, j - q] = (1 - lam) * (1 - m / (2 - m)) + lam * dist[i, j]
    return out


@pytest.mark.parametrize("seed,nq,ng,k1,k2,lam", [(0, 5, 20, 4, 2, 0.3), (1, 8, 30, 6, 3, 0.5),
                                                   (2, 3, 12, 20, 6, 0.3), (3, 6, 25, 5, 1, 0.0)])
def test_k_reciprocal_matches_plain_reference(seed, nq, ng, k1, k2, lam):
    sims = random_problem(np.random.default_rng(seed), nq, ng)
    got = k_reciprocal(*sims, k1=k1, k2=k2, lam=lam)
    np.testing.assert_allclose(got, plain_k_reciprocal(*sims, k1, k2, lam), rtol=0, atol=1e-9)


def plain_ecn(sim_qg, sim_qq, sim_gg, t, q, k, method):
    """Sarfraz et al. 2018, one pair at a time."""
    nq = sim_qg.shape[0]
    dist = 1.0 - stacked(sim_qg, sim_qq, sim_gg)
    n = len(dist)
    rank = np.argsort(dist, axis=1, kind="stable")
    position = np.argsort(rank, axis=1)

    def r(a, b):
        if method == "dist":
            return dist[a, b]
        return -sum(max(0, k - position[a, z]) * max(0, k - position[b, z]) for z in range(n))

    def expanded(a):
        first = list(rank[a, 1:t + 1])
        return first + [z for f in first for z in rank[f, 1:q + 1]]

    out = np.empty((nq, n - nq))
    for p in range(nq):
        for g in range(nq, n):
            terms = [r(x, g) for x in expanded(p)] + [r(x, p) for x in expanded(g)]
            value = sum(terms) / len(terms)
            out[p, g - nq] = value if value != 0 else dist[p, g]
    return out


@pytest.mark.parametrize("method", ["rank", "dist"])
@pytest.mark.parametrize("seed,nq,ng,t,q,k", [(0, 5, 20, 3, 8, 25), (1, 7, 30, 2, 4, 6), (2, 4, 15, 1, 2, 3)])
def test_ecn_matches_plain_reference(seed, nq, ng, t, q, k, method):
    sims = random_problem(np.random.default_rng(seed), nq, ng)
    got = ecn(*sims, t=t, q=q, k=k, method=method)
    np.testing.assert_allclose(got, plain_ecn(*sims, t, q, k, method), rtol=0, atol=1e-9)
