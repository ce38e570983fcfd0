"""S-norm of gallery recognition scores (hyp_face.recognize.identify.ScoreNorm): a hand-checked case, the threshold
chosen on s-normalised scores, the cohort drawn from an open-set protocol, and the scoring rule of a config."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hyp_face.identify.protocols import RoleSet
from hyp_face.metrics.identification import dir_at_fpir
from hyp_face.frontend import FrontEndConfig
from hyp_face.recognize.gallery import read_cohort, scoring_rule, write_cohort
from hyp_face.recognize.identify import Identifier, ScoreNorm
from hyp_face.recognize.threshold import split_cohort, threshold_at_fpir
from hyp_face.recognize.timeline import UNKNOWN
from open_set_synth import stored_lfw_open_set

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "HYP_FACE_PYTHON": sys.executable}


def unit(v) -> np.ndarray:
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_asnorm_by_hand():
    """Gallery item g = (1, 0); cohort at 0, 90 and 180 degrees; ncoh 2. g's cohort cosines 1, 0, -1: top two 1, 0,
    mean 0.5, std 0.5. Probe (0, 1): cosines 0, 1, 0, top two 1, 0, mean 0.5, std 0.5; its cosine with g is 0, so
    ((0 - 0.5) / 0.5 + (0 - 0.5) / 0.5) / 2 = -1. Probe (1, 0): cosine 1, same statistics, so +1."""
    cohort = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    ident = Identifier(np.array([[1.0, 0.0]], np.float32), ["ann"], 0.5, ScoreNorm("asnorm", cohort, 2))
    np.testing.assert_allclose(ident.item_scores(np.array([[0.0, 1.0], [1.0, 0.0]])), [[-1.0], [1.0]], atol=1e-6)
    assert ident.identify(np.array([[0.0, 1.0], [1.0, 0.0]])).identity == [UNKNOWN, "ann"]


def test_snorm_discounts_a_face_that_is_close_to_everyone():
    """Two probes with the same cosine to ann's photo: one lies among the cohort faces (a "generic" face, close to
    everyone), the other far from them; s-norm scores the generic one lower, the raw cosine cannot tell them apart."""
    g = unit([[1.0, 0.0, 0.0]])
    cohort = unit([[0.6, 0.8, 0.0], [0.5, 0.85, 0.1], [0.55, 0.8, -0.1], [0.6, 0.75, 0.2], [-0.6, -0.8, 0.0]])
    generic, distinct = unit([[0.8, 0.6, 0.0], [0.8, 0.0, 0.6]])
    raw = Identifier(g, ["ann"], 0.0).identity_scores(np.stack([generic, distinct]))
    assert raw[0, 0] == pytest.approx(raw[1, 0])
    for mode in ("asnorm", "faithful"):
        z = Identifier(g, ["ann"], 0.0, ScoreNorm(mode, cohort, 3)).identity_scores(np.stack([generic, distinct]))
        assert z[0, 0] < z[1, 0] - 1.0, mode


def test_threshold_on_normalised_scores_is_the_open_set_metric_threshold():
    rng = np.random.default_rng(1)
    gallery = unit(rng.normal(size=(15, 12)))
    ids = [f"p{k}" for k in range(15)]
    probes = np.concatenate([unit(gallery + 0.4 * rng.normal(size=gallery.shape)), unit(rng.normal(size=(200, 12)))])
    probe_ids = ids + [f"u{k}" for k in range(200)]
    norm = ScoreNorm("faithful", rng.normal(size=(60, 12)), 20)
    res = threshold_at_fpir(probes, probe_ids, gallery, ids, 0.05, norm)
    ident = Identifier(gallery, ids, res.threshold, norm)
    expected = dir_at_fpir(ident.identity_scores(probes), probe_ids, list(ident.identities), (0.05,))[0.05]
    assert res.threshold == expected["threshold"] and res.dir == expected["dir"]
    assert (res.score_norm, res.ncoh, res.n_cohort) == ("faithful", 20, 60)
    assert res.config_line("x").startswith(f"recognize_snorm_unknown_thr={res.threshold:.4f}")
    assert np.mean([i != UNKNOWN for i in ident.identify(probes[15:]).identity]) <= 0.05


def test_the_cohort_is_the_single_photo_people_outside_the_gallery_less_the_excluded():
    probe = RoleSet({u: f"/x/{u}.jpg" for u in ("a_2", "b_1", "c_1", "d_1", "e_1", "e_2")},
                    {"a_2": "a", "b_1": "b", "c_1": "c", "d_1": "d", "e_1": "e", "e_2": "e"}, "src")
    gallery = RoleSet({"a_1": "/x/a_1.jpg", "b_0": "/x/b_0.jpg"}, {"a_1": "a", "b_0": "b"}, "src")
    left, cohort = split_cohort(probe, gallery, frozenset({"d"}))
    assert sorted(cohort.vid) == ["c_1"]  # b is enrolled, d excluded, e has two photos
    assert sorted(left.vid) == ["a_2", "b_1", "d_1", "e_1", "e_2"] and left.utt2spk["d_1"] == "d"
    with pytest.raises(ValueError, match="no single-photo identity"):
        split_cohort(probe, gallery, frozenset({"c", "d"}))


def config_with(tmp_path: Path, cohort: str) -> Path:
    path = tmp_path / "config.sh"
    path.write_text(f"recognize_unknown_thr=0.9\nrecognize_score_norm=asnorm\nrecognize_snorm_ncoh=2\n"
                    f"recognize_snorm_unknown_thr=3.5\nrecognize_cohort={cohort}\n")
    return path


def test_scoring_rule_of_a_config(tmp_path, caplog):
    scp = write_cohort(["c0", "c1", "c2"], np.eye(3, dtype=np.float32), tmp_path / "cohort")
    np.testing.assert_array_equal(read_cohort(scp), np.eye(3))
    rule = scoring_rule(FrontEndConfig.from_file(config_with(tmp_path, str(scp))))
    assert rule.threshold == 3.5 and rule.norm.mode == "asnorm" and rule.norm.ncoh == 2 and len(rule.norm.cohort) == 3
    overridden = scoring_rule(FrontEndConfig.from_file(config_with(tmp_path, str(scp))), override=2.0)
    assert overridden.threshold == 2.0
    assert rule.fingerprint() != overridden.fingerprint()
    options = FrontEndConfig.from_file(config_with(tmp_path, str(scp))).as_options()
    assert "--recognize-score-norm=asnorm" in options and "--recognize-snorm-ncoh=2" in options
    with caplog.at_level(logging.WARNING):
        plain = scoring_rule(FrontEndConfig.from_file(config_with(tmp_path, str(tmp_path / "missing.scp"))))
    assert plain.norm is None and plain.threshold == 0.9 and "no s-norm cohort" in caplog.text
    bad = tmp_path / "bad.sh"
    bad.write_text("recognize_score_norm=znorm\n")
    with pytest.raises(ValueError, match="recognize_score_norm='znorm'"):
        FrontEndConfig.from_file(bad)


def test_choose_unknown_thr_stores_the_cohort(tmp_path):
    people, _ = stored_lfw_open_set(tmp_path, 60, 4)
    embed_dir = tmp_path / "face_embed"
    exclude = tmp_path / "exclude.txt"
    exclude.write_text("Person_00\nPerson_03\n")
    out = tmp_path / "thr.json"
    res = subprocess.run([sys.executable, "-m", "hyp_face.bin.choose_unknown_thr", "--protocol",
                          str(tmp_path / "lfw_id_open"), "--embed-dir", str(embed_dir), "--fpir", "0.1",
                          "--score-norm", "asnorm", "--ncoh", "5", "--cohort-exclude", str(exclude),
                          "--cohort-out", str(tmp_path / "cohort"), "--out", str(out)],
                         cwd=ROOT, env=ENV, capture_output=True, text=True, check=False, timeout=300)
    assert res.returncode == 0, res.stderr
    doc = json.loads(out.read_text())
    single = [n for n, photos in people.items() if len(photos) == 1 and n not in ("Person_00", "Person_03")]
    stored = read_cohort(tmp_path / "cohort" / "cohort.scp")
    assert doc["score_norm"] == "asnorm" and doc["n_cohort"] == len(single) == len(stored)
    lines = res.stdout.splitlines()
    assert lines[0].startswith(f"recognize_snorm_unknown_thr={doc['threshold']:.4f}")
    assert lines[1] == f"recognize_cohort={tmp_path / 'cohort' / 'cohort.scp'}"
    bad = subprocess.run([sys.executable, "-m", "hyp_face.bin.choose_unknown_thr", "--protocol",
                          str(tmp_path / "lfw_id_open"), "--embed-dir", str(embed_dir), "--score-norm", "asnorm"],
                         cwd=ROOT, env=ENV, capture_output=True, text=True, check=False, timeout=300)
    assert bad.returncode != 0 and "go together" in bad.stderr
