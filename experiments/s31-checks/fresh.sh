set -e
cd /work/main
export OMP_NUM_THREADS=1
OF=.venv/bin/openfoley
for s in test-closed test-open; do
  $OF data render --bank data/bank --out data/foleyworld-r9 --split $s --clips 200 --size 128 --seed 9 --workers 2 --no-progress
done
b() { $OF benchmark --foleyworld $1 --split $2 --seed 0 --rows full --full-model $3 --out $4 > $4-$2.log 2>&1; }
mkdir -p runs/s31/b
b data/foleyworld test-closed builtin runs/s31/b/builtin & b data/foleyworld test-open builtin runs/s31/b/builtin; wait
b data/foleyworld-r9 test-closed builtin runs/s31/b/r9-builtin & b data/foleyworld-r9 test-closed runs/s31/ship-gfit3/model runs/s31/b/r9-gfit3; wait
b data/foleyworld-r9 test-open builtin runs/s31/b/r9-builtin & b data/foleyworld-r9 test-open runs/s31/ship-gfit3/model runs/s31/b/r9-gfit3; wait
echo DONE > runs/s31/fresh.done
