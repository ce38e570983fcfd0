"""Tabulate the calibrated results of every back-end of a score dir (docs/original_recipe.md §3.6, 8.4): plain, faithful s-norm and
asnorm rows, whichever exist.

Writes ``<score_dir>/results.md``, ``results.csv`` (the original CSV lines) and ``results.json``, and
prints the markdown table.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from hyp_face.cli import run_main, setup_logging
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

log = logging.getLogger("make_res_tables")


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


def untabulated(score_dir: str, pattern: str, subdirs) -> list[str]:
    """Calibrated score sub-directories of the back-end dirs that no row takes (e.g. s-norm with another ncoh)."""
    taken = {name for name, _ in subdirs}
    return sorted(f"{d.parent.name}/{d.name}" for d in Path(score_dir).glob(f"{pattern}/cosine_*")
                  if d.is_dir() and d.name not in taken and "_cal" in d.name)


def main(argv=None) -> None:
    args = parse_args(argv)
    setup_logging(args.verbose)
    subdirs = args.subdirs or score_subdirs(args.ncoh, args.cal_name, args.snorm_cal_name)
    table = collect(args.score_dir, args.sets, subdirs, args.pattern)
    left = untabulated(args.score_dir, args.pattern, subdirs)
    if left:
        log.warning("%d calibrated score dir(s) not in the table (another --ncoh or calibration?), e.g. %s",
                    len(left), left[0])
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
    sys.exit(run_main(main))
