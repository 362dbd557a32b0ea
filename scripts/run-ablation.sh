#!/usr/bin/env bash
# The ablation tables of docs/results.md: every variant (`openfoley benchmark --list`) trained with
# benchmarks/ablation.toml for STEPS steps per seed, sampled and scored on the first LIMIT clips of both
# test splits, plus the reference rows. One worker process per seed, one thread each (2 cores: 2 seeds).
# Needs the FoleyWorld renders and the train feature store of scripts/build-builtin-model.sh (data/foleyworld,
# data/store-small-train). Resumable: rerun the same command after a cut-off and finished rows are kept.
#
#   scripts/run-ablation.sh [SEEDS=2] [STEPS=200] [LIMIT=64]   ->  runs/ablation/{test-closed,test-open}
#   LIVE=data/bank scripts/run-ablation.sh 2 600 64    # variants train on live renders (openfoley train --live),
#                                                      # as the built-in model does; the store feeds retrieval
#   openfoley benchmark --report --out runs/ablation --split test-closed   # the tables of what is done
#
# A protocol longer than a session: KEEP=DIR (a folder in the repo) gets each row's metrics.json for both
# splits as soon as both are scored; a row already there is not retrained, so after `git commit DIR` a
# new machine carries on where the last one stopped. The tables: openfoley benchmark --report --out DIR.
#   KEEP=benchmarks/results/ablation-live-1000 LIVE=data/bank scripts/run-ablation.sh 2 1000 64
# FIRST_SEED=K starts the workers' seeds at K (a second machine or process takes seed 1 while one runs 0).
# The retrieval row needs the train store and renders (scripts/build-builtin-model.sh); without
# data/store-small-train it is left out.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-2}; STEPS=${2:-200}; LIMIT=${3:-64}
OUT=${ABLATION_OUT:-runs/ablation}
mkdir -p "$OUT"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1  # (the CLI also keeps freed memory: openfoley/runtime.py)
read -r -a ROWS <<< "${ROWS:-full no-mma no-mfg no-mma-no-mfg mask-0.2 mask-0.6 flow-nf flow-coupling no-onset-target mask-0}"  # ROWS="..." for a subset
common=(--out "$OUT" --full-model train --train-store data/store-small-train --train-steps "$STEPS"
        --limit "$LIMIT" --config benchmarks/ablation.toml ${LIVE:+--train-live "$LIVE"})
EXTRA=(); [ -d data/store-small-train ] && EXTRA=(retrieval)
KEEP=${KEEP:-}
kept() {  # kept ROW_DIR: both splits' metrics of this row (and seed) are in KEEP
  [ -n "$KEEP" ] && [ -f "$KEEP/test-closed/$1/metrics.json" ] && [ -f "$KEEP/test-open/$1/metrics.json" ]
}
keep() {  # keep ROW_DIR: copy both splits' metrics into KEEP
  [ -z "$KEEP" ] && return 0
  for split in test-closed test-open; do
    mkdir -p "$KEEP/$split/$1" && cp "$OUT/$split/$1/metrics.json" "$KEEP/$split/$1/metrics.json"
  done
}
worker() {
  local seed=$1
  for row in "${ROWS[@]}" "${EXTRA[@]}"; do
    if kept "$row/seed-$seed"; then echo "$(date +%T) seed $seed: $row kept in $KEEP"; continue; fi
    for split in test-closed test-open; do
      .venv/bin/openfoley benchmark --split "$split" --rows "$row" --seed "$seed" "${common[@]}" > /dev/null
    done
    keep "$row/seed-$seed"
    echo "$(date +%T) seed $seed: $row done"
  done
}
FIRST_SEED=${FIRST_SEED:-0}
for ((s = FIRST_SEED; s < FIRST_SEED + SEEDS; s++)); do worker "$s" > "$OUT/worker-$s.log" 2>&1 & done
if ! { kept ground-truth && kept shuffled; }; then  # the fixed reference rows, once, beside the workers
  for split in test-closed test-open; do
    .venv/bin/openfoley benchmark --split "$split" --rows ground-truth shuffled "${common[@]}" > /dev/null
  done
  keep ground-truth; keep shuffled
fi
wait
for split in test-closed test-open; do
  .venv/bin/openfoley benchmark --report --split "$split" --out "${KEEP:-$OUT}"
done
