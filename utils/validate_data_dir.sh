#!/usr/bin/env bash
# Usage: utils/validate_data_dir.sh [--no-check-files] [--no-spk-sort] [--enroll-dir DIR] <data-dir>
# Kaldi's interface, implemented in hyp_face.bin.validate_data_dir (see --help).
exec "${HYP_FACE_PYTHON:-python3}" -m hyp_face.bin.validate_data_dir "$@"
