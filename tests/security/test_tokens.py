"""Web service tokens checked as Moodle does, on SQLite, PostgreSQL and MariaDB.

Every refusal is the same generic fault for the client; the log names the
rule, which each case checks so that the right rule did the refusing.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from sqlalchemy import event, select

from soap_usestats.access.capabilities import CAP_ALLOW, Permissions
from soap_usestats.auth.addresses import address_in_subnet
from soap_usestats.auth.tokens import check_token, fingerprint
from soap_usestats.demo.site import build_demo_site
from soap_usestats.exceptions import AuthenticationFailed
from soap_usestats.moodle.database import connect, read_only
from soap_usestats.moodle.queries import Queries
from soap_usestats.moodle.siteconfig import SiteConfig
from soap_usestats.moodle.tables import MoodleTables
from tests.support.moodle import MoodleBuilder

NOW = 1_780_000_000
TOKEN = "0123456789abcdef0123456789abcdef"
IP = "10.20.0.15"
CAP = "moodle/webservice:createtoken"


@pytest.fixture
def b(builder):
    return builder


@pytest.fixture
def site(b) -> SimpleNamespace:
    """Web services on; an ERP account holding TOKEN for the enabled "Use stats" service."""
    s = SimpleNamespace()
    s.system = b.context(10)
    s.admin, s.erp = b.user("admin"), b.user("erp")
    s.manager = b.role("manager")
    for name, value in (("enablewebservices", "1"), ("siteadmins", str(s.admin)),
                        ("siteguest", "1"), ("sessiontimeout", "7200")):
        b.config(name, value)
    s.service = b.service()
    return s


def check(b: MoodleBuilder, token: str = TOKEN, ip: str = IP, now: int = NOW) -> int:
    engine = connect(b.url)
    try:
        with read_only(engine) as conn:
            queries = Queries(MoodleTables())
            return check_token(conn, queries, SiteConfig.read(conn, queries), token, ip, now)
    finally:
        engine.dispose()


def refused(b: MoodleBuilder, caplog, reason: str, token: str = TOKEN, **kwargs) -> None:
    """The token is refused with the generic fault, and the log gives ``reason``."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="soap_usestats.auth.tokens"), \
            pytest.raises(AuthenticationFailed) as failure:
        check(b, token, **kwargs)
    assert failure.value.args == ("invalid token",)
    assert (failure.value.faultcode, failure.value.status) == ("Client.AuthenticationFailed", 501)
    [record] = [r for r in caplog.records if r.name == "soap_usestats.auth.tokens"]
    message = record.getMessage()
    assert record.levelno == logging.INFO and reason in message
    assert fingerprint(token) in message
    if token.strip():
        assert token.strip() not in message


def test_a_valid_token_gives_its_owner(b, site):
    b.token(TOKEN, site.erp, site.service)
    assert check(b) == site.erp


def test_web_services_disabled(b, site, caplog):
    b.token(TOKEN, site.erp, site.service)
    b.config("enablewebservices", "0")
    refused(b, caplog, "web services are disabled")


def test_unknown_token(b, site, caplog):
    b.token(TOKEN, site.erp, site.service)
    refused(b, caplog, "no such token", token="f" * 32)
    refused(b, caplog, "no such token", token="")
    refused(b, caplog, "no such token", token=TOKEN * 5)


@pytest.mark.parametrize("variant", [TOKEN.upper(), TOKEN + " ", TOKEN[:-1], " " + TOKEN],
                         ids=["case", "trailing-space", "prefix", "leading-space"])
def test_only_the_exact_token_matches(b, site, caplog, variant):
    b.token(TOKEN, site.erp, site.service)
    refused(b, caplog, "no such token", token=variant)


def test_the_exact_token_wins_over_one_equal_to_a_loose_collation(b, site):
    other = b.user("other")
    b.token(TOKEN.upper(), other, site.service)
    b.token(TOKEN, site.erp, site.service)
    assert check(b) == site.erp
    assert check(b, TOKEN.upper()) == other


def test_session_linked_tokens_are_not_accepted(b, site, caplog):
    b.token(TOKEN, site.erp, site.service, tokentype=1)
    refused(b, caplog, "no such token")


@pytest.mark.parametrize("validuntil", [None, 0, NOW, NOW + 1])
def test_a_token_not_expired(b, site, validuntil):
    b.token(TOKEN, site.erp, site.service, validuntil=validuntil)
    assert check(b) == site.erp


def test_an_expired_token(b, site, caplog):
    b.token(TOKEN, site.erp, site.service, validuntil=NOW - 1)
    refused(b, caplog, "expired")


@pytest.mark.parametrize("restriction, ip", [
    ("10.20.0.15", IP), ("10.20.0.0/16", IP), ("10.20.0.10-20", IP), ("10.20", IP),
    ("10.20.", IP), ("192.0.2.1, 10.20.0.15", IP),
    ("0", IP), ("", IP),   # as PHP reads them, no restriction
    ("2001:db8::/32", "2001:db8:5::1"), ("2001:db8::1-ff", "2001:db8::15"),
    ("2001:db8:5", "2001:db8:5::9"), ("10.20.0.0/16", "::ffff:10.20.0.15"),
])
def test_iprestriction_allows(b, site, restriction, ip):
    b.token(TOKEN, site.erp, site.service, iprestriction=restriction)
    assert check(b, ip=ip) == site.erp


@pytest.mark.parametrize("restriction, ip", [
    ("10.20.0.16", IP), ("10.21.0.0/16", IP), ("10.20.0.16-20", IP), ("10.21", IP),
    ("192.0.2.1,  192.0.2.2", IP), ("2001:db8::/32", IP), ("10.20.0.0/16", "2001:db8::1"),
    ("2001:db8::1-ff", "2001:db8::100"), ("10.20.0.0/16", "not an address"), (" ", IP),
])
def test_iprestriction_denies(b, site, caplog, restriction, ip):
    b.token(TOKEN, site.erp, site.service, iprestriction=restriction)
    refused(b, caplog, "restricted to other addresses", ip=ip)


@pytest.mark.parametrize("values, reason", [
    (dict(deleted=1), "deleted or missing"),
    (dict(suspended=1), "suspended"),
    (dict(auth="nologin"), "nologin"),
    (dict(confirmed=0), "not confirmed"),
])
def test_owner_who_may_not_use_web_services(b, site, caplog, values, reason):
    b.token(TOKEN, b.user("owner", **values), site.service)
    refused(b, caplog, reason)


def test_owner_missing(b, site, caplog):
    b.token(TOKEN, 424242, site.service)
    refused(b, caplog, "deleted or missing")


def test_disabled_or_missing_service(b, site, caplog):
    b.token(TOKEN, site.erp, b.service("Disabled", enabled=0))
    refused(b, caplog, "disabled or missing")
    b.token("e" * 32, site.erp, 424242)
    refused(b, caplog, "disabled or missing", token="e" * 32)


def test_required_capability(b, site, caplog):
    service = b.service("Restricted to a capability", requiredcapability=CAP)
    b.token(TOKEN, site.erp, service)
    refused(b, caplog, f"lacks {CAP}")
    b.assign(site.erp, site.manager, site.system)
    b.allow(site.manager, CAP, site.system, CAP_ALLOW)
    assert check(b) == site.erp


def test_required_capability_in_a_course_only_is_not_enough(b, site, caplog):
    service = b.service("Restricted to a capability", requiredcapability=CAP)
    b.token(TOKEN, site.erp, service)
    category = b.context(40, 1, site.system)
    b.assign(site.erp, site.manager, category)
    b.allow(site.manager, CAP, site.system, CAP_ALLOW)
    refused(b, caplog, f"lacks {CAP}")


def test_site_admins_have_every_required_capability(b, site):
    service = b.service("Restricted to a capability", requiredcapability=CAP)
    b.token(TOKEN, site.admin, service)
    assert check(b) == site.admin


def test_restricted_service_without_authorisation(b, site, caplog):
    service = b.service("For some users", restrictedusers=1)
    b.token(TOKEN, site.erp, service)
    b.insert("external_services_users", externalserviceid=service, userid=b.user("bob"))
    refused(b, caplog, "not an authorised user")


def test_restricted_service_with_an_expired_authorisation(b, site, caplog):
    service = b.service("For some users", restrictedusers=1)
    b.token(TOKEN, site.erp, service)
    b.insert("external_services_users", externalserviceid=service, userid=site.erp,
             validuntil=NOW - 1)
    refused(b, caplog, "authorisation of the owner of token")


def test_restricted_service_with_an_authorisation_for_other_addresses(b, site, caplog):
    service = b.service("For some users", restrictedusers=1)
    b.token(TOKEN, site.erp, service)
    b.insert("external_services_users", externalserviceid=service, userid=site.erp,
             iprestriction="192.0.2.0/24")
    refused(b, caplog, "is for other addresses")


@pytest.mark.parametrize("validuntil, iprestriction", [(None, None), (0, ""), (NOW + 60, "10.20")])
def test_restricted_service_with_an_authorisation(b, site, validuntil, iprestriction):
    service = b.service("For some users", restrictedusers=1)
    b.token(TOKEN, site.erp, service)
    b.insert("external_services_users", externalserviceid=service, userid=site.erp,
             validuntil=validuntil, iprestriction=iprestriction)
    assert check(b) == site.erp


def test_token_of_an_ended_session(b, site, caplog):
    b.token(TOKEN, site.erp, site.service, sid="a" * 26)
    refused(b, caplog, "session of token")
    b.insert("sessions", sid="A" * 26, userid=site.erp, timemodified=NOW)   # not the same sid
    refused(b, caplog, "session of token")
    b.insert("sessions", sid="b" * 26, userid=site.erp, timemodified=NOW)
    refused(b, caplog, "session of token")


def test_token_of_a_timed_out_session(b, site, caplog):
    b.token(TOKEN, site.erp, site.service, sid="a" * 26)
    b.insert("sessions", sid="a" * 26, userid=site.erp, timemodified=NOW - 7201)
    refused(b, caplog, "session of token")


@pytest.mark.parametrize("userid, age", [("erp", 7200), ("erp", 0), ("guest", 10**6), (0, 10**6)])
def test_token_of_a_live_session(b, site, userid, age):
    owner = {"erp": site.erp, "guest": 1}.get(userid, userid)
    b.token(TOKEN, site.erp, site.service, sid="a" * 26)
    b.insert("sessions", sid="a" * 26, userid=owner, timemodified=NOW - age)
    assert check(b) == site.erp


def test_rules_apply_in_moodles_order(b, site, caplog):
    service = b.service("Everything", enabled=0, restrictedusers=1)
    b.token(TOKEN, b.user("owner", suspended=1), service, validuntil=NOW - 1,
            iprestriction="192.0.2.1")
    refused(b, caplog, "expired")


def test_statements_stay_few_with_every_rule_in_play(b, site):
    service = b.service("Everything", requiredcapability=CAP, restrictedusers=1)
    b.token(TOKEN, site.erp, service, sid="a" * 26, iprestriction="10.20.0.0/16")
    b.insert("sessions", sid="a" * 26, userid=site.erp, timemodified=NOW)
    b.insert("external_services_users", externalserviceid=service, userid=site.erp)
    for n in range(20):
        b.assign(site.erp, site.manager, b.context(50, n, site.system))
    b.assign(site.erp, site.manager, site.system)
    b.allow(site.manager, CAP, site.system, CAP_ALLOW)
    engine = connect(b.url)
    engine.connect().close()   # the dialect's own first-connect queries are not ours
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: statements.append(statement))
    try:
        with read_only(engine) as conn:
            queries = Queries(MoodleTables())
            config = SiteConfig.read(conn, queries)
            assert check_token(conn, queries, config, TOKEN, IP, NOW) == site.erp
    finally:
        engine.dispose()
    assert sum("mdl_" in statement for statement in statements) <= 4


def test_the_demo_sites_tokens(database_url):
    demo = build_demo_site(database_url, learners=2)
    seesite, seecourse, seeown = (f"block/use_stats:see{what}details"
                                  for what in ("site", "course", "own"))
    tables, engine = MoodleTables(), connect(database_url)
    queries = Queries(tables)
    try:
        with read_only(engine) as conn:
            config = SiteConfig.read(conn, queries)
            owners = {key: check_token(conn, queries, config, token, IP, NOW)
                      for key, token in demo.tokens.items()}
            names = dict(conn.execute(select(tables.user.c.id, tables.user.c.username)
                                      .where(tables.user.c.id.in_(owners.values()))).all())
            rights = {key: Permissions.load(conn, queries, config, userid,
                                            [seesite, seecourse, seeown],
                                            [demo.reference.courseid])
                      for key, userid in owners.items()}
    finally:
        engine.dispose()
    assert demo.token == demo.tokens["manager"]
    assert names[owners["learner"]] == demo.reference.username
    assert len(set(owners.values())) == 3
    assert rights["manager"].in_system(seesite)
    teacher, learner = rights["teacher"], rights["learner"]
    assert teacher.in_course(seecourse, demo.reference.courseid) and not teacher.in_system(seesite)
    assert learner.in_system(seeown) and not learner.in_course(seecourse, demo.reference.courseid)
    assert not learner.may_hold_anywhere(seesite)


# The subnet matcher alone, as Moodle's address_in_subnet() reads iprestriction

@pytest.mark.parametrize("address, subnets", [
    ("1.2.3.4", "1.2.3.4"),
    ("1.2.3.4", "001.2.3.4"),
    ("1.2.3.4", "1.2.3.0/24"),
    ("1.2.3.4", "1.2.3.99/24"),
    ("1.2.3.4", "0.0.0.0/0"),
    ("1.2.3.4", "1.2.3.4/32"),
    ("1.2.3.4", "1.2.3.4-20"),
    ("1.2.3.20", "1.2.3.4-20"),
    ("1.2.3.4", "1.2.3"),
    ("1.2.3.4", "1.2.3."),
    ("1.2.3.4", "1"),
    ("1.2.3.4", " 9.9.9.9 ,\t1.2.0.0/16 "),
    ("2001:db8::1", "2001:db8::1"),
    ("2001:db8::1", "2001:DB8:0:0:0:0:0:1"),
    ("2001:db8::1", "2001:db8::/32"),
    ("2001:db8:abcd::1", "2001:db8:ab00::/40"),
    ("2001:db8::1", "::/0"),
    ("2001:db8::15", "2001:db8::1-ff"),
    ("2001:db8::1", "2001:db8"),
    ("2001:db8:0:1::1", "2001:db8:0:1"),
    ("::ffff:1.2.3.4", "1.2.3.0/24"),
    ("::ffff:1.2.3.4", "::ffff:0:0/96"),
])
def test_address_in_subnet(address, subnets):
    assert address_in_subnet(address, subnets)


@pytest.mark.parametrize("address, subnets", [
    ("1.2.3.4", "1.2.3.5"),
    ("1.2.3.4", "1.2.4.0/24"),
    ("1.2.3.4", "1.2.3.4/33"),
    ("1.2.3.4", "1.2.3.4/024"),
    ("1.2.3.4", "1.2.3.4/x"),
    ("1.2.3.3", "1.2.3.4-20"),
    ("1.2.3.21", "1.2.3.4-20"),
    ("1.2.3.4", "1.2.3.4-256"),
    ("1.2.3.4", "1.2.4"),
    ("1.2.3.4", "1.2.3.4.5"),
    ("1.2.3.4", "1.2.3.."),
    ("1.2.3.4", "1.2.3.256"),
    ("1.2.3.4", ""),
    ("1.2.3.4", " , ,"),
    ("1.2.3.4", "::/0"),
    ("1.2.3.4", "2001:db8::/32"),
    ("0.0.0.0", "0.0.0.0/0"),
    ("", "0.0.0.0/0"),
    ("garbage", "1.2.3.4"),
    ("2001:db8::1", "2001:db9::/32"),
    ("2001:db8::1", "2001:db8::/129"),
    ("2001:db8::1", "1.2.3.0/24"),
    ("2001:db8::1", "0.0.0.0/0"),
    ("2001:db8::100", "2001:db8::1-ff"),
    ("2001:db8:0:1::1", "2001:db8::1-ff"),
    ("2001:db8::1", "2001:db8:"),          # Moodle never matches a trailing ':'
    ("2001:db8::1", "2001:db8::"),
    ("2001:db8::1", "2001:db9"),
    ("2001:db8::1", "2001:db8:zz"),
    ("fe80::1%eth0", "fe80::/10"),
])
def test_address_not_in_subnet(address, subnets):
    assert not address_in_subnet(address, subnets)
