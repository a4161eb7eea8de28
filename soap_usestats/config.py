"""Deployment configuration: a TOML file named in ``USESTATS_CONFIG``, then
environment variables, which override it.

Example file::

    database_url = "mysql+pymysql://usestats_ro:secret@db.example.com/moodle"
    table_prefix = "mdl_"
    public_url = "https://moodle-stats.example.com/soap"

    [use_stats]            # overrides of the site's block_use_stats settings
    threshold = 60         # minutes
    lastpingcredit = 15    # minutes
    ignoremodules = []
    capturemodules = ["learningtimecheck"]
    enrolmentfilter = false
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

DEMO_DATABASE_URL = "sqlite:///var/demo_moodle.sqlite"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000/soap"


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which setting and why."""


@dataclass(frozen=True)
class TimeModelOverrides:
    """Time model settings that replace the site's own; ``None`` keeps the site's."""

    threshold: int | None = None
    lastpingcredit: int | None = None
    ignoremodules: frozenset[str] | None = None
    capturemodules: frozenset[str] | None = None
    enrolmentfilter: bool | None = None


@dataclass(frozen=True)
class Settings:
    database_url: str = DEMO_DATABASE_URL
    table_prefix: str = "mdl_"
    public_url: str = DEFAULT_PUBLIC_URL
    use_stats: TimeModelOverrides = field(default_factory=TimeModelOverrides)


def load_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    """Read the file named in ``USESTATS_CONFIG`` (if any), then the environment."""
    values: dict[str, Any] = {}
    if path := environ.get("USESTATS_CONFIG"):
        values = _read_file(path)
    overrides = dict(values.pop("use_stats", {}))
    for name in ("database_url", "table_prefix", "public_url"):
        if (value := environ.get(f"USESTATS_{name.upper()}")) is not None:
            values[name] = value
    for spec in fields(TimeModelOverrides):
        if (value := environ.get(f"USESTATS_{spec.name.upper()}")) is not None:
            overrides[spec.name] = value
    unknown = set(values) - {f.name for f in fields(Settings)}
    unknown |= {f"use_stats.{k}" for k in set(overrides) - {f.name for f in fields(TimeModelOverrides)}}
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
    for name, value in values.items():
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a string")
    return Settings(**values, use_stats=parse_time_model(overrides))


def _read_file(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"cannot read USESTATS_CONFIG {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"USESTATS_CONFIG {path} is not valid TOML: {error}") from None


def parse_time_model(raw: Mapping[str, Any]) -> TimeModelOverrides:
    """Time model settings from TOML values or from the site's ``config_plugins`` strings."""
    parsed: dict[str, Any] = {}
    for name in ("threshold", "lastpingcredit"):
        if name in raw:
            parsed[name] = _minutes(name, raw[name])
    for name in ("ignoremodules", "capturemodules"):
        if name in raw:
            parsed[name] = _labels(name, raw[name])
    if "enrolmentfilter" in raw:
        parsed["enrolmentfilter"] = _flag("enrolmentfilter", raw["enrolmentfilter"])
    return TimeModelOverrides(**parsed)


def _minutes(name: str, value: Any) -> int:
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"use_stats.{name} must be a whole number of minutes") from None
    if isinstance(value, bool) or minutes < 0:
        raise ConfigError(f"use_stats.{name} must be a whole number of minutes")
    return minutes


def _labels(name: str, value: Any) -> frozenset[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"use_stats.{name} must be a list of module names")
    return frozenset(i.strip() for i in items if i.strip())


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"use_stats.{name} must be true or false")
