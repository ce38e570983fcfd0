"""Import or export ProxyFusion's HDF5 template layout (one <SID>.h5 per subject; see hyp_face.fusion.h5_templates).

    python -m hyp_face.bin.set_templates import <in-dir> <out-dir> [--dim D]
    python -m hyp_face.bin.set_templates export <embed.scp> <utt2spk> <roles> <out-dir> [--gallery-kind images|video]
"""

from __future__ import annotations

import argparse
import sys

from hyp_face.backend.aggregate import AggregatorError
from hyp_face.cli import run_main
from hyp_face.fusion.h5_templates import GALLERY_KINDS, export_templates, import_templates


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="<SID>.h5 files -> embed.{h5,scp}, utt2spk and roles in <out-dir>")
    imp.add_argument("in_dir")
    imp.add_argument("out_dir")
    imp.add_argument("--dim", type=int, default=None, help="required feature dimension (e.g. the model's)")
    exp = sub.add_parser("export", help="an embedding store + utt2spk + roles -> one <SID>.h5 per subject")
    exp.add_argument("embed_scp")
    exp.add_argument("utt2spk")
    exp.add_argument("roles", help="<key> probe|gallery lines")
    exp.add_argument("out_dir")
    exp.add_argument("--gallery-kind", choices=GALLERY_KINDS, default="images")
    args = p.parse_args(argv)
    try:
        if args.command == "import":
            n = import_templates(args.in_dir, args.out_dir, args.dim)
        else:
            n = export_templates(args.embed_scp, args.utt2spk, args.roles, args.out_dir, args.gallery_kind)
    except (AggregatorError, OSError) as err:
        raise SystemExit(f"set_templates: {err}") from None
    print(f"{args.command}: {n} templates")


if __name__ == "__main__":
    sys.exit(run_main(main))
