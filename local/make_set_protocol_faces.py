#!/usr/bin/env python3
"""Embed the faces of the template protocol (issue 12): every LFW image of an identity with >= --min-images
photos (and train-split identities with >= --train-min-images), clean and degraded, into <out-dir>/{clean,degraded}.{h5,scp} (see hyp_face.fusion.faces).

    local/make_set_protocol_faces.py --lfw-dir DIR --out-dir exp/set_fusion/faces \
        [--config-file global_conf/config_embedded.sh] [--min-images 4] [--limit N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hyp_face.cli import pin_threads, setup_logging
from hyp_face.frontend import FrontEndConfig, build_extractor
from hyp_face.fusion.faces import embed_protocol_faces, protocol_images


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lfw-dir", required=True, help="flat folder of <Name>_<NNNN>.jpg photos")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--config-file", default="global_conf/config_embedded.sh", help="front end (default: %(default)s)")
    p.add_argument("--models-dir", default=None, help="model folder (default: the config's)")
    p.add_argument("--min-images", type=int, default=4, help="identities with at least this many photos")
    p.add_argument("--train-min-images", type=int, default=2,
                   help="train-split identities with at least this many photos (training-set growth)")
    p.add_argument("--limit", type=int, default=0, help="only the first N images (a smoke test)")
    p.add_argument("--degraded-only", action="store_true",
                   help="keep <out-dir>/clean.{h5,scp} and redo only the degraded faces")
    p.add_argument("--num-threads", type=int, default=None)
    args = p.parse_args(argv)
    setup_logging(1)
    pin_threads(args.num_threads)
    cfg = FrontEndConfig.from_file(args.config_file, args.models_dir)
    front = build_extractor(cfg)
    images = protocol_images(args.lfw_dir, args.min_images, args.train_min_images)
    if args.limit:
        images = images[:args.limit]
    embed_protocol_faces(images, Path(args.out_dir), front.detector, front.embedder, cfg.thresholds("facedet"),
                         args.degraded_only)


if __name__ == "__main__":
    main()
