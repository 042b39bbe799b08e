"""The folders are the architecture: imports go app -> evaluation -> ingest -> core -> kernels, never upward.

Only the app imports Qt; kernels import only torch, triton and the standard library.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["app", "evaluation", "ingest", "core", "kernels"]  # each may import only those after it


def imported_packages(path: Path, layer: str) -> set[str]:
    """Top-level names a module imports, with memsa-internal imports resolved to their layer name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: stays inside the module's own layer
                names.add(f"memsa.{layer}")
            elif node.module:
                names.add(node.module)
    resolved = set()
    for name in names:
        parts = name.split(".")
        resolved.add(f"memsa.{parts[1]}" if parts[0] == "memsa" and len(parts) > 1 else parts[0])
    return resolved


def modules_of(layer: str) -> list[Path]:
    return sorted((ROOT / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", LAYERS)
def test_imports_only_go_down(layer: str) -> None:
    above = {f"memsa.{name}" for name in LAYERS[: LAYERS.index(layer)]}
    for path in modules_of(layer):
        upward = imported_packages(path, layer) & above
        assert not upward, f"{path.relative_to(ROOT)} imports {sorted(upward)}, a layer above {layer}"


@pytest.mark.parametrize("layer", ["evaluation", "core", "ingest", "kernels"])
def test_no_qt_below_the_app(layer: str) -> None:
    for path in modules_of(layer):
        qt = {name for name in imported_packages(path, layer) if name.startswith(("PySide6", "PyQt"))}
        assert not qt, f"{path.relative_to(ROOT)} imports Qt"


def test_kernels_import_only_torch_triton_and_the_standard_library() -> None:
    allowed = {"torch", "triton", "memsa.kernels", "__future__"} | set(sys.stdlib_module_names)
    for path in modules_of("kernels"):
        extra = imported_packages(path, "kernels") - allowed
        assert not extra, f"{path.relative_to(ROOT)} imports {sorted(extra)}"


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("from memsa.app.cli import main\nimport PySide6.QtCore\nfrom . import sibling\n")
    assert imported_packages(module, "core") == {"memsa.app", "PySide6", "memsa.core"}
