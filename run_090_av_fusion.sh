#!/usr/bin/env bash
# Audio-visual score fusion (README "Audio-visual"): calibrated face LLRs + calibrated speaker LLRs of the same
# trials, fused (1) by the equal-weight mean and (2) by the greedy logistic fusion trained on --cal-set; results of
# each modality alone and of both fusions, and a table beside the single-modality ones.
set -euo pipefail
. ./cmd.sh
. ./path.sh

stage=1
stop_stage=3
face_score_dir=     # calibrated face scores, <set>_scores per set, e.g. exp/scores/<face>/<be>/cosine_snorm1000_v1_cal_v1_sre19
speaker_score_dir=  # calibrated speaker scores, the same layout: ours (run_04x --config-file <speaker config>) or external
calibrate_speaker=false  # true: --speaker-score-dir holds raw scores (e.g. external cosines): calibrate them on --cal-set
sets="sre19_av_v_dev sre19_av_v_eval"
cal_set=sre19_av_v_dev
missing=error       # a trial scored by one modality only: error | single (that modality alone) | neutral (LLR 0)
fusion_name=        # default: av_<face embedder>_<be dir>_<scores dir>+<the speaker's>, unique per pair of score dirs
out_root=exp/scores/av_fusion
p_target=0.05
l2_reg=1e-5
score_plots=true
help_message="Usage: $0 --face-score-dir DIR --speaker-score-dir DIR [options]
Fuses the calibrated face and speaker scores of --sets (files <set>_scores, 3 columns <model> <test> <llr>) into
<out-root>/<fusion-name>/{face,speaker,mean,greedy}/, trials from data/<set>_test/trials.
  stage 1: (with --calibrate-speaker true) linear calibration of the speaker scores, trained on --cal-set
  stage 2: the trials of each set from both modalities (--missing policy), their equal-weight mean, then the greedy
           logistic fusion trained on --cal-set and applied to every set; results of all four
  stage 3: <out-root>/results.{md,csv,json}: one row per fusion dir and kind (face, speaker, mean, greedy)
e.g.: $0 --face-score-dir exp/scores/mnet025-dlib128/be_v4_thrahc0.95/cosine_snorm1000_v1_cal_v1_sre19 \\
        --speaker-score-dir exp/scores/spk-ge2e/be_v2/cosine_snorm1000_v1_cal_v1_sre19"
. parse_options.sh

no_positional_args "$@"
if [ -z "$face_score_dir" ] || [ -z "$speaker_score_dir" ]; then echo "$help_message" >&2; exit 1; fi
case "$missing" in error|single|neutral) ;; *) echo "$0: --missing must be error, single or neutral" >&2; exit 1 ;; esac
read -r -a sets <<< "$sets"
trials_of() { echo "data/${1}_test/trials"; }
require() { for f in "$@"; do [ -f "$f" ] || { echo "$0: no such file $f" >&2; exit 1; }; done; }
for s in "${sets[@]}" "$cal_set"; do require "$(trials_of "$s")" "$face_score_dir/${s}_scores" "$speaker_score_dir/${s}_scores"; done

tag() {  # <embedder>_<back-end>_<scoring> of exp/scores/<embedder>/<back-end>/<scoring>
  local d be; d=$(cd "$1" && pwd); be=$(dirname "$d")
  echo "$(basename "$(dirname "$be")")_$(basename "$be")_$(basename "$d")"
}
fusion_name=${fusion_name:-av_$(tag "$face_score_dir")+$(tag "$speaker_score_dir")}
dir=$out_root/$fusion_name
mkdir -p "$dir"
echo "$0: face $face_score_dir + speaker $speaker_score_dir -> $dir (--missing $missing)"

spk_dir=$speaker_score_dir
if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ] && [ "$calibrate_speaker" = true ]; then
  spk_dir=$dir/speaker_cal
  mkdir -p "$spk_dir"
  steps/train_calibration.sh --cmd "$train_cmd" --model linear --p-target "$p_target" --l2-reg "$l2_reg" \
    "$(trials_of "$cal_set")" "$speaker_score_dir/${cal_set}_scores" "$spk_dir/cal_speaker.json"
  for s in "${sets[@]}"; do
    steps/apply_calibration.sh --cmd "$train_cmd" "$spk_dir/cal_speaker.json" "$(trials_of "$s")" \
      "$speaker_score_dir/${s}_scores" "$spk_dir/${s}_scores"
  done
elif [ "$calibrate_speaker" = true ]; then
  spk_dir=$dir/speaker_cal
fi

score_kind() {  # <kind>: results of <dir>/<kind>/<set>_scores for every set
  local kind=$1 s
  for s in "${sets[@]}"; do
    steps/score_trials.sh --cmd "$train_cmd" --plots "$score_plots" --llr true \
      --label "$(printf '%-15s  %-7s' "$s" "$kind")" "$(trials_of "$s")" "$dir/$kind/${s}_scores" "$dir/$kind/$s"
  done
}

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  mkdir -p "$dir/log"
  for s in "${sets[@]}"; do
    $train_cmd "$dir/log/fuse_modalities_$s.log" \
      "$HYP_FACE_PYTHON" -m hyp_face.bin.fuse_modalities --missing "$missing" "$(trials_of "$s")" \
        "$dir/mean/${s}_scores" "$face_score_dir/${s}_scores" "$spk_dir/${s}_scores" \
        --completed "$dir/face/${s}_scores" "$dir/speaker/${s}_scores"
  done
  steps/train_fusion.sh --cmd "$train_cmd" --max-systems 2 --p-target "$p_target" --l2-reg "$l2_reg" \
    "$(trials_of "$cal_set")" "$dir/greedy/fusion.json" "$dir/face/${cal_set}_scores" "$dir/speaker/${cal_set}_scores"
  for s in "${sets[@]}"; do
    steps/apply_fusion.sh --cmd "$train_cmd" "$dir/greedy/fusion.json" "$(trials_of "$s")" "$dir/greedy/${s}_scores" \
      "$dir/face/${s}_scores" "$dir/speaker/${s}_scores"
  done
  for kind in face speaker mean greedy; do score_kind "$kind"; done
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  # shellcheck disable=SC2086
  "$HYP_FACE_PYTHON" -m hyp_face.bin.make_res_tables --sets ${sets[*]} --pattern '*' \
    --subdirs face:face speaker:speaker mean:mean greedy:greedy -- "$out_root"
fi
