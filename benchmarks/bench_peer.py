"""What a peer's answers cost the hub: the size of the largest legitimate pages, the memory
of reading one, and the refusal of a hostile peer's endless or dripping answer.

A peer service (SQLite) is served by gunicorn; a hostile peer (``tests.support.hostile``)
stands in front of it, and each call of the hub's ``Peer`` runs in a new process, whose
peak resident memory (Linux's VmHWM) is measured. The machine's load counts in the times.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from soap_usestats import spyne_compat  # noqa: E402, F401 - before Spyne: its six on 3.12+
from lxml import etree  # noqa: E402
from spyne.util.xml import get_object_as_xml  # noqa: E402

from soap_usestats.auth.caller import CallingUser  # noqa: E402
from soap_usestats.auth.clients import new_secret_key  # noqa: E402
from soap_usestats.config import DEFAULT_MAX_ANSWER_BYTES, PeerService  # noqa: E402
from soap_usestats.domain import results  # noqa: E402
from soap_usestats.domain.requests import Request, StatsRequest, UsersStatsRequest  # noqa: E402
from soap_usestats.exceptions import RemoteFailure  # noqa: E402
from soap_usestats.federation.peer import Peer  # noqa: E402
from soap_usestats.soap import messages, shaping  # noqa: E402
from soap_usestats.timemodel.engine import ModuleTally, Tally  # noqa: E402
from tests.federation.test_federation_e2e import _clients, _served  # noqa: E402
from tests.support.hostile import MIB, HostilePeer  # noqa: E402
from tests.support.network import C, build_site  # noqa: E402
from tests.support.processes import peak_growth  # noqa: E402

USERS = 1000
PAGES = ((100, 20), (250, 50), (365, 100))  # (active days, activities) of each user
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "urn:soap-usestats:1"
MANAGER = CallingUser("mgr", C)  # the peer's own manager


def learner(number: int, days: int, activities: int) -> results.Stats:
    """A learner's year at module scope with days: ``days`` active days, ``activities``."""
    first = date(2026, 1, 1)
    total = Tally(seconds=days * 3600, events=days * 40, first=1_767_225_600,
                  last=1_798_761_599,
                  days={first + timedelta(day): 3600 for day in range(days)})
    modules = [results.ModuleFigures(
        1000 + m, f"Activity {m}: a name of about fifty characters, as most", "quiz",
        f"CM-{m}", 10 + m // 10, f"COURSE-{m // 10}",
        ModuleTally(seconds=6000 + m, events=30, first=1_767_225_600, last=1_798_761_599,
                    courseid=10 + m // 10, label="quiz"))
        for m in range(activities)]
    person = results.Person(100 + number, f"learner{number}", "Firstname", "Lastname",
                            f"E-{number:06d}")
    return results.Stats(person, 1_767_225_600, 1_798_761_599, "module", total, None, days,
                         modules=modules, zone="Europe/Paris", final_before=1_798_761_599,
                         final_days=frozenset(total.days))


def page(days: int, activities: int) -> bytes:
    """The SOAP answer of a GetUsersStats page of USERS such learners."""
    stats = results.UsersStats([learner(n, days, activities) for n in range(USERS)], "c" * 40)
    envelope = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soap11env": SOAP, "tns": TNS})
    response = etree.SubElement(etree.SubElement(envelope, f"{{{SOAP}}}Body"),
                                f"{{{TNS}}}GetUsersStatsResponse")
    answer = get_object_as_xml(shaping.users_stats(stats), messages.UsersStats)
    answer.tag = f"{{{TNS}}}USERS_STATS"
    response.append(answer)
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def measured(url: str, password: str, timeout: float, request: Request
             ) -> tuple[float, int, str]:
    """One call of a fresh hub's Peer at ``url``: its time, its peak memory growth (the
    WSDL's loading included) and its outcome. Run in a process of its own."""
    logging.disable(logging.WARNING)  # the outcome says what the hub would log
    peer = Peer(PeerService(C, url, "hub", password, timeout))
    started = time.perf_counter()
    with peak_growth("self") as growth:
        try:
            answer = peer.call(replace(request, whereroot=C, callinguser=MANAGER), "bench")
            outcome = f"{len(getattr(answer, 'stats', [answer]))} answered"
        except RemoteFailure as refused:
            outcome = str(refused)
    return time.perf_counter() - started, max(growth["bytes"], 0), outcome


def in_a_process(*args) -> tuple[float, int, str]:
    """:func:`measured` in a new process: no memory freed earlier hides its growth."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(measured, *args).result()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        site = build_site(f"sqlite:///{folder}/c.sqlite", C, None, 0)
        site.builder.engine.dispose()
        key = new_secret_key()
        clients, password = _clients(key)
        upstream = _served(stack, site.url, Path(folder), "peer", clients, key)

        def hostile(**behaviour) -> str:
            peer = HostilePeer(upstream, C, **behaviour)
            stack.callback(peer.close)
            return peer.soap_url

        print(f"max_answer_bytes by default: {DEFAULT_MAX_ANSWER_BYTES / MIB:.0f} MiB")
        for declared in (False, True):
            took, growth, outcome = in_a_process(
                hostile(flood=300 * MIB, declare_length=declared), password, 300,
                StatsRequest(targetuser="lee"))
            print(f"a 300 MiB answer ({'declared' if declared else 'chunked'}): {took:.2f} s, "
                  f"peak memory +{growth / MIB:.0f} MiB: {outcome}")
        took, _, outcome = in_a_process(hostile(drip_answer=0.5), password, 3,
                                        StatsRequest(targetuser="lee"))
        print(f"an answer dripped a byte every 0.5 s, timeout 3 s: {took:.2f} s: {outcome}")
        for days, activities in PAGES:
            answer = page(days, activities)
            took, growth, outcome = in_a_process(
                hostile(answer=lambda _, a=answer: a), password, 300,
                UsersStatsRequest(statsscope="module"))
            print(f"GetUsersStats page of {USERS} users at module scope with days, {days} days "
                  f"and {activities} activities each: {len(answer) / MIB:.1f} MiB, read and "
                  f"checked in {took:.1f} s, peak memory +{growth / MIB:.0f} MiB: {outcome}")

if __name__ == "__main__":
    main()
