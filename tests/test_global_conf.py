"""Every global config: parses, names known detectors / embedders / manifest models, points at the files its models
provide, and run_000 either fetches them (the offline default) or fails cleanly, offline, with instructions."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from hyp_face.bin.extract_face_embed import parse_args
from hyp_face.cli import read_shell_config
from hyp_face.detect.registry import DETECTORS, MXNET_DETECTORS, POINT_DETECTORS
from hyp_face.embed import list_embedders
from hyp_face.zoo import read_manifest

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "global_conf").glob("*.sh"))
MANIFEST = ROOT / "conf" / "model_zoo.tsv"
MODELS_DIR = "exp/face_models"
OFFLINE_DEFAULT = "config_embedded.sh"
REQUIRED = ("face_models", "face_det_model_name", "face_det_model", "face_det_opts", "face_reco_model_name",
            "face_reco_model", "face_reco_opts", "face_embed_name", "face_embed_dir", "thr_ahc", "self_att_a", "att_a")


def config(path: Path) -> dict[str, str]:
    return read_shell_config(path)


def zoo_dests(models: str) -> set[str]:
    """Paths (as the configs write them) of every file the named manifest models provide."""
    names = set(models.split())
    return {f"{MODELS_DIR}/{e.dest}" for e in read_manifest(MANIFEST) if e.model in names}


def weight_files(weights: str) -> list[str]:
    """Files behind a weights argument: a file, an MXNet ``PREFIX[,EPOCH]`` or ``PREFIX-NNNN.params``."""
    prefix, sep, epoch = weights.rpartition(",")
    if sep and epoch.isdigit():
        return [f"{prefix}-symbol.json", f"{prefix}-{int(epoch):04d}.params"]
    if "." in Path(weights).name:
        return [weights]
    return [f"{weights}-symbol.json", f"{weights}-0000.params"]


def test_there_are_the_documented_configs():
    assert {p.name for p in CONFIGS} >= {"default_config.sh", "config_v02_style.sh", "config_r50.sh", "config_r34.sh",
                                         "config_mobilefacenet.sh", "config_scrfd_w600k.sh", OFFLINE_DEFAULT}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_is_consistent(path):
    cfg = config(path)
    missing = [k for k in REQUIRED if k not in cfg]
    assert not missing, f"{path.name} lacks {missing}"
    assert path.read_text().startswith("#"), f"{path.name} has no leading comment"
    assert cfg["face_det_model_name"] in {**DETECTORS, **POINT_DETECTORS, **MXNET_DETECTORS}
    assert cfg["face_reco_model_name"] in list_embedders()
    known = {e.model for e in read_manifest(MANIFEST)}
    assert set(cfg["face_models"].split()) <= known, f"{path.name}: models not in {MANIFEST.name}"
    provided = zoo_dests(cfg["face_models"])
    for key in ("face_det_model", "face_reco_model"):
        if cfg[key]:
            for f in weight_files(cfg[key]):
                assert f in provided, f"{path.name}: {key} needs {f}, which its face_models do not provide"
    opts = shlex.split(cfg["face_det_opts"]) + shlex.split(cfg["face_reco_opts"])
    args = parse_args(["--vid-scp", "x", "--output-prefix", "y", f"--detector={cfg['face_det_model_name']}",
                       f"--embedder={cfg['face_reco_model_name']}", *opts])
    if args.align_mode == "mtcnn":
        assert {f"{args.mtcnn_dir}/det{k}-0001.params" for k in (2, 3, 4)} <= provided
    assert 0 < float(cfg["thr_ahc"]) < 1 and float(cfg["self_att_a"]) > 0 and float(cfg["att_a"]) > 0


def run_000(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(["bash", "run_000_get_pretrained_models.sh", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_run_000_fetches_the_offline_default(tmp_path):
    proc = run_000("--config-file", f"global_conf/{OFFLINE_DEFAULT}", "--models-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    for dest in zoo_dests(config(ROOT / "global_conf" / OFFLINE_DEFAULT)["face_models"]):
        assert (tmp_path / dest.removeprefix(MODELS_DIR + "/")).is_file()


@pytest.fixture
def unreachable_manifest(tmp_path) -> Path:
    """The manifest with every download URL pointed at a closed local port."""
    text = re.sub(r"https?://[^\t\n]+", lambda m: "http://127.0.0.1:9/" + m.group(0).split("/")[-1],
                  MANIFEST.read_text())
    path = tmp_path / "zoo_offline.tsv"
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", [p for p in CONFIGS if p.name != OFFLINE_DEFAULT], ids=lambda p: p.name)
def test_run_000_offline_fails_cleanly(path, tmp_path, unreachable_manifest):
    models = tmp_path / "models"
    proc = run_000("--config-file", f"global_conf/{path.name}", "--models-dir", str(models),
                   "--manifest", str(unreachable_manifest))
    assert proc.returncode != 0
    assert "place them at" in proc.stderr
    for dest in zoo_dests(config(path)["face_models"]):
        target = models / dest.removeprefix(MODELS_DIR + "/")
        assert str(target) in proc.stderr
        assert not target.exists() and not target.with_name(target.name + ".part").exists()
    leftovers = [p for p in models.rglob("*") if p.is_file() and ".downloads" not in p.parts]
    assert not leftovers
