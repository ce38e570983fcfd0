"""The back-end's fast paths give what the plain computations give: score lines, AHC without merges, cohort ranks,
repeated trials, embeddings read from their stored bytes."""

import h5py
import numpy as np
import pytest

from hyp_face.backend import ops
from hyp_face.backend.engine import SAMPLE_STRIDE, TOP_ROWS, _candidates, rank_indices, top_mask
from hyp_face.bin.eval_be import format_lines, format_matrix
from hyp_face.io.datadir import has_repeated_pair
from hyp_face.io.embed_store import EmbedReader, EmbedWriter, StoreError
from hyp_face.io.table import read_columns

MODELS = ["m%d", "m2", "100%"]
TESTS = ["t%s", "t2"]


def reference_lines(model_idx, test_idx, scores):
    return [f"{MODELS[m]} {TESTS[t]} {scores[m, t]:f}" for m, t in zip(model_idx, test_idx)]


def test_score_lines_equal_one_f_string_per_line_even_with_percent_in_names():
    scores = np.array([[0.5, -1.25], [1e-7, 3.0], [-0.0000004, 123.4567895]])
    model_idx, test_idx = np.array([2, 0, 1, 2]), np.array([0, 1, 1, 1])
    assert "\n".join(format_lines(MODELS, TESTS, model_idx, test_idx, scores)).split("\n") == \
        reference_lines(model_idx, test_idx, scores)
    test_idx, model_idx = np.divmod(np.arange(scores.size), len(MODELS))
    assert "\n".join(format_matrix(MODELS, TESTS, scores)).split("\n") == reference_lines(model_idx, test_idx, scores)
    assert format_lines(MODELS, TESTS, np.array([], int), np.array([], int), scores) == []


def linkage_centroids(x: np.ndarray, thr: float) -> np.ndarray:
    """AHC cluster means through scipy's linkage, whatever the closest pair."""
    from scipy.cluster.hierarchy import linkage

    n = len(x)
    sim = ops.cosine(x, x)[np.triu_indices(n, k=1)]
    merges = linkage(sim.max() - sim, method="average")
    labels = ops.cut_dendrogram(merges, n, int(np.count_nonzero(sim.max() - merges[:, 2] >= thr)))
    sums = np.zeros((labels.max() + 1, x.shape[1]))
    np.add.at(sums, labels, x)
    return sums / np.bincount(labels)[:, None]


@pytest.mark.parametrize("thr", [0.3, 0.8, 0.99])
def test_ahc_without_linkage_equals_ahc_with_it(thr):
    rng = np.random.default_rng(0)
    base = rng.normal(size=(3, 16))
    for x in (rng.normal(size=(7, 16)), np.repeat(base, 3, axis=0) + 0.3 * rng.normal(size=(9, 16))):
        x[0, 0] = -0.0
        got, want = ops.ahc_centroids(x, thr), linkage_centroids(x, thr)
        np.testing.assert_array_equal(got, want)
        assert not np.signbit(got[got == 0]).any()


@pytest.mark.parametrize("discard", [0, 3])
def test_cohort_ranks_equal_the_exact_tie_rule_on_many_rows_with_ties(discard):
    rng = np.random.default_rng(1)
    n, k = 100 * SAMPLE_STRIDE, 12
    scores = np.round(rng.normal(size=(TOP_ROWS + 5, n)), 1)  # many ties at the thresholds
    scores[:4] = rng.normal(size=(4, n))  # and rows without
    assert _candidates(scores[:TOP_ROWS], discard + k)[3].max() < n / 2  # the sampled bound prunes the rows
    want = top_mask(scores, discard + k) & ~top_mask(scores, discard)
    got = np.zeros_like(want)
    np.put_along_axis(got, rank_indices(scores, discard, k), True, axis=1)
    np.testing.assert_array_equal(got, want)
    assert (np.diff(rank_indices(scores, discard, k), axis=1) > 0).all()


def test_repeated_pairs_are_found_from_codes():
    assert not has_repeated_pair([], [])
    assert not has_repeated_pair(["a", "a", "b"], ["x", "y", "x"])
    assert has_repeated_pair(["a", "b", "a"], ["x", "x", "x"])
    many = [str(i) for i in range(100)]  # 100 pairs of 10,000 possible: found by sorting, not counting
    assert not has_repeated_pair(many, many)
    assert has_repeated_pair(many + ["7"], many + ["7"])


@pytest.mark.parametrize("text", ["a b c\nd e f\n", "\n  a\tb  c\n\n d e\tf", "a b\nc d e\n", "a\n", " \n",
                                  "a b c\r\nd e f\n", "x y\n" * 50 + "x\n"])
def test_table_columns_in_one_pass_equal_the_line_reader(tmp_path, text):
    path = tmp_path / "t"
    path.write_bytes(text.encode())
    rows = [line.split() for line in text.split("\n") if line.split()]
    plain = "\r" not in text and rows and len({len(r) for r in rows}) == 1
    want = [list(col) for col in zip(*rows)] if plain else None
    assert read_columns(path, 1, 3) == want


def test_embeddings_read_at_once_equal_those_read_one_by_one(tmp_path):
    rng = np.random.default_rng(3)
    stored = {f"v{i}": rng.standard_normal((n, 6)).astype(np.float32) for i, n in enumerate([3, 0, 1, 5, 2])}
    with EmbedWriter(tmp_path / "a") as writer:
        for key, mat in stored.items():
            writer.write(key, mat)
    with h5py.File(tmp_path / "a.h5", "a") as h5:  # datasets that are not one plain float32 extent go through HDF5
        for key, opts in (("v3", {"chunks": (1, 6), "compression": "gzip"}), ("v4", {"dtype": ">f4"})):
            del h5[key]
            h5.create_dataset(key, data=stored[key], **opts)
    with EmbedWriter(tmp_path / "b") as writer:  # a second file in the same list
        writer.write("w0", stored["v0"][::-1].copy())
    scp = tmp_path / "ab.scp"
    scp.write_text((tmp_path / "a.scp").read_text() + (tmp_path / "b.scp").read_text())
    keys = ["v4", "w0", "v1", "v0", "v3", "v2", "v0"]
    with EmbedReader(scp) as reader:
        one_by_one = [reader.read(k) for k in keys]
        for dtype in (np.float32, np.float64):
            at_once = reader.read_many(keys, dtype)
            assert [m.dtype for m in at_once] == [np.dtype(dtype)] * len(keys)
            for got, want in zip(at_once, one_by_one):
                np.testing.assert_array_equal(got, want)
    assert one_by_one[1].tolist() == stored["v0"][::-1].tolist()


def test_a_truncated_store_is_a_clear_error(tmp_path):
    with EmbedWriter(tmp_path / "a") as writer:
        writer.write("v", np.ones((4, 8), np.float32))
    with EmbedReader(tmp_path / "a.scp") as reader:
        offset = h5py.h5d.open(reader._file("v").id, b"v").get_offset()
    with open(tmp_path / "a.h5", "r+b") as f:
        f.truncate(offset + 16)
    with EmbedReader(tmp_path / "a.scp") as reader, pytest.raises((StoreError, OSError)):
        reader.read_many(["v"])
