"""House rules that keep the code readable: small modules, declared public names, documented modules."""

from __future__ import annotations

import ast
import importlib
import statistics
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "monitor"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_module_is_over_400_lines_and_the_median_is_under_250() -> None:
    sizes = {p: len(p.read_text(encoding="utf-8").splitlines()) for p in MODULES}
    too_big = {str(p.relative_to(PACKAGE)): n for p, n in sizes.items() if n > 400}
    assert not too_big
    assert statistics.median(sizes.values()) < 250


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_module_has_a_docstring_and_a_sorted_all_matching_its_public_names(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), "module docstring missing"
    if path.name == "__main__.py":
        return
    module = importlib.import_module(module_name(path))
    exported = getattr(module, "__all__", None)
    assert exported is not None, "__all__ missing"
    assert list(exported) == sorted(exported), "__all__ not sorted"
    defined = {
        node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    } | {
        t.id
        for node in tree.body
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(t, ast.Name)
    }
    public = {name for name in defined if not name.startswith("_")}
    assert public <= set(exported), f"public but not in __all__: {sorted(public - set(exported))}"
    for name in exported:
        assert hasattr(module, name), f"__all__ names {name!r} which the module lacks"
