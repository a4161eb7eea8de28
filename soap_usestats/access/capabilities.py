"""A user's capabilities, resolved from Moodle's role tables as Moodle's accesslib does.

As ``has_capability()``: site administrators (config ``siteadmins``) hold
every capability. Anyone else holds one in a context when one of their roles
there allows it and none of them prohibits it anywhere on the context's path.
Their roles there are the roles assigned in the context or its parents, plus
the default role of every logged-in user (config ``defaultuserroleid``) and,
in the site course, the front page role (``defaultfrontpageroleid``); the
guest account holds only ``guestroleid``. A role's permission is the first one
defined for it going up from the context to the system context, so a local
override beats the role's definition.

Beyond ``has_capability()`` in one context, :meth:`Permissions.in_some_course`
answers whether the user holds a capability in at least one course context, as
their course and category role assignments give it, without a statement per
course: on a stock site a learner's roles are assigned in course contexts only.

Left out, as the service never needs them: switched roles, "log in as" and
the checks against the ``capabilities`` table (unknown or risky capabilities).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Row
from sqlalchemy.engine import Connection

from .. import contexts
from ..moodle.queries import Queries
from ..moodle.siteconfig import SiteConfig

CAP_INHERIT, CAP_ALLOW, CAP_PREVENT, CAP_PROHIBIT = 0, 1, -1, -1000

#: Role definitions: (role id, context path) -> capability -> permission.
Definitions = Mapping[tuple[int, str], Mapping[str, int]]


def context_paths(path: str | None) -> list[str]:
    """A context's path and its parents' paths, most specific first.

    ``"/1/3/24"`` gives ``["/1/3/24", "/1/3", "/1"]``; a missing path gives none.
    """
    ids = [id_ for id_ in (path or "").split("/") if id_]
    return ["/" + "/".join(ids[:n]) for n in range(len(ids), 0, -1)]


def has_capability_in(capability: str, path: str | None, assignments: Mapping[str, Collection[int]],
                      definitions: Definitions, default_roles: Collection[int] = ()) -> bool:
    """Moodle's ``has_capability_in_accessdata()``: may a (non-admin) user use ``capability`` here?

    ``path`` is the context's; ``assignments`` maps a context path to the roles
    assigned there; ``default_roles`` hold in every context.
    """
    paths = context_paths(path)
    if not paths:
        return False
    roles = {*default_roles, *(role for p in paths for role in assignments.get(p, ()))}
    allowed = False
    for role in roles:
        found = [definitions[role, p][capability] for p in paths
                 if capability in definitions.get((role, p), {})]
        if CAP_PROHIBIT in found:
            return False
        allowed = allowed or found[:1] == [CAP_ALLOW]
    return allowed


def is_siteadmin(userid: int, siteadmins: str | None) -> bool:
    """Whether ``userid`` is listed in config ``siteadmins`` (comma-separated user ids)."""
    return bool(userid) and userid in _ids(siteadmins)


def is_guest(userid: int, siteguest: str | None) -> bool:
    """Whether ``userid`` is the guest account (config ``siteguest``)."""
    return userid in _ids(siteguest)


def _ids(value: str | None) -> set[int]:
    ids = set()
    for item in (value or "").split(","):
        try:
            ids.add(int(item))
        except ValueError:
            continue
    return ids


def _role(config: SiteConfig, name: str) -> set[int]:
    """The role a role id setting names: none when unset or 0."""
    try:
        return {int(config.get(name) or 0)} - {0}
    except ValueError:
        return set()


@dataclass(frozen=True)
class Permissions:
    """What one user may do in the system context and in some courses."""

    capabilities: frozenset[str]
    is_siteadmin: bool = False
    default_roles: frozenset[int] = frozenset()
    assignments: Mapping[str, frozenset[int]] = field(default_factory=dict)
    definitions: Definitions = field(default_factory=dict)
    system_path: str | None = None
    course_paths: Mapping[int, str] = field(default_factory=dict)
    #: The paths of the course and category contexts where the user is assigned a role.
    course_level_paths: frozenset[str] = frozenset()

    @classmethod
    def load(cls, conn: Connection, queries: Queries, config: SiteConfig, userid: int,
             capabilities: Collection[str], courseids: Iterable[int] = ()) -> Permissions:
        """Everything needed to answer for the system context and those courses.

        At most three statements, whatever the number of courses, roles and
        assignments (beyond a thousand courses, one more per thousand): the
        courses' contexts, the user's role assignments, and the definitions
        of those roles for those capabilities.
        """
        capabilities = frozenset(capabilities)
        if is_siteadmin(userid, config.get("siteadmins")):
            return cls(capabilities, is_siteadmin=True)
        courseids = set(courseids)
        courses = queries.course_contexts(conn, courseids) if courseids else []
        course_paths = {row.courseid: row.path for row in courses if row.path}
        default_roles, assignments, course_level = cls._assigned(conn, queries, userid, config,
                                                                 courses)
        roles = set(default_roles).union(*assignments.values())
        definitions: dict[tuple[int, str], dict[str, int]] = {}
        system_path = None
        if roles and capabilities:
            for row in queries.role_definitions(conn, roles, capabilities):
                if row.path:
                    permissions = definitions.setdefault((row.roleid, row.path), {})
                    permissions[row.capability] = row.permission
                    if row.contextlevel == contexts.SYSTEM:
                        system_path = row.path
        return cls(capabilities, default_roles=frozenset(default_roles),
                   assignments={path: frozenset(ids) for path, ids in assignments.items()},
                   definitions=definitions, system_path=system_path, course_paths=course_paths,
                   course_level_paths=frozenset(course_level))

    @staticmethod
    def _assigned(conn: Connection, queries: Queries, userid: int, config: SiteConfig,
                  courses: list[Row]) -> tuple[set[int], dict[str, set[int]], set[str]]:
        """The roles held everywhere, the roles assigned by context path, and the
        paths of the course and category contexts among those.

        As ``get_user_accessdata()``: the not-logged-in user (id 0) and the
        guest hold their one role only; anyone else holds the default user role,
        the default front page role in the site course, and what is assigned.
        """
        if not userid:
            return _role(config, "notloggedinroleid"), {}, set()
        if is_guest(userid, config.get("siteguest")):
            return _role(config, "guestroleid"), {}, set()
        assignments: dict[str, set[int]] = {}
        course_level: set[str] = set()
        for row in courses:
            if row.category == 0 and row.path:
                assignments[row.path] = _role(config, "defaultfrontpageroleid")
        for row in queries.role_assignments(conn, userid):
            if row.path:
                assignments.setdefault(row.path, set()).add(row.roleid)
                if row.contextlevel in (contexts.COURSE, contexts.CATEGORY):
                    course_level.add(row.path)
        return _role(config, "defaultuserroleid"), assignments, course_level

    def in_system(self, capability: str) -> bool:
        """Whether the user holds ``capability`` in the system context."""
        return self._check(capability, self.system_path)

    def in_course(self, capability: str, courseid: int) -> bool:
        """Whether the user holds ``capability`` in the course's context."""
        return self._check(capability, self.course_paths.get(courseid))

    def in_some_course(self, capability: str) -> bool:
        """Whether the user holds ``capability`` in at least one course context.

        Checked, as :meth:`in_course` would, in each course and each category
        context where the user is assigned a role, with the roles held
        everywhere (the default user role) too; a prohibit on a context's path
        wins for that context only. A role assigned in a category is checked in
        the category's own context, which its courses inherit (an override in
        one course of it is not looked at). No statement beyond :meth:`load`'s.
        """
        self._loaded(capability)
        return self.is_siteadmin or any(
            has_capability_in(capability, path, self.assignments, self.definitions,
                              self.default_roles)
            for path in sorted(self.course_level_paths))

    def may_hold_anywhere(self, capability: str) -> bool:
        """Whether some role of the user allows ``capability`` in some context.

        A cheap, conservative test: False means the user holds it nowhere.
        """
        self._loaded(capability)
        return self.is_siteadmin or any(
            permissions.get(capability) == CAP_ALLOW for permissions in self.definitions.values())

    def _check(self, capability: str, path: str | None) -> bool:
        self._loaded(capability)
        return self.is_siteadmin or has_capability_in(
            capability, path, self.assignments, self.definitions, self.default_roles)

    def _loaded(self, capability: str) -> None:
        if capability not in self.capabilities:
            raise ValueError(f"capability {capability!r} was not loaded")
