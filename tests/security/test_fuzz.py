"""Fuzzing: mutated GetStats and GetScores envelopes always get a SOAP answer.

Whatever the mutation, the answer is HTTP 200 with a response or HTTP 500 with a
Client fault (or Server.DatabaseUnavailable), in a well-formed SOAP 1.1
envelope; never an internal error, and the application keeps answering.
"""

from __future__ import annotations

import re
import time
from xml.sax.saxutils import escape

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from tests.support import HANG_SECONDS
from tests.support.wsgi import GET_SCORES, GET_STATS, SOAP_ENV, TNS

SNIPPETS = [
    # DTDs, entities, processing instructions, declarations
    b"<!DOCTYPE e:Envelope>", b'<!DOCTYPE x [<!ENTITY a "&b;&b;">]>',
    b'<!ENTITY a SYSTEM "file:///etc/passwd">', b"<?pi x?>", b"<?xml version='1.0'?>",
    b'<?xml version="1.0" encoding="latin-1"?>', b'<?xml version="1.1" encoding="\x01"?>',
    b"&ent;", b"&amp;", b"&#0;", b"&#1;", b"&#x110000;", b"&#65;",
    # markup pieces
    b"<![CDATA[", b"]]>", b"<!--", b"-->", b"<", b">", b"&", b'"', b"'", b"=", b"/",
    b"<u:x>" * 40, b"<u:x>" * 40 + b"</u:x>" * 40, b"</u:x>",
    b"<e:Body>", b"</e:Body>", b"<e:Header>", b"<e:Fault>",
    b'xmlns="urn:x"', b'xmlns:u=""', b'xml:id="a"', b'href="#a"', b' a="' + b"x" * 100_000 + b'"',
    # bytes that are not UTF-8, or not XML
    b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\xc3", b"\xed\xa0\x80",
    # parameters, repeated or out of range
    b"<u:targetuser>bob</u:targetuser>", b"<u:timefrom>-1</u:timefrom>",
    b"<u:timeto>99999999999</u:timeto>", b"<u:statsscope>course</u:statsscope>",
    b"<u:json_response>true</u:json_response>",
    b"<u:callinguser><u:username>admin</u:username></u:callinguser>",
]
OPERATIONS = {b"GetStatsResponse", b"GetScoresResponse"}


def _at(data: bytes, position: int) -> int:
    return position % (len(data) + 1)


def insert(data: bytes, position: int, piece: bytes) -> bytes:
    i = _at(data, position)
    return data[:i] + piece + data[i:]


def overwrite(data: bytes, position: int, byte: int) -> bytes:
    if not data:
        return data
    i = position % len(data)
    return data[:i] + bytes([byte]) + data[i + 1:]


def insert_at_tag(data: bytes, tag: int, inside: bool, piece: bytes) -> bytes:
    """Insert ``piece`` at the end of the tag-th tag: inside it (an attribute) or after it."""
    ends = [i for i, byte in enumerate(data) if byte == ord(">")]
    if not ends:
        return insert(data, tag, piece)
    i = ends[tag % len(ends)] + (0 if inside else 1)
    return data[:i] + piece + data[i:]


def duplicate_element(data: bytes, element: int) -> bytes:
    """Repeat the element-th element, from its start tag to its first matching end tag."""
    starts = list(re.finditer(rb"<([\w:.-]+)[^>]*>", data))
    if not starts:
        return data
    start = starts[element % len(starts)]
    end = data.find(b"</" + start.group(1) + b">", start.end())
    if end < 0:
        return data
    end += len(start.group(1)) + 3
    return data[:end] + data[start.start():end] + data[end:]


def set_text(data: bytes, tag: int, text: bytes) -> bytes:
    """Replace the text after the tag-th tag (a parameter's value, say) with ``text``."""
    ends = [i + 1 for i, byte in enumerate(data) if byte == ord(">")]
    if not ends:
        return data + text
    start = ends[tag % len(ends)]
    end = data.find(b"<", start)
    return data[:start] + text + data[len(data) if end < 0 else end:]


def truncate(data: bytes, position: int) -> bytes:
    return data[:_at(data, position)]


def cut(data: bytes, start: int, length: int) -> bytes:
    i = _at(data, start)
    return data[:i] + data[i + length:]


def duplicate(data: bytes, start: int, length: int, to: int) -> bytes:
    i = _at(data, start)
    return insert(data, to, data[i:i + length])


positions = st.integers(min_value=0, max_value=10_000)
values = st.one_of(
    st.text(max_size=30).map(lambda text: escape(text).encode()),
    st.integers(min_value=-(2**63), max_value=2**63).map(lambda number: str(number).encode()),
    st.sampled_from([b"", b" ", b"true", b"1e9", b"0x10", b"NaN", b"alice", b"C5", b"notes/items",
                     b"module", b"idnumber", b"id", b"E1001", b"%", b"' OR '1'='1"]),
)
#: Edits that keep the markup mostly intact, so that the request reaches Spyne and the site.
edits = st.one_of(
    st.tuples(st.just(set_text), positions, values),
    st.tuples(st.just(duplicate_element), positions),
    st.tuples(st.just(insert_at_tag), positions, st.booleans(), st.sampled_from(SNIPPETS)),
)
#: Damage anywhere in the bytes.
damage = st.one_of(
    st.tuples(st.just(insert), positions, st.sampled_from(SNIPPETS)),
    st.tuples(st.just(insert), positions, st.text(max_size=20).map(str.encode)),
    st.tuples(st.just(insert), positions, st.binary(max_size=8)),
    st.tuples(st.just(overwrite), positions, st.integers(min_value=0, max_value=255)),
    st.tuples(st.just(truncate), positions),
    st.tuples(st.just(cut), positions, st.integers(min_value=1, max_value=60)),
    st.tuples(st.just(duplicate), positions, st.integers(min_value=1, max_value=200), positions),
)


def _apply(data: bytes, steps: list[tuple]) -> bytes:
    for mutation, *arguments in steps:
        data = mutation(data, *arguments)
    return data


#: A valid request, then up to three edits or up to three kinds of damage.
requests = st.builds(
    _apply,
    st.sampled_from([GET_STATS, GET_SCORES]),
    st.one_of(st.lists(edits, min_size=1, max_size=3), st.lists(damage, min_size=1, max_size=3)),
)


def assert_soap_answer(status: int, body: bytes) -> None:
    """HTTP 200 with an operation's response, or HTTP 500 with a Client (or database) fault."""
    root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    assert root.tag == f"{{{SOAP_ENV}}}Envelope"
    (entry,) = root.find(f"{{{SOAP_ENV}}}Body")
    if status == 200:
        name = etree.QName(entry)
        assert name.namespace == TNS and name.localname.encode() in OPERATIONS
        return
    assert status == 500
    assert entry.tag == f"{{{SOAP_ENV}}}Fault"
    code = entry.findtext("faultcode").split(":", 1)[1]
    assert code.startswith("Client.") or code == "Server.DatabaseUnavailable", code
    assert entry.findtext(f"detail/{{{TNS}}}UseStatsFault/{{{TNS}}}status").isdigit()


def test_mutated_envelopes_always_get_a_soap_answer(soap):
    @settings(max_examples=400, deadline=None, derandomize=True, database=None)
    @given(requests)
    def fuzz(body: bytes) -> None:
        started = time.perf_counter()
        response = soap.post(body)
        assert time.perf_counter() - started < HANG_SECONDS
        assert response.headers["Content-Type"].startswith("text/xml")
        assert_soap_answer(response.status, response.body)
        if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
            assert response.status == 500

    fuzz()
    response = soap.post(GET_STATS)
    assert response.status == 200
    assert response.xml().findtext(f".//{{{TNS}}}ELAPSED") == "46"


def test_the_unmutated_envelopes_are_answered(soap):
    for body in (GET_STATS, GET_SCORES):
        response = soap.post(body)
        assert_soap_answer(response.status, response.body)
        assert response.status == 200
