"""Metrics of the template protocol (hyp_face.fusion.templates): ROCCH-EER, TAR at FAR 1e-2 / 1e-3 / 1e-4 and Rank-1
of each method's scores, the last four with the paired-bootstrap 95% interval (identities resampled) of its difference from a baseline.

    python -m hyp_face.bin.eval_set_protocol --data-dir D --baseline mean [--reps 1000] \
        --out PREFIX NAME=SCORES [NAME=SCORES ...]

Writes PREFIX.md and PREFIX.json; the method named --baseline is the reference of the differences.
``--print-best PREFIX.json NAME-PREFIX`` prints the method of a written report whose name starts with NAME-PREFIX
and whose TAR@0.01 + TAR@0.001 is highest (how run_065 chooses on dev).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hyp_face.cli import run_main
from hyp_face.fusion.templates import FARS, eer_percent, paired_bootstrap, protocol_metrics, read_scored_trials
from hyp_face.io.table import atomic_write, write_lines

COLUMNS = [f"TAR@{far:g}" for far in FARS] + ["Rank-1"]


def best_method(report_json: str, prefix: str) -> str:
    """The method of ``report_json`` named ``prefix...`` with the highest TAR@0.01 + TAR@0.001."""
    with open(report_json, encoding="utf-8") as f:
        methods = json.load(f)["methods"]
    candidates = {n: m["metrics"]["TAR@0.01"] + m["metrics"]["TAR@0.001"] for n, m in methods.items()
                  if n.startswith(prefix)}
    if not candidates:
        raise SystemExit(f"eval_set_protocol: no method named {prefix}* in {report_json}")
    return max(candidates, key=lambda n: (candidates[n], n))


def main(argv: list[str] | None = None) -> dict:
    if argv is None:
        import sys

        argv = sys.argv[1:]
    if argv[:1] == ["--print-best"]:
        if len(argv) != 3:
            raise SystemExit("usage: eval_set_protocol --print-best REPORT.json NAME-PREFIX")
        print(best_method(argv[1], argv[2]))
        return {}
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", required=True, help="protocol data dir (trials, spk)")
    p.add_argument("--baseline", default="mean", help="name of the reference method (default: %(default)s)")
    p.add_argument("--reps", type=int, default=1000, help="bootstrap resamples (default: %(default)s)")
    p.add_argument("--out", required=True, help="output prefix (.md, .json)")
    p.add_argument("methods", nargs="+", metavar="NAME=SCORES")
    args = p.parse_args(argv)
    data = Path(args.data_dir)
    scored = {}
    for item in args.methods:
        name, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"eval_set_protocol: expected NAME=SCORES, got {item!r}")
        try:
            scored[name] = read_scored_trials(data / "trials", data / "spk", Path(path))
        except (OSError, ValueError) as err:
            raise SystemExit(f"eval_set_protocol: {err}") from None
    if args.baseline not in scored:
        raise SystemExit(f"eval_set_protocol: no method named {args.baseline!r}")
    base = scored[args.baseline]
    report = {"data_dir": str(data), "baseline": args.baseline, "reps": args.reps,
              "num_target": int(base.target.sum()), "num_nontarget": int((~base.target).sum()),
              "num_identities": len(base.identities), "methods": {}}
    lines = [f"| method | EER % | {' | '.join(COLUMNS)} |", "|---" * (len(COLUMNS) + 2) + "|"]
    for name, st in scored.items():
        values = protocol_metrics(st)
        eer = eer_percent(st)
        entry = {"metrics": dict(zip(COLUMNS, values.tolist())), "eer_percent": eer}
        cells = [f"{v:.4f}" for v in values]
        if name != args.baseline:
            diff, lo, hi = paired_bootstrap(st, base, args.reps)
            entry.update(diff=dict(zip(COLUMNS, diff.tolist())), ci95_low=dict(zip(COLUMNS, lo.tolist())),
                         ci95_high=dict(zip(COLUMNS, hi.tolist())))
            cells = [f"{v:.4f} ({d:+.4f} [{a:+.4f}, {b:+.4f}])" for v, d, a, b in zip(values, diff, lo, hi)]
        report["methods"][name] = entry
        lines.append(f"| {name} | {eer:.2f} | {' | '.join(cells)} |")
    write_lines(f"{args.out}.md", lines)
    with atomic_write(f"{args.out}.json") as f:
        json.dump(report, f, indent=1)
    print("\n".join(lines))
    return report


if __name__ == "__main__":
    sys.exit(run_main(main))
