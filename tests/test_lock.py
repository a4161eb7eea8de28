"""constraints.txt, the lock: one exact version of each requirement of setup.cfg (the package's
and its tests'), on every supported Python, within setup.cfg's range. ``make lock`` refreshes
it; ``tests/test_pythons.py`` installs with it on the other Pythons."""

from __future__ import annotations

import pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from tests.support import pythons


@pytest.mark.parametrize("version", pythons.supported())
def test_every_requirement_has_one_pin_within_its_range(version):
    pins = [pin for pin in pythons.pins()
            if not pin.marker or pin.marker.evaluate(pythons.environment(version))]
    for requirement, extra in pythons.requirements():
        if requirement.marker and not requirement.marker.evaluate(pythons.environment(version, extra)):
            continue
        name = canonicalize_name(requirement.name)
        applying = [pin for pin in pins if canonicalize_name(pin.name) == name]
        assert len(applying) == 1, f"{name} on Python {version}: {applying or 'no pin'}; run `make lock`"
        (pinned,) = applying[0].specifier
        assert pinned.operator == "==" and pinned.version in requirement.specifier, (
            f"{applying[0]} is outside setup.cfg's {requirement}; run `make lock`")


def test_the_classifiers_name_the_pythons_python_requires_allows():
    allowed = SpecifierSet(pythons.python_requires())
    oldest = pythons.supported()[0]
    assert all(version in allowed for version in pythons.supported())
    assert f"3.{int(oldest.split('.')[1]) - 1}" not in allowed, "python_requires allows an untested Python"
