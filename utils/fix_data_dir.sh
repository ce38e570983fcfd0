#!/usr/bin/env bash
# Usage: utils/fix_data_dir.sh <data-dir>
# Kaldi's interface, implemented in hyp_face.bin.fix_data_dir (see --help).
exec "${HYP_FACE_PYTHON:-python3}" -m hyp_face.bin.fix_data_dir "$@"
