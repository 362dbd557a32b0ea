#!/usr/bin/env bash
# Rebuild the built-in model from nothing: sound bank -> splits -> FoleyWorld renders -> feature stores
# -> train the `small` preset -> copy its EMA weights into src/openfoley/assets/model-small/.
# Every step is resumable: rerun the script after an interruption and it continues.
#
#   scripts/build-builtin-model.sh            # defaults below; DATA=... TRAIN_CLIPS=... to change
#
# Sizes: TRAIN_CLIPS 8 s train clips and TEST_CLIPS per test split, rendered at RENDER_SIZE px, 25 fps.
set -euo pipefail
cd "$(dirname "$0")/.."
OF=${OF:-.venv/bin/openfoley}
DATA=${DATA:-data}
BANK=${BANK:-$DATA/bank}
FW=${FW:-$DATA/foleyworld}
TRAIN_CLIPS=${TRAIN_CLIPS:-2400}
TEST_CLIPS=${TEST_CLIPS:-200}
RENDER_SIZE=${RENDER_SIZE:-128}
WORKERS=${WORKERS:-2}
STEPS=${STEPS:-1500}
RUN=${RUN:-runs/builtin-small}
SETS=${SETS:-}

[ -f "$BANK/manifest.jsonl" ] || $OF data sound-bank --out "$BANK" ${DEBS:+--from "$DEBS"}
[ -f "$BANK/splits.json" ] || $OF data splits --bank "$BANK" --out "$BANK/splits.json" --seed 0
for split in train test-closed test-open; do
  n=$TEST_CLIPS; [ "$split" = train ] && n=$TRAIN_CLIPS
  $OF data render --bank "$BANK" --out "$FW" --split "$split" --clips "$n" --size "$RENDER_SIZE" \
      --seed 0 --workers "$WORKERS" --no-progress
  $OF data extract --manifest "$FW/$split/manifest.jsonl" --out "$DATA/store-small-$split" \
      --preset small --workers "$WORKERS" --no-progress
done
# shellcheck disable=SC2086
$OF train --preset small --data "$DATA/store-small-train" --val "$DATA/store-small-test-closed" \
    --out "$RUN" --max-steps "$STEPS" $SETS
rm -rf src/openfoley/assets/model-small.tmp
cp -r "$RUN/weights" src/openfoley/assets/model-small.tmp
rm -rf src/openfoley/assets/model-small
mv src/openfoley/assets/model-small.tmp src/openfoley/assets/model-small
echo "built-in model written to src/openfoley/assets/model-small"
