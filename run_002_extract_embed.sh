#!/usr/bin/env bash
# Face embeddings for every data set (docs/original_recipe.md §3.3), with the front end of --config-file.
set -euo pipefail
. ./cmd.sh
. ./path.sh

stage=1
stop_stage=3
config_file=global_conf/config_embedded.sh
use_gpu=false    # true: jobs run on a GPU through $cuda_eval_cmd (cmd.sh)
max_nj=40        # jobs per set, at most (a set of fewer videos gets one job a video)
janus_enroll_sets="janus_dev_enroll janus_eval_enroll"  # stage 1 sets ('' to skip JANUS)
sre19_enroll_sets="sre19_av_v_dev_enroll sre19_av_v_eval_enroll"  # stage 2 sets
test_sets="sre19_av_v_dev_test sre19_av_v_eval_test janus_dev_test_core janus_eval_test_core"  # stage 3 sets
frontend_opts=   # front-end options overriding the config's, e.g. "--embed-flip=false" (hyp_face.frontend)
max_unreadable=0 # unreadable videos tolerated per set before the stage fails: a count or a percentage, e.g. 5%
track_fps=       # stage 3: sample at this rate and also write face tracks (docs/tracks.md); empty: no tracks
help_message="Usage: $0 [--config-file global_conf/X.sh] [--stage N] [--stop-stage M] [--use-gpu true] [options]
Face embeddings of every data set with the config's front end (python -m hyp_face.frontend --config-file F shows it).
  stage 1: JANUS enrollment references (bbox-guided, windows of 61 frames around annotated frames)
  stage 2: SRE19 enrollment references (bbox-guided, windows of 5 frames around annotated seconds)
  stage 3: unconstrained faces (facedet) of every set, 1 frame per second (--track-fps F: F per second, with tracks)"
. parse_options.sh
no_positional_args "$@"

[ -f "$config_file" ] || { echo "$0: config file $config_file not found" >&2; exit 1; }
. "$config_file"
if [ "$use_gpu" = true ]; then cmd=$cuda_eval_cmd; else cmd=$train_cmd; fi
# Fail now, with the run_000 command to run, if a model of the config is missing (not in every job).
# shellcheck disable=SC2086
$HYP_FACE_PYTHON -m hyp_face.frontend --config-file "$config_file" $frontend_opts

num_jobs() { local n; n=$(wc -l < "data/$1/vid.scp"); echo $(( n < max_nj ? n : max_nj )); }
require_sets() {  # a clear error for a set without a data dir, before any job runs
  local name
  for name in "$@"; do
    [ -f "data/$name/vid.scp" ] || { echo "$0: no data dir data/$name (no vid.scp): run_001 makes it, or leave the" \
      "set out (e.g. --janus-enroll-sets '' --test-sets '...'; see --help)" >&2; exit 1; }
  done
}

extract_refs() {  # <det-window> <time-in-secs> <sets...>
  local window=$1 secs=$2; shift 2
  require_sets "$@"
  for name in "$@"; do
    steps/extract_face_embed.sh --cmd "$cmd" --nj "$(num_jobs "$name")" --use-gpu "$use_gpu" \
      --config-file "$config_file" --frontend-opts "$frontend_opts" --max-unreadable "$max_unreadable" \
      --bbox-file "data/$name/face_boundingbox" --det-window "$window" --time-in-secs "$secs" \
      "data/$name" "$face_embed_dir/ref/$name"
  done
}

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  extract_refs 61 false $janus_enroll_sets
fi

if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  extract_refs 5 true $sre19_enroll_sets
fi

if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  # shellcheck disable=SC2086
  require_sets $janus_enroll_sets $sre19_enroll_sets $test_sets
  for name in $janus_enroll_sets $sre19_enroll_sets $test_sets; do
    steps/extract_face_embed.sh --cmd "$cmd" --nj "$(num_jobs "$name")" --use-gpu "$use_gpu" \
      --config-file "$config_file" --frontend-opts "$frontend_opts" --max-unreadable "$max_unreadable" \
      --track-fps "$track_fps" "data/$name" "$face_embed_dir/facedet/$name"
  done
fi
