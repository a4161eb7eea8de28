"""Headless Chromium: a page's DOM as the browser rendered it, and a screenshot of it.

Where Chromium is not installed (``make chromium`` installs Debian's), the tests
that need it skip, saying so; in CI (``CI=true``) they fail instead.

``python -m tests.support.browser URL FILE.png`` saves a screenshot; ``make help-page``
makes docs/help-page.png with the browser test of the page.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

#: Long enough for a cold start on a slow machine.
TIMEOUT = 60
#: No network beyond the page, no profile left behind, nothing that needs a display.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars")


def chromium() -> str:
    """The Chromium executable, or skip (fail in CI) when there is none."""
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    message = "chromium is not installed (make chromium, or apt-get install chromium as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI requires it")
    pytest.skip(message)


def _run(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="usestats-chromium-") as profile:
        return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=TIMEOUT, check=True)


def dump_dom(url: str) -> str:
    """The DOM of ``url`` once Chromium has loaded and rendered it, serialised."""
    return _run("--dump-dom", url).stdout


def screenshot(url: str, path: Path, width: int = 1280, height: int = 2000) -> Path:
    """A PNG of the first ``height`` pixels of ``url`` rendered ``width`` pixels wide."""
    _run(f"--window-size={width},{height}", f"--screenshot={path}", url)
    return path


if __name__ == "__main__":
    screenshot(sys.argv[1], Path(sys.argv[2]))
