"""Serving: the WSDL's address is the address served when public_url is not configured,
whatever sets it (USESTATS_BIND, --bind, gunicorn's own --bind), and never a Host header."""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from lxml import etree

from soap_usestats.config import Settings
from soap_usestats.demo.site import build_demo_site
from soap_usestats.exceptions import ConfigError
from soap_usestats.web import serving
from soap_usestats.web.app import create_app
from tests.support.servers import free_port
from tests.support.wsgi import WsgiClient

GUNICORN_CONF = Path(__file__).parent.parent / "deploy" / "gunicorn.conf.py"
SOAP_ADDRESS = "{http://schemas.xmlsoap.org/wsdl/soap/}address"


@pytest.mark.parametrize("bind, url", [
    ("127.0.0.1:8101", "http://127.0.0.1:8101/soap"),
    ("tcp://127.0.0.1:8101", "http://127.0.0.1:8101/soap"),
    ("[::1]:8101", "http://[::1]:8101/soap"),
    ("stats.example.com:8101", "http://stats.example.com:8101/soap"),
    ("unix:/run/soap-usestats.sock,127.0.0.1:8102", "http://127.0.0.1:8102/soap"),
    ("0.0.0.0:8101", f"http://{socket.getfqdn()}:8101/soap"),
    ("[::]:8101", f"http://{socket.getfqdn()}:8101/soap"),
])
def test_the_address_of_a_bind(bind, url):
    assert serving.bind_url(bind) == url


@pytest.mark.parametrize("bind", ["unix:/run/soap-usestats.sock", "fd://3"])
def test_a_bind_without_tcp_needs_a_public_url(bind):
    with pytest.raises(ConfigError, match="set USESTATS_PUBLIC_URL"):
        serving.bind_url(bind)


def test_the_address_of_the_sockets_served(tmp_path):
    """The first TCP socket, with the port the system chose; a unix socket has none."""
    with closing(socket.socket(socket.AF_UNIX)) as unix, closing(socket.socket()) as tcp, \
            closing(socket.socket()) as everywhere:
        unix.bind(str(tmp_path / "s.sock"))
        tcp.bind(("127.0.0.1", 0))
        everywhere.bind(("0.0.0.0", 0))
        port = tcp.getsockname()[1]
        assert serving.sockets_url([unix, tcp, everywhere]) == f"http://127.0.0.1:{port}/soap"
        assert serving.sockets_url([everywhere]) == (
            f"http://{socket.getfqdn()}:{everywhere.getsockname()[1]}/soap")
        with pytest.raises(ConfigError, match="listens on .* only: set USESTATS_PUBLIC_URL"):
            serving.sockets_url([unix])


def test_without_public_url_the_wsdl_names_usestats_bind(monkeypatch):
    monkeypatch.setenv("USESTATS_BIND", "127.0.0.1:8101")
    app = create_app(Settings(database_url="sqlite://"))
    client = WsgiClient(app)
    wsdl = etree.fromstring(client.get("/soap", "wsdl", HTTP_HOST="attacker.example:8000").body)
    assert next(wsdl.iter(SOAP_ADDRESS)).get("location") == "http://127.0.0.1:8101/soap"
    pointer = client.get("/soap", HTTP_HOST="attacker.example:8000").body.decode()
    assert "http://127.0.0.1:8101/soap?wsdl" in pointer and "8000" not in pointer
    monkeypatch.setenv("USESTATS_BIND", "unix:/run/soap-usestats.sock")
    with pytest.raises(ConfigError, match="USESTATS_PUBLIC_URL"):
        create_app(Settings(database_url="sqlite://"))
    app = create_app(Settings(database_url="sqlite://", public_url="https://stats.example.com/soap"))
    wsdl = etree.fromstring(WsgiClient(app).get("/soap", "wsdl").body)
    assert next(wsdl.iter(SOAP_ADDRESS)).get("location") == "https://stats.example.com/soap"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('serving') / 'demo.sqlite'}"
    site = build_demo_site(url, learners=2)
    return url, site.token


def environment(database_url: str, **env: str) -> dict[str, str]:
    environ = {name: value for name, value in os.environ.items()
               if not name.startswith("USESTATS_") and name != "PROMETHEUS_MULTIPROC_DIR"}
    return {**environ, "USESTATS_DATABASE_URL": database_url, "USESTATS_WORKERS": "1",
            "USESTATS_THREADS": "1", **env}


@contextmanager
def running(command: list[str], env: dict[str, str], timeout: float = 30):
    """Run ``command`` until its output says where the WSDL is; yield that URL and a function
    that reads the output so far.

    The process appends to a file the test reads through a handle of its own: a handle shared
    with it has one offset, and a read moving it back would have the process overwrite what
    it printed first."""
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "output"
        with log.open("ab") as output:
            process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)

        def text() -> str:
            return log.read_bytes().decode()

        try:
            deadline = time.monotonic() + timeout
            while not (found := re.search(r"WSDL: (\S+)\?wsdl", text())):
                assert process.poll() is None, f"exited {process.returncode}:\n{text()}"
                assert time.monotonic() < deadline, f"no WSDL address within {timeout} s:\n{text()}"
                time.sleep(0.1)
            yield found.group(1), text
        finally:
            process.terminate()
            process.wait(timeout=15)


def served_address(soap_url: str) -> str:
    deadline = time.monotonic() + 20
    while True:
        try:
            request = urllib.request.Request(f"{soap_url}?wsdl", headers={"Host": "attacker.example"})
            with urllib.request.urlopen(request, timeout=5) as response:
                return next(etree.fromstring(response.read()).iter(SOAP_ADDRESS)).get("location")
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


SERVE = [sys.executable, "-m", "soap_usestats", "serve"]


@pytest.mark.e2e
@pytest.mark.parametrize("how", ["USESTATS_BIND", "--bind"])
def test_serve_prints_and_serves_the_address_it_listens_on(demo, how):
    """`USESTATS_BIND=127.0.0.1:PORT make run`: the WSDL line, the curl call and the WSDL
    served all name PORT."""
    url, token = demo
    port = free_port()
    bind = f"127.0.0.1:{port}"
    command = [*SERVE, "--example-user", "ref.learner", "--example-token", token]
    env = environment(url)
    if how == "--bind":
        command += ["--bind", bind]
        env["USESTATS_BIND"] = "127.0.0.1:1"  # the option wins
    else:
        env["USESTATS_BIND"] = bind
    with running(command, env) as (soap_url, output):
        assert soap_url == f"http://{bind}/soap"
        assert served_address(soap_url) == soap_url
        assert f"curl -s '{soap_url}?wstoken={token}'" in output()
        assert ":8000" not in output()


@pytest.mark.e2e
def test_the_port_chosen_by_the_system_is_the_one_in_the_wsdl(demo):
    with running([*SERVE, "--bind", "127.0.0.1:0"], environment(demo[0])) as (soap_url, _):
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/soap", soap_url) and ":0/" not in soap_url
        assert served_address(soap_url) == soap_url


@pytest.mark.e2e
def test_gunicorn_with_its_own_bind_serves_that_address(demo):
    """gunicorn -c deploy/gunicorn.conf.py --bind ...: the address on its command line, which
    overrides USESTATS_BIND, is the WSDL's; two binds, the first TCP one."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF),
               "--bind", f"unix:{tempfile.mktemp(suffix='.sock')}", "--bind", f"127.0.0.1:{port}",
               "soap_usestats.wsgi:application"]
    env = environment(demo[0], USESTATS_BIND="127.0.0.1:1")
    with running(command, env) as (soap_url, _):
        assert soap_url == f"http://127.0.0.1:{port}/soap"
        assert served_address(soap_url) == soap_url


@pytest.mark.e2e
def test_a_unix_socket_alone_needs_a_public_url(demo, tmp_path):
    socket_path = tmp_path / "usestats.sock"
    finished = subprocess.run([*SERVE, "--bind", f"unix:{socket_path}"], env=environment(demo[0]),
                              capture_output=True, text=True, timeout=60)
    assert finished.returncode != 0
    assert finished.stderr.strip().splitlines() == [
        f"soap-usestats serve: the service listens on unix:{socket_path} only: set "
        "USESTATS_PUBLIC_URL (public_url) to the address clients reach /soap at, through the "
        "proxy in front"]
    env = environment(demo[0], USESTATS_PUBLIC_URL="https://stats.example.com/soap")
    with running([*SERVE, "--bind", f"unix:{socket_path}"], env) as (soap_url, _):
        assert soap_url == "https://stats.example.com/soap"


@pytest.mark.e2e
def test_gunicorn_on_a_unix_socket_alone_refuses_to_start_without_a_public_url(demo, tmp_path):
    command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF),
               "--bind", f"unix:{tmp_path / 'usestats.sock'}", "soap_usestats.wsgi:application"]
    finished = subprocess.run(command, env=environment(demo[0]), capture_output=True, text=True,
                              timeout=60)
    assert finished.returncode != 0
    assert "Error: the service listens on unix:" in finished.stderr
    assert "set USESTATS_PUBLIC_URL" in finished.stderr and "Traceback" not in finished.stderr


@pytest.mark.e2e
def test_every_address_is_named_by_the_host_with_a_warning(demo):
    port = free_port()
    with running([*SERVE, "--bind", f"0.0.0.0:{port}"], environment(demo[0])) as (soap_url, output):
        assert soap_url == f"http://{socket.getfqdn()}:{port}/soap"
        assert served_address(f"http://127.0.0.1:{port}/soap") == soap_url
        assert "public_url is not set and the service listens on every address" in output()


def test_no_control_socket_but_in_the_instances_own_runtime_directory():
    assert serving.settings(environ={})["control_socket_disable"] is True
    assert "control_socket" not in serving.settings(environ={})
    options = serving.settings(environ={"RUNTIME_DIRECTORY": "/run/soap-usestats"})
    assert options["control_socket"] == "/run/soap-usestats/gunicorn.ctl"
    assert "control_socket_disable" not in options


@pytest.mark.e2e
def test_two_instances_never_share_a_control_socket(demo, tmp_path):
    """Two `serve` and a gunicorn with deploy/gunicorn.conf.py side by side: none claims
    gunicorn's default socket in the home directory; under systemd each has its own."""
    home = tmp_path / "home"
    home.mkdir()
    runtime = [tmp_path / "run-a", tmp_path / "run-b"]
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "--bind",
                f"127.0.0.1:{free_port()}", "soap_usestats.wsgi:application"]
    commands = [([*SERVE, "--bind", f"127.0.0.1:{free_port()}"], {}),
                (gunicorn, {}),
                ([*SERVE, "--bind", f"127.0.0.1:{free_port()}"], {"RUNTIME_DIRECTORY": str(runtime[0])}),
                ([*SERVE, "--bind", f"127.0.0.1:{free_port()}"], {"RUNTIME_DIRECTORY": str(runtime[1])})]
    for directory in runtime:
        directory.mkdir(mode=0o700)
    with ExitStack() as stack:
        outputs = []
        for command, env in commands:
            env = environment(demo[0], HOME=str(home), **env)
            env.pop("XDG_RUNTIME_DIR", None)
            outputs.append(stack.enter_context(running(command, env))[1])
        deadline = time.monotonic() + 20
        while not all((d / "gunicorn.ctl").exists() for d in runtime) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [(d / "gunicorn.ctl").is_socket() for d in runtime] == [True, True]
        assert list(home.iterdir()) == []
        assert not any("Control socket listening" in output() for output in outputs[:2])


@pytest.mark.parametrize("environ, message", [
    ({"USESTATS_WORKERS": "many"}, "^USESTATS_WORKERS must be a positive whole number, not 'many'$"),
    ({"USESTATS_THREADS": "0"}, "^USESTATS_THREADS must be a positive whole number"),
    ({"USESTATS_LOG_LEVEL": "loud"}, "^USESTATS_LOG_LEVEL must be one of DEBUG, INFO"),
])
def test_a_bad_gunicorn_variable_is_named(environ, message):
    with pytest.raises(ConfigError, match=message):
        serving.settings(environ=environ)


@pytest.mark.parametrize("variable, value", [("USESTATS_THRESHOLD", "abc"),
                                             ("USESTATS_WORKERS", "many")])
def test_serve_and_gunicorn_name_a_bad_variable_in_one_line(demo, variable, value):
    env = environment(demo[0], **{variable: value})
    served = subprocess.run([*SERVE, "--bind", "127.0.0.1:0"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert served.returncode == 2
    [line] = served.stderr.splitlines()
    assert line.startswith(f"soap-usestats serve: {variable} must be ")
    command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "--bind", "127.0.0.1:0",
               "soap_usestats.wsgi:application"]
    gunicorn = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert gunicorn.returncode != 0
    assert gunicorn.stderr.strip().splitlines() == [line.replace(" serve:", ":")]


@pytest.mark.e2e
@pytest.mark.parametrize("config", [[], ["-c", str(GUNICORN_CONF)]], ids=["wsgi", "conf"])
def test_gunicorn_stops_on_a_database_url_it_cannot_use_with_one_line(config):
    env = environment("mysql://usestats_ro:s3cret@db.example.com/moodle")
    command = [sys.executable, "-m", "gunicorn", *config, "--workers", "1", "--bind", "127.0.0.1:0",
               "soap_usestats.wsgi:application"]
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert finished.returncode != 0
    assert "Traceback" not in finished.stderr and "s3cret" not in finished.stderr
    assert ("soap-usestats: USESTATS_DATABASE_URL mysql://usestats_ro:***@db.example.com/moodle "
            "cannot be used: its driver, MySQLdb, is not installed; write "
            "mysql+pymysql://usestats_ro:***@db.example.com/moodle\n") in finished.stderr


def test_with_reuse_port_the_master_names_the_bind():
    """gunicorn --reuse-port: the workers open their sockets, the master has none to read."""
    announced: list[str] = []
    server = SimpleNamespace(LISTENERS=[], cfg=SimpleNamespace(bind=["127.0.0.1:8101"]),
                             log=logging.getLogger("gunicorn.error"))
    serving.hooks(None, announced.append)["when_ready"](server)
    assert announced == ["http://127.0.0.1:8101/soap"]
