"""Reruns that notice change (job manifests) and failures that fail (extraction summary, eval_be on no faces).

Most tests run the extraction stage's steps in-process with a stand-in extractor (no model), in the order
steps/extract_face_embed.sh runs them; the last ones run the stage script itself on a tiny corpus."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import hyp_face.bin.extract_face_embed as xfe
from conftest import ROOT
from hyp_face.bin import eval_be, plan_extract_jobs, score_trials, summarize_extraction, train_calibration
from hyp_face.extract import ExtractOptions, VideoFaces
from hyp_face.io.embed_store import STATUS_VIDEO_ERROR, EmbedReader, EmbedWriter, FaceMeta, merge_scps
from hyp_face.io.manifest import (FRESH, Job, code_version, input_digest, manifest_changes, manifest_path,
                                  remove_stale_tmp, rerun_reason, write_manifest)
from hyp_face.io.store_summary import ExtractionSummary, allowed_unreadable

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HYP_FACE_THREADS": "1", "PYTHONPATH": str(ROOT)}
DIM = 4
KEYS = ["v1", "v2", "v3", "v4", "v5"]


# ------------------------------------------------------------------------------------------ manifest module


def test_changes_are_named_with_old_and_new_values():
    old = {"options": {"fps": 1.0, "max_frames": None}, "job": {"num_parts": 2}, "inputs": {"x": "a" * 64}}
    new = {"options": {"fps": 5.0, "max_frames": None}, "job": {"num_parts": 1}, "inputs": {"x": "b" * 64}}
    assert manifest_changes(old, new) == ["fps changed 1 \u2192 5", "num_parts changed 2 \u2192 1", "x changed"]
    assert manifest_changes(old, old) == []


def test_rerun_reason_fresh_done_changed_and_incomplete(tmp_path):
    out = tmp_path / "scores"
    manifest = {"options": {"a": 1}, "inputs": {"t": [1, 2]}}
    assert rerun_reason(manifest, [out]) == FRESH
    out.write_text("x\n")
    assert rerun_reason(manifest, [out]) == "no manifest of the previous run"
    write_manifest(manifest_path(out), manifest)
    assert rerun_reason(manifest, [out]) is None  # tuples/lists survive the JSON round trip
    assert rerun_reason({**manifest, "options": {"a": 2}}, [out]) == "a changed 1 \u2192 2"
    assert rerun_reason(manifest, [out, tmp_path / "plot.png"]).startswith("output ")


def test_job_start_logs_one_line_and_clears_stale_state(tmp_path, caplog):
    out = tmp_path / "model.json"
    job = Job("train x", [out], {"options": {"p": 0.05}})
    (tmp_path / ".model.json.abc.tmp").write_text("killed")
    (tmp_path / ".other.json.abc.tmp").write_text("someone else's")
    with caplog.at_level(logging.INFO):
        assert job.start(logging.getLogger("t"))
    assert not (tmp_path / ".model.json.abc.tmp").exists() and (tmp_path / ".other.json.abc.tmp").exists()
    out.write_text("{}")
    job.finish()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert not Job("train x", [out], {"options": {"p": 0.05}}).start(logging.getLogger("t"))
        assert Job("train x", [out], {"options": {"p": 0.01}}).start(logging.getLogger("t"))
    assert [r.getMessage() for r in caplog.records] == [
        "rerun: train x: inputs, options and code unchanged, skipping",
        "rerun: train x: p changed 0.05 \u2192 0.01, redoing"]
    assert not manifest_path(out).exists()  # a redo that dies leaves no manifest that would pass for done


def test_scp_inputs_count_the_files_they_list(tmp_path):
    scp = _store(tmp_path / "embed", {"a": np.ones((2, DIM))})
    before = input_digest(scp, follow_scp=True)
    assert input_digest(scp) != before
    _store(tmp_path / "embed", {"a": np.full((2, DIM), 2.0)})  # same scp text, new HDF5 content
    assert input_digest(scp, follow_scp=True) != before


def test_code_version_is_computed_once():
    first = code_version(("extract.py", "detect"))
    assert first is code_version(("extract.py", "detect")) and len(first["source_sha256"]) == 64
    assert code_version(("metrics",))["source_sha256"] != first["source_sha256"]


def test_remove_stale_tmp_everything_in_a_folder(tmp_path):
    for name in (".embed.1.h5.123.tmp", ".embed.scp.x1.tmp", "embed.1.h5"):
        (tmp_path / name).write_text("")
    assert [p.name for p in remove_stale_tmp(tmp_path)] == [".embed.1.h5.123.tmp", ".embed.scp.x1.tmp"]
    assert [p.name for p in tmp_path.iterdir()] == ["embed.1.h5"]


@pytest.mark.parametrize("limit, videos, allowed", [("0", 10, 0), ("3", 10, 3), ("5%", 40, 2), ("5%", 10, 0),
                                                    ("100%", 7, 7), ("12.5%", 8, 1)])
def test_allowed_unreadable(limit, videos, allowed):
    assert allowed_unreadable(limit, videos) == allowed


@pytest.mark.parametrize("limit", ["x", "-1", "5 %%", ""])
def test_allowed_unreadable_rejects_nonsense(limit):
    with pytest.raises(ValueError, match="max-unreadable"):
        allowed_unreadable(limit, 10)


def test_frontend_fingerprint_hashes_the_weight_files(tmp_path):
    (tmp_path / "det.onnx").write_bytes(b"v1")
    for name in ("r100-symbol.json", "r100-0003.params", "r100-0001.params"):
        (tmp_path / name).write_bytes(name.encode())
    argv = ["--vid-scp", "-", "--output-prefix", "-", "--detector", "scrfd", "--det-weights", str(tmp_path / "det.onnx"),
            "--embedder", "mxnet", "--embed-weights", f"{tmp_path / 'r100'},3"]

    def fingerprint(*extra: str) -> dict:
        return xfe.job_frontend(xfe.parse_args(argv + list(extra))).fingerprint()

    first = fingerprint()
    assert sorted(Path(f).name for f in first["embedder"]["sha256"]) == ["r100-0003.params", "r100-symbol.json"]
    (tmp_path / "det.onnx").write_bytes(b"v2")  # same path, new model
    second = fingerprint()
    assert second["detector"]["sha256"] != first["detector"]["sha256"]
    assert manifest_changes({"frontend": first}, {"frontend": second}) == [
        f"detector.sha256.{tmp_path / 'det.onnx'} changed"]
    flipped = fingerprint("--embed-flip", "true")
    assert manifest_changes({"frontend": second}, {"frontend": flipped}) == ["embed_flip changed false \u2192 true"]


# ------------------------------------------------------------------------- extraction stage, in-process


class StandInExtractor:
    """No model: fps x 2 faces per readable video, each embedding row holding fps and the first threshold."""

    def __init__(self, args):
        start = args.det_thr_start if args.det_thr_start is not None else 0.9
        self.opts = ExtractOptions(fps=args.fps, thresholds=[start])
        self.embedder = SimpleNamespace(dim=DIM, alignment="arcface112")

    def process(self, path, boxes=None, key=""):
        if not os.path.exists(path):
            missing = STATUS_VIDEO_ERROR + f"{path}: file not found"
            return VideoFaces(np.zeros((0, DIM), np.float32), FaceMeta(), missing)
        n = int(self.opts.fps * 2)
        return VideoFaces(np.tile([self.opts.fps, self.opts.thresholds[0], 0, 0], (n, 1)).astype(np.float32),
                          FaceMeta.unknown(n))


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    monkeypatch.setattr(xfe, "build_job_extractor", lambda args, cfg: StandInExtractor(args))
    data = tmp_path / "data"
    data.mkdir()
    for k in KEYS:
        (tmp_path / f"{k}.mp4").write_bytes(b"stand-in")
    (data / "vid.scp").write_text("".join(f"{k} {tmp_path / k}.mp4\n" for k in KEYS))
    return data, tmp_path / "out"


def run_stage(data: Path, out: Path, nj: int, *opts: str, capsys=None) -> str:
    """plan -> jobs -> merge, as steps/extract_face_embed.sh does; returns the plan's console lines."""
    job_args = ["--vid-scp", str(data / "vid.scp"), "--num-parts", str(nj), "--verbose", "0", *opts]
    assert plan_extract_jobs.main(["--merged", str(out / "embed.scp"), "--", *job_args,
                                   "--output-prefix", str(out / "embed.JOB")]) == 0
    console = capsys.readouterr().out if capsys else ""
    for j in range(1, nj + 1):
        assert xfe.main([*job_args, "--part-idx", str(j), "--output-prefix", str(out / f"embed.{j}")]) == 0
    merge_scps([out / f"embed.{j}.scp" for j in range(1, nj + 1)], out / "embed.scp")
    return console


def stored(out: Path) -> dict[str, np.ndarray]:
    with EmbedReader(out / "embed.scp") as r:
        return {k: r.read(k) for k in r.keys()}


def snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def test_fps_change_redoes_every_job(corpus, capsys):
    data, out = corpus
    assert run_stage(data, out, 2, "--fps", "1", capsys=capsys) == ""  # a first run has nothing to say
    assert len(stored(out)["v1"]) == 2
    console = run_stage(data, out, 2, "--fps", "5", capsys=capsys)
    assert console.count("fps changed 1 \u2192 5, redoing") == 2 and "job 2/2" in console
    assert {len(x) for x in stored(out).values()} == {10}


def test_threshold_change_redoes(corpus, capsys):
    data, out = corpus
    run_stage(data, out, 1)
    console = run_stage(data, out, 1, "--det-thr-start", "0.5", capsys=capsys)
    assert "job 1/1: det_thresholds.facedet changed [0.9, 0.8" in console and "\u2192 [0.5, 0.4" in console
    assert console.rstrip().endswith("redoing")
    assert stored(out)["v3"][0, 1] == pytest.approx(0.5)


def test_matching_rerun_skips_and_keeps_outputs_byte_identical(corpus, capsys):
    data, out = corpus
    run_stage(data, out, 2)
    before = snapshot(out)
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("embed.[12].*")}
    console = run_stage(data, out, 2, capsys=capsys)
    assert "2 of 2 job(s) unchanged (manifest matches), skipping them" in console and "redoing" not in console
    assert snapshot(out) == before
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("embed.[12].*")} == mtimes


def test_fewer_jobs_leave_no_stale_parts(corpus, capsys):
    data, out = corpus
    run_stage(data, out, 3)
    console = run_stage(data, out, 1, capsys=capsys)
    assert "removed 6 file(s) of the jobs beyond" in console and "num_parts changed 3 \u2192 1" in console
    assert sorted(stored(out)) == KEYS
    assert sorted(p.name for p in out.glob("embed.*")) == [
        "embed.1.h5", "embed.1.manifest.json", "embed.1.scp", "embed.scp"]


def test_fewer_jobs_remove_the_logs_of_the_jobs_beyond(tmp_path):
    logs = tmp_path / "log"
    logs.mkdir()
    for name in ("x.1.log", "x.2.log", "x.3.log", "x.3.log.1", "x.12.log", "y.3.log", "x.3.log.bak"):
        (logs / name).write_text("")
    found = plan_extract_jobs.logs_beyond(str(logs / "x.JOB.log"), 2)
    assert [p.name for p in found] == ["x.12.log", "x.3.log", "x.3.log.1"]


def test_more_jobs_merge_without_duplicates(corpus, capsys):
    data, out = corpus
    run_stage(data, out, 1)
    console = run_stage(data, out, 2, capsys=capsys)  # job 1 is redone: its old output holds every video
    assert "job 1/2: " in console and "job 2/2" not in console  # job 2 never ran: no line
    assert sorted(stored(out)) == KEYS
    with EmbedReader(out / "embed.1.scp") as r:
        assert len(r) == 2


def test_stale_tmp_removed_even_when_every_job_is_skipped(corpus, capsys):
    data, out = corpus
    run_stage(data, out, 2)
    (out / ".embed.2.h5.4242.tmp").write_bytes(b"\0" * 100)
    console = run_stage(data, out, 2, capsys=capsys)
    assert "removed .embed.2.h5.4242.tmp" in console and not (out / ".embed.2.h5.4242.tmp").exists()


def test_changed_vid_scp_redoes_the_jobs_it_touches_and_drops_the_merged_scp(corpus, capsys):
    data, out = corpus
    run_stage(data, out, 2)
    lines = (data / "vid.scp").read_text().splitlines()
    lines[-1] = lines[-1].replace("v5.mp4", "moved/v5.mp4")  # only job 2 holds v5
    (data / "vid.scp").write_text("\n".join(lines) + "\n")
    assert plan_extract_jobs.main(["--merged", str(out / "embed.scp"), "--", "--vid-scp", str(data / "vid.scp"),
                                   "--num-parts", "2", "--output-prefix", str(out / "embed.JOB")]) == 0
    console = capsys.readouterr().out
    assert "job 2/2: media_files changed, vid_scp_part changed, redoing" in console
    assert "1 of 2 job(s) unchanged" in console
    assert not (out / "embed.scp").exists()  # a failing redo cannot leave the old merge behind


def test_video_repaired_or_replaced_in_place_redoes_its_job(corpus, capsys):
    data, out = corpus
    (data.parent / "v5.mp4").unlink()  # unreadable in the first run
    run_stage(data, out, 2)
    assert "v5" in dict(ExtractionSummary.from_store(out / "embed.scp").unreadable)
    (data.parent / "v5.mp4").write_bytes(b"stand-in")  # repaired: same path, same vid.scp line
    console = run_stage(data, out, 2, capsys=capsys)
    assert "job 2/2: media_files changed, redoing" in console and "1 of 2 job(s) unchanged" in console
    assert not ExtractionSummary.from_store(out / "embed.scp").unreadable
    (data.parent / "v1.mp4").write_bytes(b"another stand-in")  # replaced in place by another video
    assert "job 1/2: media_files changed, redoing" in run_stage(data, out, 2, capsys=capsys)


def test_summary_counts_and_fails_on_unreadable(corpus, capsys):
    data, out = corpus
    (data.parent / "v2.mp4").unlink()
    (data.parent / "v4.mp4").unlink()
    run_stage(data, out, 2)
    summary = ExtractionSummary.from_store(out / "embed.scp")
    assert (summary.videos, summary.faces, summary.no_face) == (5, 6, 0)
    assert [k for k, _ in summary.unreadable] == ["v2", "v4"]
    assert summarize_extraction.main([str(out / "embed.scp")]) == 1
    text = capsys.readouterr()
    assert "5 videos, 6 faces, 0 without a face, 2 unreadable" in text.out
    assert "unreadable v2: " in text.out and "v2.mp4: file not found" in text.out
    assert "2 of 5 videos unreadable" in text.err
    assert summarize_extraction.main(["--max-unreadable", "40%", str(out / "embed.scp")]) == 0


def test_summary_names_only_the_first_five(tmp_path):
    scp = _store(tmp_path / "embed", {f"k{i}": np.zeros((0, DIM)) for i in range(8)},
                 status=STATUS_VIDEO_ERROR + "x: zero-byte file")
    lines = ExtractionSummary.from_store(scp).lines()
    assert sum(line.startswith("  unreadable k") for line in lines) == 5 and "3 more unreadable" in lines[-1]


# ------------------------------------------------------------------------------- back-end and scoring


def _store(prefix: Path, videos: dict[str, np.ndarray], status: str = "ok") -> Path:
    with EmbedWriter(prefix) as w:
        for key, x in videos.items():
            w.write(key, np.asarray(x).reshape(-1, DIM), status=status if not len(x) else "ok")
    return prefix.with_name(prefix.name + ".scp")


@pytest.fixture
def be_inputs(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "trials").write_text("mA t1 target\nmA t2 nontarget\nmB t1 nontarget\nmB t2 target\n")
    (tmp_path / "utt2spk").write_text("eA mA\neB mB\n")
    refs = _store(tmp_path / "ref" / "embed", {"eA": rng.normal(size=(2, DIM)), "eB": rng.normal(size=(1, DIM))})
    enr = _store(tmp_path / "enr" / "embed", {"eA": np.zeros((0, DIM)), "eB": np.zeros((0, DIM))})
    return tmp_path, [str(tmp_path / "trials"), str(tmp_path / "utt2spk"), str(refs), str(enr)]


def test_eval_be_fails_when_no_test_video_has_a_face(be_inputs):
    tmp, args = be_inputs
    empty = STATUS_VIDEO_ERROR + "file not found"
    tests = _store(tmp / "test" / "embed", {"t1": np.zeros((0, DIM)), "t2": np.zeros((0, DIM))}, status=empty)
    with pytest.raises(SystemExit, match=f"no test video has a face embedding in {tests}"):
        eval_be.main(["--backend", "v1", *args, str(tests), str(tmp / "scores"), "--verbose", "0"])
    assert not (tmp / "scores").exists()


def test_eval_be_fails_when_no_model_has_a_face(be_inputs):
    tmp, args = be_inputs
    args[2] = str(_store(tmp / "ref0" / "embed", {"eA": np.zeros((0, DIM)), "eB": np.zeros((0, DIM))}))
    tests = _store(tmp / "test" / "embed", {"t1": np.ones((1, DIM)), "t2": np.ones((2, DIM))})
    with pytest.raises(SystemExit, match="no enrollment model has a face embedding in .*ref0/embed.scp or "):
        eval_be.main(["--backend", "v1", *args, str(tests), str(tmp / "scores"), "--verbose", "0"])


def rerun_lines(text: str) -> list[str]:
    """The ``rerun:`` decisions logged to stderr (the CLIs set up their own logging)."""
    return [line.split("rerun: ", 1)[1] for line in text.splitlines() if "rerun: " in line]


def test_eval_be_skips_unchanged_and_redoes_on_new_embeddings(be_inputs, capsys):
    tmp, args = be_inputs
    rng = np.random.default_rng(1)
    tests = _store(tmp / "test" / "embed", {"t1": rng.normal(size=(2, DIM)), "t2": rng.normal(size=(2, DIM))})
    cmd = ["--backend", "v1", *args, str(tests), str(tmp / "scores")]
    eval_be.main(cmd)
    first = (tmp / "scores").read_text()
    eval_be.main(cmd + ["--device", "cpu", "--block-rows", "7"])  # how it runs is no change
    _store(tmp / "test" / "embed", {"t1": rng.normal(size=(2, DIM)), "t2": rng.normal(size=(2, DIM))})
    eval_be.main(cmd)
    eval_be.main(cmd + ["--backend", "v2"])
    rerun = rerun_lines(capsys.readouterr().err)
    assert rerun[0].endswith("unchanged, skipping")
    assert rerun[1].endswith("test_embed_scp changed, redoing")
    assert rerun[2].endswith("backend changed v1 \u2192 v2, redoing")
    assert (tmp / "scores").read_text() != first


def test_calibration_and_scoring_follow_the_rule(be_inputs, capsys):
    tmp, _ = be_inputs
    (tmp / "raw").write_text("mA t1 0.9\nmA t2 0.1\nmB t1 0.3\nmB t2 0.7\n")
    train = [str(tmp / "trials"), str(tmp / "raw"), str(tmp / "cal.json")]
    score = [str(tmp / "trials"), str(tmp / "raw"), str(tmp / "res"), "--plots", "false"]
    train_calibration.main(train)
    score_trials.main(score)
    before = (tmp / "cal.json").read_bytes(), (tmp / "res_results").read_bytes()
    train_calibration.main(train)
    score_trials.main(score)
    assert ((tmp / "cal.json").read_bytes(), (tmp / "res_results").read_bytes()) == before
    train_calibration.main(train + ["--p-target", "0.01"])
    (tmp / "raw").write_text("mA t1 0.8\nmA t2 0.1\nmB t1 0.3\nmB t2 0.7\n")
    score_trials.main(score)
    rerun = rerun_lines(capsys.readouterr().err)
    assert [m.rsplit(", ", 1)[-1] for m in rerun] == ["skipping", "skipping", "redoing", "redoing"]
    assert "p_target changed 0.05 \u2192 0.01" in rerun[2] and "scores changed" in rerun[3]


# ------------------------------------------------------------------------------- the stage script itself

def test_steps_script_shows_the_decision_on_the_console(be_inputs):
    tmp, _ = be_inputs
    (tmp / "raw").write_text("mA t1 0.9\nmA t2 0.1\nmB t1 0.3\nmB t2 0.7\n")
    cmd = [str(ROOT / "steps" / "score_trials.sh"), "--plots", "false", str(tmp / "trials"), str(tmp / "raw"),
           str(tmp / "res")]
    runs = [subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    assert "skipping" not in runs[0].stdout
    assert f"score_trials {tmp / 'res'}: inputs, options and code unchanged, skipping" in runs[1].stdout


def _stage(data: Path, out: Path, conf: Path, *opts: str) -> subprocess.CompletedProcess:
    conf.mkdir(exist_ok=True)
    (conf / "fe.sh").write_text("face_detector=retinaface_mnet025_embedded\nface_recognizer=dlib_resnet128\n")
    cmd = [str(ROOT / "steps" / "extract_face_embed.sh"), "--config-file", str(conf / "fe.sh"), *opts, str(data),
           str(out)]
    return subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)


def test_stage_fails_with_summary_when_the_corpus_moved(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "vid.scp").write_text("".join(f"{k} {tmp_path}/moved/{k}.mp4\n" for k in KEYS))
    run = _stage(data, tmp_path / "out", tmp_path / "conf", "--nj", "1")
    assert run.returncode != 0
    assert "5 videos, 0 faces, 0 without a face, 5 unreadable" in run.stdout
    assert run.stdout.count("file not found") == 5 and "5 of 5 videos unreadable" in run.stderr


@pytest.mark.slow
def test_stage_nj_down_then_up_with_new_fps(tmp_path):
    from hyp_face.video.synth import write_video
    from synth_media import code_frame

    data = tmp_path / "data"
    data.mkdir()
    for k in KEYS[:3]:
        write_video(tmp_path / f"{k}.mp4", [np.kron(code_frame(i), np.ones((2, 2, 1), np.uint8)) for i in range(20)])
    (data / "vid.scp").write_text("".join(f"{k} {tmp_path / k}.mp4\n" for k in KEYS[:3]))
    out, conf = tmp_path / "out", tmp_path / "conf"
    assert _stage(data, out, conf, "--nj", "2").returncode == 0
    down = _stage(data, out, conf, "--nj", "1", "--fps", "2")
    assert down.returncode == 0, down.stderr
    assert "job 1/1: fps changed 1 \u2192 2, num_parts changed 2 \u2192 1" in down.stdout
    assert "3 videos, 0 faces, 3 without a face, 0 unreadable" in down.stdout
    assert not list(out.glob("embed.2.*"))
    up = _stage(data, out, conf, "--nj", "2", "--fps", "2")
    assert up.returncode == 0, up.stderr
    assert "3 videos" in up.stdout and "Traceback" not in up.stderr
