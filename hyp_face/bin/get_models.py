"""Fetch and verify the model files named by a global config (see ``hyp_face.zoo``)."""

from __future__ import annotations

import argparse
import logging
import sys

from hyp_face.cli import setup_logging, str2bool
from hyp_face.zoo import ZooError, fetch_models


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--manifest", default="conf/model_zoo.tsv")
    p.add_argument("--models-dir", default="exp/face_models")
    p.add_argument("--accept-new-hash", type=str2bool, default=False)
    p.add_argument("models", nargs="+", help="model names of the manifest")
    args = p.parse_args(argv)
    setup_logging()
    try:
        paths = fetch_models(args.manifest, args.models, args.models_dir, args.accept_new_hash)
    except ZooError as e:
        logging.getLogger("get_models").error("%s", e)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
