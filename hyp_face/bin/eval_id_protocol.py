"""Figures of one scored identification protocol (hyp_face.identify.evaluate), with and without re-ranking.

Reads the matrices ``score_id_protocol`` wrote, writes ``<out-dir>/results.json`` and the plots ``cmc.png``
(closed set, search) or ``dir_fpir.png`` (open set). A manifest beside ``results.json`` makes a rerun skip an
unchanged job (protocol files and matrices by content, options, code).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from hyp_face.cli import run_main, setup_logging, str2bool
from hyp_face.identify.evaluate import RERANKERS, Scored, evaluate
from hyp_face.identify.protocols import Protocol, ProtocolError, read_protocol
from hyp_face.identify.report import plot_cmc, plot_dir_fpir
from hyp_face.identify.scoring import MATRICES, item_groups
from hyp_face.io.manifest import Job, code_version, input_digest
from hyp_face.io.table import TableError, atomic_write
from hyp_face.metrics.score_matrix import read_score_matrix

log = logging.getLogger("eval_id_protocol")
CODE = ("identify/protocols.py", "identify/scoring.py", "identify/evaluate.py", "identify/report.py",
        "metrics/identification.py", "metrics/plots.py", "metrics/score_matrix.py", "rerank", "bin/eval_id_protocol.py")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("protocol_dir", help="the protocol dir that score_id_protocol scored")
    p.add_argument("score_dir", help="the matrices of score_id_protocol")
    p.add_argument("out_dir", help="where results.{json,md} and the plots go")
    p.add_argument("--config", default="", help="config name for the tables (e.g. the face_embed_name)")
    p.add_argument("--backend-name", default="", help="back-end name for the tables (e.g. be_v1)")
    p.add_argument("--rerank", type=str2bool, default=True,
                   help="true (default): also re-rank (closed set, search) with the paper's and the dev-chosen parameters")
    p.add_argument("--verbose", type=int, default=1, help="0: warnings only; 1: progress (default)")
    return p.parse_args(argv)


def read_matrices(protocol: Protocol, score_dir: Path) -> Scored:
    """The protocol's matrices; their keys must be the items of the protocol, in matrix order."""
    roles = {role: item_groups(protocol, role) for role in protocol.sets}
    matrices = {}
    for r, c in MATRICES[protocol.kind]:
        path = score_dir / f"{r}_{c}.npz"
        m = read_score_matrix(path)
        for axis, keys, role in (("row", m.row_keys, r), ("column", m.col_keys, c)):
            if keys.tolist() != roles[role][0]:
                raise ProtocolError(f"{path}: its {axis} keys are not the {role} items of {protocol.test.path.parent}"
                                    " (rescore it)")
        matrices[(r, c)] = np.asarray(m.similarity(), dtype=np.float64)
    return Scored(protocol, matrices, {r: g[0] for r, g in roles.items()}, {r: g[2] for r, g in roles.items()})


def eval_job(args: argparse.Namespace, protocol: Protocol) -> Job:
    proto, scores = Path(args.protocol_dir), Path(args.score_dir)
    inputs = {str(f.relative_to(proto)): input_digest(f) for f in sorted(proto.rglob("*")) if f.is_file()}
    inputs.update({f"{r}_{c}.npz": input_digest(scores / f"{r}_{c}.npz") for r, c in MATRICES[protocol.kind]})
    options = {"config": args.config, "backend_name": args.backend_name, "rerank": args.rerank,
               "rerankers": [repr(r) for r in RERANKERS] if args.rerank else []}
    return Job(f"eval_id_protocol {args.out_dir}", [Path(args.out_dir) / "results.json"],
               {"inputs": inputs, "options": options, "code": code_version(CODE)})


def draw(result: dict, out_dir: Path) -> None:
    fig, kind = result["figures"], result["kind"]
    title = f"{result['protocol']}  {result['config']}  {result['backend']}"
    if kind in ("closed", "search"):
        reranked = {f"{r['method']} {r['setting']}": r["cmc"] for r in fig["retrieval"]
                    if r["setting"] == "dev-chosen" and "cmc" in r}
        plot_cmc({"no re-ranking": fig["cmc"], **reranked}, out_dir / "cmc.png", "CMC " + title)
    elif kind == "open":
        plot_dir_fpir(fig["curve"]["fpir"], fig["curve"]["dir"], out_dir / "dir_fpir.png", "DIR vs FPIR " + title)


def main(argv: list[str] | None = None) -> dict | None:
    args = parse_args(argv)
    setup_logging(args.verbose)
    try:
        protocol = read_protocol(args.protocol_dir)
        job = eval_job(args, protocol)
        if not job.start(log):
            return None
        scored = read_matrices(protocol, Path(args.score_dir))
    except (ProtocolError, TableError, ValueError, OSError) as err:
        raise SystemExit(f"eval_id_protocol: {err}") from None
    start = time.time()
    figures = evaluate(scored, RERANKERS if args.rerank else ())
    result = {"protocol": Path(args.protocol_dir).name, "kind": protocol.kind, "readme": protocol.readme,
              "config": args.config, "backend": args.backend_name, "figures": figures}
    out_dir = Path(args.out_dir)
    with atomic_write(out_dir / "results.json") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    draw(result, out_dir)
    job.finish()
    log.info("%s: %s (%.1f s)", result["protocol"], headline(figures), time.time() - start)
    return result


def headline(fig: dict) -> str:
    """One line of the main figures."""
    parts = [f"Rank-{k} {100 * v:.1f}" for k, v in fig.get("rank", {}).items()]
    parts += [f"DIR@{f:g} {100 * v:.1f}" for f, v in fig.get("dir", {}).items()]
    parts += [f"ID@{f:g} {100 * v:.1f}" for f, v in fig.get("id_rate", {}).items()]
    parts += [f"{' '.join(filter(None, (r['method'], r['setting'])))} mAP {100 * r['map']:.1f} "
              f"R-1 {100 * r['rank'][1]:.1f}" for r in fig.get("retrieval", [])]
    return ", ".join(parts)


if __name__ == "__main__":
    sys.exit(run_main(main))
