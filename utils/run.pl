#!/usr/bin/env bash
# run.pl: Kaldi's launcher interface, implemented in hyp_face.bin.run_pl (usage: run.pl --help).
exec "${HYP_FACE_PYTHON:-python3}" -m hyp_face.bin.run_pl "$@"
