"""The import graph of nnzoo/ has no cycle (#14), counting imports inside functions too."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nnzoo"


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path, modules):
    """The nnzoo modules ``path`` imports, anywhere in it (``from nnzoo import x`` counts x when it is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nnzoo"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in modules else node.module)
    return found - {"nnzoo"}  # the package's own __init__ only re-exports


def graph():
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: _imports(path, set(paths)) - {name} for name, path in paths.items() if name != "nnzoo"}


def _cycle(edges):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_import_graph_has_no_cycle():
    edges = graph()
    assert len(edges) > 20 and "nnzoo.training" in edges["nnzoo.runner"]  # function-level imports count too
    assert _cycle(edges) is None, " -> ".join(_cycle(edges))


def test_the_training_layer_does_not_import_the_experiments_table():
    assert "nnzoo.experiments" not in graph()["nnzoo.training"]


def test_the_check_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_experiments_table_says_where_its_runner_went():
    from nnzoo import experiments, runner

    assert runner.train.__module__ == "nnzoo.runner"
    with pytest.raises(AttributeError, match=r"nnzoo.experiments.run moved to nnzoo.runner.run"):
        experiments.run  # noqa: B018
