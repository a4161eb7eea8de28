"""Two answers of the service given at different moments, compared.

``FINALBEFORE`` follows the moment of the answer (``now`` less the greater of
threshold and lastpingcredit), so two calls a second apart may differ there and
nowhere else: everything else must be equal, and each ``FINALBEFORE`` close to
its counterpart.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

#: How far apart two answers' FINALBEFORE may be, in seconds: the calls' own duration.
SLACK = 60


def _apart(value: Any, found: list[datetime | None]) -> Any:
    """``value`` (dicts and lists, as zeep serialises or JSON reads an answer) with each
    ``FINALBEFORE`` taken out into ``found``."""
    if isinstance(value, Mapping):
        kept = {}
        for key, item in value.items():
            if key == "FINALBEFORE":
                found.append(datetime.fromisoformat(item) if isinstance(item, str) else item)
            else:
                kept[key] = _apart(item, found)
        return kept
    if isinstance(value, list):
        return [_apart(item, found) for item in value]
    return value


def assert_same_answer(one: Any, other: Any, slack: float = SLACK) -> None:
    """``one`` and ``other`` are the same answer, asked at moments less than ``slack`` apart."""
    mine, theirs = [], []
    assert _apart(one, mine) == _apart(other, theirs)
    assert len(mine) == len(theirs)
    for ours, their in zip(mine, theirs):
        assert (ours is None) == (their is None), (ours, their)
        assert ours is None or abs((ours - their).total_seconds()) <= slack, (ours, their)
