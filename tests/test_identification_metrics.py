"""Identification metrics (hyp_face.metrics.identification): hand-checked cases, plain references, ties, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hyp_face.metrics import identification as ident
from hyp_face.metrics.identification import (closed_set_cmc, dir_at_fpir, id_rate, id_rate_pairs, rank_k,
                                             retrieval_map, retrieval_map_relevance, roc_auc)
from hyp_face.metrics.score_matrix import ScoreMatrix, read_score_matrix, write_score_matrix

# 3 probes x 4 gallery items; identity c has two items.
HAND = np.array([[0.90, 0.10, 0.50, 0.30],
                 [0.20, 0.80, 0.85, 0.10],
                 [0.30, 0.30, 0.20, 0.70]])
GALLERY = ["a", "b", "c", "c"]
PROBES = ["a", "b", "c"]


# ---- plain references, one probe at a time --------------------------------------------------------------------

def plain_identity_rank(row, probe, gallery):
    best = {g: max(s for s, h in zip(row, gallery) if h == g) for g in set(gallery)}
    return sum(1 for v in best.values() if v >= best[probe])  # pessimistic: ties rank before the mate


def plain_cmc(scores, probes, gallery):
    ranks = [plain_identity_rank(row, p, gallery) for row, p in zip(scores, probes)]
    n_ident = len(set(gallery))
    return np.array([np.mean([r <= k for r in ranks]) for k in range(1, n_ident + 1)])


def plain_ap(row, relevant):
    order = sorted(range(len(row)), key=lambda j: (-row[j], relevant[j]))  # irrelevant first among ties
    hits, total = 0, 0.0
    for pos, j in enumerate(order, 1):
        if relevant[j]:
            hits += 1
            total += hits / pos
    first = next((pos for pos, j in enumerate(order, 1) if relevant[j]), None)
    return (total / hits if hits else 0.0), first


def plain_id_rate(pos, neg, fpr):
    desc = sorted(neg, reverse=True)
    idx = math.floor(round(fpr * len(neg), 9))
    t = desc[idx] if idx < len(desc) else -math.inf
    return np.mean([p > t for p in pos])


def plain_auc(pos, neg):
    return np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg])


def random_case(rng, n_probe, n_gallery, n_ids, levels=None):
    scores = rng.normal(size=(n_probe, n_gallery))
    if levels:
        scores = np.round(scores * levels) / levels  # many ties
    gallery = rng.integers(0, n_ids, n_gallery)
    return scores, rng.integers(0, n_ids, n_probe), gallery


# ---- closed set ----------------------------------------------------------------------------------------------

def test_cmc_by_hand():
    # probe a: a best (0.9); probe b: c (0.85) beats b (0.8) -> rank 2; probe c: c best item 0.7 -> rank 1
    np.testing.assert_allclose(closed_set_cmc(HAND, PROBES, GALLERY), [2 / 3, 1, 1])
    cmc = closed_set_cmc(HAND, PROBES, GALLERY, max_rank=5)
    assert len(cmc) == 5 and rank_k(cmc, 5) == 1.0 and rank_k(cmc, 1) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="outside the CMC"):
        rank_k(cmc, 6)


def test_cmc_ties_are_pessimistic():
    scores = np.array([[0.5, 0.5, 0.1]])
    np.testing.assert_allclose(closed_set_cmc(scores, ["a"], ["a", "b", "c"]), [0, 1, 1])
    np.testing.assert_allclose(closed_set_cmc(scores, ["a"], ["b", "a", "c"]), [0, 1, 1])


@pytest.mark.parametrize("levels", [None, 2])
def test_cmc_matches_plain_reference(levels, monkeypatch):
    monkeypatch.setattr(ident, "BLOCK_ELEMENTS", 50)  # several row blocks
    scores, probes, gallery = random_case(np.random.default_rng(1), 40, 30, 8, levels)
    probes = gallery[np.random.default_rng(2).integers(0, 30, 40)]  # closed set: every probe enrolled
    np.testing.assert_allclose(closed_set_cmc(scores, probes, gallery), plain_cmc(scores, probes, gallery))


def test_closed_set_rejects_unenrolled_probe():
    with pytest.raises(ValueError, match="probe row 1 has identity 'z'"):
        closed_set_cmc(HAND, ["a", "z", "c"], GALLERY)


# ---- open set ------------------------------------------------------------------------------------------------

def test_dir_by_hand():
    # probe 'x' (row 2) is unknown, top score 0.7; FPIR 0.5 over 1 unknown -> floor(0.5) = 0 -> threshold 0.7
    res = dir_at_fpir(HAND, ["a", "b", "x"], GALLERY, fpirs=(0.5, 1.0))
    assert res[0.5] == {"dir": 0.5, "fnir": 0.5, "threshold": 0.7, "fpir_achieved": 0.0}  # b is at rank 2
    assert res[1.0]["threshold"] == -np.inf and res[1.0]["fpir_achieved"] == 1.0
    assert dir_at_fpir(HAND, ["a", "b", "x"], GALLERY, fpirs=(1.0,), rank=2)[1.0]["dir"] == 1.0


def test_dir_matches_plain_reference():
    rng = np.random.default_rng(3)
    scores, probes, gallery = random_case(rng, 60, 25, 12, levels=3)
    known = np.isin(probes, gallery)
    assert known.any() and not known.all()
    top_unknown = scores[~known].max(axis=1)
    for fpir, res in dir_at_fpir(scores, probes, gallery, fpirs=(0.05, 0.2, 0.5), rank=2).items():
        desc = sorted(top_unknown, reverse=True)
        t = desc[math.floor(round(fpir * len(desc), 9))]
        hits = [plain_identity_rank(row, p, list(gallery)) <= 2 and max(row[gallery == p]) > t
                for row, p in zip(scores[known], probes[known])]
        assert res["dir"] == pytest.approx(np.mean(hits), abs=1e-12)
        assert res["fpir_achieved"] == pytest.approx(np.mean(top_unknown > t)) and res["fpir_achieved"] <= fpir


def test_dir_needs_known_and_unknown_probes():
    with pytest.raises(ValueError, match="known and unknown"):
        dir_at_fpir(HAND, PROBES, GALLERY)


# ---- ID rate and AUC -----------------------------------------------------------------------------------------

def test_id_rate_by_hand():
    pos, neg = [1.0, 2.0, 3.0], [0.0, 1.0, 2.5, 0.5]
    # descending negatives 2.5 1 0.5 0: FPR 0.5 -> position 2 -> threshold 0.5 -> all positives above;
    # FPR 0.25 -> position 1 -> threshold 1.0 -> 2 and 3 strictly above; FPR 0.2 -> position 0 -> 2.5 -> only 3
    res = id_rate(pos, neg, fprs=(0.5, 0.25, 0.2))
    assert res == {0.5: 1.0, 0.25: pytest.approx(2 / 3), 0.2: pytest.approx(1 / 3)}
    # wins: 1 beats 0, 0.5 and ties 1 (2.5); 2 beats 3 (3); 3 beats 4 -> 9.5 / 12
    assert roc_auc(pos, neg) == pytest.approx(9.5 / 12)


def test_id_rate_and_auc_match_plain_reference():
    rng = np.random.default_rng(4)
    pos = np.round(rng.normal(1, 1, 70) * 4) / 4
    neg = np.round(rng.normal(0, 1, 300) * 4) / 4
    fprs = (0.5, 0.29, 0.1, 0.01, 1e-3)
    for fpr, tpr in id_rate(pos, neg, fprs).items():
        assert tpr == pytest.approx(plain_id_rate(pos, neg, fpr), abs=1e-12)
    assert roc_auc(pos, neg) == pytest.approx(plain_auc(pos, neg), abs=1e-12)


def test_rate_index_is_exact_on_the_decimal():
    assert ident.rate_index(0.29, 100) == 29 and ident.rate_index(1e-4, 9999) == 0
    with pytest.raises(ValueError, match="outside"):
        ident.rate_index(0.0, 10)


def test_id_rate_pairs_matches_plain_pairs(monkeypatch):
    monkeypatch.setattr(ident, "BLOCK_ELEMENTS", 20)
    rng = np.random.default_rng(5)
    ids = rng.integers(0, 4, 12)
    qq = rng.normal(size=(12, 12))
    qq = qq + qq.T
    qd = rng.normal(size=(12, 5))
    pos = [qq[i, j] for i in range(12) for j in range(i + 1, 12) if ids[i] == ids[j]]
    neg = [qq[i, j] for i in range(12) for j in range(i + 1, 12) if ids[i] != ids[j]] + list(qd.ravel())
    res = id_rate_pairs(qq, ids, qd, fprs=(0.1, 0.5))
    assert res["n_pos"] == len(pos) and res["n_neg"] == len(neg)
    assert res["id_rate"] == {f: pytest.approx(plain_id_rate(pos, neg, f)) for f in (0.1, 0.5)}
    assert res["auc"] == pytest.approx(plain_auc(pos, neg))


def test_id_rate_needs_both_sides():
    with pytest.raises(ValueError, match="no negative"):
        id_rate([1.0], [])
    with pytest.raises(ValueError, match="no positive"):
        roc_auc([], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        id_rate([1.0], [np.nan])


# ---- retrieval -----------------------------------------------------------------------------------------------

def test_map_by_hand():
    # a: relevant item first -> AP 1; b: item 1 (0.8) is 2nd -> AP 1/2;
    # c: items 3 (0.7) 1st and 2 (0.2) 4th -> (1/1 + 2/4) / 2 = 0.75
    res = retrieval_map(HAND, PROBES, GALLERY, ranks=(1, 2))
    np.testing.assert_allclose(res["ap"], [1.0, 0.5, 0.75])
    assert res["map"] == pytest.approx(0.75) and res["rank"] == {1: pytest.approx(2 / 3), 2: 1.0}


def test_map_counts_queries_without_relevant_items_as_zero():
    res = retrieval_map(HAND, ["a", "b", "nobody"], GALLERY)
    np.testing.assert_allclose(res["ap"], [1.0, 0.5, 0.0])
    assert res["map"] == pytest.approx(0.5) and res["n_no_relevant"] == 1 and res["rank"][10] == pytest.approx(2 / 3)


def test_map_ties_are_pessimistic():
    res = retrieval_map(np.array([[0.5, 0.5]]), ["a"], ["a", "b"])
    assert res["ap"][0] == 0.5 and res["rank"][1] == 0.0


@pytest.mark.parametrize("levels", [None, 2])
def test_map_matches_plain_reference(levels, monkeypatch):
    monkeypatch.setattr(ident, "BLOCK_ELEMENTS", 64)
    scores, queries, gallery = random_case(np.random.default_rng(6), 30, 40, 9, levels)
    res = retrieval_map(scores, queries, gallery, ranks=(1, 3))
    plain = [plain_ap(list(row), list(gallery == q)) for row, q in zip(scores, queries)]
    np.testing.assert_allclose(res["ap"], [ap for ap, _ in plain], atol=1e-12)
    for k in (1, 3):
        assert res["rank"][k] == pytest.approx(np.mean([f is not None and f <= k for _, f in plain]))
    same = retrieval_map_relevance(scores, queries[:, None] == gallery[None, :], ranks=(1, 3))
    np.testing.assert_array_equal(same["ap"], res["ap"])


# ---- bad input -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("metric", [closed_set_cmc, retrieval_map])
def test_nan_names_the_row(metric):
    scores = HAND.copy()
    scores[2, 1] = np.nan
    with pytest.raises(ValueError, match="scores row 2 contains NaN"):
        metric(scores, PROBES, GALLERY)


def test_nan_in_query_pairs_names_the_matrix():
    with pytest.raises(ValueError, match="scores_qd row 0"):
        id_rate_pairs(np.eye(2), ["a", "a"], np.array([[np.nan], [0.0]]))


def test_empty_and_misshaped_inputs():
    with pytest.raises(ValueError, match="empty gallery"):
        closed_set_cmc(np.empty((2, 0)), ["a", "b"], [])
    with pytest.raises(ValueError, match="no probes"):
        retrieval_map(np.empty((0, 3)), [], ["a", "b", "c"])
    with pytest.raises(ValueError, match="expected \\(3, 3\\)"):
        closed_set_cmc(HAND, PROBES, GALLERY[:3])


# ---- on-disk score matrix ------------------------------------------------------------------------------------

def test_score_matrix_round_trip(tmp_path):
    path = tmp_path / "m.npz"
    write_score_matrix(path, ScoreMatrix(HAND, np.array(["p1", "p2", "p3"]), np.array(["g1", "g2", "g3", "g4"])))
    m = read_score_matrix(path)
    np.testing.assert_array_equal(m.scores, HAND)
    assert list(m.col_keys) == ["g1", "g2", "g3", "g4"] and m.kind == "similarity"
    np.testing.assert_array_equal(ScoreMatrix(HAND, m.row_keys, m.col_keys, "distance").similarity(), -HAND)


@pytest.mark.parametrize("rows,cols,scores,message", [
    (["p", "p", "q"], ["g1", "g2", "g3", "g4"], HAND, "duplicate row key 'p'"),
    (["p", "q", "r"], ["g1", "g2", "g3"], HAND, "scores shape \\(3, 4\\) does not match"),
    (["p", "q", "r"], ["g1", "g2", "g3", "g4"], np.where(HAND > 0.8, np.nan, HAND), "NaN score in row 0 \\(key 'p'\\)"),
])
def test_score_matrix_rejects_bad_content(tmp_path, rows, cols, scores, message):
    path = tmp_path / "bad.npz"
    with open(path, "wb") as f:
        np.savez(f, scores=scores, row_keys=np.array(rows), col_keys=np.array(cols), kind=np.array("similarity"))
    with pytest.raises(ValueError, match=f"bad.npz: {message}"):
        read_score_matrix(path)


@pytest.mark.parametrize("n", [5, 200, 5000])
def test_bisect_right_sorted_equals_searchsorted(n):
    rng = np.random.default_rng(n)
    a = np.sort(np.r_[np.round(rng.normal(size=n) * 8) / 8, [0.5] * 40])  # heavy ties
    x = np.r_[rng.normal(size=3000) * 2, a[::7], np.nextafter(a[::5], np.inf), [-np.inf, np.inf, 1e300]]
    np.testing.assert_array_equal(ident.bisect_right_sorted(a, x), np.searchsorted(a, x, "right"))
