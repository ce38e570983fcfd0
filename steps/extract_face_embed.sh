#!/usr/bin/env bash
# Face detection + alignment + embedding for every video of a data dir, split into nj jobs.
#   facedet mode (default): every face of the frames sampled at --fps (with --track-fps F: at F per second,
#   the faces followed into tracks written in the same store, docs/tracks.md);
#   ref mode (--bbox-file): bbox-guided enrollment references around the annotated instants.
# Writes <out-dir>/embed.JOB.{h5,scp} (with per-face metadata), embed.JOB.h5.manifest.json and the merged
# <out-dir>/embed.scp, then prints a summary: videos, faces, videos without a face, unreadable videos.
# A rerun skips a job only when its manifest (inputs, front end, options, job split, code) matches, and
# says which jobs it redoes and why (docs/rerun.md). More than --max-unreadable unreadable videos fail the stage.
set -euo pipefail

cmd=run.pl
nj=4
use_gpu=false
fps=1
track_fps=       # facedet mode: sample at this rate and write face tracks (empty: no tracks)
max_frames=
batch_size=      # frames per detector batch (empty: 4 on the CPU, 16 on CUDA)
bbox_file=
det_window=21
time_in_secs=false
match=iou
match_thr=0.001
config_file=global_conf/config_embedded.sh  # the front end: detector, alignment, recognizer (hyp_face.frontend)
frontend_opts=   # front-end options overriding the config's, e.g. "--det-resize-policy=v0.1 --embed-flip=false"
det_thr_start=
save_debug_images=false
num_threads=1
max_unreadable=0

help_message="Usage: $0 [options] <data-dir> <out-dir>
  The front end comes from --config-file (a global_conf file, read by hyp_face.frontend); --frontend-opts and
  --det-thr-start override its values. python -m hyp_face.frontend --config-file F prints what it resolves to.
  --max-unreadable N|P%: unreadable videos (missing, undecodable, empty, no video stream) tolerated before the
  stage fails (default 0).
e.g.: $0 --nj 8 --config-file global_conf/default_config.sh --bbox-file data/sre19_av_v_dev_enroll/face_boundingbox \\
        --det-window 5 --time-in-secs true data/sre19_av_v_dev_enroll exp/face_embed/x/ref/sre19_av_v_dev_enroll"

. "$(dirname "$0")/../path.sh"
. parse_options.sh
[[ "$max_unreadable" =~ ^[0-9]+$|^[0-9]+(\.[0-9]+)?%$ ]] ||
  { echo "$0: --max-unreadable must be a count or a percentage like 5%, got '$max_unreadable'" >&2; exit 1; }

if [ $# -ne 2 ]; then echo "$help_message" >&2; exit 1; fi
data_dir=$1; out_dir=$2

for f in "$data_dir/vid.scp" "$config_file" ${bbox_file:+"$bbox_file"}; do
  [ -f "$f" ] || { echo "$0: no such file $f" >&2; exit 1; }
done
num_vids=$(wc -l < "$data_dir/vid.scp")
[ "$nj" -le "$num_vids" ] || nj=$num_vids
[ "$nj" -ge 1 ] || { echo "$0: $data_dir/vid.scp is empty" >&2; exit 1; }

mkdir -p "$out_dir/log"
out_dir=$(cd "$out_dir" && pwd)
device=cpu; gpu_opt=
if [ "$use_gpu" = true ]; then device=cuda; gpu_opt="--gpu 1"; fi

args=(--config-file "$config_file" --vid-scp "$data_dir/vid.scp" --fps "$fps" --device "$device"
      ${batch_size:+--batch-size "$batch_size"} --num-threads "$num_threads" --save-debug-images "$save_debug_images")
[ -n "$max_frames" ] && args+=(--max-frames "$max_frames")
[ -n "$track_fps" ] && args+=(--track-fps "$track_fps")
read -r -a extra <<< "$frontend_opts"
args+=("${extra[@]}")
[ -n "$det_thr_start" ] && args+=(--det-thr-start "$det_thr_start")
if [ -n "$bbox_file" ]; then
  args+=(--bbox-file "$bbox_file" --det-window "$det_window" --time-in-secs "$time_in_secs"
         --match "$match" --match-thr "$match_thr")
fi

name=$(basename "$out_dir")
job_args=("${args[@]}" --num-parts "$nj")
$HYP_FACE_PYTHON -m hyp_face.bin.plan_extract_jobs --merged "$out_dir/embed.scp" \
  --logs "$out_dir/log/face_embed_$name.JOB.log" -- "${job_args[@]}" --output-prefix "$out_dir/embed.JOB"
echo "$0: $num_vids videos of $data_dir in $nj job$([ "$nj" -eq 1 ] || echo s); progress in $out_dir/log/face_embed_$name.*.log"
# shellcheck disable=SC2086
$cmd $gpu_opt --num-threads "$num_threads" JOB=1:$nj "$out_dir/log/face_embed_$name.JOB.log" \
  $HYP_FACE_PYTHON -m hyp_face.bin.extract_face_embed "${job_args[@]}" \
    --part-idx JOB --output-prefix "$out_dir/embed.JOB"

parts=()
for j in $(seq "$nj"); do parts+=("$out_dir/embed.$j.scp"); done
$HYP_FACE_PYTHON -m hyp_face.bin.merge_embed_scp --out "$out_dir/embed.scp" "${parts[@]}"
$HYP_FACE_PYTHON -m hyp_face.bin.summarize_extraction --max-unreadable "$max_unreadable" "$out_dir/embed.scp"
