"""Build step: every install of nnzoo is a stocked zoo.

setuptools reads the metadata from setup.cfg; this file adds one step to
``build_py``: the shipped weights that ``nnzoo/pretrained.json`` records are
copied from the checkout's ``savedmodels/`` (their one source: nothing is
committed twice) into the built package's ``nnzoo/_weights/``, each checked
against its record's SHA-256, so ``pip install .`` and the wheel of ``pip wheel
.`` carry all of them and ``nnzoo.build(NAME, weights="mnist")`` works offline
from any directory. A missing or modified file stops the build with its name.
An editable install (``pip install -e .``) reads ``savedmodels/`` in place and
copies nothing.
"""

import importlib.util
import json
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHELF = ROOT / "savedmodels"
TABLE = ROOT / "nnzoo" / "pretrained.json"
#: The weights' directory inside the package (nnzoo.pretrained.PACKAGE_DIR).
PACKAGED = Path("nnzoo") / "_weights"


def _files_module():
    """nnzoo/files.py (standard library only) without importing nnzoo, which needs TensorFlow."""
    spec = importlib.util.spec_from_file_location("_nnzoo_files", ROOT / "nnzoo" / "files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def copy_weights(target):
    """Copy each recorded file (a SavedModel: its version directory) from ``savedmodels/`` into ``target``,
    checking its SHA-256; return the number of bytes copied."""
    files = _files_module()
    shutil.rmtree(target, ignore_errors=True)
    copied = 0
    for row in json.loads(TABLE.read_text()):
        source, destination = SHELF / row["file"], Path(target) / row["file"]
        saved_model = row.get("format") == "savedmodel"
        if not (source.is_dir() if saved_model else source.is_file()):
            raise SystemExit(f"nnzoo build: {source} is missing; nnzoo/pretrained.json records it for "
                             f"{row['name']!r}. Build from a full checkout (git lfs pull if it uses LFS).")
        digest = files.tree_sha256(source) if saved_model else files.sha256(source)
        if digest != row["sha256"]:
            raise SystemExit(f"nnzoo build: {source} does not match its record (SHA-256 {digest}, "
                             f"nnzoo/pretrained.json says {row['sha256']}). Restore it: git checkout -- {source}")
        destination.parent.mkdir(parents=True, exist_ok=True)
        if saved_model:
            shutil.copytree(source, destination)
        else:
            shutil.copyfile(source, destination)
        copied += row["size"]
    return copied


class BuildWithWeights(build_py):
    """``build_py`` plus the shipped weights (``copy_weights``), except for an editable install."""

    def run(self):
        super().run()
        if not getattr(self, "editable_mode", False) and not self.dry_run:
            copied = copy_weights(Path(self.build_lib) / PACKAGED)
            print(f"nnzoo: copied {copied:,} bytes of shipped weights into {PACKAGED}")


setup(cmdclass={"build_py": BuildWithWeights})
