"""Fixtures shared by the render tests: the loans sample's report, and a local HTTP server
that records what is fetched."""

from __future__ import annotations

import http.server
import threading

import pytest


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: list[str]

    def do_GET(self):  # noqa: N802 - the name http.server dispatches to
        self.requests.append(self.path)
        body = b'body::after { content: "FETCHED-OVER-HTTP"; }'
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@pytest.fixture
def http_server():
    """A local server that records every request it gets; yields (base_url, requests)."""
    requests: list[str] = []
    handler = type("Handler", (_Recorder,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def loans_html(loans_audit) -> str:
    """The HTML report of the bundled loans audit (two warnings: overfitting, a baseline)."""
    return (loans_audit.out_dir / "report.html").read_text(encoding="utf-8")
