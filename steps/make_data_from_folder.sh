#!/usr/bin/env bash
# Prepares <data-dir-prefix>_enroll and <data-dir-prefix>_test from a corpus in folders:
#   <corpus-dir>/enroll/<model>/<videos or photos>  (+ optional <file>.box face boxes)
#   <corpus-dir>/test/<videos or photos>             (test id = relative path without extension)
#   <trials>: <model> <test id> [target|nontarget]   (see docs/data_preparation.md)
set -euo pipefail
strict=false   # true: an empty media file is an error (default: excluded with a warning)
help_message="Usage: $0 [options] <corpus-dir> <trials> <data-dir-prefix>   (e.g. $0 ~/faces ~/faces/trials data/faces)
Writes the data dirs <data-dir-prefix>_enroll and <data-dir-prefix>_test (docs/data_preparation.md) from:
  <corpus-dir>/enroll/<model>/<videos or photos>  (+ optional <file>.box face boxes)
  <corpus-dir>/test/<videos or photos>             (test id = relative path without extension)
  <trials>: <model> <test id> [target|nontarget] per line"
. "$(dirname "$0")/../path.sh"
. "$HYP_FACE_ROOT/utils/parse_options.sh"
[ $# -eq 3 ] || { echo "$help_message" >&2; exit 1; }

$HYP_FACE_PYTHON -m hyp_face.bin.prepare_folder_corpus --strict "$strict" "$1" "$2" "$3"
