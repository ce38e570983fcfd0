"""Fetch and verify the model files of a global config, or of named zoo models (see ``hyp_face.zoo``).

With ``--config-file`` the models are those its front end names (``face_detector``, ``face_recognizer`` and the
MTCNN stages of ``--align-mode mtcnn``), resolved by ``hyp_face.frontend``; a speaker config
(``speaker_embedder=``, ``hyp_face.audio.config``) names its speaker model.
"""

from __future__ import annotations

import argparse
import logging
import sys

from hyp_face.cli import read_shell_config, run_main, setup_logging, str2bool
from hyp_face.frontend import DEFAULT_MODELS_DIR, FrontEndConfig
from hyp_face.zoo import DEFAULT_MANIFEST, ZooError, fetch_models

log = logging.getLogger("get_models")


def config_models(path: str) -> list[str]:
    """The zoo models a config names: its speaker embedder, or its face front end's models."""
    speaker = read_shell_config(path).get("speaker_embedder")
    return [speaker] if speaker else FrontEndConfig.from_file(path).zoo_names()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--manifest", default=str(DEFAULT_MANIFEST), help="where each file comes from (mirrors: a copy)")
    p.add_argument("--models-dir", default=DEFAULT_MODELS_DIR)
    p.add_argument("--accept-new-hash", type=str2bool, default=False)
    p.add_argument("--config-file", "--config", dest="config_file", default=None,
                   help="global config whose front-end models to fetch")
    p.add_argument("models", nargs="*", help="model names of the manifest (besides those of --config-file)")
    args = p.parse_args(argv)
    setup_logging()
    try:
        names = config_models(args.config_file) if args.config_file else []
        names += [n for n in args.models if n not in names]
        if not names:
            p.error("give --config-file or model names")
        log.info("models: %s", " ".join(names))
        paths = fetch_models(args.manifest, names, args.models_dir, args.accept_new_hash)
    except (ZooError, ValueError) as e:
        log.error("%s", e)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
