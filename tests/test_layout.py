"""The architecture, as the imports show it: from the WSGI edge down to the engine, never up.

web -> soap -> federation -> domain -> auth -> access -> ledger -> moodle -> timemodel; the flat modules
(config, exceptions, namespaces, contexts, wwwroots) are shared by all. Nothing below the
SOAP layer imports Spyne.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "soap_usestats"
LAYERS = ["timemodel", "moodle", "ledger", "access", "auth", "domain", "federation", "soap", "web"]
SHARED = {"config", "exceptions", "namespaces", "contexts", "wwwroots"}


def imports(path: Path) -> set[str]:
    """The soap_usestats modules and the third-party top-level packages ``path`` imports."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            found |= {base} if node.module else {f"{base}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "soap_usestats" or len(parts) < 2:
        return None
    return parts[1]


@pytest.mark.parametrize("path", sorted(p for name in LAYERS for p in (PACKAGE / name).glob("*.py")),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_down_the_layers(path):
    own = LAYERS.index(path.parent.name)
    for module in imports(path):
        other = layer(module)
        if other in LAYERS:
            assert LAYERS.index(other) <= own, f"{path.name} imports {module}, a layer above"
        if module.split(".")[0] == "spyne":
            assert own >= LAYERS.index("soap"), f"{path.name} imports Spyne below the SOAP layer"


@pytest.mark.parametrize("name", sorted(SHARED))
def test_the_shared_modules_import_no_layer_but_the_engines_settings(name):
    for module in imports(PACKAGE / f"{name}.py"):
        assert layer(module) in (None, *SHARED, "timemodel"), f"{name}.py imports {module}"
