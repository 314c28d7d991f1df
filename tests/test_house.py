"""House rules of the package's source, read from the source itself (nothing is imported).

Import cycles: no two modules of the package may import each other, directly or through others,
whether the imports run at module level or inside a function: a module-level cycle makes the
result depend on which module is imported first, and an import inside a function that reaches back
into a module importing it is the same tangle, hidden (it fails only when the function runs).  The
scan counts the two kinds apart to say where each edge is.  Imports under ``if TYPE_CHECKING:``
never run and are not counted; registry tables that name ``"module:Class"`` strings are not imports.

Size: every file under 400 lines and every function under 60, but for the few listed below, each
with the reason it is long."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Where each part of the package lives in the repository (pruneeval.trainers and pruneeval.tasks are
# mapped from top-level folders by pyproject.toml's package-dir).
ROOTS = {"pruneeval": REPO / "pruneeval", "pruneeval.trainers": REPO / "trainers", "pruneeval.tasks": REPO / "tasks"}

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
# Listed exceptions: path (or path::function) -> why it is long.
LONG_FILES: dict[str, str] = {}
LONG_FUNCTIONS = {
    "pruneeval/report/plots.py::length_accuracy_figure": "draws the three panels of one figure in turn (Table 1 bars, "
                                                         "the difficulty split, per-problem scatters), mostly matplotlib "
                                                         "styling calls",
}


def package_modules(roots: dict = ROOTS) -> dict[str, Path]:
    """Dotted module name -> source file, for every .py file of the package."""
    modules = {}
    for package, root in roots.items():
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join((package, *parts))] = path
    return modules


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == "TYPE_CHECKING"


def _imports(tree: ast.AST, in_function: bool = False):
    """(import node, inside a function?) for every import that can run: imports under
    ``if TYPE_CHECKING:`` are skipped (their ``else:`` branch is not)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, in_function
        elif isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]), in_function)
        else:
            inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            yield from _imports(node, inner)


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: dict) -> list[str]:
    """The package's modules an import statement in ``module`` loads (others are left out)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            anchor = module.split(".") if is_package else module.split(".")[:-1]
            anchor = anchor[:len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, *([base] if base else [])])
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
    found = []
    for name in names:
        while name and name not in modules:  # `import pruneeval.x.y` names y; a name from a module, its module
            name = name.rpartition(".")[0]
        parts = name.split(".")
        # Loading a.b.c first runs the packages a.b and a; those the importer sits in are loading already.
        for loaded in (".".join(parts[:i]) for i in range(1, len(parts) + 1)):
            inside = module == loaded or module.startswith(loaded + ".")
            if loaded in modules and not inside and loaded not in found:
                found.append(loaded)
    return found


def import_graph(roots: dict = ROOTS) -> tuple[dict, dict]:
    """Module-level and in-function import edges, counted apart: {(importer, imported): "file:line"} each."""
    modules = package_modules(roots)
    top, inner = {}, {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        for node, in_function in _imports(tree):
            for target in _targets(node, module, path.name == "__init__.py", modules):
                edges = inner if in_function else top
                where = path.relative_to(REPO) if path.is_relative_to(REPO) else path
                edges.setdefault((module, target), f"{where}:{node.lineno}")
    return top, inner


def cycles(edges: dict) -> list[list[str]]:
    """Every elementary cycle of the graph, each started at its smallest module name."""
    succ = defaultdict(list)
    for a, b in sorted(edges):
        succ[a].append(b)
    found = []

    def walk(start: str, path: list[str]) -> None:
        for nxt in succ[path[-1]]:
            if nxt == start:
                found.append([*path, start])
            elif nxt > start and nxt not in path:
                walk(start, [*path, nxt])

    for start in sorted(succ):
        walk(start, [start])
    return found


def _describe(cycle: list[str], edges: dict) -> str:
    return " -> ".join(cycle) + "\n" + "".join(f"      {a} -> {b}: {edges[a, b]}\n"
                                              for a, b in zip(cycle, cycle[1:]))


def test_no_import_cycle():
    top, inner = import_graph()
    assert len(package_modules()) > 50 and len(top) > 100 and len(inner) > 30  # the scan saw the package
    edges = {**inner, **top}
    found = cycles(edges)
    assert not found, f"{len(found)} import cycles:\n" + "".join(
        f"  {i}. {_describe(c, edges)}" for i, c in enumerate(found, 1))


def test_the_scan_tells_module_level_cycles_from_in_function_ones(tmp_path):
    files = {
        "__init__.py": "from .a import x\n",
        "a.py": "from . import b\nx = 1\n",
        "b.py": "import pkg.sub.c as c\n\ndef later():\n    from .a import x\n",
        "sub/__init__.py": "",
        "sub/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import x\n"
                    "class C:\n    from .. import b\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    top, inner = import_graph({"pkg": tmp_path})
    assert set(top) == {("pkg", "pkg.a"), ("pkg.a", "pkg.b"), ("pkg.b", "pkg.sub"), ("pkg.b", "pkg.sub.c"),
                        ("pkg.sub.c", "pkg.b")}  # a class body runs at import; TYPE_CHECKING never does
    assert set(inner) == {("pkg.b", "pkg.a")}
    assert cycles(top) == [["pkg.b", "pkg.sub.c", "pkg.b"]]
    assert cycles({**top, **inner}) == [["pkg.a", "pkg.b", "pkg.a"], ["pkg.b", "pkg.sub.c", "pkg.b"]]


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines())


def _functions(path: Path):
    """(qualified name, lines) of every function and method of a file, nested ones too."""
    def walk(node: ast.AST, prefix: str):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    yield name, child.end_lineno - child.lineno + 1
                yield from walk(child, name + ".")
            else:
                yield from walk(child, prefix)

    yield from walk(ast.parse(path.read_text(), str(path)), "")


def test_files_and_functions_stay_small():
    files = {str(p.relative_to(REPO)): p for p in package_modules().values()}
    long_files = {f: _lines(p) for f, p in files.items() if _lines(p) >= MAX_FILE_LINES}
    long_functions = {f"{f}::{name}": n for f, p in files.items() for name, n in _functions(p)
                      if n >= MAX_FUNCTION_LINES}
    problems = [f"{f}: {n} lines (at most {MAX_FILE_LINES - 1})" for f, n in long_files.items() if f not in LONG_FILES]
    problems += [f"{f}: {n} lines (at most {MAX_FUNCTION_LINES - 1})" for f, n in long_functions.items()
                 if f not in LONG_FUNCTIONS]
    problems += [f"{f}: listed as long, but is not (any more): take it off the list"
                 for f in sorted({*LONG_FILES, *LONG_FUNCTIONS} - {*long_files, *long_functions})]
    assert not problems, "\n".join(problems)
    assert all(isinstance(why, str) and len(why) > 20 for why in {**LONG_FILES, **LONG_FUNCTIONS}.values())
