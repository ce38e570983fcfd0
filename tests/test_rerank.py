"""Re-ranking (hyp_face.rerank) against slow plain-loop references written from the papers."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from hyp_face.bin import rerank as rerank_cli
from hyp_face.metrics.score_matrix import ScoreMatrix, read_score_matrix, write_score_matrix
from hyp_face.rerank import ecn, k_reciprocal
from tests.conftest import ROOT


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
                                                   (2, 3, 12, 20, 6, 0.3), (3, 6, 25, 5, 1, 0.0),
                                                   (4, 2, 3, 20, 6, 0.3)])
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


def test_ties_keep_the_lower_index_first():
    """Duplicated items make exact distance ties; both algorithms follow the stable (value, index) order."""
    rng = np.random.default_rng(7)
    sims = stacked(*random_problem(rng, 5, 20))
    dup = np.r_[np.arange(25), [3, 10, 10, 17]]  # query 3 and gallery items 10, 17 duplicated in the gallery
    s = sims[np.ix_(dup, dup)]
    sim_qg, sim_qq, sim_gg = s[:5, 5:], s[:5, :5], s[5:, 5:]
    np.testing.assert_allclose(k_reciprocal(sim_qg, sim_qq, sim_gg, k1=6, k2=3),
                               plain_k_reciprocal(sim_qg, sim_qq, sim_gg, 6, 3, 0.3), rtol=0, atol=1e-9)
    for method in ("rank", "dist"):
        np.testing.assert_allclose(ecn(sim_qg, sim_qq, sim_gg, t=3, q=4, k=8, method=method),
                                   plain_ecn(sim_qg, sim_qq, sim_gg, 3, 4, 8, method), rtol=0, atol=1e-9)


def test_stable_smallest_breaks_ties_by_index():
    from hyp_face.rerank.items import stable_smallest
    d = np.array([[3.0, 1.0, 1.0, 0.0, 1.0, 1.0]])
    np.testing.assert_array_equal(stable_smallest(d, 3), [[3, 1, 2]])
    np.testing.assert_array_equal(stable_smallest(d, 6), [[3, 1, 2, 4, 5, 0]])


def test_block_sizes_do_not_change_results(monkeypatch):
    import hyp_face.metrics.identification as ident
    import hyp_face.rerank.kreciprocal as kr
    sims = random_problem(np.random.default_rng(8), 6, 18)
    expected = k_reciprocal(*sims, k1=5, k2=3), ecn(*sims, t=2, q=3, k=6)
    monkeypatch.setattr(ident, "BLOCK_ELEMENTS", 7)
    monkeypatch.setattr(kr, "BLOCK_ELEMENTS", 7)
    np.testing.assert_allclose(k_reciprocal(*sims, k1=5, k2=3), expected[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ecn(*sims, t=2, q=3, k=6), expected[1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("rerank", [k_reciprocal, ecn])
def test_bad_input(rerank):
    sim_qg, sim_qq, sim_gg = random_problem(np.random.default_rng(9), 4, 10)
    bad = sim_gg.copy()
    bad[6, 2] = np.nan
    with pytest.raises(ValueError, match="sim_gg row 6 contains NaN"):
        rerank(sim_qg, sim_qq, bad)
    with pytest.raises(ValueError, match="sim_qq has shape"):
        rerank(sim_qg, sim_gg, sim_gg)
    with pytest.raises(ValueError, match="needs queries and gallery items"):
        rerank(np.empty((4, 0)), sim_qq, np.empty((0, 0)))


def test_ecn_rejects_unknown_method():
    with pytest.raises(ValueError, match="method 'x'"):
        ecn(*random_problem(np.random.default_rng(10), 3, 10), method="x")


def write_problem(folder, sims, gallery_keys=None):
    """The three similarity matrices of a problem as .npz score matrices; their paths."""
    sim_qg, sim_qq, sim_gg = sims
    queries = np.array([f"q{i}" for i in range(sim_qg.shape[0])])
    gallery = np.array(gallery_keys or [f"g{i}" for i in range(sim_qg.shape[1])])
    paths = [folder / f"{name}.npz" for name in ("qg", "qq", "gg")]
    for path, m in zip(paths, (ScoreMatrix(sim_qg, queries, gallery), ScoreMatrix(sim_qq, queries, queries),
                               ScoreMatrix(sim_gg, gallery, gallery))):
        write_score_matrix(path, m)
    return [str(p) for p in paths]


def test_cli_writes_the_reranked_distances(tmp_path):
    sims = random_problem(np.random.default_rng(11), 4, 15)
    paths = write_problem(tmp_path, sims)
    rerank_cli.main([*paths, str(tmp_path / "out.npz"), "--method", "ecn", "--t", "2", "--q", "3", "--k", "6",
                     "-v", "0"])
    out = read_score_matrix(tmp_path / "out.npz")
    assert out.kind == "distance" and list(out.row_keys) == ["q0", "q1", "q2", "q3"]
    np.testing.assert_array_equal(out.scores, ecn(*sims, t=2, q=3, k=6))


def test_cli_rejects_mismatched_keys(tmp_path):
    sims = random_problem(np.random.default_rng(12), 3, 6)
    paths = write_problem(tmp_path, sims)
    write_problem(tmp_path / "other", sims, gallery_keys=[f"h{i}" for i in range(6)])
    paths[2] = str(tmp_path / "other" / "gg.npz")
    with pytest.raises(SystemExit, match="gallery x gallery rows are not the keys"):
        rerank_cli.main([*paths, str(tmp_path / "out.npz"), "-v", "0"])
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.skipif(not (ROOT / "utils" / "run.pl").exists(), reason="utils/run.pl not present")
def test_step_script(tmp_path):
    sims = random_problem(np.random.default_rng(13), 4, 12)
    paths = write_problem(tmp_path, sims)
    env = dict(os.environ, OMP_NUM_THREADS="1")

    def step(*args):
        return subprocess.run(["bash", "steps/rerank.sh", *map(str, args)], cwd=ROOT, env=env,
                              capture_output=True, text=True)

    r = step("--k1", "4", "--k2", "2", *paths, tmp_path / "rr" / "out.npz")
    assert r.returncode == 0, r.stderr
    out = read_score_matrix(tmp_path / "rr" / "out.npz")
    np.testing.assert_array_equal(out.scores, k_reciprocal(*sims, k1=4, k2=2))
    assert step("--help").stdout.startswith("Usage:")
