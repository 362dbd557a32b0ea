"""The folder tree is the architecture: no module imports from a layer above its own (STYLE.md)."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "openfoley"

# Lowest first. A module may import from its own layer or any layer below.
LAYERS = [
    {"errors", "config", "runtime"},
    {"io"},
    {"features", "checkpoint", "nn"},
    {"data"},
    {"encoders", "alignment", "flow", "vocoder"},
    {"model"},
    {"training"},
    {"pipeline"},
    {"lite"},
    {"evaluation"},
    {"benchmark"},
    {"serve"},
    {"cli", "__main__"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _component(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for n in names:
            parts = n.split(".")
            if parts[0] == "openfoley" and len(parts) > 1:
                found.add(parts[1])
    return found


def _modules():
    return sorted(p for p in PKG.rglob("*.py") if _component(p) != "__init__")


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_no_upward_imports(path):
    me = _component(path)
    assert me in RANK, f"{me} is not placed in a layer; add it to LAYERS in {__file__}"
    for other in _imports(path):
        if other in ("__version__",):
            continue
        assert other in RANK, f"{path.name} imports unknown component openfoley.{other}"
        assert RANK[other] <= RANK[me], (
            f"{path.relative_to(PKG)} (layer {RANK[me]}: {me}) imports openfoley.{other} "
            f"(layer {RANK[other]}), which is above it"
        )


def test_import_scanner_sees_imports(tmp_path):
    """The scanner must see both import forms, or the test above could never fail."""
    p = tmp_path / "x.py"
    p.write_text("import openfoley.flow.path\nfrom openfoley.model import build\nfrom openfoley import io\n")
    assert _imports(p) == {"flow", "model", "io"}
    assert RANK["model"] > RANK["io"]
