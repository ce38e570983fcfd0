"""Speaker-embedding throughput, in seconds of audio per second, beside resemblyzer's own encoder in the same run.

    python -m hyp_face.bench.speaker [--media FILE ...] [--repeat 20] [--batch-size 64] [--rounds 3] \
        [--workers 1] [--models-dir exp/face_models] [--num-threads 1] [--no-pipeline]

The media (default: the labelled clips of ../shared/data/celeb_video_smoke) are decoded once to 16 kHz mono and cut
to their speech (Silero VAD, outside the timed encoder figures); the list is repeated ``--repeat`` times, as a set of
utterances to embed. Timed on the same utterances, whose partial windows are the same on both sides (the parity
test checks it):

* ours at each precision (``hyp_face.audio.ge2e.PRECISIONS``: fp32, the default with the 1e-4 parity, bf16 and
  int8; int8 is left out, and named under ``not_run``, without onnxruntime): ``GE2EEmbedder`` from the raw speech:
  volume, our mel spectrogram, the windows of many utterances batched through the LSTM ``--batch-size`` windows at
  a time;
* the package: ``resemblyzer.VoiceEncoder.embed_utterance`` on each utterance after ``normalize_volume`` (which
  is not timed; librosa's mel spectrogram and its own one-utterance-per-batch call are), which is what its users
  call;
* with ``--workers W``: ours runs W batches at once (threads, 1 torch thread each) and the package gets W torch
  threads, each side's way of using W cores;
* unless ``--no-pipeline``, both whole pipelines from the decoded file: ours (Silero VAD and embed:
  ``SpeakerExtractor``, at the config's precision) and the package's (``preprocess_wav``: WebRTC VAD and volume,
  then ``embed_utterance``).

The sides take turns within each round, so that a shared machine's load falls on all of them alike; each figure is
the best of ``--rounds``. Two figures each: wall-clock (audio seconds per second) and CPU (audio seconds per
CPU-second of this process, all its threads: what the work costs, nearly independent of other jobs on the
machine). The load average before and after is printed with them. resemblyzer must be installed (the test extra);
without it only our figures are printed. The target: at least 3x the package's encoder throughput on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from hyp_face.audio.config import SpeakerConfig
from hyp_face.audio.decode import SAMPLE_RATE, read_audio
from hyp_face.audio.ge2e import PRECISIONS
from hyp_face.cli import pin_threads
from hyp_face.eval.av_smoke import labelled_videos

DEFAULT_CLIPS = Path("../shared/data/celeb_video_smoke")


def interleaved_rates(runs: dict[str, tuple[Callable[[], None], float]], rounds: int) -> dict[str, dict]:
    """``name -> (fn, audio seconds)`` timed in turns, ``rounds`` times: the best wall-clock and CPU rates
    (audio seconds per second) of each."""
    wall = {name: [] for name in runs}
    cpu = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (fn, _) in runs.items():
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - start_wall)
            cpu[name].append(time.process_time() - start_cpu)
    return {name: {"wall": audio_s / min(wall[name]), "cpu": audio_s / max(min(cpu[name]), 1e-9)}
            for name, (_, audio_s) in runs.items()}


def with_threads(fn: Callable[[], None], threads: int) -> Callable[[], None]:
    """``fn`` run with ``threads`` torch intra-op threads (restored afterwards)."""
    import torch

    def run() -> None:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            fn()
        finally:
            torch.set_num_threads(before)
    return run


def embed_all(embedder, utterances: list[np.ndarray]) -> None:
    """Our embeddings of every utterance, their windows batched across utterances."""
    for i, u in enumerate(utterances):
        embedder.pool.add(str(i), embedder.windows(u))
    for i in range(len(utterances)):
        embedder.pool.pop(str(i))


def package_runs(utterances: list[np.ndarray], decoded: list[np.ndarray], speech_s: float, file_s: float,
                 workers: int, pipeline: bool) -> dict[str, tuple[Callable[[], None], float]]:
    """The package's encoder (and pipeline) runs with ``workers`` torch threads; empty when it is absent."""
    try:
        from resemblyzer import VoiceEncoder, preprocess_wav
        from resemblyzer.audio import normalize_volume
    except ImportError:
        return {}
    encoder = VoiceEncoder("cpu", verbose=False)
    prepared = [normalize_volume(u, -30, increase_only=True) for u in utterances]
    runs = {"package": (with_threads(lambda: [encoder.embed_utterance(u) for u in prepared], workers), speech_s)}
    if pipeline:
        runs["package_pipeline"] = (with_threads(
            lambda: [encoder.embed_utterance(preprocess_wav(w)) for w in decoded], workers), file_s)
    return runs


def bench_speaker(media: list[str], cfg: SpeakerConfig, repeat: int = 20, batch_size: int = 64,
                  rounds: int = 3, workers: int = 1, pipeline: bool = True) -> dict:
    extractor = cfg.build(batch_size=batch_size, workers=workers)
    raw = [read_audio(p) for p in media]
    speech = [w[extractor.vad.speech_mask(w)] for w in raw]
    utterances = [s for s in speech if len(s) >= SAMPLE_RATE // 2] * repeat
    speech_s = sum(len(u) for u in utterances) / SAMPLE_RATE
    file_s = sum(len(w) for w in raw) * repeat / SAMPLE_RATE

    runs, missing = {}, {}
    for precision in PRECISIONS:
        try:
            embedder = dataclasses.replace(cfg, precision=precision).build(batch_size=batch_size,
                                                                           workers=workers).embedder
        except ImportError as err:  # int8 without onnxruntime
            missing[f"ours_{precision}"] = str(err)
            continue
        runs[f"ours_{precision}"] = (lambda e=embedder: embed_all(e, utterances), speech_s)
    if pipeline:
        items = [(str(i), p, None) for i, p in enumerate(media * repeat)]
        runs["ours_pipeline"] = (lambda: list(extractor.process_many(items)), file_s)
    runs.update(package_runs(utterances, raw * repeat, speech_s, file_s, workers, pipeline))

    load_before = os.getloadavg()
    rates = interleaved_rates(runs, rounds)
    result = {"utterances": len(utterances), "speech_s": speech_s, "files_s": file_s, "batch_size": batch_size,
              "workers": workers, "pipeline_precision": cfg.precision, "cpu_count": os.cpu_count(),
              "load_before": load_before, "load_after": os.getloadavg(), "rates": rates, "not_run": missing}
    if "package" in rates:
        result["encoder_ratio"] = {name: ratios(rates[name], rates["package"]) for name in rates
                                   if name.startswith("ours_") and name != "ours_pipeline"}
    if "package_pipeline" in rates:
        result["pipeline_ratio"] = ratios(rates["ours_pipeline"], rates["package_pipeline"])
    return result


def ratios(ours: dict, theirs: dict) -> dict:
    """Our rate over the package's, wall-clock and CPU."""
    return {kind: ours[kind] / theirs[kind] for kind in ("wall", "cpu")}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--media", nargs="+", default=None, help="audio or video files (default: the shared clips)")
    p.add_argument("--speaker-config", default="global_conf/speaker/config_ge2e.sh")
    p.add_argument("--speaker-precision", choices=list(PRECISIONS), default=None,
                   help="precision of our pipeline run (default: the config's speaker_precision)")
    p.add_argument("--models-dir", default="exp/face_models")
    p.add_argument("--repeat", type=int, default=20, help="times the media list is embedded per round")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workers", type=int, default=1, help="cores each side may use (ours: batches in threads)")
    p.add_argument("--num-threads", type=int, default=None, help="torch threads (default HYP_FACE_THREADS or 1)")
    p.add_argument("--no-pipeline", action="store_true", help="time the encoders only")
    args = p.parse_args(argv)
    threads = pin_threads(args.num_threads)
    media = args.media or [str(v) for v in labelled_videos(DEFAULT_CLIPS).values()]
    cfg = SpeakerConfig.from_file(args.speaker_config, args.models_dir)
    if args.speaker_precision:
        cfg = dataclasses.replace(cfg, precision=args.speaker_precision)
    result = bench_speaker(media, cfg, args.repeat, args.batch_size, args.rounds, args.workers,
                           not args.no_pipeline)
    result["threads"] = threads
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
