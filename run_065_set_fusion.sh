#!/usr/bin/env bash
# Set aggregation (README "Set aggregation"): fixed aggregators (mean, median, mean-of-pairs, quality-weighted mean)
# and a trained ProxyFusion on the LFW template protocol (clean and degraded templates), chosen on dev and reported
# on test through eval_be (--aggregator), with paired-bootstrap intervals of the difference from mean pooling.
# Outputs under <out-dir> (default exp/set_fusion/<face_embed_name>): faces/, data/, models/, scores/, and
# results.{md,json} (the test table) beside per-split reports in reports/.
set -euo pipefail
. ./cmd.sh
. ./path.sh

stage=0
stop_stage=6
config_file=global_conf/config_embedded.sh
models_dir=          # model folder of the config (default: the config's)
lfw_dir=             # flat folder of LFW <Name>_<NNNN>.jpg photos (stage 0)
out_dir=
num_draws=20
max_size=3
qualities="score size sharpness norm"
gammas="1 3"
pf_grid="16:4 8:2 32:8"   # ProxyFusion num_proxies:k pairs trained; the best on dev is reported
pf_mean_weight=0.9        # stages 5-6 also score the chosen model blended with the set mean at this weight
                          # (proxyfusion:MODEL.pt:W; chosen on dev, README "Set aggregation"); 0: no blend
pf_opts=                  # more options of steps/train_set_fusion.sh, e.g. "--max-epochs 40"
reps=1000
sre_sets="sre19_av_v_dev sre19_av_v_eval"  # stage 6: SRE19-layout sets scored through the normal back-end path
sre_aggregators=     # stage 6 aggregators (default: mean median pairs and the two chosen on dev)
sre_test_sets=video  # stage 6 test sets: whole videos, or each face track of a video (tracks: needs a store
                     # extracted with --track-fps; the video scores the max over its tracks)
data_root=data       # where the SRE19-layout data dirs <set>_enroll, <set>_test are
face_embed_dir=      # their embeddings (default: the config's face_embed_dir)
help_message="Usage: $0 --lfw-dir DIR [--config-file global_conf/X.sh] [--stage N] [--stop-stage M] [options]
Trains and compares set aggregators on the LFW template protocol, chooses on dev, reports on test.
  stage 0: embed every photo of the protocol's identities, clean and degraded (local/make_set_protocol_faces.py).
  stage 1: template draws of the dev and test splits, clean and degraded, as data dirs (local/make_set_protocol.py).
  stage 2: ProxyFusion models of --pf-grid trained on the train split (degraded augmentation), dev early stopping.
  stage 3: degraded dev scores of every aggregator (steps/eval_be.sh --backend v1 --aggregator).
  stage 4: dev report; the quality-weighted mean and ProxyFusion settings with the best degraded dev TAR are chosen.
  stage 5: clean dev and test scores of mean, median, pairs, the two chosen and the chosen ProxyFusion blended with the
           mean (--pf-mean-weight), reports with paired-bootstrap 95% intervals against mean pooling, and results.md.
  stage 6: the --sre-sets (<data-root>/<set>_{enroll,test}) scored with each aggregator by eval_be (v1), raw EER and
           min Cprimary by steps/score_trials.sh, gathered in sre_results.md (--sre-test-sets tracks: each face track of a
           test video pooled on its own, the video scored by its best track; results in sre_tracks/).
Options: --models-dir, --out-dir, --num-draws 20, --max-size 3, --qualities, --gammas, --pf-grid, --pf-mean-weight 0.9,
--pf-opts, --reps, --sre-sets, --sre-aggregators, --sre-test-sets video|tracks, --data-root, --face-embed-dir."

. utils/parse_options.sh
no_positional_args "$@"
[ -f "$config_file" ] || { echo "$0: config file '$config_file' not found (set --config-file)" >&2; exit 1; }
given_face_embed_dir=$face_embed_dir  # the config sets its own; the command line wins
# shellcheck disable=SC1090
. "$config_file"
face_embed_name=${face_embed_name:?$config_file does not set face_embed_name}
face_embed_dir=${given_face_embed_dir:-${face_embed_dir:-exp/face_embed/$face_embed_name}}
out_dir=${out_dir:-exp/set_fusion/$face_embed_name}
data=$out_dir/data_d${num_draws}_s${max_size}
py=$HYP_FACE_PYTHON

fixed_methods="mean median pairs"
quality_methods=
for q in $qualities; do for g in $gammas; do quality_methods+=" qmean:$q:$g"; done; done
pf_methods=
for p in $pf_grid; do pf_methods+=" proxyfusion:$out_dir/models/pf_${p%%:*}_${p##*:}.pt"; done
name_of() {  # report name of a spec: pf_32_8, pf_32_8_mean0.9, qmean-size-3
  local spec=$1 model
  case $spec in
    proxyfusion:*.pt) basename "${spec#proxyfusion:}" .pt ;;
    proxyfusion:*) model=${spec#proxyfusion:}; echo "$(basename "${model%:*}" .pt)_mean${spec##*:}" ;;
    *) echo "${spec//:/-}" ;;
  esac
}
blend_of() {  # the chosen ProxyFusion spec blended with the mean at --pf-mean-weight, nothing when 0
  [[ $pf_mean_weight =~ ^0*\.?0*$ ]] || echo "proxyfusion:$out_dir/models/$1.pt:$pf_mean_weight"
}

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  [ -d "$lfw_dir" ] || { echo "$0: --lfw-dir '$lfw_dir' is not a folder" >&2; exit 1; }
  $py local/make_set_protocol_faces.py --lfw-dir "$lfw_dir" --out-dir "$out_dir/faces" \
    --config-file "$config_file" ${models_dir:+--models-dir "$models_dir"}
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  $py local/make_set_protocol.py --faces-dir "$out_dir/faces" --out-dir "$data" --num-draws "$num_draws" \
    --max-size "$max_size"
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  for p in $pf_grid; do
    # shellcheck disable=SC2086
    steps/train_set_fusion.sh --cmd "$train_cmd" --config-file "$config_file" \
      --augment-embed-scp "$out_dir/faces/degraded.scp" --dev-embed-scp "$out_dir/faces/clean.scp" \
      --dev-utt2spk "$data/dev_faces.utt2spk" --dev-augment-embed-scp "$out_dir/faces/degraded.scp" \
      --num-proxies "${p%%:*}" --k "${p##*:}" $pf_opts \
      "$out_dir/faces/clean.scp" "$data/train_faces.utt2spk" "$out_dir/models/pf_${p%%:*}_${p##*:}.pt"
  done
fi

score() {  # score <set> <aggregator spec>: $out_dir/scores/<set>/<name>
  local set=$1 spec=$2
  steps/eval_be.sh --cmd "$train_cmd" --backend v1 --aggregator "$spec" "$data/$set/trials" \
    "$data/$set/utt2spk" "$data/$set/embed.scp" "$data/$set/embed.scp" "$data/$set/embed.scp" \
    "$out_dir/scores/$set/$(name_of "$spec")"
}

report() {  # report <set> <method names...>: $out_dir/reports/<set>.{md,json}
  local set=$1; shift
  local args=()
  for m in "$@"; do args+=("$m=$out_dir/scores/$set/$m"); done
  mkdir -p "$out_dir/reports"
  $py -m hyp_face.bin.eval_set_protocol --data-dir "$data/$set" --baseline mean --reps "$reps" \
    --out "$out_dir/reports/$set" "${args[@]}" > /dev/null
}

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  for spec in $fixed_methods $quality_methods $pf_methods; do score dev_degraded "$spec"; done
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  names=()
  for spec in $fixed_methods $quality_methods $pf_methods; do names+=("$(name_of "$spec")"); done
  report dev_degraded "${names[@]}"
  best_qmean=$($py -m hyp_face.bin.eval_set_protocol --print-best "$out_dir/reports/dev_degraded.json" qmean)
  best_pf=$($py -m hyp_face.bin.eval_set_protocol --print-best "$out_dir/reports/dev_degraded.json" pf_)
  printf 'qmean %s\nproxyfusion %s\n' "$best_qmean" "$best_pf" > "$out_dir/chosen_on_dev"
  echo "chosen on dev (degraded, TAR@1e-2 + TAR@1e-3): $best_qmean, $best_pf"
fi

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  read -r _ best_qmean < <(grep '^qmean ' "$out_dir/chosen_on_dev")
  read -r _ best_pf < <(grep '^proxyfusion ' "$out_dir/chosen_on_dev")
  for set in dev_clean test_clean test_degraded; do
    for spec in $fixed_methods "${best_qmean//-/:}" "proxyfusion:$out_dir/models/$best_pf.pt" $(blend_of "$best_pf"); do
      score "$set" "$spec"
    done
  done
  blend=$(blend_of "$best_pf")
  for set in test_clean test_degraded dev_clean; do
    report "$set" mean median pairs "$best_qmean" "$best_pf" ${blend:+"$(name_of "$blend")"}
  done
  {
    echo "# Set aggregation, $face_embed_name (LFW templates, $num_draws draws, <= $max_size images each)"
    echo
    echo "Chosen on dev: $best_qmean, $best_pf. Cells: value (difference from mean [95% paired-bootstrap interval])."
    for set in test_clean test_degraded; do echo; echo "## $set"; echo; cat "$out_dir/reports/$set.md"; done
  } > "$out_dir/results.md"
  cat "$out_dir/results.md"
fi

if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  read -r _ best_qmean < <(grep '^qmean ' "$out_dir/chosen_on_dev")
  read -r _ best_pf < <(grep '^proxyfusion ' "$out_dir/chosen_on_dev")
  aggs=${sre_aggregators:-"mean median pairs ${best_qmean//-/:} proxyfusion:$out_dir/models/$best_pf.pt $(blend_of "$best_pf")"}
  case $sre_test_sets in
    video) sre_dir=sre ;;
    tracks) sre_dir=sre_tracks ;;
    *) echo "$0: --sre-test-sets must be video or tracks, not $sre_test_sets" >&2; exit 1 ;;
  esac
  lines=("| set | aggregator | EER % | min Cp |" "|---|---|---|---|")
  for s in $sre_sets; do
    e=$data_root/${s}_enroll t=$data_root/${s}_test
    for spec in $aggs; do
      dir=$out_dir/$sre_dir/$(name_of "$spec")
      steps/eval_be.sh --cmd "$train_cmd" --backend v1 --aggregator "$spec" --test-sets "$sre_test_sets" \
        "$t/trials" "$e/utt2spk" \
        "$face_embed_dir/ref/${s}_enroll/embed.scp" "$face_embed_dir/facedet/${s}_enroll/embed.scp" \
        "$face_embed_dir/facedet/${s}_test/embed.scp" "$dir/${s}_scores"
      steps/score_trials.sh --cmd "$train_cmd" --plots false --label "$s $(name_of "$spec")" "$t/trials" \
        "$dir/${s}_scores" "$dir/$s"
      read -r _ eer _ min_cp _ < "$dir/${s}_results"  # "EER: x DCF5e-2: min / act ..."
      lines+=("| $s | $(name_of "$spec") | $eer | $min_cp |")
    done
  done
  printf '%s\n' "${lines[@]}" > "$out_dir/${sre_dir}_results.md"
  cat "$out_dir/${sre_dir}_results.md"
fi
