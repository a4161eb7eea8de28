"""The costliest request bodies, timed through the whole service until it answers.

    .venv/bin/python benchmarks/bench_bodies.py [--repeat 3] [--only TEXT ...] [--gunicorn]

Each body is built to cost the service as much as one kind of content can, under
the default size limit (1 MiB): at each bound of the body guard
(``soap_usestats/web/body.py``), one past it, and as much as fits in 1 MiB, with
the issue's 10k/40k/60k attributes on ``<GetStats>`` beside them. Each is posted
without credentials and with a valid token to the WSGI application in-process (the
median of ``--repeat`` calls) and, with ``--gunicorn``, over HTTP to gunicorn (two
sync workers, one call). The table gives the size, each answer's fault code (or
HTTP 200) and its seconds. Target: every body answered well under 1 s. ``--only``
keeps the cases whose name holds one of the texts.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from itertools import count, product
from pathlib import Path
from string import ascii_letters

from lxml import etree

import common
from soap_usestats.config import Settings
from soap_usestats.web import body as guard
from soap_usestats.web.app import create_app

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
LIMIT = Settings().max_request_bytes
ASK = "<u:targetuser>admin</u:targetuser>"


def envelope(operation: str, envelope_attributes: str = "", header: str = "") -> bytes:
    header = f"<e:Header>{header}</e:Header>" if header else ""
    return (f'<e:Envelope xmlns:e="{SOAP_ENV}" xmlns:u="urn:soap-usestats:1" {envelope_attributes}>'
            f"{header}<e:Body>{operation}</e:Body></e:Envelope>").encode()


def names() -> Iterator[str]:
    """Distinct XML names, shortest first: a, b, ... Z, aa, ab, ..."""
    for length in count(1):
        for letters in product(ascii_letters, repeat=length):
            yield "".join(letters)


def attributes(n: int) -> str:
    return " ".join(f'{name}=""' for name, _ in zip(names(), range(n)))


def declarations(n: int) -> str:
    """``n`` namespace declarations, with prefixes the envelope does not use."""
    return " ".join(f'xmlns:n{name}="u"' for name, _ in zip(names(), range(n)))


def fill(build: Callable[[int], bytes], limit: int = LIMIT) -> bytes:
    """``build(n)`` for the largest ``n`` that keeps the body within ``limit`` bytes."""
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if len(build(middle)) <= limit:
            low = middle
        else:
            high = middle - 1
    return build(low)


def on_get_stats(n: int) -> bytes:
    return envelope(f"<u:GetStats {attributes(n)}>{ASK}</u:GetStats>")


def spread_attributes(n: int) -> bytes:
    """``n`` attributes, as many an element as the guard lets one element have."""
    per = guard.MAX_ELEMENT_ATTRIBUTES
    elements = "".join(f"<u:x {attributes(min(per, n - start))}/>" for start in range(0, n, per))
    return envelope(f"<u:GetStats>{ASK}{elements}</u:GetStats>")


def in_scope(n: int) -> bytes:
    return envelope(f"<u:GetStats>{ASK}</u:GetStats>", declarations(n))


def typed_targetusers(scope: int, elements: int) -> bytes:
    """``elements`` targetusers with an ``xsi:type``, under ``scope`` namespace declarations:
    Spyne gathers every namespace in scope for each (lxml's ``nsmap``)."""
    typed = '<u:targetuser i:type="s:string">admin</u:targetuser>' * elements
    return envelope(f"<u:GetStats>{typed}</u:GetStats>",
                    f'xmlns:i="{XSI}" xmlns:s="http://www.w3.org/2001/XMLSchema" '
                    + declarations(scope))


def declared(n: int) -> bytes:
    """``n`` namespace declarations, 32 an element (the in-scope bound is 64)."""
    declaring = "".join(f"<u:x {declarations(min(32, n - start))}/>" for start in range(0, n, 32))
    return envelope(f"<u:GetStats>{ASK}{declaring}</u:GetStats>")


def elements(n: int) -> bytes:
    """A body of ``n`` elements in all: Envelope, Body, GetStats, targetuser and empty ones."""
    empty = "<x/>" * (n - 4)
    return envelope(f"<u:GetStats>{ASK}{empty}</u:GetStats>")


def repeated(n: int) -> bytes:
    targetusers = "<targetuser>a</targetuser>" * n
    return envelope(f"<u:GetStats>{targetusers}</u:GetStats>")


def nested(levels: int) -> bytes:
    """Elements nested ``levels`` deep in all (Envelope, Body, GetStats, targetuser and more)."""
    inner = "<x>" * (levels - 4) + "</x>" * (levels - 4)
    return envelope(f"<u:GetStats><u:targetuser>{inner}</u:targetuser></u:GetStats>")


def text(n: int) -> bytes:
    return envelope(f"<u:GetStats><u:targetuser>{'a' * n}</u:targetuser></u:GetStats>")


def comments(n: int) -> bytes:
    empty = "<!---->" * n
    return envelope(f"<u:GetStats>{ASK}{empty}</u:GetStats>")


def cases() -> list[tuple[str, Callable[[], bytes]]]:
    """Each body, named, built when it is timed."""
    per, total = guard.MAX_ELEMENT_ATTRIBUTES, guard.MAX_ATTRIBUTES
    scope, namespaces = guard.MAX_NAMESPACES_IN_SCOPE, guard.MAX_NAMESPACES
    most, depth = guard.MAX_ELEMENTS, guard.MAX_DEPTH
    # The Envelope declares e and u: the attacker's declarations come on top.
    return [
        *[(f"attributes on GetStats: {n:,}", lambda n=n: on_get_stats(n))
          for n in (per, per + 1, 10_000, 40_000, 60_000)],
        ("attributes on GetStats: 1 MiB of them", lambda: fill(on_get_stats)),
        *[(f"attributes in the body: {n:,}", lambda n=n: spread_attributes(n))
          for n in (total, total + 1)],
        ("attributes in the body: 1 MiB of them", lambda: fill(spread_attributes)),
        *[(f"namespaces in scope: {n:,}", lambda n=n: in_scope(n - 2)) for n in (scope, scope + 1)],
        ("namespaces in scope: 1 MiB of them", lambda: fill(in_scope)),
        (f"xsi:types x namespaces in scope: {scope} x {most - 4:,}",
         lambda: typed_targetusers(scope - 4, most - 4)),
        ("xsi:types x namespaces in scope: 10,000 x 10,000",
         lambda: typed_targetusers(10_000, 10_000)),
        ("xsi:types x namespaces in scope: 1 MiB of them",  # the product at its largest
         lambda: fill(lambda n: typed_targetusers(4 * n, n))),
        *[(f"namespace declarations: {n:,}", lambda n=n: declared(n - 2))
          for n in (namespaces, namespaces + 1)],
        ("namespace declarations: 1 MiB of them", lambda: fill(declared)),
        *[(f"elements: {n:,}", lambda n=n: elements(n)) for n in (most, most + 1)],
        ("elements: 1 MiB of them", lambda: fill(elements)),
        (f"repeated targetuser: {most - 3:,}", lambda: repeated(most - 3)),
        ("repeated targetuser: 1 MiB of them", lambda: fill(repeated)),
        *[(f"depth: {n}", lambda n=n: nested(n)) for n in (depth, depth + 1)],
        ("depth: 1 MiB of it", lambda: fill(nested)),
        ("text of targetuser: 1 MiB", lambda: fill(text)),
        ("comments: 1 MiB of them", lambda: fill(comments)),
    ]


def outcome(status: int, answer: bytes) -> str:
    """The fault code of a SOAP answer, else its HTTP status."""
    try:
        code = etree.fromstring(answer).findtext(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault/faultcode")
    except etree.XMLSyntaxError:
        code = None
    return code.split(":", 1)[1] if code else str(status)


def in_process(app, body: bytes, query: str) -> tuple[str, float]:
    started = time.perf_counter()
    answer = app({"REQUEST_METHOD": "POST", "PATH_INFO": "/soap", "QUERY_STRING": query,
                  "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "REMOTE_ADDR": "127.0.0.1",
                  "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
                  "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
                  "CONTENT_TYPE": "text/xml; charset=utf-8", "CONTENT_LENGTH": str(len(body))},
                 lambda status, headers: None)
    seconds = time.perf_counter() - started
    return outcome(200, b"".join(answer)), seconds


def over_http(base: str, body: bytes, query: str) -> tuple[str, float]:
    request = urllib.request.Request(f"{base}/soap?{query}", data=body,
                                     headers={"Content-Type": "text/xml; charset=utf-8"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            status, answer = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, answer = error.code, error.read()
    return outcome(status, answer), time.perf_counter() - started


def median(repeat: int, app, body: bytes, query: str) -> tuple[str, float]:
    """The outcome and the median seconds of ``repeat`` calls in-process."""
    runs = [in_process(app, body, query) for _ in range(repeat)]
    seconds = sorted(s for _, s in runs)[len(runs) // 2]
    return runs[0][0], seconds


def time_cell(code: str, seconds: float) -> str:
    return f"{code} {seconds:8.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--gunicorn", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.ERROR)  # each refusal is logged; the table gives the outcomes
    chosen = [(name, build) for name, build in cases()
              if not args.only or any(text in name for text in args.only)]
    credentials = {"no credentials": "", "token": f"wstoken={common.ADMIN_TOKEN}"}
    with common.database("sqlite") as url:
        common.site_with_admin(url)
        # The throttle would refuse the failed calls at once, before the guard: off.
        nonces = Path(url.removeprefix("sqlite:///")).with_name("nonces.sqlite")
        app = create_app(Settings(database_url=url, throttle_failures=0, nonce_store=str(nonces)))
        ways = [("in-process", lambda body, query: median(args.repeat, app, body, query))]
        with (common.gunicorn(url, USESTATS_THROTTLE_FAILURES="0") if args.gunicorn
              else nullcontext()) as base:
            if base:
                ways.append(("gunicorn", lambda body, query: over_http(base, body, query)))
            columns = [f"{way}, {who}" for way, _ in ways for who in credentials]
            print(f"{'body':<50} {'bytes':>9}  " + "  ".join(f"{c:>40}" for c in columns))
            for name, build in chosen:
                body = build()
                cells = [time_cell(*call(body, query)) for _, call in ways
                         for query in credentials.values()]
                print(f"{name:<50} {len(body):>9}  " + "  ".join(f"{c:>40}" for c in cells),
                      flush=True)
        app.network.home.engine.dispose()


if __name__ == "__main__":
    main()
