#!/usr/bin/env bash
# Stage 1: SRE19 AV visual dev + eval data dirs; stage 2: JANUS Multimedia core data dirs.
# Corpus roots come from datapath.sh (SRE19_DEV_ROOT, SRE19_EVAL_ROOT, JANUS_ROOT). See docs/data_preparation.md.
set -euo pipefail
stage=1
stop_stage=2
strict=false   # true: a missing or empty video is an error (default: excluded with a warning)
help_message="Usage: $0 [--stage 1] [--stop-stage 2] [--strict false]
Builds the Kaldi-style data dirs under data/ from the LDC corpora whose roots datapath.sh sets, and validates them.
  stage 1: data/sre19_av_v_{dev,eval}_{enroll,test} from the SRE19 AV visual dev and eval sets (needs SRE19_DEV_ROOT, SRE19_EVAL_ROOT).
  stage 2: data/janus_{dev,eval}_enroll and data/janus_{dev,eval}_test_core from the JANUS Multimedia core set (needs JANUS_ROOT)."
[ -f cmd.sh ] && . ./cmd.sh
. ./path.sh
. ./datapath.sh
. utils/parse_options.sh
no_positional_args "$@"

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  require_root SRE19_DEV_ROOT docs/sre19_av_dev_enrollment.tsv
  require_root SRE19_EVAL_ROOT docs/sre19_av_eval_enrollment.tsv
  local/make_sre19av_v_dev.sh --strict "$strict" "$SRE19_DEV_ROOT" data
  local/make_sre19av_v_eval.sh --strict "$strict" "$SRE19_EVAL_ROOT" data
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  require_root JANUS_ROOT docs/janus_multimedia.tsv
  local/make_janus_core.sh --strict "$strict" "$JANUS_ROOT" data
fi
