"""A local stand-in for the data API: serves recorded responses over HTTP on 127.0.0.1.

:class:`RecordedAPI` answers each request with the response a :class:`RawStore` folder
recorded for it, looked up by endpoint path and parameters exactly as the client keys
them. Faults queued with :meth:`RecordedAPI.inject` replace the next matching
responses, so a test can serve a 429, a 500, an HTML login wall, truncated JSON, a
repeated cursor or a renamed field at a chosen request.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response as WerkzeugResponse

from igtrends.client import RawStore
from igtrends.endpoints import ENDPOINTS

# The server logs one INFO line per request, which floods the captured test logs.
logging.getLogger("werkzeug").setLevel(logging.WARNING)

LOGIN_WALL = "<!DOCTYPE html><html><head><title>Login • Instagram</title></head><body>Log in</body></html>"


@dataclass
class Fault:
    """One injected fault: which requests it hits and what it serves instead.

    Attributes:
        endpoint: Endpoint name the fault applies to.
        kind: ``"429"``, ``"500"``, ``"html"``, ``"truncated"``, ``"error_object"``,
            ``"renamed"`` or ``"repeated_cursor"``.
        times: How many matching requests still get the fault.
        match: Extra condition on the request parameters, or ``None``.
    """

    endpoint: str
    kind: str
    times: int = 1
    match: Callable[[dict[str, str]], bool] | None = None


class RecordedAPI:
    """Request handler that serves a raw-store folder and injects queued faults.

    Attributes:
        requests: ``(endpoint name, params)`` of every request served, faults included.
        on_request: Called with the running request count before each response, or
            ``None``; the kill test uses it to stop a crawler at a chosen request.
    """

    def __init__(self, folder: Path) -> None:
        self.store = RawStore(folder)
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.on_request: Callable[[int], None] | None = None
        self._by_path = {endpoint.path: endpoint for endpoint in ENDPOINTS.values()}
        self._lock = threading.Lock()

    def inject(self, endpoint: str, kind: str, times: int = 1, match=None) -> None:
        """Queue a fault for the next ``times`` requests of ``endpoint``."""
        self.faults.append(Fault(endpoint, kind, times, match))

    def count(self, endpoint: str | None = None) -> int:
        """Return how many requests were served, optionally of one endpoint."""
        return sum(1 for name, _ in self.requests if endpoint is None or name == endpoint)

    def __call__(self, request: Request) -> WerkzeugResponse:
        endpoint = self._by_path.get(request.path)
        if endpoint is None:
            return _json({"message": f"no endpoint at {request.path}"}, status=404)
        source = request.args if endpoint.method == "GET" else request.form
        params = {key: source[key] for key in source}
        with self._lock:
            self.requests.append((endpoint.name, params))
            number = len(self.requests)
            fault = self._take_fault(endpoint.name, params)
        if self.on_request is not None:
            self.on_request(number)

        record = self.store.get(endpoint, params)
        if record is None:
            return _json({"message": f"no recording of {endpoint.name} {params}"}, status=404)
        return _serve(record["response"], fault, endpoint.name, params)

    def _take_fault(self, endpoint: str, params: dict[str, str]) -> Fault | None:
        for fault in self.faults:
            if fault.endpoint == endpoint and fault.times > 0 and (fault.match is None or fault.match(params)):
                fault.times -= 1
                return fault
        return None


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> WerkzeugResponse:
    return WerkzeugResponse(json.dumps(data), status=status, headers=headers, content_type="application/json")


def _serve(
    response: dict[str, Any], fault: Fault | None, endpoint: str, params: dict[str, str]
) -> WerkzeugResponse:
    if fault is None:
        return _json(response)
    if fault.kind == "429":
        return _json({"message": "Too many requests"}, status=429, headers={"Retry-After": "1"})
    if fault.kind == "500":
        return WerkzeugResponse("Internal Server Error", status=500, content_type="text/plain")
    if fault.kind == "html":
        return WerkzeugResponse(LOGIN_WALL, status=200, content_type="text/html; charset=utf-8")
    if fault.kind == "truncated":
        text = json.dumps(response)
        return WerkzeugResponse(text[: len(text) // 2], status=200, content_type="application/json")
    if fault.kind == "error_object":
        return _json({"message": "You are not subscribed to this API."})
    if fault.kind == "renamed":
        items_key = ENDPOINTS[endpoint].items_path[0]
        renamed = {("data" if key == items_key else key): value for key, value in response.items()}
        return _json(renamed)
    if fault.kind == "repeated_cursor":
        # The page points back at the cursor that requested it, so the client has
        # already seen its next cursor.
        if "pagination_token" not in params:
            raise ValueError("a repeated cursor needs a request that sends a cursor")
        return _json({**response, "pagination_token": params["pagination_token"]})
    raise ValueError(f"unknown fault kind {fault.kind!r}")


@pytest.fixture(scope="session")
def local_server_process():
    """An HTTP server on 127.0.0.1 with a free port, running for the whole session.

    Stopping a server takes about half a second, so tests share one and
    :func:`local_server` clears it after each test.
    """
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    if server.is_running():
        server.stop()


@pytest.fixture
def local_server(local_server_process):
    """The shared local server, with no handlers and an empty request log."""
    local_server_process.clear()
    yield local_server_process
    local_server_process.clear()


def base_url(server: HTTPServer) -> str:
    """Return ``http://127.0.0.1:<port>`` of a running server."""
    return server.url_for("/").rstrip("/")
