# usage: sc.sh MODEL TAG FIRST LAST  -> runs/s31/sc-TAG-SEED.jsonl
cd /work/main
export OMP_NUM_THREADS=1
for s in $(seq $3 $4); do
  [ -s runs/s31/sc-$2-$s.jsonl ] && continue
  .venv/bin/python benchmarks/sync_check.py --model $1 --bank data/bank --clips 10 --seed $s --log runs/s31/sc-$2-$s.jsonl.tmp > runs/s31/sc-$2-$s.log 2>&1 && mv runs/s31/sc-$2-$s.jsonl.tmp runs/s31/sc-$2-$s.jsonl
done
