"""The example Moodle sites the tests share, and reading a site's answers as clients do.

``worked_example`` holds the rows of the time model's worked example
(docs/time-model.md); ``build_school`` adds roles and viewers around it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from soap_usestats import contexts
from soap_usestats.auth.caller import Caller, CallingUser
from soap_usestats.config import Capabilities
from soap_usestats.domain.site import MoodleSite
from soap_usestats.soap import shaping
from tests.support.moodle import MoodleBuilder

WSDL_FILE = Path(__file__).parent.parent.parent / "wsdl" / "use_stats.wsdl"
WINDOW = dict(timefrom=0, timeto=100000)
NOW = 200000
SITE, COURSE, OWN = (Capabilities().site, Capabilities().course, Capabilities().own)


class ShapedSite(MoodleSite):
    """A site whose answers come shaped as the contract's messages, as a client reads them."""

    def get_stats(self, request, **context):
        return shaping.use_stats(super().get_stats(request, **context))

    def get_scores(self, request, **context):
        context.setdefault("now", NOW)
        return shaping.user_scores(super().get_scores(request, **context))


def token_caller(b: MoodleBuilder, userid: int) -> Caller:
    """A caller presenting a web service token of ``userid``."""
    return Caller(label=f"token of {userid}", token=b.user_token(userid), address="127.0.0.1")


def calling(username: str, host: str | None = None) -> CallingUser:
    """``callinguser`` naming ``username`` of this site, or of the MNET peer at ``host``."""
    return CallingUser(username=username, remoteuserhostroot=host)


def worked_example(b: MoodleBuilder, username: str = "alice") -> dict:
    """The rows of the time model's worked example (spec/time-model.md)."""
    u = b.user(username, idnumber="E1001", email="Alice.Tester@Example.com")
    c5 = b.course("C5", idnumber="CRS-5")
    b.module(c5, "quiz", "Quiz one", cmid=31, idnumber="Q1")
    b.module(c5, "learningtimecheck", "Checklist", cmid=32)
    b.log(u, 1000, "loggedin", "user", 10)
    b.log(u, 1060, "viewed", "course", 50, c5)
    b.log(u, 1300, "viewed", "course_module", 70, c5, 31, "mod_quiz")
    b.log(u, 1500, "graded", "user", 50, c5)
    b.log(u, 1900, "viewed", "course_module", 70, c5, 32, "mod_learningtimecheck")
    b.log(u, 2000, "viewed", "course", 50, c5)
    b.log(u, 11000, "viewed", "course_module", 70, c5, 31, "mod_quiz")
    return {"user": u, "course": c5}


def grades(b: MoodleBuilder, ids: dict) -> None:
    c5, u = ids["course"], ids["user"]
    cat = b.insert("grade_categories", courseid=c5, fullname="Assessments")
    total = b.insert("grade_items", courseid=c5, itemtype="course", iteminstance=cat,
                     grademax=Decimal("100"), sortorder=1)
    quiz = b.insert("grade_items", courseid=c5, itemtype="mod", itemmodule="quiz",
                    itemname="Quiz one", idnumber="Q1", grademax=Decimal("10"), sortorder=2)
    b.insert("grade_items", courseid=c5, itemtype="category", iteminstance=cat, sortorder=4)
    b.insert("grade_items", courseid=c5, itemtype="manual", itemname="Oral", sortorder=3)
    b.insert("grade_items", courseid=c5, itemtype="manual", itemname="Notes", gradetype=3,
             sortorder=5)
    b.insert("grade_grades", itemid=total, userid=u, finalgrade=Decimal("72.5"))
    b.insert("grade_grades", itemid=quiz, userid=u, finalgrade=Decimal("7.25"))


def graded_example_site(folder: Path, token: str) -> str:
    """An SQLite Moodle in ``folder`` holding the worked example and its grades, whose
    administrator has the web service token ``token``: its URL."""
    url = f"sqlite:///{folder / 'moodle.sqlite'}"
    builder = MoodleBuilder(url)
    grades(builder, worked_example(builder))
    builder.admin_token(token)
    builder.engine.dispose()
    return url


class School(SimpleNamespace):
    def caller(self, name: str) -> Caller:
        """A caller with a web service token of user ``name``."""
        return token_caller(self.b, self.users[name])


def build_school(b: MoodleBuilder) -> School:
    """The school's rows; what the tests need to know of them."""
    ids = worked_example(b)
    grades(b, ids)
    c5, alice = ids["course"], ids["user"]
    c6 = b.course("C6")
    b.module(c6, "page", "Reading", cmid=61)
    b.log(alice, 30000, "viewed", "course", 50, c6)
    b.log(alice, 30300, "viewed", "course_module", 70, c6, 61, "mod_page")
    b.log(alice, 30600, "viewed", "course", 50, c6)
    users = {"alice": alice}
    for name in ("bob", "admin", "manager", "teacher", "catteacher", "stranger"):
        users[name] = b.user(name)
    system = b.context(contexts.SYSTEM)
    category = b.context(contexts.CATEGORY, 1, system)
    places = {"system": system, "category": category,
              "C5": b.context(contexts.COURSE, c5, category),
              "C6": b.context(contexts.COURSE, c6, category)}
    roles = {name: b.role(name) for name in ("manager", "editingteacher", "user")}
    b.allow(roles["manager"], SITE, system)
    b.allow(roles["editingteacher"], COURSE, system)
    b.allow(roles["user"], OWN, system)
    b.config("siteadmins", str(users["admin"]))
    b.config("defaultuserroleid", str(roles["user"]))
    b.assign(users["manager"], roles["manager"], system)
    b.assign(users["teacher"], roles["editingteacher"], places["C5"])
    b.assign(users["catteacher"], roles["editingteacher"], category)
    return School(b=b, users=users, roles=roles, contexts=places, courses={"C5": c5, "C6": c6})
