"""A GetUsersStats cursor is exactly what the service wrote: base64url, signed, for one query."""

from __future__ import annotations

import pytest

from soap_usestats.domain import cursor
from soap_usestats.exceptions import InvalidParameter

KEY = cursor.key_of("k" * 32, "site")
QUERY = cursor.digest({"statsscope": "site"})
GIVEN = cursor.encode(KEY, QUERY, cursor.Position(after=41, end=1_700_000_000))


def test_a_cursor_given_is_taken_back():
    assert cursor.decode(KEY, QUERY, GIVEN) == cursor.Position(41, 1_700_000_000)
    assert cursor.decode(KEY, QUERY, f" {GIVEN}\n") == cursor.Position(41, 1_700_000_000)


@pytest.mark.parametrize("inserted", ["!", ".", " ", "\n", "=", "+", "/", "é", "\u0660", "%2D"])
def test_characters_outside_base64url_are_refused(inserted):
    middle = len(GIVEN) // 2
    with pytest.raises(InvalidParameter, match="^cursor holds characters outside base64url"):
        cursor.decode(KEY, QUERY, GIVEN[:middle] + inserted + GIVEN[middle:])

