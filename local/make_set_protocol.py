#!/usr/bin/env python3
"""Template protocol data dirs (issue 12) from the faces of local/make_set_protocol_faces.py: for the dev and test
splits, <out-dir>/<split>_{clean,degraded}/ with embed.{h5,scp}, utt2spk, spk and trials, and the training lists
<out-dir>/{train,dev}_faces.utt2spk (see hyp_face.fusion.templates).

    local/make_set_protocol.py --faces-dir exp/set_fusion/faces --out-dir exp/set_fusion/data [--num-draws 20]
        [--max-size 3] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hyp_face.cli import setup_logging
from hyp_face.fusion.templates import make_protocol


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--faces-dir", required=True, help="folder with clean.scp and degraded.scp")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--num-draws", type=int, default=20, help="template draws per identity (default: %(default)s)")
    p.add_argument("--max-size", type=int, default=3, help="images per template at most (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    setup_logging(1)
    make_protocol(Path(args.faces_dir), Path(args.out_dir), args.num_draws, args.max_size, args.seed)


if __name__ == "__main__":
    main()
