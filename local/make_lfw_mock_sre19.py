#!/usr/bin/env python3
"""Build the LFW-composed mock SRE19 AV corpus (see hyp_face/corpus/lfw_mock.py) for the back-end tuning."""

from __future__ import annotations

import argparse
import logging
import sys

from hyp_face.corpus import CorpusError, lfw_mock


def main(argv: list[str] | None = None) -> int:
    d = lfw_mock.MockOptions()
    p = argparse.ArgumentParser(description=lfw_mock.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lfw-dir", required=True, help="folder of LFW <Name>_<NNNN>.jpg photos")
    p.add_argument("--out-dir", required=True, help="writes <out-dir>/sre19_av_dev and <out-dir>/sre19_av_eval")
    p.add_argument("--seed", type=int, default=d.seed, help=f"random seed of the whole corpus (default {d.seed})")
    p.add_argument("--num-models", type=int, default=d.num_models,
                   help=f"enrolled models per partition; dev and eval draw disjoint people (default {d.num_models})")
    p.add_argument("--min-images", type=int, default=d.min_images,
                   help=f"photos an identity needs to be a model (default {d.min_images})")
    p.add_argument("--tests-per-model", type=int, default=d.tests_per_model,
                   help=f"target test videos per model (default {d.tests_per_model})")
    p.add_argument("--num-impostor-tests", type=int, default=d.num_impostor_tests,
                   help=f"test videos of non-enrolled people per partition (default {d.num_impostor_tests})")
    p.add_argument("--distractor-prob", type=float, default=d.distractor_prob,
                   help=f"fraction of test videos with a distractor (default {d.distractor_prob})")
    p.add_argument("--width", type=int, default=d.width, help=f"video width (default {d.width})")
    p.add_argument("--height", type=int, default=d.height, help=f"video height (default {d.height})")
    p.add_argument("--fps", type=int, default=d.fps, help=f"video frame rate (default {d.fps})")
    args = vars(p.parse_args(argv))
    for name in ("num_models", "tests_per_model", "width", "height", "fps"):
        if args[name] < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, got {args[name]}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    lfw_dir, out_dir = args.pop("lfw_dir"), args.pop("out_dir")
    try:
        lfw_mock.build_lfw_mock_corpus(lfw_dir, out_dir, lfw_mock.MockOptions(**args))
    except (CorpusError, OSError) as e:
        sys.exit(f"make_lfw_mock_sre19: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
