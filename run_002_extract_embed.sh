#!/usr/bin/env bash
# Face embeddings for every data set (spec 3.3):
#   stage 1: JANUS enrollment references (bbox-guided, windows of 61 frames around annotated frames)
#   stage 2: SRE19 enrollment references (bbox-guided, windows of 5 frames around annotated seconds)
#   stage 3: unconstrained faces (facedet) of every set, 1 frame per second
set -euo pipefail
. ./cmd.sh
. ./path.sh

stage=1
stop_stage=3
config_file=global_conf/config_embedded.sh
use_gpu=false
max_nj=40
janus_enroll_sets="janus_dev_enroll janus_eval_enroll"
sre19_enroll_sets="sre19_av_v_dev_enroll sre19_av_v_eval_enroll"
test_sets="sre19_av_v_dev_test sre19_av_v_eval_test janus_dev_test_core janus_eval_test_core"
. parse_options.sh

[ -f "$config_file" ] || { echo "$0: config file $config_file not found" >&2; exit 1; }
. "$config_file"
if [ "$use_gpu" = true ]; then cmd=$cuda_eval_cmd; else cmd=$train_cmd; fi

# Detector and recognizer conf files for steps/extract_face_embed.sh, from the global config.
conf_dir=$face_embed_dir/conf
mkdir -p "$conf_dir"
{ echo "--detector=$face_det_model_name"; echo "--det-weights=$face_det_model"
  for o in $face_det_opts; do echo "$o"; done; } > "$conf_dir/det.conf"
{ echo "--embedder=$face_reco_model_name"; echo "--embed-weights=$face_reco_model"
  for o in $face_reco_opts; do echo "$o"; done; } > "$conf_dir/embed.conf"

num_jobs() { local n; n=$(wc -l < "data/$1/vid.scp"); echo $(( n < max_nj ? n : max_nj )); }

extract_refs() {  # <det-window> <time-in-secs> <sets...>
  local window=$1 secs=$2; shift 2
  for name in "$@"; do
    steps/extract_face_embed.sh --cmd "$cmd" --nj "$(num_jobs "$name")" --use-gpu "$use_gpu" \
      --bbox-file "data/$name/face_boundingbox" --det-window "$window" --time-in-secs "$secs" \
      "data/$name" "$conf_dir/det.conf" "$conf_dir/embed.conf" "$face_embed_dir/ref/$name"
  done
}

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  extract_refs 61 false $janus_enroll_sets
fi

if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  extract_refs 5 true $sre19_enroll_sets
fi

if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  for name in $janus_enroll_sets $sre19_enroll_sets $test_sets; do
    steps/extract_face_embed.sh --cmd "$cmd" --nj "$(num_jobs "$name")" --use-gpu "$use_gpu" \
      "data/$name" "$conf_dir/det.conf" "$conf_dir/embed.conf" "$face_embed_dir/facedet/$name"
  done
fi
