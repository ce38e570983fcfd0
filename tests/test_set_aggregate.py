"""Set aggregators (hyp_face.backend.aggregate) and their use through ``eval_be --aggregator``."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from hyp_face.backend.aggregate import QUALITIES, AggregatorError, parse_aggregator, quality_weights
from hyp_face.bin import eval_be
from hyp_face.io.embed_store import EmbedWriter, FaceMeta

DIM = 5
FIXED_SPECS = ("mean", "median", "pairs", *(f"qmean:{q}" for q in QUALITIES), "qmean:sharpness:3")


def meta_of(n: int, rng: np.random.Generator, equal: bool = False) -> FaceMeta:
    """Metadata of n faces with random (or all equal) qualities."""
    q = np.full(n, 2.0) if equal else rng.uniform(0.1, 3.0, n)
    side = 10 * q
    box = np.stack([np.zeros(n), np.zeros(n), side, side], axis=1)
    return FaceMeta(frame=np.arange(n), time=np.zeros(n), box=box, score=q / 3, landmarks=np.zeros((n, 5, 2)),
                    norm=q, sharpness=q)


@pytest.mark.parametrize("spec", FIXED_SPECS)
def test_every_aggregator_is_invariant_to_set_order(spec):
    rng = np.random.default_rng(1)
    x, meta = rng.normal(size=(7, DIM)), meta_of(7, rng)
    perm = rng.permutation(7)
    agg = parse_aggregator(spec)
    np.testing.assert_allclose(agg.pool(x[perm], meta.select(perm)), agg.pool(x, meta), atol=1e-12)


@pytest.mark.parametrize("spec", FIXED_SPECS)
def test_one_element_set_returns_its_element_normalised(spec):
    rng = np.random.default_rng(2)
    x = 3 * rng.normal(size=(1, DIM))
    out = parse_aggregator(spec).pool(x, meta_of(1, rng))
    np.testing.assert_allclose(out, x / np.linalg.norm(x), atol=1e-9)


@pytest.mark.parametrize("quality", QUALITIES)
def test_quality_weights_reduce_to_the_mean_when_qualities_are_equal(quality):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, DIM))
    weighted = parse_aggregator(f"qmean:{quality}:2").pool(x, meta_of(6, rng, equal=True))
    np.testing.assert_allclose(weighted, parse_aggregator("mean").pool(x), atol=1e-12)


def test_quality_weights_follow_the_power_of_the_quality():
    np.testing.assert_allclose(quality_weights(np.array([1.0, 3.0]), 2.0), [0.1, 0.9])
    np.testing.assert_allclose(quality_weights(np.zeros(4)), np.full(4, 0.25))


def test_mean_of_pairs_is_the_mean_cosine_over_all_pairs():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(3, DIM)), rng.normal(size=(4, DIM))
    agg = parse_aggregator("pairs")
    unit = lambda m: m / np.linalg.norm(m, axis=1, keepdims=True)  # noqa: E731
    assert (agg.pool(a) @ agg.pool(b).T).item() == pytest.approx(float((unit(a) @ unit(b).T).mean()))


@pytest.mark.parametrize("bad, message", [(np.zeros((0, DIM)), "empty set"),
                                          (np.array([[np.nan] * DIM]), "NaN")])
def test_bad_sets_are_clear_errors(bad, message):
    with pytest.raises(AggregatorError, match=message):
        parse_aggregator("mean").pool(bad, what="store.scp: v1")


def test_unknown_quality_and_missing_measures_are_clear_errors():
    with pytest.raises(AggregatorError, match="quality must be one of"):
        parse_aggregator("qmean:blur")
    meta = FaceMeta.unknown(2)  # a store written before norms and sharpness were kept
    with pytest.raises(AggregatorError, match="predates"):
        parse_aggregator("qmean:sharpness").pool(np.ones((2, DIM)), meta)


def test_eval_be_scores_with_the_aggregators(tmp_path):
    """v1 + --aggregator: the cosine of the pooled vectors (pairs: the mean pair cosine), per trial."""
    rng = np.random.default_rng(5)
    enroll = {"e1": rng.normal(size=(3, DIM)), "e2": rng.normal(size=(2, DIM))}
    tests = {"t1": rng.normal(size=(4, DIM)), "t2": rng.normal(size=(1, DIM))}
    metas = {k: meta_of(len(v), rng) for k, v in {**enroll, **tests}.items()}
    for name, sets in (("enr", enroll), ("test", tests)):
        with EmbedWriter(tmp_path / name) as w:
            for k, v in sets.items():
                w.write(k, v, metas[k])
    (tmp_path / "utt2spk").write_text("e1 m1\ne2 m2\n")
    (tmp_path / "trials").write_text("m1 t1 target\nm1 t2 nontarget\nm2 t1 nontarget\nm2 t2 target\n")
    specs = ["mean", "pairs", "qmean:norm:2"]
    if importlib.util.find_spec("torch") is not None:  # a trained-model spec with a mean weight (residual blend)
        from hyp_face.fusion.proxyfusion import ProxyFusion, ProxyFusionConfig, save_model

        save_model(tmp_path / "pf.pt", ProxyFusion(ProxyFusionConfig(DIM, num_proxies=4, k=2)).eval(), "any")
        specs.append(f"proxyfusion:{tmp_path / 'pf.pt'}:0.5")
    for i, spec in enumerate(specs):
        out = tmp_path / f"scores_{i}"
        eval_be.main(["--backend", "v1", "--aggregator", spec, "--verbose", "0", str(tmp_path / "trials"),
                      str(tmp_path / "utt2spk"), str(tmp_path / "enr.scp"), str(tmp_path / "enr.scp"),
                      str(tmp_path / "test.scp"), str(out)])
        agg = parse_aggregator(spec)
        for line in out.read_text().splitlines():
            m, t, score = line.split()
            e = agg.pool(enroll[f"e{m[1]}"], metas[f"e{m[1]}"], side="enroll")
            v = agg.pool(tests[t], metas[t], side="test")
            expected = (e @ v.T).item() / (1 if spec == "pairs" else np.linalg.norm(e) * np.linalg.norm(v))
            assert float(score) == pytest.approx(expected, abs=2e-6), (spec, line)


def test_eval_be_kspaced_pairs_is_the_neighbours_face_score(tmp_path):
    """--kspaced 3 --aggregator pairs: the mean cosine over the 3 x 3 evenly spaced faces of each side (by stored
    time, whatever the store order), as hyp_face.backend.kspaced's plain reference computes it; the name says K."""
    from hyp_face.backend.kspaced import mean_of_pairs, select_kspaced

    rng = np.random.default_rng(7)
    sets = {"e1": rng.normal(size=(7, DIM)), "t1": rng.normal(size=(5, DIM)), "t2": rng.normal(size=(2, DIM))}
    metas = {k: meta_of(len(v), rng) for k, v in sets.items()}
    for k in sets:
        metas[k].time = rng.permutation(len(sets[k])).astype(np.float64)  # stored out of time order
    for name, keys in (("enr", ["e1"]), ("test", ["t1", "t2"])):
        with EmbedWriter(tmp_path / name) as w:
            for k in keys:
                w.write(k, sets[k], metas[k])
    (tmp_path / "utt2spk").write_text("e1 m1\n")
    (tmp_path / "trials").write_text("m1 t1 target\nm1 t2 nontarget\n")
    args = ["--backend", "v1", "--aggregator", "pairs", "--kspaced", "3", "--verbose", "0", str(tmp_path / "trials"),
            str(tmp_path / "utt2spk"), str(tmp_path / "enr.scp"), str(tmp_path / "enr.scp"),
            str(tmp_path / "test.scp"), str(tmp_path / "scores")]
    eval_be.main(args)
    picked = {k: select_kspaced(v, metas[k].time, 3) for k, v in sets.items()}
    assert len(picked["e1"]) == 3 and len(picked["t2"]) == 2
    for line in (tmp_path / "scores").read_text().splitlines():
        _, t, score = line.split()
        assert float(score) == pytest.approx(mean_of_pairs(picked["e1"], picked[t]), abs=2e-6)
    assert float(line.split()[2]) != pytest.approx(mean_of_pairs(sets["e1"], sets[t]), abs=1e-3)  # K matters
    assert eval_be.full_be_name(eval_be.backend_params(eval_be.parse_args(args)),
                                eval_be.side_aggregators(eval_be.parse_args(args)), 3) == "be_v1_k3_agg_pairs"


def test_eval_be_kspaced_keeps_the_qualities_of_the_faces_it_keeps(tmp_path):
    """--kspaced with a quality-weighted aggregator weighs the kept faces by their own stored qualities."""
    from hyp_face.backend.kspaced import kspaced_index

    rng = np.random.default_rng(8)
    sets = {"e1": rng.normal(size=(6, DIM)), "t1": rng.normal(size=(5, DIM))}
    metas = {k: meta_of(len(v), rng) for k, v in sets.items()}
    for k in sets:
        metas[k].time = rng.permutation(len(sets[k])).astype(np.float64)
    for name, key in (("enr", "e1"), ("test", "t1")):
        with EmbedWriter(tmp_path / name) as w:
            w.write(key, sets[key], metas[key])
    (tmp_path / "utt2spk").write_text("e1 m1\n")
    (tmp_path / "trials").write_text("m1 t1 target\n")
    eval_be.main(["--backend", "v1", "--aggregator", "qmean:size", "--kspaced", "3", "--verbose", "0",
                  str(tmp_path / "trials"), str(tmp_path / "utt2spk"), str(tmp_path / "enr.scp"),
                  str(tmp_path / "enr.scp"), str(tmp_path / "test.scp"), str(tmp_path / "scores")])
    agg = parse_aggregator("qmean:size")
    pooled = {}
    for k, x in sets.items():
        rows = kspaced_index(metas[k].time, 3)
        pooled[k] = agg.pool(x[rows], metas[k].select(rows))
    e, v = pooled["e1"], pooled["t1"]
    expected = (e @ v.T).item() / (np.linalg.norm(e) * np.linalg.norm(v))
    assert float((tmp_path / "scores").read_text().split()[2]) == pytest.approx(expected, abs=2e-6)


def test_embed_with_quality_keeps_the_embeddings_and_measures_norm_and_sharpness():
    from test_extract import MeanColour

    chips = np.random.default_rng(6).integers(0, 255, (5, 16, 16, 3), dtype=np.uint8)
    chips[0] = 77  # a flat chip has sharpness 0
    emb = MeanColour(flip=True)
    out = emb.embed_with_quality(chips)
    assert out.embeds.tobytes() == emb.embed(chips).tobytes()
    raw = 2 * (chips.reshape(5, -1, 3).mean(1) + 1.0)  # flip: the mirrored chip has the same mean colour
    np.testing.assert_allclose(out.norm, np.linalg.norm(raw, axis=1), rtol=1e-6)
    assert out.sharpness[0] == 0 and (out.sharpness[1:] > 0).all()


def test_extraction_stores_norm_and_sharpness(tmp_path):
    from synth_media import code_frame
    from test_extract import MeanColour, ScriptedDetector

    from hyp_face.extract import ExtractOptions, FaceExtractor
    from hyp_face.video.synth import write_video

    path = tmp_path / "v.mp4"
    write_video(path, (code_frame(k, 96, 64) for k in range(20)), fps=10)
    det = ScriptedDetector([[(0.99, (10.0, 10.0, 50.0, 50.0))]])
    out = FaceExtractor(det, MeanColour(), ExtractOptions(fps=2.0)).process(str(path))
    assert len(out.meta) > 0 and np.isfinite(out.meta.norm).all() and np.isfinite(out.meta.sharpness).all()
    assert (out.meta.norm > 1).all()


def test_a_missing_proxyfusion_model_is_a_clear_error(tmp_path):
    with pytest.raises(AggregatorError, match=r"no model file .*m\.pt \(train one with"):
        parse_aggregator(f"proxyfusion:{tmp_path / 'm.pt'}")
