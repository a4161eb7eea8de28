"""Checks and defaults of the operations' parameters.

A request (``requests``) holds the parameters as they arrived; the site checks
them here, in its transaction, once the caller is known. Each function takes a
parameter, or the part of a request it checks, and returns the value the service
uses, or raises :class:`InvalidParameter` with a message the client can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..exceptions import InvalidParameter
from ..moodle.queries import COURSE_FIELDS, USER_FIELDS
from .requests import FiguresRequest, ScoresRequest, StatsRequest

_SCOPES = {"site": "site", "1": "site", "course": "course", "2": "course",
           "module": "module", "3": "module"}
SCORE_SCOPES = ("notes/global", "notes/items")


def _choice(name: str, value: str | None, choices, default: str | None = None) -> str:
    text = (value or "").strip().lower()
    if not text and default is not None:
        return default
    if text not in choices:
        raise InvalidParameter(f"{name} must be one of {', '.join(choices)}")
    return text


def stats_scope(value: str | None) -> str:
    """``site``, ``course`` or ``module``; the MNET values 1, 2, 3 mean the same."""
    return _SCOPES[_choice("statsscope", value, tuple(_SCOPES), "site")]


def score_scope(value: str | None) -> str:
    return _choice("scorescope", value, SCORE_SCOPES, "notes/global")


def user_field(value: str | None) -> str:
    return _choice("targetuserfield", value, USER_FIELDS, "username")


def course_field(value: str | None) -> str:
    return _choice("courseidfield", value, COURSE_FIELDS)


def identifier(name: str, value: str | None, field: str) -> str | int:
    """The value to look up: a positive integer for ``id``, else non-empty text.

    Moodle keeps usernames in lower case, so a username is matched in lower case.
    """
    text = (value or "").strip()
    if not text:
        raise InvalidParameter(f"{name} is required")
    if field == "id":
        if not text.isdigit() or int(text) <= 0 or int(text) > 2**63 - 1:
            raise InvalidParameter(f"{name} must be a positive whole number when the field is id")
        return int(text)
    return text.lower() if field == "username" else text


def target_user(request: StatsRequest | ScoresRequest) -> tuple[str, str | int]:
    """The field a request's ``targetuser`` matches, and the value to look up."""
    field = user_field(request.targetuserfield)
    return field, identifier("targetuser", request.targetuser, field)


#: GetUsersStats: the most users a page or a list holds, and a page's default size.
MAX_USERS = 1000
DEFAULT_PAGE_SIZE = 100


def page_size(value: int | None) -> int:
    """Users per page: 1 to 1000, 100 by default."""
    if value is None:
        return DEFAULT_PAGE_SIZE
    if not 1 <= value <= MAX_USERS:
        raise InvalidParameter(f"pagesize must be from 1 to {MAX_USERS}")
    return value


def target_users(values: list[str | None] | None, field: str) -> list[str | int] | None:
    """The users listed, each checked as a ``targetuser``, without repeats; ``None`` when none
    are listed."""
    if not values:
        return None
    if len(values) > MAX_USERS:
        raise InvalidParameter(f"targetusers holds at most {MAX_USERS} targetuser, not {len(values)}")
    return list(dict.fromkeys(identifier("targetuser", value, field) for value in values))


def course(field: str | None, value: str | None) -> tuple[str, str | int] | None:
    """The course whose users are asked for, as ``(field, value)``; ``None`` when neither
    courseidfield nor courseidentifier is given."""
    if not (field or "").strip() and not (value or "").strip():
        return None
    checked = course_field(field)
    return checked, identifier("courseidentifier", value, checked)


def window(timefrom: int | None, timeto: int | None, now: int) -> tuple[int, int]:
    """The window ``[from, to]`` in Unix time: from 0 and up to now by default."""
    start = 0 if timefrom is None else timefrom
    end = now if timeto is None else timeto
    if start < 0 or end < 0:
        raise InvalidParameter("timefrom and timeto are Unix times and cannot be negative")
    if start > end:
        raise InvalidParameter(f"timefrom ({start}) is after timeto ({end})")
    return start, end


#: The longest window per-day figures are given for: a bound keeps an answer finite.
MAX_DAILY_DAYS = 3653


def daily_window(start: int, end: int) -> None:
    """Refuse per-day figures over more than ten years."""
    if end - start > MAX_DAILY_DAYS * 86400:
        raise InvalidParameter(f"daily figures cover at most 10 years ({MAX_DAILY_DAYS} days); "
                               "ask for a shorter window")


#: The longest IANA time zone name is 32 characters (America/Argentina/ComodRivadavia).
MAX_ZONE_NAME = 64


def zone(name: str | None, default: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``default`` when absent); unknown is InvalidParameter.

    A name that is no zone can fail as a file name (too long, a directory such as
    ``Europe``): it is unknown all the same.
    """
    text = (name or "").strip() or default
    if len(text) > MAX_ZONE_NAME:
        raise InvalidParameter(f"timezone is longer than {MAX_ZONE_NAME} characters: it is an "
                               "IANA time zone (Europe/Paris, America/New_York, UTC...)")
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidParameter(f"timezone {text!r} is not an IANA time zone "
                               "(Europe/Paris, America/New_York, UTC...)") from None


@dataclass(frozen=True)
class Figures:
    """What figures are asked for: the scope, the window, days in a zone (``None``: the
    site's zone, when ``daily``), and whether the sessions are listed."""

    scope: str
    start: int
    end: int
    daily: bool = False
    zone: ZoneInfo | None = None
    sessions: bool = False


def figures(request: FiguresRequest, now: int) -> Figures:
    """The checked scope, window, days and sessions of a GetStats or GetUsersStats."""
    start, end = window(request.timefrom, request.timeto, now)
    daily, timezone = request.daily, request.timezone
    if daily:
        daily_window(start, end)
    asked = zone(timezone, "UTC") if daily and (timezone or "").strip() else None
    return Figures(stats_scope(request.statsscope), start, end, daily, asked, request.sessions)
