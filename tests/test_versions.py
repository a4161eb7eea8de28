"""A database without window functions is refused at start-up; one not reachable yet is not."""

from __future__ import annotations

import pytest

from soap_usestats.config import Settings
from soap_usestats.exceptions import ConfigError
from soap_usestats.moodle import versions
from soap_usestats.web.app import create_app


def test_every_database_here_has_window_functions(database_url):
    create_app(Settings(database_url=database_url)).network.home.engine.dispose()


def test_an_older_server_is_refused_with_its_version(database_url, backend, monkeypatch):
    name = "mariadb" if backend == "mariadb" else backend
    monkeypatch.setitem(versions.MINIMUM, name, (999, 0))
    with pytest.raises(ConfigError, match=rf"{name} [\d.]+ has no window functions; the service "
                                          rf"needs {name} 999.0 or newer"):
        create_app(Settings(database_url=database_url))


def test_a_database_not_reachable_yet_does_not_stop_the_start(caplog):
    app = create_app(Settings(database_url="postgresql+psycopg://postgres@127.0.0.1:1/moodle"))
    assert "cannot be reached yet" in caplog.text
    app.network.home.engine.dispose()
