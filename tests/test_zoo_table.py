"""The README's zoo table is exactly what ``python -m nnzoo.zoo_table`` renders from the cards and pretrained.json."""

import subprocess
import sys
from pathlib import Path

import pytest

from nnzoo import registry, zoo_table

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_holds_the_rendered_table():
    text = README.read_text(encoding="utf-8")
    assert zoo_table.replace_in(text) == text, "the README's zoo table is stale: run python -m nnzoo.zoo_table --write"


def test_every_network_has_a_row_with_the_book_and_the_measured_number():
    table = zoo_table.markdown()
    assert len(table.splitlines()) == 2 + len(registry.list_models())
    assert "| `conv2_dropout` | 6 |" in table and "| 1,672,570 | 99.60% test (C6-11) | 99.60% test (C6-11) |" in table
    assert "| `network2_100` |" in table and "98.04% val (C3-12)" in table
    cells = [cell for line in table.splitlines() for cell in line.split("|")]
    assert max(map(len, cells)) <= 200


def test_a_stale_table_is_replaced_and_missing_markers_are_an_error():
    stale = f"intro\n{zoo_table.BEGIN}\n| old |\n{zoo_table.END}\nrest\n"
    fresh = zoo_table.replace_in(stale)
    assert "| old |" not in fresh and fresh.startswith("intro\n") and fresh.endswith(f"{zoo_table.END}\nrest\n")
    with pytest.raises(ValueError, match="markers"):
        zoo_table.replace_in("a README without the markers")


def test_the_command_prints_the_table():
    done = subprocess.run([sys.executable, "-m", "nnzoo.zoo_table"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == zoo_table.markdown()
