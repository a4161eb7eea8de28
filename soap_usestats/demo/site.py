"""A realistic demo Moodle site, built into any database SQLAlchemy reaches.

``build_demo_site`` writes a small but believable Moodle 5.x site: configuration,
MNET hosts, users, categories, courses with sections and activities, roles and
capabilities, enrolments, web service tokens, a gradebook and a spring term of
standard log rows, with the special cases the time model cares about (cron rows,
failed logins, "logged in as", grading on the learner's own track, captured
learning-time checks, front-page views, a deleted activity, a deleted, a
suspended and a remote MNET user), and course completions for every case of the
learning record (``completions``: complete, in progress, not started with and without a
row, a course that no longer tracks completion, a completion on a day without time in
the course, the deleted learner's and the guest's).

Everything comes from one ``random.Random(seed)`` and fixed dates, so one seed
always gives the same database (the completions, added last, have a ``Random`` of
their own). A scripted reference learner carries the worked example of
``spec/time-model.md`` so that tests can check figures by hand; it completes the
reference course inside that example's window.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from random import Random
from typing import Any

from sqlalchemy import Table, create_engine, func, inspect, select
from sqlalchemy.engine import Connection

from .completions import UNTRACKED, Completion, CompletionCases, Completions, Unrecorded
from .schema import ACTIVITY_TYPES, DemoTables


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp())


HOUR, DAY = 3600, 86400
WEEK = 7 * DAY
FOREVER = 2147483647
INSTALLED = _utc(2026, 1, 5, 9)        # the site was installed
BASE = _utc(2026, 1, 26)               # the reference learner's window starts
TERM_START = _utc(2026, 2, 2)          # a Monday
TERM_END = _utc(2026, 6, 27)           # the term's last day is 2026-06-26
PAGE_DELETED = _utc(2026, 3, 9, 10, 14) + 7
LOGINAS_AT = _utc(2026, 3, 18, 14, 5)
LEARNER_DELETED = _utc(2026, 3, 20, 11, 30)
LEARNER_SUSPENDED = _utc(2026, 4, 10, 16, 20)
GDPR_ENDS = _utc(2026, 5, 1)
WWWROOT = "https://learn.example.com"
PARTNER_WWWROOT = "https://partner.example.org"
ERP_IP = "10.20.0.15"

SYSTEM, USER, COURSECAT, COURSE, MODULE = 10, 30, 40, 50, 70
ROLES = ("manager", "coursecreator", "editingteacher", "teacher", "student", "guest", "user",
         "frontpage")
#: The roles allowed each capability in the system context. The demo also gives the own
#: capability to the authenticated user role (``user``, the default role of every user),
#: so that anyone's token opens their own figures.
CAPABILITIES = {
    "block/use_stats:seesitedetails": ("manager",),
    "block/use_stats:seecoursedetails": ("manager", "editingteacher", "teacher"),
    "block/use_stats:seeowndetails": ("student", "user"),
    "moodle/site:viewreports": ("manager", "editingteacher", "teacher"),
    "webservice/soap:use": ("manager",),
}
#: As a stock site defines them: block_use_stats (``db/access.php``) gives the own
#: capability to the student, teacher, editingteacher and manager archetypes only, and a
#: learner's student role is assigned in course contexts, so that is where they hold it.
STOCK_CAPABILITIES = {
    **CAPABILITIES,
    "block/use_stats:seeowndetails": ("student", "teacher", "editingteacher", "manager"),
}

#: Categories: name, idnumber, index of the parent (None = top level).
CATEGORIES = (("Compliance", "CMP", None), ("Professional skills", "PRO", None),
              ("Sales academy", "SAL", 1))
#: Courses: fullname, shortname, idnumber, category index, sections (module types;
#: a trailing '-' marks an activity deleted during the term). The fourth course
#: (id 5) is the reference learner's.
COURSES = (
    ("Workplace Health and Safety", "WHS101", "CMP-WHS-2026", 0,
     ("forum page", "label page quiz", "scorm learningtimecheck", "resource assign",
      "quiz feedback")),
    ("Data Protection Essentials", "GDPR", "CMP-GDPR-2026", 0,
     ("forum", "page- page h5pactivity", "book quiz", "url choice quiz")),
    ("Effective Communication", "COMM201", "PRO-COMM-2026", 1,
     ("forum glossary", "label page forum", "lesson url", "assign wiki", "workshop feedback")),
    ("Project Management Foundations", "PM110", "PRO-PM-2026", 1,
     ("forum page", "page quiz learningtimecheck", "resource folder assign",
      "book quiz learningtimecheck", "lesson forum")),
    ("Negotiation Skills", "SAL-NEG", "SAL-NEG-2026", 2,
     ("forum", "h5pactivity page quiz", "url forum assign", "scorm choice")),
    ("Product Knowledge: Spring Range", "SAL-PROD", "SAL-PROD-2026", 2,
     ("forum url", "resource folder quiz", "book h5pactivity learningtimecheck", "glossary quiz")),
)
REFERENCE_COURSE = 3
SELF_ENROL_COURSE = 5
NAMES = {
    "assign": "Week {w} assignment", "book": "Week {w} handbook", "choice": "Week {w} poll",
    "feedback": "End of course survey", "folder": "Week {w} templates",
    "forum": "Week {w} discussion", "glossary": "Course glossary",
    "h5pactivity": "Week {w} interactive video", "label": "Week {w} introduction",
    "lesson": "Week {w} lesson", "page": "Week {w} reading", "quiz": "Week {w} quiz",
    "resource": "Week {w} slides", "scorm": "Week {w} e-learning module", "url": "Week {w} video",
    "wiki": "Team wiki", "workshop": "Peer review workshop",
    "learningtimecheck": "Week {w} learning time check",
}
GENERAL_NAMES = {"forum": "Announcements", "page": "Course guide", "url": "Intranet resources",
                 "glossary": "Course glossary"}
#: Graded activity types and the grademax of each of their grade items.
GRADED = {"quiz": (10,), "assign": (100,), "lesson": (100,), "scorm": (100,), "workshop": (80, 20)}
#: Module types whose course modules carry an idnumber.
WITH_IDNUMBER = ("quiz", "assign", "lesson", "scorm", "workshop")

FIRST_NAMES = (
    "Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Mia", "Arthur", "Freya", "Leo",
    "Grace", "Oscar", "Lily", "Harry", "Sophie", "Jack", "Emily", "Charlie", "Chloe", "Thomas",
    "Ella", "Jacob", "Ruby", "Alfie", "Hannah", "Samuel", "Zara", "Daniel", "Nadia", "Lucas",
    "Priya", "Mateo", "Aisha", "Tomasz", "Ingrid", "Kofi", "Mei", "Rafael", "Sofia", "Yusuf",
)
LAST_NAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Wright", "Robinson", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Wood", "Jackson", "Clarke", "Edwards", "Turner", "Murphy", "Kowalski", "Nguyen", "Okafor",
    "Schmidt", "Rossi", "Moreau", "Hansen", "Costa", "Novak", "Khan", "Ali", "Martin", "Lewis",
    "Baker", "Price", "Reid",
)
STAFF = (("Helen", "Carter"), ("David", "Okoro"), ("Sarah", "Lindqvist"), ("Marco", "Bianchi"),
         ("Anna", "Fischer"))
CITIES = (("London", "GB"), ("Manchester", "GB"), ("Leeds", "GB"), ("Dublin", "IE"),
          ("Bristol", "GB"), ("Glasgow", "GB"))

#: Event catalogue: short name -> (objecttable, crud, edulevel). The short name is
#: "component.class"; eventname, component, action and target derive from it as
#: Moodle derives them from the class name.
EVENTS: dict[str, tuple[str | None, str, int]] = {
    "core.user_loggedin": ("user", "r", 0),
    "core.user_loggedout": ("user", "r", 0),
    "core.user_login_failed": (None, "r", 0),
    "core.user_loggedinas": ("user", "r", 0),
    "core.dashboard_viewed": (None, "r", 2),
    "core.course_viewed": (None, "r", 2),
    "core.user_graded": ("grade_grades", "u", 1),
    "core.user_profile_viewed": ("user", "r", 0),
    "core.course_category_created": ("course_categories", "c", 0),
    "core.course_created": ("course", "c", 1),
    "core.course_module_created": ("course_modules", "c", 1),
    "core.course_module_deleted": ("course_modules", "d", 1),
    "core.user_created": ("user", "c", 0),
    "core.user_updated": ("user", "u", 0),
    "core.user_deleted": ("user", "d", 0),
    "core.user_enrolment_created": ("user_enrolments", "c", 0),
    "core.role_assigned": ("role", "c", 0),
    "core.notification_sent": ("notifications", "c", 0),
    "core.config_log_created": ("config_log", "c", 0),
    "core.webservice_token_created": ("external_tokens", "c", 0),
    "core.webservice_function_called": (None, "r", 0),
    "report_log.report_viewed": (None, "r", 0),
    "gradereport_grader.grader_report_viewed": (None, "r", 1),
    "gradereport_user.grade_report_viewed": (None, "r", 2),
    "mod_quiz.attempt_started": ("quiz_attempts", "c", 2),
    "mod_quiz.attempt_viewed": ("quiz_attempts", "r", 2),
    "mod_quiz.attempt_summary_viewed": ("quiz_attempts", "r", 2),
    "mod_quiz.attempt_submitted": ("quiz_attempts", "u", 2),
    "mod_quiz.attempt_reviewed": ("quiz_attempts", "r", 2),
    "mod_assign.submission_status_viewed": (None, "r", 2),
    "mod_assign.submission_form_viewed": (None, "r", 2),
    "assignsubmission_file.assessable_uploaded": ("assign_submission", "u", 2),
    "mod_assign.assessable_submitted": ("assign_submission", "u", 2),
    "mod_assign.grading_table_viewed": (None, "r", 1),
    "mod_assign.submission_graded": ("assign_grades", "u", 1),
    "mod_forum.discussion_viewed": ("forum_discussions", "r", 2),
    "mod_forum.discussion_created": ("forum_discussions", "c", 2),
    "mod_forum.post_created": ("forum_posts", "c", 2),
    "mod_lesson.lesson_started": ("lesson", "c", 2),
    "mod_lesson.content_page_viewed": ("lesson_pages", "r", 2),
    "mod_lesson.question_answered": ("lesson_pages", "r", 2),
    "mod_lesson.lesson_ended": ("lesson", "u", 2),
    "mod_scorm.sco_launched": ("scorm_scoes", "r", 2),
    "mod_scorm.scoreraw_submitted": ("scorm_scoes_value", "u", 2),
    "mod_h5pactivity.statement_received": ("h5pactivity_attempts", "u", 2),
    "mod_choice.answer_created": ("choice_answers", "c", 2),
    "mod_feedback.response_submitted": ("feedback_completed", "c", 2),
    "mod_glossary.entry_created": ("glossary_entries", "c", 2),
    "mod_wiki.page_viewed": ("wiki_pages", "r", 2),
    "mod_wiki.page_updated": ("wiki_pages", "u", 2),
    "mod_workshop.submission_created": ("workshop_submissions", "c", 2),
    "mod_book.chapter_viewed": ("book_chapters", "r", 2),
    **{f"mod_{m}.course_module_viewed": (m, "r", 2) for m in ACTIVITY_TYPES if m != "label"},
}
#: Gaps between two clicks inside a session (seconds), and how often each kind occurs.
GAPS = ((20, 120), (60, 300), (180, 720), (600, 1500))
GAP_WEIGHTS = (4, 3, 2, 1)
CHUNK = 2000


@dataclass(frozen=True)
class ReferenceLearner:
    """The scripted learner whose figures the tests compute by hand (the spec's worked example)."""

    username: str
    timefrom: int      # window start  (= BASE)
    timeto: int        # window end    (= BASE + 100000)
    course_shortname: str
    courseid: int
    quiz_cmid: int     # plays cm 31 of the worked example
    checklist_cmid: int  # plays cm 32 (a learningtimecheck)
    completed: Completion             # the reference course, complete in [timefrom, timeto]
    inprogress: Completion | None     # GDPR where enrolled there, else another course
    notstarted: Unrecorded | None     # WHS101 where enrolled there, else another course


@dataclass(frozen=True)
class TokenLearner:
    """A learner with a web service token of their own, whose only roles are student roles
    assigned in course contexts (as on a stock site); not the reference learner."""

    username: str
    token: str


@dataclass(frozen=True)
class DemoSite:
    """What a test or a demo needs to know about the site just built."""

    wwwroot: str
    token: str                 # web service token of the manager (tokentype 0)
    tokens: dict[str, str]     # "manager", "teacher" (PM110's editing teacher), "learner" -> token
    reference: ReferenceLearner
    learners: int              # active local learners, the reference learner included
    log_rows: int
    student: TokenLearner      # another learner, with a token
    completions: CompletionCases


def build_demo_site(url: str, prefix: str = "mdl_", learners: int = 40,
                    seed: int = 2026, *, stock_roles: bool = False) -> DemoSite:
    """Build a realistic Moodle site into the database at `url` (an SQLAlchemy URL).

    Works on SQLite, PostgreSQL (postgresql+psycopg) and MariaDB/MySQL
    (mysql+pymysql). Refuses with RuntimeError if ``{prefix}config`` already
    exists there: a real site is never clobbered. Besides the `learners` active
    learners, the site has a deleted, a suspended and a remote MNET learner.
    With ``stock_roles`` the roles hold the capabilities a stock site gives them
    (``STOCK_CAPABILITIES``: the own capability is no longer everyone's, learners
    hold it in their courses); every other row is the same.
    """
    if learners < 2:
        raise ValueError("the demo site needs at least 2 learners")
    engine = create_engine(url)
    try:
        if inspect(engine).has_table(prefix + "config"):
            raise RuntimeError(
                f"{prefix}config already exists in {engine.url.render_as_string()}: "
                "refusing to build a demo site over an existing Moodle site")
        tables = DemoTables(prefix)
        site = _Site(tables, learners, Random(seed), seed,
                     STOCK_CAPABILITIES if stock_roles else CAPABILITIES)
        site.build()
        with engine.begin() as conn:
            tables.metadata.create_all(conn)
            _write(conn, site.rows)
        return site.result()
    finally:
        engine.dispose()


def _write(conn: Connection, rows: dict[Table, list[dict[str, Any]]]) -> None:
    """Insert every table's rows in chunks; advance PostgreSQL's sequences past the ids."""
    for table, table_rows in rows.items():
        if not table_rows:
            continue
        keys = {key: _default(table, key) for row in table_rows for key in row}
        for start in range(0, len(table_rows), CHUNK):
            conn.execute(table.insert(), [keys | row for row in table_rows[start:start + CHUNK]])
        if conn.dialect.name == "postgresql":
            name = conn.dialect.identifier_preparer.format_table(table)
            top = max(row["id"] for row in table_rows)
            conn.execute(select(func.setval(func.pg_get_serial_sequence(name, "id"), top)))


def _default(table: Table, key: str) -> Any:
    default = table.c[key].default
    return default.arg if default is not None and default.is_scalar else None


def _php_json(value: Any) -> str:
    """``other`` as PHP's json_encode writes it (no spaces, escaped slashes)."""
    return json.dumps(value, separators=(",", ":")).replace("/", "\\/")


@dataclass(frozen=True)
class _Ctx:
    id: int
    level: int
    instanceid: int
    courseid: int
    path: str


@dataclass(eq=False)
class _Course:
    id: int
    shortname: str
    fullname: str
    ctx: _Ctx
    created: int
    sections: int
    topcat: int | None = None
    cms: list[_Cm] = field(default_factory=list)
    items: list[_Item] = field(default_factory=list)     # course total first, manual last
    teachers: list[_User] = field(default_factory=list)  # editing teacher first
    enrol: dict[str, int] = field(default_factory=dict)  # method -> enrol.id

    def first(self, modname: str) -> _Cm:
        return next(cm for cm in self.cms if cm.modname == modname)


@dataclass(eq=False)
class _Item:
    id: int
    course: _Course
    grademax: int


@dataclass(eq=False)
class _Cm:
    id: int
    course: _Course
    modname: str
    instance: int
    section: int
    name: str
    ctx: _Ctx
    row: dict[str, Any] | None           # None: deleted, no course_modules row left
    instance_row: dict[str, Any] | None
    deleted_at: int = FOREVER
    items: list[_Item] = field(default_factory=list)


@dataclass(eq=False)
class _Enrolment:
    course: _Course
    start: int
    end: int
    row: dict[str, Any]
    ra: dict[str, Any]
    method: str = "manual"
    pending: bool = False    # planned, not made yet (late manual or self enrolment)


@dataclass(eq=False)
class _User:
    id: int
    username: str
    firstname: str
    lastname: str
    ctx: _Ctx
    row: dict[str, Any]
    ips: tuple[str, ...]
    engagement: float = 0.5
    hours: tuple[int, ...] = tuple(range(9, 18))
    enrolments: list[_Enrolment] = field(default_factory=list)
    gone: int = FOREVER      # deleted or suspended from then on
    busy_until: int = 0

    @property
    def fullname(self) -> str:
        return f"{self.firstname} {self.lastname}"


class _Session:
    """One sequence of requests of a user: its clock, address and origin, and the rows it writes."""

    def __init__(self, site: _Site, user: _User, start: int, ip: str | None,
                 origin: str = "web", realuserid: int | None = None):
        self.site, self.user, self.t, self.ip = site, user, start, ip
        self.origin, self.realuserid = origin, realuserid

    def wait(self, low: int, high: int) -> None:
        self.t += self.site.rng.randint(low, high)

    def think(self) -> None:
        """The pause between two clicks: mostly short, now and then up to 25 minutes."""
        self.wait(*self.site.rng.choices(GAPS, GAP_WEIGHTS)[0])

    def emit(self, event: str, ctx: _Ctx, **fields: Any) -> None:
        self.site.log(self.t, self.user.id, event, ctx, ip=self.ip, origin=self.origin,
                      realuserid=self.realuserid, **fields)

    def login(self) -> None:
        self.emit("core.user_loggedin", self.site.sysctx, objectid=self.user.id,
                  other={"username": self.user.username})

    def logout(self) -> None:
        sid = "".join(self.site.rng.choices("0123456789abcdefghijklmnopqrstuv", k=26))
        self.emit("core.user_loggedout", self.site.sysctx, objectid=self.user.id,
                  other={"sessionid": sid})

    def dashboard(self) -> None:
        self.emit("core.dashboard_viewed", self.user.ctx, relateduserid=self.user.id)

    def view(self, course: _Course, section: int | None = None) -> None:
        other = None if section is None else {"coursesectionnumber": section}
        self.emit("core.course_viewed", course.ctx, other=other)

    def view_cm(self, cm: _Cm) -> None:
        self.emit(f"mod_{cm.modname}.course_module_viewed", cm.ctx, objectid=cm.instance)

    def report(self, course: _Course) -> None:
        self.emit("report_log.report_viewed", course.ctx,
                  other={"groupid": 0, "date": 0, "modid": "", "modaction": "",
                         "logformat": "showashtml"})


class _Site:
    """Builds every row of the demo site in memory, deterministically."""

    def __init__(self, tables: DemoTables, learners: int, rng: Random, seed: int,
                 capabilities: dict[str, tuple[str, ...]] = CAPABILITIES):
        self.t, self.rng, self.seed, self.nlearners = tables, rng, seed, learners
        self.capabilities = capabilities
        self.rows: dict[Table, list[dict[str, Any]]] = {}
        self.ids: dict[str, int] = {}
        self.logs: list[dict[str, Any]] = []
        self.usernames: set[str] = set()
        self.done: dict[tuple[int, int], int] = {}          # (user, cm) -> times done
        self.grades: dict[tuple[int, int], dict[str, Any]] = {}   # (item, user) -> row
        self.pending: list[tuple[int, _User, _Cm]] = []     # submissions awaiting grading
        self.active: dict[int, dict[int, None]] = {}        # course -> learners seen there
        self.discussions: dict[int, list[int]] = {}         # forum cm -> discussion ids

    # -- rows and ids -------------------------------------------------------

    def nextid(self, key: str) -> int:
        self.ids[key] = self.ids.get(key, 0) + 1
        return self.ids[key]

    def add(self, table: Table, **values: Any) -> dict[str, Any]:
        if "id" not in values:
            values["id"] = self.nextid(table.name)
        self.rows.setdefault(table, []).append(values)
        return values

    def context(self, level: int, instanceid: int, parent: _Ctx | None, courseid: int = 0,
                store: bool = True) -> _Ctx:
        cid = self.nextid(self.t.context.name)
        path = f"{parent.path if parent else ''}/{cid}"
        if store:
            self.add(self.t.context, id=cid, contextlevel=level, instanceid=instanceid, path=path,
                     depth=path.count("/"))
        return _Ctx(cid, level, instanceid, courseid, path)

    def log(self, when: int, userid: int, event: str, ctx: _Ctx, *, objectid: int | None = None,
            relateduserid: int | None = None, other: Any = None, origin: str = "cli",
            ip: str | None = None, realuserid: int | None = None, anonymous: int = 0) -> None:
        """One logstore_standard_log row; written by cron unless told otherwise."""
        objecttable, crud, edulevel = EVENTS[event]
        component, classname = event.split(".")
        target, action = classname.rsplit("_", 1)
        self.logs.append(dict(
            eventname=f"\\{component}\\event\\{classname}", component=component, action=action,
            target=target, objecttable=objecttable, objectid=objectid, crud=crud,
            edulevel=edulevel, contextid=ctx.id, contextlevel=ctx.level,
            contextinstanceid=ctx.instanceid, userid=userid, courseid=ctx.courseid,
            relateduserid=relateduserid, anonymous=anonymous, other=_php_json(other),
            timecreated=when, origin=origin, ip=ip, realuserid=realuserid))

    def hexdigest(self, *parts: object) -> str:
        return hashlib.md5(":".join(map(str, (self.seed, *parts))).encode()).hexdigest()

    # -- the build ----------------------------------------------------------

    def build(self) -> None:
        self.settings()
        self.structure()
        self.people()
        self.enrolments()
        self.web_services()
        self.setup_logs()
        self.reference_rows()
        self.manager_term()
        for learner in self.all_learners:
            self.learner_term(learner)
        self.special_sessions()
        self.teacher_term()
        self.visitors()
        self.finish()
        self.completions = Completions(self)

    @property
    def all_learners(self) -> list[_User]:
        return self.learners + [self.deleted, self.suspended, self.remote]

    def result(self) -> DemoSite:
        course = self.ref_course
        return DemoSite(
            wwwroot=WWWROOT, token=self.tokens["manager"], tokens=self.tokens,
            learners=self.nlearners, log_rows=len(self.logs),
            student=TokenLearner(self.student.username, self.student_token),
            completions=self.completions.cases,
            reference=ReferenceLearner(
                username=self.ref.username, timefrom=BASE, timeto=BASE + 100000,
                course_shortname=course.shortname, courseid=course.id,
                quiz_cmid=course.first("quiz").id,
                checklist_cmid=course.first("learningtimecheck").id,
                completed=self.completions.ref_completed,
                inprogress=self.completions.ref_inprogress,
                notstarted=self.completions.ref_notstarted))

    def settings(self) -> None:
        t = self.t
        config = {
            "siteadmins": "2", "siteguest": "1", "mnet_localhost_id": "1",
            "mnet_all_hosts_id": "2", "enablewebservices": "1", "webserviceprotocols": "soap,rest",
            "enablemobilewebservice": "0", "version": "2025100600.00",
            "release": "5.1 (Build: 20251006)", "branch": "501", "lang": "en",
            "timezone": "Europe/London", "forcetimezone": "99", "sessiontimeout": "28800",
            "siteidentifier": self.hexdigest("site") + "learn.example.com",
            "frontpage": "6", "frontpageloggedin": "6", "registerauth": "",
            "auth": "mnet", "mnet_dispatcher_mode": "strict",
        }
        for name, value in config.items():
            self.add(t.config, name=name, value=value)
        plugins = [
            ("tool_log", "enabled_stores", "logstore_standard"),
            ("logstore_standard", "logguests", "1"), ("logstore_standard", "jsonformat", "1"),
            ("logstore_standard", "loglifetime", "0"), ("logstore_standard", "buffersize", "50"),
            ("block_use_stats", "threshold", "60"), ("block_use_stats", "lastpingcredit", "15"),
            ("block_use_stats", "capturemodules", "learningtimecheck"),
            ("block_use_stats", "ignoremodules", ""), ("block_use_stats", "enrolmentfilter", "0"),
            ("block_use_stats", "version", "2024100100"),
        ]
        plugins += [(f"mod_{m}", "version", "2024031800" if m == "learningtimecheck"
                     else "2025100600") for m in ACTIVITY_TYPES]
        for plugin, name, value in plugins:
            self.add(t.config_plugins, plugin=plugin, name=name, value=value)
        for wwwroot, ip, name, key in (
                (WWWROOT, "203.0.113.10", "Learn@Example", self.pem("local")),
                ("", "", "All Hosts", ""),
                (PARTNER_WWWROOT, "198.51.100.20", "Partner Academy", self.pem("partner"))):
            self.add(t.mnet_host, deleted=0, wwwroot=wwwroot, ip_address=ip, name=name,
                     public_key=key, applicationid=1)
        self.modules = {m: self.add(t.modules, name=m, cron=0, lastcron=0, search="",
                                    visible=1)["id"] for m in ACTIVITY_TYPES}
        self.roles = {role: self.add(t.role, name="", shortname=role, description="",
                                     sortorder=order, archetype=role)["id"]
                      for order, role in enumerate(ROLES, 1)}
        for name, role in (("defaultuserroleid", "user"), ("guestroleid", "guest"),
                           ("notloggedinroleid", "guest"), ("defaultfrontpageroleid", "frontpage")):
            self.add(t.config, name=name, value=str(self.roles[role]))
        self.add(t.config, name="enablecompletion", value="1")

    def pem(self, host: str) -> str:
        body = "".join(self.hexdigest(host, n) for n in range(8))
        return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"

    # -- categories, courses, activities, gradebook -------------------------

    def structure(self) -> None:
        t = self.t
        self.sysctx = self.context(SYSTEM, 0, None)
        for capability, roles in self.capabilities.items():
            for role in roles:
                self.add(t.role_capabilities, contextid=self.sysctx.id, roleid=self.roles[role],
                         capability=capability, permission=1, timemodified=INSTALLED,
                         modifierid=0)
        self.site = self.add_course(0, self.sysctx, "Learn@Example", "learn", "", ("", "forum"))
        self.categories: list[tuple[int, _Ctx, str]] = []
        for order, (name, idnumber, parent) in enumerate(CATEGORIES, 1):
            cid = self.nextid(t.course_categories.name)
            above = self.categories[parent] if parent is not None else (0, self.sysctx, "")
            path = f"{above[2]}/{cid}"
            self.add(t.course_categories, id=cid, name=name, idnumber=idnumber, parent=above[0],
                     sortorder=order * 10000,
                     coursecount=sum(course[3] == order - 1 for course in COURSES),
                     depth=path.count("/"), path=path, timemodified=INSTALLED + DAY)
            self.categories.append((cid, self.context(COURSECAT, cid, above[1]), path))
        self.courses = [self.add_course(*self.categories[cat][:2], full, short, idnumber, plan)
                        for full, short, idnumber, cat, plan in COURSES]
        self.ref_course = self.courses[REFERENCE_COURSE]
        self.self_course = self.courses[SELF_ENROL_COURSE]

    def add_course(self, category: int, parent: _Ctx, fullname: str, shortname: str,
                   idnumber: str, plan: tuple[str, ...]) -> _Course:
        t = self.t
        cid = self.nextid(t.course.name)
        site = category == 0
        created = INSTALLED if site else _utc(2026, 1, 12, 10) + cid * 300
        self.add(t.course, id=cid, category=category, sortorder=1 if site else 10000 + cid,
                 fullname=fullname, shortname=shortname, idnumber=idnumber,
                 summary=f"<p>{fullname}</p>", format="site" if site else "topics",
                 startdate=0 if site else TERM_START, enddate=0 if site else TERM_END,
                 visible=1, enablecompletion=int(not site and shortname != UNTRACKED),
                 timecreated=created, timemodified=created)
        course = _Course(cid, shortname, fullname, self.context(COURSE, cid, parent, cid), created,
                         len(plan))
        if not site:
            top = self.add(t.grade_categories, courseid=cid, fullname="?", parent=None, depth=1,
                           aggregation=0, timecreated=created, timemodified=created)
            top["path"] = f"/{top['id']}/"
            course.topcat = top["id"]
            self.grade_item(course, 100, itemtype="course", iteminstance=top["id"],
                            categoryid=None)
        for number, tokens in enumerate(plan):
            section = self.add(t.course_sections, course=cid, section=number, name=None,
                               visible=1)
            cms = [self.add_cm(course, section["id"], number, token) for token in tokens.split()]
            section["sequence"] = ",".join(str(cm.id) for cm in cms if cm.row is not None)
        if not site:
            self.grade_item(course, 20, itemtype="manual", itemname="Participation")
        return course

    def add_cm(self, course: _Course, sectionid: int, number: int, token: str) -> _Cm:
        t = self.t
        modname, deleted = token.rstrip("-"), token.endswith("-")
        if course.id == 1:
            name = "Site announcements"
        elif number == 0:
            name = GENERAL_NAMES[modname]
        else:
            name = NAMES[modname].format(w=number) + (" (first draft)" if deleted else "")
        table = t.activity(modname)
        instance, cmid = self.nextid(table.name), self.nextid(t.course_modules.name)
        ctx = self.context(MODULE, cmid, course.ctx, course.id, store=not deleted)
        idnumber = f"{course.shortname}-{modname}{number}" if modname in WITH_IDNUMBER else ""
        cm = _Cm(cmid, course, modname, instance, number, name, ctx, None, None)
        if deleted:
            cm.deleted_at = PAGE_DELETED
        else:
            cm.instance_row = self.add(table, id=instance, course=course.id, name=name,
                                       intro=f"<p>{name}</p>", timemodified=course.created)
            cm.row = self.add(t.course_modules, id=cmid, course=course.id,
                              module=self.modules[modname], instance=instance,
                              section=sectionid, idnumber=idnumber, added=course.created,
                              visible=1, completion=0 if modname == "label" else 2,
                              deletioninprogress=0)
        for itemnumber, grademax in enumerate(GRADED.get(modname, ())):
            cm.items.append(self.grade_item(
                course, grademax, itemtype="mod", itemname=name, itemmodule=modname,
                iteminstance=instance, itemnumber=itemnumber,
                idnumber=(idnumber or None) if itemnumber == 0 else None))
        if modname == "forum":
            self.discussions[cmid] = [self.nextid("forum_discussions")
                                      for _ in range(self.rng.randint(1, 3))]
        course.cms.append(cm)
        return cm

    def grade_item(self, course: _Course, grademax: int, **values: Any) -> _Item:
        values.setdefault("categoryid", course.topcat)
        row = self.add(self.t.grade_items, courseid=course.id, gradetype=1, grademax=grademax,
                       grademin=0, gradepass=Decimal(grademax) * Decimal("0.6"),
                       sortorder=len(course.items) + 1, hidden=0, locked=0, needsupdate=0,
                       timecreated=course.created, timemodified=course.created, **values)
        item = _Item(row["id"], course, grademax)
        course.items.append(item)
        return item

    # -- users --------------------------------------------------------------

    def add_user(self, first: str, last: str, *, username: str | None = None,
                 idnumber: str = "", mnethostid: int = 1, domain: str = "example.com",
                 auth: str = "manual", created: int = INSTALLED) -> _User:
        t, rng = self.t, self.rng
        if username is None:
            base = "".join(c for c in f"{first}.{last}".lower() if c.isalpha() or c == ".")
            username, n = base, 1
            while username in self.usernames:
                n += 1
                username = f"{base}{n}"
        if mnethostid == 1:
            self.usernames.add(username)
        uid = self.nextid(t.user.name)
        city, country = rng.choice(CITIES)
        salt = "".join(rng.choices("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789", k=53))
        row = self.add(t.user, id=uid, auth=auth, confirmed=1, deleted=0, suspended=0,
                       mnethostid=mnethostid, username=username,
                       password="$2y$10$" + salt if auth == "manual" else "not cached",
                       idnumber=idnumber, firstname=first, lastname=last,
                       email=f"{username}@{domain}", city=city, country=country, lang="en",
                       timezone="99", timecreated=created, timemodified=created)
        host = rng.randint(2, 254)
        ips = (f"198.51.100.{host}", f"192.0.2.{rng.randint(2, 40)}",
               f"2001:db8:{rng.randint(0x100, 0xfff):x}::{host:x}")
        return _User(uid, username, first, last, self.context(USER, uid, self.sysctx), row, ips)

    def people(self) -> None:
        rng = self.rng
        self.guest = self.add_user("Guest user", " ", username="guest")
        self.guest.row["email"] = "root@localhost"
        self.admin = self.add_user("Admin", "User", username="admin")
        staff = [self.add_user(first, last, idnumber=f"E{117 + 86 * n:05d}",
                               created=_utc(2026, 1, 7, 10) + n * 40)
                 for n, (first, last) in enumerate(STAFF)]
        self.manager, self.teachers = staff[0], staff[1:]
        self.manager.hours = (8,)
        for teacher in self.teachers:
            teacher.hours = (13, 14, 15, 16)
        names = [(first, last) for first in FIRST_NAMES for last in LAST_NAMES]
        rng.shuffle(names)
        uploaded = _utc(2026, 1, 14, 15, 2)
        self.learners = []
        for n in range(self.nlearners + 2):
            first, last = ("Reference", "Learner") if n == 0 else names[n % len(names)]
            learner = self.add_user(first, last, username="ref.learner" if n == 0 else None,
                                    idnumber=f"E{10001 + n}", created=uploaded + n // 4)
            learner.engagement = round(rng.uniform(0.15, 1.0), 3)
            learner.hours = rng.choice((tuple(range(8, 17)), tuple(range(17, 22)),
                                        tuple(range(7, 22))))
            self.learners.append(learner)
        self.suspended, self.deleted = self.learners.pop(), self.learners.pop()
        self.suspended.gone, self.deleted.gone = LEARNER_SUSPENDED, LEARNER_DELETED
        self.ref = self.learners[0]
        twin = self.learners[1]
        self.remote = self.add_user(twin.firstname, twin.lastname, username=twin.username,
                                    mnethostid=3, domain="partner.example.org", auth="mnet",
                                    created=_utc(2026, 2, 16, 18, 40))
        self.remote.engagement, self.remote.hours = 0.3, (18, 19, 20, 21)

    # -- enrolments ---------------------------------------------------------

    def enrolments(self) -> None:
        rng = self.rng
        for course in self.courses:
            methods = ("manual", "guest") + (("self",) if course is self.self_course else ())
            for order, method in enumerate(methods):
                course.enrol[method] = self.add(
                    self.t.enrol, enrol=method, status=1 if method == "guest" else 0,
                    courseid=course.id, sortorder=order,
                    roleid=0 if method == "guest" else self.roles["student"], enrolperiod=0,
                    timecreated=course.created, timemodified=course.created)["id"]
        self.manager_ra = self.role_assignment(self.manager, "manager", self.sysctx,
                                               _utc(2026, 1, 7, 10, 5))
        for n, teacher in enumerate(self.teachers[:3]):
            for course in self.courses[2 * n:2 * n + 2]:
                self.enrol(teacher, course, course.created, role="editingteacher")
        for course in self.courses[1::2]:
            self.enrol(self.teachers[3], course, course.created, role="teacher")
        for learner in self.learners + [self.deleted, self.suspended]:
            chosen = sorted(rng.sample(self.courses, rng.randint(2, 4)), key=lambda c: c.id)
            if learner is self.ref:   # enrolled a week before the worked example's day
                self.enrol(learner, self.ref_course, _utc(2026, 1, 19, 9, 30), pending=True)
                chosen = [course for course in chosen if course is not self.ref_course][:2]
            for course in chosen:
                self.plan_enrolment(learner, course)
        self.enrol(self.remote, self.courses[2], _utc(2026, 2, 16, 18, 41))

    def plan_enrolment(self, learner: _User, course: _Course) -> None:
        """An enrolment the manager, or the learner on a self-enrolment course, makes later."""
        rng = self.rng
        if course is self.self_course:
            self.enrol(learner, course, TERM_START + rng.randrange(6 * WEEK), method="self",
                       pending=True)
            return
        late = rng.random() < 0.1   # joins a few weeks into the term
        start = TERM_START + rng.randint(1, 5) * WEEK if late else _utc(2026, 1, 28, 9)
        self.enrol(learner, course, start, end=GDPR_ENDS if course.shortname == "GDPR" else 0,
                   pending=True)

    def enrol(self, user: _User, course: _Course, start: int, end: int = 0,
              role: str = "student", method: str = "manual", pending: bool = False) -> None:
        row = self.add(self.t.user_enrolments, status=0, enrolid=course.enrol[method],
                       userid=user.id, timestart=start, timeend=end, modifierid=self.admin.id,
                       timecreated=start, timemodified=start)
        ra = self.role_assignment(user, role, course.ctx, start)
        user.enrolments.append(_Enrolment(course, start, end or FOREVER, row, ra, method, pending))
        if role != "student":
            course.teachers.append(user)

    def role_assignment(self, user: _User, role: str, ctx: _Ctx, when: int) -> dict[str, Any]:
        return self.add(self.t.role_assignments, roleid=self.roles[role], contextid=ctx.id,
                        userid=user.id, timemodified=when, modifierid=self.admin.id,
                        component="", itemid=0, sortorder=0)

    def web_services(self) -> None:
        t = self.t
        self.add(t.external_services, name="Moodle mobile web service", enabled=0,
                 requiredcapability=None, restrictedusers=0, component="moodle",
                 timecreated=INSTALLED, timemodified=INSTALLED, shortname="moodle_mobile_app")
        service = self.add(t.external_services, name="Use stats", enabled=1,
                           requiredcapability=None, restrictedusers=0, component=None,
                           timecreated=_utc(2026, 1, 7, 10, 20), timemodified=None,
                           shortname="soap_usestats")
        self.tokens = {"manager": self.hexdigest("token")}
        self.token_row = self.add(
            t.external_tokens, token=self.tokens["manager"],
            privatetoken=self.hexdigest("private") + self.hexdigest("token", "private"),
            tokentype=0, userid=self.manager.id, externalserviceid=service["id"], sid=None,
            contextid=self.sysctx.id, creatorid=self.admin.id, iprestriction=None, validuntil=0,
            timecreated=_utc(2026, 1, 7, 10, 22), lastaccess=None, name="ERP time and grades")
        for key, user in (("teacher", self.ref_course.teachers[0]), ("learner", self.ref)):
            self.tokens[key] = self.hexdigest("token", key)
            private = self.hexdigest("private", key) + self.hexdigest("private", key, 2)
            self.add(t.external_tokens, token=self.tokens[key], privatetoken=private,
                     tokentype=0, userid=user.id, externalserviceid=service["id"], sid=None,
                     contextid=self.sysctx.id, creatorid=self.admin.id, iprestriction=None,
                     validuntil=0, timecreated=_utc(2026, 1, 20, 9), lastaccess=None,
                     name=f"Use stats for {user.username}")
        # The last learner's own token: a student in their courses and nothing else. It is
        # kept apart from ``tokens``, whose holders all may see the reference learner.
        self.student = self.learners[-1]
        self.student_token = self.hexdigest("token", "student")
        private = self.hexdigest("private", "student") + self.hexdigest("private", "student", 2)
        self.add(t.external_tokens, token=self.student_token, privatetoken=private, tokentype=0,
                 userid=self.student.id, externalserviceid=service["id"], sid=None,
                 contextid=self.sysctx.id, creatorid=self.admin.id, iprestriction=None,
                 validuntil=0, timecreated=_utc(2026, 1, 21, 9), lastaccess=None,
                 name=f"Use stats for {self.student.username}")

    # -- logs: before the term ----------------------------------------------

    def session(self, user: _User, start: int, body: Callable[[_Session], None],
                logout: float = 0.6, ip: str | None = None) -> None:
        """A web session from login to (maybe) logout; `body` writes what happens between."""
        s = _Session(self, user, start, ip or self.rng.choice(user.ips))
        s.login()
        s.wait(1, 4)
        s.dashboard()
        body(s)
        s.think()
        if self.rng.random() < logout:
            s.logout()
        user.busy_until = s.t

    def setup_logs(self) -> None:
        sysctx = self.sysctx

        def install(s: _Session) -> None:
            for name, old, new in (("enablewebservices", "0", "1"),
                                   ("webserviceprotocols", "", "soap,rest"),
                                   ("timezone", "99", "Europe/London")):
                s.wait(20, 90)
                s.emit("core.config_log_created", sysctx, objectid=self.nextid("config_log"),
                       other={"name": name, "oldvalue": old, "value": new, "plugin": None})

        def categories(s: _Session) -> None:
            for cid, ctx, _ in self.categories:
                s.wait(30, 120)
                s.emit("core.course_category_created", ctx, objectid=cid)

        def staff(s: _Session) -> None:
            for user in [self.manager, *self.teachers]:
                s.t = user.row["timecreated"]
                s.emit("core.user_created", user.ctx, objectid=user.id, relateduserid=user.id)
            s.t = self.manager_ra["timemodified"]
            s.emit("core.role_assigned", sysctx, objectid=self.roles["manager"],
                   relateduserid=self.manager.id,
                   other={"id": self.manager_ra["id"], "component": "", "itemid": 0})
            s.t = self.token_row["timecreated"]
            s.emit("core.webservice_token_created", sysctx, objectid=self.token_row["id"],
                   relateduserid=self.manager.id, other={"auto": False})

        def courses(s: _Session) -> None:
            for course in self.courses:
                s.t = course.created
                s.emit("core.course_created", course.ctx, objectid=course.id,
                       other={"shortname": course.shortname, "fullname": course.fullname})
            for teacher in self.teachers:
                for e in teacher.enrolments:
                    s.wait(5, 40)
                    self.enrolment_created(s, teacher, e)

        def upload(s: _Session) -> None:
            for user in self.learners + [self.deleted, self.suspended]:
                s.t = user.row["timecreated"]
                s.emit("core.user_created", user.ctx, objectid=user.id, relateduserid=user.id)

        self.session(self.admin, INSTALLED + 600, install, logout=1)
        self.session(self.admin, _utc(2026, 1, 6, 9, 40), categories, logout=1)
        self.session(self.admin, _utc(2026, 1, 7, 9, 55), staff, logout=1)
        self.session(self.admin, _utc(2026, 1, 12, 9, 50), courses, logout=1)
        self.session(self.admin, _utc(2026, 1, 14, 14, 55), upload, logout=1)
        for n, course in enumerate(self.courses):
            self.session(course.teachers[0], _utc(2026, 1, 19, 13) + n * DAY,
                         partial(self.build_course, course=course), logout=1)
        self.session(self.manager, _utc(2026, 1, 19, 9, 25),
                     lambda s: self.enrol_due(s, lambda e: e.start < BASE), logout=1)
        self.session(self.manager, _utc(2026, 1, 28, 8, 50),
                     lambda s: self.enrol_due(s, lambda e: e.start < TERM_START))

    def enrolment_created(self, s: _Session, user: _User, e: _Enrolment) -> None:
        """The rows of one enrolment, made now by the session's user."""
        e.start = s.t
        e.pending = False
        e.row.update(timestart=s.t, timecreated=s.t, timemodified=s.t, modifierid=s.user.id)
        e.ra.update(timemodified=s.t, modifierid=s.user.id)
        s.emit("core.user_enrolment_created", e.course.ctx, objectid=e.row["id"],
               relateduserid=user.id, other={"enrol": e.method})
        s.emit("core.role_assigned", e.course.ctx, objectid=e.ra["roleid"],
               relateduserid=user.id, other={"id": e.ra["id"], "component": "", "itemid": 0})

    def enrol_due(self, s: _Session, due: Callable[[_Enrolment], bool]) -> None:
        """The manager enrols, course by course, the learners whose enrolment is due."""
        for course in self.courses:
            batch = [(learner, e) for learner in self.learners + [self.deleted, self.suspended]
                     for e in learner.enrolments
                     if e.course is course and e.pending and e.method == "manual" and due(e)]
            if batch:
                s.think()
                s.view(course)
                s.wait(20, 120)   # one "Enrol users" dialog: its rows share a second
                for learner, e in batch:
                    self.enrolment_created(s, learner, e)

    def build_course(self, s: _Session, course: _Course) -> None:
        s.wait(5, 30)
        s.view(course)
        for cm in course.cms:
            s.wait(45, 400)
            s.emit("core.course_module_created", cm.ctx, objectid=cm.id,
                   other={"modulename": cm.modname, "instanceid": cm.instance, "name": cm.name})
            if cm.row is not None:
                cm.row["added"] = cm.instance_row["timemodified"] = s.t

    def reference_rows(self) -> None:
        """The seven rows of the spec's worked example, on a day with nothing else of theirs."""
        course, ref = self.ref_course, self.ref
        quiz, checklist = course.first("quiz"), course.first("learningtimecheck")
        s = _Session(self, ref, BASE + 1000, ref.ips[0])
        steps: list[tuple[int, Callable[[], None]]] = [
            (1000, s.login),
            (1060, lambda: s.view(course)),
            (1300, lambda: s.view_cm(quiz)),
            (1500, lambda: self.graded(s, quiz.items[0], ref, 7.5)),
            (1900, lambda: s.view_cm(checklist)),
            (2000, lambda: s.view(course)),
            (11000, lambda: s.view_cm(quiz)),
        ]
        for offset, step in steps:
            s.t = BASE + offset
            step()

    # -- grades ---------------------------------------------------------------

    def graded(self, s: _Session, item: _Item, learner: _User, value: float,
               best: bool = False) -> None:
        """Store a grade (the best so far if `best`) and log it on the grader's track."""
        row = self.grades.get((item.id, learner.id))
        if row is None:
            row = self.grades[item.id, learner.id] = self.grade_row(item, learner.id, s.t)
        elif best:
            value = max(value, float(row["finalgrade"]))
        grade = Decimal(f"{value:.5f}")
        row.update(rawgrade=grade, finalgrade=grade, usermodified=s.user.id, timemodified=s.t)
        s.emit("core.user_graded", item.course.ctx, objectid=row["id"], relateduserid=learner.id,
               other={"itemid": item.id, "overridden": False, "finalgrade": value})

    def grade_row(self, item: _Item, userid: int, when: int) -> dict[str, Any]:
        return self.add(self.t.grade_grades, itemid=item.id, userid=userid,
                        rawgrademax=item.grademax, rawgrademin=0, hidden=0, overridden=0,
                        excluded=0, feedback=None, timecreated=when)

    def mark(self, learner: _User, grademax: int, step: float = 1) -> float:
        """A grade out of `grademax` that follows the learner's engagement."""
        share = min(1.0, max(0.15, self.rng.gauss(0.45 + 0.45 * learner.engagement, 0.15)))
        return round(share * grademax / step) * step

    def autograde(self, s: _Session, cm: _Cm, step: float = 1) -> None:
        """The activity grades the learner itself: user_graded on the learner's own track."""
        item = cm.items[0]
        self.graded(s, item, s.user, self.mark(s.user, item.grademax, step), best=True)

    # -- logs: learners -------------------------------------------------------

    def slots(self, user: _User, per_week: float, weekdays: Iterable[int] = range(7)) -> list[int]:
        """Session start times over the term: about `per_week` a week, at the user's hours."""
        rng, days, out = self.rng, list(weekdays), []
        for week in range(TERM_START, TERM_END, WEEK):
            count = max(0, min(len(days), round(rng.gauss(per_week, 0.9))))
            for day in sorted(rng.sample(days, count)):
                start = week + day * DAY + rng.choice(user.hours) * HOUR + rng.randrange(HOUR)
                if start < min(TERM_END, user.gone - 6 * HOUR):
                    out.append(start)
        return out

    def learner_term(self, learner: _User) -> None:
        for start in self.slots(learner, 0.8 + 3.2 * learner.engagement):
            courses = [e for e in learner.enrolments
                       if e.start <= start and start + 6 * HOUR < e.end
                       and not (e.pending and e.method == "manual")]
            if courses and start > learner.busy_until + 1800:
                self.session(learner, start, partial(self.study, courses=courses), logout=0.5,
                             ip=self.failed_login(learner, start))

    def failed_login(self, user: _User, start: int) -> str:
        """Now and then a mistyped password before logging in; returns the session's address."""
        ip = self.rng.choice(user.ips)
        if user.row["auth"] == "manual" and self.rng.random() < 0.04:
            self.log(start - self.rng.randint(8, 40), user.id, "core.user_login_failed",
                     self.sysctx, ip=ip, origin="web",
                     other={"username": user.username, "reason": 3})
        return ip

    def study(self, s: _Session, courses: list[_Enrolment]) -> None:
        rng, learner = self.rng, s.user
        if rng.random() < 0.15:
            s.wait(5, 60)
            s.view(self.site)
            if rng.random() < 0.3:
                s.think()
                s.view_cm(self.site.cms[0])
        for _ in range(1 + (rng.random() < 0.3)):
            e = rng.choice(courses)
            s.wait(5, 90)
            if e.pending:   # a self enrolment, made by the learner on the course's enrol page
                self.enrolment_created(s, learner, e)
                s.wait(1, 3)
            s.view(e.course, rng.choice((None, None, rng.randrange(e.course.sections))))
            self.active.setdefault(e.course.id, {})[learner.id] = None
            for _ in range(rng.randint(1, 2 + round(4 * learner.engagement))):
                s.think()
                if rng.random() < 0.05:   # a long break, then back without logging in again
                    s.wait(3700, 9000)
                    s.view(e.course)
                    s.think()
                self.activity(s, self.pick_cm(e.course, s.t))
            if rng.random() < 0.1:
                s.think()
                s.emit("gradereport_user.grade_report_viewed", e.course.ctx,
                       relateduserid=learner.id)

    def pick_cm(self, course: _Course, when: int) -> _Cm:
        """An activity of the course that exists now, most likely one of this week's section."""
        progress = (when - TERM_START) / (TERM_END - TERM_START)
        current = max(1, min(course.sections - 1, 1 + int(progress * (course.sections - 1))))
        cms = [cm for cm in course.cms
               if cm.modname != "label" and cm.section <= current and when < cm.deleted_at]
        weights = [4 if cm.section == current else 2 if cm.section == current - 1 else 1
                   for cm in cms]
        return self.rng.choices(cms, weights)[0]

    def activity(self, s: _Session, cm: _Cm) -> None:
        s.view_cm(cm)
        script = getattr(self, "do_" + cm.modname, None)
        if script is not None:
            script(s, cm)

    def once(self, s: _Session, cm: _Cm, chance: float, limit: int = 1) -> bool:
        """Whether the learner does the activity's main action now (at most `limit` times)."""
        key = (s.user.id, cm.id)
        if self.done.get(key, 0) >= limit or self.rng.random() > chance:
            return False
        self.done[key] = self.done.get(key, 0) + 1
        return True

    def do_quiz(self, s: _Session, cm: _Cm) -> None:
        if not self.once(s, cm, 0.6, limit=2):
            return
        rng, learner = self.rng, s.user
        attempt = self.nextid("quiz_attempts")

        def step(event: str, **other: Any) -> None:
            s.emit(event, cm.ctx, objectid=attempt, relateduserid=learner.id,
                   other={"quizid": cm.instance, **other})

        s.wait(8, 60)
        step("mod_quiz.attempt_started")
        for page in range(rng.randint(2, 5)):
            step("mod_quiz.attempt_viewed", page=page)
            s.wait(40, 420)
        if rng.random() < 0.08:   # left open: the time limit runs out and cron submits it
            cron = _Session(self, learner, s.t + rng.randint(1800, 5400), None, origin="cli")
            cron.emit("mod_quiz.attempt_submitted", cm.ctx, objectid=attempt,
                      relateduserid=learner.id, other={"submitterid": None, "quizid": cm.instance})
            self.autograde(cron, cm, 0.5)
            return
        step("mod_quiz.attempt_summary_viewed")
        s.wait(5, 60)
        step("mod_quiz.attempt_submitted", submitterid=learner.id)
        s.wait(0, 1)
        self.autograde(s, cm, 0.5)
        s.wait(3, 25)
        step("mod_quiz.attempt_reviewed")

    def do_assign(self, s: _Session, cm: _Cm) -> None:
        s.emit("mod_assign.submission_status_viewed", cm.ctx)
        if not self.once(s, cm, 0.5):
            return
        submission = self.nextid("assign_submission")
        s.wait(20, 120)
        s.emit("mod_assign.submission_form_viewed", cm.ctx)
        s.wait(120, 1500)
        s.emit("assignsubmission_file.assessable_uploaded", cm.ctx, objectid=submission,
               other={"content": "", "pathnamehashes": [self.hexdigest(submission) + "0" * 8]})
        s.wait(5, 40)
        s.emit("mod_assign.submission_status_viewed", cm.ctx)
        s.wait(5, 30)
        s.emit("mod_assign.assessable_submitted", cm.ctx, objectid=submission,
               other={"submission_editable": False})
        self.pending.append((s.t, s.user, cm))

    def do_workshop(self, s: _Session, cm: _Cm) -> None:
        if self.once(s, cm, 0.4):
            s.wait(300, 1500)
            s.emit("mod_workshop.submission_created", cm.ctx,
                   objectid=self.nextid("workshop_submissions"))
            self.pending.append((s.t, s.user, cm))

    def do_forum(self, s: _Session, cm: _Cm) -> None:
        rng, discussions = self.rng, self.discussions[cm.id]
        for _ in range(rng.randint(0, 3)):
            s.wait(10, 240)
            s.emit("mod_forum.discussion_viewed", cm.ctx, objectid=rng.choice(discussions))
        if cm.section == 0 or cm.course is self.site or rng.random() > 0.25:
            return    # announcements are for reading only
        s.wait(120, 900)
        if rng.random() < 0.3:
            discussion = self.new_discussion(s, cm)
        else:
            discussion = rng.choice(discussions)
        s.emit("mod_forum.post_created", cm.ctx, objectid=self.nextid("forum_posts"),
               other={"discussionid": discussion, "forumid": cm.instance,
                      "forumtype": "general"})
        self.notify(s, cm.course)

    def new_discussion(self, s: _Session, cm: _Cm) -> int:
        discussion = self.nextid("forum_discussions")
        self.discussions[cm.id].append(discussion)
        s.emit("mod_forum.discussion_created", cm.ctx, objectid=discussion,
               other={"forumid": cm.instance})
        return discussion

    def notify(self, s: _Session, course: _Course) -> None:
        """Cron mails a new post to a few readers: cli rows on the author's track."""
        readers = [userid for userid in self.active.get(course.id, {}) if userid != s.user.id]
        when = s.t + self.rng.randint(60, 1800)
        for reader in self.rng.sample(readers, min(3, len(readers))):
            self.log(when, s.user.id, "core.notification_sent", self.sysctx,
                     objectid=self.nextid("notifications"), relateduserid=reader,
                     other={"courseid": course.id})

    def do_lesson(self, s: _Session, cm: _Cm) -> None:
        if not self.once(s, cm, 0.7, limit=2):
            return
        s.wait(5, 30)
        s.emit("mod_lesson.lesson_started", cm.ctx, objectid=cm.instance)
        for page in range(self.rng.randint(2, 5)):
            pageid = cm.instance * 100 + page
            s.emit("mod_lesson.content_page_viewed", cm.ctx, objectid=pageid,
                   other={"pageid": pageid})
            s.wait(60, 400)
            s.emit("mod_lesson.question_answered", cm.ctx, objectid=pageid,
                   other={"pageid": pageid, "type": "Multichoice"})
            s.wait(5, 30)
        s.emit("mod_lesson.lesson_ended", cm.ctx, objectid=cm.instance)
        self.autograde(s, cm)

    def do_scorm(self, s: _Session, cm: _Cm) -> None:
        s.wait(3, 15)
        s.emit("mod_scorm.sco_launched", cm.ctx, objectid=cm.instance * 10 + 1,
               other={"loadedcontent": f"{WWWROOT}/pluginfile.php/{cm.ctx.id}/mod_scorm/"
                                       "content/1/index.html"})
        if self.once(s, cm, 0.6, limit=2):
            s.wait(300, 1500)
            s.emit("mod_scorm.scoreraw_submitted", cm.ctx, objectid=self.nextid("scorm_values"),
                   other={"attemptid": self.done[s.user.id, cm.id],
                          "cmielement": "cmi.core.score.raw",
                          "cmivalue": str(self.rng.randint(40, 100))})
            self.autograde(s, cm)

    def do_h5pactivity(self, s: _Session, cm: _Cm) -> None:
        s.wait(60, 600)
        s.emit("mod_h5pactivity.statement_received", cm.ctx,
               objectid=self.nextid("h5pactivity_attempts"))

    def do_choice(self, s: _Session, cm: _Cm) -> None:
        if self.once(s, cm, 0.8):
            s.wait(10, 60)
            s.emit("mod_choice.answer_created", cm.ctx, objectid=self.nextid("choice_answers"),
                   other={"choiceid": cm.instance,
                          "optionid": cm.instance * 10 + self.rng.randint(1, 4)})

    def do_feedback(self, s: _Session, cm: _Cm) -> None:
        if self.once(s, cm, 0.6):   # an anonymous survey: its row is flagged anonymous
            s.wait(60, 400)
            s.emit("mod_feedback.response_submitted", cm.ctx,
                   objectid=self.nextid("feedback_completed"), anonymous=1,
                   other={"cmid": cm.id, "instanceid": cm.instance, "anonymous": 1})

    def do_glossary(self, s: _Session, cm: _Cm) -> None:
        if self.once(s, cm, 0.2, limit=3):
            s.wait(120, 600)
            s.emit("mod_glossary.entry_created", cm.ctx, objectid=self.nextid("glossary_entries"),
                   other={"concept": self.rng.choice(("Stakeholder", "Milestone", "Rapport",
                                                      "Active listening", "Feedback loop"))})

    def do_wiki(self, s: _Session, cm: _Cm) -> None:
        page = cm.instance * 10 + self.rng.randint(1, 4)
        s.wait(1, 3)
        s.emit("mod_wiki.page_viewed", cm.ctx, objectid=page)
        if self.rng.random() < 0.15:
            s.wait(180, 1200)
            s.emit("mod_wiki.page_updated", cm.ctx, objectid=page,
                   other={"newcontent": "<p>Updated notes.</p>"})

    def do_book(self, s: _Session, cm: _Cm) -> None:
        for chapter in range(1, self.rng.randint(2, 5)):
            s.emit("mod_book.chapter_viewed", cm.ctx, objectid=cm.instance * 10 + chapter)
            s.wait(30, 400)

    # -- logs: special sessions ----------------------------------------------

    def special_sessions(self) -> None:
        """A page deleted, a learner deleted, one suspended, 'log in as', refused logins."""
        page = next(cm for course in self.courses for cm in course.cms if cm.row is None)

        def delete_page(s: _Session) -> None:
            s.view(page.course)
            s.t = PAGE_DELETED
            s.emit("core.course_module_deleted", page.ctx, objectid=page.id,
                   other={"modulename": "page", "instanceid": page.instance})

        self.session(page.course.teachers[0], PAGE_DELETED - 130, delete_page, logout=1)

        def delete_user(s: _Session) -> None:
            user = self.deleted
            s.emit("core.user_profile_viewed", user.ctx, objectid=user.id, relateduserid=user.id)
            s.t = LEARNER_DELETED
            s.emit("core.user_deleted", user.ctx, objectid=user.id, relateduserid=user.id,
                   other={"username": user.username, "email": user.row["email"],
                          "idnumber": user.row["idnumber"], "picture": 0, "mnethostid": 1})

        self.session(self.admin, LEARNER_DELETED - 200, delete_user, logout=1)

        def suspend(s: _Session) -> None:
            s.t = LEARNER_SUSPENDED
            s.emit("core.user_updated", self.suspended.ctx, objectid=self.suspended.id,
                   relateduserid=self.suspended.id)
            self.suspended.row.update(suspended=1, timemodified=s.t)

        self.session(self.manager, LEARNER_SUSPENDED - 90, suspend, logout=1)
        for days in (3, 3, 12):
            when = LEARNER_SUSPENDED + days * DAY + self.rng.randrange(8 * HOUR, 20 * HOUR)
            self.log(when, self.suspended.id, "core.user_login_failed", self.sysctx,
                     ip=self.suspended.ips[0], origin="web",
                     other={"username": self.suspended.username, "reason": 2})
        self.log(_utc(2026, 4, 2, 3, 14), 0, "core.user_login_failed", self.sysctx,
                 ip="203.0.113.99", origin="web", other={"username": "administrator", "reason": 1})
        self.session(self.admin, LOGINAS_AT, self.login_as, logout=0)

    def login_as(self, s: _Session) -> None:
        """The admin looks at the site as a learner: rows on the learner's track, realuserid 2."""
        learner, e = next((u, e) for u in self.learners[2:] + [self.suspended] for e in u.enrolments
                          if e.start <= LOGINAS_AT + HOUR < e.end and not e.pending)
        s.wait(20, 60)
        s.emit("core.user_profile_viewed", learner.ctx, objectid=learner.id,
               relateduserid=learner.id)
        s.wait(10, 30)
        s.emit("core.user_loggedinas", self.sysctx, objectid=self.admin.id,
               relateduserid=learner.id,
               other={"originalusername": self.admin.fullname,
                      "loggedinasusername": learner.fullname})
        own = _Session(self, learner, s.t + 2, s.ip, realuserid=self.admin.id)
        own.dashboard()
        own.wait(10, 40)
        own.view(e.course)
        for _ in range(2):
            own.wait(15, 90)
            own.view_cm(self.pick_cm(e.course, own.t))
        own.wait(30, 120)
        own.logout()

    # -- logs: teachers, manager, visitors -------------------------------------

    def teacher_term(self) -> None:
        self.pending.sort(key=lambda p: (p[0], p[1].id, p[2].id))
        for teacher in self.teachers:
            courses = [e.course for e in teacher.enrolments]
            for start in self.slots(teacher, 1.6, weekdays=(1, 3)):
                self.session(teacher, start, partial(self.teach, courses=courses), logout=0.7)
        for n, course in enumerate(self.courses):
            self.session(course.teachers[0], _utc(2026, 6, 22, 9) + (n % 3) * DAY + n * 900,
                         partial(self.final_grading, course=course), logout=1)

    def teach(self, s: _Session, courses: list[_Course]) -> None:
        rng = self.rng
        for course in rng.sample(courses, rng.randint(1, len(courses))):
            s.wait(10, 90)
            s.view(course)
            self.grade_pending(s, course)
            for _ in range(rng.randint(0, 3)):
                s.think()
                s.view_cm(self.pick_cm(course, s.t))
            if rng.random() < 0.15:
                news = course.first("forum")
                s.wait(30, 120)
                s.view_cm(news)
                s.wait(300, 900)
                self.new_discussion(s, news)

    def grade_pending(self, s: _Session, course: _Course) -> None:
        """Grade the course's submissions made at least two hours ago."""
        due = [p for p in self.pending
               if p[2].course is course and p[0] < s.t - 2 * HOUR and p[1].gone > s.t]
        if not due:
            return
        self.pending = [p for p in self.pending if p not in due]
        s.wait(10, 40)
        s.emit("gradereport_grader.grader_report_viewed", course.ctx)
        for cm in [cm for cm in course.cms if any(p[2] is cm for p in due)]:
            s.wait(10, 60)
            s.view_cm(cm)
            if cm.modname == "assign":
                s.wait(2, 10)
                s.emit("mod_assign.grading_table_viewed", cm.ctx)
            for _, learner, _ in [p for p in due if p[2] is cm]:
                s.wait(60, 480)
                if cm.modname == "assign":
                    s.emit("mod_assign.submission_graded", cm.ctx,
                           objectid=self.nextid("assign_grades"), relateduserid=learner.id)
                for item in cm.items:
                    self.graded(s, item, learner, self.mark(learner, item.grademax))

    def final_grading(self, s: _Session, course: _Course) -> None:
        """End of term: the last submissions, then everyone's participation mark."""
        s.wait(10, 60)
        s.view(course)
        self.grade_pending(s, course)
        s.wait(20, 90)
        s.emit("gradereport_grader.grader_report_viewed", course.ctx)
        learners = {learner.id: learner for learner in self.all_learners}
        for userid in sorted(self.active.get(course.id, {})):
            if learners[userid].gone > s.t:
                s.wait(5, 40)
                self.graded(s, course.items[-1], learners[userid],
                            self.mark(learners[userid], 20))

    def manager_term(self) -> None:
        rng, manager = self.rng, self.manager

        def weekly(s: _Session) -> None:
            s.wait(5, 40)
            s.view(self.site)
            s.wait(20, 90)
            s.report(self.site)
            self.enrol_due(s, lambda e: e.start <= s.t + HOUR)
            for course in rng.sample(self.courses, rng.randint(1, 2)):
                s.think()
                s.view(course)
                s.wait(10, 60)
                s.report(course)

        for monday in range(TERM_START, TERM_END, WEEK):
            self.session(manager, monday + 8 * HOUR + rng.randrange(HOUR), weekly)
        for day in range(TERM_START, TERM_END, DAY):
            if (day - TERM_START) // DAY % 7 < 5:   # the ERP syncs every weekday night
                erp = _Session(self, manager, day + 2 * HOUR + rng.randrange(300), ERP_IP, "ws")
                for function in ("core_user_get_users_by_field", "core_course_get_courses",
                                 "core_enrol_get_enrolled_users"):
                    erp.wait(0, 2)
                    erp.emit("core.webservice_function_called", self.sysctx,
                             other={"function": function})
                self.token_row["lastaccess"] = erp.t

    def visitors(self) -> None:
        """Front-page views by visitors who are not logged in, and a few guest logins."""
        rng = self.rng
        for week in range(TERM_START, TERM_END, WEEK):
            for _ in range(rng.randint(1, 4)):
                self.log(week + rng.randrange(WEEK - DAY), 0, "core.course_viewed", self.site.ctx,
                         ip=f"203.0.113.{rng.randint(100, 250)}", origin="web")
            if rng.random() < 0.3:
                s = _Session(self, self.guest, week + rng.randrange(WEEK - DAY),
                             f"203.0.113.{rng.randint(100, 250)}")
                s.login()
                s.wait(2, 10)
                s.view(self.site)
                s.think()
                s.view_cm(self.site.cms[0])

    # -- final touches --------------------------------------------------------

    def finish(self) -> None:
        """Log ids in time order, course totals, access times; drop what Moodle drops."""
        self.logs.sort(key=lambda row: row["timecreated"])   # stable: ties keep writing order
        for logid, row in enumerate(self.logs, 1):
            row["id"] = logid
        self.rows[self.t.log] = self.logs
        self.course_totals()
        self.access_times()
        for learner in self.all_learners:   # self enrolments never made
            for e in learner.enrolments:
                if e.pending:
                    self.drop(self.t.user_enrolments, "id", e.row["id"])
                    self.drop(self.t.role_assignments, "id", e.ra["id"])
        self.delete_user(self.deleted)

    def drop(self, table: Table, column: str, value: int) -> None:
        self.rows[table] = [row for row in self.rows[table] if row[column] != value]

    def delete_user(self, user: _User) -> None:
        """Moodle's delete_user(): enrolments, roles, grades and context go; logs stay."""
        row = user.row
        row.update(deleted=1, username=f"{row['email']}.{LEARNER_DELETED}",
                   email=hashlib.md5(row["username"].encode()).hexdigest(), idnumber="",
                   timemodified=LEARNER_DELETED)
        for table in (self.t.user_enrolments, self.t.role_assignments, self.t.grade_grades):
            self.drop(table, "userid", user.id)
        self.drop(self.t.context, "id", user.ctx.id)

    def course_totals(self) -> None:
        """Course total = mean percentage of the graded items × 100; null when none is."""
        for course in self.courses:
            total = course.items[0]
            for userid in sorted(self.active.get(course.id, {})):
                shares = [float(self.grades[item.id, userid]["finalgrade"]) / item.grademax
                          for item in course.items[1:] if (item.id, userid) in self.grades]
                value = Decimal(f"{100 * sum(shares) / len(shares):.5f}") if shares else None
                self.grade_row(total, userid, TERM_END - 6 * HOUR).update(
                    rawgrade=None, finalgrade=value, usermodified=None,
                    timemodified=TERM_END - 6 * HOUR)

    def access_times(self) -> None:
        """user.firstaccess/lastaccess/lastlogin/currentlogin, as the web requests left them."""
        seen: dict[int, list[int]] = {}
        logins: dict[int, list[int]] = {}
        for row in self.logs:
            if row["origin"] == "web" and row["realuserid"] is None and row["action"] != "failed":
                seen.setdefault(row["userid"], []).append(row["timecreated"])
                if row["action"] == "loggedin":
                    logins.setdefault(row["userid"], []).append(row["timecreated"])
        for user in self.rows[self.t.user]:
            times, entered = seen.get(user["id"], [0]), logins.get(user["id"], [0, 0])
            user.update(firstaccess=times[0], lastaccess=times[-1], currentlogin=entered[-1],
                        lastlogin=entered[-2] if len(entered) > 1 else 0)
