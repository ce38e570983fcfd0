#!/usr/bin/env bash
# Who appears when (README "Who appears when"): face tracks, people and gallery identities of every video of a
# data dir, with timeline.json, RTTM, WebVTT, contact sheets and (--video true) annotated MP4s per video, under
# exp/recognize/<face_embed_name>/<set>/<key>/. Every step follows the rerun rule (docs/rerun.md).
set -euo pipefail
. ./cmd.sh
. ./path.sh

stage=1
stop_stage=1
config_file=global_conf/config_embedded.sh
sets=
gallery=
nj=2
use_gpu=false
track_fps=5
unknown_thr=
per_face=false
video=false      # also write the annotated MP4 of each video
contact_sheets=true
num_threads=1    # torch threads per job
max_unreadable=0 # videos that cannot be read, tolerated per set before the stage fails: a count or a percentage
frontend_opts=
help_message="Usage: $0 --sets \"SET ...\" --gallery DIR [--config-file global_conf/X.sh] [--stage N] [--stop-stage M] [options]
Recognises who appears when in the videos of data/<SET> (vid.scp) against a gallery (folder <name>/<photos or
clips>, or a data dir), through the launcher of cmd.sh.
  stage 1: gallery enrolment (once), then tracks, people, identities and outputs of every video (--nj jobs).
Options: --nj, --use-gpu, --track-fps (default 5), --unknown-thr (default: the config's threshold of its scoring rule),
--per-face true|false, --video true|false (annotated MP4), --contact-sheets true|false, --num-threads N,
--max-unreadable N|P% (default 0), --frontend-opts."

. utils/parse_options.sh
no_positional_args "$@"
[ -n "$sets" ] || { printf '%s\n' "$help_message" >&2; echo "$0: give --sets" >&2; exit 1; }
[ -n "$gallery" ] || { printf '%s\n' "$help_message" >&2; echo "$0: give --gallery" >&2; exit 1; }
[ -f "$config_file" ] || { echo "$0: config file '$config_file' not found (set --config-file)" >&2; exit 1; }
# shellcheck disable=SC1090
. "$config_file"
face_embed_name=${face_embed_name:?$config_file does not set face_embed_name}

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  if [ "$use_gpu" = true ]; then cmd=$cuda_eval_cmd; else cmd=$train_cmd; fi
  for s in $sets; do
    steps/recognize_video.sh --cmd "$cmd" --nj "$nj" --use-gpu "$use_gpu" --config-file "$config_file" \
      --frontend-opts "$frontend_opts" --track-fps "$track_fps" --unknown-thr "$unknown_thr" \
      --per-face "$per_face" --video "$video" --contact-sheets "$contact_sheets" --num-threads "$num_threads" \
      --max-unreadable "$max_unreadable" \
      "data/$s" "$gallery" "exp/recognize/$face_embed_name/$s"
  done
fi
