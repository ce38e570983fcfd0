#!/usr/bin/env bash
# Offline end-to-end demo of the whole recipe on a small corpus it builds itself (no download, no LDC data):
# local/make_demo_corpus.py renders moving and zooming faces from public-domain photos shipped by matplotlib and
# scikit-image, with distractor faces. The s-norm cohort is the faces of the eval test videos (the recipe's JANUS
# cohort is absent here). Stages and options: ./run_demo.sh --help.
set -euo pipefail

stage=1
stop_stage=6
demo_dir=demo
config_file=global_conf/config_embedded.sh
backends="v1 v4 v6"
nj=2
ncoh=20
help_message="Usage: $0 [--stage 1] [--stop-stage 6] [--demo-dir demo] [--config-file $config_file] \\
    [--backends \"$backends\"] [--nj $nj] [--ncoh $ncoh]
  Runs the whole recipe offline on a corpus of two identities that it builds itself. It checks that every stage
  works end to end, not accuracy: for numbers that mean something, see \"Numbers that mean something\" in README.md.
  stage 1: builds the demo corpus in the SRE19-AV LDC layout under <demo-dir>/corpus (skipped when it exists).
  stage 2: run_000 copies the config's models out of installed packages and checks them.
  stage 3: run_001 writes the SRE19 dev and eval data dirs of the demo corpus.
  stage 4: run_002 embeds the enrollment reference faces and every face of the test videos, 1 frame per second.
  stage 5: scores each back-end raw and s-normalised, calibrated on dev, one console line per set and variant.
  stage 6: run_050 prints the results table of all back-ends."
. ./path.sh
. parse_options.sh
no_positional_args "$@"

sets="sre19_av_v_dev sre19_av_v_eval"
corpus=$demo_dir/corpus
export SRE19_DEV_ROOT=$PWD/$corpus/sre19_av_dev SRE19_EVAL_ROOT=$PWD/$corpus/sre19_av_eval
start=$(date +%s)
pipeline_note="$0: the demo corpus has two identities, one photo each, and 16 trials per set. It checks that
the pipeline runs, not accuracy: its EERs say nothing about the models. For numbers that mean something, run the
same recipe on the LFW-composed corpus (README.md, section \"Numbers that mean something\")."
echo "$pipeline_note"

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  if [ -f "$corpus/.done" ]; then
    echo "$0: $corpus exists, skipping (rm -r $corpus to rebuild)"
  else
    $HYP_FACE_PYTHON local/make_demo_corpus.py --out-dir "$corpus"
    touch "$corpus/.done"
  fi
fi

if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  ./run_000_get_pretrained_models.sh --config-file "$config_file"
fi

if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  ./run_001_prepare_data.sh --stop-stage 1
fi

if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  ./run_002_extract_embed.sh --config-file "$config_file" --stage 2 --max-nj "$nj" \
    --janus-enroll-sets "" --test-sets "sre19_av_v_dev_test sre19_av_v_eval_test"
fi

if [ $stage -le 5 ] && [ $stop_stage -ge 5 ]; then
  for be in $backends; do
    script=$(ls ./run_04?_eval_be_"$be".sh)  # one run script per version
    $script --config-file "$config_file" --sets "$sets" --coh-data sre19_av_v_eval_test \
      --ncoh "$ncoh" --ncoh-discard 5
  done
fi

if [ $stage -le 6 ] && [ $stop_stage -ge 6 ]; then
  # shellcheck disable=SC1090
  . "$config_file"
  ./run_050_make_res_tables.sh --config-file "$config_file" --sets "$sets" --ncoh "$ncoh"
  echo "$0: done in $(( $(date +%s) - start )) s; results in exp/scores/$face_embed_name/results.{md,csv,json}"
  echo "$pipeline_note"
fi
