"""A small Moodle site written row by row, for tests that need exact data."""

from __future__ import annotations

from itertools import count

from sqlalchemy import Table, create_engine, delete, insert
from sqlalchemy.engine import Engine

from soap_usestats.demo.schema import DemoTables, create_schema

WWWROOT = "https://moodle.test"


class MoodleBuilder:
    """Creates the schema in an empty database and inserts rows with Moodle's defaults."""

    def __init__(self, url: str, prefix: str = "mdl_", wwwroot: str = WWWROOT) -> None:
        self.url = url
        self.engine: Engine = create_engine(url)
        self.tables: DemoTables = create_schema(self.engine, prefix)
        self._ids = count(1000)
        self._modules: dict[str, int] = {}
        self._paths: dict[int, str] = {}
        self._user_tokens: dict[int, str] = {}
        self._user_service: int | None = None
        self.insert("config", name="mnet_localhost_id", value="1")
        self.insert("mnet_host", id=1, wwwroot=wwwroot, name="Test site")
        self.insert("mnet_host", id=2, wwwroot="", name="All Hosts")
        self.insert("mnet_host", id=3, wwwroot="https://peer.test", name="Peer")
        self.site_course = self.insert("course", category=0, fullname="Test site",
                                       shortname="site", format="site")

    def insert(self, table: str | Table, **values) -> int:
        """Insert one row into ``table`` (a Table, or a DemoTables attribute name)."""
        values.setdefault("id", next(self._ids))
        if isinstance(table, str):
            table = getattr(self.tables, table)
        with self.engine.begin() as conn:
            conn.execute(insert(table), values)
        return values["id"]

    def user(self, username: str, **values) -> int:
        defaults = dict(mnethostid=1, firstname=username.title(), lastname="Tester",
                        email=f"{username}@example.com", idnumber="", confirmed=1)
        return self.insert("user", username=username, **{**defaults, **values})

    def course(self, shortname: str, **values) -> int:
        return self.insert("course", shortname=shortname, fullname=f"Course {shortname}",
                           category=1, **values)

    def module(self, course: int, modname: str, name: str, cmid: int | None = None,
               idnumber: str | None = None) -> int:
        if modname not in self._modules:
            self._modules[modname] = self.insert("modules", name=modname)
        instance = self.insert(self.tables.activity(modname), course=course, name=name)
        return self.insert("course_modules", **({"id": cmid} if cmid else {}), course=course,
                           module=self._modules[modname], instance=instance, idnumber=idnumber)

    def log(self, userid: int, time: int, action: str, target: str, level: int,
            courseid: int = 0, cmid: int = 0, component: str = "core", **values) -> int:
        return self.insert("log", userid=userid, timecreated=time, action=action, target=target,
                           contextlevel=level, contextinstanceid=cmid or courseid,
                           courseid=courseid, component=component,
                           eventname=f"\\{component}\\event\\{target}_{action}",
                           crud="r", origin=values.pop("origin", "web"), **values)

    def config_plugin(self, plugin: str, name: str, value: str) -> None:
        self.insert("config_plugins", plugin=plugin, name=name, value=value)

    def config(self, name: str, value: str) -> None:
        """Set a site setting (``$CFG->name``)."""
        config = self.tables.config
        with self.engine.begin() as conn:
            conn.execute(delete(config).where(config.c.name == name))
        self.insert(config, name=name, value=value)

    # Contexts and roles

    def context(self, level: int, instanceid: int = 0, parent: int | None = None) -> int:
        """A context below ``parent`` (a context id; none for the system context)."""
        ctxid = next(self._ids)
        path = f"{self._paths[parent] if parent else ''}/{ctxid}"
        self._paths[ctxid] = path
        return self.insert("context", id=ctxid, contextlevel=level, instanceid=instanceid,
                           path=path, depth=path.count("/"))

    def role(self, shortname: str) -> int:
        return self.insert("role", shortname=shortname, name=shortname.title(),
                           archetype=shortname, sortorder=next(self._ids))

    def assign(self, userid: int, roleid: int, contextid: int) -> int:
        return self.insert("role_assignments", userid=userid, roleid=roleid, contextid=contextid)

    def allow(self, roleid: int, capability: str, contextid: int, permission: int = 1) -> int:
        """A role_capabilities row: the role's definition at system level, else an override."""
        return self.insert("role_capabilities", roleid=roleid, capability=capability,
                           contextid=contextid, permission=permission)

    # Web services

    def service(self, name: str = "Use stats", **values) -> int:
        values = dict(enabled=1, requiredcapability=None, restrictedusers=0) | values
        return self.insert("external_services", name=name, **values)

    def token(self, token: str, userid: int, serviceid: int, **values) -> int:
        """A permanent token (tokentype 0) valid everywhere, unless ``values`` say otherwise."""
        values = dict(tokentype=0, sid=None, iprestriction=None, validuntil=0, contextid=1) | values
        return self.insert("external_tokens", token=token, userid=userid,
                           externalserviceid=serviceid, **values)

    def user_token(self, userid: int) -> str:
        """A web service token of ``userid`` (one per user), with web services enabled."""
        if self._user_service is None:
            self.config("enablewebservices", "1")
            self._user_service = self.service("User tokens")
        if userid not in self._user_tokens:
            self._user_tokens[userid] = f"{userid:032x}"
            self.token(self._user_tokens[userid], userid, self._user_service)
        return self._user_tokens[userid]

    def admin_token(self, token: str = "a" * 32) -> str:
        """A web service token of a site administrator, with web services enabled."""
        admin = self.user("wsadmin")
        self.config("siteadmins", str(admin))
        self.config("enablewebservices", "1")
        self.token(token, admin, self.service())
        return token
