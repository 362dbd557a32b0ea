#!/usr/bin/env bash
# Rebuild the built-in model from nothing: sound bank -> splits -> FoleyWorld renders -> feature stores
# -> train the `small` preset -> copy its EMA weights into src/openfoley/assets/model-small/.
# Every step is resumable: rerun the script after an interruption and it continues.
#
#   scripts/build-builtin-model.sh            # defaults below; DATA=... TRAIN_CLIPS=... to change
#
# Sizes: TEST_CLIPS per test split, rendered at RENDER_SIZE px, 25 fps, and extracted into feature stores
# for validation and the benchmark. Training clips are rendered on the fly (`openfoley train --live`):
# every step sees new scenes, nothing is written to disk, and a resumed run on a new machine only needs
# the sound bank (rebuilt by the first line below when missing). Live training draws 30% of strike and
# impact sources as walkers (`openfoley train --live-walkers`, docs/benchmark.md "Walkers").
#
# Stop it any time; rerun the same command (also on a new machine) and it resumes from RUN's last
# checkpoint. To run it in the background: nohup scripts/build-builtin-model.sh > build.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
OF=${OF:-.venv/bin/openfoley}
DATA=${DATA:-data}
BANK=${BANK:-$DATA/bank}
FW=${FW:-$DATA/foleyworld}
TEST_CLIPS=${TEST_CLIPS:-200}
RENDER_SIZE=${RENDER_SIZE:-128}
WORKERS=${WORKERS:-2}
STEPS=${STEPS:-6000}
RENDER_WORKERS=${RENDER_WORKERS:-1}
NPROC=${NPROC:-2}    # training processes (torchrun + gloo, one thread each: faster than one 2-thread process)
INIT=${INIT:-}       # a weights folder to continue from when RUN has no checkpoint (a new machine):
                     # INIT=src/openfoley/assets/model-small continues the committed built-in model
RUN=${RUN:-runs/builtin-small}
SETS=${SETS:-}

[ -f "$BANK/manifest.jsonl" ] || $OF data sound-bank --out "$BANK" ${DEBS:+--from "$DEBS"}
[ -f "$BANK/splits.json" ] || $OF data splits --bank "$BANK" --out "$BANK/splits.json" --seed 0
for split in test-closed test-open; do
  $OF data render --bank "$BANK" --out "$FW" --split "$split" --clips "$TEST_CLIPS" --size "$RENDER_SIZE" \
      --seed 0 --workers "$WORKERS" --no-progress
  $OF data extract --manifest "$FW/$split/manifest.jsonl" --out "$DATA/store-small-$split" \
      --preset small --workers "$WORKERS" --no-progress
done
# shellcheck disable=SC2086
TRAIN="$OF train"
[ "$NPROC" -gt 1 ] && TRAIN="$(dirname "$OF")/torchrun --nproc_per_node=$NPROC -m openfoley train"
$TRAIN --preset small --live "$BANK" --val "$DATA/store-small-test-closed" \
    --out "$RUN" --max-steps "$STEPS" --set train.num_workers="$RENDER_WORKERS" --no-progress \
    ${INIT:+--init "$INIT"} $SETS
rm -rf src/openfoley/assets/model-small.tmp
cp -r "$RUN/weights" src/openfoley/assets/model-small.tmp
rm -rf src/openfoley/assets/model-small
mv src/openfoley/assets/model-small.tmp src/openfoley/assets/model-small
echo "built-in model written to src/openfoley/assets/model-small"
