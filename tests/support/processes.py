"""What a served process holds, read from Linux's /proc: the worker of a gunicorn that
serves a URL, and how much its memory grew at its peak during a block."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

PROC = Path("/proc")


def _status(pid: int | str) -> dict[str, str]:
    lines = (PROC / str(pid) / "status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def _kib(pid: int | str, field: str) -> int:
    return int(_status(pid)[field].split()[0])


def gunicorn_worker(url: str) -> int:
    """The pid of the one worker of the gunicorn (``tests.support.servers.gunicorn``) serving
    ``url``: a process bound to its port whose parent is bound to it too."""
    bind = f"127.0.0.1:{urlsplit(url).port}".encode()
    served = set()
    for entry in PROC.iterdir():
        try:
            if entry.name.isdigit() and bind in (entry / "cmdline").read_bytes().split(b"\0"):
                served.add(int(entry.name))
        except OSError:
            continue
    workers = [pid for pid in served if int(_status(pid)["PPid"]) in served]
    assert len(workers) == 1, f"expected one worker serving {url}, found {workers}"
    return workers[0]


@contextmanager
def peak_growth(pid: int | str):
    """Yield a dict whose ``"bytes"`` is, after the block, how far the resident memory of
    ``pid`` (or ``"self"``) rose above what it was before, at its highest."""
    growth = {"bytes": 0}
    before = _kib(pid, "VmRSS")
    (PROC / str(pid) / "clear_refs").write_text("5")  # resets the peak (VmHWM) to now
    yield growth
    growth["bytes"] = (_kib(pid, "VmHWM") - before) * 1024
