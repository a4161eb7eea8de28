"""docs/clients.md stays true: its scripts are the suite's, and its example calls print
the figures it shows, which are the engine's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.interop import figures
from tests.interop.runners import ALL, CLIENTS, environment, require

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "clients.md"
FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks(info: str) -> list[str]:
    """The bodies of the fenced blocks whose info string matches ``info``."""
    return [m["body"] for m in FENCE.finditer(DOC.read_text()) if re.fullmatch(info, m["info"])]


def shown_scripts() -> list[tuple[str, str]]:
    """The scripts shown whole: (path, text) of each block titled with a path."""
    return sorted((title[1], block["body"]) for block in FENCE.finditer(DOC.read_text())
                  if (title := re.search(r"\btitle=(\S+)", block["info"])))


def test_every_script_is_shown_whole():
    scripts = sorted((str(path.relative_to(ROOT)), path.read_text()) for path in CLIENTS.iterdir()
                     if path.is_file())
    assert shown_scripts() == scripts


#: The parameters of the example calls.
EXAMPLE = dict(targetuser="ref.learner", statsscope="course", timefrom="1769385600",
               timeto="1769485600", daily="true")


def shown() -> dict:
    (output,) = blocks("json output")
    return json.loads(output)


def test_documented_output_is_the_engines(demo):
    """At the moment the output was asked, which its FINALBEFORE says; a decimal as text."""
    output = shown()
    moment = output["USER"]["FINALBEFORE"] + demo.lag
    expected = demo.expected("GetStats", EXAMPLE, [moment])
    assert figures.comparable(output) == figures.comparable(expected)


@pytest.mark.parametrize("client", ALL, ids=lambda client: client.name)
def test_example_call_prints_the_documented_figures(client, demo, service):
    """The documented figures, but FINALBEFORE: the time of the call's, less the lag."""
    require(client)
    script = str(client.script.relative_to(ROOT))
    (example,) = [block for block in blocks("sh example") if script in block]
    assert all(f"{name}={value}" in example for name, value in EXAMPLE.items())
    env = environment(client, SOAP=service.url, TOKEN=service.token,
                      PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    before = int(time.time())
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", example], cwd=ROOT, env=env,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    got = client.read("GetStats", done.stdout)
    demo.moments("GetStats", EXAMPLE, got, during=(before, time.time()))
    output = shown()
    output["USER"]["FINALBEFORE"] = got["USER"]["FINALBEFORE"]
    assert figures.comparable(got) == figures.comparable(output)
