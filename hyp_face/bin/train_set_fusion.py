"""Train a ProxyFusion set aggregator (hyp_face.fusion.proxyfusion) on an embedding store and its utt2spk.

The dev subjects come from --dev-embed-scp/--dev-utt2spk, or else are the --dev-percent of the training subjects
chosen by the hash of their name. The checkpoint (torch, loadable with weights_only) records the embedder; use it
as ``eval_be --aggregator proxyfusion:<model>``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from hyp_face.backend.aggregate import AggregatorError
from hyp_face.cli import pin_threads, read_shell_config, run_main, setup_logging
from hyp_face.fusion.faces import name_hash
from hyp_face.fusion.proxyfusion import ProxyFusionConfig, save_model
from hyp_face.fusion.train import TrainOptions, load_subjects, train
from hyp_face.io.manifest import Job, step_manifest
from hyp_face.io.table import atomic_write

log = logging.getLogger("train_set_fusion")

INPUT_ARGS = ("train_embed_scp", "train_utt2spk", "augment_embed_scp", "dev_embed_scp", "dev_utt2spk",
              "dev_augment_embed_scp", "config_file")
SCP_ARGS = ("train_embed_scp", "augment_embed_scp", "dev_embed_scp", "dev_augment_embed_scp")
TRAIN_CODE = ("fusion", "backend/aggregate.py", "io/embed_store.py", "bin/train_set_fusion.py")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                usage="%(prog)s [options] <train-embed.scp> <train-utt2spk> <out-model>")
    p.add_argument("train_embed_scp")
    p.add_argument("train_utt2spk")
    p.add_argument("out_model", help="checkpoint to write (.pt); a JSON of the training facts goes beside it")
    p.add_argument("--augment-embed-scp", help="degraded variants of the training keys (a random half of each set)")
    p.add_argument("--dev-embed-scp", help="dev embeddings (default: --dev-percent of the training subjects)")
    p.add_argument("--dev-utt2spk")
    p.add_argument("--dev-augment-embed-scp")
    p.add_argument("--dev-percent", type=int, default=15)
    emb = p.add_mutually_exclusive_group(required=True)
    emb.add_argument("--embedder", help="name of the recognizer that made the embeddings (recorded in the model)")
    emb.add_argument("--config-file", help="global_conf file whose face_recognizer names the embedder")
    for name, default in vars(ProxyFusionConfig(dim=1)).items():
        if name != "dim":
            p.add_argument(f"--{name.replace('_', '-')}", type=int, default=default, help=f"(default: {default})")
    for name, default in vars(TrainOptions()).items():
        p.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default,
                       help=f"(default: {default})")
    p.add_argument("--num-threads", type=int, default=None)
    p.add_argument("--verbose", type=int, default=1)
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    job = Job(f"train_set_fusion {args.out_model}", [args.out_model, args.out_model + ".json"],
              step_manifest(args, {name: getattr(args, name) for name in INPUT_ARGS},
                            ("out_model", "num_threads", "verbose"), TRAIN_CODE, scp_inputs=SCP_ARGS))
    if not job.start(log):
        return
    pin_threads(args.num_threads)
    embedder = args.embedder or read_shell_config(args.config_file).get("face_recognizer", "")
    if not embedder:
        raise SystemExit(f"train_set_fusion: {args.config_file} sets no face_recognizer; for another embedder (e.g. "
                         "a speaker config's) give --embedder NAME, the name its ProxyFusion model is checked against")
    try:
        subjects = load_subjects(args.train_embed_scp, args.train_utt2spk, args.augment_embed_scp)
        if args.dev_embed_scp:
            dev = load_subjects(args.dev_embed_scp, args.dev_utt2spk, args.dev_augment_embed_scp)
        else:
            is_dev = [name_hash(s.name) % 100 < args.dev_percent for s in subjects]
            dev = [s for s, d in zip(subjects, is_dev) if d]
            subjects = [s for s, d in zip(subjects, is_dev) if not d]
            if len(dev) < 2 or len(subjects) < 2:
                raise AggregatorError(
                    f"{args.train_utt2spk}: the {args.dev_percent}% dev split (by a hash of each name) gives "
                    f"{len(subjects)} training and {len(dev)} dev identities of {len(is_dev)}; each side needs 2 or "
                    "more: give more identities, another --dev-percent, or --dev-embed-scp/--dev-utt2spk")
    except (AggregatorError, OSError) as err:
        raise SystemExit(f"train_set_fusion: {err}") from None
    cfg = ProxyFusionConfig(subjects[0].groups[0].shape[1], args.num_proxies, args.k, args.proj_dim, args.hidden)
    opts = TrainOptions(**{name: getattr(args, name) for name in vars(TrainOptions())})
    model, info = train(subjects, dev, cfg, opts, progress=args.verbose > 0)
    info["options"] = vars(opts)
    save_model(args.out_model, model, embedder, {k: v for k, v in info.items() if k != "history"})
    with atomic_write(args.out_model + ".json") as f:
        json.dump(dict(info, embedder=embedder, config=vars(cfg)), f, indent=1)
    job.finish()
    log.info("wrote %s (%d train / %d dev identities, %.0f s)", args.out_model, len(subjects), len(dev),
             info["seconds"])


if __name__ == "__main__":
    sys.exit(run_main(main))
