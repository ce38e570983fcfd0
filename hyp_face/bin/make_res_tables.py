"""Tabulate the calibrated results of every back-end of a score dir (docs/original_recipe.md §3.6, 8.4): plain, faithful s-norm and
asnorm rows, whichever exist.

Writes ``<score_dir>/results.md``, ``results.csv`` (the original CSV lines) and ``results.json``, and
prints the markdown table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hyp_face.cli import setup_logging
from hyp_face.io.table import atomic_write
from hyp_face.metrics.tables import (
    DEFAULT_SETS,
    DEFAULT_SUBDIRS,
    collect,
    score_subdirs,
    to_csv,
    to_json,
    to_markdown,
)


def _subdir(spec: str) -> tuple[str, str]:
    """``dir`` or ``dir:suffix`` -> (dir, row-name suffix)."""
    name, _, suffix = spec.partition(":")
    return name, suffix


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("score_dir", help="e.g. exp/scores/<face_embed_name>, holding be_* directories")
    p.add_argument("--sets", nargs="+", default=list(DEFAULT_SETS), help="evaluation sets (columns), in order")
    p.add_argument("--ncoh", type=int, default=1000, help="cohort size in the s-norm directory names (default: 1000)")
    p.add_argument("--cal-name", default="cal_v1_sre19",
                   help="calibration directory suffix of the raw scores (default: cal_v1_sre19)")
    p.add_argument("--snorm-cal-name", default=None,
                   help="calibration directory suffix of the s-norm scores (default: --cal-name)")
    p.add_argument("--subdirs", nargs="+", type=_subdir, default=None,
                   help="calibrated sub-directories as dir[:row-suffix] (default, from --ncoh and --cal-name: "
                        + " ".join(f"{d}:{s}" if s else d for d, s in DEFAULT_SUBDIRS) + ")")
    p.add_argument("--pattern", default="be_*", help="glob of the back-end directories")
    p.add_argument("-v", "--verbose", type=int, default=1)
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    setup_logging(args.verbose)
    subdirs = args.subdirs or score_subdirs(args.ncoh, args.cal_name, args.snorm_cal_name)
    table = collect(args.score_dir, args.sets, subdirs, args.pattern)
    out = Path(args.score_dir)
    markdown = to_markdown(table)
    with atomic_write(out / "results.md") as f:
        f.write(markdown)
    with atomic_write(out / "results.csv") as f:
        f.write(to_csv(table))
    with atomic_write(out / "results.json") as f:
        json.dump(to_json(table), f, indent=2)
        f.write("\n")
    print(markdown, end="")


if __name__ == "__main__":
    main()
