"""The page for people at ``GET /soap`` (and ``/soap12``): the service explained by its own model.

Integrators open the endpoint in a browser before they import anything, as with
the help page of a .NET ASMX service. Nothing on the page is written twice: the
operations, their parameters and the answers' elements, with what each means,
are walked from the Spyne application's interface, the source of the WSDL
(``soap.service`` and ``soap.messages`` hold the texts); the fault codes and
MNET statuses are the exception classes' own; the example request, answer and
fault are written by the service's own encoders, the answer shaped
(``soap.shaping``) from the time model's worked example run through the engine.

The page needs no credentials and reads no database: it shows no user's data.
It is one self-contained HTML document, its CSS inline, with no script and no
external asset. It is built once, when the application starts.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace

from lxml import etree
from spyne import Application, MethodContext
from spyne.model.complex import Array, ComplexModelBase

from .. import __version__, exceptions
from ..domain.finality import final_before
from ..domain.results import Completion, CourseFigures, Grade, Person, Stats
from ..soap import faults, shaping
from ..soap.messages import UseStatsFault
from ..timemodel.engine import DEFAULT_SETTINGS, LogEvent, estimate

#: What each fault of the contract means; its code and MNET status come from the class.
FAULTS: tuple[tuple[type[exceptions.UseStatsError], str], ...] = (
    (exceptions.InvalidParameter,
     ("a parameter is malformed or out of range (timefrom after timeto, an unknown "
      "statsscope...); an element or query parameter that is not one of the operation's "
      "(a misspelled name is never ignored), or given twice; a boolean other than true, "
      "false, 1 or 0. The message names the parameter")),
    (exceptions.UnknownUser,
     ("no such non-deleted user (told only to a caller who may see every user), or more "
      "than one matches (email, idnumber)")),
    (exceptions.UnknownCourse, "no such course, or more than one matches"),
    (exceptions.AuthenticationFailed,
     ("no credential, a wrong one, or more than one; or too many failed ones from the "
      "caller's address lately (retry after the time the message gives)")),
    (exceptions.Forbidden,
     ("the caller's Moodle roles do not let it see these figures; to a caller who may not "
      "see every user, also a user that does not exist, with the same message")),
    (exceptions.UnknownHost, "whereroot names no site this service answers for"),
    (exceptions.InvalidXML,
     ("not well-formed XML, a DTD, a processing instruction, not UTF-8, not a SOAP envelope, "
      "no such operation, over the size limit, or past a bound on its elements, attributes "
      "or namespaces")),
    (exceptions.RemoteFailure,
     ("the site whereroot names failed or did not answer within its timeout, answered "
      "against the contract, or the call would loop between services")),
    (exceptions.DatabaseUnavailable,
     ("the Moodle database cannot be reached or did not answer in time; the next request "
      "retries")),
    (exceptions.SchemaMismatch,
     ("the service's configuration does not match the Moodle database (a table it reads is "
      "missing); the operator's log says what to fix")),
    (exceptions.InternalError, "a defect of the service; the operator's log has the details"),
    (exceptions.NotUnderstood,
     ("SOAP's own fault, without detail: a header entry marked mustUnderstand that the "
      "service does not understand (WS-Security's it does)")),
)


def status(kind: type[exceptions.UseStatsError]) -> str:
    """The MNET status a fault carries in its detail; none for SOAP's own faults."""
    return str(kind.status) if kind.faultcode.startswith(("Client.", "Server.")) else "none"


#: The example calls' parameters: the demo site's reference learner in the window of the
#: time model's worked example (README, docs/time-model.md).
EXAMPLE_BASE = 1769385600
EXAMPLE_PARAMETERS = {
    "GetStats": {"targetuser": "ref.learner", "statsscope": "course",
                 "timefrom": EXAMPLE_BASE, "timeto": EXAMPLE_BASE + 100000},
}
#: The worked example's log rows, as the engine reads them (course 5, quiz 31, check 32).
_WORKED_EXAMPLE = (
    (1000, "loggedin", "user", 10, 0, 0, "core", None),
    (1060, "viewed", "course", 50, 5, 5, "core", None),
    (1300, "viewed", "course_module", 70, 31, 5, "mod_quiz", "quiz"),
    (1500, "graded", "user", 50, 5, 5, "core", None),
    (1900, "viewed", "course_module", 70, 32, 5, "mod_learningtimecheck", "learningtimecheck"),
    (2000, "viewed", "course", 50, 5, 5, "core", None),
    (11000, "viewed", "course_module", 70, 31, 5, "mod_quiz", "quiz"),
)
_EXAMPLE_FAULT = exceptions.UnknownUser("no user has username 'nobody'")
#: Who and where the example is about, as the demo site has them (tests/test_demo.py checks it).
EXAMPLE_LEARNER = Person(8, "ref.learner", "Reference", "Learner", "E10001")
EXAMPLE_COURSE = (5, "Project Management Foundations", "PM110", "PRO-PM-2026")
#: The learner's record of that course: completed when they opened its learning time check.
EXAMPLE_COMPLETION = Completion("complete", 1768814851, 1769386900, 1769387500)
EXAMPLE_GRADE = Grade(Decimal("71.60000"), Decimal("0.00000"), Decimal("100.00000"))


@dataclass(frozen=True)
class Endpoint:
    """One way in, as the page names it: its protocol, its address and its WSDL's."""

    protocol: str
    url: str

    @property
    def wsdl(self) -> str:
        return f"{self.url}?wsdl"


@dataclass(frozen=True)
class Element:
    """One element of a message, as the page lists it."""

    name: str
    type: str
    required: bool
    repeated: bool
    doc: str
    depth: int
    same_as: str | None = None


def help_page(app: Application, this: Endpoint, others: list[Endpoint], json_url: str) -> bytes:
    """The page for the endpoint ``this`` served by ``app``; ``others`` are the other SOAP
    ways in, and ``json_url`` the address of the same operations in JSON."""
    methods = operations(app)
    parts = [
        f"<h1>soap_usestats <small>{html.escape(__version__)}</small></h1>",
        _intro(app, this, others, json_url),
        _contents(methods),
        *(_operation(method) for method in methods),
        _example(app, this),
        _faults(app),
    ]
    return _PAGE.format(title="soap_usestats: time spent on Moodle, over SOAP",
                        css=_CSS, body="\n".join(parts)).encode()


def operations(app: Application) -> list:
    """The operations of ``app`` in the order the WSDL declares them."""
    return list(app.interface.method_id_map.values())


def parameters(method) -> list[Element]:
    """The parameters of an operation: its input message's elements, one level."""
    return [_element(name, kind, 0) for name, kind in method.in_message._type_info.items()]


def answer(method) -> list[Element]:
    """The elements of an operation's answer, nested types expanded once each."""
    elements: list[Element] = []
    expanded: dict[type, str] = {}
    for name, kind in method.out_message._type_info.items():
        _walk(name, kind, 0, elements, expanded)
    return elements


def _walk(name: str, kind, depth: int, out: list[Element], expanded: dict) -> None:
    """List ``name`` and, the first time its type is met, the elements of that type.

    A type met again (a list of it, or the type itself) points to where it was
    listed instead: a list of ``COURSE`` and ``SITECOURSE`` share ``CourseStats``.
    """
    shape = _shape(kind)
    if shape is not None and shape in expanded:
        out.append(_element(name, kind, depth, same_as=expanded[shape]))
        return
    out.append(_element(name, kind, depth))
    if shape is None:
        return
    if _is_array(kind):
        ((member, member_kind),) = kind._type_info.items()
        _walk(member, member_kind, depth + 1, out, expanded)
        expanded[shape] = member
    else:
        expanded[shape] = name
        for child, child_kind in kind._type_info.items():
            _walk(child, child_kind, depth + 1, out, expanded)


def _element(name: str, kind, depth: int, same_as: str | None = None) -> Element:
    attributes = kind.Attributes
    return Element(name, _type_name(kind), attributes.min_occurs >= 1,
                   attributes.max_occurs > 1, " ".join(kind.get_documentation().split()),
                   depth, same_as)


def _is_array(kind) -> bool:
    return issubclass(kind, Array)


def _shape(kind) -> type | None:
    """The complex type whose elements ``kind`` holds (a list's member type), else None."""
    if _is_array(kind):
        ((_, kind),) = kind._type_info.items()
    base = _base(kind)
    return base if issubclass(base, ComplexModelBase) else None


def _base(kind):
    """The class a customised type was made from (``customize`` makes subclasses)."""
    while getattr(kind, "__orig__", None) is not None:
        kind = kind.__orig__
    return kind


def _type_name(kind) -> str:
    if _is_array(kind):
        ((member, member_kind),) = kind._type_info.items()
        return f"list of {member} ({member_kind.get_type_name()})"
    if issubclass(kind, ComplexModelBase):
        return kind.get_type_name()
    return f"xs:{kind.get_type_name()}"


# The sections

def _intro(app: Application, this: Endpoint, others: list[Endpoint], json_url: str) -> str:
    service = next(iter(app.services))
    rows = "".join(
        f"<tr><td>{html.escape(e.protocol)}{' (this page)' if e is this else ''}</td>"
        f"<td><code>{html.escape(e.url)}</code></td>"
        f'<td><a href="{html.escape(e.wsdl)}">{html.escape(e.wsdl)}</a></td></tr>'
        for e in [this, *others])
    return f"""
<p class="lead">{html.escape(" ".join((service.__doc__ or "").split()))}</p>
<p>A SOAP web service that tells an ERP or integration middleware how much time each
learner spent on this Moodle site &mdash; on the whole site, in each course and in each
activity &mdash; and what grades they earned. It reads the Moodle database and never
writes to it. It is the typed, WSDL-described successor of block_use_stats' MNET
functions <code>use_stats_rpc_get_stats</code> and <code>use_stats_rpc_get_scores</code>:
import the WSDL once, then call the operations below.</p>
<table>
<thead><tr><th>protocol</th><th>endpoint (POST)</th><th>WSDL</th></tr></thead>
<tbody>{rows}</tbody>
</table>
<p>The same operations answer JSON to a plain HTTP GET, their parameters in the query:
<code>{html.escape(json_url)}/GetStats?targetuser=ref.learner&amp;statsscope=course&amp;wstoken=TOKEN</code>.
A list is its element repeated (<code>targetusers.targetuser=a&amp;targetusers.targetuser=b</code>),
and a fault is <code>{{"faultcode", "faultstring", "status"}}</code> with HTTP status 400, 401,
403, 500 or 503.</p>
<p><strong>Every call is authenticated</strong> (this page and the WSDLs need nothing):
a Moodle web service token in the query, <code>{html.escape(this.url)}?wstoken=TOKEN</code>;
HTTP Basic; or a WS-Security UsernameToken, for the service's own clients. What a call
may see is decided by the Moodle roles of the user it is for:
<code>block/use_stats:seesitedetails</code> in the system context opens anyone's figures,
<code>block/use_stats:seecoursedetails</code> the courses where it is held, and
<code>block/use_stats:seeowndetails</code> (in the system context or in a course)
one's own.</p>"""


def _contents(methods: list) -> str:
    items = "".join(f'<li><a href="#{m.name}">{m.name}</a>: {html.escape(_doc(m))}</li>'
                    for m in methods)
    return (f"<h2>Operations</h2><ul>{items}</ul>"
            '<p>Then: <a href="#example">an example</a>, <a href="#faults">the faults</a>.</p>')


def _operation(method) -> str:
    rows = "".join(_row(e, param=True) for e in parameters(method))
    answer_rows = "".join(_row(e) for e in answer(method))
    return f"""
<section id="{method.name}">
<h2>{method.name}</h2>
<p>{html.escape(_doc(method))}</p>
<h3>Parameters</h3>
<table class="elements">
<thead><tr><th>name</th><th>type</th><th></th><th>meaning</th></tr></thead>
<tbody>{rows}</tbody>
</table>
<h3>Answer</h3>
<table class="elements">
<thead><tr><th>element</th><th>type</th><th></th><th>meaning</th></tr></thead>
<tbody>{answer_rows}</tbody>
</table>
</section>"""


def _row(e: Element, param: bool = False) -> str:
    flags = ("required" if e.required else "optional") + (", repeated" if e.repeated else "")
    meaning = html.escape(e.doc)
    if e.same_as:
        meaning += f" <em>Its elements are those of {html.escape(e.same_as)} above.</em>"
    indent = f' style="padding-left:{0.4 + 1.2 * e.depth:.1f}em"' if e.depth else ""
    return (f"<tr><td{indent}><code>{html.escape(e.name)}</code></td>"
            f"<td><code>{html.escape(e.type)}</code></td><td>{flags}</td>"
            f"<td>{meaning}</td></tr>")


def _example(app: Application, this: Endpoint) -> str:
    method = next(m for m in operations(app) if m.name == "GetStats")
    request = example_request(app, method, EXAMPLE_PARAMETERS["GetStats"])
    stats = example_stats()
    response = example_response(app, method, stats)
    content_type = app.out_protocol.mime_type
    return f"""
<section id="example">
<h2>Example</h2>
<p>GetStats at course scope for the demo site's reference learner, asked at the end of
the window, whose log is the worked example of the time model: {stats.total.seconds}
seconds on the site in {stats.session_count} sessions, {stats.courses[0].tally.seconds} of
them in one course. The request, as <code>POST {html.escape(this.url)}?wstoken=TOKEN</code> with
<code>Content-Type: {html.escape(content_type)}</code>:</p>
<pre>{html.escape(request)}</pre>
<p>The answer:</p>
<pre>{html.escape(response)}</pre>
</section>"""


def _faults(app: Application) -> str:
    rows = "".join(f"<tr><td><code>{kind.faultcode}</code></td><td>{status(kind)}</td>"
                   f"<td>{html.escape(meaning)}</td></tr>" for kind, meaning in FAULTS)
    soap12 = "soap12" in app.out_protocol.__class__.__name__.lower()
    how = ("SOAP 1.2 faults (HTTP 400 for a <code>Sender</code> fault, 500 for a "
           "<code>Receiver</code> one) carry the code below as their subcode"
           if soap12 else "SOAP 1.1 faults (HTTP 500) carry the code below as their "
           "<code>faultcode</code>")
    return f"""
<section id="faults">
<h2>Faults</h2>
<p>{how}, and the MNET status number in <code>detail</code>, so that clients written for
the MNET functions keep working. A fault never holds SQL, a path or a stack trace.</p>
<table>
<thead><tr><th>faultcode</th><th>MNET status</th><th>when</th></tr></thead>
<tbody>{rows}</tbody>
</table>
<p>For example:</p>
<pre>{html.escape(example_fault(app))}</pre>
</section>"""


def _doc(method) -> str:
    return " ".join((method.doc or "").split())


# The examples, written by the service's own encoders

def example_request(app: Application, method, values: dict) -> str:
    """The SOAP request of ``method`` with these parameter values, as a client sends it."""
    ctx = MethodContext(SimpleNamespace(app=app), MethodContext.CLIENT)
    ctx.descriptor = method
    message = method.in_message()
    for name, value in values.items():
        setattr(message, name, value)
    ctx.out_object = list(message)
    return _written(app, ctx, app.out_protocol.REQUEST)


def example_response(app: Application, method, stats: Stats) -> str:
    """GetStats' answer of ``stats``, shaped and encoded as the operation's answer is."""
    ctx = MethodContext(SimpleNamespace(app=app), MethodContext.SERVER)
    ctx.descriptor = method
    ctx.out_object = [shaping.use_stats(stats)]
    return _written(app, ctx, app.out_protocol.RESPONSE)


def example_stats() -> Stats:
    """GetStats' plain answer for the example: the engine's figures for the worked example."""
    start, end = EXAMPLE_BASE, EXAMPLE_BASE + 100000
    events = [LogEvent(n, start + offset, *rest)
              for n, (offset, *rest) in enumerate(_WORKED_EXAMPLE, 1)]
    usage = estimate(events, end)
    course = CourseFigures(*EXAMPLE_COURSE, usage.courses[EXAMPLE_COURSE[0]],
                           completion=EXAMPLE_COMPLETION, grade=EXAMPLE_GRADE)
    return Stats(EXAMPLE_LEARNER, start, end, "course", usage.total, None, len(usage.sessions),
                 courses=[course], final_before=final_before(DEFAULT_SETTINGS, end))


def example_fault(app: Application) -> str:
    """A fault as the endpoint writes it."""
    fault = UseStatsFault(_EXAMPLE_FAULT.faultcode, str(_EXAMPLE_FAULT), _EXAMPLE_FAULT.status)
    soap12 = "soap12" in app.out_protocol.__class__.__name__.lower()
    return _pretty((faults.soap12 if soap12 else faults.soap11)(fault))


def _written(app: Application, ctx: MethodContext, message) -> str:
    app.out_protocol.serialize(ctx, message)
    app.out_protocol.create_out_string(ctx)
    return _pretty(b"".join(ctx.out_string))


def _pretty(document: bytes) -> str:
    root = etree.fromstring(document)
    etree.indent(root, space="  ")
    return etree.tostring(root, encoding="unicode")


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""

_CSS = """
body { margin: 0; background: #f6f7f9; color: #1d2125; font: 16px/1.5 system-ui,
  -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 62rem; margin: 0 auto; padding: 1.5rem 2rem 3rem; background: #fff;
  min-height: 100vh; box-sizing: border-box; }
h1 { margin: 0.5rem 0 1rem; font-size: 1.9rem; color: #0f47ad; }
h1 small { font-size: 0.9rem; color: #6a737b; font-weight: normal; }
h2 { margin-top: 2.2rem; padding-bottom: 0.25rem; border-bottom: 2px solid #dee2e6;
  font-size: 1.45rem; }
h3 { margin: 1.4rem 0 0.4rem; font-size: 1.1rem; }
.lead { font-size: 1.15rem; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono",
  monospace; font-size: 0.88em; }
pre { background: #f1f3f5; border: 1px solid #dee2e6; border-radius: 4px; padding: 0.8rem 1rem;
  overflow-x: auto; line-height: 1.4; }
table { border-collapse: collapse; width: 100%; margin: 0.6rem 0 1rem; }
th, td { text-align: left; vertical-align: top; padding: 0.35rem 0.6rem;
  border-bottom: 1px solid #e3e6e8; }
th { background: #eef1f4; font-weight: 600; }
table.elements td:nth-child(3) { color: #6a737b; white-space: nowrap; font-size: 0.9em; }
table.elements td:first-child { white-space: nowrap; }
table.elements td:nth-child(2) { min-width: 7rem; }
a { color: #0f6cbf; }
"""
