"""Extract one speaker embedding per file for job J of N of a data dir (``vid.scp``): ``<prefix>.h5/.scp``.

The speaker side comes from ``--config-file global_conf/speaker/config_X.sh`` (``hyp_face.audio.config``). With
``--speech-spans`` (a data dir's ``speech_spans``: ``<utt> <start-s> <end-s>``), a file listed there contributes only
the speech inside its spans; files not listed contribute all their speech. Files with no audio stream, no speech or
unreadable audio get an empty embedding set and their status in the store, and a warning.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from hyp_face.audio.config import MissingSpeakerModel, SpeakerConfig
from hyp_face.audio.extract import STATUS_OK, read_speech_spans
from hyp_face.cli import checked_device, pin_threads, run_main, setup_logging
from hyp_face.io.embed_store import EmbedWriter
from hyp_face.io.manifest import Job, code_version, json_sha256, manifest_path, media_stamps, options_of
from hyp_face.io.table import read_scp, split_contiguous

log = logging.getLogger("extract_speaker_embed")

# Output-neutral options (paths recorded by content; how the work runs) and the sources that change embeddings.
OUTPUT_NEUTRAL_ARGS = ("vid_scp", "output_prefix", "part_idx", "num_parts", "speech_spans", "config_file",
                       "models_dir", "batch_size", "device", "num_threads", "verbose")
SPEAKER_CODE = ("audio", "io/embed_store.py", "bin/extract_speaker_embed.py")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, fromfile_prefix_chars="@")
    p.add_argument("--vid-scp", required=True, help="<key> <media path> list")
    p.add_argument("--output-prefix", required=True, help="writes <prefix>.h5 and <prefix>.scp")
    p.add_argument("--config-file", required=True, help="speaker config (speaker_embedder=, speaker_vad=)")
    p.add_argument("--models-dir", default="exp/face_models")
    p.add_argument("--speech-spans", default="", help="speech_spans of the data dir: restrict to these spans")
    p.add_argument("--part-idx", type=int, default=1)
    p.add_argument("--num-parts", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64, help="partial windows per network batch")
    p.add_argument("--device", default="cpu")
    p.add_argument("--num-threads", type=int, default=None, help="torch threads (default $HYP_FACE_THREADS or 1)")
    p.add_argument("--verbose", type=int, default=1)
    return p.parse_args(argv)


def speaker_job(args: argparse.Namespace, cfg: SpeakerConfig, keys: list[str], vids: dict[str, str],
                spans: dict[str, list]) -> Job:
    """Job ``part_idx`` of ``num_parts`` with the manifest of its inputs, model, options and code (docs/rerun.md)."""
    prefix = Path(args.output_prefix)
    inputs = {"files": len(keys), "vid_scp_part": json_sha256([[k, vids[k]] for k in keys]),
              "media_files": media_stamps(vids[k] for k in keys)}
    if args.speech_spans:
        inputs["spans_part"] = json_sha256([[k, spans.get(k)] for k in keys])
    manifest = {"job": {"part": args.part_idx, "num_parts": args.num_parts}, "inputs": inputs,
                "speaker": cfg.fingerprint(), "options": options_of(args, OUTPUT_NEUTRAL_ARGS),
                "code": code_version(SPEAKER_CODE)}
    outputs = [prefix.with_name(prefix.name + suffix) for suffix in (".h5", ".scp")]
    return Job(f"job {args.part_idx}/{args.num_parts}", outputs, manifest, manifest_path(prefix))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    vids = read_scp(args.vid_scp)
    keys = split_contiguous(list(vids), args.num_parts, args.part_idx)
    spans = read_speech_spans(args.speech_spans) if args.speech_spans else {}
    cfg = SpeakerConfig.from_file(args.config_file, args.models_dir)
    try:
        job = speaker_job(args, cfg, keys, vids, spans)
    except MissingSpeakerModel as err:
        raise SystemExit(f"extract_speaker_embed: {err}") from None
    if not job.start(log):
        return 0
    threads = pin_threads(args.num_threads)
    extractor = cfg.build(checked_device(args.device), args.batch_size)
    log.info("job %d/%d: %d files, speaker embedder %s (%d-D), VAD %s, %d thread(s)", args.part_idx,
             args.num_parts, len(keys), cfg.embedder, extractor.embedder.dim, cfg.vad, threads)
    t0, speech, n_failed = time.time(), 0.0, 0
    with EmbedWriter(args.output_prefix) as writer:
        items = ((k, vids[k], spans.get(k)) for k in keys)
        for key, result in extractor.process_many(items):
            if result.status != STATUS_OK:
                n_failed += 1
                log.warning("%s: %s -> empty embedding set", key, result.status)
            writer.write(key, result.embeds, status=result.status)
            speech += result.speech_s
    job.finish()
    log.info("done: %d files, %.1f s of speech embedded, %d without speech or audio, %.1f s", len(keys), speech,
             n_failed, time.time() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
