"""Building blocks of the back-ends on tiny hand-checkable cases (docs/original_recipe.md §6.2)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage

from hyp_face.backend import ops
from hyp_face.backend.engine import TorchEngine, rank_indices, top_mask


def unit(deg: float, scale: float = 1.0) -> np.ndarray:
    r = np.deg2rad(deg)
    return scale * np.array([np.cos(r), np.sin(r)])


def attention_pool(e: np.ndarray, x: np.ndarray, b: float) -> np.ndarray:
    """Reference ``AP_b(e, X) = sum_q softmax_q(b cos(e, x_q)) x_q`` for one query (D,) -> (D,)."""
    if len(x) < 2:
        return x[0]
    w = ops.softmax_rows(b * ops.cosine(e[None, :], x))[0]
    return w @ x


def partition(labels: np.ndarray) -> set[frozenset[int]]:
    return {frozenset(np.flatnonzero(labels == k).tolist()) for k in np.unique(labels)}


def test_cosine_uses_eps_and_zero_vectors_score_zero():
    a = np.array([[3.0, 4.0], [0.0, 0.0]])
    b = np.array([[6.0, 8.0], [-4.0, 3.0]])
    c = ops.cosine(a, b)
    assert c[0, 0] == pytest.approx(25 * 2 / (5 + 1e-10) / (10 + 1e-10) / 1, rel=1e-12)
    assert c[0, 1] == pytest.approx(0.0, abs=1e-15)
    assert np.all(c[1] == 0.0)


def test_group_max_pools_rows_and_columns_of_each_group():
    s = np.arange(20, dtype=float).reshape(4, 5) * np.array([1, -1, 1, -1, 1])
    pooled = ops.group_max(s, np.array([0, 1]), np.array([0, 2, 3]))
    expected = np.array([[s[0, :2].max(), s[0, 2], s[0, 3:].max()],
                         [s[1:, :2].max(), s[1:, 2].max(), s[1:, 3:].max()]])
    np.testing.assert_array_equal(pooled, expected)


def test_mean_and_coordinatewise_median_are_not_renormalised():
    x = np.array([[1.0, 10.0], [3.0, -2.0], [2.0, 0.0], [9.0, 1.0]])
    np.testing.assert_array_equal(ops.mean_vector(x), [[3.75, 2.25]])
    np.testing.assert_array_equal(ops.median_vector(x), [[2.5, 0.5]])


def test_ahc_two_groups_at_0_8():
    x = np.stack([unit(0), unit(10, 2.0), unit(20), unit(90, 3.0), unit(100)])
    labels = ops.ahc_labels(x, 0.8)
    assert partition(labels) == {frozenset({0, 1, 2}), frozenset({3, 4})}
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1])
    centroids = ops.ahc_centroids(x, 0.8)
    np.testing.assert_allclose(centroids, [(x[0] + x[1] + x[2]) / 3, (x[3] + x[4]) / 2])


def test_ahc_is_average_not_single_linkage():
    # 0-30 merge (cos 0.866); {0,30} vs 62: average of cos 62 and cos 32 = 0.659 < 0.8, single link would be 0.848.
    x = np.stack([unit(0), unit(30), unit(62)])
    assert partition(ops.ahc_labels(x, 0.8)) == {frozenset({0, 1}), frozenset({2})}
    assert partition(ops.ahc_labels(x, 0.6)) == {frozenset({0, 1, 2})}
    assert partition(ops.ahc_labels(x, 0.9)) == {frozenset({0}), frozenset({1}), frozenset({2})}


def constrained_average_linkage(x: np.ndarray, thr: float, apart: np.ndarray) -> np.ndarray:
    """Plain reference: merge the two clusters of highest mean pairwise cosine while it is >= thr, never two with a
    cannot-link pair."""
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    sim = xn @ xn.T
    clusters = [[i] for i in range(len(x))]
    while True:
        best, pair = -np.inf, None
        for a in range(len(clusters)):
            for b in range(a + 1, len(clusters)):
                if apart[np.ix_(clusters[a], clusters[b])].any():
                    continue
                s = sim[np.ix_(clusters[a], clusters[b])].mean()
                if s > best:
                    best, pair = s, (a, b)
        if pair is None or best < thr:
            break
        a, b = pair
        clusters[a] += clusters.pop(b)
    labels = np.empty(len(x), np.int64)
    for k, members in enumerate(clusters):
        labels[members] = k
    return labels


def test_ahc_keeps_cannot_link_pairs_apart_as_a_plain_reference_does():
    x = np.stack([unit(0), unit(4), unit(10)])  # 0-1 closest, then 2 joins (cos 10 and 6 degrees)
    apart = np.zeros((3, 3), bool)
    apart[0, 2] = apart[2, 0] = True
    assert partition(ops.ahc_labels(x, 0.8)) == {frozenset({0, 1, 2})}
    assert partition(ops.ahc_labels(x, 0.8, apart=apart)) == {frozenset({0, 1}), frozenset({2})}
    rng = np.random.default_rng(5)
    for _ in range(30):
        centers = rng.normal(size=(3, 16))
        x = centers[rng.integers(0, 3, size=12)] + 0.5 * rng.normal(size=(12, 16))
        apart = np.triu(rng.random((12, 12)) < 0.15, 1)
        apart = apart | apart.T
        assert partition(ops.ahc_labels(x, 0.8, apart=apart)) == partition(constrained_average_linkage(x, 0.8, apart))


def test_ahc_matches_scipy_fcluster_on_random_sets():
    rng = np.random.default_rng(3)
    for _ in range(30):
        centers = rng.normal(size=(3, 16))
        x = centers[rng.integers(0, 3, size=12)] + 0.5 * rng.normal(size=(12, 16))
        xn = x / np.linalg.norm(x, axis=1, keepdims=True)
        d = 1 - (xn @ xn.T)[np.triu_indices(12, 1)]
        ref = fcluster(linkage(d, "average"), t=1 - 0.8, criterion="distance")
        assert partition(ops.ahc_labels(x, 0.8)) == partition(ref)


def test_single_face_sets_are_left_as_is():
    x = np.array([[0.3, -0.4, 1.2]])
    for f in (lambda s: ops.ahc_centroids(s, 0.8), lambda s: ops.self_attention(s, 2.0)):
        np.testing.assert_array_equal(f(x), x)
    np.testing.assert_array_equal(attention_pool(np.ones(3), x, 4.0), x[0])


def test_self_attention_weights():
    x = np.array([[2.0, 0.0], [0.0, 1.0]])  # orthogonal: C = I
    w = np.exp(2.0) / (np.exp(2.0) + 1.0)
    np.testing.assert_allclose(ops.self_attention(x, 2.0), [[2 * w, 1 - w], [2 * (1 - w), w]], rtol=1e-8)


def test_attention_pool_weights():
    e = np.array([1.0, 0.0])
    x = np.stack([unit(0, 2.0), unit(60), unit(90, 5.0)])
    w = np.exp(4.0 * np.array([1.0, 0.5, 0.0]))
    w /= w.sum()
    np.testing.assert_allclose(attention_pool(e, x, 4.0), w @ x, rtol=1e-9)


def test_attention_pool_cosine_equals_explicit_pooling():
    rng = np.random.default_rng(0)
    queries = np.vstack([rng.normal(size=(6, 5)), np.zeros((1, 5))])
    sets = [rng.normal(size=(n, 5)) for n in (1, 2, 7)] + [np.zeros((1, 5))]
    got = ops.attention_pool_cosine(queries, sets, 4.0)
    for i, q in enumerate(queries):
        for j, x in enumerate(sets):
            want = ops.cosine(q[None], attention_pool(q, x, 4.0)[None])[0, 0]
            assert got[i, j] == pytest.approx(want, abs=1e-12)
    assert np.all(got[-1] == 0.0) and np.all(got[:, -1] == 0.0)


def ranked_sets(scores: np.ndarray, discard: int, k: int) -> list[set[int]]:
    return [set(row.tolist()) for row in rank_indices(scores, discard, k)]


def torch_sets(scores: np.ndarray, discard: int, k: int) -> list[set[int]]:
    eng = TorchEngine("cpu")
    mask = eng.to_numpy(eng.select(eng.asarray(scores), discard, k))
    assert np.all(mask.sum(axis=1) == k)
    return [set(np.flatnonzero(row).tolist()) for row in mask]


def test_top_mask_ties_take_larger_indices_first():
    row = np.zeros((1, 5))
    np.testing.assert_array_equal(top_mask(row, 3)[0], [False, False, True, True, True])
    np.testing.assert_array_equal(top_mask(row, 0)[0], [False] * 5)
    np.testing.assert_array_equal(top_mask(row, 9)[0], [True] * 5)
    scores = np.array([[0.5, 0.9, 0.5, 0.1, 0.5]])
    for sets in (ranked_sets, torch_sets):
        assert sets(row, 1, 2) == [{2, 3}]
        assert sets(scores, 1, 2) == [{2, 4}]
        assert sets(scores, 0, 2) == [{1, 4}]
        assert sets(scores, 1, 4) == [{0, 2, 3, 4}]
    np.testing.assert_array_equal(rank_indices(scores, 1, 4), [[0, 2, 3, 4]])


@pytest.mark.parametrize("sets", [ranked_sets, torch_sets])
def test_ranks_equal_reversed_stable_argsort(sets):
    rng = np.random.default_rng(1)
    m = rng.integers(0, 4, size=(7, 40)).astype(float)  # many ties
    m[2] = 0.0
    m[3] = rng.normal(size=40)  # no ties: the fast path
    for d, k in ((0, 5), (3, 10), (10, 30), (0, 40), (5, 35), (39, 1)):
        order = np.fliplr(np.argsort(m, axis=1, kind="stable"))[:, d:d + k]
        assert sets(m, d, k) == [set(r) for r in order.tolist()]
    with pytest.raises(ValueError):
        sets(m, 30, 11)
    with pytest.raises(ValueError):
        sets(m, 3, 0)


def test_attention_pool_cosine_query_chunks(monkeypatch):
    rng = np.random.default_rng(2)
    queries, sets = rng.normal(size=(7, 4)), [rng.normal(size=(n, 4)) for n in (3, 1, 2)]
    whole = ops.attention_pool_cosine(queries, sets, 4.0)
    monkeypatch.setattr(ops, "QUERY_CHUNK", 2)
    np.testing.assert_allclose(ops.attention_pool_cosine(queries, sets, 4.0), whole, rtol=0, atol=1e-14)


def test_row_norms_are_numpys_norms_to_the_bit():
    from hyp_face.backend.ops import row_norms

    assert row_norms(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist() == [[5.0], [0.0]]
    rng = np.random.default_rng(7)
    for shape in [(1, 512), (29, 512), (300, 128), (4, 2, 3)]:
        x = rng.standard_normal(shape) * rng.uniform(1e-3, 1e3)
        assert np.array_equal(row_norms(x), np.linalg.norm(x, axis=-1, keepdims=True))
