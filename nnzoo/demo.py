"""``nnzoo demo``: the zoo in a browser. Draw a digit, and every shipped network answers.

``build(out)`` writes a static site: ``index.html`` at its root, the page's script and style
(``nnzoo/demo_site/``), every shipped network as an ONNX model (``models/``, made by
``nnzoo.demo_models`` and checked against the Keras model), the ONNX Runtime Web files
(``vendor/``, from the npm registry's ``onnxruntime-web`` package, fetched once with ``npm pack``
into a cache and checked against its pinned integrity), the 10,000 official test images
(``samples/``), each network's figure from ``docs/figures`` where one exists, and ``manifest.json``:
what the page shows of each network (chapter, architecture, the book's number and the measured one,
from the cards and ``pretrained.json``) and what the build measured (quantisation, agreement with
Keras). Inference runs in the browser; the files work on any static host.

``serve(directory)`` serves a built site on 127.0.0.1 with ``http.server``.

Example:

>>> from nnzoo import demo                                    # doctest: +SKIP
>>> manifest = demo.build("/tmp/site")                        # doctest: +SKIP
>>> demo.serve("/tmp/site", port=8000, open_browser=True)     # doctest: +SKIP
"""

import base64
import functools
import gzip
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import webbrowser
from pathlib import Path

import numpy as np

from nnzoo import files

__all__ = ["RUNTIME", "FIGURES", "build", "serve", "server", "default_site", "site_is_current"]

FORMAT = 1
RUNTIME = {
    "package": "onnxruntime-web",
    "version": "1.23.2",
    "integrity": "sha512-T09JUtMn+CZLk3mFwqiH0lgQf+4S7+oYHHtk6uhaYAAJI95bTcKi5bOOZYwORXfS/RLZCjDDEXGWIuOCAFlEjg==",
    # The wasm backend only (single-threaded SIMD build): the page needs neither WebGPU nor WebGL.
    "files": ("dist/ort.wasm.min.js", "dist/ort-wasm-simd-threaded.mjs", "dist/ort-wasm-simd-threaded.wasm"),
}
# Each network's top figure in docs/figures: the figure drawn from its experiment, or that shows it.
FIGURES = {
    "network2": "p15_l2_train_vs_test.png",
    "deep_sigmoid_2": "p30_speed_2_hidden.png",
    "deep_sigmoid_3": "p31_speed_3_hidden.png",
    "deep_sigmoid_4": "p32_speed_4_hidden.png",
    "shallow_softmax": "p38_chapter6_ladder.png",
    "conv1": "p38_chapter6_ladder.png",
    "conv2": "p37_tanh_vs_sigmoid.png",
    "conv2_tanh": "p37_tanh_vs_sigmoid.png",
    "conv2_relu": "p38_chapter6_ladder.png",
    "conv2_dropout": "p35_conv2_dropout_filters.png",
    "conv2_dropout_ensemble": "p34_ensemble_errors.png",
}
CHAPTERS = {
    1: "Using neural nets to recognize handwritten digits",
    3: "Improving the way neural networks learn",
    5: "Why are deep neural networks hard to train?",
    6: "Deep learning",
}
SITE_DIR = Path(__file__).parent / "demo_site"
FIGURES_DIR = Path(__file__).resolve().parent.parent / "docs" / "figures"
SHOWCASE = 24  # how many images the "sample" button cycles through
_MIME = {".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
         ".onnx": "application/octet-stream", ".json": "application/json", ".gz": "application/octet-stream"}


def default_site():
    """Where ``nnzoo demo`` builds its site: ``$NNZOO_DEMO_DIR``, else ``~/.cache/nnzoo/demo``."""
    return Path(os.environ.get("NNZOO_DEMO_DIR") or Path.home() / ".cache" / "nnzoo" / "demo")


def _npm_cache():
    return Path(os.environ.get("NNZOO_NPM_CACHE") or Path.home() / ".cache" / "nnzoo" / "npm")


# ----------------------------------------------------------------------------- build


def build(out, *, check_images=10000, networks=None, log=print):
    """Write the demo site into ``out`` (created; files of an earlier build are replaced).

    Args:
        out: the site's directory.
        check_images: on how many of the official test images (the first ones) each ONNX model must
            give the Keras model's digit (an int8 model is kept only where it does on >= 99.9%).
            10,000 (all) by default; fewer makes a quick build for tests.
        networks: the networks to include (default: every network with shipped weights).
        log: called with one line per step (``None``: silent).

    Returns:
        The manifest (also written to ``out/manifest.json``).
    """
    import nnzoo  # noqa: PLC0415
    from nnzoo import data, demo_models  # noqa: PLC0415

    log = log or (lambda *_: None)
    shipped = nnzoo.list_models(pretrained=True)
    networks = list(shipped if networks is None else networks)
    unknown = sorted(set(networks) - set(shipped))
    if unknown:
        raise ValueError(f"No shipped weights for {unknown}. Expected networks of "
                         f"nnzoo.list_models(pretrained=True): {shipped}.")
    if not isinstance(check_images, int) or not 0 < check_images <= 10000:
        raise ValueError(f"check_images must be an int in [1, 10000]. Received: {check_images!r}.")
    _require_converter()
    out = Path(out)
    started = time.perf_counter()
    (out / "models").mkdir(parents=True, exist_ok=True)
    runtime = _vendor_runtime(out / "vendor", log)
    test = data.load_split().test
    x = test.x[:check_images]
    entries, wrong = [], {}
    for name in networks:
        t0 = time.perf_counter()
        model = nnzoo.build(name, weights="mnist", compile=False)
        digits = demo_models.keras_digits(model, x)
        wrong[name] = np.flatnonzero(digits != test.y[:check_images]).tolist()
        onnx_bytes, record = demo_models.prepare(name, x, model=model, digits=digits)
        (out / "models" / f"{name}.onnx").write_bytes(onnx_bytes)
        entries.append(_entry(name, record))
        log(f"{name}: {record['quantization']}, {record['bytes'] / 1e6:.2f} MB, the Keras digit on "
            f"{100 * record['agreement']:.2f}% of {check_images} test images "
            f"({time.perf_counter() - t0:.1f} s)")
    _copy_figures(out, entries)
    samples = _write_samples(out / "samples", test, wrong)
    for file in SITE_DIR.iterdir():
        if file.is_file():
            shutil.copyfile(file, out / file.name)
    manifest = {"format": FORMAT, "key": _build_key(networks), "runtime": runtime, "chapters": CHAPTERS,
                "networks": entries, "samples": samples, "check_images": check_images}
    manifest["page_bytes"] = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) + len(
        json.dumps(manifest, indent=1))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    log(f"site: {out} ({manifest['page_bytes'] / 1e6:.1f} MB, {time.perf_counter() - started:.0f} s)")
    return manifest


def _require_converter():
    """tf2onnx and onnxruntime, which the build converts and checks the models with."""
    import importlib.util  # noqa: PLC0415

    missing = [name for name in ("tf2onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise RuntimeError(f"Building the demo converts every network with tf2onnx and checks it with onnxruntime; "
                           f"missing: {', '.join(missing)}. Install them: pip install tf2onnx onnxruntime")


def _entry(name, record):
    from nnzoo import registry  # noqa: PLC0415

    card = registry.card(name)
    members = card.architecture.get("n_members", 0)
    return {
        "name": name,
        "chapter": card.chapter,
        "summary": card.summary,
        "architecture": _architecture(card.architecture),
        "book_call": card.book_call,
        "params": card.params,
        "book_accuracy": card.book_result.accuracy if card.book_result else None,
        "book_split": card.book_result.split if card.book_result else None,
        "experiment": card.weights.experiment,
        "accuracy": round(100 * card.weights.test_accuracy, 2),
        "book_url": registry.book_url(card.chapter),
        "members": members,
        "file": f"models/{name}.onnx",
        "figure": f"figures/{FIGURES[name]}" if name in FIGURES and (FIGURES_DIR / FIGURES[name]).exists() else None,
        **{key: record[key] for key in ("quantization", "agreement", "int8_agreement", "checked_images",
                                        "bytes", "float32_bytes", "disagreements")},
    }


def _architecture(architecture):
    """A one-line architecture: e.g. ``784-30-10 sigmoid`` or ``conv 20@5x5+pool, conv 40@5x5+pool,
    1000, 1000, 10 relu, dropout 0.5``."""
    layers = [f"conv {filters}@{size}x{size}+pool" for filters, size in architecture.get("conv", ())]
    if not layers:
        layers = ["784"]
    layers += [str(units) for units in architecture.get("hidden", ())] + ["10"]
    text = ("-" if "conv" not in architecture else ", ").join(layers) + f" {architecture['activation']}"
    if architecture.get("p_dropout"):
        text += f", dropout {architecture['p_dropout']}"
    if architecture.get("n_members"):
        text = f"{architecture['n_members']} x ({text}), plurality vote"
    return text


def _copy_figures(out, entries):
    figures = {entry["figure"] for entry in entries if entry["figure"]}
    if figures:
        (out / "figures").mkdir(exist_ok=True)
    for figure in figures:
        shutil.copyfile(FIGURES_DIR / Path(figure).name, out / figure)


def _write_samples(directory, test, wrong):
    """The 10,000 test images (uint8, gzipped) and labels, and the images the "sample" button shows: the
    first ones, interleaved with those the best networks get wrong."""
    directory.mkdir(parents=True, exist_ok=True)
    pixels = np.rint(test.x.reshape(len(test.x), -1) * 255).astype(np.uint8)
    with open(directory / "test-images.u8.gz", "wb") as file, gzip.GzipFile(fileobj=file, mode="wb", mtime=0) as gz:
        gz.write(pixels.tobytes())
    (directory / "test-labels.u8").write_bytes(test.y.astype(np.uint8).tobytes())
    hard = []
    for name in ("conv2_dropout_ensemble", "conv2_dropout", "conv2_relu_2fc1000"):
        hard += [int(i) for i in wrong.get(name, ()) if i not in hard]
    hard = hard[:SHOWCASE // 2]
    easy = [i for i in range(SHOWCASE) if i not in hard][:SHOWCASE - len(hard)]
    showcase = [k for pair in zip(easy, hard + [None] * len(easy)) for k in pair if k is not None]
    return {"images": "samples/test-images.u8.gz", "labels": "samples/test-labels.u8", "count": len(test.x),
            "showcase": showcase, "hard": hard}


def _build_key(networks):
    """What a site depends on: the demo's format, the runtime and every network's shipped weights."""
    from nnzoo import pretrained  # noqa: PLC0415

    parts = [str(FORMAT), RUNTIME["version"]] + [f"{n}:{pretrained.get(n).sha256}" for n in networks]
    parts += [f"{f.name}:{files.sha256(f)}" for f in sorted(SITE_DIR.iterdir()) if f.is_file()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def site_is_current(directory, check_images=1):
    """Whether ``directory`` holds a complete site built from today's weights, runtime and page, whose models
    were checked on at least ``check_images`` test images."""
    import nnzoo  # noqa: PLC0415

    try:
        manifest = json.loads((Path(directory) / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    names = [entry["name"] for entry in manifest.get("networks", ())]
    return (manifest.get("key") == _build_key(names) and names
            and manifest.get("check_images", 0) >= check_images
            and sorted(names) == sorted(nnzoo.list_models(pretrained=True))
            and all((Path(directory) / entry["file"]).exists() for entry in manifest["networks"]))


# ----------------------------------------------------------------------------- runtime


def _vendor_runtime(directory, log):
    """Copy the runtime's files from its npm package (``npm pack`` into the cache once) into ``directory``."""
    tarball = _runtime_tarball(log)
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball) as archive:
        for member in RUNTIME["files"]:
            source = archive.extractfile(f"package/{member}")
            (directory / Path(member).name).write_bytes(source.read())
        package = json.loads(archive.extractfile("package/package.json").read())
    (directory / "README.txt").write_text(f"{package['name']} {package['version']} from the npm registry "
                                          f"({RUNTIME['integrity']}); license: {package.get('license')}.\n")
    return {key: RUNTIME[key] for key in ("package", "version", "integrity")} | {
        "files": [f"vendor/{Path(member).name}" for member in RUNTIME["files"]]}


def _runtime_tarball(log):
    cache = _npm_cache()
    tarball = cache / f"{RUNTIME['package']}-{RUNTIME['version']}.tgz"
    if not tarball.exists() or _integrity(tarball) != RUNTIME["integrity"]:
        spec = f"{RUNTIME['package']}@{RUNTIME['version']}"
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(f"The demo vendors {spec} from the npm registry, and npm was not found. Install "
                               f"Node.js (npm), or put the package's tarball at {tarball} "
                               f"(e.g. `npm pack {spec}` on another machine).")
        cache.mkdir(parents=True, exist_ok=True)
        log(f"fetching {spec} with npm pack into {cache}")
        result = subprocess.run([npm, "pack", spec, "--pack-destination", str(cache), "--silent"],
                                capture_output=True, text=True, timeout=600)
        if result.returncode != 0 or not tarball.exists():
            raise RuntimeError(f"`npm pack {spec}` failed (exit {result.returncode}): {result.stderr[-2000:]}")
    if _integrity(tarball) != RUNTIME["integrity"]:
        raise RuntimeError(f"{tarball} does not match the pinned integrity of {RUNTIME['package']} "
                           f"{RUNTIME['version']} ({RUNTIME['integrity']}); delete it and build again.")
    return tarball


def _integrity(path):
    return "sha512-" + base64.b64encode(hashlib.sha512(Path(path).read_bytes()).digest()).decode()


# ----------------------------------------------------------------------------- serve


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with the MIME types module scripts and WebAssembly need; no request log."""

    def guess_type(self, path):
        return _MIME.get(Path(str(path)).suffix, None) or super().guess_type(path)

    def log_message(self, *args):
        pass


def server(directory, port=0):
    """An ``http.server`` serving ``directory`` on 127.0.0.1 (``port=0``: a free port), not yet started."""
    if not (Path(directory) / "index.html").exists():
        raise FileNotFoundError(f"No demo site in {directory} (index.html is missing). Build one first: "
                                f"nnzoo demo --build {directory}")
    handler = functools.partial(_Handler, directory=str(directory))
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)


def serve(directory, *, port=8000, open_browser=True):
    """Serve ``directory`` on http://127.0.0.1:PORT/ until interrupted, opening the browser on it."""
    httpd = server(directory, port)
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    print(f"nnzoo demo: serving {directory} at {url} (Ctrl-C stops)")
    if open_browser:
        threading.Timer(0.5, webbrowser.open, (url,)).start()
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


def main(args):
    """``nnzoo demo [--build DIR] [--port P] [--no-browser] [--check-images N]``."""
    try:
        if args.build:
            build(args.build, check_images=args.check_images)
            print(Path(args.build) / "index.html")
            return 0
        site = default_site()
        if site_is_current(site, args.check_images):
            print(f"nnzoo demo: reusing the site in {site}")
        else:
            build(site, check_images=args.check_images)
        return serve(site, port=args.port, open_browser=not args.no_browser)
    except (ValueError, OSError, RuntimeError) as err:
        print(f"nnzoo demo: {err}", file=sys.stderr)
        return 2
