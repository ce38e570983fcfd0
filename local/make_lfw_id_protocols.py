#!/usr/bin/env python3
"""LFW identification protocols as data dirs (hyp_face/identify/protocols.py): <data-dir>/<prefix>_all (every
photo, the one set that is embedded) and <data-dir>/<prefix>_{closed,open,idrate,search}, each with a README line."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from hyp_face.corpus import CorpusError
from hyp_face.corpus.lfw_mock import list_identities
from hyp_face.identify.protocols import all_photos_dir, lfw_protocols, write_protocol
from hyp_face.io.datadir import validate_data_dir, write_data_dir

log = logging.getLogger("make_lfw_id_protocols")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lfw-dir", required=True, help="folder of LFW <Name>_<NNNN>.jpg photos")
    p.add_argument("--data-dir", default="data", help="where the data dirs go (default data)")
    p.add_argument("--prefix", default="lfw_id", help="name prefix of the data dirs (default lfw_id)")
    p.add_argument("--min-search-images", type=int, default=5,
                   help="photos an identity needs to be a search query (default 5; at least 2: a query needs a "
                        "relevant item)")
    args = p.parse_args(argv)
    if args.min_search_images < 2:
        p.error(f"--min-search-images must be at least 2, got {args.min_search_images}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        people = list_identities(Path(args.lfw_dir).resolve())
    except (CorpusError, OSError) as e:
        sys.exit(f"error: {e}")
    out = Path(args.data_dir)
    source = f"{args.prefix}_all"
    write_data_dir(out / source, all_photos_dir(people))
    validate_data_dir(out / source)
    for name, protocol in lfw_protocols(people, source, args.min_search_images).items():
        write_protocol(out / f"{args.prefix}_{name}", protocol)
        log.info("%s: %s", out / f"{args.prefix}_{name}", protocol.readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
