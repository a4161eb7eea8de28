"""The ``soap-usestats`` command: serve the service, build the demo site, print the WSDL,
manage client credentials, check a configuration against the Moodle database."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import tomllib
from dataclasses import replace
from getpass import getpass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from .auth.clients import new_client, new_secret_key
from .config import (
    CLIENT_NAME,
    ClientCredential,
    Settings,
    check_database_url,
    load_settings,
    parse_clients,
)
from .exceptions import ConfigError
from .web.requestlog import configure_logging

EXAMPLE = """\
Example call (paste into a shell):

curl -s '{soap_url}?wstoken={token}' -H 'Content-Type: text/xml; charset=utf-8' --data '<soapenv:Envelope \
xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:us="urn:soap-usestats:1">\
<soapenv:Body><us:GetStats><us:targetuser>{user}</us:targetuser>\
<us:statsscope>course</us:statsscope></us:GetStats></soapenv:Body></soapenv:Envelope>'
"""


def serve(args: argparse.Namespace) -> None:
    from gunicorn.app.base import BaseApplication

    from .web import serving

    settings = load_settings()
    options = serving.settings(settings.trusted_proxies, timeout=serving.worker_timeout(settings))
    options.update({name: value for name, value in (("bind", args.bind), ("workers", args.workers))
                    if value is not None})
    serving.prepare_metrics()
    from .web.app import create_app

    # Fail here, in the foreground, on a bad configuration; the workers compile the ledger.
    create_app(replace(settings, public_url=settings.public_url or serving.bind_url(options["bind"])),
               compile_ledger=False)

    def announce(soap_url: str) -> None:
        """Once listening: where the WSDL is, and a call to paste."""
        print(f"WSDL: {soap_url}?wsdl", flush=True)
        if args.example_user and args.example_token:
            print(EXAMPLE.format(soap_url=soap_url, user=args.example_user,
                                 token=args.example_token), flush=True)

    class Server(BaseApplication):
        def load_config(self):
            for name, value in {**options, **serving.hooks(settings.public_url, announce)}.items():
                if name in self.cfg.settings:  # an older gunicorn lacks the newer ones
                    self.cfg.set(name, value)

        def load(self):
            configure_logging()
            return create_app(settings)

    Server().run()


def demo(args: argparse.Namespace) -> None:
    from .demo.site import build_demo_site

    url = check_database_url("--url", args.url) if args.url else load_settings().database_url
    database = make_url(url).database
    if make_url(url).get_backend_name() == "sqlite" and database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    try:
        site = build_demo_site(url, prefix=args.prefix, learners=args.learners)
    except DBAPIError as error:
        raise ConfigError(f"cannot build the demo site in {make_url(url).render_as_string()}: "
                          f"{_first_line(error.orig)} (the database must exist, empty, and its "
                          "user may create tables in it)") from None
    print(f"Demo Moodle site {site.wwwroot}: {site.learners} learners, {site.log_rows} log rows.")
    print(f"Manager's web service token: {site.token}")
    print(f"Reference learner: {site.reference.username}")


def wsdl(args: argparse.Namespace) -> None:
    from .soap.service import soap_application
    from .soap.wsdl import build_wsdl
    from .web.serving import served_url

    document = build_wsdl(soap_application(),
                          args.public_url or load_settings().public_url or served_url())
    if args.output:
        Path(args.output).write_bytes(document)
    else:
        sys.stdout.buffer.write(document)


def check(args: argparse.Namespace) -> int:
    from . import checks

    configure_logging()
    if args.token:
        print("soap-usestats check: warning: a token on the command line is visible to every "
              "user of this host (ps); give it in USESTATS_CHECK_TOKEN or with --token-file",
              file=sys.stderr)
    token = args.token or _token_from(args.token_file) or os.environ.get("USESTATS_CHECK_TOKEN")
    failed = False
    for finding in checks.check(load_settings(), token, client_ip=args.client_ip, now=int(time.time())):
        print(finding, flush=True)
        failed |= finding.status == checks.FAIL
    return 1 if failed else 0


def compile_ledger(args: argparse.Namespace) -> int:
    """Migrate the ledger, take its lock, compile every site read directly until caught up;
    with ``--follow``, keep compiling as rows arrive."""
    from .domain import compiling
    from .ledger import migrate
    from .ledger.lock import Lease, LockHeld
    from .ledger.progress import Progress

    configure_logging()
    settings = load_settings()
    if settings.ledger_url is None:
        raise ConfigError("the ledger is off (ledger_url is none): there is nothing to compile")
    ledger = migrate.ledger_engine(settings.ledger_url)
    migrate.upgrade(ledger)
    lease = Lease(ledger)
    while True:
        try:
            lease.acquire()
            break
        except LockHeld as error:
            if not args.follow:
                raise
            print(f"soap-usestats compile: {error}; waiting", file=sys.stderr, flush=True)
            time.sleep(args.interval)
    try:
        while True:
            compiling.compile_sites(
                settings, ledger, lease, progress=lambda: Progress(sys.stderr),
                report=lambda outcome: print(compiling.described(outcome), flush=True))
            if not args.follow:
                return 0
            time.sleep(args.interval)
    finally:
        lease.release()
        ledger.dispose()


def _token_from(path: str | None) -> str | None:
    """The token in the file ``path`` (``-``: standard input, asked without echo on a
    terminal), its first line, stripped."""
    if path is None:
        return None
    try:
        if path == "-":
            text = getpass("Web service token: ") if sys.stdin.isatty() else sys.stdin.readline()
        else:
            with open(path, encoding="utf-8") as file:
                text = file.readline()
    except OSError as error:
        raise ConfigError(f"cannot read --token-file {path}: {error.strerror}") from None
    if not text.strip():
        raise ConfigError(f"--token-file {path} holds no token")
    return text.strip()


def credentials_key(args: argparse.Namespace) -> None:
    print(new_secret_key())


def credentials_add(args: argparse.Namespace) -> None:
    path = os.environ.get("USESTATS_CONFIG")
    if not path:
        raise ConfigError("USESTATS_CONFIG must name the configuration file to add the client to")
    settings = load_settings()
    if args.name in settings.clients:
        raise ConfigError(f"client {args.name} exists already in {path}")
    if settings.secret_key is None:
        raise ConfigError("there is no secret key: set USESTATS_SECRET_KEY or secret_key_file "
                          "(soap-usestats credentials key makes one)")
    if args.user is None and not args.trusted:
        raise ConfigError("a client with neither --user nor --trusted acts for nobody, and every "
                          "call it makes would be refused: give --user USERNAME (the Moodle user "
                          "it acts as) or --trusted (it names the user in callinguser), or both")
    client, password = new_client(settings.secret_key, args.name, args.trusted, args.user)
    text = Path(path).read_text(encoding="utf-8")
    block = ("" if not text else "\n" if text.endswith("\n") else "\n\n") + _toml_block(client)
    try:
        parse_clients(tomllib.loads(text + block).get("clients", {}))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"adding [clients.{args.name}] would not leave valid TOML: {error}") from None
    if args.user is not None:
        _check_user(settings, args.user)
    try:
        with open(path, "a", encoding="utf-8") as file:
            file.write(block)
    except OSError as error:
        raise ConfigError(f"cannot write USESTATS_CONFIG {path}: {error.strerror}") from None
    print(f"Added client {args.name} to {path}.")
    print("Its password follows, shown this once and stored nowhere: hand it to the client now.")
    print(password)


def _check_user(settings: Settings, username: str) -> None:
    """Refuse a ``--user`` the site's database says is no user of it; warn when it cannot say."""
    from . import checks

    finding = checks.client_user(settings, username)
    if finding.status == checks.FAIL:
        raise ConfigError(f"--user {finding.detail}: create the user in Moodle first, "
                          "or correct the username")
    if finding.status == checks.WARN:
        print(f"soap-usestats credentials add: warning: --user {username!r} {finding.detail}; "
              "soap-usestats check tells once the database answers", file=sys.stderr)


def _toml_block(client: ClientCredential) -> str:
    key = client.name if re.fullmatch(r"[A-Za-z0-9_-]+", client.name) else f'"{client.name}"'
    lines = [f"[clients.{key}]", f'salt = "{client.salt}"', f'password_hash = "{client.password_hash}"',
             f"trusted = {'true' if client.trusted else 'false'}"]
    if client.user is not None:
        lines.append(f"user = {json.dumps(client.user, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def credentials_list(args: argparse.Namespace) -> None:
    clients = load_settings().clients
    if not clients:
        print("No clients are configured.")
        return
    width = max(len("name"), *(len(name) for name in clients))
    print(f"{'name':<{width}}  trusted  user")
    for client in clients.values():
        print(f"{client.name:<{width}}  {'yes' if client.trusted else 'no':<7}  {client.user or '-'}")


def client_name(text: str) -> str:
    if not CLIENT_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError("a client name is 1-64 letters, digits and . _ @ -, "
                                         "starting with a letter or digit")
    return text


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="soap-usestats", description=__doc__)
    commands = main_parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="serve the SOAP service with gunicorn")
    p.add_argument("--bind", help="address to listen on, or several, comma-separated (default: "
                                  "USESTATS_BIND or 127.0.0.1:8000); the WSDL's address unless "
                                  "USESTATS_PUBLIC_URL says otherwise")
    p.add_argument("--workers", type=int, help="worker processes (default: USESTATS_WORKERS or "
                                               "2 * cores + 1, at most 8)")
    p.add_argument("--example-user", help="print a ready-to-paste call for this username...")
    p.add_argument("--example-token", help="...made with this web service token")
    p.set_defaults(run=serve)

    p = commands.add_parser("demo", help="build the demo Moodle site into a new database")
    p.add_argument("--url", help="SQLAlchemy URL (default: USESTATS_DATABASE_URL or the demo file)")
    p.add_argument("--prefix", default="mdl_")
    p.add_argument("--learners", type=int, default=40)
    p.set_defaults(run=demo)

    p = commands.add_parser("wsdl", help="print the WSDL the service publishes")
    p.add_argument("--public-url", help="the soap:address (default: USESTATS_PUBLIC_URL, else "
                                        "http://<USESTATS_BIND>/soap)")
    p.add_argument("--output", help="write to this file instead of standard output")
    p.set_defaults(run=wsdl)

    p = commands.add_parser("check", help="check the configuration against the Moodle database")
    token = p.add_mutually_exclusive_group()
    token.add_argument("--token-file", metavar="FILE",
                       help="also check the web service token in FILE (- reads standard input); "
                            "or set USESTATS_CHECK_TOKEN")
    token.add_argument("--token", help="the same, but visible to every user of the host (ps)")
    p.add_argument("--client-ip", default="127.0.0.1",
                   help="the address the token is checked from (for tokens restricted to addresses)")
    p.set_defaults(run=check)

    p = commands.add_parser("compile", help="compile the log into the ledger until it is caught up")
    p.add_argument("--follow", action="store_true",
                   help="keep compiling as rows arrive (and wait for the lock if another "
                        "compiler holds it)")
    p.add_argument("--interval", type=float, default=60,
                   help="seconds between two passes with --follow (default 60)")
    p.set_defaults(run=compile_ledger)

    p = commands.add_parser("credentials", help="manage the credentials of the service's clients")
    _add_credentials_commands(p.add_subparsers(dest="action", required=True))
    return main_parser


def _add_credentials_commands(actions) -> None:
    p = actions.add_parser("key", help="print a new secret key for USESTATS_SECRET_KEY or secret_key_file")
    p.set_defaults(run=credentials_key)

    p = actions.add_parser("add", help="add a client to the USESTATS_CONFIG file and print its password")
    p.add_argument("name", type=client_name)
    p.add_argument("--trusted", action="store_true", help="the client may assert callinguser")
    p.add_argument("--user", help="the Moodle username the client acts as when it asserts none")
    p.set_defaults(run=credentials_add)

    p = actions.add_parser("list", help="list the configured clients (never their secrets)")
    p.set_defaults(run=credentials_list)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except (ConfigError, RuntimeError) as error:
        print(f"soap-usestats {args.command}: {error}", file=sys.stderr)
        return 2
