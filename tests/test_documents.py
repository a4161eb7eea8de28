"""The documents a newcomer reads agree with the code and with each other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from soap_usestats import exceptions

ROOT = Path(__file__).parents[1]
#: Where the fault codes are tabled for integrators.
FAULT_TABLES = ["README.md", "docs/contract.md", "docs/sap.md"]


def _faults(cls=exceptions.UseStatsError):
    for sub in cls.__subclasses__():
        yield sub
        yield from _faults(sub)


@pytest.mark.parametrize("document", FAULT_TABLES)
def test_every_fault_is_told(document):
    text = (ROOT / document).read_text()
    missing = [kind.faultcode for kind in _faults() if f"`{kind.faultcode}`" not in text]
    assert missing == []


def test_one_configuration_file_path_everywhere():
    documents = [ROOT / "README.md", *ROOT.glob("docs/*.md"),
                 *(path for path in ROOT.glob("deploy/*") if path.is_file())]
    paths = {path for document in documents
             for path in re.findall(r"/etc/soap-usestats[\w./-]*\.toml", document.read_text())}
    assert paths == {"/etc/soap-usestats/soap-usestats.toml"}
