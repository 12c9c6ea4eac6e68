"""The demo's measurements, written to bench/results/demo.json (#32).

    NNZOO_DATA_DIR=... python tests/browser/measure.py [--site DIR] [--out bench/results/demo.json]

Builds the site with the full check (every network's ONNX model against the Keras model on all 10,000 test
images; or takes a built one with --site), serves it on 127.0.0.1 and opens it in headless Chromium
(check_site.mjs) COLD times, each in a fresh browser on ``index.html?sample=K``: the time from the page's
start to the first answer and to all 22. Then the single-image speed of every network in the page. Records
the page weight by part and, for comparison, the size of TF.js's runtime (``@tensorflow/tfjs`` and
``@tensorflow/tfjs-backend-wasm``, from their npm packages) against ONNX Runtime Web's.
"""

import argparse
import datetime
import json
import platform
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TFJS = {"@tensorflow/tfjs@4.22.0": ("dist/tf.min.js",),
        "@tensorflow/tfjs-backend-wasm@4.22.0": ("dist/tf-backend-wasm.min.js", "dist/tfjs-backend-wasm-simd.wasm")}


def _driver(url, *arguments):
    done = subprocess.run(["node", str(HERE / "check_site.mjs"), url, *arguments], capture_output=True, text=True,
                          timeout=600, check=True)
    result = json.loads(done.stdout)
    if result["errors"]:
        raise RuntimeError(f"the page reported errors: {result['errors']}")
    return result


def _tfjs_runtime_bytes(cache):
    """The bytes TF.js's wasm backend would add to the page, from its npm packages (npm pack into cache)."""
    sizes = {}
    for spec, files in TFJS.items():
        name, version = spec.rsplit("@", 1)
        tarball = cache / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
        if not tarball.exists():
            subprocess.run(["npm", "pack", spec, "--pack-destination", str(cache), "--silent"], check=True,
                           capture_output=True)
        with tarfile.open(tarball) as archive:
            for file in files:
                sizes[f"{spec}/{file}"] = archive.getmember(f"package/{file}").size
    return sizes


def _part(path):
    top = path.parts[0] if len(path.parts) > 1 else "page"
    return {"vendor": "runtime", "models": "models", "samples": "samples", "figures": "figures"}.get(top, "page")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="a site built with the full check (default: build one in /tmp)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "demo.json")
    parser.add_argument("--cold", type=int, default=3, help="cold page loads to time")
    args = parser.parse_args(argv)

    from nnzoo import demo  # noqa: PLC0415

    site = args.site or Path("/tmp/nnzoo-demo-measure")
    if args.site is None or not (site / "manifest.json").exists():
        demo.build(site, check_images=10000)
    manifest = json.loads((site / "manifest.json").read_text())
    if manifest["check_images"] != 10000:
        raise SystemExit(f"{site} was built with --check-images {manifest['check_images']}; expected 10000.")
    httpd = demo.server(site, port=0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    cold = [_driver(url, "--samples", str(k))["timings"] for k in range(args.cold)]
    speeds = _driver(url, "--samples", "0", "--bench", "200")["images_per_s"]
    httpd.shutdown()

    weight = {}
    for file in site.rglob("*"):
        if file.is_file():
            part = _part(file.relative_to(site))
            weight[part] = weight.get(part, 0) + file.stat().st_size
    chromium = subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout.strip()
    results = {
        "what": "nnzoo demo: page weight, cold load times in headless Chromium, per-network agreement of the "
                "shipped ONNX model with the Keras model on the 10,000 official test images, single-image speed",
        "date": datetime.date.today().isoformat(),
        "command": "NNZOO_DATA_DIR=... python tests/browser/measure.py",
        "machine": f"{platform.processor() or platform.machine()}, {chromium}, headless, shared 2-core VM",
        "runtime": manifest["runtime"],
        "page_bytes": sum(weight.values()),
        "page_bytes_by_part": weight,
        "tfjs_runtime_bytes": _tfjs_runtime_bytes(demo._npm_cache()),
        "ort_runtime_bytes": weight["runtime"],
        "cold_loads": [{"first_answer_ms": round(t["first_answer_ms"]), "all_answers_ms": round(t["all_answers_ms"])}
                       for t in cold],
        "networks": [{key: entry[key] for key in ("name", "quantization", "bytes", "float32_bytes", "agreement",
                                                  "int8_agreement", "checked_images", "disagreements", "accuracy",
                                                  "book_accuracy")}
                     | {"images_per_s": speeds.get(entry["name"])} for entry in manifest["networks"]],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps({k: results[k] for k in ("page_bytes", "page_bytes_by_part", "cold_loads")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
