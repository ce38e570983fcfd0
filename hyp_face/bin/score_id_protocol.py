"""Full item score matrices of an identification protocol with one back-end (hyp_face.identify.scoring).

Writes ``<out-dir>/<row role>_<col role>.npz`` (hyp_face.metrics.score_matrix: similarities, row and column keys)
for every matrix the protocol's kind needs, and a manifest beside the first: a rerun redoes the job only when the
protocol files, the embedding stores (by content, with the HDF5 files they list), the back-end or the code changed.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from hyp_face.backend.engine import make_engine
from hyp_face.backend.versions import PARAM_DEFAULTS, VERSIONS, BackendParams, be_options, params_from_config
from hyp_face.cli import pin_threads, run_main, setup_logging
from hyp_face.identify.protocols import read_protocol
from hyp_face.identify.scoring import MATRICES, ScoreError, protocol_matrices, store_paths
from hyp_face.io.manifest import Job, code_version, input_digest
from hyp_face.metrics.score_matrix import ScoreMatrix, write_score_matrix

log = logging.getLogger("score_id_protocol")
CODE = ("identify/protocols.py", "identify/scoring.py", "eval/lfw.py", "backend", "io/embed_store.py", "io/datadir.py",
        "io/table.py", "video/reader.py", "metrics/score_matrix.py", "bin/score_id_protocol.py")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("protocol_dir", help="a protocol dir (local/make_lfw_id_protocols.py, make_video_search_protocol.py)")
    p.add_argument("embed_dir", help="the config's face_embed_dir: stores are <embed-dir>/{facedet,ref}/<source>/")
    p.add_argument("out_dir", help="where the .npz matrices go")
    p.add_argument("--backend", default="v1", choices=VERSIONS, help="back-end version (default: v1)")
    for param in PARAM_DEFAULTS:
        p.add_argument(f"--{param.replace('_', '-')}", type=float, default=None, dest=param,
                       help="back-end parameter (default: the version's original value; run_060 passes the config's)")
    p.add_argument("--engine", default="auto", choices=("auto", "numpy", "torch"),
                   help="array library of the scoring (auto: numpy on the CPU, torch on CUDA; same numbers)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--num-threads", type=int, default=None, help="blocks scored at once (default $HYP_FACE_THREADS)")
    p.add_argument("--verbose", type=int, default=1, help="0: warnings only; 1: progress (default)")
    return p.parse_args(argv)


def matrix_path(out_dir: str | Path, rows: str, cols: str) -> Path:
    return Path(out_dir) / f"{rows}_{cols}.npz"


def score_job(args: argparse.Namespace, params: BackendParams, protocol) -> Job:
    """The job: its outputs and the manifest of its inputs (protocol files, stores), back-end and code."""
    proto = Path(args.protocol_dir)
    files = sorted(p for p in proto.rglob("*") if p.is_file())
    inputs = {str(f.relative_to(proto)): input_digest(f) for f in files}
    for role, items in protocol.sets.items():
        for name, scp in zip(("facedet", "ref"), store_paths(items, args.embed_dir)):
            if scp is not None:
                inputs[f"{role} {name} store"] = input_digest(scp, follow_scp=True)
    manifest = {"inputs": inputs, "options": {"backend": " ".join(be_options(params))}, "code": code_version(CODE)}
    outputs = [matrix_path(args.out_dir, r, c) for r, c in MATRICES[protocol.kind]]
    return Job(f"score_id_protocol {args.out_dir}", outputs, manifest)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    setup_logging(args.verbose)
    try:
        protocol = read_protocol(args.protocol_dir)
        params = params_from_config(args.backend, {}, {p: getattr(args, p) for p in PARAM_DEFAULTS})
        job = score_job(args, params, protocol)
    except (ValueError, OSError) as err:  # ProtocolError, TableError, a parameter the version does not take
        raise SystemExit(f"score_id_protocol: {err}") from None
    if not job.start(log):
        return
    start = time.time()
    threads = pin_threads(args.num_threads)
    engine = make_engine(args.engine, args.device)
    try:
        items, matrices = protocol_matrices(protocol, params, args.embed_dir, engine=engine,
                                            workers=1 if engine.name == "torch" else threads)
    except (ScoreError, KeyError, ValueError) as err:
        raise SystemExit(f"score_id_protocol: {err}") from None
    for (r, c), scores in matrices.items():
        write_score_matrix(matrix_path(args.out_dir, r, c), ScoreMatrix(scores, items[r].ids, items[c].ids))
    job.finish()
    log.info("%s: %s, %s (%.1f s)", args.protocol_dir, " ".join(be_options(params)),
             ", ".join(f"{r} x {c} {m.shape[0]}x{m.shape[1]}" for (r, c), m in matrices.items()), time.time() - start)


if __name__ == "__main__":
    sys.exit(run_main(main))
