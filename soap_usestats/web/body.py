"""The request body, read and parsed before Spyne sees it: hostile input ends here.

A request is refused with :class:`~soap_usestats.exceptions.InvalidXML` when it
is over the size limit, not UTF-8, not well-formed, holds a DTD (WS-I Basic
Profile R1008, and so no entities), a processing instruction, more of anything
than the bounds below allow, or is not one SOAP Envelope with one Body entry.
The body is parsed without network, DTD loading or entity resolution, and the
DTD scan runs on the bytes before any parser runs. A header entry for this
service marked ``mustUnderstand`` that it does not understand is refused with
:class:`~soap_usestats.exceptions.NotUnderstood`, SOAP's ``MustUnderstand``.

The bounds are counted while parsing, and the parse stops at the first one
passed. They cap what lxml and Spyne do in more than linear time once a body
is parsed: an element's attributes are read one lookup each along the
element's list of them (quadratic in their number), and an element's
in-scope namespaces are gathered from all its ancestors whenever Spyne reads
an ``xsi:type`` (elements times namespaces). The element count caps the rest,
linear but not free. Each bound is many times what a real client sends.
"""

from __future__ import annotations

import re

from lxml import etree

from ..exceptions import InvalidXML, NotUnderstood
from ..namespaces import SOAP11_ENV, SOAP12_ENV, WSSE

#: Element nesting allowed; this service's requests need fewer than 10 levels.
MAX_DEPTH = 32
#: Elements in a request; GetUsersStats with its 1000 targetusers needs about 1030.
MAX_ELEMENTS = 4096
#: Attributes of one element, namespace declarations aside; clients send a few.
MAX_ELEMENT_ATTRIBUTES = 64
#: Attributes in a request: one an element (``xsi:type``, as SOAP encoding sends).
MAX_ATTRIBUTES = 4096
#: Namespace declarations in scope at an element: its own and its ancestors'.
MAX_NAMESPACES_IN_SCOPE = 64
#: Namespace declarations in a request: one an element, as some toolkits write them.
MAX_NAMESPACES = 4096
_VERSIONS = {SOAP11_ENV: "1.1", SOAP12_ENV: "1.2"}
#: The header entries the service understands: WS-Security's (``auth.username``).
UNDERSTOOD = frozenset({f"{{{WSSE}}}Security"})
#: Who a header entry is for, by its SOAP 1.1 ``actor`` or SOAP 1.2 ``role``: these name
#: this service (absent names it too); any other names another node, and ``none`` nobody.
_FOR_THIS_NODE = {
    SOAP11_ENV: ("actor", {"http://schemas.xmlsoap.org/soap/actor/next"}),
    SOAP12_ENV: ("role", {f"{SOAP12_ENV}/role/next", f"{SOAP12_ENV}/role/ultimateReceiver"}),
}
_PATHS = {"1.1": "/soap", "1.2": "/soap12"}

_CHUNK = 64 * 1024
_DTD_MARKUP = (b"<!DOCTYPE", b"<!ENTITY")
_DECLARED_ENCODING = re.compile(rb"^(?:\xef\xbb\xbf)?<\?xml[^>]*?\sencoding\s*=\s*[\"']([^\"']*)[\"']")
_ENCODING_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,39}")
_PARSER_OPTIONS = dict(
    encoding="utf-8", resolve_entities=False, no_network=True, load_dtd=False,
    dtd_validation=False, huge_tree=False, remove_pis=False,
)


def read_body(environ: dict, limit: int) -> bytes:
    """The request body, refused when over ``limit`` bytes.

    ``CONTENT_LENGTH`` is honoured but never trusted: at most ``limit + 1``
    bytes are read. A body without a length (chunked) is read to its end only
    where the server marks the input as terminated (``wsgi.input_terminated``);
    elsewhere reading it could wait forever, so it counts as empty.
    """
    length = _content_length(environ)
    if length is not None and length > limit:
        raise InvalidXML(f"the request is over the size limit of {limit} bytes")
    if length is None:
        length = limit + 1 if environ.get("wsgi.input_terminated") else 0
    stream, chunks, size = environ["wsgi.input"], [], 0
    while size < length:
        chunk = stream.read(min(_CHUNK, length - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise InvalidXML(f"the request is over the size limit of {limit} bytes")
    return b"".join(chunks)


def _content_length(environ: dict) -> int | None:
    text = (environ.get("CONTENT_LENGTH") or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise InvalidXML("the request's Content-Length is not a number of bytes")
    return int(text)


def parse_envelope(body: bytes, content_type: str | None = None,
                   namespace: str = SOAP11_ENV) -> etree._Element:
    """The SOAP Envelope of ``body`` (SOAP 1.1, or 1.2 by ``namespace``), parsed safely;
    :class:`InvalidXML` if hostile or malformed."""
    version = _VERSIONS[namespace]
    if not body.strip():
        raise InvalidXML(f"the request is empty; POST a SOAP {version} envelope")
    _check_utf8(body, content_type)
    if any(markup in body for markup in _DTD_MARKUP):
        raise InvalidXML("the request holds a DTD; SOAP messages must not (WS-I BP R1008)")
    envelope = _parse(body)
    _check_structure(envelope, namespace)
    _check_headers(envelope, namespace)
    return envelope


def _check_utf8(body: bytes, content_type: str | None) -> None:
    declared = _DECLARED_ENCODING.match(body)
    for encoding in (_charset(content_type or ""), declared and declared.group(1).decode("latin-1")):
        if encoding and encoding.lower() not in ("utf-8", "utf8"):
            named = encoding if _ENCODING_NAME.fullmatch(encoding) else "another encoding"
            raise InvalidXML(f"the request is declared as {named}; this service accepts UTF-8 only")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidXML(f"the request is not valid UTF-8 (byte {error.start})") from None


def _charset(content_type: str) -> str | None:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip("\"'")
    return None


def _parse(body: bytes) -> etree._Element:
    """Parse, refusing processing instructions and whatever passes a bound as they are met.

    The body is fed in chunks, and each chunk's events are counted before the
    next is parsed: a body past a bound is not parsed further. The events met
    before a syntax error are counted before it is told: a document nested
    past libxml2's own limit (256) is told it is too deep, not that it is
    malformed.
    """
    parser = etree.XMLPullParser(events=("start-ns", "start", "end", "pi"), **_PARSER_OPTIONS)
    counts = _Counts()
    root = syntax = None
    try:
        for offset in range(0, len(body), _CHUNK):
            parser.feed(body[offset:offset + _CHUNK])
            counts.take(parser.read_events())
        root = parser.close()
    except etree.XMLSyntaxError as error:
        syntax = error
    counts.take(parser.read_events())
    if syntax is not None:
        line, column = syntax.position
        where = f" (line {line}, column {column})" if line else ""
        raise InvalidXML(f"the request is not well-formed XML{where}")
    return root


class _Counts:
    """What a request holds so far, refused the moment it passes a bound."""

    def __init__(self) -> None:
        self.elements = self.attributes = self.namespaces = 0
        self.declared = 0       # declarations met since the last element: the next one's own
        self.scopes = [0]       # namespaces in scope at each open element, the root's parent first

    def take(self, events) -> None:
        """Count parser events, ``(event, element)``, in document order."""
        for event, element in events:
            if event == "start-ns":
                self.namespace()
            elif event == "start":
                self.element(element)
            elif event == "end":
                self.scopes.pop()
            else:
                raise InvalidXML("the request holds a processing instruction; SOAP messages must not")

    def namespace(self) -> None:
        self.namespaces += 1
        self.declared += 1
        if self.scopes[-1] + self.declared > MAX_NAMESPACES_IN_SCOPE:
            raise InvalidXML(f"an element of the request has more than {MAX_NAMESPACES_IN_SCOPE} "
                             "namespace declarations in scope")
        if self.namespaces > MAX_NAMESPACES:
            raise InvalidXML(f"the request declares more than {MAX_NAMESPACES} namespaces")

    def element(self, element: etree._Element) -> None:
        self.elements += 1
        if self.elements > MAX_ELEMENTS:
            raise InvalidXML(f"the request holds more than {MAX_ELEMENTS} elements")
        if len(self.scopes) > MAX_DEPTH:
            raise InvalidXML(f"the request nests elements deeper than {MAX_DEPTH} levels")
        attributes = len(element.attrib)
        if attributes > MAX_ELEMENT_ATTRIBUTES:
            raise InvalidXML(f"an element of the request has more than {MAX_ELEMENT_ATTRIBUTES} "
                             "attributes")
        self.attributes += attributes
        if self.attributes > MAX_ATTRIBUTES:
            raise InvalidXML(f"the request holds more than {MAX_ATTRIBUTES} attributes")
        self.scopes.append(self.scopes[-1] + self.declared)
        self.declared = 0


def _check_structure(envelope: etree._Element, namespace: str) -> None:
    """One Envelope: an optional Header, then a Body with one entry, nothing after."""
    version = _VERSIONS[namespace]
    if envelope.tag != f"{{{namespace}}}Envelope":
        other = next((v for ns, v in _VERSIONS.items() if envelope.tag == f"{{{ns}}}Envelope"), None)
        where = f"; SOAP {other} is served at {_PATHS[other]}" if other else ""
        raise InvalidXML(f"the request is not a SOAP {version} envelope{where}")
    parts = [child.tag for child in envelope.iterchildren("*")]
    if parts not in ([f"{{{namespace}}}Body"], [f"{{{namespace}}}Header", f"{{{namespace}}}Body"]):
        raise InvalidXML("the envelope must hold an optional Header and then a Body, nothing else")
    entries = list(envelope.find(f"{{{namespace}}}Body").iterchildren("*"))
    if len(entries) != 1:
        raise InvalidXML("the SOAP Body must hold exactly one operation element")
    if entries[0].tag == f"{{{namespace}}}Fault":
        raise InvalidXML("a request cannot be a SOAP Fault")


def _check_headers(envelope: etree._Element, namespace: str) -> None:
    """SOAP's processing model: header entries for this service marked ``mustUnderstand``
    that it does not understand end the request, before anything else is done with it."""
    not_understood = [entry.tag for entry in envelope.iterfind(f"{{{namespace}}}Header/*")
                      if _mandatory_here(entry, namespace) and entry.tag not in UNDERSTOOD]
    if not_understood:
        raise NotUnderstood(not_understood)


def _mandatory_here(entry: etree._Element, namespace: str) -> bool:
    """Whether a header entry is marked ``mustUnderstand`` and is for this service."""
    if entry.get(f"{{{namespace}}}mustUnderstand", "").strip() not in ("1", "true"):
        return False
    attribute, ours = _FOR_THIS_NODE[namespace]
    target = entry.get(f"{{{namespace}}}{attribute}")
    return target is None or target.strip() in ours
