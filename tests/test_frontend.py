"""The front-end config object: every global config round-trips, tools build identical front ends from the same
config, missing models give one clear error, package-shipped models materialise, registries list and build lazily."""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hyp_face.bin import extract_face_embed
from hyp_face.detect import build_detector, list_detectors, register_detector
from hyp_face.embed import list_embedders
from hyp_face.eval import lfw
from hyp_face.frontend import FrontEndConfig, MissingModelError, add_frontend_args, build_extractor, main
from hyp_face.zoo import zoo_models

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "global_conf").glob("*.sh"))
EMBEDDED = ROOT / "global_conf" / "config_embedded.sh"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def parse_frontend(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_frontend_args(p)
    return p.parse_args(argv)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_config_round_trips_through_options(path):
    cfg = FrontEndConfig.from_file(path)
    again = FrontEndConfig.from_args(parse_frontend(cfg.as_options()))
    assert again == FrontEndConfig(**{**vars(cfg), "config_file": ""})
    assert FrontEndConfig.from_args(parse_frontend(["--config-file", str(path)])) == cfg
    assert cfg.detector_model().kind == "detector" and cfg.embedder_model().kind == "embedder"


def test_command_line_overrides_the_config():
    cfg = FrontEndConfig.from_args(parse_frontend(["--config", str(EMBEDDED), "--embed-flip", "false",
                                                   "--det-resize-policy", "v0.1", "--det-thr-start", "0.5"]))
    assert (cfg.embed_flip, cfg.det_resize_policy, cfg.det_thr_start) == (False, "v0.1", 0.5)
    assert cfg.thresholds("facedet") == cfg.thresholds("ref") == [0.5, 0.4, 0.3, 0.2, 0.1]
    assert FrontEndConfig.from_file(EMBEDDED).thresholds("ref")[0] == 0.8


def test_old_configs_resolve_to_the_same_models_and_options(tmp_path):
    """The legacy keys (builder name + weights path) and the new zoo names give the same builder, files, options."""
    old = tmp_path / "old.sh"
    old.write_text("face_models=\"retinaface_r50_mxnet arcface_r100_mxnet mtcnn_mxnet\"\n"
                   "face_det_model_name=retinaface_r50_mxnet\nface_det_model=exp/face_models/retina-50/R50,0\n"
                   'face_det_opts="--det-resize-policy=v0.1"\nface_reco_model_name=mxnet\n'
                   "face_reco_model=exp/face_models/r100-arcface/model,0\n"
                   'face_reco_opts="--align-mode=mtcnn --mtcnn-dir=exp/face_models/mtcnn"\n')
    a, b = FrontEndConfig.from_file(old), FrontEndConfig.from_file(ROOT / "global_conf" / "default_config.sh")
    for x, y in zip(a.models(), b.models()):
        assert (x.builder, x.options, sorted(x.files)) == (y.builder, y.options, sorted(y.files))
    assert (a.det_resize_policy, a.align_mode, a.thresholds()) == (b.det_resize_policy, b.align_mode, b.thresholds())


def test_missing_model_is_one_error_naming_the_file_and_run_000(tmp_path):
    config = "global_conf/default_config.sh"
    cfg = FrontEndConfig.from_file(config, models_dir=str(tmp_path))
    with pytest.raises(MissingModelError) as err:
        build_extractor(cfg)
    message = str(err.value)
    assert str(tmp_path / "r100-arcface" / "model-0000.params") in message
    assert str(tmp_path / "mtcnn" / "det4-0001.params") in message
    assert f"./run_000_get_pretrained_models.sh --config-file {config} --models-dir {tmp_path}" in message
    own = FrontEndConfig(embedder="mxnet", embed_weights=str(tmp_path / "mine,0"), models_dir=str(tmp_path))
    with pytest.raises(MissingModelError, match="mine-symbol.json.*--embed-weights"):
        own.require_models()


def test_lfw_cli_reports_a_missing_model_without_a_traceback(tmp_path):
    (tmp_path / "pairs.csv").write_text("fold,same,img1,img2\n")
    proc = subprocess.run([sys.executable, "-m", "hyp_face.eval.lfw", "--lfw-dir", str(tmp_path), "--pairs",
                           str(tmp_path / "pairs.csv"), "--config", "global_conf/config_scrfd_w600k.sh",
                           "--models-dir", str(tmp_path / "models"), "--out-dir", str(tmp_path / "out")],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "buffalo_l/det_10g.onnx" in proc.stderr
    assert "./run_000_get_pretrained_models.sh --config-file global_conf/config_scrfd_w600k.sh" in proc.stderr


def test_package_shipped_models_materialise_on_first_use(tmp_path):
    cfg = FrontEndConfig.from_file(EMBEDDED, models_dir=str(tmp_path))
    cfg.require_models()
    files = {f for m in cfg.models() for f in m.files}
    assert files == {str(tmp_path / "embedded" / n) for n in (
        "retinaface_mnet025_tiny.onnx", "dlib_face_recognition_resnet_model_v1.dat",
        "shape_predictor_5_face_landmarks.dat")}
    pinned = {e.dest: e.sha256 for m in zoo_models().values() for e in m.files}
    for model in cfg.models():
        for f, sha in model.sha256().items():
            assert sha == pinned[str(Path(f).relative_to(tmp_path))]


def test_lfw_and_extract_build_the_same_front_end(tmp_path):
    common = ["--config-file", str(EMBEDDED), "--models-dir", str(tmp_path), "--det-thr-start", "0.7"]
    ext = FrontEndConfig.from_args(extract_face_embed.parse_args(["--vid-scp", "x", "--output-prefix", "y", *common]))
    ev = FrontEndConfig.from_args(lfw.parse_args(["--lfw-dir", "d", "--pairs", "p", *common]))
    assert ext == ev
    fingerprint = ext.fingerprint()
    assert json.loads(json.dumps(fingerprint)) == fingerprint
    assert fingerprint["det_resize_policy"] == "v0.2" and fingerprint["embed_flip"] is True
    assert fingerprint["det_thresholds"]["facedet"][0] == 0.7
    sha = fingerprint["detector"]["sha256"][str(tmp_path / "embedded" / "retinaface_mnet025_tiny.onnx")]
    assert sha == zoo_models()["retinaface_mnet025_embedded"].files[0].sha256
    extractor = build_extractor(ext, fps=2.0)
    assert extractor.opts.fps == 2.0 and extractor.opts.thresholds[0] == 0.7 and extractor.refiner is None
    assert extractor.embedder.flip and extractor.detector.policy.max_long_side == 800
    line = ext.describe(extractor.embedder)
    assert line.startswith("front end: detector retinaface_mnet025_embedded") and "dim 128" in line
    assert "alignment dlib's own 5 points predicted in the box" in line and "landmarks" not in line.split("chip")[1]
    assert "alignment detector landmarks;" in ext.describe(dim=128)  # no embedder: what the detector gives
    assert f"sha256:{sha[:12]}" in line and "flip true" in line and "resize v0.2" in line


def test_python_m_frontend_prints_the_line(tmp_path, capsys):
    assert main(["--config-file", str(EMBEDDED), "--models-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("front end: detector retinaface_mnet025_embedded") and "dim 128" in out
    assert main(["--config-file", str(EMBEDDED), "--zoo-names"]) == 0
    assert capsys.readouterr().out.split() == ["retinaface_mnet025_embedded", "dlib_resnet128"]
    assert main(["--config-file", "global_conf/default_config.sh", "--models-dir", str(tmp_path)]) == 1
    assert "run_000_get_pretrained_models.sh" in capsys.readouterr().err


def test_unknown_names_and_bad_options_are_clear(tmp_path):
    with pytest.raises(ValueError, match="unknown detector 'nope'.*yunet_n.*scrfd"):
        FrontEndConfig(detector="nope").detector_model()
    with pytest.raises(ValueError, match="dlib_resnet128 is a embedder"):
        FrontEndConfig(detector="dlib_resnet128").detector_model()
    bad = tmp_path / "bad.sh"
    bad.write_text('face_detector=yunet_n\nface_det_opts="--det-resize=v0.1"\n')
    with pytest.raises(ValueError, match="bad.sh: unknown front-end option.*--det-resize=v0.1"):
        FrontEndConfig.from_file(bad)
    bad.write_text('face_detector=yunet_n\nface_det_opts="--det-resize-policy=v9"\n')
    with pytest.raises(ValueError, match="bad.sh: bad front-end option"):
        FrontEndConfig.from_file(bad)


def test_registries_list_build_and_register(monkeypatch):
    from hyp_face.detect import registry

    monkeypatch.setattr(registry._DETECTORS, "_targets", dict(registry._DETECTORS._targets))  # undo the test's entry
    assert set(list_detectors()) == {"retinaface_mnet025_embedded", "retinaface_mnet025", "retinaface_r50",
                                     "retinaface_r50_mxnet", "scrfd", "yunet", "mtcnn"}
    assert {"dlib_resnet128", "mxnet", "onnx_arcface", "mobilefacenet_mit", "iresnet50"} <= set(list_embedders())
    assert build_detector("retinaface_mnet025_embedded", resize="none").policy.max_long_side is None
    with pytest.raises(KeyError, match="unknown face detector 'mtcnn_caffe'"):
        build_detector("mtcnn_caffe")
    register_detector("test_only_detector")(lambda weights=None, device="cpu", **opts: ("built", weights, opts))
    assert build_detector("test_only_detector", "w", variant=1) == ("built", "w", {"variant": 1})
    with pytest.raises(ValueError, match="twice"):
        register_detector("yunet")(lambda **kw: None)


def _imports(path: Path) -> set[str]:
    """Modules a source file imports, at any level (lazy imports inside functions included)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(["hyp_face", path.parent.name] + ([base] if base else []))
            found |= {base} | {f"{base}.{a.name}" for a in node.names}
    return found


@pytest.mark.parametrize("package", ["detect", "embed"])
def test_registry_and_implementations_do_not_import_each_other(package):
    registry = f"hyp_face.{package}.registry"
    modules = sorted((ROOT / "hyp_face" / package).glob("*.py"))
    implementations = {f"hyp_face.{package}.{p.stem}" for p in modules} - {registry, f"hyp_face.{package}.__init__"}
    assert not _imports(ROOT / "hyp_face" / package / "registry.py") & implementations - {f"hyp_face.{package}.base"}
    for path in modules:
        if path.stem not in ("registry", "__init__"):
            assert registry not in _imports(path), f"{path.name} imports the registry"


@pytest.mark.parametrize("module", ["hyp_face.frontend", "hyp_face.detect.registry", "hyp_face.embed.registry",
                                    "hyp_face.embed.dlib_resnet", "hyp_face.bin.extract_face_embed",
                                    "hyp_face.eval.lfw", "hyp_face.bench.extract", "hyp_face.bin.get_models"])
def test_each_module_imports_alone_and_registries_stay_lazy(module):
    code = (f"import sys, {module}\n"
            "lazy = [m for m in ('hyp_face.embed.dlib_resnet', 'hyp_face.embed.mxnet_embedder',"
            f" 'hyp_face.detect.yunet', 'hyp_face.detect.scrfd') if m in sys.modules and m != {module!r}]\n"
            "assert not lazy, lazy\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
