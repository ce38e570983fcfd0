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
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--num-models", type=int, default=d.num_models, help="enrolled models per partition")
    p.add_argument("--min-images", type=int, default=d.min_images, help="photos an identity needs to be a model")
    p.add_argument("--tests-per-model", type=int, default=d.tests_per_model, help="target test videos per model")
    p.add_argument("--num-impostor-tests", type=int, default=d.num_impostor_tests,
                   help="test videos of non-enrolled people")
    p.add_argument("--distractor-prob", type=float, default=d.distractor_prob,
                   help="fraction of test videos with a distractor")
    p.add_argument("--width", type=int, default=d.width)
    p.add_argument("--height", type=int, default=d.height)
    p.add_argument("--fps", type=int, default=d.fps)
    args = vars(p.parse_args(argv))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    lfw_dir, out_dir = args.pop("lfw_dir"), args.pop("out_dir")
    try:
        lfw_mock.build_lfw_mock_corpus(lfw_dir, out_dir, lfw_mock.MockOptions(**args))
    except CorpusError as e:
        sys.exit(f"error: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
