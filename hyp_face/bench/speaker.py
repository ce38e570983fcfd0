"""Speaker-embedding throughput, in seconds of audio per second, beside resemblyzer's own encoder in the same run.

    python -m hyp_face.bench.speaker [--media FILE ...] [--repeat 20] [--batch-size 64] [--rounds 3] \
        [--models-dir exp/face_models] [--num-threads 1]

The media (default: the labelled clips of ../shared/data/celeb_video_smoke) are decoded once to 16 kHz mono and cut
to their speech (Silero VAD); the list is repeated ``--repeat`` times, as a set of utterances to embed. Timed, best
of ``--rounds``, on the same utterances and torch threads:

* ours: ``GE2EEmbedder`` (mel spectrogram without librosa, the windows of many utterances batched through the
  LSTM, ``--batch-size`` windows at a time);
* the package: ``resemblyzer.VoiceEncoder.embed_utterance`` on each utterance (librosa's mel spectrogram, one
  utterance's windows per batch), which is what its users call;
* with ``--workers W``: ours runs W batches at once (threads, 1 torch thread each) and the package gets W torch
  threads, each side's way of using W cores;
* both whole pipelines from the file: ours (PyAV decode, Silero VAD, embed: ``SpeakerExtractor``) and the
  package's (``preprocess_wav`` of the decoded 16 kHz audio: WebRTC VAD and volume, then ``embed_utterance``).

resemblyzer must be installed (the test extra); without it only our figures are printed. Run it on an otherwise idle
machine: the target is at least 3x the package's encoder throughput on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np

from hyp_face.audio.config import SpeakerConfig
from hyp_face.audio.decode import SAMPLE_RATE, read_audio
from hyp_face.cli import pin_threads
from hyp_face.eval.av_smoke import labelled_videos

DEFAULT_CLIPS = Path("../shared/data/celeb_video_smoke")


def best_rate(fn: Callable[[], None], audio_s: float, rounds: int) -> float:
    """Seconds of audio per second of the fastest of ``rounds`` calls."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return audio_s / min(times)


def package_encoder():
    """resemblyzer's VoiceEncoder and preprocess_wav, or (None, None) when the package is absent."""
    try:
        from resemblyzer import VoiceEncoder, preprocess_wav
    except ImportError:
        return None, None
    return VoiceEncoder("cpu", verbose=False), preprocess_wav


def bench_speaker(media: list[str], cfg: SpeakerConfig, repeat: int = 20, batch_size: int = 64,
                  rounds: int = 3, workers: int = 1) -> dict:
    extractor = cfg.build(batch_size=batch_size, workers=workers)
    embedder = extractor.embedder
    raw = [read_audio(p) for p in media]
    speech = [w[extractor.vad.speech_mask(w)] for w in raw]
    utterances = [s for s in speech if len(s) >= SAMPLE_RATE // 2] * repeat
    speech_s = sum(len(u) for u in utterances) / SAMPLE_RATE
    file_s = sum(len(w) for w in raw) * repeat / SAMPLE_RATE

    def ours() -> None:
        for i, u in enumerate(utterances):
            embedder.pool.add(str(i), embedder.windows(u))
        for i in range(len(utterances)):
            embedder.pool.pop(str(i))

    def ours_pipeline() -> None:
        list(extractor.process_many([(str(i), p, None) for i, p in enumerate(media * repeat)]))

    result = {"utterances": len(utterances), "speech_s": speech_s, "files_s": file_s, "batch_size": batch_size,
              "workers": workers, "ours_encoder": best_rate(ours, speech_s, rounds),
              "ours_pipeline": best_rate(ours_pipeline, file_s, rounds)}
    encoder, preprocess = package_encoder()
    if encoder is not None:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(workers)
        from resemblyzer.audio import normalize_volume

        prepared = [normalize_volume(u, -30, increase_only=True) for u in utterances]
        result["package_encoder"] = best_rate(lambda: [encoder.embed_utterance(u) for u in prepared], speech_s,
                                              rounds)
        decoded = raw * repeat
        result["package_pipeline"] = best_rate(
            lambda: [encoder.embed_utterance(preprocess(w)) for w in decoded], file_s, rounds)
        torch.set_num_threads(threads)
        result["encoder_ratio"] = result["ours_encoder"] / result["package_encoder"]
        result["pipeline_ratio"] = result["ours_pipeline"] / result["package_pipeline"]
    return result


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--media", nargs="+", default=None, help="audio or video files (default: the shared clips)")
    p.add_argument("--speaker-config", default="global_conf/speaker/config_ge2e.sh")
    p.add_argument("--models-dir", default="exp/face_models")
    p.add_argument("--repeat", type=int, default=20, help="times the media list is embedded per round")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workers", type=int, default=1, help="cores each side may use (ours: batches in threads)")
    p.add_argument("--num-threads", type=int, default=None, help="torch threads (default HYP_FACE_THREADS or 1)")
    args = p.parse_args(argv)
    threads = pin_threads(args.num_threads)
    media = args.media or [str(v) for v in labelled_videos(DEFAULT_CLIPS).values()]
    result = bench_speaker(media, SpeakerConfig.from_file(args.speaker_config, args.models_dir), args.repeat,
                           args.batch_size, args.rounds, args.workers)
    result["threads"] = threads
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
