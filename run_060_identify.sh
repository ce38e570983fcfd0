#!/usr/bin/env bash
# 1:N identification and search (README "Identification and search"): closed set, open set, ID rate and search
# protocols (data dirs from local/make_lfw_id_protocols.py or local/make_video_search_protocol.py) scored with one
# back-end over full item score matrices, with and without k-reciprocal and ECN re-ranking.
# Outputs under exp/identify/<face_embed_name>/<be_name>/: <protocol>/scores/*.npz, <protocol>/results.json,
# <protocol>/{cmc,dir_fpir}.png, and results.{md,json}. Every step follows the rerun rule (docs/rerun.md).
set -euo pipefail
. ./cmd.sh
. ./path.sh

stage=1
stop_stage=4
config_file=global_conf/config_embedded.sh
backend=v1
thr_ahc=
self_att_a=
att_a=
protocols="lfw_id_closed lfw_id_open lfw_id_idrate lfw_id_search"
embed_sets=lfw_id_all  # data dirs stage 1 embeds (facedet); SRE19/JANUS sets come from run_002
nj=2
use_gpu=false
frontend_opts=
rerank=true
device=cpu
help_message="Usage: $0 [--config-file global_conf/X.sh] [--backend v1|...|v9] [--protocols \"P ...\"] [--stage N] [--stop-stage M] [options]
Scores the protocols data/<P> of --protocols with one back-end under exp/identify/<face_embed_name>/<be_name>/.
  stage 1: face embeddings of the data dirs of --embed-sets (every face of each photo or video, --nj jobs) with the config's front end.
  stage 2: full score matrices of every protocol with the back-end, computed in blocks (<P>/scores/*.npz).
  stage 3: Rank-k, DIR@FPIR, ID rate or mAP of every protocol, with and without re-ranking, and its CMC or DIR-vs-FPIR plot.
  stage 4: results.{md,json} of the protocols of this run, printed (run_061_make_id_tables.sh gathers every run).
Options: --thr-ahc, --self-att-a, --att-a (default: the config's), --embed-sets, --nj, --use-gpu, --frontend-opts,
--rerank true|false, --device cpu|cuda (scoring)."

. utils/parse_options.sh
no_positional_args "$@"

[ -f "$config_file" ] || { echo "$0: config file '$config_file' not found (set --config-file)" >&2; exit 1; }
be_params=(--backend "$backend" --config-file "$config_file" ${thr_ahc:+--thr-ahc "$thr_ahc"}
           ${self_att_a:+--self-att-a "$self_att_a"} ${att_a:+--att-a "$att_a"})
be_name=$("$HYP_FACE_PYTHON" -m hyp_face.bin.eval_be --print-be-name "${be_params[@]}")
be_line=$("$HYP_FACE_PYTHON" -m hyp_face.bin.eval_be --print-be-options "${be_params[@]}")
read -r -a be_options <<< "$be_line"
# shellcheck disable=SC1090
. "$config_file"
face_embed_name=${face_embed_name:?$config_file does not set face_embed_name}
face_embed_dir=${face_embed_dir:-exp/face_embed/$face_embed_name}
out_dir=exp/identify/$face_embed_name/$be_name
read -r -a protocols <<< "$protocols"
for p in "${protocols[@]}"; do
  [ -f "data/$p/kind" ] || { echo "$0: data/$p is not a protocol dir (no data/$p/kind); make it with local/make_lfw_id_protocols.py" >&2; exit 1; }
done

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  if [ "$use_gpu" = true ]; then cmd=$cuda_eval_cmd; else cmd=$train_cmd; fi
  for s in $embed_sets; do
    steps/extract_face_embed.sh --cmd "$cmd" --nj "$nj" --use-gpu "$use_gpu" --config-file "$config_file" \
      --frontend-opts "$frontend_opts" "data/$s" "$face_embed_dir/facedet/$s"
  done
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  for p in "${protocols[@]}"; do
    for src in $(cat "data/$p"/*/source 2>/dev/null | sort -u); do
      [ -f "$face_embed_dir/facedet/$src/embed.scp" ] || {
        echo "$0: protocol $p draws on data/$src, which has no embeddings in $face_embed_dir/facedet/$src;" \
          "run stage 1 with '$src' in --embed-sets" >&2; exit 1; }
    done
    "$HYP_FACE_PYTHON" -m hyp_face.bin.score_id_protocol "${be_options[@]}" --device "$device" \
      "data/$p" "$face_embed_dir" "$out_dir/$p/scores"
  done
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  for p in "${protocols[@]}"; do
    "$HYP_FACE_PYTHON" -m hyp_face.bin.eval_id_protocol --config "$face_embed_name" --backend-name "$be_name" \
      --rerank "$rerank" "data/$p" "$out_dir/$p/scores" "$out_dir/$p"
  done
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  results=()
  for p in "${protocols[@]}"; do results+=("$out_dir/$p/results.json"); done
  "$HYP_FACE_PYTHON" -m hyp_face.bin.make_id_tables --out-dir "$out_dir" "${results[@]}"
fi
