"""Configuration: a TOML file named in USESTATS_CONFIG, overridden by the environment."""

import pytest

from soap_usestats.config import (
    DEFAULT_PUBLIC_URL,
    DEMO_DATABASE_URL,
    ConfigError,
    Settings,
    TimeModelOverrides,
    load_settings,
)


def test_defaults_without_file_or_environment():
    assert load_settings({}) == Settings(DEMO_DATABASE_URL, "mdl_", DEFAULT_PUBLIC_URL, TimeModelOverrides())


def test_file_then_environment(tmp_path):
    path = tmp_path / "usestats.toml"
    path.write_text('database_url = "postgresql+psycopg://ro@db/moodle"\n'
                    'table_prefix = "m_"\n'
                    "[use_stats]\nthreshold = 30\ncapturemodules = []\nignoremodules = [\"label\"]\n")
    settings = load_settings({"USESTATS_CONFIG": str(path), "USESTATS_TABLE_PREFIX": "x_",
                              "USESTATS_LASTPINGCREDIT": "5", "USESTATS_ENROLMENTFILTER": "on"})
    assert (settings.database_url, settings.table_prefix) == ("postgresql+psycopg://ro@db/moodle", "x_")
    assert settings.use_stats == TimeModelOverrides(threshold=30, lastpingcredit=5,
                                                    ignoremodules=frozenset({"label"}),
                                                    capturemodules=frozenset(), enrolmentfilter=True)


def test_comma_separated_labels_from_the_environment():
    settings = load_settings({"USESTATS_CAPTUREMODULES": "learningtimecheck, scorm,"})
    assert settings.use_stats.capturemodules == frozenset({"learningtimecheck", "scorm"})


@pytest.mark.parametrize("environ, message", [
    ({"USESTATS_THRESHOLD": "soon"}, "threshold"),
    ({"USESTATS_LASTPINGCREDIT": "-1"}, "lastpingcredit"),
    ({"USESTATS_ENROLMENTFILTER": "maybe"}, "enrolmentfilter"),
    ({"USESTATS_CONFIG": "/nonexistent/usestats.toml"}, "cannot read"),
])
def test_bad_values_are_named(environ, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(environ)


def test_unknown_and_malformed_files(tmp_path):
    typo = tmp_path / "typo.toml"
    typo.write_text('databse_url = "x"\n[use_stats]\nthreshhold = 3\n')
    with pytest.raises(ConfigError, match="databse_url, use_stats.threshhold"):
        load_settings({"USESTATS_CONFIG": str(typo)})
    broken = tmp_path / "broken.toml"
    broken.write_text("database_url = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"USESTATS_CONFIG": str(broken)})
