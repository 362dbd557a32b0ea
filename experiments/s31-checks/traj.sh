cd /work/main
export OMP_NUM_THREADS=1
while [ ! -f runs/s31/fresh.done ]; do sleep 10; done
OF=.venv/bin/openfoley
b() { $OF benchmark --foleyworld $1 --split $2 --seed 0 --rows full --full-model $3 --out $4 > $4-$2.log 2>&1; }
for m in gfit2-5000 gfit-15000; do
  b data/foleyworld test-closed runs/s31/$m-on-builtin runs/s31/b/$m & b data/foleyworld test-open runs/s31/$m-on-builtin runs/s31/b/$m; wait
done
echo DONE > runs/s31/traj.done
