cd /work/main
for i in 1 2; do
  for m in builtin runs/s30/steps6 runs/s30/steps4; do
    echo "== $m $i"; .venv/bin/python benchmarks/generate.py --model $m --clips none --cli 8,60 --cli-reps 3 --cli-runtimes lite 2>&1 | grep "^| lite"
  done
done
