# usage: bash bench/probes/gpu/probe.sh : time the compiled-epoch path on the GPU under JAX
set -u
cd "$(dirname "$0")/../../.."
nvidia-smi -L
python3 -m pip install -q --no-index --no-deps .gpu/wheels/*.whl 2>&1 | tail -1
export KERAS_BACKEND=jax NNZOO_DATA_DIR=$PWD/.gpu/mnist XLA_PYTHON_CLIENT_PREALLOCATE=false
python3 - <<'PY'
import time, keras, jax, numpy as np
print("keras", keras.__version__, "jax", jax.__version__, jax.devices(), flush=True)
import nnzoo
from nnzoo.epoch import fit_epoch
from nnzoo.training import load_data
split = load_data("expanded[:50000]")
x, y = split.train
for name in ("conv2_relu", "conv2_dropout", "conv2_relu_2fc1000"):
    model = nnzoo.build(name, seed=0)
    for r in range(3):
        t = time.perf_counter(); logs = fit_epoch(model, x, y); dt = time.perf_counter() - t
        print(name, r, f"{dt:.2f} s for 50k ({len(y)/dt:,.0f} img/s)", logs, flush=True)
    p = model.predict(split.test.x, batch_size=1000, verbose=0)
    print(name, "test", float(np.mean(p.argmax(1) == split.test.y)), flush=True)
PY
