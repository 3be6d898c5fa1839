"""What the browser tests drive: ``shadowbot demo`` as a subprocess serving the pages, the
ledger as ``shadowbot ledger show`` gives it, and Debian's chromium under playwright."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

#: Debian's package (``apt-get install chromium``); playwright's own download is not used.
CHROMIUM = Path(os.environ.get("SHADOWBOT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: The demo's last lines name the leaderboard's address: "  http://…/   (the leaderboard …".
URL_MARK = "(the leaderboard"
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class DemoBot:
    """A ``shadowbot demo --keep-running`` process: its pages' address, its database."""

    url: str
    database: Path
    output: str

    def ledger_show(self) -> list[dict[str, Any]]:
        """``shadowbot ledger show --format json`` on the same database."""
        done = subprocess.run(
            [sys.executable, "-m", "shadowbot", "ledger", "show", "--format", "json"],
            env={**clean_env(), "SHADOWBOT_DATABASE_URL": f"sqlite:///{self.database}"},
            cwd=self.database.parent,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


def clean_env() -> dict[str, str]:
    """This environment without the caller's ``SHADOWBOT_*`` settings (a rules folder or
    thresholds of theirs would change the story), with output unbuffered (the URL line is
    read while the demo keeps running)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHADOWBOT_")}
    return {**env, "PYTHONUNBUFFERED": "1"}


@contextlib.contextmanager
def running_demos(*runs: tuple[Path, Path | None]) -> Iterator[list[DemoBot]]:
    """``shadowbot demo`` once per (folder, script): the demo's story when the script is
    None. They play at once, and serve their pages until the end of the ``with``."""
    with contextlib.ExitStack() as stack:
        started = [stack.enter_context(_demo(folder, script)) for folder, script in runs]
        yield [ready() for ready in started]


@contextlib.contextmanager
def _demo(folder: Path, script: Path | None) -> Iterator[Callable[[], DemoBot]]:
    """A demo started: what it yields waits for the end of its story."""
    database = folder / "demo.db"
    command = [sys.executable, "-m", "shadowbot", "demo", "--keep-running"]
    command += ["--database", str(database)]
    command += ["--script", str(script)] if script is not None else []
    with (folder / "stderr.txt").open("w+", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            command,
            cwd=folder,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            encoding="utf-8",
        )
        reader = _Reader(process)

        def ready() -> DemoBot:
            url, output = reader.url()
            if url is None:
                stderr.seek(0)
                pytest.fail(
                    f"`shadowbot demo` printed no leaderboard URL within {START_TIMEOUT:.0f}s"
                    f" (exit status {process.poll()}):\n{output}\n{stderr.read()}"
                )
            return DemoBot(url.rstrip("/"), database, output)

        try:
            yield ready
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            reader.close()


class _Reader:
    """The demo's output, read by a thread, so that a demo that hangs cannot hang the
    tests: the wait for its URL line has a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self._stdout = process.stdout
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stdout:
            self._lines.put(line)
        self._lines.put(None)

    def url(self) -> tuple[str | None, str]:
        """The leaderboard's URL the demo prints once its story is over (None if it ends
        or stalls first), and all it printed until then."""
        output: list[str] = []
        while True:
            try:
                line = self._lines.get(timeout=START_TIMEOUT)
            except queue.Empty:
                return None, "".join(output)
            if line is None:
                return None, "".join(output)
            output.append(line)
            if URL_MARK in line:
                return line.split()[0], "".join(output)

    def close(self) -> None:
        """Once the process has ended: its output is at its end, the thread too."""
        self._thread.join(timeout=10)
        self._stdout.close()


def launch_chromium(playwright: Any) -> Any:
    """Debian's chromium, through playwright (which adds a new empty profile). On a fresh
    Debian machine where the tests run as root it is installed first, so the README's test
    command works there; elsewhere a clear failure, not a skip: CI must run these tests."""
    if not CHROMIUM.exists():
        _install_chromium()
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium"
            " (`apt-get install chromium`, as .ci/run does) or SHADOWBOT_CHROMIUM set to one"
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def _install_chromium() -> None:
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0 or "SHADOWBOT_CHROMIUM" in os.environ:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", "chromium"]):
        subprocess.run(command, env=env, check=False, capture_output=True)
