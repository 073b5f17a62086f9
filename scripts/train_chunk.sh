#!/usr/bin/env bash
# One chunk of π_lo training for machines with short job limits (e.g. 10-minute GPU jobs).
#   bash scripts/train_chunk.sh RUN_DIR OUT_DIR INIT_BUNDLE|none [genms overrides...]
# Resumes the run in RUN_DIR when it holds checkpoints; otherwise starts it, warm-started from
# INIT_BUNDLE unless that is "none". Afterwards OUT_DIR receives the exported EMA bundle
# (float16, parts under 15 MiB), the validation curve and the metric log of the run.
set -euo pipefail
run_dir=$1 out_dir=$2 init=$3
shift 3
if [ -d "$run_dir/checkpoints" ] && [ -n "$(ls -A "$run_dir/checkpoints" 2>/dev/null)" ]; then
  start=(train.resume=true)
elif [ "$init" != "none" ]; then
  start=("train.init_from=$init")
else
  start=()
fi
python3 -m genms.cli train diffusion experiment=pilo_v2 "train.run_dir=$run_dir" "${start[@]}" "$@"
mkdir -p "$out_dir"
cp "$run_dir"/bundle/bundle.json "$run_dir"/bundle/params.msgpack* "$out_dir"/
for f in val_curve.jsonl metrics.jsonl; do
  if [ -f "$run_dir/$f" ]; then cp "$run_dir/$f" "$out_dir/"; fi
done
