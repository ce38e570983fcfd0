#!/usr/bin/env bash
# slurm.pl: Kaldi's launcher interface, implemented in hyp_face.bin.slurm_pl (usage: slurm.pl --help).
exec "${HYP_FACE_PYTHON:-python3}" -m hyp_face.bin.slurm_pl "$@"
