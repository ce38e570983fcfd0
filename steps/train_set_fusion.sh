#!/usr/bin/env bash
# Trains a ProxyFusion set aggregator (hyp_face.fusion.proxyfusion) on an embedding store and its utt2spk, with a dev
# split for early stopping; the model is then an aggregator: eval_be.sh --aggregator proxyfusion:<out-model>.
set -euo pipefail

cmd=run.pl
embedder=            # recognizer name recorded in the model (or --config-file, whose face_recognizer is used)
config_file=
augment_embed_scp=   # degraded variants of the training keys: a random half of each set is replaced by them
dev_embed_scp=       # dev set (default: --dev-percent of the training identities, by name hash)
dev_utt2spk=
dev_augment_embed_scp=
dev_percent=15
num_proxies=16
k=4
proj_dim=10
hidden=256
batch_size=128
max_set=8
max_epochs=60
patience=8
lr=0.01
seed=0
clean_share=0        # share of training sets left without degraded variants
num_threads=
help_message="Usage: $0 [options] <train-embed.scp> <train-utt2spk> <out-model>
  Trains ProxyFusion (supervised contrastive + lattice loss, Adafactor), keeps the best dev epoch, stops early.
  --embedder NAME | --config-file F (the embedder is recorded; the model refuses another one),
  --augment-embed-scp F, --dev-embed-scp F --dev-utt2spk F [--dev-augment-embed-scp F] | --dev-percent 15,
  --num-proxies 16 --k 4 --proj-dim 10 --hidden 256, --batch-size 128 --max-set 8 --max-epochs 60 --patience 8,
  --lr 0.01 --seed 0 --clean-share 0 --num-threads N. Log: \$(dirname <out-model>)/log/train_set_fusion_\$(basename <out-model>).log"

. "$(dirname "$0")/../path.sh"
. "$HYP_FACE_ROOT/utils/parse_options.sh"

if [ $# -ne 3 ]; then printf '%s\n' "$help_message" >&2; exit 1; fi
train_scp=$1; train_utt2spk=$2; out_model=$3
[ -n "$embedder$config_file" ] || { echo "$0: give --embedder or --config-file" >&2; exit 1; }
for f in "$train_scp" "$train_utt2spk" ${augment_embed_scp:+"$augment_embed_scp"} ${dev_embed_scp:+"$dev_embed_scp"} \
         ${dev_utt2spk:+"$dev_utt2spk"}; do
  [ -f "$f" ] || { echo "$0: no such file $f" >&2; exit 1; }
done
log_dir=$(dirname "$out_model")/log
mkdir -p "$log_dir"
$cmd "$log_dir/train_set_fusion_$(basename "$out_model").log" \
  "$HYP_FACE_PYTHON" -m hyp_face.bin.train_set_fusion ${embedder:+--embedder "$embedder"} \
    ${config_file:+--config-file "$config_file"} ${augment_embed_scp:+--augment-embed-scp "$augment_embed_scp"} \
    ${dev_embed_scp:+--dev-embed-scp "$dev_embed_scp" --dev-utt2spk "$dev_utt2spk"} \
    ${dev_augment_embed_scp:+--dev-augment-embed-scp "$dev_augment_embed_scp"} --dev-percent "$dev_percent" \
    --num-proxies "$num_proxies" --k "$k" --proj-dim "$proj_dim" --hidden "$hidden" --batch-size "$batch_size" \
    --max-set "$max_set" --max-epochs "$max_epochs" --patience "$patience" --lr "$lr" --seed "$seed" \
    --clean-share "$clean_share" \
    ${num_threads:+--num-threads "$num_threads"} "$train_scp" "$train_utt2spk" "$out_model"
show_rerun.sh "$log_dir/train_set_fusion_$(basename "$out_model").log"
