"""Moodle's schema, as far as a realistic demo site needs it.

The service's own tables (``soap_usestats.moodle.tables``) declare only the columns it
reads; here they get the rest of the columns a real site has, with Moodle's
indexes, plus the tables the service does not read (roles, categories, sections).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Index, String, Table, Text
from sqlalchemy.engine import Engine

from ..moodle.tables import GRADE, INT10, INT_SMALL, MoodleTables, id_column

#: The activity types the demo site installs, in Moodle's install order.
ACTIVITY_TYPES = (
    "assign", "book", "choice", "feedback", "folder", "forum", "glossary",
    "h5pactivity", "label", "lesson", "page", "quiz", "resource", "scorm",
    "url", "wiki", "workshop", "learningtimecheck",
)


def _int(name: str, default: int | None = 0, nullable: bool = False) -> Column:
    return Column(name, INT10, nullable=nullable, default=default)


def _char(name: str, length: int = 255, nullable: bool = False) -> Column:
    return Column(name, String(length), nullable=nullable, default=None if nullable else "")


def _extend(table: Table, *columns: Column) -> None:
    Table(table.name, table.metadata, *columns, extend_existing=True)


def _new(tables: MoodleTables, name: str, *columns: Column) -> Table:
    return Table(tables.prefix + name, tables.metadata, id_column(), *columns)


@dataclass(eq=False)
class DemoTables(MoodleTables):
    """The service's tables completed into a Moodle schema, plus tables it does not read."""

    def __post_init__(self) -> None:
        super().__post_init__()
        t, p = self, self.prefix
        _extend(t.log,
                _char("eventname"), _char("objecttable", 50, nullable=True),
                _int("objectid", None, nullable=True), _char("crud", 1),
                Column("edulevel", INT_SMALL, nullable=False, default=0),
                _int("contextid"), _int("relateduserid", None, nullable=True),
                Column("anonymous", INT_SMALL, nullable=False, default=0),
                Column("other", Text), _char("ip", 45, nullable=True))
        Index(p + "logsstanlog_tim_ix", t.log.c.timecreated)
        Index(p + "logsstanlog_couanotim_ix", t.log.c.courseid, t.log.c.anonymous,
              t.log.c.timecreated)
        Index(p + "logsstanlog_useconconcruedu_ix", t.log.c.userid, t.log.c.contextlevel,
              t.log.c.contextinstanceid, t.log.c.crud, t.log.c.edulevel, t.log.c.timecreated)

        _extend(t.user,
                _char("password"), _char("city", 120), _char("country", 2),
                Column("lang", String(30), nullable=False, default="en"),
                Column("timezone", String(100), nullable=False, default="99"),
                _int("firstaccess"), _int("lastaccess"), _int("lastlogin"),
                _int("currentlogin"), _int("timecreated"), _int("timemodified"))
        Index(p + "user_mneuse_uix", t.user.c.mnethostid, t.user.c.username, unique=True)
        Index(p + "user_ema_ix", t.user.c.email)
        Index(p + "user_idn_ix", t.user.c.idnumber)

        _extend(t.course,
                _int("sortorder"), Column("summary", Text),
                Column("format", String(21), nullable=False, default="topics"),
                _int("startdate"), _int("enddate"),
                Column("visible", INT_SMALL, nullable=False, default=1),
                _int("timecreated"), _int("timemodified"))
        Index(p + "cour_idn_ix", t.course.c.idnumber)
        Index(p + "cour_sho_ix", t.course.c.shortname)
        _extend(t.course_completions, _int("reaggregate"))
        Index(p + "courcomp_use_ix", t.course_completions.c.userid)
        Index(p + "courcomp_cou_ix", t.course_completions.c.course)
        Index(p + "courcomp_tim_ix", t.course_completions.c.timecompleted)
        Index(p + "courcomp_usecou_uix", t.course_completions.c.userid,
              t.course_completions.c.course, unique=True)
        _extend(t.course_modules,
                _int("section"), _int("added"),
                Column("visible", INT_SMALL, nullable=False, default=1),
                Column("completion", INT_SMALL, nullable=False, default=0),
                Column("deletioninprogress", INT_SMALL, nullable=False, default=0))
        _extend(t.modules, _int("cron"), _int("lastcron"), _char("search"),
                Column("visible", INT_SMALL, nullable=False, default=1))
        _extend(t.mnet_host, _char("ip_address", 45), _char("name", 80),
                Column("public_key", Text, nullable=False, default=""),
                _int("applicationid", 1))
        _extend(t.enrol, _char("enrol", 20), _int("sortorder"), _int("roleid", 0, nullable=True),
                _int("enrolperiod", 0, nullable=True), _int("timecreated"), _int("timemodified"))
        _extend(t.user_enrolments, _int("modifierid"), _int("timecreated"),
                _int("timemodified"))
        _extend(t.grade_categories, Column("courseid", INT10, nullable=False),
                _int("parent", None, nullable=True),
                _int("depth"), _char("path", 255, nullable=True),
                _int("aggregation"), _int("timecreated"), _int("timemodified"))
        _extend(t.grade_items, _int("categoryid", None, nullable=True),
                _int("itemnumber", None, nullable=True),
                Column("gradepass", GRADE, nullable=False, default=0),
                _int("hidden"), _int("locked"), _int("needsupdate"),
                _int("timecreated", None, nullable=True), _int("timemodified", None, nullable=True))
        _extend(t.grade_grades,
                Column("rawgrade", GRADE), Column("rawgrademax", GRADE, nullable=False, default=100),
                Column("rawgrademin", GRADE, nullable=False, default=0),
                _int("usermodified", None, nullable=True), _int("hidden"), _int("overridden"),
                _int("excluded"), Column("feedback", Text),
                _int("timecreated", None, nullable=True), _int("timemodified", None, nullable=True))
        Index(p + "gradgrad_useite_uix", t.grade_grades.c.userid, t.grade_grades.c.itemid,
              unique=True)

        t.course_categories = _new(t, "course_categories", _char("name"), _char("idnumber", 100),
                                   _int("parent"), _int("sortorder"), _int("coursecount"),
                                   _int("depth"), _char("path"), _int("timemodified"))
        t.course_sections = _new(t, "course_sections", _int("course"), _int("section"),
                                 _char("name", 1333, nullable=True), Column("sequence", Text),
                                 Column("visible", INT_SMALL, nullable=False, default=1))
        _extend(t.context, Column("depth", INT_SMALL, nullable=False, default=0),
                Column("locked", INT_SMALL, nullable=False, default=0))
        Index(p + "cont_conins_uix", t.context.c.contextlevel, t.context.c.instanceid, unique=True)
        Index(p + "cont_ins_ix", t.context.c.instanceid)
        t.role = _new(t, "role", _char("name"), _char("shortname", 100),
                      Column("description", Text, nullable=False, default=""),
                      _int("sortorder"), _char("archetype", 30))
        _extend(t.role_assignments, _int("timemodified"), _int("modifierid"),
                _char("component", 100), _int("itemid"), _int("sortorder"))
        _extend(t.role_capabilities, _int("timemodified"), _int("modifierid"))
        _extend(t.external_services, _char("name", 200),
                _char("component", 100, nullable=True), _int("timecreated"),
                _int("timemodified", None, nullable=True), _char("shortname", 255, nullable=True),
                Column("downloadfiles", INT_SMALL, nullable=False, default=0),
                Column("uploadfiles", INT_SMALL, nullable=False, default=0))
        _extend(t.external_services_users, _int("timecreated", None, nullable=True))
        _extend(t.external_tokens, _char("privatetoken", 64, nullable=True), _int("contextid"),
                _int("creatorid", 1), _int("timecreated"), _int("lastaccess", None, nullable=True),
                _char("name", 255, nullable=True))
        _extend(t.sessions, _int("state"), Column("sessdata", Text), _int("timecreated"),
                _char("firstip", 45, nullable=True), _char("lastip", 45, nullable=True))
        Index(p + "confplug_plunam_uix", t.config_plugins.c.plugin, t.config_plugins.c.name,
              unique=True)
        Index(p + "coursect_cousec_uix", t.course_sections.c.course, t.course_sections.c.section,
              unique=True)
        Index(p + "userenro_enruse_uix", t.user_enrolments.c.enrolid, t.user_enrolments.c.userid,
              unique=True)
        Index(p + "role_sho_uix", t.role.c.shortname, unique=True)
        Index(p + "role_sor_uix", t.role.c.sortorder, unique=True)
        Index(p + "roleassi_usecon_ix", t.role_assignments.c.userid, t.role_assignments.c.contextid,
              t.role_assignments.c.roleid)
        Index(p + "rolecapa_rolconcap_uix", t.role_capabilities.c.roleid,
              t.role_capabilities.c.contextid, t.role_capabilities.c.capability, unique=True)
        Index(p + "exteserv_nam_uix", t.external_services.c.name, unique=True)
        Index(p + "extetoke_tok_ix", t.external_tokens.c.token)
        Index(p + "extetoke_sid_ix", t.external_tokens.c.sid)
        Index(p + "sess_sid_uix", t.sessions.c.sid, unique=True)
        Index(p + "sess_sta_ix", t.sessions.c.state)
        Index(p + "sess_tim_ix", t.sessions.c.timecreated)
        Index(p + "sess_tim2_ix", t.sessions.c.timemodified)
        for modname in ACTIVITY_TYPES:
            _extend(t.activity(modname), Column("intro", Text),
                    _int("timemodified"))


def create_schema(engine: Engine, prefix: str = "mdl_") -> DemoTables:
    """Create an empty Moodle schema in ``engine``'s database and return its tables."""
    tables = DemoTables(prefix)
    tables.metadata.create_all(engine)
    return tables
