"""The template protocol (hyp_face.fusion.templates, faces): splits, draws, degradation and metrics."""

from __future__ import annotations

import numpy as np
import pytest

from hyp_face.bin import eval_be, eval_set_protocol
from hyp_face.fusion.faces import degrade, split_of
from hyp_face.fusion.templates import (
    ScoredTrials,
    draw_templates,
    make_protocol,
    paired_bootstrap,
    protocol_metrics,
    random_half,
    rank1,
    tar_at_far,
)
from hyp_face.io.embed_store import EmbedReader, EmbedWriter, FaceMeta

DIM = 6


def test_split_is_a_stable_hash_of_the_name():
    names = [f"Person_{i}" for i in range(300)]
    splits = [split_of(n) for n in names]
    assert splits == [split_of(n) for n in names]
    share = {s: splits.count(s) / len(names) for s in ("train", "dev", "test")}
    assert 0.4 < share["train"] < 0.6 and 0.1 < share["dev"] < 0.3 and 0.2 < share["test"] < 0.4


def test_random_half_degrades_half_of_each_template():
    rng = np.random.default_rng(0)
    assert random_half(4, rng).sum() == 2
    assert {int(random_half(3, rng).sum()) for _ in range(50)} == {1, 2}


def test_degrade_is_deterministic_and_changes_the_image():
    image = np.random.default_rng(1).integers(0, 255, (150, 150, 3), dtype=np.uint8)
    a, how = degrade(image, 100.0, 7)
    b, _ = degrade(image, 100.0, 7)
    assert np.array_equal(a, b) and a.shape == image.shape and not np.array_equal(a, image)
    assert how.startswith("shrink") and "jpeg" in how


def test_tar_at_far_and_rank1_on_a_known_case():
    imp = np.arange(1000) / 1000.0  # 0.000 .. 0.999
    gen = np.array([0.995, 0.9985, 0.5, 1.2])
    np.testing.assert_allclose(tar_at_far(gen, imp, (1e-2, 1e-3)), [0.75, 0.5])
    st = ScoredTrials(np.array([0.9, 0.2, 0.3, 0.8]), np.array([True, False, True, False]),
                      np.array([0, 1, 1, 0]), np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1]), ["a", "b"])
    assert rank1(st) == 0.5  # test 0 finds a; test 1 prefers a (0.8) over b (0.3)


def test_paired_bootstrap_of_a_method_against_itself_is_zero():
    rng = np.random.default_rng(2)
    n = 30
    e, t = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    target = (e == t).ravel()
    scores = rng.normal(size=n * n) + 3 * target
    st = ScoredTrials(scores, target, e.ravel(), t.ravel(), t.ravel(), [str(i) for i in range(n)])
    diff, lo, hi = paired_bootstrap(st, st, reps=20)
    assert np.all(diff == 0) and np.all(lo == 0) and np.all(hi == 0)
    assert protocol_metrics(st)[0] > 0.5


@pytest.fixture()
def faces_dir(tmp_path):
    """Clean and degraded stores of LFW-named images: 24 identities of 5 images, degraded = noisier."""
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(24, DIM))
    with EmbedWriter(tmp_path / "clean") as clean, EmbedWriter(tmp_path / "degraded") as bad:
        for i, c in enumerate(centres):
            for j in range(1, 6):
                key = f"Person_{i:02d}_{j:04d}"
                meta = FaceMeta(frame=[0], time=[0.0], box=[[0, 0, 90, 90]], score=[0.99], landmarks=np.zeros((1, 5, 2)),
                                norm=[2.5], sharpness=[200.0])
                clean.write(key, c + 0.3 * rng.normal(size=(1, DIM)), meta)
                meta.sharpness[:] = 5.0
                bad.write(key, c + 2.0 * rng.normal(size=(1, DIM)), meta)
    return tmp_path


def test_protocol_data_dirs_are_deterministic_and_score_through_eval_be(faces_dir, tmp_path):
    out = tmp_path / "proto"
    make_protocol(faces_dir, out, num_draws=3, max_size=2)
    trials = (out / "test_degraded" / "trials").read_text()
    make_protocol(faces_dir, tmp_path / "again", num_draws=3, max_size=2)
    assert (tmp_path / "again" / "test_degraded" / "trials").read_text() == trials
    with EmbedReader(out / "test_degraded" / "embed.scp") as r:
        key = r.keys()[0]
        assert len(r.read(key)) == 2 and sorted(r.read_meta(key).sharpness.tolist()) == [5.0, 200.0]
    data = out / "test_degraded"
    reports = []
    for spec in ("mean", "qmean:sharpness"):
        eval_be.main(["--backend", "v1", "--aggregator", spec, "--verbose", "0", str(data / "trials"),
                      str(data / "utt2spk"), str(data / "embed.scp"), str(data / "embed.scp"), str(data / "embed.scp"),
                      str(tmp_path / spec)])
        reports.append(f"{spec.split(':')[0]}={tmp_path / spec}")
    report = eval_set_protocol.main(["--data-dir", str(data), "--reps", "50", "--out", str(tmp_path / "rep"), *reports])
    assert report["num_target"] == 3 * report["num_identities"]
    qmean = report["methods"]["qmean"]
    assert qmean["metrics"]["TAR@0.01"] >= report["methods"]["mean"]["metrics"]["TAR@0.01"]
    assert qmean["ci95_low"]["TAR@0.01"] <= qmean["diff"]["TAR@0.01"] <= qmean["ci95_high"]["TAR@0.01"]
    assert (tmp_path / "rep.md").read_text().startswith("| method | EER %")


def test_draws_cover_only_their_split(faces_dir):
    with EmbedReader(faces_dir / "clean.scp") as r:
        from hyp_face.fusion.templates import identities_of

        groups = identities_of(r.keys())
    templates = draw_templates(groups, "test", num_draws=2, max_size=2)
    assert all(split_of(t.identity) == "test" for t in templates)
    assert all(not set(a.images) & set(b.images) for a, b in zip(templates[::2], templates[1::2]))
