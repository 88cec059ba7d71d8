"""The package's layers: every import points down (or within its layer), families do not import
each other, and no module imports itself back through others. Read from the source (every
import statement, also those inside functions), so nothing has to be imported to check it."""

from __future__ import annotations

import ast
from pathlib import Path

import fairseq_stilts

PACKAGE = Path(fairseq_stilts.__file__).parent
# Lowest first. The package root (fairseq_stilts/__init__.py) is the plugin's entry point: it
# imports what registers with fairseq and stands above every layer.
LAYERS = (
    ("errors", "writes", "runtime", "checkpoint_safety", "progress"),
    ("registry", "specs", "metrics"),
    ("data",),
    ("families", "models", "optim"),
    ("multitask",),
    ("plugin",),
    ("results", "convert", "tiny", "xtreme"),
    ("grid",),
    ("cli",),
)


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if "evaluate_modules" in parts:  # scripts for Hugging Face evaluate, loaded by path
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """The package's modules that ``path`` imports (``from a import b`` counts ``a.b`` when
    that is a module)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                names.add(submodule if submodule in MODULES else node.module)
    return {name for name in names if name in MODULES}


GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _layer(module: str) -> int:
    top = module.split(".")[1]
    return next(i for i, layer in enumerate(LAYERS) if top in layer)


def test_every_module_has_a_layer():
    tops = {name.split(".")[1] for name in MODULES if name != "fairseq_stilts"}
    assert tops == {top for layer in LAYERS for top in layer}


def test_no_import_points_upward():
    upward = [
        f"{module} -> {imported}"
        for module, imports in GRAPH.items()
        if module != "fairseq_stilts"
        for imported in imports
        if imported == "fairseq_stilts" or _layer(imported) > _layer(module)
    ]
    assert upward == []


def test_families_do_not_import_each_other():
    def family(module: str) -> str | None:
        parts = module.split(".")
        return parts[2] if len(parts) > 3 and parts[1] == "families" else None

    sideways = [
        f"{module} -> {imported}"
        for module, imports in GRAPH.items()
        for imported in imports
        if family(module) and family(imported) and family(module) != family(imported)
    ]
    assert sideways == []


def test_no_import_cycle():
    """Depth-first search for a module that reaches itself (a package's ``__init__`` importing
    its own submodules is not a cycle: they import the modules they use, not the package)."""
    state: dict[str, str] = {}
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for imported in GRAPH[module]:
            if imported == module or module.startswith(imported + "."):
                continue  # a package's own name, or a submodule naming its package
            if state.get(imported) == "open":
                cycles.append(path[path.index(imported) :] + [imported])
            elif imported not in state:
                visit(imported, [*path, imported])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert cycles == []
