#!/usr/bin/env python3
"""Video search by portrait (hyp_face/identify/protocols.py) from an SRE19/JANUS enrollment dir and its test dir:
each model's enrollment media are a query, every test video a gallery item, its target trials the relevant items."""

from __future__ import annotations

import argparse
import logging
import sys

from hyp_face.identify.protocols import ProtocolError, video_search, write_protocol
from hyp_face.io.table import TableError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("enroll_dir", help="e.g. data/sre19_av_v_dev_enroll")
    p.add_argument("test_dir", help="e.g. data/sre19_av_v_dev_test (with trials)")
    p.add_argument("out_dir", help="the protocol dir, e.g. data/sre19_av_v_dev_vsearch")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        protocol = video_search(args.enroll_dir, args.test_dir)
        write_protocol(args.out_dir, protocol)
    except (ProtocolError, TableError, OSError) as e:
        sys.exit(f"error: {e}")
    logging.info("%s: %s", args.out_dir, protocol.readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
