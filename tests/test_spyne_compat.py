"""Spyne's ``six.moves`` on Python 3.12+ (``soap_usestats.spyne_compat``), and every way in
installing its finder before Spyne is imported.

Each check runs in a new interpreter: this one has imported Spyne long ago. The other
Pythons run the whole service in ``tests/test_pythons.py``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

#: Python 3.11 still falls back to ``find_module`` but warns; 3.12 and later skip such a finder.
MOVES_WITHOUT_THE_FALLBACK = """
import collections.abc, http.cookies, urllib.error, urllib.parse, urllib.request, warnings
import soap_usestats, spyne
warnings.simplefilter("error", ImportWarning)
from spyne.util.six.moves.collections_abc import MutableSet
from spyne.util.six.moves.http_cookies import SimpleCookie
from spyne.util.six.moves.urllib.error import HTTPError
from spyne.util.six.moves.urllib.parse import quote, unquote
from spyne.util.six.moves.urllib.request import Request, urlopen
from spyne.util import six
assert MutableSet is collections.abc.MutableSet and SimpleCookie is http.cookies.SimpleCookie
assert HTTPError is urllib.error.HTTPError and unquote is urllib.parse.unquote
assert Request is urllib.request.Request
assert six.get_function_name(len) == "len"  # Spyne's own addition to its six stays
"""

#: Fails the import of ``modules`` if one imports Spyne before the finder is in place.
SPYNE_AFTER_THE_FINDER = """
import importlib.abc, sys

class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "spyne" and "soap_usestats.spyne_compat" not in sys.modules:
            raise SystemExit("Spyne is imported before soap_usestats.spyne_compat")

sys.meta_path.insert(0, Watch())
import {modules}
"""


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_spynes_moves_import_without_the_fallback_python_312_removed():
    result = run(MOVES_WITHOUT_THE_FALLBACK)
    assert result.returncode == 0, result.stderr


def _imports_spyne(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        if any(name.split(".")[0] == "spyne" for name in names):
            return True
    return False


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def ways_in() -> list[str]:
    """What imports Spyne first, in the order Python imports it: gunicorn's entry point, any
    module of the package, and each module outside it that imports Spyne; a test module is
    imported after the conftest files above it, as pytest does."""
    ways = ["soap_usestats.wsgi", "soap_usestats.soap.service"]
    for folder in ("tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if _imports_spyne(path):
                conftests = [parent / "conftest.py" for parent in reversed(path.parents)
                             if parent.is_relative_to(ROOT / "tests") and (parent / "conftest.py").exists()]
                ways.append(", ".join(_module(p) for p in [*conftests, path]))
    return ways


@pytest.mark.parametrize("modules", ways_in())
def test_every_way_in_installs_the_finder_before_spyne(modules):
    result = run(SPYNE_AFTER_THE_FINDER.format(modules=modules))
    assert result.returncode == 0, result.stderr

