"""The speaker side of the recipe: the zoo row and run_000, run_003 on the shared clips (statuses, spans, reruns),
the speaker back-end through run_041 with the speaker config, and run_090's fusion with its --missing policy."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from audio_media import GE2E_SHA256, ge2e_models_dir
from hyp_face.bin.get_models import config_models
from hyp_face.io.embed_store import EmbedReader
from hyp_face.zoo import zoo_models

ROOT = Path(__file__).resolve().parents[1]
SPEAKER_CONFIG = "global_conf/speaker/config_ge2e.sh"
CLIPS = {  # model -> clip under celeb_video_smoke (each 7-10 s of one speaker)
    "aoc": "OpenTalker_SadTalker/examples/ref_video/WDA_AlexandriaOcasioCortez_000.mp4",
    "hill": "OpenTalker_SadTalker/examples/ref_video/WDA_KatieHill_000.mp4",
    "miranda": "ageitgey_face_recognition/examples/short_hamilton_clip.mp4",
    "biden": "hieubkvn123_face_recognition/videos/biden.mp4",
}
DURATION = {"aoc": 8.0, "hill": 8.0, "miranda": 10.0, "biden": 7.0}


def test_speaker_model_in_the_zoo():
    model = zoo_models()["ge2e_resemblyzer"]
    assert (model.kind, model.builder) == ("speaker", "ge2e_resemblyzer")
    (row,) = model.files
    assert row.sha256 == GE2E_SHA256 and row.source == "pypi-wheel:resemblyzer==0.1.4"
    assert row.member == "resemblyzer/pretrained.pt"
    assert config_models(str(ROOT / SPEAKER_CONFIG)) == ["ge2e_resemblyzer"]
    assert config_models(str(ROOT / "global_conf/config_embedded.sh"))[0] == "retinaface_mnet025_embedded"


def test_run_000_offline_names_the_speaker_model(tmp_path):
    env = {**os.environ, "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_NO_CACHE_DIR": "1", "PIP_RETRIES": "0",
           "PIP_FIND_LINKS": ""}
    proc = subprocess.run(["bash", "run_000_get_pretrained_models.sh", "--config-file", SPEAKER_CONFIG,
                           "--models-dir", str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode != 0
    assert f"{tmp_path}/speaker/resemblyzer/pretrained.pt  <- pypi-wheel:resemblyzer==0.1.4" in proc.stderr
    assert not (tmp_path / "speaker" / "resemblyzer" / "pretrained.pt").exists()


def write_dir(path: Path, files: dict[str, str], **tables: list[str]) -> None:
    path.mkdir(parents=True)
    (path / "vid.scp").write_text("".join(f"{k} {v}\n" for k, v in sorted(files.items())))
    for name, lines in tables.items():
        (path / name).write_text("".join(f"{line}\n" for line in lines))


@pytest.fixture
def recipe(tmp_path, shared):
    pytest.importorskip("silero_vad")
    clips = {m: shared("data/celeb_video_smoke", c) for m, c in CLIPS.items()}
    photo = shared("data/celeb_video_smoke/ageitgey_face_recognition/examples/obama.jpg")
    models = ge2e_models_dir(tmp_path)
    root = tmp_path / "recipe"
    root.mkdir()
    for name in ("path.sh", "cmd.sh", "steps", "utils", "local", "hyp_face", "conf", "global_conf",
                 "run_003_extract_speaker_embed.sh", "run_041_eval_be_v2.sh", "run_090_av_fusion.sh"):
        (root / name).symlink_to(ROOT / name)
    data = root / "data"
    write_dir(data / "avs_enroll", {f"{m}-enr": str(p) for m, p in clips.items()},
              utt2spk=[f"{m}-enr {m}" for m in sorted(clips)], speech_spans=[f"{m}-enr 0 2.5" for m in sorted(clips)])
    tests = {f"{m}-t{i}": str(p) for m, p in clips.items() for i in (1, 2)}
    spans = [f"{m}-t1 2.5 {(2.5 + DURATION[m]) / 2}" for m in clips] + \
            [f"{m}-t2 {(2.5 + DURATION[m]) / 2} {DURATION[m]}" for m in clips]
    write_dir(data / "avs_test", {**tests, "obama-photo": str(photo)}, speech_spans=sorted(spans),
              utt2spk=[f"{t} {t}" for t in sorted({**tests, "obama-photo": ""})],
              trials=[f"{m} {t} {'target' if t.startswith(m + '-') else 'nontarget'}" for m in sorted(clips)
                      for t in sorted(tests)])
    return root, models


def run(root: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", train_cmd="run.pl")
    return subprocess.run(["bash", *cmd], cwd=root, env=env, capture_output=True, text=True, check=check,
                          timeout=600)


@pytest.mark.slow
def test_speaker_recipe_end_to_end(recipe):
    root, models = recipe
    args = ("run_003_extract_speaker_embed.sh", "--models-dir", str(models), "--enroll-sets", "avs_enroll",
            "--test-sets", "avs_test", "--max-nj", "2")
    proc = run(root, *args)
    assert "4 files, 4 with speech, 0 without speech, 0 without an audio stream" in proc.stdout
    assert "9 files, 8 with speech, 0 without speech, 1 without an audio stream, 0 unreadable" in proc.stdout
    assert "without an audio stream obama-photo: no audio stream (streams: video)" in proc.stdout
    embed_dir = root / "exp" / "speaker_embed" / "spk-ge2e"
    with EmbedReader(embed_dir / "ref" / "avs_enroll" / "embed.scp") as ref, \
            EmbedReader(embed_dir / "facedet" / "avs_enroll" / "embed.scp") as full:
        assert ref.read("aoc-enr").shape == (1, 256)
        assert float(ref.read("aoc-enr")[0] @ full.read("aoc-enr")[0]) < 0.9999  # 2.5 s spans vs the whole clip
    rerun = run(root, *args)
    assert "redoing" not in rerun.stdout + rerun.stderr

    be = run(root, "run_041_eval_be_v2.sh", "--config-file", SPEAKER_CONFIG, "--sets", "avs", "--cal-set", "avs",
             "--coh-data", "avs_test", "--ncoh", "4", "--ncoh-discard", "0", "--score-plots", "false")
    assert "avs" in be.stdout
    cal_dir = root / "exp" / "scores" / "spk-ge2e" / "be_v2" / "cosine_snorm4_v1_cal_v1_sre19"
    raw = {tuple(line.split()[:2]): float(line.split()[2])
           for line in (root / "exp/scores/spk-ge2e/be_v2/cosine/avs_scores").read_text().splitlines()}
    tar = [s for (m, t), s in raw.items() if t.startswith(m + "-")]
    non = [s for (m, t), s in raw.items() if not t.startswith(m + "-")]
    assert min(tar) > max(non)  # real speech: every target above every non-target

    face_dir = root / "face_scores"
    face_dir.mkdir()
    rng = np.random.default_rng(0)
    trials = (root / "data/avs_test/trials").read_text().splitlines()
    face_lines = [f"{m} {t} {(3.0 if k == 'target' else -3.0) + rng.normal():f}" for m, t, k in map(str.split, trials)]
    (face_dir / "avs_scores").write_text("\n".join(face_lines[1:]) + "\n")  # one trial missing
    fusion = ("run_090_av_fusion.sh", "--face-score-dir", str(face_dir), "--speaker-score-dir", str(cal_dir),
              "--sets", "avs", "--cal-set", "avs", "--score-plots", "false")
    failed = run(root, *fusion, check=False)
    assert failed.returncode != 0
    missing = " ".join(trials[0].split()[:2])
    assert f"no score for trial {missing} (1 of 32 trials missing)" in failed.stdout + failed.stderr
    run(root, *fusion, "--missing", "single")
    out = root / "exp" / "scores" / "av_fusion"
    text = (out / "results.md").read_text()
    cal_leaf = cal_dir.name  # the default name has each side's embedder, back-end and scoring
    for kind in ("face", "speaker", "mean", "greedy"):
        assert f"+spk-ge2e_be_v2_{cal_leaf} {kind} | 0.00 |" in text, text  # a row per kind, every target above
    mean = json.loads(next(out.glob("av_*/mean/avs_results.json")).read_text())
    assert (mean["eer_percent"], mean["n_target"], mean["n_nontarget"]) == (0.0, 8, 24)


def test_run_090_calibrates_external_speaker_scores(tmp_path):
    root = tmp_path / "recipe"
    root.mkdir()
    for name in ("path.sh", "cmd.sh", "steps", "utils", "hyp_face", "run_090_av_fusion.sh"):
        (root / name).symlink_to(ROOT / name)
    rng = np.random.default_rng(3)
    trials = [(f"m{i}", f"t{j}", i == j % 6) for i in range(6) for j in range(30)]
    (root / "data" / "ext_test").mkdir(parents=True)
    (root / "data" / "ext_test" / "trials").write_text(
        "".join(f"{m} {t} {'target' if k else 'nontarget'}\n" for m, t, k in trials))
    for name, scale in (("face", 2.0), ("external", 0.3)):  # external: raw cosines, far from LLRs
        (root / name).mkdir()
        (root / name / "ext_scores").write_text(
            "".join(f"{m} {t} {scale * ((1.0 if k else -1.0) + rng.normal()):f}\n" for m, t, k in trials))
    run(root, "run_090_av_fusion.sh", "--face-score-dir", str(root / "face"), "--speaker-score-dir",
        str(root / "external"), "--calibrate-speaker", "true", "--sets", "ext", "--cal-set", "ext",
        "--fusion-name", "ext", "--score-plots", "false")
    out = root / "exp" / "scores" / "av_fusion" / "ext"
    assert "| ext mean |" in (out.parent / "results.md").read_text()  # any fusion name gets its rows
    assert (out / "speaker_cal" / "cal_speaker.json").is_file()
    results = {k: json.loads((out / k / "ext_results.json").read_text()) for k in ("face", "speaker", "mean")}
    raw_cllr = json.loads((out / "speaker" / "ext_results.json").read_text())["cllr"]
    assert raw_cllr < 1.0  # calibrated: the raw cosines alone would be a poor LLR
    assert results["mean"]["min_cllr"] <= min(results["face"]["min_cllr"], results["speaker"]["min_cllr"]) + 1e-9
