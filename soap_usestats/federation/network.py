"""The network of sites a service answers for: its own, and the sites of ``[sites]``.

``whereroot`` routes each call: empty or the service's own site, to that site;
a site of ``[sites]``, to its database (read here) or to the peer service in
front of it; ``*`` (GetStats), to every site at once, whose figures are summed.
A call answered by another site is for the caller's MNET twin there (the same
username, from the caller's home site), and that site's roles decide.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import date
from functools import partial
from typing import Any, Protocol

from ..auth.caller import OPERATOR, Caller
from ..config import DirectSite, Settings
from ..domain.requests import Request, ScoresRequest, StatsRequest, UsersStatsRequest
from ..domain.results import Scores, SiteFigures, Stats, UsersStats
from ..domain.site import MoodleSite
from ..exceptions import InvalidParameter, RemoteFailure, UnknownUser, UseStatsError
from ..timemodel.engine import Tally
from ..wwwroots import normalise
from . import chain
from .peer import Peer

#: Each operation's method on a :class:`MoodleSite`.
METHODS = {"GetStats": "get_stats", "GetUsersStats": "get_users_stats", "GetScores": "get_scores"}
EVERY_SITE = "*"


def answer(site: MoodleSite, request: Request, *, now: int, caller: Caller) -> Any:
    """The site's answer to ``request``, by its operation."""
    return getattr(site, METHODS[request.operation])(request, now=now, caller=caller)


class Remote(Protocol):
    """Another site of the network: read directly (:class:`Direct`) or a :class:`Peer`."""

    wwwroot: str
    timeout: float

    def call(self, request: Request, via: str, now: int) -> Any: ...


class Direct:
    """A site of ``[sites]`` whose database this service reads: the call is made there
    for the request's ``callinguser``, as a trusted client asserts it."""

    def __init__(self, site: MoodleSite, timeout: float) -> None:
        self.site, self.wwwroot, self.timeout = site, site.wwwroot, timeout

    def call(self, request: Request, via: str, now: int) -> Any:
        """The site's answer at the time ``now`` of the request; ``via`` is for peers only
        (nothing is forwarded from here)."""
        caller = (OPERATOR if request.callinguser is None
                  else Caller(label="federation", trusted=True))
        try:
            return answer(self.site, request, now=now, caller=caller)
        except UseStatsError as error:
            if error.faultcode.startswith("Server"):
                raise RemoteFailure(f"the site {self.wwwroot} failed: {error}") from error
            raise


class Network:
    """The service's own site (``home``) and the other sites, by normalised wwwroot."""

    def __init__(self, home: MoodleSite, sites: Mapping[str, Remote], me: str) -> None:
        self.home = home
        self.sites = sites
        self.me = me  # this service in a forwarding chain: its public URL

    @classmethod
    def from_settings(cls, settings: Settings, home: MoodleSite | None = None) -> Network:
        """The network of ``settings``, whose ``public_url`` is known (``web.app.create_app``
        puts the address served where none is configured)."""
        if settings.public_url is None:
            raise ValueError("a network needs this service's public_url")
        sites: dict[str, Remote] = {
            key: (Direct(MoodleSite.other(site, settings), site.timeout)
                  if isinstance(site, DirectSite) else Peer(site))
            for key, site in settings.sites.items()}
        return cls(home or MoodleSite.from_settings(settings), sites, settings.public_url)

    def get_stats(self, request: StatsRequest, *, now: int, caller: Caller,
                  via: tuple[str, ...] = ()) -> Stats:
        """:meth:`MoodleSite.get_stats` at ``whereroot``; ``*`` sums every site's."""
        chain.refuse_loop(via, self.me)
        if (request.whereroot or "").strip() == EVERY_SITE:
            return self._everywhere(request, now, caller, via)
        return self._ask(request, now, caller, via)

    def get_users_stats(self, request: UsersStatsRequest, *, now: int, caller: Caller,
                        via: tuple[str, ...] = ()) -> UsersStats:
        """:meth:`MoodleSite.get_users_stats` at ``whereroot``."""
        chain.refuse_loop(via, self.me)
        return self._ask(request, now, caller, via)

    def get_scores(self, request: ScoresRequest, *, now: int, caller: Caller,
                   via: tuple[str, ...] = ()) -> Scores:
        """:meth:`MoodleSite.get_scores` at ``whereroot``."""
        chain.refuse_loop(via, self.me)
        return self._ask(request, now, caller, via)

    def _ask(self, request: Request, now: int, caller: Caller, via: tuple[str, ...]) -> Any:
        """One site's answer: the home site's, or another's for the caller's twin there."""
        if (request.whereroot or "").strip() == EVERY_SITE:
            raise InvalidParameter("whereroot * (every site) is for GetStats only")
        site = self.sites.get(normalise(request.whereroot))
        if site is None:
            return answer(self.home, request, now=now, caller=caller)
        person = self.home.person(caller, request.callinguser, now)
        return site.call(replace(request, whereroot=site.wwwroot, callinguser=person),
                         chain.forwarded(via, self.me), now)

    def _everywhere(self, request: StatsRequest, now: int, caller: Caller,
                    via: tuple[str, ...]) -> Stats:
        """Every site's figures at once, summed; a site without the user is passed over."""
        about = self.home.about()
        if request.daily and not (request.timezone or "").strip():
            request = replace(request, timezone=about.timezone)  # one calendar for every site
        person = self.home.person(caller, request.callinguser, now) if self.sites else None
        forwarded = chain.forwarded(via, self.me)
        asks = [(about.wwwroot, None, partial(self.home.get_stats, replace(request, whereroot=None),
                                              now=now, caller=caller))]
        asks += [(site.wwwroot, site.timeout,
                  partial(site.call, replace(request, whereroot=site.wwwroot, callinguser=person),
                          forwarded, now))
                 for site in self.sites.values()]
        outcomes = _concurrently(asks)
        found = [(wwwroot, stats) for wwwroot, stats in outcomes if isinstance(stats, Stats)]
        if not found:
            raise outcomes[0][1]
        return _summed(found)


def _concurrently(asks: list[tuple[str, float | None, Callable[[], Stats]]]
                  ) -> list[tuple[str, Stats | UnknownUser]]:
    """Each site's answer (or its UnknownUser), in order, every site asked at once.

    The first site to fail, or to outlast its timeout, fails the whole: its
    error is raised at once, naming it, and the others are not waited for.
    """
    pool = ThreadPoolExecutor(max_workers=len(asks), thread_name_prefix="whereroot")
    started = time.monotonic()
    futures: dict[Future, int] = {pool.submit(ask): index for index, (_, _, ask) in enumerate(asks)}
    outcomes: dict[int, Stats | UnknownUser] = {}
    try:
        pending = set(futures)
        while pending:
            deadlines = [started + asks[futures[f]][1] for f in pending if asks[futures[f]][1]]
            left = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            done, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
            for future in done:
                outcomes[futures[future]] = _outcome(future, asks[futures[future]][0],
                                                     home=futures[future] == 0)
            for future in pending:
                wwwroot, timeout, _ = asks[futures[future]]
                if timeout and time.monotonic() >= started + timeout:
                    raise RemoteFailure(f"the site {wwwroot} did not answer within {timeout:g} s")
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return [(asks[index][0], outcomes[index]) for index in range(len(asks))]


def _outcome(future: Future, wwwroot: str, home: bool) -> Stats | UnknownUser:
    """A site's Stats, or the UnknownUser it answered; any other error is raised, another
    site's client error naming that site."""
    try:
        return future.result()
    except UnknownUser as error:
        return error
    except UseStatsError as error:
        if home or isinstance(error, RemoteFailure):
            raise
        raise type(error)(f"{wwwroot}: {error}") from error


def _summed(found: list[tuple[str, Stats]]) -> Stats:
    """One answer of every site's: figures summed, courses and modules marked with their
    site, each site's own answer in ``sites``. Figures are final as far as they are on
    every site: ``final_before`` is the earliest, and a day is final where every site
    that has it says so."""
    first, answers = found[0][1], [stats for _, stats in found]
    courses = sorted((replace(course, site=wwwroot) for wwwroot, stats in found
                      for course in stats.courses), key=lambda c: (c.shortname, c.site, c.id))
    modules = sorted((replace(module, site=wwwroot) for wwwroot, stats in found
                      for module in stats.modules),
                     key=lambda m: (m.courseshortname, m.name, m.site, m.id))
    sessions = None
    if all(stats.sessions is not None for stats in answers):
        sessions = sorted((session for stats in answers for session in stats.sessions),
                          key=lambda s: (s.start, s.end))
    befores = [stats.final_before for stats in answers]
    return Stats(first.user, min(stats.start for stats in answers), first.end, first.scope,
                 _total([stats.total for stats in answers]), sessions,
                 sum(stats.session_count for stats in answers), courses=courses,
                 modules=modules, zone=first.zone,
                 sites=[SiteFigures(wwwroot, stats) for wwwroot, stats in found],
                 final_before=None if None in befores else min(befores),
                 final_days=_final_days(answers))


def _final_days(answers: list[Stats]) -> frozenset[date]:
    """The days final on every site that has time booked to them."""
    days = {day for stats in answers for day in stats.total.days}
    return frozenset(day for day in days if all(
        day in stats.final_days for stats in answers if day in stats.total.days))


def _total(tallies: list[Tally]) -> Tally:
    days: dict[date, int] = {}
    for tally in tallies:
        for day, seconds in tally.days.items():
            days[day] = days.get(day, 0) + seconds
    firsts = [t.first for t in tallies if t.first is not None]
    lasts = [t.last for t in tallies if t.last is not None]
    return Tally(sum(t.seconds for t in tallies), sum(t.events for t in tallies),
                 min(firsts, default=None), max(lasts, default=None), days)
