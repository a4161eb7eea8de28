"""Spyne 2.14 on Python 3.12 and later: the modules of its ``six.moves``, served by ``six``.

Spyne 2.14.0, its last release, vendors six 1.14 as ``spyne.util.six``. That six serves the
modules of ``six.moves`` (``spyne.util.six.moves.collections_abc``, ``...moves.urllib.parse``,
``...moves.http_cookies``) through an import hook with only PEP 302's ``find_module`` and
``load_module``; Python 3.12 no longer falls back to those, so ``import spyne`` fails with
``No module named 'spyne.util.six.moves'`` (Spyne issues #700, #708, #711). six 1.16 has the
PEP 451 hook. The rest of the vendored six works, and Spyne calls the function it added to it
(``get_function_name``), so the vendored module stays and only its moves change hands:
``MovesFinder`` imports ``spyne.util.six.moves`` and every name below it as the same name of
``six`` (``six.moves.urllib.parse``...), the very modules Spyne gets on 3.11. It is used on 3.11
too, so that every Python runs the same path.

The finder must be on ``sys.meta_path`` before Spyne is first imported (``spyne/__init__.py``
imports a move). Rather than a line before each import of Spyne, one place that every way in
goes through: the package's ``__init__`` imports this module, and Python runs it before any
module of the package. So ``soap_usestats.wsgi`` under gunicorn, the ``soap-usestats`` command,
``python -m soap_usestats``, the tests (``tests/conftest.py`` imports the package before any
test module) and the benchmarks all have the finder before the SOAP layer imports Spyne, and
the layers keep their one-way imports (``tests/test_layout.py``): none imports this module. A
module outside the package that imports Spyne alone imports this module first
(``benchmarks/noop_app.py``); ``tests/test_spyne_compat.py`` checks every way in.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType

import six  # noqa: F401 - so that its finder comes before the dead one of Spyne's six

SPYNE_SIX = "spyne.util.six"
MOVES = SPYNE_SIX + ".moves"


class MovesFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``spyne.util.six.moves[.name]`` as ``six.moves[.name]``."""

    def find_spec(self, fullname: str, path=None, target=None) -> ModuleSpec | None:
        if fullname == MOVES or fullname.startswith(MOVES + "."):
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec: ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        """Puts six's module in ``sys.modules``: the import system returns what is there."""
        name = module.__name__
        sys.modules[name] = importlib.import_module("six" + name.removeprefix(SPYNE_SIX))


if not any(isinstance(finder, MovesFinder) for finder in sys.meta_path):
    sys.meta_path.append(MovesFinder())
