#!/usr/bin/env bash
# split_scp.pl: Kaldi's interface, implemented in hyp_face.bin.split_scp (usage: split_scp.pl --help).
exec "${HYP_FACE_PYTHON:-python3}" -m hyp_face.bin.split_scp "$@"
