"""SQLAlchemy Core definitions of the Moodle tables the service reads.

Only the columns the service uses are declared, with Moodle's own names and
XMLDB types; real sites have more columns (see ``demo.schema``). Every table
name carries the site's prefix (``$CFG->prefix``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
)

#: XMLDB int(10). SQLite only auto-numbers a column declared INTEGER PRIMARY KEY.
INT10 = BigInteger().with_variant(Integer(), "sqlite")
#: XMLDB int(1), int(2), int(4).
INT_SMALL = SmallInteger()
#: XMLDB number(10,5).
GRADE = Numeric(10, 5)

_ACTIVITY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def id_column() -> Column:
    """Moodle's ``id``: int(10), auto-sequence, primary key."""
    return Column("id", INT10, primary_key=True, autoincrement=True)


@dataclass(eq=False)
class MoodleTables:
    """The tables of one Moodle site, named with its prefix; equal only to themselves, so
    that statements built from them can be kept by them (``timemodel.sql``)."""

    prefix: str = "mdl_"
    metadata: MetaData = field(default_factory=MetaData)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_]*", self.prefix):
            raise ValueError("a table prefix holds only letters, digits and '_'")
        md, p = self.metadata, self.prefix
        self.log = Table(
            p + "logstore_standard_log", md, id_column(),
            Column("component", String(100), nullable=False),
            Column("action", String(100), nullable=False),
            Column("target", String(100), nullable=False),
            Column("contextlevel", INT10, nullable=False),
            Column("contextinstanceid", INT10, nullable=False),
            Column("userid", INT10, nullable=False),
            Column("courseid", INT10),
            Column("timecreated", INT10, nullable=False),
            Column("origin", String(10)),
            Column("realuserid", INT10),
        )
        self.user = Table(
            p + "user", md, id_column(),
            Column("deleted", INT_SMALL, nullable=False, default=0),
            Column("mnethostid", INT10, nullable=False, default=0),
            Column("username", String(100), nullable=False),
            Column("idnumber", String(255), nullable=False, default=""),
            Column("firstname", String(100), nullable=False),
            Column("lastname", String(100), nullable=False),
            Column("email", String(100), nullable=False),
            Column("auth", String(20), nullable=False, default="manual"),
            Column("confirmed", INT_SMALL, nullable=False, default=0),
            Column("suspended", INT_SMALL, nullable=False, default=0),
        )
        self.course = Table(
            p + "course", md, id_column(),
            Column("category", INT10, nullable=False, default=0),
            Column("fullname", String(1333), nullable=False),
            Column("shortname", String(255), nullable=False),
            Column("idnumber", String(100), nullable=False, default=""),
            Column("enablecompletion", INT_SMALL, nullable=False, default=0),
        )
        self.course_completions = Table(
            p + "course_completions", md, id_column(),
            Column("userid", INT10, nullable=False, default=0),
            Column("course", INT10, nullable=False, default=0),
            Column("timeenrolled", INT10, nullable=False, default=0),
            Column("timestarted", INT10, nullable=False, default=0),
            Column("timecompleted", INT10),
        )
        self.course_modules = Table(
            p + "course_modules", md, id_column(),
            Column("course", INT10, nullable=False, default=0),
            Column("module", INT10, nullable=False, default=0),
            Column("instance", INT10, nullable=False, default=0),
            Column("idnumber", String(100)),
        )
        self.modules = Table(
            p + "modules", md, id_column(),
            Column("name", String(20), nullable=False),
        )
        self.config = Table(
            p + "config", md, id_column(),
            Column("name", String(255), nullable=False, unique=True),
            Column("value", Text, nullable=False),
        )
        self.config_plugins = Table(
            p + "config_plugins", md, id_column(),
            Column("plugin", String(100), nullable=False, default="core"),
            Column("name", String(100), nullable=False),
            Column("value", Text, nullable=False),
        )
        self.mnet_host = Table(
            p + "mnet_host", md, id_column(),
            Column("deleted", INT_SMALL, nullable=False, default=0),
            Column("wwwroot", String(255), nullable=False),
        )
        self.enrol = Table(
            p + "enrol", md, id_column(),
            Column("status", INT10, nullable=False, default=0),
            Column("courseid", INT10, nullable=False),
        )
        self.user_enrolments = Table(
            p + "user_enrolments", md, id_column(),
            Column("status", INT10, nullable=False, default=0),
            Column("enrolid", INT10, nullable=False),
            Column("userid", INT10, nullable=False),
            Column("timestart", INT10, nullable=False, default=0),
            Column("timeend", INT10, nullable=False, default=2147483647),
        )
        self.grade_categories = Table(
            p + "grade_categories", md, id_column(),
            Column("fullname", String(255), nullable=False),
        )
        self.grade_items = Table(
            p + "grade_items", md, id_column(),
            Column("courseid", INT10),
            Column("itemname", String(1333)),
            Column("itemtype", String(30), nullable=False),
            Column("itemmodule", String(30)),
            Column("iteminstance", INT10),
            Column("idnumber", String(255)),
            Column("gradetype", INT_SMALL, nullable=False, default=1),
            Column("grademax", GRADE, nullable=False, default=100),
            Column("grademin", GRADE, nullable=False, default=0),
            Column("sortorder", INT10, nullable=False, default=0),
        )
        self.grade_grades = Table(
            p + "grade_grades", md, id_column(),
            Column("itemid", INT10, nullable=False),
            Column("userid", INT10, nullable=False),
            Column("finalgrade", GRADE),
        )
        self.context = Table(
            p + "context", md, id_column(),
            Column("contextlevel", INT10, nullable=False, default=0),
            Column("instanceid", INT10, nullable=False, default=0),
            Column("path", String(255)),
        )
        self.role_assignments = Table(
            p + "role_assignments", md, id_column(),
            Column("roleid", INT10, nullable=False, default=0),
            Column("contextid", INT10, nullable=False, default=0),
            Column("userid", INT10, nullable=False, default=0),
        )
        self.role_capabilities = Table(
            p + "role_capabilities", md, id_column(),
            Column("contextid", INT10, nullable=False, default=0),
            Column("roleid", INT10, nullable=False, default=0),
            Column("capability", String(255), nullable=False),
            Column("permission", INT10, nullable=False, default=0),
        )
        self.external_services = Table(
            p + "external_services", md, id_column(),
            Column("enabled", INT_SMALL, nullable=False),
            Column("requiredcapability", String(150)),
            Column("restrictedusers", INT_SMALL, nullable=False),
        )
        self.external_services_users = Table(
            p + "external_services_users", md, id_column(),
            Column("externalserviceid", INT10, nullable=False),
            Column("userid", INT10, nullable=False),
            Column("iprestriction", String(255)),
            Column("validuntil", INT10),
        )
        self.external_tokens = Table(
            p + "external_tokens", md, id_column(),
            Column("token", String(128), nullable=False),
            Column("tokentype", INT_SMALL, nullable=False),
            Column("userid", INT10, nullable=False),
            Column("externalserviceid", INT10, nullable=False),
            Column("sid", String(128)),
            Column("iprestriction", String(255)),
            Column("validuntil", INT10),
        )
        self.sessions = Table(
            p + "sessions", md, id_column(),
            Column("sid", String(128), nullable=False),
            Column("userid", INT10, nullable=False),
            Column("timemodified", INT10, nullable=False),
        )
        self._activities: dict[str, Table] = {}

    def activity(self, modname: str) -> Table:
        """The instance table of an activity type (``quiz``, ``forum``...): id, name."""
        if not _ACTIVITY_NAME.match(modname):
            raise ValueError(f"not a Moodle module name: {modname!r}")
        if modname not in self._activities:
            self._activities[modname] = Table(
                self.prefix + modname, self.metadata, id_column(),
                Column("course", INT10, nullable=False, default=0),
                Column("name", String(1333), nullable=False),
                extend_existing=True,
            )
        return self._activities[modname]
