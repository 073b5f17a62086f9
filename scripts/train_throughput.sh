#!/usr/bin/env bash
# Training throughput of π_lo v2 at several widths, on the data and settings of experiment=pilo_v2.
#   bash scripts/train_throughput.sh OUT_JSONL STEPS WIDTH [WIDTH...] -- [genms overrides...]
# Each width trains STEPS steps from scratch in a throw-away run folder (no validation) and
# appends one JSON line: width, parameters, the steps/s and crystals/s of the last logged window
# (after compilation), and the training loss there.
set -euo pipefail
out=$1 steps=$2
shift 2
widths=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do widths+=("$1"); shift; done
[ $# -gt 0 ] && shift
for w in "${widths[@]}"; do
  run=$(mktemp -d)
  python3 -m genms.cli train diffusion experiment=pilo_v2 "train.run_dir=$run" "train.steps=$steps" \
    train.log_every=$((steps / 4)) val_match.n=0 "model.width=$w" "$@" >"$run/log.txt" 2>&1 \
    || { tail -20 "$run/log.txt"; exit 1; }
  python3 - "$run" "$w" >>"$out" <<'PY'
import json, sys
from genms.diffusion.curve import read_records
from genms.train.bundle import read_meta
run, width = sys.argv[1], int(sys.argv[2])
last = [r for r in read_records(f"{run}/metrics.jsonl") if "train/steps_per_second" in r][-1]
meta = read_meta(f"{run}/bundle")
print(json.dumps({"width": width, "n_params": meta["bundle"]["n_params"],
                  "steps_per_second": round(last["train/steps_per_second"], 2),
                  "crystals_per_second": round(last["train/examples_per_second"]),
                  "train_loss": round(last["train/loss"], 4), "step": last.get("step")}))
PY
  rm -rf "$run"
done
cat "$out"
