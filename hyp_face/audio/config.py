"""The speaker side of a config (``global_conf/speaker/*.sh``): which speaker embedder (a row of
``conf/model_zoo.tsv`` of kind ``speaker``), which VAD, and the audio block size.

Config keys: ``speaker_embedder=<zoo name>``, ``speaker_vad=silero|none``, ``speaker_block_s=<seconds>``,
``speaker_precision=fp32|bf16|int8`` (the network's arithmetic; ``hyp_face.audio.ge2e.PRECISIONS``, default
fp32).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from ..cli import read_shell_config
from ..zoo import ZooModel, file_sha256, zoo_models
from .decode import DEFAULT_BLOCK_S
from .extract import SpeakerExtractor
from .ge2e import check_precision
from .registry import SPEAKER_EMBEDDERS
from .vad import build_vad

DEFAULT_MODELS_DIR = "exp/face_models"


class MissingSpeakerModel(FileNotFoundError):
    """The embedder's weights have not been fetched; the message gives the run_000 command."""


@dataclass(frozen=True)
class SpeakerConfig:
    embedder: str = "ge2e_resemblyzer"
    vad: str = "silero"
    block_s: float = DEFAULT_BLOCK_S
    precision: str = "fp32"
    models_dir: str = DEFAULT_MODELS_DIR
    config_file: str = ""

    @classmethod
    def from_file(cls, path: str | os.PathLike, models_dir: str = DEFAULT_MODELS_DIR) -> "SpeakerConfig":
        values = read_shell_config(path)
        if "speaker_embedder" not in values:
            raise ValueError(f"{path}: no speaker_embedder= (a speaker model of conf/model_zoo.tsv)")
        try:
            precision = check_precision(values.get("speaker_precision", "fp32"))
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
        return cls(values["speaker_embedder"], values.get("speaker_vad", "silero"),
                   float(values.get("speaker_block_s", DEFAULT_BLOCK_S)), precision, models_dir, str(path))

    def model(self) -> ZooModel:
        zoo = zoo_models()
        if self.embedder not in zoo or zoo[self.embedder].kind != "speaker":
            known = ", ".join(n for n, m in zoo.items() if m.kind == "speaker")
            raise ValueError(f"unknown speaker embedder {self.embedder!r}; the zoo's speaker models: {known}")
        return zoo[self.embedder]

    def weights(self) -> Path:
        """The embedder's weights file; ``MissingSpeakerModel`` (with the fetch command) when absent."""
        path = Path(self.models_dir) / self.model().weights
        if not path.is_file():
            source = f"--config-file {self.config_file}" if self.config_file else self.embedder
            raise MissingSpeakerModel(f"{path} not found. Fetch it first: ./run_000_get_pretrained_models.sh "
                                      f"{source}")
        return path

    def fingerprint(self) -> dict:
        """What the embeddings depend on: the model, its weights' sha256, the VAD and its version (and the version
        of onnxruntime, which runs the int8 layers, at ``precision=int8``)."""
        vad_version = metadata.version("silero-vad") if self.vad == "silero" else "-"
        fields = {k: v for k, v in asdict(self).items() if k not in ("models_dir", "config_file")}
        if self.precision == "int8":
            fields["onnxruntime_version"] = metadata.version("onnxruntime")
        return {**fields, "weights_sha256": file_sha256(self.weights()), "vad_version": vad_version}

    def build(self, device: str = "cpu", batch_size: int = 64, workers: int = 1) -> SpeakerExtractor:
        model = self.model()
        embedder = SPEAKER_EMBEDDERS.build(model.builder, str(self.weights()), device, batch_size=batch_size,
                                           workers=workers, precision=self.precision, **model.options)
        return SpeakerExtractor(embedder, build_vad(self.vad), self.block_s)
