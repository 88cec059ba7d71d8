#!/usr/bin/env bash
# Issue 4's four intermediate-training variants on the built-in tiny world, each followed by
# phase 3 on English XNLI and zero-shot evaluation in en/de/es/fr:
#   a) English MNLI   b) MNLI in en/de/es/fr (sampled with alpha 0.5)   c) MNLI + MLM co-training
#   d) multi-task over all families (MNLI, SQuAD, HellaSwag, CCG)
# Run from the repository root with the package installed: bash examples/xtreme/tiny_variants.sh [OUT]
set -euo pipefail
trap 'echo "tiny_variants.sh: a step failed; its log is in $OUT/" >&2' ERR
OUT=${1:-tiny_variants}
RAW=fairseq_stilts/tiny/data
MODEL=$OUT/model
mkdir -p "$OUT"
[ -f "$MODEL/model.pt" ] || stilts-tiny-model --out "$MODEL" --updates 60 > "$OUT/model.log" 2>&1

prepare() {  # prepare TASK FOLDER_NAME RAW_DIR [OPTIONS...]
  [ -d "$OUT/data/$2" ] || stilts-prepare "$1" "$3" --model "$MODEL" --out "$OUT/data/$2" "${@:4}"
}
prepare mnli mnli "$RAW/mnli"
prepare mnli mnli-mt "$RAW/mnli" --train-languages en de es fr
prepare mlm mlm "$RAW/mlm"
prepare squad squad "$RAW/squad"
prepare hellaswag hellaswag "$RAW/hellaswag"
prepare ccg ccg "$RAW/ccg"
prepare xnli xnli "$RAW/xnli"

train() {  # train NAME DATA [OPTIONS...]: 30 updates of the tiny model, log in $OUT/NAME.log
  local name=$1; shift
  fairseq-train "$@" --user-dir fairseq_stilts --arch xlmr_tiny --optimizer stilts_adamw \
    --lr 1e-3 --batch-size 8 --max-update 30 --seed 1 --cpu --num-workers 0 \
    --disable-validation --no-epoch-checkpoints --save-dir "$OUT/ckpt/$name" > "$OUT/$name.log" 2>&1
}
PRETRAINED=(--finetune-from-model "$MODEL/model.pt")
train a "$OUT/data/mnli" --task mnli --criterion stilts_classification "${PRETRAINED[@]}"
train b "$OUT/data/mnli-mt" --task mnli --criterion stilts_classification "${PRETRAINED[@]}" \
  --language-sampling-alpha 0.5
train c "$OUT/data" --task stilts_multitask --criterion stilts_multitask --tasks mnli,mlm \
  --sampler weights --task-weights 1,1 "${PRETRAINED[@]}"
train d "$OUT/data" --task stilts_multitask --criterion stilts_multitask \
  --tasks mnli,squad,hellaswag,ccg "${PRETRAINED[@]}"

for variant in a b c d; do
  train "$variant-xnli" "$OUT/data/xnli" --task xnli --criterion stilts_classification \
    --finetune-from-model "$OUT/ckpt/$variant/checkpoint_last.pt"
  echo "== $variant: XNLI test accuracy after intermediate variant $variant"
  stilts-eval xnli "$OUT/data/xnli" --path "$OUT/ckpt/$variant-xnli/checkpoint_last.pt" --cpu \
    --out "$OUT/results-$variant.json"
done
