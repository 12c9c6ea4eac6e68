"""Markdown tables from a results JSON (no TensorFlow import needed)."""

import statistics

IMPLS = ("nnzoo", "nnzoo_fit", "keras", "torch", "numpy")
IMPL_TITLES = {
    "nnzoo": "nnzoo (compiled epoch)",
    "nnzoo_fit": "nnzoo model.fit",
    "keras": "stock Keras fit",
    "torch": "PyTorch eager",
    "numpy": "NumPy (book, matrix)",
}
# (ours, peer) -> {net: the target for ours / peer}; "dense" stands for every net with a NumPy row.
TARGETS = {
    ("nnzoo", "numpy"): {"dense": 1.0},
    ("nnzoo_fit", "numpy"): {"dense": 1.0},
    ("nnzoo", "torch"): {"dense": 1.5, "conv2": 1.5, "conv2_dropout": 1.4},
    ("nnzoo_fit", "torch"): {"dense": 1.5, "conv2": 1.5},
}


def _rows_by_net(results):
    table = {}
    for row in results.get("training", []):
        table.setdefault(row["net"], {})[row["impl"]] = row
    return table


def _speed(row):
    if not row or row.get("images_per_second") is None:
        return None
    return row["images_per_second"]


def _cell(row):
    speed = _speed(row)
    if speed is None:
        return "–"
    values = row.get("images_per_second_all") or [speed]
    spread = (max(values) - min(values)) / 2 / speed if len(values) > 1 else 0.0
    return f"{speed:,.0f} (±{100 * spread:.0f}%)"


def _ratio(a, b):
    return None if a is None or b is None else a / b


def _fmt_ratio(value):
    return "–" if value is None else f"{value:.2f}×"


def ratios(results):
    """{net: {"numpy": r, "torch": r, "keras": r}}: nnzoo's images/s over each other row's."""
    out = {}
    for net, rows in _rows_by_net(results).items():
        nnzoo = _speed(rows.get("nnzoo"))
        out[net] = {impl: _ratio(nnzoo, _speed(rows.get(impl))) for impl in ("numpy", "torch", "keras")}
    return out


def round_ratios(results, ours="nnzoo"):
    """{net: {impl: [ours's images/s over impl's, round by round]}}.

    The rounds are interleaved (round r times every implementation once, seconds
    apart), so a round's ratio is little moved by the slow drifts of a shared
    machine that move whole rounds; their spread shows how settled a ratio is.
    """
    out = {}
    for net, rows in _rows_by_net(results).items():
        mine = (rows.get(ours) or {}).get("images_per_second_all") or []
        out[net] = {impl: [a / b for a, b in zip(mine, (rows.get(impl) or {}).get("images_per_second_all") or [])]
                    for impl in ("numpy", "torch")}
    return out


def target(ours, peer, net, rows):
    """The issue's target for ``ours / peer`` on ``net``, or ``None`` where it sets none."""
    targets = TARGETS.get((ours, peer), {})
    return targets.get(net, targets.get("dense") if "numpy" in rows else None)


def _fmt_rounds(values):
    if not values:
        return "–"
    return f"{statistics.median(values):.2f}× ({min(values):.2f}–{max(values):.2f})"


def render(results):
    """The Markdown report of one run: settings, training table, targets, serving table."""
    lines = []
    env = results.get("environment", {})
    settings = results.get("settings", {})
    cpu = env.get("cpu", {})
    if settings.get("quick"):
        lines.append("**Quick smoke run (`--quick`): tiny sizes, the timings are not meaningful.**\n")
    load = results.get("load_average", {})
    start_load = (load.get("start") or [None])[0]
    cores = cpu.get("cores_available") or cpu.get("logical_cores") or 1
    if start_load is not None and start_load > 0.5:
        lines.append(f"**Warning: the 1-minute load average was {start_load} at the start "
                     f"({cores} cores): the machine was not idle, the timings may be invalid.**\n")
    tf_threads = env.get("tensorflow_threads", {})
    torch_threads = env.get("torch_threads") or {}
    lines.append(
        f"CPU: {cpu.get('model')} ({cpu.get('cores_available')} cores available, "
        f"{cpu.get('logical_cores')} logical; {', '.join(cpu.get('simd', [])) or 'no SIMD flags read'}). "
        f"Python {env.get('python')}, NumPy {env.get('numpy')}, TensorFlow {env.get('tensorflow')}, "
        f"Keras {env.get('keras')}, PyTorch {_torch_text(env)}, nnzoo {env.get('nnzoo')}.  "
    )
    lines.append(
        f"Threads: TensorFlow intra/inter-op {tf_threads.get('intra_op')}/{tf_threads.get('inter_op')} "
        f"(0 = default), PyTorch {torch_threads.get('intra_op', '–')}/{torch_threads.get('inter_op', '–')}. "
        f"Environment: {_env_text(env)}. Load average at start/end: "
        f"{load.get('start')} / {load.get('end')}.  "
    )
    blas = (env.get("numpy_blas") or {})
    tpc = blas.get("threadpoolctl")
    kernel = ", ".join(f"{p.get('internal_api')} {p.get('version')} {p.get('architecture')} "
                       f"({p.get('num_threads')} threads)" for p in tpc) if isinstance(tpc, list) else tpc
    lines.append(f"NumPy BLAS: {blas.get('build')}; kernel: {kernel}.\n")
    lines.append(
        f"Training at mini-batch {settings.get('batch_size', 10)}: images/s, median of "
        f"{settings.get('repeats')} timed passes after {settings.get('warmup')} warm-up pass(es) "
        f"(± = half the range over the passes); {settings.get('n_dense')} images for the dense nets, "
        f"{settings.get('n_conv')} for the conv nets.\n"
    )
    header = ["net", "images"] + [IMPL_TITLES[i] for i in IMPLS] + \
        ["nnzoo / NumPy", "nnzoo / PyTorch", "nnzoo / stock Keras"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    table = _rows_by_net(results)
    all_ratios = ratios(results)
    for net, rows in table.items():
        n_images = next((r.get("n_images") for r in rows.values() if r.get("n_images")), "")
        r = all_ratios[net]
        cells = [f"`{net}`", f"{n_images:,}" if n_images else ""] + [_cell(rows.get(i)) for i in IMPLS] + \
            [_fmt_ratio(r["numpy"]), _fmt_ratio(r["torch"]), _fmt_ratio(r["keras"])]
        lines.append("| " + " | ".join(cells) + " |")
    skipped = sorted({f"{IMPL_TITLES.get(row['impl'], row['impl'])}: {row['skipped']}"
                      for row in results.get("training", []) if row.get("skipped")})
    if skipped:
        lines.append("")
        lines += [f"- skipped {text}" for text in skipped]

    lines.append("")
    lines.append("Targets (issues): each cell is the median ratio, then the per-round median and range; the "
                 "target where an issue sets one.\n")
    pairs = list(TARGETS)
    lines.append("| net | " + " | ".join(f"{IMPL_TITLES[ours]} / {IMPL_TITLES[peer].split(' (')[0]}"
                                        for ours, peer in pairs) + " |")
    lines.append("|" + "---|" * (len(pairs) + 1))
    per_round = {ours: round_ratios(results, ours) for ours in {ours for ours, _ in pairs}}
    for net, rows in table.items():
        cells = []
        for ours, peer in pairs:
            ratio = _ratio(_speed(rows.get(ours)), _speed(rows.get(peer)))
            goal = target(ours, peer, net, rows)
            if ratio is None:
                cells.append("–")
                continue
            verdict = "" if goal is None else f"{'**met**' if ratio >= goal else '**missed**'} (≥ {goal}): "
            cells.append(f"{verdict}{ratio:.2f}×; rounds {_fmt_rounds(per_round[ours][net][peer])}")
        lines.append(f"| `{net}` | " + " | ".join(cells) + " |")

    serving = results.get("inference", [])
    if serving:
        lines.append("")
        lines.append("Inference through the exported SavedModel (`nnzoo.export`, then "
                     "`tf.saved_model.load(...).signatures['serving_default']`), median of "
                     f"{settings.get('inference_repeats')} timed runs:\n")
        batches = sorted({row["batch_size"] for row in serving})
        header = ["net"]
        for batch in batches:
            header += [f"batch {batch}: images/s", f"batch {batch}: ms/call"]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        by_net = {}
        for row in serving:
            by_net.setdefault(row["net"], {})[row["batch_size"]] = row
        for net, rows in by_net.items():
            cells = [f"`{net}`"]
            for batch in batches:
                row = rows.get(batch)
                cells += ["–", "–"] if row is None else [f"{row['images_per_second']:,.0f}",
                                                         f"{row['latency_ms']:.3f}"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _torch_text(env):
    if env.get("torch"):
        return env["torch"]
    if env.get("torch_installed"):
        return f"{env['torch_installed']} (installed, not used)"
    return "not installed"


def _env_text(env):
    parts = [f"{k}={v}" for k, v in (env.get("env") or {}).items()]
    removed = env.get("openblas_env_removed")
    if removed:
        parts.append("removed by --unset-openblas-env: " + ", ".join(f"{k}={v}" for k, v in removed.items()))
    return "; ".join(parts) if parts else "no thread/BLAS variables set"
