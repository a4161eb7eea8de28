"""Under gunicorn, a chunked body (no Content-Length) is read and checked, up to the limit."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

from tests.support.moodle import MoodleBuilder
from tests.support.servers import gunicorn
from tests.support.wsgi import GET_STATS, Response, envelope

pytestmark = pytest.mark.e2e
LIMIT = 4096


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('chunked') / 'moodle.sqlite'}"
    MoodleBuilder(url).engine.dispose()
    with gunicorn(url, USESTATS_MAX_REQUEST_BYTES=str(LIMIT)) as soap_url:
        yield urlsplit(soap_url)


def post_chunked(service, body: bytes) -> Response:
    connection = http.client.HTTPConnection(service.hostname, service.port, timeout=10)
    try:
        chunks = (body[i:i + 1000] for i in range(0, len(body), 1000))
        connection.request("POST", service.path, body=chunks, encode_chunked=True,
                           headers={"Content-Type": "text/xml; charset=utf-8",
                                    "Transfer-Encoding": "chunked"})
        answer = connection.getresponse()
        return Response(answer.status, f"{answer.status} {answer.reason}", dict(answer.getheaders()),
                        answer.read(), {})
    finally:
        connection.close()


def test_chunked_body_is_read_and_checked(service):
    response = post_chunked(service, envelope("<u:GetStats/>", prolog="<!DOCTYPE e:Envelope>"))
    assert response.status == 500
    code, message, _ = response.fault()
    assert code == "Client.InvalidXML" and "holds a DTD" in message


def test_chunked_body_over_the_limit(service):
    response = post_chunked(service, GET_STATS + b" " * (2 * LIMIT))
    assert response.status == 500
    code, message, status = response.fault()
    assert (code, status) == ("Client.InvalidXML", 503)
    assert message == f"the request is over the size limit of {LIMIT} bytes"
