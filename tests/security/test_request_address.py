"""Every request line names the client's address, as ``trusted_proxies`` resolve it."""

from __future__ import annotations

import logging
from ipaddress import ip_network

from tests.support.wsgi import GET_STATS

REQUESTS = "soap_usestats.requests"


def addresses(caplog) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.name == REQUESTS]
    assert all("\n" not in line for line in lines)
    return [line.split(" address=", 1)[1].rsplit(" outcome=", 1)[0] for line in lines]


def test_every_request_line_carries_the_client_address(make_client, caplog):
    client = make_client(trusted_proxies=(ip_network("127.0.0.1"), ip_network("10.0.0.0/8")))
    with caplog.at_level(logging.INFO, logger=REQUESTS):
        client.get("/soap", "wsdl", HTTP_X_FORWARDED_FOR="198.51.100.7")
        client.get("/healthz", REMOTE_ADDR="192.0.2.44")
        assert client.post(GET_STATS, HTTP_X_FORWARDED_FOR="203.0.113.5, 10.1.1.1").status == 200
        client.post(GET_STATS, QUERY_STRING="", HTTP_X_FORWARDED_FOR="2001:db8::7")
        client.post(GET_STATS, HTTP_X_FORWARDED_FOR="192.0.2.1, 10.1.1.1", REMOTE_ADDR="192.0.2.99")
    assert addresses(caplog) == ["198.51.100.7", "192.0.2.44", "203.0.113.5", "2001:db8::7",
                                 "192.0.2.99"]


def test_what_a_proxy_forwards_is_logged_quoted_escaped_and_bounded(make_client, caplog):
    client = make_client(trusted_proxies=(ip_network("127.0.0.1"),))
    with caplog.at_level(logging.INFO, logger=REQUESTS):
        client.post(GET_STATS, HTTP_X_FORWARDED_FOR='1.2.3.4 outcome=ok\n' + "x" * 500)
    [address] = addresses(caplog)
    assert address == '"1.2.3.4 outcome=ok\\n' + "x" * 45 + '"'
