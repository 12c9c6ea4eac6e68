"""The installed zoo: the wheel of ``pip wheel .`` carries every shipped weights file, and an install of it
loads them offline, from any directory, checked against their records.

The wheel is built from a copy of the checkout's package files (``setup.py``'s build step copies the files
``nnzoo/pretrained.json`` records from ``savedmodels/`` into ``nnzoo/_weights/``) and installed with ``pip
install --no-deps --target``; the installed nnzoo runs in a subprocess started outside the checkout, with
``PYTHONPATH`` set to the target and ``NNZOO_WEIGHTS_URL`` pointing at a closed port on 127.0.0.1.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import nnzoo
from nnzoo import pretrained

ROOT = Path(__file__).resolve().parent.parent
#: What a source distribution of nnzoo holds: enough to build the wheel.
SOURCES = ("setup.py", "setup.cfg", "pyproject.toml", "README.md", "nnzoo_command.py", "nnzoo", "savedmodels")
LOADED = ("shallow_softmax", "conv2_dropout")  # a weights file and a SavedModel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """``pip wheel`` of a copy of the checkout (offline: no build isolation); its path and build time."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "_weights", "*.egg-info"))
        else:
            shutil.copy(ROOT / name, source / name)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                             "-q", "-w", str(root / "dist"), str(source)], capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    built, = (root / "dist").glob("nnzoo-*.whl")
    print(f"\nwheel {built.name}: {built.stat().st_size / 1e6:.1f} MB, built in {seconds:.1f} s")
    return built, seconds


def _install(wheel_file, target):
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target",
                             str(target), str(wheel_file)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return target


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens there


def _run_installed(target, script, tmp_path, *args):
    """Run ``script`` with the installed nnzoo, from a directory outside the checkout, offline."""
    env = {k: v for k, v in os.environ.items() if k not in ("NNZOO_WEIGHTS_DIR", "PYTHONPATH")}
    env.update(PYTHONPATH=str(target), NNZOO_WEIGHTS_URL=f"http://127.0.0.1:{_closed_port()}/weights/",
               KERAS_HOME=str(tmp_path / "keras-home"), TF_CPP_MIN_LOG_LEVEL="3")
    workdir = tmp_path / "elsewhere"
    workdir.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script), *map(str, args)], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_wheel_carries_every_shipped_file_once_and_builds_fast(wheel):
    built, seconds = wheel
    with zipfile.ZipFile(built) as archive:
        names = set(archive.namelist())
    for name in pretrained.names():
        record = pretrained.get(name)
        source = pretrained.CHECKOUT_DIR / record.file
        expected = ([p.relative_to(pretrained.CHECKOUT_DIR).as_posix() for p in source.rglob("*") if p.is_file()]
                    if record.is_saved_model else [record.file])
        assert {f"nnzoo/_weights/{file}" for file in expected} <= names, name
    assert not any(name.startswith("savedmodels/") for name in names), "the weights are in the wheel once"
    assert "nnzoo/pretrained.json" in names
    assert seconds < 60, f"building the wheel took {seconds:.0f} s"


def test_the_installed_zoo_loads_shipped_weights_offline_from_anywhere(wheel, tmp_path):
    target = _install(wheel[0], tmp_path / "site")
    x = np.random.default_rng(0).uniform(0.0, 1.0, (8, 28, 28, 1)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    script = f"""
        import json, sys, numpy as np
        import nnzoo
        from nnzoo import pretrained
        x = np.load(sys.argv[1])
        out = {{"file": nnzoo.__file__, "available": all(pretrained.available(pretrained.get(n))
                                                          for n in pretrained.names())}}
        for name in {list(LOADED)!r}:
            out[name] = nnzoo.build(name, weights="mnist", compile=False).predict(x, verbose=0).tolist()
        print(json.dumps(out))
    """
    result = _run_installed(target, script, tmp_path, tmp_path / "x.npy")
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(out["file"]).resolve().is_relative_to(target.resolve())
    assert out["available"]
    for name in LOADED:
        expected = nnzoo.build(name, weights="mnist", compile=False).predict(x, verbose=0)
        np.testing.assert_array_equal(np.array(out[name], dtype="float32"), expected)


def test_an_installed_file_tampered_with_or_missing_is_named(wheel, tmp_path):
    target = _install(wheel[0], tmp_path / "site")
    record = pretrained.get(LOADED[0])
    installed = target / "nnzoo" / "_weights" / record.file
    content = bytearray(installed.read_bytes())
    content[-100] ^= 0xFF
    installed.write_bytes(bytes(content))
    script = f"""
        import sys
        from pathlib import Path
        import nnzoo, nnzoo.cli
        for step in ("TAMPERED", "MISSING"):
            try:
                nnzoo.build({record.name!r}, weights="mnist")
            except ValueError as err:
                print(step, " ".join(str(err).split()))
            Path(sys.argv[1]).unlink(missing_ok=True)  # then no copy anywhere, and the download fails
        nnzoo.cli.main(["list", "--pretrained"])
    """
    result = _run_installed(target, script, tmp_path, installed)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    tampered, = (line for line in lines if line.startswith("TAMPERED"))
    assert f"The weights file {str(installed)!r}" in tampered and "corrupt or was modified" in tampered
    missing, = (line for line in lines if line.startswith("MISSING"))  # one message: the places looked and the fix
    for place in ("NNZOO_WEIGHTS_DIR (unset)", f"the installed package ({target / 'nnzoo' / '_weights'}",
                  "the Keras cache", "downloading http://127.0.0.1:", "pip install"):
        assert place in missing, missing
    rows = {line.split()[0]: line for line in lines if line.strip()}
    assert "test*" in rows[record.name] and "test*" not in rows[LOADED[1]]
    assert "* weights not on this machine (1)" in result.stdout
