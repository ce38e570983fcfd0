#!/usr/bin/env bash
# One speaker embedding per file of a data dir (hyp_face.audio: PyAV 16 kHz mono, VAD, the config's speaker
# embedder), split into nj jobs. Writes <out-dir>/embed.JOB.{h5,scp} with their manifests and the merged
# <out-dir>/embed.scp, then a summary: files, with speech, without speech, without an audio stream, unreadable.
# A rerun skips a job only when its manifest (inputs, model, VAD, options, job split, code) matches (docs/rerun.md).
set -euo pipefail

cmd=run.pl
nj=4
config_file=global_conf/speaker/config_ge2e.sh
models_dir=exp/face_models
speech_spans=       # <utt> <start-s> <end-s>: restrict those files to these spans (e.g. enrollment speech)
batch_size=64
num_threads=1
use_gpu=false
max_unreadable=0

help_message="Usage: $0 [options] <data-dir> <out-dir>
  --config-file F: speaker config (speaker_embedder=, speaker_vad=; hyp_face.audio.config).
  --speech-spans F: only the speech inside these spans, for the files listed there (default: <data-dir>/speech_spans
  when it exists, pass --speech-spans none to ignore it).
  --max-unreadable N|P%: unreadable files (missing, undecodable) tolerated before the stage fails (default 0);
  files without an audio stream or without speech are a normal outcome, counted and named.
e.g.: $0 --nj 4 data/sre19_av_v_dev_enroll exp/speaker_embed/spk-ge2e/ref/sre19_av_v_dev_enroll"

. "$(dirname "$0")/../path.sh"
. parse_options.sh
[[ "$max_unreadable" =~ ^[0-9]+$|^[0-9]+(\.[0-9]+)?%$ ]] ||
  { echo "$0: --max-unreadable must be a count or a percentage like 5%, got '$max_unreadable'" >&2; exit 1; }

if [ $# -ne 2 ]; then echo "$help_message" >&2; exit 1; fi
data_dir=$1; out_dir=$2

[ -n "$speech_spans" ] || { [ ! -f "$data_dir/speech_spans" ] || speech_spans=$data_dir/speech_spans; }
[ "$speech_spans" != none ] || speech_spans=
for f in "$data_dir/vid.scp" "$config_file" ${speech_spans:+"$speech_spans"}; do
  [ -f "$f" ] || { echo "$0: no such file $f" >&2; exit 1; }
done
num_files=$(wc -l < "$data_dir/vid.scp")
[ "$num_files" -ge 1 ] || { echo "$0: $data_dir/vid.scp is empty" >&2; exit 1; }
nj=$(( nj < num_files ? nj : num_files ))
mkdir -p "$out_dir/log" && out_dir=$(cd "$out_dir" && pwd)
device=$([ "$use_gpu" = true ] && echo cuda || echo cpu)
gpu_opt=$([ "$use_gpu" = true ] && echo "--gpu 1" || true)

# parts of an earlier run with more jobs, and the merged list, never survive a rerun (docs/rerun.md)
rm -f "$out_dir/embed.scp"
for f in "$out_dir"/embed.*.scp; do
  [ -e "$f" ] || continue
  j=${f##*/embed.}; j=${j%.scp}
  [ "$j" -le "$nj" ] || rm -f "$out_dir/embed.$j".{scp,h5,manifest.json}
done

name=$(basename "$out_dir")
# shellcheck disable=SC2086
$cmd $gpu_opt --num-threads "$num_threads" JOB=1:$nj "$out_dir/log/speaker_embed_$name.JOB.log" \
  $HYP_FACE_PYTHON -m hyp_face.bin.extract_speaker_embed --config-file "$config_file" --models-dir "$models_dir" \
    --vid-scp "$data_dir/vid.scp" ${speech_spans:+--speech-spans "$speech_spans"} --batch-size "$batch_size" \
    --device "$device" --num-threads "$num_threads" --num-parts "$nj" --part-idx JOB \
    --output-prefix "$out_dir/embed.JOB"

parts=()
for j in $(seq "$nj"); do parts+=("$out_dir/embed.$j.scp"); done
$HYP_FACE_PYTHON -m hyp_face.bin.merge_embed_scp --out "$out_dir/embed.scp" "${parts[@]}"
$HYP_FACE_PYTHON -m hyp_face.bin.summarize_speaker_embed --max-unreadable "$max_unreadable" "$out_dir/embed.scp"
