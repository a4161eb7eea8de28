"""Deployment configuration: a TOML file named in ``USESTATS_CONFIG``, then
environment variables, which override it.

Example file::

    database_url = "mysql+pymysql://usestats_ro:secret@db.example.com/moodle"
    table_prefix = "mdl_"
    # The service's own database of compiled figures (never the Moodle database):
    # default var/ledger.sqlite under the working directory; "none" turns it off.
    ledger_url = "postgresql+psycopg://usestats:secret@db.example.com/usestats_ledger"
    ledger_interval = 60   # seconds between the service's compile passes; 0: it does not compile
    public_url = "https://moodle-stats.example.com/soap"
    max_request_bytes = 1048576
    trusted_proxies = ["10.0.0.0/8"]   # whose X-Forwarded-For is believed

    # Client credentials (HTTP Basic, WS-Security UsernameToken); add them with
    # ``soap-usestats credentials add``. Their passwords derive from a secret
    # key kept out of this file: USESTATS_SECRET_KEY, or the file named here.
    secret_key_file = "/etc/soap-usestats/secret_key"
    nonce_store = "/var/lib/soap-usestats/nonces.sqlite"
    # or, for several hosts behind one load balancer, a Redis all of them share:
    # nonce_store = "rediss://usestats:PASSWORD@redis.internal.example.com:6380/0"
    wsse_max_age = 300     # seconds a UsernameToken's wsu:Created stays valid
    cache_seconds = 60     # how long a site's settings and role definitions are reused
    database_timeout = 30  # seconds a call's database work may take; then Server.DatabaseUnavailable

    # Failed authentications are throttled per client address (docs/security.md)
    throttle_failures = 10                     # in a row, then its calls are refused; 0: never
    throttle_seconds = 30                      # one more attempt every 30 s
    throttle_exempt = ["192.0.2.10"]           # addresses never throttled (default none)

    [clients.sap-prod]
    salt = "cA_QL__ZiRXkEq6WMhcGyg"
    password_hash = "sha256:3a00a625c38c6065bde79e4fd99eee9dfeae0dba13b5ffa85b017b71f8f6b23c"
    trusted = false        # may assert callinguser
    user = "erp.service"   # the Moodle user it acts as when it asserts none

    [capabilities]         # for sites without block_use_stats
    site = "moodle/site:viewreports"

    [use_stats]            # overrides of the site's block_use_stats settings
    threshold = 60         # minutes
    lastpingcredit = 15    # minutes
    ignoremodules = []
    capturemodules = ["learningtimecheck"]
    enrolmentfilter = false

    # Other Moodle sites, answered for by whereroot (docs/deployment.md)
    [sites."https://moodle-b.example.com"]      # read directly
    database_url = "postgresql+psycopg://stats_ro@db-b.example.com/moodle"
    table_prefix = "mdl_"

    [sites."https://moodle-c.example.com"]      # asked through its own soap_usestats
    peer_url = "https://stats-c.example.com/soap"
    peer_username = "hub"
    peer_password_file = "/etc/soap-usestats/peer-c.secret"   # or peer_password
    timeout = 10                                # seconds; then Server.RemoteFailure
    max_answer_bytes = 16777216                 # 16 MiB; a larger answer is Server.RemoteFailure
"""

from __future__ import annotations

import ipaddress
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from .exceptions import ConfigError
from .timemodel import settings as time_model
from .timemodel.settings import TimeModelOverrides
from .wwwroots import normalise

DEMO_DATABASE_URL = "sqlite:///var/demo_moodle.sqlite"
#: The ledger where none is configured: an SQLite file of the service's own, under the
#: working directory.
DEFAULT_LEDGER_URL = "sqlite:///var/ledger.sqlite"
#: The value of ``ledger_url`` that turns the ledger off.
NO_LEDGER = "none"
#: Seconds between two compile passes of the running service, unless ``ledger_interval``
#: says otherwise (0: the service does not compile; ``soap-usestats compile --follow`` does).
DEFAULT_LEDGER_INTERVAL = 60
MIN_SECRET_KEY_LENGTH = 32
CLIENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
PASSWORD_HASH = re.compile(r"sha256:[0-9a-f]{64}")
#: Seconds a site of ``[sites]`` has to answer, unless its ``timeout`` says otherwise.
DEFAULT_SITE_TIMEOUT = 10
#: Seconds a call's work in a Moodle database may take, unless ``database_timeout`` says otherwise.
DEFAULT_DATABASE_TIMEOUT = 30
#: The largest answer (or WSDL) taken from a peer, unless its ``max_answer_bytes`` says otherwise.
DEFAULT_MAX_ANSWER_BYTES = 16 * 1024 * 1024

_STRINGS = ("database_url", "table_prefix", "public_url", "secret_key_file", "nonce_store",
            "ledger_url")
_COUNTS = ("wsse_max_age", "max_request_bytes", "throttle_seconds", "database_timeout")
#: Counts where 0 is allowed (and switches something off).
_ZERO_COUNTS = ("cache_seconds", "throttle_failures", "ledger_interval")
#: Lists of IP addresses and networks.
_NETWORKS = ("trusted_proxies", "throttle_exempt")
_NO_KEY = "set USESTATS_SECRET_KEY or secret_key_file (soap-usestats credentials key makes one)"
#: The URL scheme, with the driver the service ships, of each database it reads.
SCHEMES = {"mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql",
           "postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg", "sqlite": "sqlite"}
_URL_FORMS = ("write mysql+pymysql://USER:PASSWORD@HOST/DATABASE (MariaDB, MySQL), "
              "postgresql+psycopg://USER:PASSWORD@HOST/DATABASE or sqlite:///PATH")


@dataclass(frozen=True)
class ClientCredential:
    """A client of the service: its password derives from the secret key, ``name`` and ``salt``.

    ``trusted`` clients may assert ``callinguser``; ``user`` is the Moodle
    username a client acts as when it asserts none.
    """

    name: str
    salt: str = field(repr=False)
    password_hash: str = field(repr=False)
    trusted: bool = False
    user: str | None = None


@dataclass(frozen=True)
class DirectSite:
    """Another Moodle site whose database this service reads itself."""

    wwwroot: str
    database_url: str = field(repr=False)
    table_prefix: str = "mdl_"
    timeout: float = DEFAULT_SITE_TIMEOUT


@dataclass(frozen=True)
class PeerService:
    """Another Moodle site, asked through the soap_usestats service in front of it, with
    this service's (trusted) client credentials there."""

    wwwroot: str
    peer_url: str
    peer_username: str
    peer_password: str = field(repr=False)
    timeout: float = DEFAULT_SITE_TIMEOUT
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES


@dataclass(frozen=True)
class Capabilities:
    """The Moodle capabilities that let an identity see site, course or its own stats."""

    site: str = "block/use_stats:seesitedetails"
    course: str = "block/use_stats:seecoursedetails"
    own: str = "block/use_stats:seeowndetails"


def default_nonce_store() -> str:
    """The nonce store of a host that names none: a file in the temporary directory."""
    return os.path.join(tempfile.gettempdir(), "soap-usestats-nonces.sqlite")


@dataclass(frozen=True)
class Settings:
    database_url: str = DEMO_DATABASE_URL
    table_prefix: str = "mdl_"
    #: The address clients reach ``/soap`` at, written into the WSDL; None (not configured)
    #: is ``http://<the address served>/soap`` (``web.serving.served_url``).
    public_url: str | None = None
    use_stats: TimeModelOverrides = field(default_factory=TimeModelOverrides)
    #: The ledger's database (``ledger``); None: no ledger.
    ledger_url: str | None = field(default_factory=lambda: DEFAULT_LEDGER_URL, repr=False)
    #: Seconds between two compile passes of the running service (``ledger.service``); 0:
    #: it does not compile. Its default is read when the settings are made.
    ledger_interval: int = field(default_factory=lambda: DEFAULT_LEDGER_INTERVAL)
    secret_key: str | None = field(default=None, repr=False)
    secret_key_file: str | None = None
    clients: Mapping[str, ClientCredential] = field(default_factory=lambda: MappingProxyType({}))
    nonce_store: str = field(default_factory=lambda: default_nonce_store())
    wsse_max_age: int = 300
    max_request_bytes: int = 1024 * 1024
    #: Seconds a host may reuse a site's settings and role definitions; 0 reads them every call.
    cache_seconds: int = 60
    #: Seconds a call's work in a Moodle database may take (``moodle.database``).
    database_timeout: int = DEFAULT_DATABASE_TIMEOUT
    #: Whose X-Forwarded-For is believed (IPv4Network or IPv6Network).
    trusted_proxies: tuple = ()
    #: Failed authentications a client address may make in a row before its calls are
    #: refused (``auth.throttle``); 0 throttles nobody.
    throttle_failures: int = 10
    #: Seconds after which a throttled address may try once more.
    throttle_seconds: int = 30
    #: Addresses never throttled (IPv4Network or IPv6Network).
    throttle_exempt: tuple = ()
    capabilities: Capabilities = field(default_factory=Capabilities)
    #: The other sites of ``[sites]``, by normalised wwwroot (``wwwroots.normalise``).
    sites: Mapping[str, DirectSite | PeerService] = field(
        default_factory=lambda: MappingProxyType({}))


def load_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    """Read the file named in ``USESTATS_CONFIG`` (if any), then the environment.

    The secret key comes from ``USESTATS_SECRET_KEY`` or the file named by
    ``secret_key_file``, never from the configuration file itself.
    """
    values: dict[str, Any] = {}
    if path := environ.get("USESTATS_CONFIG"):
        values = _read_file(path)
    if "secret_key" in values:
        raise ConfigError(f"secret_key cannot be in the configuration file: {_NO_KEY}")
    overrides = dict(_table("use_stats", values.pop("use_stats", {})))
    unknown = set(values) - {f.name for f in fields(Settings)}
    unknown |= {f"use_stats.{k}" for k in set(overrides) - set(time_model.setting_names())}
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
    #: What an error names a setting by: the variable it came from, else its key in the file.
    names: dict[str, str] = {}
    for name in (*_STRINGS, *_COUNTS, *_ZERO_COUNTS, *_NETWORKS):
        if (value := environ.get(variable := f"USESTATS_{name.upper()}")) is not None:
            values[name], names[name] = value, variable
    for name in time_model.setting_names():
        if (value := environ.get(variable := f"USESTATS_{name.upper()}")) is not None:
            overrides[name] = _override(variable, name, value)
    parsed: dict[str, Any] = {}
    for name in _STRINGS:
        if name in values:
            parsed[name] = _string(names.get(name, name), values[name], empty=name == "table_prefix")
    if "database_url" in parsed:
        check_database_url(names.get("database_url", "database_url"), parsed["database_url"])
    for name in (*_COUNTS, *_ZERO_COUNTS):
        if name in values:
            parsed[name] = _count(names.get(name, name), values[name], zero=name in _ZERO_COUNTS)
    for name in _NETWORKS:
        if name in values:
            parsed[name] = _networks(names.get(name, name), values[name])
    if "capabilities" in values:
        parsed["capabilities"] = _capabilities(values["capabilities"])
    clients = parse_clients(values.get("clients", {}))
    if "sites" in values:
        parsed["sites"] = parse_sites(values["sites"])
    if "ledger_url" in parsed:
        parsed["ledger_url"] = _ledger_url(names.get("ledger_url", "ledger_url"),
                                           parsed["ledger_url"])
    _not_a_moodle_database(names.get("ledger_url", "ledger_url"),
                           parsed.get("ledger_url", DEFAULT_LEDGER_URL),
                           parsed.get("database_url", DEMO_DATABASE_URL), parsed.get("sites", {}))
    secret_key = environ.get("USESTATS_SECRET_KEY", "").strip()
    source = "USESTATS_SECRET_KEY"
    if not secret_key:
        secret_key = _read_secret("secret_key_file", parsed.get("secret_key_file"))
        source = f"secret_key_file {parsed.get('secret_key_file')}"
    if secret_key is not None and len(secret_key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(f"the secret key must be at least {MIN_SECRET_KEY_LENGTH} characters "
                          f"({source})")
    if clients and secret_key is None:
        raise ConfigError(f"clients are configured but there is no secret key: {_NO_KEY}")
    return Settings(**parsed, use_stats=time_model.parse(overrides, TimeModelOverrides),
                    secret_key=secret_key,
                    clients=clients)


def check_database_url(name: str, value: str) -> str:
    """``value``, when SQLAlchemy can connect to it with a driver installed here; else a
    ConfigError naming the setting ``name`` and the URL to write (password hidden)."""
    try:
        url = make_url(value)
    except ArgumentError:
        raise ConfigError(f"{name} is not a database URL: {_URL_FORMS}") from None
    try:
        url.get_dialect().import_dbapi()
        return value
    except NoSuchModuleError:
        problem = f"{url.drivername}:// is not a database SQLAlchemy knows"
    except ImportError as error:
        problem = f"its driver, {error.name or url.drivername}, is not installed"
    scheme = SCHEMES.get(url.get_backend_name())
    hint = f"write {_shown(url.set(drivername=scheme))}" if scheme else _URL_FORMS
    raise ConfigError(f"{name} {_shown(url)} cannot be used: {problem}; {hint}")



def _ledger_url(name: str, value: str) -> str | None:
    """The ledger's URL, checked; None for ``none``."""
    if value.strip().lower() == NO_LEDGER:
        return None
    return check_database_url(name, value)


def _not_a_moodle_database(name: str, ledger: str | None, moodle: str,
                           sites: Mapping[str, DirectSite | PeerService]) -> None:
    """Refuse a ledger in a Moodle database the service reads: it only ever reads those."""
    if ledger is None:
        return
    others = [("database_url", moodle)] + [(f"sites.{wwwroot!r}.database_url", site.database_url)
                                           for wwwroot, site in sites.items()
                                           if isinstance(site, DirectSite)]
    for setting, url in others:
        if same_database(ledger, url):
            raise ConfigError(f"{name} {_shown(make_url(ledger))} is the Moodle database of "
                              f"{setting}: the ledger is never a Moodle database, which the "
                              f"service only reads; name a database of its own, or none")


def same_database(one: str, other: str) -> bool:
    """Whether two URLs name the same database (whatever the driver, user or password)."""
    a, b = make_url(one), make_url(other)
    if a.get_backend_name() != b.get_backend_name():
        return False
    if a.get_backend_name() == "sqlite":
        return bool(a.database) and a.database != ":memory:" and (
            os.path.realpath(a.database) == os.path.realpath(b.database or ""))
    return (a.host, a.port, a.database) == (b.host, b.port, b.database)


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _override(variable: str, name: str, value: str) -> Any:
    """A time model setting from the environment, checked: its error names ``variable``."""
    try:
        time_model.parse({name: value}, TimeModelOverrides)
    except ConfigError as error:
        raise ConfigError(str(error).replace(f"use_stats.{name}", variable, 1)) from None
    return value


def _read_file(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"cannot read USESTATS_CONFIG {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"USESTATS_CONFIG {path} is not valid TOML: {error}") from None


def _read_secret(setting: str, path: str | None) -> str | None:
    """The secret kept in the file ``setting`` names, stripped (None when empty)."""
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as file:
            return file.read().strip() or None
    except OSError as error:
        raise ConfigError(f"cannot read {setting} {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{setting} {path} is not UTF-8 text") from None


def parse_clients(raw: Any) -> Mapping[str, ClientCredential]:
    """The ``[clients.NAME]`` tables, validated."""
    clients = {}
    for name, table in _table("clients", raw).items():
        where = f"clients.{name}"
        if not CLIENT_NAME.fullmatch(name):
            raise ConfigError(f"{where}: a client name is 1-64 letters, digits and . _ @ -, "
                              "starting with a letter or digit")
        entry = dict(_table(where, table))
        unknown = set(entry) - {f.name for f in fields(ClientCredential)} | {"name"} & set(entry)
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(f'{where}.{k}' for k in unknown))}")
        for key in ("salt", "password_hash"):
            if key not in entry:
                raise ConfigError(f"{where}.{key} is missing")
            _string(f"{where}.{key}", entry[key])
        if not PASSWORD_HASH.fullmatch(entry["password_hash"]):
            raise ConfigError(f"{where}.password_hash must be sha256: and 64 lowercase hex digits")
        if not isinstance(entry.get("trusted", False), bool):
            raise ConfigError(f"{where}.trusted must be true or false")
        if "user" in entry:
            _string(f"{where}.user", entry["user"])
        clients[name] = ClientCredential(name=name, **entry)
    return MappingProxyType(clients)


_DIRECT_KEYS = {"database_url", "table_prefix", "timeout"}
_PEER_KEYS = {"peer_url", "peer_username", "peer_password", "peer_password_file", "timeout",
              "max_answer_bytes"}


def parse_sites(raw: Any) -> Mapping[str, DirectSite | PeerService]:
    """The ``[sites."<wwwroot>"]`` tables, validated: each a database or a peer service."""
    sites: dict[str, DirectSite | PeerService] = {}
    for wwwroot, table in _table("sites", raw).items():
        where = f"sites.{wwwroot!r}"
        key = normalise(wwwroot)
        if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", key):
            raise ConfigError(f"{where}: a site is named by its wwwroot, an http(s) address")
        if key in sites:
            raise ConfigError(f"{where}: the same site as {sites[key].wwwroot!r}")
        entry = dict(_table(where, table))
        peer = "peer_url" in entry
        if peer == ("database_url" in entry):
            raise ConfigError(f"{where}: give either database_url (read directly) or peer_url "
                              "(asked through its soap_usestats service)")
        unknown = set(entry) - (_PEER_KEYS if peer else _DIRECT_KEYS)
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(f'{where}.{k}' for k in unknown))}")
        timeout = entry.pop("timeout", DEFAULT_SITE_TIMEOUT)
        if (not isinstance(timeout, int | float) or isinstance(timeout, bool)
                or not 0 < timeout <= 3600):
            raise ConfigError(f"{where}.timeout must be a number of seconds, above 0")
        if peer:
            sites[key] = _peer(where, key, entry, timeout)
        else:
            url = check_database_url(f"{where}.database_url",
                                     _string(f"{where}.database_url", entry["database_url"]))
            sites[key] = DirectSite(key, url,
                                    _string(f"{where}.table_prefix", entry.get("table_prefix", "mdl_"),
                                            empty=True), timeout)
    return MappingProxyType(sites)


def _peer(where: str, wwwroot: str, entry: dict[str, Any], timeout: float) -> PeerService:
    url = _string(f"{where}.peer_url", entry["peer_url"])
    if not re.fullmatch(r"https?://\S+", url):
        raise ConfigError(f"{where}.peer_url must be the http(s) address of the peer's /soap")
    if "peer_username" not in entry:
        raise ConfigError(f"{where}.peer_username is missing")
    if ("peer_password" in entry) == ("peer_password_file" in entry):
        raise ConfigError(f"{where}: give either peer_password or peer_password_file")
    if "peer_password" in entry:
        password = _string(f"{where}.peer_password", entry["peer_password"])
    else:
        password = _read_secret(f"{where}.peer_password_file",
                                _string(f"{where}.peer_password_file", entry["peer_password_file"]))
        if password is None:
            raise ConfigError(f"{where}.peer_password_file is empty")
    limit = entry.get("max_answer_bytes", DEFAULT_MAX_ANSWER_BYTES)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ConfigError(f"{where}.max_answer_bytes must be a number of bytes, above 0")
    return PeerService(wwwroot, url, _string(f"{where}.peer_username", entry["peer_username"]),
                       password, timeout, limit)


def _capabilities(raw: Any) -> Capabilities:
    table = _table("capabilities", raw)
    unknown = set(table) - {f.name for f in fields(Capabilities)}
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(f'capabilities.{k}' for k in unknown))}")
    return Capabilities(**{name: _string(f"capabilities.{name}", value) for name, value in table.items()})


def _table(name: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name} must be a table")
    return value


def _string(name: str, value: Any, empty: bool = False) -> str:
    if not isinstance(value, str) or not (value or empty):
        raise ConfigError(f"{name} must be a {'' if empty else 'non-empty '}string")
    return value


def _count(name: str, value: Any, zero: bool = False) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < (0 if zero else 1):
        raise ConfigError(f"{name} must be a {'' if zero else 'positive '}whole number")
    return value


def _networks(name: str, value: Any) -> tuple:
    """The networks of setting ``name``: a list, or a comma-separated string."""
    items = [i.strip() for i in value.split(",") if i.strip()] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{name} must be a list of IP addresses or networks")
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"{name}: {item!r} is not an IP address or network") from None
    return tuple(networks)
