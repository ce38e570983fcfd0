#!/usr/bin/env bash
# Who appears when, for every video of a data dir, split into nj jobs (hyp_face.bin.recognize_video): face tracks,
# people, gallery identities (unknown below the config's threshold: recognize_snorm_unknown_thr on s-norm scores
# when its cohort store exists, else recognize_unknown_thr on cosines), and per video
# <out-dir>/<key>/{timeline.json,<key>.rttm,<key>.vtt,contact/*.png[,<key>.annotated.mp4]}.
# The gallery is enrolled once, before the jobs, into <out-dir>/gallery (unchanged items are reused). A rerun
# skips each video whose input, gallery, options, models and code are unchanged, and says why it redoes the others
# (docs/rerun.md). A bad video is a logged status in its timeline.json, never a failed job; the stage ends with a
# summary and fails when more than --max-unreadable videos could not be read.
set -euo pipefail

cmd=run.pl
nj=4
use_gpu=false
config_file=global_conf/config_embedded.sh  # the front end and the recognize_* keys (hyp_face.frontend)
frontend_opts=   # front-end options overriding the config's, e.g. "--embed-flip=false"
track_fps=5
unknown_thr=     # default: the config's threshold of its scoring rule
per_face=false
video=false      # also write the annotated MP4
contact_sheets=true
num_threads=1
max_unreadable=0 # unreadable videos tolerated before the stage fails: a count or a percentage, e.g. 5%

help_message="Usage: $0 [options] <data-dir> <gallery> <out-dir>
  <gallery>: a folder <name>/<photos or clips>, or a data dir (vid.scp, utt2spk = the name).
  Options: --cmd, --nj, --use-gpu, --config-file, --frontend-opts, --track-fps, --unknown-thr, --per-face,
  --video true|false (annotated MP4), --contact-sheets, --num-threads,
  --max-unreadable N|P% (videos that cannot be read before the stage fails; default 0).
e.g.: $0 --nj 2 --video true data/my_videos data/my_gallery exp/recognize/my_videos"

. "$(dirname "$0")/../path.sh"
. parse_options.sh
[[ "$max_unreadable" =~ ^[0-9]+$|^[0-9]+(\.[0-9]+)?%$ ]] ||
  { echo "$0: --max-unreadable must be a count or a percentage like 5%, got '$max_unreadable'" >&2; exit 1; }

if [ $# -ne 3 ]; then echo "$help_message" >&2; exit 1; fi
data_dir=$1; gallery=$2; out_dir=$3

for f in "$data_dir/vid.scp" "$config_file"; do
  [ -f "$f" ] || { echo "$0: no such file $f" >&2; exit 1; }
done
[ -e "$gallery" ] || { echo "$0: no such gallery $gallery" >&2; exit 1; }
num_vids=$(wc -l < "$data_dir/vid.scp")
[ "$nj" -le "$num_vids" ] || nj=$num_vids
[ "$nj" -ge 1 ] || { echo "$0: $data_dir/vid.scp is empty" >&2; exit 1; }

mkdir -p "$out_dir/log"
out_dir=$(cd "$out_dir" && pwd)
device=cpu; gpu_opt=
if [ "$use_gpu" = true ]; then device=cuda; gpu_opt="--gpu 1"; fi

args=(--config-file "$config_file" --gallery "$gallery" --out-dir "$out_dir" --track-fps "$track_fps"
      --per-face "$per_face" --video "$video" --contact-sheets "$contact_sheets" --device "$device"
      --num-threads "$num_threads")
[ -n "$unknown_thr" ] && args+=(--unknown-thr "$unknown_thr")
read -r -a extra <<< "$frontend_opts"
args+=("${extra[@]}")

name=$(basename "$out_dir")
$HYP_FACE_PYTHON -m hyp_face.bin.recognize_video "${args[@]}" --enroll-only
echo "$0: $num_vids videos of $data_dir in $nj job$([ "$nj" -eq 1 ] || echo s); progress in $out_dir/log/recognize_$name.*.log"
# shellcheck disable=SC2086
$cmd $gpu_opt --num-threads "$num_threads" JOB=1:$nj "$out_dir/log/recognize_$name.JOB.log" \
  $HYP_FACE_PYTHON -m hyp_face.bin.recognize_video "${args[@]}" --scp "$data_dir/vid.scp" \
    --num-parts "$nj" --part-idx JOB --max-unreadable 100%

# One line per video (key: status, tracks, people, names), from the jobs' logs.
for j in $(seq "$nj"); do
  grep -E '^[^ ]+: (ok|video error|failed|unchanged|no face)' "$out_dir/log/recognize_$name.$j.log" || true
done
$HYP_FACE_PYTHON -m hyp_face.bin.summarize_recognition --max-unreadable "$max_unreadable" "$data_dir/vid.scp" "$out_dir"
