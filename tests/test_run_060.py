"""End to end: run_060_identify.sh and run_061_make_id_tables.sh on LFW-style protocols with synthetic embeddings."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hyp_face.io.embed_store import EmbedWriter
from test_id_protocols import make_sre_dirs

ROOT = Path(__file__).resolve().parents[1]
DIM = 8
PROTOCOLS = ("lfw_id_closed", "lfw_id_open", "lfw_id_idrate", "lfw_id_search")


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("recipe")
    for name in ("path.sh", "cmd.sh", "steps", "utils", "local", "hyp_face", "run_060_identify.sh",
                 "run_061_make_id_tables.sh"):
        (root / name).symlink_to(ROOT / name)
    lfw = root / "lfw"
    lfw.mkdir()
    rng = np.random.default_rng(0)
    faces = {}
    for i in range(24):
        centre = rng.normal(size=DIM)
        for j in range(1, 1 + [1, 2, 3, 6][i % 4]):
            stem = f"P{i:02d}_{j:04d}"
            (lfw / f"{stem}.jpg").write_bytes(b"")
            faces[stem] = (centre + 0.35 * rng.normal(size=DIM))[None].astype(np.float32)
    subprocess.run(["python3", "local/make_lfw_id_protocols.py", "--lfw-dir", str(lfw)], cwd=root, check=True,
                   capture_output=True, env=env())
    with EmbedWriter(root / "exp/face_embed/tiny/facedet/lfw_id_all/embed") as w:
        for key, x in faces.items():
            w.write(key, x)
    (root / "conf.sh").write_text(f"face_embed_name=tiny\nface_embed_dir={root}/exp/face_embed/tiny\n")
    return root


def env() -> dict:
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), HYP_FACE_PYTHON="python3")


def run(recipe: Path, script: str, *opts: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", script, *opts], cwd=recipe, env=env(), capture_output=True, text=True)


def test_help_starts_with_usage(recipe):
    for script in ("run_060_identify.sh", "run_061_make_id_tables.sh"):
        res = run(recipe, script, "--help")
        assert res.stdout.splitlines()[0].startswith("Usage:") or res.stderr.splitlines()[0].startswith("Usage:")
    text = run(recipe, "run_060_identify.sh", "--help")
    assert all(f"stage {n}:" in text.stdout + text.stderr for n in (1, 2, 3, 4))


def test_run_060_scores_every_protocol_and_reruns_nothing(recipe):
    res = run(recipe, "run_060_identify.sh", "--config-file", "conf.sh", "--stage", "2")
    assert res.returncode == 0, res.stderr
    out = recipe / "exp/identify/tiny/be_v1"
    for p in PROTOCOLS:
        result = json.loads((out / p / "results.json").read_text())
        assert result["protocol"] == p and result["backend"] == "be_v1"
    assert (out / "lfw_id_closed" / "cmc.png").stat().st_size > 0
    assert (out / "lfw_id_search" / "cmc.png").stat().st_size > 0
    assert (out / "lfw_id_open" / "dir_fpir.png").stat().st_size > 0
    table = (out / "results.md").read_text()
    assert "k_reciprocal paper (k1 20, k2 6, lam 0.3)" in table and "ecn dev-chosen" in table
    closed = json.loads((out / "lfw_id_closed" / "results.json").read_text())["figures"]
    assert 0 < closed["rank"]["1"] <= closed["rank"]["5"] <= 1
    rerun = run(recipe, "run_060_identify.sh", "--config-file", "conf.sh", "--stage", "2")
    assert rerun.returncode == 0 and "redoing" not in rerun.stderr
    assert rerun.stderr.count("unchanged, skipping") == 2 * len(PROTOCOLS)


def test_run_061_gathers_every_run(recipe):
    assert run(recipe, "run_060_identify.sh", "--config-file", "conf.sh", "--stage", "2", "--backend", "v4",
               "--rerank", "false", "--protocols", "lfw_id_closed").returncode == 0
    res = run(recipe, "run_061_make_id_tables.sh")
    assert res.returncode == 0, res.stderr
    rows = json.loads((recipe / "exp/identify/results.json").read_text())["rows"]
    assert {(r["back-end"], r["protocol"]) for r in rows} == {
        *(("be_v1", p) for p in PROTOCOLS), ("be_v4_thrahc0.8", "lfw_id_closed")}


def test_changed_embeddings_are_rescored(recipe):
    store = recipe / "exp/face_embed/tiny/facedet/lfw_id_all"
    with EmbedWriter(store / "embed") as w:
        for key in [line.split()[0] for line in (store / "embed.scp").read_text().splitlines()]:
            w.write(key, np.ones((1, DIM), np.float32) + (key == "P00_0001"))
    res = run(recipe, "run_060_identify.sh", "--config-file", "conf.sh", "--stage", "2", "--stop-stage", "2",
              "--protocols", "lfw_id_search")
    assert res.returncode == 0, res.stderr
    assert "search store changed" in res.stderr or "redoing" in res.stderr


def test_missing_protocol_is_a_clear_error(recipe):
    res = run(recipe, "run_060_identify.sh", "--config-file", "conf.sh", "--stage", "2", "--protocols", "nope")
    assert res.returncode != 0 and "data/nope is not a protocol dir" in res.stderr


def test_video_search_by_portrait_uses_the_reference_faces(recipe):
    """Models enrolled by bbox-guided references (one model with two videos, one video without a reference face);
    each test video shows one model or nobody: every query's relevant videos rank first."""
    rng = np.random.default_rng(5)
    people = rng.normal(size=(3, DIM)) * 3
    enroll, test = recipe / "data/vs_enroll", recipe / "data/vs_test"
    shows = {"t1": 0, "t2": 1, "t3": 2, "t4": 0, "t5": 1}
    make_sre_dirs(enroll, test, {"e1": "m0", "e2": "m0", "e3": "m1"}, {t: f"m{p}" for t, p in shows.items()})
    noisy = lambda p, n: (people[p] + 0.1 * rng.normal(size=(n, DIM))).astype(np.float32)  # noqa: E731
    store = recipe / "exp/face_embed/tiny"
    for sub, faces in (("ref/vs_enroll", {"e1": noisy(0, 1), "e2": noisy(0, 2), "e3": np.zeros((0, DIM))}),
                       ("facedet/vs_enroll", {"e1": noisy(0, 1), "e2": noisy(0, 1), "e3": noisy(1, 3)}),
                       ("facedet/vs_test", {t: noisy(p, 2) for t, p in shows.items()})):
        with EmbedWriter(store / sub / "embed") as w:
            for key, x in faces.items():
                w.write(key, x)
    made = subprocess.run(["python3", "local/make_video_search_protocol.py", str(enroll), str(test), "data/vs"],
                          cwd=recipe, env=env(), capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    res = run(recipe, "run_060_identify.sh", "--config-file", "conf.sh", "--stage", "2", "--protocols", "vs",
              "--embed-sets", "", "--rerank", "false")
    assert res.returncode == 0, res.stderr
    assert "e3: no reference embedding (no face or speech in its enrollment segment), using the mean of its 3 facedet" \
        in res.stderr
    figures = json.loads((recipe / "exp/identify/tiny/be_v1/vs/results.json").read_text())["figures"]
    assert figures["map"] == 1.0 and figures["rank"]["1"] == 1.0
