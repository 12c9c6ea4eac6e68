"""What the benchmark records about the machine and the libraries."""

import json
import os
import platform
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(BENCH, "results")
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
REMOVED_MARKER = "NNZOO_BENCH_REMOVED_ENV"
THREAD_VARS = OPENBLAS_VARS + (
    "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS", "TF_ENABLE_ONEDNN_OPTS", "CUDA_VISIBLE_DEVICES",
)


def cpu_info():
    model, flags = None, set()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model is None:
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    return {
        "model": model or platform.processor() or platform.machine(),
        "logical_cores": os.cpu_count(),
        "cores_available": affinity,
        "simd": sorted(flags & {"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni",
                                "amx_tile"}),
        "machine": platform.machine(),
    }


def load_average():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def numpy_blas():
    """numpy's BLAS: build info, and the kernel in use via threadpoolctl when it is installed."""
    import numpy as np

    info = {}
    try:
        config = np.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        info["build"] = {k: blas.get(k) for k in ("name", "version", "openblas configuration") if blas.get(k)}
    except Exception as err:  # numpy < 1.26 has no mode="dicts"
        info["build"] = f"unavailable ({type(err).__name__})"
    try:
        import threadpoolctl
    except ImportError:
        info["threadpoolctl"] = "not installed (pip install threadpoolctl to report the BLAS kernel)"
    else:
        info["threadpoolctl"] = [
            {k: v for k, v in pool.items() if k in ("user_api", "internal_api", "prefix", "version",
                                                     "architecture", "num_threads", "threading_layer")}
            for pool in threadpoolctl.threadpool_info()
            if pool.get("user_api") == "blas"
        ]
    return info


def _installed_version(distribution):
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover
        return None
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def environment(torch_module=None):
    import keras
    import numpy as np
    import tensorflow as tf

    env = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "torch": getattr(torch_module, "__version__", None),  # None: not imported in this run
        "torch_installed": _installed_version("torch"),
        "cpu": cpu_info(),
        "tensorflow_threads": {
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
            "note": "0 means TensorFlow's default (one per available core)",
        },
        "tensorflow_visible_devices": [d.device_type for d in tf.config.get_visible_devices()],
        "torch_threads": None,
        "numpy_blas": numpy_blas(),
        "env": {k: os.environ[k] for k in THREAD_VARS if k in os.environ},
        "openblas_env_removed": json.loads(os.environ[REMOVED_MARKER]) if REMOVED_MARKER in os.environ else None,
    }
    try:
        import nnzoo
        env["nnzoo"] = nnzoo.__version__
    except Exception:  # pragma: no cover
        env["nnzoo"] = None
    if torch_module is not None:
        env["torch_threads"] = {"intra_op": torch_module.get_num_threads(),
                                "inter_op": torch_module.get_num_interop_threads()}
    return env


def probe_parser(script, doc, results_name, quick_help="tiny sizes for a smoke test"):
    """The argument parser every probe starts from, with ``--quick``, ``--markdown JSON`` and ``--out`` (which
    ``parse`` defaults to ``default_out(results_name, quick)``). ``script`` is the probe's ``__file__``, ``doc`` its
    docstring (the first paragraph is the description)."""
    import argparse

    parser = argparse.ArgumentParser(prog=os.path.relpath(os.path.abspath(script), os.path.dirname(BENCH)),
                                     description=doc.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--markdown", metavar="JSON", help="print the Markdown report of a results file and exit")
    parser.add_argument("--out", help=f"results JSON (default bench/results/{results_name}.json)")
    parser.set_defaults(results_name=results_name)
    return parser


def parse(parser, argv):
    """``parser.parse_args(argv)`` with ``--out`` defaulted to the probe's file in ``bench/results/``."""
    args = parser.parse_args(argv)
    args.out = args.out or default_out(args.results_name, args.quick)
    return args


def default_out(name, quick=False):
    """Where a script writes its results by default: ``bench/results/NAME.json`` (``NAME-quick.json`` for a
    ``--quick`` smoke run, which git ignores)."""
    return os.path.join(RESULTS, f"{name}-quick.json" if quick else f"{name}.json")


def new_results(script, settings):
    """The head of a results file: schema, time, the command that made it (``script`` is its ``__file__``), the
    load average at the start and the run's ``settings``."""
    import time

    return {"schema": 1, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": [os.path.relpath(os.path.abspath(script))] + sys.argv[1:],
            "load_average": {"start": load_average()}, "settings": settings}


def report(script, args, settings, measure_rows, render):
    """What a benchmark script's ``main`` does once its arguments are parsed: with ``--markdown JSON``, print
    ``render``'s report of that saved file; otherwise time ``measure_rows()`` (the results' ``rows``) into a new
    results file at ``args.out`` with ``settings`` and the environment, and print its report. Returns the exit
    status."""
    if args.markdown:
        print_saved(args.markdown, render)
        return 0
    results = new_results(script, settings)
    results["rows"] = measure_rows()
    save_results(results, args.out, render)
    return 0


def print_saved(path, render):
    """Print ``render``'s Markdown of the results file at ``path`` (each script's ``--markdown``)."""
    with open(path) as handle:
        print(render(json.load(handle)))


def save_results(results, out, render):
    """Add the environment and the end's load average to ``results``, write them to ``out`` and print ``render``'s
    Markdown of them."""
    results.update(environment=environment())
    results["load_average"]["end"] = load_average()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as handle:
        json.dump(results, handle, indent=2)
    print(f"wrote {out}\n")
    print(render(results))
