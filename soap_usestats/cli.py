"""The ``soap-usestats`` command: serve the service, build the demo site, print the WSDL."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from .config import ConfigError, load_settings
from .logs import configure_logging

EXAMPLE = """\
Example call (paste into a shell):

curl -s {soap_url} -H 'Content-Type: text/xml; charset=utf-8' --data '<soapenv:Envelope \
xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:us="urn:soap-usestats:1">\
<soapenv:Body><us:GetStats><us:targetuser>{user}</us:targetuser>\
<us:statsscope>course</us:statsscope></us:GetStats></soapenv:Body></soapenv:Envelope>'
"""


def serve(args: argparse.Namespace) -> None:
    from gunicorn.app.base import BaseApplication

    from .app import create_app

    settings = load_settings()
    create_app(settings)  # fail here, in the foreground, on a bad configuration

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", args.bind)
            self.cfg.set("workers", args.workers)
            self.cfg.set("timeout", 60)

        def load(self):
            configure_logging()
            return create_app(settings)

    print(f"WSDL: {settings.public_url}?wsdl", flush=True)
    if args.example_user:
        print(EXAMPLE.format(soap_url=settings.public_url, user=args.example_user), flush=True)
    Server().run()


def demo(args: argparse.Namespace) -> None:
    from .demo.site import build_demo_site

    url = args.url or load_settings().database_url
    database = make_url(url).database
    if make_url(url).get_backend_name() == "sqlite" and database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    site = build_demo_site(url, prefix=args.prefix, learners=args.learners)
    print(f"Demo Moodle site {site.wwwroot}: {site.learners} learners, {site.log_rows} log rows.")
    print(f"Manager's web service token: {site.token}")
    print(f"Reference learner: {site.reference.username}")


def wsdl(args: argparse.Namespace) -> None:
    from .app import soap_application
    from .wsdl import build_wsdl

    document = build_wsdl(soap_application(), args.public_url or load_settings().public_url)
    if args.output:
        Path(args.output).write_bytes(document)
    else:
        sys.stdout.buffer.write(document)


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="soap-usestats", description=__doc__)
    commands = main_parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="serve the SOAP service with gunicorn")
    p.add_argument("--bind", default="127.0.0.1:8000")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--example-user", help="print a ready-to-paste call for this username")
    p.set_defaults(run=serve)

    p = commands.add_parser("demo", help="build the demo Moodle site into a new database")
    p.add_argument("--url", help="SQLAlchemy URL (default: USESTATS_DATABASE_URL or the demo file)")
    p.add_argument("--prefix", default="mdl_")
    p.add_argument("--learners", type=int, default=40)
    p.set_defaults(run=demo)

    p = commands.add_parser("wsdl", help="print the WSDL the service publishes")
    p.add_argument("--public-url", help="the soap:address (default: USESTATS_PUBLIC_URL)")
    p.add_argument("--output", help="write to this file instead of standard output")
    p.set_defaults(run=wsdl)
    return main_parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except (ConfigError, RuntimeError) as error:
        print(f"soap-usestats {args.command}: {error}", file=sys.stderr)
        return 2
    return 0
