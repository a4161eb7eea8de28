"""The service on a small SQLite Moodle (the time model's worked example), called in-process."""

from __future__ import annotations

import pytest

from soap_usestats.auth.clients import new_client, new_secret_key
from soap_usestats.config import Settings
from soap_usestats.web.app import create_app
from tests.support.examples import graded_example_site
from tests.support.wsgi import WsgiClient

#: The web service token of the example site's administrator.
TOKEN = "a" * 32


@pytest.fixture(scope="module")
def moodle_url(tmp_path_factory) -> str:
    return graded_example_site(tmp_path_factory.mktemp("security"), TOKEN)


@pytest.fixture(scope="module")
def make_client(moodle_url):
    """A client of a new application on the example site, with ``settings`` changed as asked;
    it calls with the administrator's token. The throttle of failed authentications is off
    unless asked for: these tests fail to authenticate many times from one address on
    purpose (``test_throttle.py`` tests the throttle)."""
    apps = []

    def make(**settings) -> WsgiClient:
        apps.append(create_app(Settings(database_url=moodle_url,
                                        **{"throttle_failures": 0, **settings})))
        return WsgiClient(apps[-1], QUERY_STRING=f"wstoken={TOKEN}")

    yield make
    for app in apps:
        app.network.home.engine.dispose()


@pytest.fixture(scope="module")
def soap(make_client) -> WsgiClient:
    """A client of the application with the default settings."""
    return make_client()


@pytest.fixture(scope="module")
def erp(make_client) -> tuple[WsgiClient, str]:
    """A client of an application with one configured client, ``erp`` acting as the site
    administrator, and its password; it calls with the administrator's token unless told
    otherwise."""
    key = new_secret_key()
    credential, password = new_client(key, "erp", user="wsadmin")
    return make_client(clients={"erp": credential}, secret_key=key), password
