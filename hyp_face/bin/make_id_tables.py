"""Gather the ``results.json`` of identification protocols (eval_id_protocol) into one table:
``<out-dir>/results.md`` and ``results.json``, one row per config, back-end and protocol, then its re-ranking
rows. Without result files, every ``<exp-dir>/*/*/*/results.json`` is gathered (--exp-dir, default exp/identify)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hyp_face.cli import run_main
from hyp_face.identify.report import write_tables

#: What result_rows reads of a results.json.
RESULT_KEYS = ("config", "backend", "protocol", "kind", "figures")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("results", nargs="*", help="results.json files (default: all found under --exp-dir)")
    p.add_argument("--exp-dir", default="exp/identify",
                   help="searched for <exp-dir>/<config>/<back-end>/<protocol>/results.json (default exp/identify)")
    p.add_argument("--out-dir", required=True, help="where results.{md,json} go")
    args = p.parse_args(argv)
    files = [Path(f) for f in args.results] or sorted(Path(args.exp_dir).glob("*/*/*/results.json"))
    if not files:
        sys.exit(f"make_id_tables: no results.json given or found under {args.exp_dir}")
    results = []
    for f in files:
        try:
            result = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            sys.exit(f"make_id_tables: {f}: {err}")
        missing = [k for k in RESULT_KEYS if k not in result] if isinstance(result, dict) else ["an object"]
        if missing:
            sys.exit(f"make_id_tables: {f}: not a results.json of eval_id_protocol (no {', '.join(missing)})")
        results.append(result)
    rows = write_tables(args.out_dir, results)
    print("\n".join(Path(args.out_dir, "results.md").read_text(encoding="utf-8").splitlines()))
    print(f"{len(rows)} rows from {len(files)} protocols -> {args.out_dir}/results.{{md,json}}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
