"""``steps/eval_be.sh`` round trip on embeddings written with EmbedWriter, against the plain-loop reference."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_backend_versions import reference_scores

from hyp_face.backend.versions import VERSIONS
from hyp_face.io.embed_store import EmbedWriter

ROOT = Path(__file__).resolve().parents[1]
DIM = 6


def write_store(prefix: Path, videos: dict[str, np.ndarray]) -> Path:
    with EmbedWriter(prefix) as w:
        for key, x in videos.items():
            w.write(key, x.reshape(-1, DIM))
    return prefix.with_name(prefix.name + ".scp")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """3 models (mB: no reference face -> mean of facedet; mC: no face at all), 4 test videos (t2 empty)."""
    tmp = tmp_path_factory.mktemp("be")
    rng = np.random.default_rng(7)
    ids = rng.normal(size=(3, DIM))
    refs = {"eA": ids[0] + 0.3 * rng.normal(size=(3, DIM)), "eB": np.zeros((0, DIM)), "eC": np.zeros((0, DIM))}
    facedet = {"eA": rng.normal(size=(2, DIM)), "eB": ids[1] + 0.3 * rng.normal(size=(4, DIM)),
               "eC": np.zeros((0, DIM))}
    tests = {"t0": ids[0] + 0.3 * rng.normal(size=(4, DIM)), "t1": ids[1] + 0.3 * rng.normal(size=(2, DIM)),
             "t2": np.zeros((0, DIM)), "t3": rng.normal(size=(5, DIM))}
    cohort = {f"c{i}": ids[i % 3] + 0.5 * rng.normal(size=(i % 4, DIM)) for i in range(8)}
    (tmp / "utt2spk").write_text("eA mA\neB mB\neC mC\n")
    (tmp / "coh_utt2spk").write_text("".join(f"c{i} s{i}\n" for i in range(8)) + "cX sX\n")  # cX not extracted
    trials = [("mB", "t1"), ("mA", "t0"), ("mC", "t2"), ("mA", "t3"), ("mB", "t2"), ("mC", "t0")]
    (tmp / "trials").write_text("".join(f"{m} {t} nontarget\n" for m, t in trials))
    scps = {name: write_store(tmp / name / "embed", v)
            for name, v in (("ref", refs), ("enr", facedet), ("test", tests), ("coh", cohort))}
    model_refs = [refs["eA"], facedet["eB"].mean(axis=0, keepdims=True), np.zeros((1, DIM))]
    test_sets = [t if len(t) else np.zeros((1, DIM)) for t in tests.values()]
    cohort_faces = np.concatenate([cohort[f"c{i}"] for i in range(8)])
    return dict(tmp=tmp, scps=scps, trials=trials, refs=model_refs, tests=test_sets, cohort=cohort_faces)


def run_eval_be(corpus, out: Path, *opts: str, check: bool = True) -> subprocess.CompletedProcess:
    tmp, scps = corpus["tmp"], corpus["scps"]
    if not (ROOT / "utils/run.pl").exists():
        pytest.skip("utils/run.pl (the default --cmd of steps/eval_be.sh) is missing")
    cmd = ["bash", str(ROOT / "steps/eval_be.sh")]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    args = [*opts, str(tmp / "trials"), str(tmp / "utt2spk"), str(scps["ref"]), str(scps["enr"]),
            str(scps["test"]), str(out)]
    return subprocess.run(cmd + args, cwd=ROOT, env=env, capture_output=True, text=True, check=check)


def run_module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["python3", "-m", "hyp_face.bin.eval_be", *args], cwd=ROOT, capture_output=True,
                          text=True, check=False)


def read_scores(path: Path) -> list[tuple[str, str, float]]:
    return [(m, t, float(s)) for m, t, s in (line.split() for line in path.read_text().splitlines())]


def expected_lines(corpus, matrix: np.ndarray) -> list[tuple[str, str, float]]:
    models, tests = ["mA", "mB", "mC"], ["t0", "t1", "t2", "t3"]
    return [(m, t, matrix[models.index(m), tests.index(t)]) for m, t in corpus["trials"]]


def assert_scores(got, want):
    assert [(m, t) for m, t, _ in got] == [(m, t) for m, t, _ in want]
    np.testing.assert_allclose([s for *_, s in got], [s for *_, s in want], rtol=0, atol=1e-6)


@pytest.mark.parametrize("version", VERSIONS)
def test_plain_scores_in_trial_order(corpus, version, tmp_path):
    out = tmp_path / "scores" / f"{version}_scores"
    run_eval_be(corpus, out, "--backend", version)
    want = reference_scores(version, corpus["refs"], corpus["tests"])
    assert_scores(read_scores(out), expected_lines(corpus, want))
    assert (out.parent / "log" / f"eval_be_{out.name}.log").exists()
    assert all(len(line.split()[2].split(".")[1]) == 6 for line in out.read_text().splitlines())


def test_enrollments_without_a_reference_embedding_are_named_on_the_console(corpus, tmp_path):
    res = run_eval_be(corpus, tmp_path / "scores" / "v1_scores", "--backend", "v1")
    assert "2 enrollment utterance(s) had no reference embedding" in res.stdout, res.stdout + res.stderr
    assert "e.g. eB;" in res.stdout  # eB fell back to its facedet mean, eC (nothing at all) to a zero vector


@pytest.mark.parametrize("version,engine", [(v, "numpy") for v in VERSIONS] + [("v2", "torch"), ("v7", "torch")])
def test_faithful_snorm_with_discard(corpus, version, engine, tmp_path):
    out = tmp_path / "s"
    tmp, scps = corpus["tmp"], corpus["scps"]
    run_eval_be(corpus, out, "--backend", version, "--snorm", "faithful", "--cohort-utt2spk",
                str(tmp / "coh_utt2spk"), "--cohort-embed-scp", str(scps["coh"]), "--ncoh", "5",
                "--ncoh-discard", "2", "--engine", engine)
    assert f"({engine} on cpu," in (out.parent / "log" / f"eval_be_{out.name}.log").read_text()
    want = reference_scores(version, corpus["refs"], corpus["tests"], corpus["cohort"], "faithful", 5, 2)
    assert_scores(read_scores(out), expected_lines(corpus, want))


def test_full_matrix_is_grouped_by_sorted_test(corpus, tmp_path):
    out = tmp_path / "full"
    run_eval_be(corpus, out, "--backend", "v3", "--full-matrix", "true")
    got = read_scores(out)
    assert [(m, t) for m, t, _ in got] == [(m, t) for t in ("t0", "t1", "t2", "t3") for m in ("mA", "mB", "mC")]
    want = reference_scores("v3", corpus["refs"], corpus["tests"])
    np.testing.assert_allclose([s for *_, s in got], want.T.ravel(), atol=1e-6)


def test_missing_test_key_names_the_file(corpus, tmp_path):
    bad = corpus["tmp"] / "trials_bad"
    bad.write_text("mA t0 target\nmA t9 nontarget\n")
    scps = corpus["scps"]
    res = run_module("--backend", "v1", str(bad), str(corpus["tmp"] / "utt2spk"), str(scps["ref"]), str(scps["enr"]),
                     str(scps["test"]), str(tmp_path / "o"))
    assert res.returncode != 0
    assert str(scps["test"]) in res.stderr and "t9" in res.stderr
    assert not (tmp_path / "o").exists()


def test_non_finite_embeddings_name_the_file_and_key(corpus, tmp_path):
    bad = tmp_path / "nan" / "embed"
    bad.parent.mkdir()
    tests = {f"t{i}": np.ones((2, DIM)) for i in range(4)}
    tests["t3"][1, 2] = np.nan
    scp = write_store(bad, tests)
    tmp, scps = corpus["tmp"], corpus["scps"]
    res = run_module("--backend", "v1", str(tmp / "trials"), str(tmp / "utt2spk"), str(scps["ref"]),
                     str(scps["enr"]), str(scp), str(tmp_path / "o"))
    assert res.returncode != 0 and str(scp) in res.stderr and "'t3' holds NaN" in res.stderr
    assert not (tmp_path / "o").exists()


def test_cohort_of_another_dimension_is_a_clear_error(corpus, tmp_path):
    coh = tmp_path / "coh8" / "embed"
    coh.parent.mkdir()
    with EmbedWriter(coh) as w:
        w.write("c0", np.ones((3, 8)))
    scp = coh.with_name("embed.scp")
    tmp, scps = corpus["tmp"], corpus["scps"]
    res = run_module("--backend", "v2", "--snorm", "faithful", "--cohort-utt2spk", str(tmp / "coh_utt2spk"),
                     "--cohort-embed-scp", str(scp), str(tmp / "trials"), str(tmp / "utt2spk"), str(scps["ref"]),
                     str(scps["enr"]), str(scps["test"]), str(tmp_path / "o"))
    assert res.returncode != 0
    assert f"{scp} holds 8-D embeddings but {scps['test']} holds {DIM}-D ones" in res.stderr


def test_unusable_device_is_a_clear_error(corpus, tmp_path):
    res = run_eval_be(corpus, tmp_path / "x", "--backend", "v1", "--engine", "numpy", "--device", "cuda",
                      check=False)
    assert res.returncode != 0 and "failed, log is in" in res.stderr
    assert "the numpy engine runs on the CPU only" in (tmp_path / "log" / "eval_be_x.log").read_text()


def test_bad_backend_is_rejected(corpus, tmp_path):
    res = run_eval_be(corpus, tmp_path / "x", "--backend", "v10", check=False)
    assert res.returncode != 0 and "v1..v9" in res.stderr


def test_print_be_name_and_options_for_bash(tmp_path):
    res = run_module("--print-be-name", "--backend", "v7", "--self-att-a", "40", "--att-a", "120")
    assert res.returncode == 0 and res.stdout == "be_v7_selfatt_a40_att_a120\n"
    conf = tmp_path / "conf.sh"
    conf.write_text("face_embed_name=x\nthr_ahc=0.95  # tuned\nself_att_a=40\n")
    res = run_module("--print-be-name", "--print-be-options", "--backend", "v8", "--config-file", str(conf))
    assert res.stdout == "be_v8_selfatt_a1\n--backend v8 --self-att-a 1\n"  # the shared self_att_a is not v8's
    res = run_module("--print-be-options", "--backend", "v5", "--config-file", str(conf))
    assert res.stdout == "--backend v5 --thr-ahc 0.95\n"
    conf.write_text("thr_ahc=fast\n")
    res = run_module("--print-be-name", "--backend", "v4", "--config-file", str(conf))
    assert res.returncode != 0 and f"{conf}: thr_ahc='fast' is not a number" in res.stderr


def test_inputs_are_required_unless_printing():
    res = run_module("--backend", "v1", "trials")
    assert res.returncode == 2 and "required: enroll_utt2spk, ref_embed_scp" in res.stderr


def test_config_values_reach_the_scores(corpus, tmp_path):
    conf = tmp_path / "conf.sh"
    conf.write_text("self_att_a=9\n")
    tmp, scps = corpus["tmp"], corpus["scps"]
    args = [str(tmp / "trials"), str(tmp / "utt2spk"), str(scps["ref"]), str(scps["enr"]), str(scps["test"])]
    run_module("--backend", "v6", "--config-file", str(conf), *args, str(tmp_path / "a"), "--verbose", "0")
    run_module("--backend", "v6", "--self-att-a", "9", *args, str(tmp_path / "b"), "--verbose", "0")
    run_module("--backend", "v6", *args, str(tmp_path / "c"), "--verbose", "0")
    a, b, c = ((tmp_path / n).read_text() for n in "abc")
    assert a == b and a != c


def test_help_documents_every_option_and_version():
    from hyp_face.bin.eval_be import build_parser

    parser = build_parser()
    undocumented = [a.dest for a in parser._actions if not a.help]
    assert undocumented == []
    text = parser.format_help()
    assert all(f"  {v}: " in text for v in VERSIONS) and "self_att_a_v8" in text
