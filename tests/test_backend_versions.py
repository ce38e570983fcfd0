"""Versions v1-v9 and both s-norms against a plain loop reference written from docs/original_recipe.md §6.2-6.5."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage

from hyp_face.backend import engine as engine_module
from hyp_face.backend import versions as be
from hyp_face.backend.engine import NumpyEngine, TorchEngine, make_engine
from hyp_face.backend.versions import VERSIONS, BackendParams, Scorer, video_blocks

A_SA, B_AP, THR = 2.0, 4.0, 0.8


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / ((np.linalg.norm(a) + 1e-10) * (np.linalg.norm(b) + 1e-10)))


def cos_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([[cos(x, y) for y in b] for x in a])


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def ahc(x: np.ndarray) -> np.ndarray:
    if len(x) == 1:
        return x
    d = 1 - cos_matrix(x, x)[np.triu_indices(len(x), 1)]
    labels = fcluster(linkage(d, "average"), t=1 - THR, criterion="distance")
    return np.array([x[labels == k].mean(axis=0) for k in np.unique(labels)])


def self_att(x: np.ndarray, a: float) -> np.ndarray:
    if len(x) == 1:
        return x
    return np.array([softmax(a * cos_matrix(x[i:i + 1], x)[0]) @ x for i in range(len(x))])


def att_pool(e: np.ndarray, x: np.ndarray) -> np.ndarray:
    return x[0] if len(x) == 1 else softmax(B_AP * cos_matrix(e[None], x)[0]) @ x


def ref_sides(version: str, r: np.ndarray, t: np.ndarray, a: float) -> tuple[np.ndarray, np.ndarray]:
    med = np.median(r, axis=0)[None]
    enroll = {"v1": r, "v2": r.mean(axis=0)[None], "v3": med, "v4": med, "v5": ahc(r), "v6": med, "v7": med,
              "v8": r, "v9": self_att(r, a)}[version]
    test = {"v4": ahc(t), "v5": ahc(t)}.get(version, t if version in ("v1", "v2", "v3") else self_att(t, a))
    return enroll, test


def ref_snorm(s, cte, cec, k, d, mode):
    """Plain-loop s-norm: cross selection (faithful) or each side's own cohort (asnorm)."""
    out = np.empty_like(s)
    for p in range(s.shape[0]):
        j_p = np.flipud(np.argsort(cec[p], kind="stable"))[d:d + k]
        for q in range(s.shape[1]):
            i_q = np.flipud(np.argsort(cte[:, q], kind="stable"))[d:d + k]
            if mode == "faithful":
                zs, ts = cec[p, i_q], cte[j_p, q]
                z = (s[p, q] - zs.mean()) / max(zs.std(), 1e-5)
                t = (s[p, q] - ts.mean()) / max(ts.std(), 1e-5)
                out[p, q] = (z + t) / np.sqrt(2)
            else:
                zs, ts = cec[p, j_p], cte[i_q, q]
                z = (s[p, q] - zs.mean()) / max(zs.std(), 1e-5)
                t = (s[p, q] - ts.mean()) / max(ts.std(), 1e-5)
                out[p, q] = (z + t) / 2
    return out


def reference_scores(version, refs, tests, cohort=None, mode="none", k=0, d=0):
    """Model x test scores, one enrollment video per model."""
    a = 1.0 if version == "v8" else A_SA
    out = np.empty((len(refs), len(tests)))
    if version == "v7":
        meds = [np.median(r, axis=0) for r in refs]
        sa = [self_att(t, a) for t in tests]
        s = np.array([[cos(m, att_pool(m, x)) for x in sa] for m in meds])
        if mode == "none":
            return s
        cte = np.array([[cos(z, att_pool(z, x)) for x in sa] for z in cohort])
        return ref_snorm(s, cte, cos_matrix(np.array(meds), cohort), k, d, mode)
    sides = [[ref_sides(version, r, t, a) for t in tests] for r in refs]
    enroll = [sides[m][0][0] for m in range(len(refs))]
    test = [sides[0][j][1] for j in range(len(tests))]
    e_all, t_all = np.concatenate(enroll), np.concatenate(test)
    s = cos_matrix(e_all, t_all)
    if mode != "none":
        s = ref_snorm(s, cos_matrix(cohort, t_all), cos_matrix(e_all, cohort), k, d, mode)
    e_own = np.repeat(np.arange(len(enroll)), [len(e) for e in enroll])
    t_own = np.repeat(np.arange(len(test)), [len(t) for t in test])
    for m in range(len(refs)):
        for j in range(len(tests)):
            out[m, j] = s[np.ix_(e_own == m, t_own == j)].max()
    return out


def random_case(seed: int, dim: int = 6):
    """Clustered faces so that AHC merges; one zero test video and one zero model (ties in the cohort ranks)."""
    rng = np.random.default_rng(seed)
    ids = rng.normal(size=(4, dim))

    def video(n):
        return ids[rng.integers(0, 4)] + 0.35 * rng.normal(size=(n, dim))

    refs = [video(n) for n in (1, 3, 2, 4)] + [np.zeros((1, dim))]
    tests = [video(n) for n in (1, 5, 2, 3, 6, 1)] + [np.zeros((1, dim))]
    cohort = np.vstack([video(n) for n in (3, 4, 2, 5, 1, 5)])
    return refs, tests, cohort


def our_scores(version, refs, tests, cohort=None, mode="none", k=0, d=0, block_rows=4, engine=None):
    params = BackendParams(version, THR, 1.0 if version == "v8" else A_SA, B_AP)
    scorer = Scorer(params, be.enroll_side(params, refs), np.arange(len(refs)), len(refs), block_rows=block_rows,
                    engine=engine or NumpyEngine())
    sides = be.test_side(params, tests)
    if mode == "none":
        return scorer.score(sides)
    return scorer.score(sides, scorer.cohort_norm(mode, cohort, k, d))


@pytest.mark.parametrize("version", VERSIONS)
def test_versions_match_reference(version):
    for seed in range(3):
        refs, tests, _ = random_case(seed)
        np.testing.assert_allclose(our_scores(version, refs, tests), reference_scores(version, refs, tests),
                                   rtol=0, atol=1e-9)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("mode,k,d", [("faithful", 7, 3), ("faithful", 100, 0), ("asnorm", 6, 2)])
def test_snorm_matches_plain_loop(version, mode, k, d):
    refs, tests, cohort = random_case(11)
    k_eff = min(k, len(cohort) - d)
    got = our_scores(version, refs, tests, cohort, mode, k, d)
    np.testing.assert_allclose(got, reference_scores(version, refs, tests, cohort, mode, k_eff, d),
                               rtol=0, atol=1e-7)


TORCH_DEVICES = ["cpu"] + (["cuda"] if __import__("torch").cuda.is_available() else [])


@pytest.mark.parametrize("device", TORCH_DEVICES)
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("mode,k,d", [("none", 0, 0), ("faithful", 7, 3), ("faithful", 100, 0), ("asnorm", 6, 2)])
def test_torch_engine_matches_plain_loop(version, mode, k, d, device):
    refs, tests, cohort = random_case(11)
    k_eff = min(k, len(cohort) - d)
    got = our_scores(version, refs, tests, cohort, mode, k, d, engine=TorchEngine(device))
    np.testing.assert_allclose(got, reference_scores(version, refs, tests, cohort, mode, k_eff, d),
                               rtol=0, atol=1e-7)


def test_engine_choice():
    assert make_engine().name == "numpy"
    assert make_engine("torch").name == "torch"
    with pytest.raises(ValueError, match="CPU only"):
        make_engine("numpy", "cuda")
    with pytest.raises(ValueError, match="unknown back-end engine"):
        make_engine("jax")
    if not __import__("torch").cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            make_engine("auto", "cuda")


@pytest.mark.parametrize("version", VERSIONS)
def test_zero_vectors_score_zero(version):
    refs, tests, _ = random_case(5)
    plain = our_scores(version, refs, tests)
    assert np.all(plain[-1] == 0.0) and np.all(plain[:, -1] == 0.0)


def test_model_with_two_enrollment_videos_takes_the_max():
    refs, tests, _ = random_case(2)
    params = BackendParams("v3")
    scorer = Scorer(params, be.enroll_side(params, refs), np.array([1, 0, 1, 2, 3]), 4)
    got = scorer.score(be.test_side(params, tests))
    single = our_scores("v3", refs, tests)
    np.testing.assert_allclose(got[1], np.maximum(single[0], single[2]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(got[0], single[1], rtol=0, atol=1e-12)


def test_video_blocks_respect_the_row_budget():
    assert video_blocks([3, 2, 5, 9, 1, 1], 6) == [(0, 2), (2, 3), (3, 4), (4, 6)]
    assert video_blocks([], 4) == []


@pytest.mark.parametrize("version", ["v1", "v7"])
def test_faithful_snorm_on_a_larger_cohort(version, monkeypatch):
    """Hundreds of cohort faces without ties: the partition fast path of the ranking and several strips."""
    monkeypatch.setattr(engine_module, "STRIP", 5)
    rng = np.random.default_rng(7)
    refs = [rng.normal(size=(n, 16)) for n in (2, 1, 3)]
    tests = [rng.normal(size=(n, 16)) for n in (4, 1, 3, 2)]
    cohort = rng.normal(size=(300, 16))
    want = reference_scores(version, refs, tests, cohort, "faithful", 40, 5)
    for engine in (NumpyEngine(), TorchEngine("cpu")):
        got = our_scores(version, refs, tests, cohort, "faithful", 40, 5, block_rows=3, engine=engine)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-7)


@pytest.mark.parametrize("mode", ["none", "faithful"])
def test_worker_threads_give_the_same_scores(mode):
    refs, tests, cohort = random_case(3)
    params = BackendParams("v1")
    scores = []
    for workers in (1, 3):
        scorer = Scorer(params, be.enroll_side(params, refs), np.arange(len(refs)), len(refs), block_rows=2,
                        workers=workers)
        snorm = None if mode == "none" else scorer.cohort_norm(mode, cohort, 9, 1)
        scores.append(scorer.score(be.test_side(params, tests), snorm))
    np.testing.assert_array_equal(scores[0], scores[1])


def test_each_version_has_its_original_defaults():
    assert [be.be_name(BackendParams(v)) for v in VERSIONS] == [
        "be_v1", "be_v2", "be_v3", "be_v4_thrahc0.8", "be_v5_thrahc0.8", "be_v6_selfatt_a2",
        "be_v7_selfatt_a2_att_a4", "be_v8_selfatt_a1", "be_v9_selfatt_a2"]
    assert BackendParams("v8").self_att_a == 1.0 and BackendParams("v9").self_att_a == 2.0
    with pytest.raises(ValueError, match="unknown back-end version 'v10'"):
        BackendParams("v10")


def test_config_keys_command_line_and_v8():
    config = {"thr_ahc": "0.95", "self_att_a": "40", "att_a": "120", "thr_ahc_v5": "0.96"}
    assert be.params_from_config("v4", config).thr_ahc == 0.95
    assert be.params_from_config("v5", config).thr_ahc == 0.96  # the version's own key wins
    assert be.params_from_config("v7", config) == BackendParams("v7", self_att_a=40, att_a=120)
    assert be.params_from_config("v8", config).self_att_a == 1.0  # the shared key is not v8's
    assert be.params_from_config("v8", {**config, "self_att_a_v8": "3"}).self_att_a == 3.0
    assert be.params_from_config("v8", config, {"self_att_a": 5.0, "att_a": None}).self_att_a == 5.0
    assert be.params_from_config("v4", {"thr_ahc": ""}).thr_ahc == 0.8  # empty: not set
    with pytest.raises(ValueError, match=r"conf.sh: thr_ahc='high' is not a number"):
        be.params_from_config("v4", {"thr_ahc": "high"}, origin="conf.sh")


@pytest.mark.parametrize("values", [{}, {"thr_ahc": 0.95}, {"self_att_a": 40.0, "att_a": 120.0},
                                    {"self_att_a": 0.1 + 0.2}, {"self_att_a": 1e-5}])
def test_directory_names_and_options_round_trip(values):
    for version in VERSIONS:
        params = BackendParams(version, **values)
        used = be.SPECS[version].params  # the name and options hold only the parameters the version uses
        parsed = be.parse_be_name(be.be_name(params))
        assert parsed is not None and all(getattr(parsed, p) == getattr(params, p) for p in used)
        words = be.be_options(params)
        assert words[:2] == ["--backend", version] and len(words) == 2 + 2 * len(used)
        assert all(float(w) == getattr(params, o[2:].replace("-", "_")) for o, w in zip(words[2::2], words[3::2]))
    assert be.parse_be_name("be_v10") is None and be.parse_be_name("be_v4_thrahc0.90") is None
