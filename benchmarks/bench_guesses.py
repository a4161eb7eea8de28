"""Guesses a second the service checks from one address: wrong HTTP Basic passwords and tokens.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_guesses.py [--seconds 20] [--connections 4]

gunicorn serves a small SQLite site (2 sync workers) behind a trusted proxy
(``USESTATS_TRUSTED_PROXIES=127.0.0.1``), with the deployment's throttle
settings (``USESTATS_THROTTLE_*``, defaults otherwise). For each kind of
credential, ``connections`` threads send wrong guesses "from" one address
(``X-Forwarded-For``) for ``seconds``, while a client with good credentials
calls from another address. It prints the guesses the service checked
("wrong credentials", "invalid token") and those it refused unchecked, each
per second, and how many of the good client's calls were answered.

To measure another checkout (the code before the throttle, say), run the script
from it: gunicorn imports the service from the current directory::

    cd /path/to/checkout && PYTHONPATH=. /path/to/venv/bin/python /path/to/bench_guesses.py
"""

from __future__ import annotations

import argparse
import base64
import http.client
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import common

from soap_usestats.auth.clients import new_client, new_secret_key

ATTACKER, ERP_HOST = "203.0.113.7", "198.51.100.20"
BODY = ('<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:u="urn:soap-usestats:1"><e:Body><u:GetStats><u:targetuser>admin</u:targetuser>'
        "<u:timefrom>0</u:timefrom><u:timeto>86400</u:timeto></u:GetStats></e:Body></e:Envelope>"
        ).encode()


def post(base: str, address: str, query: str = "", authorization: str | None = None) -> bytes:
    """One GetStats "from" ``address``; the answer's body."""
    parts = urlsplit(base)
    headers = {"Content-Type": "text/xml; charset=utf-8", "X-Forwarded-For": address}
    if authorization:
        headers["Authorization"] = authorization
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("POST", f"/soap{query}", BODY, headers)
        return connection.getresponse().read()
    finally:
        connection.close()


def outcome(answer: bytes) -> str:
    if b"too many failed authentications" in answer:
        return "refused"
    if b"wrong credentials" in answer or b"invalid token" in answer:
        return "checked"
    return "answered" if b"GetStatsResponse" in answer else "other"


def attack(base: str, guess: dict, good: dict, seconds: float, connections: int) -> tuple[Counter, Counter]:
    """``connections`` threads sending ``guess`` for ``seconds``, and one good client."""
    guesses, calls, deadline = Counter(), Counter(), time.monotonic() + seconds
    lock = threading.Lock()

    def guesser() -> None:
        while time.monotonic() < deadline:
            result = outcome(post(base, ATTACKER, **guess))
            with lock:
                guesses[result] += 1

    def erp() -> None:
        while time.monotonic() < deadline:
            calls[outcome(post(base, ERP_HOST, **good))] += 1
            time.sleep(0.5)

    threads = [threading.Thread(target=guesser) for _ in range(connections)]
    threads.append(threading.Thread(target=erp))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return guesses, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    key = new_secret_key()
    client, password = new_client(key, "erp", user="admin")
    with common.database("sqlite") as url, tempfile.TemporaryDirectory() as folder:
        common.site_with_admin(url)
        config = Path(folder) / "usestats.toml"
        config.write_text(f'[clients.erp]\nsalt = "{client.salt}"\n'
                          f'password_hash = "{client.password_hash}"\nuser = "admin"\n')
        env = {"USESTATS_CONFIG": str(config), "USESTATS_SECRET_KEY": key,
               "USESTATS_TRUSTED_PROXIES": "127.0.0.1"}
        basic = "Basic " + base64.b64encode(f"erp:{password}".encode()).decode()
        wrong_basic = "Basic " + base64.b64encode(b"erp:not-the-password").decode()
        kinds = {
            "HTTP Basic": ({"authorization": wrong_basic}, {"authorization": basic}),
            "wstoken": ({"query": "?wstoken=" + "f" * 32}, {"query": f"?wstoken={common.ADMIN_TOKEN}"}),
        }
        print(f"one address, {args.connections} connections, {args.seconds:.0f} s each, "
              "gunicorn 2 sync workers")
        for kind, (guess, good) in kinds.items():
            store = str(Path(folder) / f"{kind.split()[-1]}.sqlite")  # a fresh count each
            with common.gunicorn(url, USESTATS_NONCE_STORE=store, **env) as base:
                guesses, calls = attack(base, guess, good, args.seconds, args.connections)
            print(f"{kind:10}  checked {guesses['checked'] / args.seconds:7.1f} guesses/s "
                  f"({guesses['checked']})  refused unchecked {guesses['refused'] / args.seconds:7.1f}/s "
                  f"({guesses['refused']})  other {guesses['other'] + guesses['answered']}  "
                  f"good client from another address: {calls['answered']}/{sum(calls.values())} answered")


if __name__ == "__main__":
    main()
