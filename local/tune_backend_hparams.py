#!/usr/bin/env python3
"""Grid search of the back-end hyper-parameters thr_ahc, self_att_a, att_a on SRE19-layout sets.

Scores every set given (e.g. ``sre19_av_v_dev`` and ``sre19_av_v_eval`` of the LFW mock corpus,
``local/make_lfw_mock_sre19.py``; data dirs ``<set>_enroll`` and ``<set>_test``) for every grid value and chooses the
values on ``--select-set`` only; the other sets are held-out checks. The grid and the selection rule live in
``hyp_face.backend.tuning``.

Writes ``<out-dir>/grid.json`` (every number), ``<out-dir>/grid.md`` (tables) and ``<out-dir>/chosen.sh`` (the three
lines for a ``global_conf`` file), and prints the chosen values.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from hyp_face.backend.tuning import GRID, P_TARGET, EvalSet, markdown, run_grid, select
from hyp_face.io.table import atomic_write, write_lines

log = logging.getLogger("tune_backend_hparams")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="data", help="holds <set>_enroll and <set>_test data dirs")
    p.add_argument("--embed-dir", required=True, help="e.g. exp/face_embed/mnet025-dlib128 (ref/ and facedet/)")
    p.add_argument("--sets", nargs="+", default=["sre19_av_v_dev", "sre19_av_v_eval"])
    p.add_argument("--select-set", default="sre19_av_v_dev", help="the set the values are chosen on")
    p.add_argument("--out-dir", required=True)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.select_set not in args.sets:
        raise SystemExit(f"--select-set {args.select_set} is not one of --sets {args.sets}")
    start = time.time()
    data = Path(args.data_dir)
    sets = [EvalSet.load(name, data / f"{name}_enroll", data / f"{name}_test", Path(args.embed_dir))
            for name in args.sets]
    results = run_grid(sets)
    chosen = select(results[args.select_set])
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "grid.json") as f:
        json.dump({"p_target": P_TARGET, "grid": GRID, "select_set": args.select_set, "chosen": chosen,
                   "stats": {s.name: s.stats() for s in sets}, "results": results}, f, indent=1)
        f.write("\n")
    write_lines(out / "grid.md", markdown(results, chosen, args.select_set))
    write_lines(out / "chosen.sh", [f"{k}={v:g}" for k, v in chosen.items()])
    print("\n".join(f"{k}={v:g}" for k, v in chosen.items()))
    log.info("grid of %d sets in %.1f s; tables in %s", len(sets), time.time() - start, out / "grid.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
