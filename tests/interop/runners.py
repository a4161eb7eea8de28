"""The interop clients as the tests run them: each script in ``clients/`` in its own process.

A client that is not installed here skips its tests, saying how to install it; in
CI (``CI=true``) it fails them instead, as the database servers do in ``tests/conftest.py``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from tests.interop import figures

HERE = Path(__file__).parent
CLIENTS = HERE / "clients"
NODE_MODULES = HERE / "node" / "node_modules"
PHP_HAS_SOAP = 'exit(class_exists("SoapClient") ? 0 : 1);'


@dataclass(frozen=True)
class Client:
    """One client: how to run it, whether it can run here, how to read what it prints."""

    name: str
    script: Path
    #: The SOAPAction header the service sees when the client is told to send none
    #: (as gunicorn's access log writes it: ``-`` when absent).
    without_soapaction: str = "-"

    def argv(self, wsdl: str, endpoint: str, operation: str, params: list[str]) -> list[str]:
        raise NotImplementedError

    def missing(self) -> str | None:
        """Why this client cannot run on this machine, or None."""
        raise NotImplementedError

    def read(self, operation: str, stdout: bytes) -> dict:
        return json.loads(stdout)

    def env(self) -> dict[str, str]:
        return {}


class PythonClient(Client):
    def argv(self, wsdl, endpoint, operation, params):
        return [sys.executable, str(self.script), wsdl, endpoint, operation, *params]

    def missing(self):
        module = self.name
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed: pip install -e '.[test]'"
        return None


class PhpClient(Client):
    def argv(self, wsdl, endpoint, operation, params):
        return ["php", str(self.script), wsdl, endpoint, operation, *params]

    def missing(self):
        if shutil.which("php") is None or subprocess.run(["php", "-r", PHP_HAS_SOAP]).returncode:
            return "PHP with its SOAP extension is not installed: make interop (php-cli, php-soap)"
        return None


class NodeClient(Client):
    def argv(self, wsdl, endpoint, operation, params):
        return ["node", str(self.script), wsdl, endpoint, operation, *params]

    def missing(self):
        if shutil.which("node") is None:
            return "node is not installed"
        if not (NODE_MODULES / "soap" / "package.json").exists():
            return f"node-soap is not installed in {NODE_MODULES}: make interop (npm ci)"
        return None

    def env(self):
        return {"NODE_PATH": str(NODE_MODULES)}


class CurlClient(Client):
    def argv(self, wsdl, endpoint, operation, params):
        return ["bash", str(self.script), endpoint, operation, *params]

    def missing(self):
        return None if shutil.which("curl") else "curl is not installed"

    def read(self, operation, stdout):
        return figures.of_response(operation, stdout)


ALL = [
    PythonClient("zeep", CLIENTS / "zeep_client.py"),
    PythonClient("suds", CLIENTS / "suds_client.py"),
    PhpClient("php", CLIENTS / "client.php", without_soapaction='""'),
    NodeClient("node", CLIENTS / "client.js"),
    CurlClient("curl", CLIENTS / "curl.sh"),
]


@cache
def _missing(client: Client) -> str | None:
    return client.missing()


def require(client: Client) -> None:
    """Skip (fail in CI) unless ``client`` can run here."""
    reason = _missing(client)
    if reason is None:
        return
    message = f"{client.name} client unavailable: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI requires every interop client")
    pytest.skip(message)


def environment(client: Client, soapaction: bool = True, **extra: str) -> dict[str, str]:
    """The environment a client runs in: this one, plus what the client and the call need."""
    env = {**os.environ, **client.env(), **extra}
    env.pop("NO_SOAPACTION", None)
    if not soapaction:
        env["NO_SOAPACTION"] = "1"
    return env


def run(client: Client, wsdl: str, endpoint: str, operation: str, params: list[str],
        soapaction: bool = True) -> dict:
    """Run one call with ``client``; the figures it printed."""
    require(client)
    done = subprocess.run(client.argv(wsdl, endpoint, operation, params), capture_output=True,
                          env=environment(client, soapaction), timeout=120)
    assert done.returncode == 0, (
        f"{client.name} failed ({done.returncode}):\n{done.stderr.decode()}\n{done.stdout.decode()}")
    return client.read(operation, done.stdout)
