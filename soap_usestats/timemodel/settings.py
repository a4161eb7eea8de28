"""The time model's settings, where each comes from, and how they are read.

Three sources, in order of precedence: the deployment's configuration
(:class:`TimeModelOverrides`), the site's own block_use_stats settings in
``config_plugins`` (:class:`BlockSettings`), and the defaults of the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ..exceptions import ConfigError

#: The plugin whose ``config_plugins`` rows hold a site's settings.
BLOCK = "block_use_stats"


@dataclass(frozen=True)
class TimeSettings:
    """The settings the engine runs with; times in minutes."""

    threshold: int = 60
    lastpingcredit: int = 15
    ignoremodules: frozenset[str] = frozenset()
    capturemodules: frozenset[str] = frozenset({"learningtimecheck"})


@dataclass(frozen=True)
class _PartialSettings:
    """Some of the model's settings; ``None`` leaves one to the next source."""

    threshold: int | None = None
    lastpingcredit: int | None = None
    ignoremodules: frozenset[str] | None = None
    capturemodules: frozenset[str] | None = None
    enrolmentfilter: bool | None = None


class TimeModelOverrides(_PartialSettings):
    """The deployment's configuration (``[use_stats]``): wins over the site's settings."""


class BlockSettings(_PartialSettings):
    """A site's own block_use_stats settings, as its ``config_plugins`` rows hold them."""


#: What the model assumes for a setting no source sets.
DEFAULTS: Mapping[str, Any] = {**{f.name: f.default for f in fields(TimeSettings)},
                               "enrolmentfilter": False}


@dataclass(frozen=True)
class EffectiveModel:
    """Each setting's value and its source: ``configuration``, ``site`` or ``default``."""

    values: Mapping[str, Any]
    sources: Mapping[str, str]

    @property
    def time_settings(self) -> TimeSettings:
        return TimeSettings(**{f.name: self.values[f.name] for f in fields(TimeSettings)})

    @property
    def enrolmentfilter(self) -> bool:
        return self.values["enrolmentfilter"]


def effective(overrides: TimeModelOverrides, site: BlockSettings) -> EffectiveModel:
    """The settings in force: the configuration wins over the site, the site over the default."""
    values, sources = {}, {}
    for name, default in DEFAULTS.items():
        for source, value in (("configuration", getattr(overrides, name)),
                              ("site", getattr(site, name)), ("default", default)):
            if value is not None:
                values[name], sources[name] = value, source
                break
    return EffectiveModel(values, sources)


def parse(raw: Mapping[str, Any], kind: type[_PartialSettings]) -> _PartialSettings:
    """Settings from TOML values or from the site's ``config_plugins`` strings."""
    parsed: dict[str, Any] = {}
    for name in ("threshold", "lastpingcredit"):
        if name in raw:
            parsed[name] = _minutes(name, raw[name])
    for name in ("ignoremodules", "capturemodules"):
        if name in raw:
            parsed[name] = _labels(name, raw[name])
    if "enrolmentfilter" in raw:
        parsed["enrolmentfilter"] = _flag("enrolmentfilter", raw["enrolmentfilter"])
    return kind(**parsed)


def setting_names() -> tuple[str, ...]:
    """The names of the settings a source may set."""
    return tuple(f.name for f in fields(_PartialSettings))


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
