#!/usr/bin/env bash
# Speaker embeddings for the same data dirs as run_002 (README "Audio-visual"), with the speaker config's embedder
# and VAD, in the same HDF5 store: <face_embed_dir>/ref/<enroll set> and <face_embed_dir>/facedet/<set> of the
# speaker config, so that the back-end scripts (run_04x --config-file <speaker config>) score them unchanged.
set -euo pipefail
. ./cmd.sh
. ./path.sh

stage=1
stop_stage=2
config_file=global_conf/speaker/config_ge2e.sh
models_dir=exp/face_models
use_gpu=false
max_nj=40
enroll_sets="sre19_av_v_dev_enroll sre19_av_v_eval_enroll"
test_sets="sre19_av_v_dev_test sre19_av_v_eval_test"
max_unreadable=0 # unreadable files tolerated per set before the stage fails: a count or a percentage, e.g. 5%
help_message="Usage: $0 [--config-file global_conf/speaker/config_X.sh] [--stage N] [--stop-stage M] [options]
Speaker embeddings (one per file) of every data set with the speaker config (./run_000_get_pretrained_models.sh
--config-file <it> fetches its model first).
  stage 1: enrollment speech of --enroll-sets (-> ref/): restricted to the spans of data/<set>/speech_spans
           (<utt> <start-s> <end-s>) where that file exists, else all the speech found by the VAD
  stage 2: all the speech of every file of --enroll-sets, and of --test-sets (restricted to their speech_spans where
           the data dir has them, e.g. segments of a longer file) (-> facedet/): the test side and the s-norm cohort"
. parse_options.sh
no_positional_args "$@"

[ -f "$config_file" ] || { echo "$0: config file $config_file not found" >&2; exit 1; }
. "$config_file"
face_embed_dir=${face_embed_dir:?$config_file does not set face_embed_dir}
if [ "$use_gpu" = true ]; then cmd=$cuda_eval_cmd; else cmd=$train_cmd; fi

num_jobs() { local n; n=$(wc -l < "data/$1/vid.scp"); echo $(( n < max_nj ? n : max_nj )); }
extract() {  # <ref|facedet> <speech_spans | none | "" (the set's own, if any)> <sets...>
  local kind=$1 spans=$2 name; shift 2
  for name in "$@"; do
    [ -f "data/$name/vid.scp" ] ||
      { echo "$0: no data dir data/$name (no vid.scp); see --enroll-sets, --test-sets" >&2; exit 1; }
    steps/extract_speaker_embed.sh --cmd "$cmd" --nj "$(num_jobs "$name")" --use-gpu "$use_gpu" \
      --config-file "$config_file" --models-dir "$models_dir" --max-unreadable "$max_unreadable" \
      --speech-spans "$spans" "data/$name" "$face_embed_dir/$kind/$name"
  done
}

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  # shellcheck disable=SC2086
  extract ref "" $enroll_sets
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  # shellcheck disable=SC2086
  extract facedet none $enroll_sets
  # shellcheck disable=SC2086
  extract facedet "" $test_sets
fi
