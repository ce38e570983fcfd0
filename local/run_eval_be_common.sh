#!/usr/bin/env bash
# Common body of the run_04x_eval_be_vN.sh scripts (docs/original_recipe.md §3.5): one back-end on the recipe's test
# sets (SRE19 AV dev/eval, JANUS dev/eval core), calibrated on SRE19 dev. Run from the recipe root. The stages are in
# $help_message; --device cuda scores on a GPU (torch float64, same numbers) through $cuda_cmd.
# Back-end parameters (thr_ahc, self_att_a, att_a): command line > config file > the version's original value, as
# resolved by hyp_face.backend.versions (python -m hyp_face.bin.eval_be --help: per-version config keys, v8).
set -euo pipefail
. ./cmd.sh
. ./path.sh

stage=1
stop_stage=100
backend=
config_file=global_conf/config_embedded.sh
thr_ahc=
self_att_a=
att_a=
snorm=faithful
coh_data=janus_dev_test_core
sets="sre19_av_v_dev sre19_av_v_eval janus_dev_core janus_eval_core"
cal_set=sre19_av_v_dev
ncoh=1000
ncoh_discard=100
p_target=0.05
l2_reg=1e-5
calibration=        # raw scores' calibration model (default: the config's, else linear)
snorm_calibration=  # s-norm scores' calibration model (default: the config's, else linear)
score_plots=true
device=cpu
help_message="Usage: ${EVAL_BE_RUN_SCRIPT:-$0 --backend v1|...|v9} [options]
Scores the test sets (--sets) with one back-end under exp/scores/<face_embed_name>/<be_name>/:
  stage 4:  raw scores of every set, one parallel job array (-> cosine/), then their results.
  stage 6:  the calibration (--calibration) trained on --cal-set, applied to every set (-> cosine_<cal>/), then results.
  stage 9:  s-norm scores (--snorm faithful|asnorm, cohort --coh-data; --ncoh-discard only where the test set is the
            cohort) (-> cosine_snorm<ncoh>_v1/ or cosine_asnorm<ncoh>/), then results.
  stage 11: the calibration of the s-norm scores (--snorm-calibration) (-> <s-norm dir>_<cal>/), then results.
<cal> is cal_v1_sre19 for the faithful linear model, cal_<model>_sre19 for another (docs/calibration.md).
--config-file: the face config, or a speaker config (e.g. global_conf/speaker/config_ge2e.sh) for the voice side.
--thr-ahc, --self-att-a, --att-a, --calibration, --snorm-calibration: default from --config-file, else the
original's (linear calibration).
--device cuda sends the scoring jobs to \$cuda_cmd."

PO_SCRIPT_NAME=${EVAL_BE_RUN_SCRIPT:-$0} . parse_options.sh
no_positional_args "$@"
case "$backend" in v[1-9]) ;; *) echo "$0: --backend must be one of v1..v9, got '$backend'" >&2; exit 1 ;; esac

[ -f "$config_file" ] || { echo "$0: config file '$config_file' not found (set --config-file)" >&2; exit 1; }
be_params=(--backend "$backend" --config-file "$config_file" ${thr_ahc:+--thr-ahc "$thr_ahc"}
           ${self_att_a:+--self-att-a "$self_att_a"} ${att_a:+--att-a "$att_a"})
be_name=$("$HYP_FACE_PYTHON" -m hyp_face.bin.eval_be --print-be-name "${be_params[@]}")
be_line=$("$HYP_FACE_PYTHON" -m hyp_face.bin.eval_be --print-be-options "${be_params[@]}")
read -r -a be_options <<< "$be_line"  # e.g. --backend v7 --self-att-a 40 --att-a 120
cli_calibration=$calibration cli_snorm_calibration=$snorm_calibration
# shellcheck disable=SC1090
. "$config_file"
. local/cal_names.sh
face_embed_name=${face_embed_name:?$config_file does not set face_embed_name}
face_embed_dir=${face_embed_dir:-exp/face_embed/$face_embed_name}

score_dir=exp/scores/$face_embed_name/$be_name
case "$snorm" in
  faithful) snorm_dir=$score_dir/cosine_snorm${ncoh}_v1 snorm_label=s-norm ;;
  asnorm) snorm_dir=$score_dir/cosine_asnorm$ncoh snorm_label=as-norm ;;
  *) echo "$0: --snorm must be faithful or asnorm, got '$snorm'" >&2; exit 1 ;;
esac

# Test sets and their data dirs: sre19_av_v_<x> -> sre19_av_v_<x>_{enroll,test}; janus_<x>_core ->
# janus_<x>_enroll + janus_<x>_test_core; any other name <s> -> <s>_enroll + <s>_test (e.g. folder corpora).
enroll_dir_of() { case $1 in janus_*_core) echo "${1%_core}_enroll" ;; *) echo "${1}_enroll" ;; esac; }
test_dir_of() { case $1 in janus_*_core) echo "${1%_core}_test_core" ;; *) echo "${1}_test" ;; esac; }
read -r -a sets <<< "$sets"
enroll_dirs=(); test_dirs=()
for s in "${sets[@]}"; do enroll_dirs+=("$(enroll_dir_of "$s")"); test_dirs+=("$(test_dir_of "$s")"); done

require() { for f in "$@"; do [ -f "$f" ] || { echo "$0: no such file $f" >&2; exit 1; }; done; }

write_task() {  # <dir> <set index> [eval_be options...] -> <dir>/tasks/eval_be.<index+1>.args, one arg a line
  local dir=$1 i=$2; shift 2
  local e=${enroll_dirs[$i]} t=${test_dirs[$i]}
  local inputs=("data/$t/trials" "data/$e/utt2spk" "$face_embed_dir/ref/$e/embed.scp"
                "$face_embed_dir/facedet/$e/embed.scp" "$face_embed_dir/facedet/$t/embed.scp")
  require "${inputs[@]}"
  printf '%s\n' "${be_options[@]}" --device "$device" "$@" \
    "${inputs[@]}" "$dir/${sets[$i]}_scores" > "$dir/tasks/eval_be.$((i + 1)).args"
}

eval_sets() {  # <out-dir> [s-norm]: back-end scores of the 4 sets as one parallel job array
  local dir=$1 i extra
  mkdir -p "$dir/tasks" "$dir/log"
  for i in "${!sets[@]}"; do
    extra=()
    if [ "${2:-}" = snorm ]; then
      require "data/$coh_data/utt2spk" "$face_embed_dir/facedet/$coh_data/embed.scp"
      extra=(--snorm "$snorm" --cohort-utt2spk "data/$coh_data/utt2spk"
             --cohort-embed-scp "$face_embed_dir/facedet/$coh_data/embed.scp" --ncoh "$ncoh"
             --ncoh-discard "$([ "${test_dirs[$i]}" = "$coh_data" ] && echo "$ncoh_discard" || echo 0)")
    fi
    write_task "$dir" "$i" "${extra[@]}"
  done
  local job_cmd=$train_cmd
  [ "$device" = cpu ] || job_cmd=$cuda_cmd
  $job_cmd JOB=1:${#sets[@]} "$dir/log/eval_be.JOB.log" \
    "$HYP_FACE_PYTHON" -m hyp_face.bin.eval_be "@$dir/tasks/eval_be.JOB.args"
  show_rerun.sh "$dir"/log/eval_be.*.log
}

score_sets() {  # <dir> <normalisation> <llr true|false>: <set>_results (+ json, plots) for the 4 sets
  local dir=$1 norm=$2 llr=$3 i
  for i in "${!sets[@]}"; do
    steps/score_trials.sh --cmd "$train_cmd" --plots "$score_plots" --llr "$llr" \
      --label "$(printf '%-15s  %-3s  %-11s' "${sets[$i]}" "$backend" "$norm")" "data/${test_dirs[$i]}/trials" \
      "$dir/${sets[$i]}_scores" "$dir/${sets[$i]}"
  done
}

calibrate_sets() {  # <dir> <label> <model> <name>: calibration trained on --cal-set, applied to the sets -> <dir>_<name>
  local dir=$1 norm=$2 model=$3 cal_name=$4 cal_dir=${1}_$4 i
  mkdir -p "$cal_dir"
  steps/train_calibration.sh --cmd "$train_cmd" --model "$model" --p-target "$p_target" --l2-reg "$l2_reg" \
    "data/$(test_dir_of "$cal_set")/trials" "$dir/${cal_set}_scores" "$cal_dir/$cal_name.json"
  for i in "${!sets[@]}"; do
    steps/apply_calibration.sh --cmd "$train_cmd" "$cal_dir/$cal_name.json" "data/${test_dirs[$i]}/trials" \
      "$dir/${sets[$i]}_scores" "$cal_dir/${sets[$i]}_scores"
  done
  score_sets "$cal_dir" "$norm" true
}

echo "$0: back-end $backend ($be_name) -> $score_dir"
if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  eval_sets "$score_dir/cosine"
  score_sets "$score_dir/cosine" raw false
fi

if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  calibrate_sets "$score_dir/cosine" cal "$calibration" "$cal_name"
fi

if [ "$stage" -le 9 ] && [ "$stop_stage" -ge 9 ]; then
  eval_sets "$snorm_dir" snorm
  score_sets "$snorm_dir" "$snorm_label" false
fi

if [ "$stage" -le 11 ] && [ "$stop_stage" -ge 11 ]; then
  calibrate_sets "$snorm_dir" "$snorm_label+cal" "$snorm_calibration" "$snorm_cal_name"
fi
