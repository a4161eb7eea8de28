"""``soap-usestats check``: a configuration tried against the live Moodle database.

Each check ends in a :class:`Finding`: ``ok``, ``warn`` (the service works, maybe
not as meant) or ``FAIL`` (it cannot work as configured), with what was found,
so an operator sees a misconfiguration before the ERP does. Only reads, in one
read-only transaction; never prints a password or a token.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, func, inspect, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError

from .auth import tokens
from .config import ClientCredential, PeerService, Settings
from .domain.site import MoodleSite
from .exceptions import (
    AuthenticationFailed,
    ConfigError,
    DatabaseUnavailable,
    SchemaMismatch,
    UseStatsError,
    root_cause,
)
from .federation.peer import Peer
from .ledger import kept as ledger_kept
from .ledger import migrate, source
from .ledger import tables as ledger_tables
from .moodle.database import connect, read_only
from .moodle.queries import Queries
from .moodle.siteconfig import SiteConfig
from .moodle.tables import MoodleTables
from .timemodel import settings as time_model
from .timemodel.settings import BLOCK, BlockSettings, TimeModelOverrides

OK, WARN, FAIL = "ok", "warn", "FAIL"
LOG_STORE = "logstore_standard"


@dataclass(frozen=True)
class Finding:
    status: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.status:<4} {self.subject}: {self.detail}"


def check(settings: Settings, token: str | None = None, *, client_ip: str = "127.0.0.1",
          now: int) -> Iterator[Finding]:
    """The findings about ``settings``, one at a time; with ``token``, whether the site
    accepts that web service token from ``client_ip`` at Unix time ``now``."""
    if absent := _absent_file(settings.database_url):
        yield Finding(FAIL, "database", absent)
        return
    try:
        shown = make_url(settings.database_url).render_as_string(hide_password=True)
        site = MoodleSite.from_settings(settings)
    except SQLAlchemyError as error:  # a malformed URL, an unknown driver
        yield Finding(FAIL, "database", f"database_url cannot be used: {error}")
        return
    try:
        with read_only(site.engine) as conn:
            yield Finding(OK, "database", f"reachable at {shown}")
            yield from _site(conn, site, settings, token, client_ip, now)
    except SchemaMismatch as error:   # a table the check does not list (an activity's)
        yield Finding(FAIL, "tables", _first_line(root_cause(error)))
    except DatabaseUnavailable as error:
        yield Finding(FAIL, "database", f"cannot use {shown}: {_first_line(root_cause(error))}")
    except SQLAlchemyError as error:
        yield Finding(FAIL, "database", f"a query failed: {_first_line(getattr(error, 'orig', error))}")
    finally:
        site.engine.dispose()
    yield from _other_sites(settings)


def _other_sites(settings: Settings) -> Iterator[Finding]:
    """Each site of ``[sites]``: a database's tables, or a peer's WSDL and credentials."""
    for wwwroot, entry in settings.sites.items():
        subject = f"site {wwwroot}"
        if isinstance(entry, PeerService):
            try:
                yield Finding(OK, subject, Peer(entry).check())
            except UseStatsError as error:
                yield Finding(FAIL, subject, str(error))
            continue
        try:
            site = MoodleSite.other(entry, settings)
        except SQLAlchemyError as error:
            yield Finding(FAIL, subject, f"database_url cannot be used: {error}")
            continue
        try:
            with read_only(site.engine) as conn:
                found = _tables(conn, site, entry.table_prefix)
                yield Finding(found.status, subject, found.detail)
        except (DatabaseUnavailable, SQLAlchemyError) as error:
            yield Finding(FAIL, subject, f"cannot use its database: {_first_line(root_cause(error))}")
        finally:
            site.engine.dispose()


def _site(conn: Connection, site: MoodleSite, settings: Settings, token: str | None,
          client_ip: str, now: int) -> Iterator[Finding]:
    tables = _tables(conn, site, settings.table_prefix)
    yield tables
    if tables.status == FAIL:
        return
    queries = site.queries
    yield _log_store(queries.plugin_config(conn, "tool_log"))
    yield _log_lifetime(queries.plugin_config(conn, LOG_STORE))
    yield from _time_model(queries.plugin_config(conn, BLOCK), settings.use_stats)
    config = SiteConfig.read(conn, queries)
    yield _ledger(conn, queries, settings.ledger_url, now)
    yield _web_services(config)
    yield _wwwroot(queries.wwwroot(conn, config.localhost), config.localhost)
    for client in settings.clients.values():
        yield _client(conn, queries, config.localhost, client)
    if token:
        yield _token(conn, site, config, token, client_ip, now)


def client_user(settings: Settings, username: str) -> Finding:
    """Whether ``username`` is a user of the configured site, found as the service finds a
    client's user (read-only); ``warn`` when the database cannot tell."""
    subject = f"user {username}"
    if absent := _absent_file(settings.database_url):
        return Finding(WARN, subject, f"not checked: {absent}")
    engine = connect(settings.database_url)
    queries = Queries(MoodleTables(settings.table_prefix))
    try:
        with read_only(engine) as conn:
            localhost = SiteConfig.read(conn, queries).localhost
            found = _user(conn, queries, localhost, username)
            site = queries.wwwroot(conn, localhost) or "the site"
    except (UseStatsError, SQLAlchemyError) as error:
        return Finding(WARN, subject, f"not checked, the Moodle database cannot be used: "
                                      f"{_first_line(root_cause(error))}")
    finally:
        engine.dispose()
    if found is None:
        return Finding(FAIL, subject, f"{username!r} is not a user of {site}")
    return Finding(OK, subject, f"{username!r} is user id {found} of {site}")


def _client(conn: Connection, queries: Queries, localhost: int, client: ClientCredential) -> Finding:
    """A client credential: whom it acts for, and whether that user exists."""
    subject = f"client {client.name}"
    if client.user is None:
        if client.trusted:
            return Finding(OK, subject, "trusted: it names the user in callinguser")
        return Finding(FAIL, subject, "neither a user nor trusted: every call it makes is "
                                      "refused; add it again with --user or --trusted")
    found = _user(conn, queries, localhost, client.user)
    if found is None:
        return Finding(FAIL, subject, f"acts as {client.user!r}, who is not a user of this site")
    return Finding(OK, subject, f"acts as {client.user!r} (user id {found})"
                                + (", trusted" if client.trusted else ""))


def _user(conn: Connection, queries: Queries, localhost: int, username: str) -> int | None:
    """The id of the site's one non-deleted user ``username``, as a client's user is found."""
    users = queries.find_users(conn, "username", username, localhost)
    return users[0].id if len(users) == 1 else None


def _absent_file(url: str) -> str | None:
    """Why a SQLite database cannot be the site's: its file does not exist (connecting
    would create an empty one)."""
    parsed = make_url(url)
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:" or path.startswith("file:"):
        return None
    return None if Path(path).exists() else f"the SQLite file {path} does not exist"


def _tables(conn: Connection, site: MoodleSite, prefix: str) -> Finding:
    present = set(inspect(conn).get_table_names())
    wanted = sorted(site.queries.t.metadata.tables)
    missing = [name for name in wanted if name not in present]
    if not missing:
        return Finding(OK, "tables", f"the {len(wanted)} tables the service reads, with prefix {prefix!r}")
    others = sorted(name.removesuffix("logstore_standard_log") for name in present
                    if name.endswith("logstore_standard_log"))
    hint = f"; the Moodle tables here have prefix {', '.join(map(repr, others))}" if others else ""
    if len(missing) == len(wanted):
        return Finding(FAIL, "tables", f"none of the {len(wanted)} tables the service reads has "
                                       f"prefix {prefix!r}{hint}")
    return Finding(FAIL, "tables", f"{len(missing)} of {len(wanted)} missing with prefix {prefix!r} "
                                   f"({', '.join(missing)}){hint}")


def _log_store(tool_log: Mapping[str, str]) -> Finding:
    stores = [s.strip() for s in tool_log.get("enabled_stores", "").split(",") if s.strip()]
    if LOG_STORE in stores:
        return Finding(OK, "log store", f"enabled stores: {', '.join(stores)}")
    return Finding(FAIL, "log store", f"{LOG_STORE} is not enabled (enabled stores: "
                                      f"{', '.join(stores) or 'none'}): the log does not grow, "
                                      "no time is recorded")


def _log_lifetime(store: Mapping[str, str]) -> Finding:
    value = store.get("loglifetime", "0")
    try:
        days = int(value)
    except ValueError:
        return Finding(WARN, "log lifetime", f"loglifetime is not a number of days: {value!r}")
    if days > 0:
        return Finding(WARN, "log lifetime", f"loglifetime {days} days: Moodle deletes older log "
                                             f"rows, time spent more than {days} days ago is gone")
    return Finding(OK, "log lifetime", "loglifetime 0: the log is kept forever")


def _time_model(raw: Mapping[str, str], overrides: TimeModelOverrides) -> Iterator[Finding]:
    """The site's block_use_stats settings, then the values the service uses and whence."""
    try:
        site = time_model.parse(raw, BlockSettings)
    except ConfigError as error:
        yield Finding(WARN, BLOCK, f"the site's settings are invalid, the service ignores them: {error}")
        site = BlockSettings()
    else:
        if raw:
            chosen = {name: getattr(site, name) for name in time_model.DEFAULTS}
            yield Finding(OK, BLOCK, "the site's settings: " + _settings(
                {name: value for name, value in chosen.items() if value is not None}))
        else:
            yield Finding(WARN, BLOCK, "no settings on the site (is the block installed?)")
    model = time_model.effective(overrides, site)
    yield Finding(OK, "time model", _settings(model.values, model.sources))


def _settings(values: Mapping[str, object], sources: Mapping[str, str] | None = None) -> str:
    def shown(value: object) -> str:
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, frozenset):
            return ",".join(sorted(value)) or "none"
        return str(value)

    return ", ".join(f"{name} {shown(value)}" + (f" ({sources[name]})" if sources else "")
                     for name, value in values.items())


def _ledger(conn: Connection, queries: Queries, url: str | None, now: int) -> Finding:
    """The ledger: its database, the settings the site was compiled with, the last log id
    compiled and how far the log is ahead of it, and the rows a change of settings kept
    under the old ones. Reads only (nothing is created)."""
    if url is None:
        return Finding(WARN, "ledger", "off (ledger_url is none): every answer is computed "
                                       "from the log")
    shown = make_url(url).render_as_string(hide_password=True)
    if absent := _absent_file(url):
        return Finding(WARN, "ledger", f"{absent} yet: soap-usestats compile makes it")
    engine = create_engine(url)
    try:
        if migrate.revision(engine) is None:
            return Finding(WARN, "ledger", f"{shown} has no ledger yet: soap-usestats compile "
                                           "makes it")
        with engine.connect() as ledger:
            site = ledger.execute(select(ledger_tables.site).where(
                ledger_tables.site.c.key == source.site_key(conn, queries))).one_or_none()
            kept = (ledger_kept.records(ledger, site.id) if site is not None
                    and inspect(ledger).has_table(ledger_tables.kept.name) else [])
    except SQLAlchemyError as error:
        return Finding(WARN, "ledger", f"{shown} cannot be used, answers come from the log: "
                                       f"{_first_line(getattr(error, 'orig', error))}")
    finally:
        engine.dispose()
    if site is None:
        return Finding(WARN, "ledger", f"{shown}: this site is not compiled yet (soap-usestats "
                                       "compile)")
    log = queries.t.log.c
    behind = conn.scalar(select(func.count()).where(log.id > site.compiled_id))
    lag = now - site.updated if behind else 0
    return Finding(OK if not behind else WARN, "ledger",
                   f"{shown}: compiled with {site.settings}, to log id {site.compiled_id}; "
                   f"the log is {behind} rows and {lag} s ahead"
                   + "".join(f"; {_kept(record)}" for record in kept))


def _kept(record) -> str:
    """The rows a change of settings kept under the old ones (``ledger_kept``), in words."""
    def utc(t: int) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))

    settings = record.settings or "settings not recorded (compiled before revision 0002)"
    return (f"{record.rows_kept} rows before {utc(record.log_from)} keep their bookings under "
            f"{settings} (the log no longer held them when those settings changed, "
            f"{utc(record.changed)})")


def _web_services(config: SiteConfig) -> Finding:
    if config.get("enablewebservices") == "1":
        return Finding(OK, "web services", "enabled on the site")
    return Finding(WARN, "web services", "disabled on the site: Moodle web service tokens are refused")


def _wwwroot(wwwroot: str | None, localhost: int) -> Finding:
    if wwwroot:
        return Finding(OK, "wwwroot", f"{wwwroot} (calls naming it in whereroot are answered here)")
    return Finding(WARN, "wwwroot", f"no mnet_host row {localhost} for this site: every call naming "
                                    "a whereroot is refused")


def _token(conn: Connection, site: MoodleSite, config: SiteConfig, token: str, client_ip: str,
           now: int) -> Finding:
    try:
        userid = tokens.check_token(conn, site.queries, config, token, client_ip, now)
    except AuthenticationFailed as error:
        return Finding(FAIL, "token", f"refused from {client_ip}: {error}")
    users = site.queries.find_users(conn, "id", userid, config.localhost)
    owner = users[0].username if users else f"user id {userid}"
    return Finding(OK, "token", f"accepted from {client_ip}: it acts as {owner}")


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
