#!/usr/bin/env bash
# Face detection + alignment + embedding for every video of a data dir, split into nj jobs.
#   facedet mode (default): every face of the frames sampled at --fps;
#   ref mode (--bbox-file): bbox-guided enrollment references around the annotated instants.
# Writes <out-dir>/embed.JOB.{h5,scp} (with per-face metadata) and the merged <out-dir>/embed.scp.
# A job whose outputs exist is skipped, so a rerun resumes.
set -euo pipefail

cmd=run.pl
nj=4
use_gpu=false
fps=1
max_frames=
batch_size=16
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

help_message="Usage: $0 [options] <data-dir> <out-dir>
  The front end comes from --config-file (a global_conf file, read by hyp_face.frontend); --frontend-opts and
  --det-thr-start override its values. python -m hyp_face.frontend --config-file F prints what it resolves to.
e.g.: $0 --nj 8 --config-file global_conf/default_config.sh --bbox-file data/sre19_av_v_dev_enroll/face_boundingbox \\
        --det-window 5 --time-in-secs true data/sre19_av_v_dev_enroll exp/face_embed/x/ref/sre19_av_v_dev_enroll"

. "$(dirname "$0")/../path.sh"
. parse_options.sh

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

args=(--config-file "$config_file" --vid-scp "$data_dir/vid.scp" --fps "$fps" --batch-size "$batch_size" --device "$device"
      --num-threads "$num_threads" --save-debug-images "$save_debug_images")
[ -n "$max_frames" ] && args+=(--max-frames "$max_frames")
read -r -a extra <<< "$frontend_opts"
args+=("${extra[@]}")
[ -n "$det_thr_start" ] && args+=(--det-thr-start "$det_thr_start")
if [ -n "$bbox_file" ]; then
  args+=(--bbox-file "$bbox_file" --det-window "$det_window" --time-in-secs "$time_in_secs"
         --match "$match" --match-thr "$match_thr")
fi

name=$(basename "$out_dir")
# shellcheck disable=SC2086
$cmd $gpu_opt --num-threads "$num_threads" JOB=1:$nj "$out_dir/log/face_embed_$name.JOB.log" \
  $HYP_FACE_PYTHON -m hyp_face.bin.extract_face_embed "${args[@]}" \
    --part-idx JOB --num-parts $nj --output-prefix "$out_dir/embed.JOB"

parts=()
for j in $(seq "$nj"); do parts+=("$out_dir/embed.$j.scp"); done
$HYP_FACE_PYTHON -m hyp_face.bin.merge_embed_scp --out "$out_dir/embed.scp" "${parts[@]}"
echo "$0: $(wc -l < "$out_dir/embed.scp") videos embedded in $out_dir/embed.scp"
