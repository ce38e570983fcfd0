"""The front end as one object: detector, alignment and recognizer, with every option that changes the embeddings.

    cfg = FrontEndConfig.from_file("global_conf/config_embedded.sh")
    extractor = build_extractor(cfg, device="cpu", fps=1.0)
    log.info("%s", cfg.describe(extractor.embedder))

Every tool (``bin/extract_face_embed``, ``bench/extract``, ``eval/lfw``) builds its front end here, from a global
config and/or the same command-line options (:func:`add_frontend_args`): command-line values win over the config.
``python -m hyp_face.frontend --config-file F`` prints the resolved front end (the line every tool logs).

Global config keys (``global_conf/*.sh``, read, never executed; see :func:`hyp_face.cli.read_shell_config`):

* ``face_detector``, ``face_recognizer``: model names of ``conf/model_zoo.tsv``, which gives each model's builder,
  files and fixed options (:mod:`hyp_face.zoo`). A registry builder name (``list_detectors()``,
  ``list_embedders()``) is accepted too, for a weights file of your own given with ``--det-weights`` /
  ``--embed-weights``;
* ``face_det_opts``, ``face_reco_opts``: front-end options as on the command line (``--det-resize-policy=v0.1``,
  ``--det-thr-start=0.5``, ``--align-mode=mtcnn``, ``--embed-flip=true``, ...);
* gallery recognition (:func:`hyp_face.recognize.gallery.scoring_rule`): ``recognize_unknown_thr``, the plain
  cosine gallery score below which a face track is ``unknown``; ``recognize_score_norm`` (``none``, ``faithful``,
  ``asnorm``) with ``recognize_snorm_ncoh``, ``recognize_cohort`` (the cohort store's ``.scp``) and
  ``recognize_snorm_unknown_thr``, the s-normalised scoring used when its cohort store exists. Thresholds are
  chosen at FPIR 1e-2 on the LFW open-set protocol for the config's embedder (``python -m
  hyp_face.bin.choose_unknown_thr``); none of them is part of the embeddings' fingerprint;
* legacy keys, still read: ``face_det_model_name`` / ``face_reco_model_name`` (the name) and ``face_det_model`` /
  ``face_reco_model`` (its weights);
* face tracks of the recognizer (docs/tracks.md): ``track_min_cos`` (the tracker's cosine gate),
  ``track_sharpness_ref`` (the chip sharpness of a sharp face) and ``people_ahc_thr`` (the AHC threshold that
  groups a video's tracks into people). They do not change the embeddings, so they stay out of
  :meth:`FrontEndConfig.fingerprint`.

Models of the zoo live under ``--models-dir`` (default ``exp/face_models``), where ``run_000`` puts them. Models
shipped inside installed packages (the offline default) are materialised and checked there on first use; any other
missing file is one :class:`MissingModelError` naming the files and the ``run_000`` command that fetches them.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shlex
import sys
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hyp_face.backend.snorm import MODES as RECOGNIZE_SCORE_NORMS
from hyp_face.cli import checked_device, read_shell_config, run_main, setup_logging, str2bool
from hyp_face.detect.registry import build_detector, list_detectors
from hyp_face.embed.base import ALIGNMENTS, Embedder
from hyp_face.embed.registry import build_embedder, list_embedders
from hyp_face.extract import ExtractOptions, FaceExtractor, threshold_schedule
from hyp_face.track.people import DEFAULT_PEOPLE_AHC_THR
from hyp_face.zoo import DEFAULT_MANIFEST, ZooModel, file_sha256, missing_files, zoo_models

if TYPE_CHECKING:
    from hyp_face.track.tracker import TrackOptions

log = logging.getLogger(__name__)

DEFAULT_MODELS_DIR = "exp/face_models"
MTCNN_MODEL = "mtcnn_mxnet"  # the zoo model of --align-mode mtcnn, unless --mtcnn-dir names a folder
DEFAULT_THR_START = {"facedet": 0.9, "ref": 0.8}
ALIGN_MODES = ("detector", "mtcnn")
RESIZE_POLICIES = ("v0.1", "v0.2", "none")


# Face tracks (docs/tracks.md): config keys of the recognizer's track hyper-parameters (a config without
# people_ahc_thr gets hyp_face.track.people.DEFAULT_PEOPLE_AHC_THR).
TRACK_KEYS = ("track_min_cos", "track_sharpness_ref", "people_ahc_thr")
RECOGNIZE_KEYS = ("recognize_unknown_thr", "recognize_snorm_unknown_thr", "recognize_snorm_ncoh")  # numbers
RECOGNIZE_TEXT_KEYS = ("recognize_score_norm", "recognize_cohort")


def _config_number(path: str | Path, name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{path}: {name}={text!r} is not a number") from None


class MissingModelError(FileNotFoundError):
    """Model files the config names that are not on disk."""


@dataclass(frozen=True)
class ModelSpec:
    """One resolved model: its name, the registry builder, the weights argument, fixed options and its files."""

    name: str  # zoo name, or the builder name for a file outside the zoo
    kind: str  # "detector" | "embedder" | "aligner"
    builder: str
    weights: str  # "" = the builder's packaged default
    options: dict[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = ()  # every file the model reads, the weights file last
    zoo: ZooModel | None = None  # set when the files are the zoo's (fetched by run_000 or materialised)

    def sha256(self) -> dict[str, str]:
        """``{file: sha256}`` of the model's files."""
        return {f: file_sha256(f) for f in self.files}

    def summary(self) -> str:
        """``name (builder) weights sha256:abcdef012345``."""
        builder = "" if self.builder == self.name else f" ({self.builder})"
        if not self.files:
            return f"{self.name}{builder} packaged weights"
        return f"{self.name}{builder} {self.files[-1]} sha256:{file_sha256(self.files[-1])[:12]}"


def _weight_files(weights: str) -> tuple[str, ...]:
    """Files behind a weights argument: a file, an MXNet ``PREFIX,EPOCH`` / ``PREFIX-NNNN.params`` / ``PREFIX``."""
    if not weights:
        return ()
    prefix, sep, epoch = weights.rpartition(",")
    if sep and epoch.strip().isdigit():
        return f"{prefix}-symbol.json", f"{prefix}-{int(epoch):04d}.params"
    numbered = re.fullmatch(r"(.+)-\d{4}\.params", weights)
    if numbered:
        return f"{numbered.group(1)}-symbol.json", weights
    if not Path(weights).exists() and Path(f"{weights}-symbol.json").exists():
        return f"{weights}-symbol.json", f"{weights}-0000.params"
    return (weights,)


def _mtcnn_files(folder: str) -> tuple[str, ...]:
    """The MTCNN stage files of a folder (insightface ``det{k}-*`` or ``mtcnn-det{k}-*`` names)."""
    found = sorted(str(p) for p in Path(folder).glob("*det[1-4]-*") if p.suffix in (".json", ".params"))
    return tuple(found) or tuple(str(Path(folder) / f"det{k}-{part}") for k in range(1, 5)
                                 for part in ("0001.params", "symbol.json"))


@dataclass(frozen=True)
class FrontEndConfig:
    """What the extraction front end is made of; build it with :func:`build_extractor`."""

    detector: str = "retinaface_mnet025_embedded"  # zoo model or detector builder
    det_weights: str = ""  # "" = the zoo model's file
    det_resize_policy: str | None = None  # None = the detector's own
    det_thr_start: float | None = None  # None = 0.9 (facedet) / 0.8 (ref)
    det_thr_stop: float = 0.1
    det_thr_step: float = 0.1
    align_mode: str = "detector"  # "detector" landmarks, or "mtcnn" refine-only inside the boxes (v0.1)
    mtcnn_dir: str = ""  # "" = the zoo model mtcnn_mxnet
    embedder: str = "dlib_resnet128"  # zoo model or recognizer builder
    embed_weights: str = ""  # "" = the zoo model's file
    embed_flip: bool = False  # average with the mirrored chip
    models_dir: str = DEFAULT_MODELS_DIR
    track_min_cos: float | None = None  # None = TrackOptions' default (a centred, ArcFace-like embedding)
    track_sharpness_ref: float | None = None  # None = TrackOptions' default (ArcFace 112 px chips)
    people_ahc_thr: float | None = None  # None = DEFAULT_PEOPLE_AHC_THR
    recognize_unknown_thr: float | None = None  # recognition: below this cosine gallery score a track is unknown
    recognize_score_norm: str = "none"  # or an s-norm of the gallery scores (RECOGNIZE_SCORE_NORMS)
    recognize_snorm_ncoh: int | None = None  # closest cohort faces of the s-norm
    recognize_snorm_unknown_thr: float | None = None  # the threshold of s-normalised scores
    recognize_cohort: str = ""  # the s-norm cohort store (.scp)
    config_file: str = ""  # where it was read from ("" = command line only)

    # -- construction ------------------------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path, models_dir: str | None = None) -> "FrontEndConfig":
        """The front end of a global config (``face_detector``, ``face_recognizer``, ``face_*_opts``)."""
        v = read_shell_config(path)
        values: dict[str, Any] = {"config_file": str(path)}
        for key, legacy, name in (("face_detector", "face_det_model_name", "detector"),
                                  ("face_recognizer", "face_reco_model_name", "embedder")):
            if v.get(key) or v.get(legacy):
                values[name] = v.get(key) or v[legacy]
        for legacy, name in (("face_det_model", "det_weights"), ("face_reco_model", "embed_weights")):
            if v.get(legacy):
                values[name] = v[legacy]
        for name in TRACK_KEYS + RECOGNIZE_KEYS:
            if v.get(name):
                values[name] = _config_number(path, name, v[name])
        for name in RECOGNIZE_TEXT_KEYS:
            if v.get(name):
                values[name] = v[name]
        if values.get("recognize_snorm_ncoh") is not None:
            values["recognize_snorm_ncoh"] = int(values["recognize_snorm_ncoh"])
        if values.get("recognize_score_norm", "none") not in RECOGNIZE_SCORE_NORMS:
            raise ValueError(f"{path}: recognize_score_norm={values['recognize_score_norm']!r}, expected one of "
                             f"{RECOGNIZE_SCORE_NORMS}")
        opts = shlex.split(v.get("face_det_opts", "")) + shlex.split(v.get("face_reco_opts", ""))
        try:
            parsed, unknown = _options_parser().parse_known_args(opts)
        except argparse.ArgumentError as err:
            raise ValueError(f"{path}: bad front-end option in face_det_opts / face_reco_opts: {err}") from None
        if unknown:
            raise ValueError(f"{path}: unknown front-end option(s) in face_det_opts / face_reco_opts: {unknown}")
        values.update(_given(parsed))
        if models_dir:
            values["models_dir"] = models_dir
        return cls(**values)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "FrontEndConfig":
        """From options added by :func:`add_frontend_args`: the ``--config-file`` first, then the other options."""
        base = cls.from_file(args.config_file) if getattr(args, "config_file", None) else cls()
        return replace(base, **_given(args))

    def as_options(self) -> list[str]:
        """Command-line options that rebuild this front end without its config file (values that differ from
        the defaults): ``FrontEndConfig.from_args(parser.parse_args(cfg.as_options()))`` equals ``cfg``."""
        default = FrontEndConfig()
        out = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "config_file" and value != getattr(default, f.name):
                text = str(value).lower() if isinstance(value, bool) else str(value)
                out.append(f"--{f.name.replace('_', '-')}={text}")
        return out

    def track_options(self, **given: Any) -> "TrackOptions":
        """The tracker's options: this embedder's ``track_*`` values (when set) and its people threshold (a face that
        jumps joins a track at the cosine that joins tracks into people), then ``given`` (e.g. track_fps)."""
        from hyp_face.track.tracker import TrackOptions

        own = {name: value for name, value in (("min_cos", self.track_min_cos),
                                               ("sharpness_ref", self.track_sharpness_ref)) if value is not None}
        return TrackOptions(**{**own, "rejoin_cos": self.people_threshold(), **given})

    def people_threshold(self) -> float:
        """The AHC threshold that groups a video's tracks into people (``people_ahc_thr``)."""
        return DEFAULT_PEOPLE_AHC_THR if self.people_ahc_thr is None else self.people_ahc_thr

    # -- resolution --------------------------------------------------------------------------------------------
    def _model(self, kind: str, name: str, weights: str, builders: list[str]) -> ModelSpec:
        zoo = zoo_models()
        if name in zoo:
            model = zoo[name]
            if model.kind != kind:
                raise ValueError(f"{name} is a {model.kind} in {DEFAULT_MANIFEST.name}, not a {kind}")
            if weights:  # a file of your own for the zoo model's builder
                return ModelSpec(name, kind, model.builder, weights, model.options, _weight_files(weights), None)
            files = tuple(str(Path(self.models_dir) / f.dest) for f in model.files if f.dest != model.weights)
            path = str(Path(self.models_dir) / model.weights)
            return ModelSpec(name, kind, model.builder, path, model.options, files + (path,), model)
        if name in builders:
            return ModelSpec(name, kind, name, weights, {}, _weight_files(weights), None)
        raise ValueError(f"unknown {kind} {name!r}: neither a model of {DEFAULT_MANIFEST} "
                         f"({', '.join(m for m in zoo if zoo[m].kind == kind)}) nor a {kind} builder "
                         f"({', '.join(builders)})")

    def detector_model(self) -> ModelSpec:
        return self._model("detector", self.detector, self.det_weights, list_detectors())

    def embedder_model(self) -> ModelSpec:
        return self._model("embedder", self.embedder, self.embed_weights, list_embedders())

    def aligner_model(self) -> ModelSpec | None:
        """The MTCNN refiner's model in ``mtcnn`` mode (its weights argument is the folder), else None."""
        if self.align_mode == "detector":
            return None
        if self.mtcnn_dir:
            return ModelSpec("mtcnn", "aligner", "mtcnn", self.mtcnn_dir, {}, _mtcnn_files(self.mtcnn_dir), None)
        spec = self._model("aligner", MTCNN_MODEL, "", [])
        return replace(spec, weights=str(Path(spec.weights).parent))

    def models(self) -> list[ModelSpec]:
        """Detector, aligner (when MTCNN) and recognizer."""
        return [m for m in (self.detector_model(), self.aligner_model(), self.embedder_model()) if m is not None]

    def zoo_names(self) -> list[str]:
        """The zoo models this front end names (what ``run_000`` fetches)."""
        zoo = zoo_models()
        return [m.name for m in self.models() if m.name in zoo]

    def thresholds(self, mode: str = "facedet") -> list[float]:
        """The detection threshold schedule (back-off) of ``mode`` ("facedet" or "ref")."""
        start = self.det_thr_start if self.det_thr_start is not None else DEFAULT_THR_START[mode]
        return threshold_schedule(start, self.det_thr_stop, self.det_thr_step)

    def require_models(self) -> None:
        """Materialise package-shipped zoo files; raise one MissingModelError for every other absent file."""
        missing, from_zoo = [], False
        for model in self.models():
            absent = (missing_files(model.zoo, self.models_dir) if model.zoo is not None
                      else [Path(f) for f in model.files if not Path(f).is_file()])
            missing += absent
            from_zoo |= bool(absent) and model.zoo is not None
        if missing:
            raise MissingModelError(f"model files not found: {', '.join(map(str, missing))}. "
                                    + (self.fetch_command() if from_zoo else
                                       "Check --det-weights / --embed-weights / --mtcnn-dir."))

    def fetch_command(self) -> str:
        """The command that fetches this front end's zoo models."""
        models_dir = "" if self.models_dir == DEFAULT_MODELS_DIR else f" --models-dir {self.models_dir}"
        if self.config_file:
            return (f"Fetch the models of this config first: "
                    f"./run_000_get_pretrained_models.sh --config-file {self.config_file}{models_dir}")
        return (f"Fetch them first: python -m hyp_face.bin.get_models{models_dir} "
                f"{' '.join(self.zoo_names())}")

    # -- reporting ---------------------------------------------------------------------------------------------
    def describe(self, embedder: Embedder | None = None, dim: int | None = None) -> str:
        """The resolved front end in one line, with the sha256 of each weights file; with the built ``embedder``,
        its chip alignment and dimension (else ``dim`` where known)."""
        self.require_models()
        start = (f"{self.det_thr_start:g}" if self.det_thr_start is not None
                 else "/".join(f"{v:g} ({k})" for k, v in DEFAULT_THR_START.items()))
        aligner = self.aligner_model()
        align = "detector landmarks" if aligner is None else f"MTCNN refine ({aligner.summary()})"
        if embedder is not None:
            dim = embedder.dim
            align = ALIGNMENTS.get(embedder.alignment, embedder.alignment).format(landmarks=align)
        parts = [f"detector {self.detector_model().summary()}",
                 f"resize {self.det_resize_policy or 'detector default'}",
                 f"thresholds {start} to {self.det_thr_stop:g} step {self.det_thr_step:g}",
                 f"alignment {align}",
                 f"embedder {self.embedder_model().summary()}",
                 f"flip {str(self.embed_flip).lower()}"]
        if dim is not None:
            parts.append(f"dim {dim}")
        return "front end: " + "; ".join(parts)

    def fingerprint(self) -> dict[str, Any]:
        """JSON-serialisable description of everything that changes the embeddings, model sha256s included."""
        self.require_models()

        def model(spec: ModelSpec | None) -> dict[str, Any] | None:
            if spec is None:
                return None
            return {"name": spec.name, "builder": spec.builder, "weights": spec.weights, "options": spec.options,
                    "sha256": spec.sha256()}

        return {
            "detector": model(self.detector_model()),
            "det_resize_policy": self.det_resize_policy,
            "det_thresholds": {mode: self.thresholds(mode) for mode in DEFAULT_THR_START},
            "align_mode": self.align_mode,
            "aligner": model(self.aligner_model()),
            "embedder": model(self.embedder_model()),
            "embed_flip": self.embed_flip,
        }


# ---------------------------------------------------------------------------------------------- options


def add_frontend_args(p: argparse.ArgumentParser, config_help: str = "") -> None:
    """The front-end options, with the same names in every tool; unset options keep the config's value."""
    g = p.add_argument_group("front end (unset options keep the value of --config-file, else the default)")
    g.add_argument("--config-file", "--config", dest="config_file", default=None,
                   help=config_help or "global config (global_conf/*.sh) naming the detector, recognizer, options")
    _add_model_options(g)


def _add_model_options(g) -> None:
    g.add_argument("--detector", default=None,
                   help="zoo model or detector builder (listed below; default retinaface_mnet025_embedded)")
    g.add_argument("--det-weights", default=None, help="weights file (default: the zoo model's)")
    g.add_argument("--det-resize-policy", default=None, choices=RESIZE_POLICIES,
                   help="detector input size (see hyp_face.detect.resize); default: the detector's own")
    g.add_argument("--det-thr-start", type=float, default=None, help="first threshold, default 0.9 (facedet) / 0.8 (ref)")
    g.add_argument("--det-thr-stop", type=float, default=None, help="last threshold of the back-off (default 0.1)")
    g.add_argument("--det-thr-step", type=float, default=None, help="back-off step (default 0.1)")
    g.add_argument("--align-mode", default=None, choices=ALIGN_MODES,
                   help="landmarks for alignment: the detector's (default), or MTCNN refine-only inside its boxes")
    g.add_argument("--mtcnn-dir", default=None, help=f"MXNet MTCNN det1-det4 folder (default: the zoo's {MTCNN_MODEL})")
    g.add_argument("--embedder", default=None,
                   help="zoo model or recognizer builder (listed below; default dlib_resnet128)")
    g.add_argument("--embed-weights", default=None, help="weights file (default: the zoo model's)")
    g.add_argument("--embed-flip", type=str2bool, default=None, help="average with the mirrored chip (true|false)")
    g.add_argument("--models-dir", default=None, help=f"where the zoo's files are (default {DEFAULT_MODELS_DIR})")
    g.add_argument("--track-min-cos", type=float, default=None,
                   help="face tracks: least cosine of a face with its track (config key track_min_cos)")
    g.add_argument("--track-sharpness-ref", type=float, default=None,
                   help="face tracks: chip sharpness of a sharp face (config key track_sharpness_ref)")
    g.add_argument("--people-ahc-thr", type=float, default=None,
                   help="face tracks: AHC threshold grouping tracks into people (config key people_ahc_thr; "
                        f"{DEFAULT_PEOPLE_AHC_THR} when the config has none)")
    g.add_argument("--recognize-unknown-thr", type=float, default=None,
                   help="recognition: a track whose best gallery score is not above this is unknown "
                        "(config: recognize_unknown_thr)")
    g.add_argument("--recognize-score-norm", default=None, choices=RECOGNIZE_SCORE_NORMS,
                   help="recognition: s-norm of the gallery scores (config: recognize_score_norm; default none)")
    g.add_argument("--recognize-snorm-ncoh", type=int, default=None,
                   help="recognition: closest cohort faces of the s-norm (config: recognize_snorm_ncoh)")
    g.add_argument("--recognize-snorm-unknown-thr", type=float, default=None,
                   help="recognition: threshold of s-normalised scores (config: recognize_snorm_unknown_thr)")
    g.add_argument("--recognize-cohort", default=None,
                   help="recognition: the s-norm cohort store's .scp (config: recognize_cohort)")


def frontend_epilog() -> str:
    """The valid --detector and --embedder values (zoo models, then builders), for ``--help``."""
    zoo = zoo_models()
    lines = []
    for kind, option, builders in (("detector", "--det-weights", list_detectors()),
                                   ("embedder", "--embed-weights", list_embedders())):
        models = ", ".join(name for name, m in zoo.items() if m.kind == kind)
        lines.append(f"{kind}s: zoo models (conf/model_zoo.tsv) {models}; "
                     f"builders (with {option} FILE) {', '.join(builders)}")
    return "\n".join(lines)


def _options_parser() -> argparse.ArgumentParser:
    """Parser of the front-end options inside a config's ``face_det_opts`` / ``face_reco_opts``."""
    p = argparse.ArgumentParser(prog="face_det_opts/face_reco_opts", add_help=False, exit_on_error=False,
                                allow_abbrev=False)
    _add_model_options(p)
    return p


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The front-end fields set (not None) in ``args``."""
    names = {f.name for f in fields(FrontEndConfig)} - {"config_file"}
    return {k: v for k, v in vars(args).items() if k in names and v is not None}


# ---------------------------------------------------------------------------------------------- building


CUDA_FACE_BATCH = 64  # faces per embedding group on a GPU (the CPU defaults of ExtractOptions are smaller)
CUDA_FRAME_BATCH = 16  # frames per detector batch on a GPU
BATCH_HELP = (f"frames per detector batch (default: {ExtractOptions.batch_size} on the CPU, {CUDA_FRAME_BATCH} on "
              "CUDA)")


def build_extractor(cfg: FrontEndConfig, device: str = "cpu", fp16: bool = False, mode: str = "facedet",
                    **extract_opts) -> FaceExtractor:
    """Detector, aligner (MTCNN refine in ``mtcnn`` mode), recognizer and ``ExtractOptions`` of ``cfg``.

    ``fp16`` applies on CUDA only; ``mode`` ("facedet" | "ref") picks the default threshold start;
    ``extract_opts`` are the other :class:`~hyp_face.extract.ExtractOptions` fields (fps, batch_size, ...); None
    means the field's default for the device.
    """
    cfg.require_models()
    half = fp16 and checked_device(device).startswith("cuda")
    det = cfg.detector_model()
    resize = {"resize": cfg.det_resize_policy} if cfg.det_resize_policy else {}
    detector = build_detector(det.builder, det.weights or None, device=device, fp16=half, **det.options, **resize)
    emb = cfg.embedder_model()
    embedder = build_embedder(emb.builder, emb.weights or None, device=device, flip=cfg.embed_flip,
                              **({"fp16": True} if half else {}), **emb.options)
    aligner = cfg.aligner_model()
    refiner = None
    if aligner is not None:
        from hyp_face.align.mtcnn import MTCNNRefiner

        refiner = MTCNNRefiner(aligner.weights, device=device, **aligner.options)
    extract_opts = {k: v for k, v in extract_opts.items() if v is not None}
    if device.startswith("cuda"):
        extract_opts.setdefault("face_batch_size", CUDA_FACE_BATCH)
        extract_opts.setdefault("batch_size", CUDA_FRAME_BATCH)
    opts = ExtractOptions(mode=mode, thresholds=cfg.thresholds(mode), **extract_opts)
    return FaceExtractor(detector, embedder, opts, refiner)


# ---------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Print the resolved front end of a global config (the line every "
                                "tool logs); --json prints its fingerprint.", epilog=frontend_epilog())
    add_frontend_args(p)
    p.add_argument("--json", action="store_true", help="print the fingerprint (model sha256s, options) as JSON")
    p.add_argument("--zoo-names", action="store_true", help="print the zoo models it names (what run_000 fetches)")
    args = p.parse_args(argv)
    setup_logging(0)
    try:
        cfg = FrontEndConfig.from_args(args)
        if args.zoo_names:
            print(" ".join(cfg.zoo_names()))
            return 0
        cfg.require_models()
        if args.json:
            print(json.dumps(dict(cfg.fingerprint(), config=asdict(cfg)), indent=2))
            return 0
        emb = cfg.embedder_model()
        print(cfg.describe(build_embedder(emb.builder, emb.weights or None, **emb.options)))
    except (MissingModelError, ValueError) as err:
        print(f"{p.prog}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
