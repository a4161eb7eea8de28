"""The supported Pythons (setup.cfg's classifiers), the lock's pins, and the interpreters
found on this machine: on ``PATH`` as ``python3.X``, or installed by pyenv."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).parents[2]
SETUP_CFG = ROOT / "setup.cfg"
CONSTRAINTS = ROOT / "constraints.txt"


def _setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(SETUP_CFG)
    return config


def _lines(value: str) -> list[str]:
    """The lines of a requirements-like text, less blanks and comments."""
    lines = (line.strip() for line in value.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def supported() -> list[str]:
    """``["3.11", "3.12", ...]``: the versions the classifiers name."""
    classifiers = _lines(_setup_cfg()["metadata"]["classifiers"])
    versions = [re.fullmatch(r"Programming Language :: Python :: (3\.\d+)", c) for c in classifiers]
    return [version.group(1) for version in versions if version]


def python_requires() -> str:
    return _setup_cfg()["options"]["python_requires"]


def requirements() -> list[tuple[Requirement, str | None]]:
    """What the package and its ``test`` extra require: each with the extra it belongs to."""
    config = _setup_cfg()
    return ([(Requirement(line), None) for line in _lines(config["options"]["install_requires"])]
            + [(Requirement(line), "test") for line in _lines(config["options.extras_require"]["test"])])


def pins() -> list[Requirement]:
    """The lines of constraints.txt: ``name==version``, some with an environment marker."""
    return [Requirement(line) for line in _lines(CONSTRAINTS.read_text())]


def environment(version: str, extra: str | None = None) -> dict[str, str]:
    """The marker environment of Python ``version`` on this machine."""
    return {"python_version": version, "python_full_version": f"{version}.0", "extra": extra or ""}


def find(version: str) -> str | None:
    """An interpreter of Python ``version`` that can make a virtualenv, or None."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    installed = sorted(pyenv.glob(f"{version}.*/bin/python{version}"), reverse=True,
                       key=lambda path: [int(n) for n in re.findall(r"\d+", path.parents[1].name)])
    candidates = [shutil.which(f"python{version}"), *installed]
    for candidate in filter(None, candidates):
        try:
            found = subprocess.run(
                [candidate, "-c", "import ensurepip, sys, venv; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if found.returncode == 0 and found.stdout.strip() == version:
            return str(candidate)
    return None
