"""Site addresses (wwwroots) as the contract compares them: without a trailing slash,
and case-insensitively in scheme and host only."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def normalise(url: str | None) -> str:
    """A wwwroot as compared: trimmed, no trailing slash, scheme and host in lower case."""
    text = (url or "").strip().rstrip("/")
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    if not parts.scheme or not parts.netloc:
        return text
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"),
                       parts.query, parts.fragment))


def same(one: str | None, other: str | None) -> bool:
    """Whether two addresses name the same site."""
    return normalise(one) == normalise(other)
