"""Choose the unknown threshold of gallery recognition for a config: the score at a target FPIR (default 1e-2)
on the LFW open-set protocol, embedded with the config's front end (hyp_face.recognize.threshold).

    python -m hyp_face.bin.choose_unknown_thr --config global_conf/config_embedded.sh --lfw-dir DIR [--max-probes N]
    python -m hyp_face.bin.choose_unknown_thr --protocol data/lfw_id_open --embed-dir exp/face_embed/<name>

The first form embeds the protocol (or a deterministic share of its probes) with the config's front end; the second
reads the embeddings run_060_identify.sh computed for it (stage 1) with that config.

Prints the ``recognize_unknown_thr=...`` line to store in the config (and ``--out FILE`` writes it with the figures
as JSON). With ``--score-norm faithful|asnorm --ncoh N --cohort-out DIR`` the scores are s-normalised against the
protocol's single-photo people (less the names of ``--cohort-exclude FILE``, one per line), the cohort is stored in
DIR, and the lines to store are ``recognize_snorm_unknown_thr=...`` and ``recognize_cohort=DIR/cohort.scp``
(hyp_face.recognize.threshold, README "Who appears when").
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from hyp_face.backend.snorm import MODES as SNORM_MODES
from hyp_face.cli import pin_threads, run_main, setup_logging
from hyp_face.corpus import CorpusError
from hyp_face.corpus.lfw_mock import list_identities
from hyp_face.frontend import FrontEndConfig, MissingModelError, add_frontend_args
from hyp_face.io.table import atomic_write
from hyp_face.recognize.gallery import COHORT_KEY, write_cohort
from hyp_face.recognize.threshold import (DEFAULT_FPIR, CohortChoice, lfw_open_set_threshold,
                                          stored_open_set_threshold)

log = logging.getLogger("choose_unknown_thr")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_frontend_args(p)
    p.add_argument("--lfw-dir", default=None, help="folder of LFW <Name>_<NNNN>.jpg photos")
    p.add_argument("--protocol", default=None, help="an open-set protocol dir (local/make_lfw_id_protocols.py)")
    p.add_argument("--embed-dir", default=None, help="with --protocol: the face_embed dir of its embeddings")
    p.add_argument("--fpir", type=float, default=DEFAULT_FPIR, help=f"target false positive identification rate (default {DEFAULT_FPIR:g})")
    p.add_argument("--max-probes", type=int, default=None,
                   help="embed at most this many probes (a deterministic share); default: all")
    p.add_argument("--score-norm", default="none", choices=SNORM_MODES, help="s-norm of the scores (default none)")
    p.add_argument("--ncoh", type=int, default=100, help="with --score-norm: cohort faces of each side's statistics (default 100)")
    p.add_argument("--cohort-exclude", default=None, help="with --score-norm: names to keep out of the cohort")
    p.add_argument("--cohort-out", default=None, help="with --score-norm: store the cohort here (required)")
    p.add_argument("--out", default=None, help="also write the result as JSON here")
    p.add_argument("--device", default="cpu", help="where the LFW photos are embedded: cpu, cuda or cuda:N")
    p.add_argument("--num-threads", type=int, default=None, help="torch threads (default $HYP_FACE_THREADS or 1)")
    args = p.parse_args(argv)
    setup_logging(1)
    pin_threads(args.num_threads)
    if bool(args.lfw_dir) == bool(args.protocol and args.embed_dir):
        p.error("give either --lfw-dir or --protocol with --embed-dir")
    if (args.score_norm != "none") != bool(args.cohort_out):
        p.error("--score-norm faithful|asnorm and --cohort-out go together")
    try:
        choice = cohort_choice(args)
        if args.protocol:
            result = stored_open_set_threshold(args.protocol, args.embed_dir, args.fpir, choice)
        else:
            cfg = FrontEndConfig.from_args(args)
            result = lfw_open_set_threshold(cfg, list_identities(Path(args.lfw_dir)), args.fpir, args.max_probes,
                                            args.device, choice=choice)
        lines = [result.config_line(args.protocol or "the LFW open set")]
        if result.cohort is not None:
            lines.append(f"{COHORT_KEY}={write_cohort(result.cohort.keys, result.cohort.embeds, args.cohort_out)}")
    except (CorpusError, MissingModelError, ValueError, KeyError, OSError) as err:
        print(f"{p.prog}: {err}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    if args.out:
        with atomic_write(args.out) as f:
            json.dump(dict(result.figures(), config_lines=lines, config=args.config_file), f, indent=1)
            f.write("\n")
    return 0


def cohort_choice(args: argparse.Namespace) -> CohortChoice | None:
    """The s-norm of the options, with the names of --cohort-exclude (one per line) kept out of the cohort."""
    if args.score_norm == "none":
        return None
    exclude = Path(args.cohort_exclude).read_text().split() if args.cohort_exclude else []
    return CohortChoice(args.score_norm, args.ncoh, frozenset(exclude))


if __name__ == "__main__":
    sys.exit(run_main(main))
