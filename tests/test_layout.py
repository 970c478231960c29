"""The source layout: no import cycle between relukit's modules.

The import graph is read from the source with :mod:`ast`: every ``import`` and
``from ... import`` of a relukit module counts, at module level or inside a function
(an import inside a function only hides a cycle until the function runs). Imports under
``if TYPE_CHECKING:`` never run and do not count. ``from relukit.a import b`` is an edge
to ``relukit.a.b`` when that is a module, else to ``relukit.a``.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "relukit"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in PKG.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, package: str) -> set[str]:
    """The relukit modules imported anywhere in ``tree`` (TYPE_CHECKING blocks excepted)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            for a in node.names:
                sub = f"{base}.{a.name}"
                found.add(sub if sub in MODULES else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m in MODULES}


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for name, path in MODULES.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[name] = _imports(tree, package) - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = dfs(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = dfs(node)
            if found:
                return found
    return None


def test_the_graph_sees_function_level_imports():
    graph = import_graph()
    assert "relukit.catalogue" in graph["relukit.activations.rectifiers"]
    # relukit.jax imports relukit.catalogue's ``get`` inside ``make`` as well
    assert "relukit.catalogue" in graph["relukit.jax"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


#: the modules outside the kernel layer and the torch front end
CORE = {m for m in MODULES if not m.startswith(("relukit._kernels", "relukit.torch"))}


def test_no_import_cycle_outside_the_kernel_layer():
    graph = import_graph()
    core = {m: {n for n in graph[m] if n in CORE} for m in CORE}
    assert find_cycle(core) is None


def test_no_import_cycle_at_all():
    assert find_cycle(import_graph()) is None


def _defined(module: str) -> set[str]:
    """The names a module defines at its top level (functions, classes, assignments)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def test_the_front_ends_reached_by_name_exist_and_offer_what_dispatch_calls():
    # relukit._dispatch hands torch tensors and JAX arrays to relukit.torch and relukit.jax
    # by module name (those are built on it: an import would be a cycle); the static check
    # an import statement would give is made here instead
    from relukit._dispatch import FRONT_ENDS

    assert set(FRONT_ENDS) == {"torch", "jax"}
    assert {"plan", "apply", "apply_gated"} <= _defined(FRONT_ENDS["torch"])
    assert "make" in _defined(FRONT_ENDS["jax"])
    graph = import_graph()
    assert not set(FRONT_ENDS.values()) & graph["relukit._dispatch"]
