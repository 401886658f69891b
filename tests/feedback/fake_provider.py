"""A survey provider's API on 127.0.0.1, replaying scripted answers: a pytest fixture for the
connector tests. Each path has a queue of (status, body, headers); the last answer repeats."""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest


@dataclass
class SeenRequest:
    path: str
    query: dict
    headers: dict


@dataclass
class FakeProvider:
    url: str = ""
    routes: dict = field(default_factory=dict)
    requests: list = field(default_factory=list)

    def answer(self, path: str, *answers) -> None:
        """Each answer is a body (200) or (status, body[, headers])."""
        self.routes[path] = [a if isinstance(a, tuple) else (200, a) for a in answers]

    def next_answer(self, path: str):
        queue = self.routes.get(path)
        if not queue:
            return 404, {"error": {"message": f"No route {path}"}}, {}
        status, body, *rest = queue.pop(0) if len(queue) > 1 else queue[0]
        return status, body, (rest[0] if rest else {})

    def seen(self, path: str) -> list[SeenRequest]:
        return [r for r in self.requests if r.path == path]


def _handler(provider: FakeProvider):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            parts = urlsplit(self.path)
            provider.requests.append(
                SeenRequest(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}, dict(self.headers))
            )
            status, body, headers = provider.next_answer(parts.path)
            payload = json.dumps(body).encode() if not isinstance(body, bytes) else body
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def fake_provider(settings):
    # No real waiting between retries in tests; the retry count and order are what is checked.
    settings.PROVIDER_BACKOFF_SECONDS = 0
    provider = FakeProvider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield provider
    server.shutdown()
    server.server_close()
