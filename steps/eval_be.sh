#!/usr/bin/env bash
# Scores a trial list with the training-free video back-end v1..v9 (docs/original_recipe.md §6), optionally with adaptive s-norm.
# Writes "<model> <test> <score>" for every trial (trial-file order); the log goes to <out-dir>/log/.
set -euo pipefail

cmd=run.pl
backend=
thr_ahc=     # empty: the version's original value (python -m hyp_face.bin.eval_be --help lists them)
self_att_a=
att_a=
aggregator=        # pool each set into one vector on both sides (hyp_face.backend.aggregate); empty: the version's rules
enroll_aggregator= # the enrollment side only
test_aggregator=   # the test side only
test_sets=video    # video: a test video is one set; tracks: one set per face track, the video scores their max
kspaced=           # keep K evenly spaced faces of each video before pooling (with --aggregator pairs, K=5: Tao et al.)
snorm=none
cohort_utt2spk=
cohort_embed_scp=
ncoh=1000
ncoh_discard=0
full_matrix=false
block_rows=4096
engine=auto
device=cpu
num_threads=

help_message="Usage: $0 [options] --backend v1|...|v9 <trials> <enroll-utt2spk> <ref-embed.scp> \\
         <enroll-facedet-embed.scp> <test-embed.scp> <out-score-file>
  --thr-ahc T, --self-att-a A, --att-a A: the version's parameters (default: its original value, e.g. self_att_a
  2, and 1 for v8; python -m hyp_face.bin.eval_be --help describes every version and option).
  --aggregator SPEC (both sides), --enroll-aggregator SPEC, --test-aggregator SPEC: mean, median, pairs,
  qmean:score|size|sharpness|norm[:gamma] or proxyfusion:MODEL.pt[:W] (W: mean weight of a residual blend), in place
  of the version's side rules.
  --test-sets video|tracks: tracks pools each face track of a test video on its own (stores extracted with
  --track-fps) and scores the video by the maximum over its tracks (default video: the whole video is one set).
  --kspaced K: only K evenly spaced faces of each video (by time) before pooling; K=5 with --aggregator pairs is
  the face score of Tao et al. 2022 (mean cosine over 5 x 5 faces).
  --snorm none|faithful|asnorm needs --cohort-utt2spk F --cohort-embed-scp F [--ncoh 1000 --ncoh-discard 0].
  --device cpu|cuda|cuda:N (default cpu: numpy; cuda: torch float64 on the GPU), --engine auto|numpy|torch,
  --full-matrix false|true, --block-rows 4096, --num-threads N (CPU threads; default \$HYP_FACE_THREADS or 1).
e.g.: $0 --backend v4 --thr-ahc 0.8 data/sre19_av_v_dev_test/trials data/sre19_av_v_dev_enroll/utt2spk \\
        exp/face_embed/x/ref/sre19_av_v_dev_enroll/embed.scp exp/face_embed/x/facedet/sre19_av_v_dev_enroll/embed.scp \\
        exp/face_embed/x/facedet/sre19_av_v_dev_test/embed.scp exp/scores/x/be_v4/cosine/sre19_av_v_dev_scores"

. "$(dirname "$0")/../path.sh"
. parse_options.sh

if [ $# -ne 6 ]; then echo "$help_message" >&2; exit 1; fi
trials=$1; enroll_utt2spk=$2; ref_scp=$3; enroll_scp=$4; test_scp=$5; out=$6

case "$backend" in v[1-9]) ;; *) echo "$0: --backend must be one of v1..v9, got '$backend'" >&2; exit 1 ;; esac
snorm_args=()
case "$snorm" in
  none) ;;
  faithful|asnorm)
    [ -n "$cohort_utt2spk" ] && [ -n "$cohort_embed_scp" ] || {
      echo "$0: --snorm $snorm needs --cohort-utt2spk and --cohort-embed-scp" >&2; exit 1; }
    snorm_args=(--cohort-utt2spk "$cohort_utt2spk" --cohort-embed-scp "$cohort_embed_scp"
                --ncoh "$ncoh" --ncoh-discard "$ncoh_discard") ;;
  *) echo "$0: --snorm must be none, faithful or asnorm, got '$snorm'" >&2; exit 1 ;;
esac
for f in "$trials" "$enroll_utt2spk" "$ref_scp" "$enroll_scp" "$test_scp" ${cohort_utt2spk:+"$cohort_utt2spk"} \
         ${cohort_embed_scp:+"$cohort_embed_scp"}; do
  [ -f "$f" ] || { echo "$0: no such file $f" >&2; exit 1; }
done

out_dir=$(dirname "$out")
log=$out_dir/log/eval_be_$(basename "$out").log
mkdir -p "$out_dir/log"
$cmd "$log" \
  $HYP_FACE_PYTHON -m hyp_face.bin.eval_be --backend "$backend" ${thr_ahc:+--thr-ahc "$thr_ahc"} \
    ${self_att_a:+--self-att-a "$self_att_a"} ${att_a:+--att-a "$att_a"} --snorm "$snorm" "${snorm_args[@]}" \
    ${aggregator:+--aggregator "$aggregator"} ${enroll_aggregator:+--enroll-aggregator "$enroll_aggregator"} \
    ${test_aggregator:+--test-aggregator "$test_aggregator"} ${kspaced:+--kspaced "$kspaced"} \
    --test-sets "$test_sets" \
    --full-matrix "$full_matrix" --block-rows "$block_rows" \
    --engine "$engine" --device "$device" ${num_threads:+--num-threads "$num_threads"} \
    "$trials" "$enroll_utt2spk" "$ref_scp" "$enroll_scp" "$test_scp" "$out"
show_rerun.sh "$log"
# Enrollment models without a reference embedding (no face, or no speech, in the enrollment segment) were scored
# from the whole file, or a zero vector: say so on the console, not only in the log.
fallback=$(grep -c "no reference embedding\|no reference nor facedet embedding" "$log" || true)
if [ "$fallback" -gt 0 ]; then
  echo "$0: $fallback enrollment utterance(s) had no reference embedding and used the whole file or a zero vector," \
    "e.g. $(grep -m 1 -o "[^ ]*: no reference" "$log" | cut -d: -f1); see $log"
fi
