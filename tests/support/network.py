"""A network of three Moodle sites for the federation tests: a home site and two others.

Every site has a local learner ``lee`` with time of its own (in two courses, one
activity each), a grade, and a completion record in each (the first complete, the
other started). On the other sites, the home's manager ``mgr`` has an
MNET twin with the manager role, and the home's ``cat`` has none: only a local
user there shares her username, and is a manager there. ``ann``, a home learner,
has a twin without any role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from soap_usestats import contexts

from .examples import COURSE, OWN, SITE
from .moodle import MoodleBuilder

HOME = "https://home.test"
B = "https://b.test"
C = "https://c.test"
WINDOW = dict(timefrom=0, timeto=2_000_000)


@dataclass
class NetworkSite:
    """One site of the network, and what the tests need of it."""

    wwwroot: str
    url: str
    builder: MoodleBuilder
    tokens: dict[str, str] = field(default_factory=dict)


def build_site(url: str, wwwroot: str, home: str | None, offset: int) -> NetworkSite:
    """A site at ``wwwroot``; ``home`` is the home site's wwwroot on another site, ``offset``
    makes each site's figures its own."""
    b = MoodleBuilder(url, wwwroot=wwwroot)
    site = NetworkSite(wwwroot, url, b)
    system = b.context(contexts.SYSTEM)
    roles = {name: b.role(name) for name in ("manager", "editingteacher", "user")}
    b.allow(roles["manager"], SITE, system)
    b.allow(roles["editingteacher"], COURSE, system)
    b.allow(roles["user"], OWN, system)
    b.config("defaultuserroleid", str(roles["user"]))
    b.config("enablecompletion", "1")
    hostid = 1
    if home is not None:
        hostid = b.insert("mnet_host", wwwroot=home, name="Home", deleted=0)
    for username in ("mgr", "ann"):
        user = b.user(username, mnethostid=hostid, auth="mnet" if home else "manual")
        if username == "mgr":
            b.assign(user, roles["manager"], system)
        if home is None:
            site.tokens[username] = b.user_token(user)
    cat = b.user("cat")
    if home is None:
        site.tokens["cat"] = b.user_token(cat)
    else:
        b.assign(cat, roles["manager"], system)
    site.tokens["admin"] = b.admin_token()
    lee = b.user("lee", idnumber=f"E-{offset}")
    for number, shortname in enumerate(("ALG", "BIO")):
        course = b.course(f"{shortname}{offset}" if number else shortname, enablecompletion=1)
        cmid = b.module(course, "quiz", f"Quiz {shortname}")
        start = 100_000 * (number + 1) + offset * 37
        b.log(lee, start, "loggedin", "user", 10)
        b.log(lee, start + 60, "viewed", "course", 50, course)
        b.log(lee, start + 400 + offset, "viewed", "course_module", 70, course, cmid, "mod_quiz")
        b.log(lee, start + 900 + 2 * offset, "viewed", "course", 50, course)
        b.insert("course_completions", userid=lee, course=course, timeenrolled=start - 100,
                 timestarted=start + 400, timecompleted=None if number else start + 1000)
        category = b.insert("grade_categories", courseid=course, fullname="Total")
        total = b.insert("grade_items", courseid=course, itemtype="course", iteminstance=category,
                         grademax=Decimal("100"), sortorder=1)
        quiz = b.insert("grade_items", courseid=course, itemtype="mod", itemmodule="quiz",
                        itemname=f"Quiz {shortname}", grademax=Decimal("10"), sortorder=2)
        b.insert("grade_grades", itemid=total, userid=lee, finalgrade=Decimal(50 + offset))
        b.insert("grade_grades", itemid=quiz, userid=lee, finalgrade=Decimal("7.5"))
    return site
