"""A minimal Chrome DevTools Protocol client, so tests can open the HTML report in Chromium.

Only the standard library: Chromium is started with ``--remote-debugging-pipe`` and reads
protocol commands from its fd 3 and writes replies and events to its fd 4, each message one
JSON object followed by a NUL byte. No port is opened, so parallel test runs cannot collide
and nothing else on the machine can talk to the browser.

Every read has a deadline and the browser's process group is killed if it does not close on
request, so a wedged Chromium fails a test instead of hanging the suite.

    with Browser() as browser:
        page = browser.load(path, width=390, height=844, mobile=True, device_scale_factor=2)
        assert page.console_errors == []
        assert page.evaluate("document.scripts.length") == 0
"""

from __future__ import annotations

import base64
import dataclasses
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",  # containers and CI runners as root have no user namespaces for the sandbox
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",  # screenshots and widths must not depend on a scrollbar's thickness
    "--mute-audio",
    "--remote-debugging-pipe",
)

# Chromium expects the pipe on fds 3 and 4. A preexec_fn could dup2 them there, but it runs
# Python between fork and exec, which can deadlock when the parent has threads (the tests run
# an HTTP server thread), and dash cannot redirect fds above 9. So a fresh interpreter moves
# the two fds into place and execs Chromium; the pid stays the same.
_TRAMPOLINE = """\
import os, sys
os.dup2(int(sys.argv[1]), 3)
os.dup2(int(sys.argv[2]), 4)
os.execv(sys.argv[3], sys.argv[3:])
"""

# Console calls and log entries at these levels are what a reader would see as a problem.
_CONSOLE_PROBLEMS = {"error", "warning", "assert"}
_LOG_PROBLEMS = {"error", "warning"}


class BrowserError(RuntimeError):
    """Chromium died, timed out, or rejected a protocol command."""


@dataclasses.dataclass
class Page:
    """One loaded document and what it did while it was open.

    The lists keep growing while the browser is in use: an error logged after the load event
    shows up once a later call (``evaluate``, ``screenshot``) reads the pipe.
    """

    url: str
    _browser: Browser = dataclasses.field(repr=False)
    _session: str = dataclasses.field(repr=False)
    console_errors: list[str] = dataclasses.field(default_factory=list)
    exceptions: list[str] = dataclasses.field(default_factory=list)
    log_entries: list[str] = dataclasses.field(default_factory=list)
    requests: list[str] = dataclasses.field(default_factory=list)
    _loaded: set[str] = dataclasses.field(default_factory=set, repr=False)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression evaluated in the page."""
        reply = self._send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in reply:
            raise BrowserError(f"{expression!r} threw: {_describe(reply['exceptionDetails'])}")
        return reply["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """Write a PNG of the whole document, not just the viewport, to ``path``."""
        size = self._send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        reply = self._send(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "clip": clip},
        )
        path.write_bytes(base64.b64decode(reply["data"]))
        return path

    def _send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._browser.send(method, params, session=self._session)

    def _record(self, method: str, params: dict[str, Any]) -> None:
        """Keep the events a test asserts on; the browser calls this for this page's session."""
        if method == "Runtime.consoleAPICalled" and params["type"] in _CONSOLE_PROBLEMS:
            text = " ".join(_describe_value(arg) for arg in params["args"])
            self.console_errors.append(f"console.{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            self.exceptions.append(_describe(params["exceptionDetails"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] in _LOG_PROBLEMS:
            entry = params["entry"]
            where = f" ({entry['url']})" if entry.get("url") else ""
            self.log_entries.append(f"{entry['level']} {entry['source']}: {entry['text']}{where}")
        elif method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Page.lifecycleEvent" and params["name"] == "load":
            self._loaded.add(params["loaderId"])


class Browser:
    """A headless Chromium with a fresh profile, driven over the DevTools pipe.

    Use it as a context manager: leaving the block closes the browser, kills it if it does
    not exit in time, and deletes the profile.
    """

    def __init__(self, executable: str | None = None, timeout: float = 30.0) -> None:
        found = executable or shutil.which("chromium")
        if found is None:
            raise BrowserError("chromium is not on PATH")
        self.executable = found
        self.timeout = timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._profile: tempfile.TemporaryDirectory[str] | None = None
        self._to_browser = -1
        self._from_browser = -1
        self._buffer = b""
        self._next_id = 0
        self._pages: dict[str, Page] = {}

    def __enter__(self) -> Browser:
        self._profile = tempfile.TemporaryDirectory(
            prefix="auditor-chromium-", ignore_cleanup_errors=True
        )
        commands_read, self._to_browser = os.pipe()
        self._from_browser, replies_write = os.pipe()
        # Numbers of 5 and above, so moving them onto 3 and 4 cannot overwrite one another.
        child_fds = [_above_four(commands_read), _above_four(replies_write)]
        try:
            with open(self._stderr_path(), "wb") as stderr:
                self._process = subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        _TRAMPOLINE,
                        *map(str, child_fds),
                        self.executable,
                        *FLAGS,
                        f"--user-data-dir={self._profile.name}",
                        "about:blank",
                    ],
                    pass_fds=child_fds,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    # Its own process group, so renderers that outlive the browser die with it.
                    start_new_session=True,
                )
        except BaseException:
            self._shut_down()
            raise
        finally:
            for fd in child_fds:
                os.close(fd)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._shut_down()

    def load(
        self,
        path: Path,
        *,
        width: int = 1280,
        height: int = 900,
        mobile: bool = False,
        device_scale_factor: float = 1.0,
    ) -> Page:
        """Open ``path`` in a new tab of the given viewport and return once it has loaded.

        Events are recorded from before the navigation starts, so errors raised while the
        document parses are not missed. ``mobile`` makes Chromium honour the viewport meta tag
        and lay out like a phone.
        """
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        page = Page(url=path.resolve().as_uri(), _browser=self, _session=session)
        self._pages[session] = page
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        # Page.loadEventFired names no document, so a late load of the tab's about:blank could
        # pass for the report's; lifecycle events carry the loader id Page.navigate returns.
        self.send("Page.setLifecycleEventsEnabled", {"enabled": True}, session=session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": width,
                "height": height,
                "deviceScaleFactor": device_scale_factor,
                "mobile": mobile,
            },
            session=session,
        )
        navigated = self.send("Page.navigate", {"url": page.url}, session=session)
        if "errorText" in navigated:
            raise BrowserError(f"cannot open {page.url}: {navigated['errorText']}")
        loader = navigated["loaderId"]
        deadline = time.monotonic() + self.timeout
        while loader not in page._loaded:
            self._dispatch(self._read(deadline))
        return page

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None
    ) -> dict[str, Any]:
        """Send one command and return its result, recording the events that arrive meanwhile."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self._write(json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") != self._next_id:
                self._dispatch(reply)
            elif "error" in reply:
                raise BrowserError(f"{method} failed: {reply['error']}")
            else:
                return reply["result"]

    def _dispatch(self, message: dict[str, Any]) -> None:
        page = self._pages.get(message.get("sessionId", ""))
        if page is not None and "method" in message:
            page._record(message["method"], message.get("params", {}))

    def _write(self, data: bytes) -> None:
        # A pipe has room for 64 KiB and commands are far smaller, so this does not block.
        try:
            while data:
                data = data[os.write(self._to_browser, data) :]
        except BrokenPipeError:
            raise BrowserError(f"chromium has exited{self._stderr_tail()}") from None

    def _read(self, deadline: float) -> dict[str, Any]:
        """The next message from the browser, or BrowserError once ``deadline`` has passed."""
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(remaining, 0))
            if not ready:
                raise BrowserError(f"no reply from chromium within {self.timeout:g} s")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(f"chromium closed the pipe{self._stderr_tail()}")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def _shut_down(self) -> None:
        """Ask the browser to close; kill its process group if it has not exited in 5 s."""
        process, self._process = self._process, None
        if process is not None:
            try:
                self._write(json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
                process.wait(timeout=5)
            except (BrowserError, subprocess.TimeoutExpired):
                # The unreaped process keeps its group id reserved, so this kills only ours.
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        for fd in (self._to_browser, self._from_browser):
            if fd >= 0:
                os.close(fd)
        self._to_browser = self._from_browser = -1
        if self._profile is not None:
            self._profile.cleanup()
            self._profile = None

    def _stderr_path(self) -> Path:
        assert self._profile is not None
        return Path(self._profile.name) / "chromium.stderr"

    def _stderr_tail(self) -> str:
        """The end of Chromium's stderr, for the reason it died; it is noisy, so only 20 lines."""
        try:
            lines = self._stderr_path().read_text(errors="replace").splitlines()
        except OSError:
            return ""
        if not lines:
            return ""
        return "; its stderr ends:\n" + "\n".join(lines[-20:])


def _above_four(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 5)
    os.close(fd)
    return moved


def _describe(details: dict[str, Any]) -> str:
    """An exception's message as the console would print it."""
    exception = details.get("exception", {})
    return exception.get("description") or details.get("text", "")


def _describe_value(remote: dict[str, Any]) -> str:
    return str(remote["value"]) if "value" in remote else remote.get("description", "")
