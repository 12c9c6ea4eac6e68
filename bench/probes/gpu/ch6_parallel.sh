# usage: bash bench/probes/gpu/ch6_parallel.sh SECONDS : every chapter 6 run still open, in parallel, resuming .gpu/runs
set -u
cd "$(dirname "$0")/../../.."
limit=$1
python3 -m pip install -q --no-index --no-deps .gpu/wheels/*.whl 2>&1 | tail -1
export KERAS_BACKEND=jax NNZOO_DATA_DIR=$PWD/.gpu/mnist XLA_PYTHON_CLIENT_PREALLOCATE=false
mkdir -p .gpu/runs/conv2_dropout_ensemble
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > .gpu/runs/hardware.txt
python3 -c "import keras, jax, platform; print('keras', keras.__version__, 'jax', jax.__version__, 'python', platform.python_version())" >> .gpu/runs/hardware.txt
for model in conv2_relu_fc300 conv2_relu_fc1000 conv2_relu_2fc conv2_relu_2fc300 conv2_relu_2fc1000; do
  dir=.gpu/runs/$model-expanded
  [ -f $dir/result.json ] && continue
  timeout "$limit" python3 -m nnzoo.cli train "$model" --data expanded --out "$dir" >> "$dir.out" 2>&1 &
done
k=1
for seed in 592023661 1871563418 1194783878 1601438118 1765369578; do
  dir=.gpu/runs/conv2_dropout_ensemble/member-$k
  [ -d $dir ] && [ ! -f $dir/result.json ] && timeout "$limit" python3 -m nnzoo.cli train conv2_dropout --seed $seed --out $dir >> $dir.out 2>&1 &
  k=$((k+1))
done
wait
cd .gpu && tar czf "$OUT/runs_text.tgz" --exclude='*.keras' runs
python3 - <<'PY'
import os, subprocess, pathlib
files = sorted(f for f in pathlib.Path("runs").rglob("*.keras")
               if f.name == "model.keras" or not (f.parent / "model.keras").exists())
groups, size = [[]], 0
for f in files:
    if size + f.stat().st_size > 14e6 and groups[-1]:
        groups.append([]); size = 0
    groups[-1].append(str(f)); size += f.stat().st_size
for i, group in enumerate(groups):
    if group:
        subprocess.run(["tar", "cf", f"{os.environ['OUT']}/keras_{i}.tar", *group], check=True)
PY
tail -qn 1 runs/*.out runs/conv2_dropout_ensemble/*.out
