#!/usr/bin/env bash
# Chooses the back-end hyper-parameters (thr_ahc, self_att_a, att_a) of a global_conf file on an LFW-based mock
# SRE19 corpus; the method and the numbers are in docs/backend_hparams.md.
#   stage 1: mock corpus (dev + eval, disjoint identities) from the LFW photos -> <work-dir>/corpus
#   stage 2: SRE19 data dirs of the mock corpus (run_001_prepare_data.sh stage 1)
#   stage 3: embeddings of the config's front-end (run_002_extract_embed.sh stages 2-3, SRE19 sets only)
#   stage 4: grid search of v1-v7, v9 on dev (grid and selection rule: hyp_face/backend/tuning.py), held-out check
#            on eval -> <work-dir>/exp/tune_backend/grid.{md,json}
# Everything (data/, exp/) is written under --work-dir, which links to this recipe's files, so the recipe's own
# data/ and exp/ are never touched.
set -euo pipefail

stage=1
stop_stage=4
config_file=global_conf/config_embedded.sh
lfw_dir=
work_dir=exp/tune_backend_hparams
seed=4
max_nj=2
help_message="Usage: $0 --lfw-dir DIR [options]
  stage 1: a mock SRE19 corpus (dev + eval, disjoint identities) from the LFW photos -> <work-dir>/corpus.
  stage 2: its SRE19 data dirs (run_001_prepare_data.sh stage 1).
  stage 3: embeddings of the config's front end (run_002_extract_embed.sh stages 2-3, SRE19 sets only).
  stage 4: grid search on dev, held-out check on eval (hyp_face.backend.tuning) -> <work-dir>/exp/tune_backend.
DIR: folder of LFW <Name>_<NNNN>.jpg photos, e.g.
  ../shared/data/lfw_view2_deepfunneled150/warm-ice0x00_face-recognition-training/lfw"

. ./path.sh
. utils/parse_options.sh
[ $# -eq 0 ] || { echo "$help_message" >&2; exit 1; }
[ -f "$config_file" ] || { echo "$0: config file $config_file not found" >&2; exit 1; }

recipe=$(pwd)
config_file=$(cd "$(dirname "$config_file")" && pwd)/$(basename "$config_file")
mkdir -p "$work_dir"
work_dir=$(cd "$work_dir" && pwd)
for f in "$recipe"/*; do  # a Kaldi-style experiment dir: links to the recipe, its own data/ and exp/
  case $(basename "$f") in data|exp) continue ;; esac
  [ "$f" -ef "$work_dir" ] || ln -sfn "$f" "$work_dir/"
done
cd "$work_dir"
export SRE19_DEV_ROOT=$work_dir/corpus/sre19_av_dev SRE19_EVAL_ROOT=$work_dir/corpus/sre19_av_eval

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  [ -d "$lfw_dir" ] || { echo "$0: --lfw-dir '$lfw_dir' is not a directory" >&2; exit 1; }
  $HYP_FACE_PYTHON local/make_lfw_mock_sre19.py --lfw-dir "$lfw_dir" --out-dir corpus --seed "$seed"
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  ./run_001_prepare_data.sh --stage 1 --stop-stage 1
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  ./run_002_extract_embed.sh --config-file "$config_file" --stage 2 --stop-stage 3 --max-nj "$max_nj" \
    --janus-enroll-sets "" --test-sets "sre19_av_v_dev_test sre19_av_v_eval_test"
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  # shellcheck disable=SC1090
  face_embed_name=$(. "$config_file"; echo "$face_embed_name")
  $HYP_FACE_PYTHON local/tune_backend_hparams.py --data-dir data --embed-dir "exp/face_embed/$face_embed_name" \
    --sets sre19_av_v_dev sre19_av_v_eval --select-set sre19_av_v_dev --out-dir exp/tune_backend
  echo "$0: tables in $work_dir/exp/tune_backend/grid.md; values for $config_file in exp/tune_backend/chosen.sh"
fi
