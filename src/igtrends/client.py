"""Client of the data API: transports, the raw response store and the caching client.

A transport sends one request and returns a checked :class:`Response`.
:class:`HTTPTransport` talks to the API over HTTPS, and :class:`ReplayTransport`
returns responses recorded earlier. :class:`RawStore` keeps every response as one JSON
file, and :class:`Client` ties them together: it returns a stored response when there
is one, and otherwise sends the request and stores the result.

The API key is read from the ``RAPIDAPI_KEY`` environment variable and only ever sits
in the HTTP session headers. It is not stored, logged or put in any error message.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import requests

from igtrends.endpoints import API_HOST, BASE_URL, Endpoint, get_endpoint
from igtrends.errors import (
    APIError,
    CallLimitError,
    ConfigurationError,
    DatasetError,
    MissingAPIKeyError,
    ReplayMissError,
    ResponseFormatError,
)
from igtrends.log import get_logger

__all__ = [
    "API_KEY_VARIABLE",
    "Client",
    "HTTPTransport",
    "RawStore",
    "ReplayTransport",
    "Response",
    "Transport",
    "extract_items",
    "find_path",
    "read_api_key",
    "request_key",
]

log = get_logger("client")

API_KEY_VARIABLE = "RAPIDAPI_KEY"
BODY_START_BYTES = 200
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_ERROR_KEYS = ("error", "message")
_LOGGED_EMPTY_RESULTS = 5


def read_api_key(env: Mapping[str, str] = os.environ) -> str:
    """Read the data API key from the ``RAPIDAPI_KEY`` environment variable.

    Raises:
        MissingAPIKeyError: If the variable is missing or empty. The message shows
            how to set it and never contains a key.
    """
    key = env.get(API_KEY_VARIABLE, "").strip()
    if not key:
        raise MissingAPIKeyError(
            f"the data API key is missing: the environment variable {API_KEY_VARIABLE} "
            f"is not set or empty. Set it in the shell that starts Python or Jupyter "
            f"(export {API_KEY_VARIABLE}=<your RapidAPI key>) or in a .env file that "
            "is not committed, or use the replay transport or the embedded sample, "
            "which need no key."
        )
    return key


@dataclass(frozen=True)
class Response:
    """One checked API response.

    Attributes:
        status: HTTP status code.
        content_type: Value of the Content-Type header.
        data: The parsed JSON object.
        body: The raw body bytes, empty when the response was replayed.
    """

    status: int
    content_type: str
    data: dict[str, Any]
    body: bytes = b""


class Transport(Protocol):
    """Anything that sends one request of an endpoint and returns a checked response."""

    def send(self, endpoint: Endpoint, params: dict[str, str]) -> Response:
        """Send one request and return its checked response."""
        ...


def find_path(data: Any, path: tuple[str, ...]) -> Any:
    """Follow ``path`` through nested dicts, returning ``None`` when a key is missing."""
    current = data
    for key in path:
        if not isinstance(current, dict) or key not in current:
            return None
        current = current[key]
    return current


def extract_items(
    endpoint: Endpoint,
    data: Any,
    params: Mapping[str, str],
    status: int | None = None,
    *,
    content_type: str | None = None,
    body_start: str | None = None,
) -> list[Any]:
    """Return the items of a parsed response, checking that it has the endpoint's shape.

    For an endpoint whose ``items_path`` is empty, the whole object is the one item.
    ``status``, ``content_type`` and ``body_start`` only go into error messages; when
    ``body_start`` is ``None``, the start of the re-serialised object is shown.

    Raises:
        APIError: If the object is an error object such as ``{"error": ...}`` or
            ``{"message": ...}`` in place of results.
        ResponseFormatError: If the object is not a dict, or the items key is missing
            or is not a list.
    """
    start = body_start if body_start is not None else _json_start(data)
    if not isinstance(data, dict):
        raise ResponseFormatError(
            f"response is a JSON {type(data).__name__}, expected an object",
            endpoint=endpoint.name,
            params=dict(params),
            status=status,
            content_type=content_type,
            body_start=start,
        )

    if endpoint.items_path:
        items = find_path(data, endpoint.items_path)
        present = items is not None
    else:
        items = [data]
        present = all(key in data for key in endpoint.required_keys)

    if not present:
        error_key = next((key for key in _ERROR_KEYS if key in data), None)
        if error_key is not None:
            raise APIError(
                f"the API returned an error object in place of results: "
                f"{error_key}={str(data[error_key])[:BODY_START_BYTES]!r}",
                endpoint=endpoint.name,
                params=dict(params),
                status=status,
                content_type=content_type,
                body_start=start,
            )
        expected = endpoint.items_path or endpoint.required_keys
        raise ResponseFormatError(
            f"response has no {'/'.join(expected)!r} key, so the endpoint's response "
            f"shape has changed; top-level keys are {sorted(data)[:20]}. Update "
            f"ENDPOINTS[{endpoint.name!r}] in igtrends.endpoints",
            endpoint=endpoint.name,
            params=dict(params),
            status=status,
            content_type=content_type,
            body_start=start,
        )
    if not isinstance(items, list):
        raise ResponseFormatError(
            f"items at {'/'.join(endpoint.items_path)!r} are a {type(items).__name__}, "
            "expected a list",
            endpoint=endpoint.name,
            params=dict(params),
            status=status,
            content_type=content_type,
            body_start=start,
        )
    return items


def request_key(params: Mapping[str, str]) -> str:
    """Return the 16-hex-digit key of a request: SHA-256 of its canonical JSON."""
    canonical = json.dumps(dict(params), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


class HTTPTransport:
    """Send requests to the data API over HTTPS with a :class:`requests.Session`.

    Args:
        base_url: Scheme and host of the API, without a trailing slash.
        api_key: The RapidAPI key. When ``None``, it is read from ``RAPIDAPI_KEY``
            here, before any request is sent.
        timeout: ``(connect, read)`` timeouts in seconds.
        retries: How many times a request is sent again after a connection error, a
            timeout, HTTP 429 or a 5xx status. Other failures are not retried.
        retry_wait: Seconds to wait before each retry.
        host: Value of the ``x-rapidapi-host`` header.
    """

    def __init__(
        self,
        base_url: str = BASE_URL,
        api_key: str | None = None,
        timeout: tuple[float, float] = (5, 30),
        *,
        retries: int = 1,
        retry_wait: float = 2.0,
        host: str = API_HOST,
    ) -> None:
        key = api_key if api_key is not None else read_api_key()
        if not key.strip():
            raise MissingAPIKeyError(
                f"the data API key is empty. Pass a key or set {API_KEY_VARIABLE}."
            )
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = max(0, retries)
        self.retry_wait = retry_wait
        self._key = key
        self._session = requests.Session()
        self._session.headers.update({"x-rapidapi-host": host, "x-rapidapi-key": key})

    def __repr__(self) -> str:
        return f"HTTPTransport(base_url={self.base_url!r}, timeout={self.timeout!r})"

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def send(self, endpoint: Endpoint, params: dict[str, str]) -> Response:
        """Send one request and return the checked response.

        Raises:
            APIError: On a connection error or timeout after the retries, a non-2xx
                status, or a JSON error object.
            ResponseFormatError: On HTML in place of JSON (a login wall), invalid or
                truncated JSON, or a response without the endpoint's items key.
        """
        url = f"{self.base_url}{endpoint.path}"
        for attempt in range(self.retries + 1):
            last_attempt = attempt == self.retries
            try:
                if endpoint.method == "GET":
                    reply = self._session.get(url, params=params, timeout=self.timeout)
                else:
                    reply = self._session.request(
                        endpoint.method, url, data=params, timeout=self.timeout
                    )
            except (requests.ConnectionError, requests.Timeout) as error:
                if last_attempt:
                    raise APIError(
                        f"request failed after {attempt + 1} attempt(s): "
                        f"{type(error).__name__}. Check the network and the base URL "
                        f"{self.base_url!r}",
                        endpoint=endpoint.name,
                        params=params,
                    ) from None
                log.warning(
                    "retrying %s %s after %s", endpoint.name, params, type(error).__name__
                )
                time.sleep(self.retry_wait)
                continue

            if reply.status_code in _RETRY_STATUSES and not last_attempt:
                log.warning(
                    "retrying %s %s after HTTP %s", endpoint.name, params, reply.status_code
                )
                time.sleep(self.retry_wait)
                continue
            return self._check(endpoint, params, reply)
        raise AssertionError("unreachable: the loop returns or raises on its last attempt")

    def _check(
        self, endpoint: Endpoint, params: dict[str, str], reply: requests.Response
    ) -> Response:
        status = reply.status_code
        content_type = reply.headers.get("Content-Type", "")
        body = reply.content
        start = self._redact(body[:BODY_START_BYTES].decode("utf-8", errors="replace"))
        details = {
            "endpoint": endpoint.name,
            "params": params,
            "status": status,
            "content_type": content_type,
            "body_start": start,
        }

        if not 200 <= status < 300:
            raise APIError(f"HTTP {status}: {_status_hint(status)}", **details)
        if "html" in content_type.lower() or body.lstrip()[:1] == b"<":
            raise ResponseFormatError(
                "response is HTML, not JSON (a login wall or an error page); "
                "nothing was stored. Retry later or check the endpoint path",
                **details,
            )
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ResponseFormatError(
                f"response is invalid or truncated JSON ({error.__class__.__name__}: "
                f"{error}); nothing was stored. Retry the request",
                **details,
            ) from None

        extract_items(
            endpoint, data, params, status, content_type=content_type, body_start=start
        )
        return Response(status=status, content_type=content_type, data=data, body=body)

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***")


def _status_hint(status: int) -> str:
    if status in (401, 403):
        return (
            f"the API rejected the key or the subscription; check {API_KEY_VARIABLE} "
            "and the plan on RapidAPI"
        )
    if status == 404:
        return "the endpoint path was not found; check the path in igtrends.endpoints"
    if status == 429:
        return "rate limit reached; wait before sending more requests or lower max_calls"
    if status >= 500:
        return "the API server failed; retry later"
    return "the request was rejected; check the parameters"


def _json_start(data: Any) -> str:
    try:
        return json.dumps(data, ensure_ascii=False)[:BODY_START_BYTES]
    except (TypeError, ValueError):
        return repr(data)[:BODY_START_BYTES]


class RawStore:
    """Store every API response as one immutable JSON file.

    The file of a request is ``<folder>/<endpoint>/<key>.json``, where ``key`` is
    :func:`request_key` of the request parameters after the endpoint's defaults are
    applied. Its content is::

        {"request": {"endpoint", "method", "path", "params"}, "status": 200,
         "fetched_at": "2026-10-01T00:00:00+00:00", "response": {...}}

    Headers and the API key are never written. Files are written to a temporary file
    in the same folder and then moved into place with :func:`os.replace`, so a reader
    never sees a half-written file.

    Args:
        folder: Root folder of the store. It is created on the first write.
        fsync: Whether to flush each file to disk before moving it into place. The
            embedded sample turns it off for speed, because it can be generated again.
    """

    def __init__(self, folder: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.folder = Path(folder)
        self.fsync = fsync

    def __repr__(self) -> str:
        return f"RawStore({str(self.folder)!r})"

    def path_for(self, endpoint: str | Endpoint, params: Mapping[str, Any]) -> Path:
        """Return the file path of a request, whether or not the file exists."""
        endpoint = get_endpoint(endpoint)
        request = endpoint.request_params(dict(params))
        return self.folder / endpoint.name / f"{request_key(request)}.json"

    def get(self, endpoint: str | Endpoint, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """Return the stored record of a request (with ``"response"``), or ``None``.

        Raises:
            DatasetError: If the file is unreadable or belongs to other parameters.
        """
        endpoint = get_endpoint(endpoint)
        request = endpoint.request_params(dict(params))
        path = self.folder / endpoint.name / f"{request_key(request)}.json"
        if not path.exists():
            return None
        record = _read_record(path)
        if record["request"].get("params") != request:
            raise DatasetError(
                f"raw file {path} contains a response to params "
                f"{record['request'].get('params')!r}, not {request!r} (a key collision "
                "or an edited file). Move the file away and fetch the request again."
            )
        return record

    def put(
        self,
        endpoint: str | Endpoint,
        params: Mapping[str, Any],
        response: Any,
        *,
        status: int = 200,
        fetched_at: str | None = None,
    ) -> Path:
        """Write the response of a request atomically and return its path.

        Args:
            endpoint: The endpoint or its name.
            params: Request parameters. The endpoint's defaults are applied.
            response: The parsed JSON response.
            status: HTTP status of the response.
            fetched_at: ISO 8601 time of the fetch; the current UTC time when ``None``.
        """
        endpoint = get_endpoint(endpoint)
        request = endpoint.request_params(dict(params))
        record = {
            "request": {
                "endpoint": endpoint.name,
                "method": endpoint.method,
                "path": endpoint.path,
                "params": request,
            },
            "status": status,
            "fetched_at": fetched_at or datetime.now(UTC).isoformat(timespec="seconds"),
            "response": response,
        }
        path = self.folder / endpoint.name / f"{request_key(request)}.json"
        text = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        _write_atomic(path, text.encode("utf-8"), fsync=self.fsync)
        return path

    def iter_records(self, endpoint_name: str | None = None) -> Iterator[dict[str, Any]]:
        """Yield every stored record, optionally of one endpoint, in file-name order.

        Raises:
            DatasetError: If a file is not a readable record.
        """
        if endpoint_name is not None:
            folders = [self.folder / get_endpoint(endpoint_name).name]
        else:
            folders = sorted(p for p in self.folder.iterdir() if p.is_dir()) if self.folder.exists() else []
        for folder in folders:
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.json")):
                yield _read_record(path)

    def count(self, endpoint_name: str | None = None) -> int:
        """Return how many records are stored, optionally for one endpoint."""
        if not self.folder.exists():
            return 0
        pattern = f"{get_endpoint(endpoint_name).name}/*.json" if endpoint_name else "*/*.json"
        return sum(1 for _ in self.folder.glob(pattern))


def _read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_bytes())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetError(
            f"raw file {path} is unreadable ({error}). Delete it so that the next crawl "
            "fetches the request again."
        ) from None
    if not isinstance(record, dict) or not {"request", "response"} <= set(record):
        raise DatasetError(
            f"raw file {path} is not a raw record (expected keys 'request' and "
            "'response'). Move it out of the raw folder."
        )
    return record


def _write_atomic(path: Path, data: bytes, *, fsync: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            if fsync:
                file.flush()
                os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class ReplayTransport:
    """Return recorded responses from a :class:`RawStore` folder, without a network.

    Raises:
        DatasetError: If the folder does not exist.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.store = RawStore(folder)
        if not self.store.folder.is_dir():
            raise DatasetError(
                f"replay folder {self.store.folder} does not exist. Generate the sample "
                "with igtrends.sample.generate_sample or point to a raw folder of a crawl."
            )

    def __repr__(self) -> str:
        return f"ReplayTransport({str(self.store.folder)!r})"

    def send(self, endpoint: Endpoint, params: dict[str, str]) -> Response:
        """Return the recorded response of a request.

        Raises:
            ReplayMissError: If the folder has no recording of the request.
        """
        record = self.store.get(endpoint, params)
        if record is None:
            raise ReplayMissError(
                f"no recorded response in {self.store.folder} "
                f"(expected file {self.store.path_for(endpoint, params).name} under "
                f"{endpoint.name}/). Record it with a live crawl or request only what "
                "the recording covers",
                endpoint=endpoint.name,
                params=params,
            )
        return Response(
            status=int(record.get("status", 200)),
            content_type="application/json",
            data=record["response"],
        )


class Client:
    """Send API requests through a transport and keep every response in a raw store.

    A request already in the raw store is served from it without a call, unless
    ``refresh=True``.

    Args:
        transport: :class:`HTTPTransport`, :class:`ReplayTransport` or another
            :class:`Transport`.
        raw_store: Where responses are written and looked up.
        max_calls: Maximum number of requests sent through the transport, or ``None``
            for no limit. Responses served from the raw store do not count.

    Attributes:
        calls: Requests sent through the transport, failed ones included.
        cache_hits: Requests served from the raw store.
        empty_results: Responses whose item list was empty, from the transport or
            the raw store. The first five of each endpoint are logged as warnings and
            the rest at DEBUG level.
        empty_by_endpoint: ``empty_results`` split by endpoint name.
    """

    def __init__(
        self, transport: Transport, raw_store: RawStore, *, max_calls: int | None = None
    ) -> None:
        self.transport = transport
        self.raw_store = raw_store
        self.max_calls = max_calls
        self.calls = 0
        self.cache_hits = 0
        self.empty_results = 0
        self.empty_by_endpoint: dict[str, int] = {}

    def get(self, endpoint_name: str, *, refresh: bool = False, **params: Any) -> dict[str, Any]:
        """Return the response of one request, from the raw store or the transport.

        Raises:
            CallLimitError: If the request needs a call and ``max_calls`` is reached.
            APIError: If the transport fails or the response is not data.
        """
        endpoint = get_endpoint(endpoint_name)
        request = endpoint.request_params(params)

        record = None if refresh else self.raw_store.get(endpoint, request)
        if record is not None:
            self.cache_hits += 1
            data = record["response"]
            items = extract_items(endpoint, data, request, record.get("status"))
        else:
            if self.max_calls is not None and self.calls >= self.max_calls:
                raise CallLimitError(
                    f"reached max_calls={self.max_calls} before {endpoint.name} {request}; "
                    "raise max_calls to continue. Responses fetched so far are stored in "
                    f"{self.raw_store.folder} and are not fetched again."
                )
            self.calls += 1
            response = self.transport.send(endpoint, request)
            data = response.data
            items = extract_items(endpoint, data, request, response.status)
            self.raw_store.put(endpoint, request, data, status=response.status)

        if not items:
            self._count_empty(endpoint.name, request)
        return data

    def _count_empty(self, endpoint_name: str, request: dict[str, str]) -> None:
        self.empty_results += 1
        count = self.empty_by_endpoint.get(endpoint_name, 0) + 1
        self.empty_by_endpoint[endpoint_name] = count
        if count <= _LOGGED_EMPTY_RESULTS:
            log.warning("empty result from %s %s", endpoint_name, request)
        elif count == _LOGGED_EMPTY_RESULTS + 1:
            log.warning(
                "more empty results from %s; logging them at DEBUG level, see "
                "Client.empty_by_endpoint for the count",
                endpoint_name,
            )
        else:
            log.debug("empty result from %s %s", endpoint_name, request)

    def paginate(
        self, endpoint_name: str, max_pages: int = 50, *, refresh: bool = False, **params: Any
    ) -> Iterator[Any]:
        """Yield the items of every page of a request, each id once.

        Paging stops when a response has no cursor, when a cursor repeats, or after
        ``max_pages`` pages. Items whose id was already yielded are skipped, and items
        without an id are yielded as they are.

        Raises:
            ConfigurationError: If ``max_pages`` is less than 1.
        """
        endpoint = get_endpoint(endpoint_name)
        if max_pages < 1:
            raise ConfigurationError(f"max_pages must be at least 1, got {max_pages!r}")

        seen_ids: set[str] = set()
        seen_cursors: set[str] = set()
        cursor: str | None = None
        for page in range(1, max_pages + 1):
            page_params = dict(params)
            if cursor is not None and endpoint.cursor_param is not None:
                page_params[endpoint.cursor_param] = cursor
            data = self.get(endpoint.name, refresh=refresh, **page_params)

            for item in extract_items(endpoint, data, endpoint.request_params(page_params)):
                item_id = find_path(item, endpoint.id_path)
                if item_id is not None:
                    if str(item_id) in seen_ids:
                        continue
                    seen_ids.add(str(item_id))
                yield item

            if not endpoint.paginated:
                return
            next_cursor = find_path(data, endpoint.cursor_path or ())
            if not next_cursor:
                return
            next_cursor = str(next_cursor)
            if next_cursor in seen_cursors:
                log.warning(
                    "stopping %s %s: cursor %r repeated on page %d",
                    endpoint.name,
                    params,
                    next_cursor,
                    page,
                )
                return
            seen_cursors.add(next_cursor)
            cursor = next_cursor
        log.info("stopping %s %s at max_pages=%d", endpoint.name, params, max_pages)
