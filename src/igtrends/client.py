"""Client of the data API: transports, the raw response store and the caching client.

A transport sends one request and returns a checked :class:`Response`.
:class:`HTTPTransport` talks to the API over HTTPS, and :class:`ReplayTransport`
returns responses recorded earlier. :class:`RawStore` keeps every response as one JSON
file, and :class:`Client` ties them together: it returns a stored response when there
is one, and otherwise sends the request and stores the result.

The API key is read from the ``RAPIDAPI_KEY`` environment variable or a ``.env`` file
and only ever sits in the HTTP session headers. It is not stored, logged or put in any
error message, and a server that echoes it back has it replaced by ``***`` in errors.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol

import requests
from dotenv import dotenv_values

from igtrends.endpoints import API_HOST, BASE_URL, Endpoint, get_endpoint
from igtrends.errors import (
    APIError,
    CallLimitError,
    ConfigurationError,
    DatasetError,
    MissingAPIKeyError,
    ReplayMissError,
    ResponseFormatError,
    RetryError,
)
from igtrends.log import get_logger

__all__ = [
    "API_KEY_VARIABLE",
    "Client",
    "HTTPTransport",
    "RateLimiter",
    "RawStore",
    "ReplayTransport",
    "Response",
    "Transport",
    "extract_items",
    "find_path",
    "parse_retry_after",
    "read_api_key",
    "request_key",
]

log = get_logger("client")

API_KEY_VARIABLE = "RAPIDAPI_KEY"
BODY_START_BYTES = 200
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_ERROR_KEYS = ("error", "message")
_LOGGED_EMPTY_RESULTS = 5


def read_api_key(
    env: Mapping[str, str] = os.environ, *, dotenv_path: str | os.PathLike[str] | None = None
) -> str:
    """Read the data API key from ``RAPIDAPI_KEY`` or, failing that, from a ``.env`` file.

    A value set in ``env`` always wins over the ``.env`` file, and the file is only read,
    never loaded into the environment.

    Args:
        env: The environment to read first.
        dotenv_path: The ``.env`` file to read when ``env`` lacks the key. ``None``
            means ``.env`` in the current directory.

    Raises:
        MissingAPIKeyError: If neither has a non-empty key. The message shows how to
            set it and never contains a key.
    """
    key = env.get(API_KEY_VARIABLE, "").strip()
    if key:
        return key

    path = Path(".env") if dotenv_path is None else Path(dotenv_path)
    if path.is_file():
        key = (dotenv_values(path).get(API_KEY_VARIABLE) or "").strip()
        if key:
            log.debug("read %s from %s", API_KEY_VARIABLE, path)
            return key

    raise MissingAPIKeyError(
        f"the data API key is missing: the environment variable {API_KEY_VARIABLE} is "
        f"not set or empty, and {path.absolute()} does not set it. Set it in the shell "
        f"that starts Python or Jupyter (export {API_KEY_VARIABLE}=<your RapidAPI key>) "
        f"or put the line {API_KEY_VARIABLE}=<your RapidAPI key> in {path.absolute()} "
        "and keep that file out of version control. The replay transport and the "
        "embedded sample need no key."
    )


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Return the wait in seconds that a ``Retry-After`` header requests.

    The header is either a number of seconds (``"120"``) or an HTTP date
    (``"Wed, 21 Oct 2026 07:28:00 GMT"``), as RFC 9110 section 10.2.3 defines. A date
    in the past gives 0.

    Args:
        value: The header value, or ``None`` when the header is absent.
        now: The current time for an HTTP date; the current UTC time when ``None``.

    Returns:
        Seconds to wait, or ``None`` when the header is absent or unreadable.
    """
    if value is None:
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are always GMT
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


class RateLimiter:
    """Space requests at least ``1 / requests_per_second`` seconds apart.

    Args:
        requests_per_second: Maximum request rate, or ``None`` for no limit.
        clock: Monotonic clock in seconds.
        sleep: Function that waits a number of seconds.

    Raises:
        ConfigurationError: If ``requests_per_second`` is not positive.
    """

    def __init__(
        self,
        requests_per_second: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests_per_second is not None and not requests_per_second > 0:
            raise ConfigurationError(
                f"requests_per_second must be a positive number or None for no limit, "
                f"got {requests_per_second!r}"
            )
        self.interval = 0.0 if requests_per_second is None else 1.0 / requests_per_second
        self._clock = clock
        self._sleep = sleep
        self._last: float | None = None

    def wait(self) -> None:
        """Wait until the next request may start, then record its start."""
        if self._last is not None and self.interval > 0:
            remaining = self._last + self.interval - self._clock()
            if remaining > 0:
                self._sleep(remaining)
        self._last = self._clock()


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

    A timeout, a connection error or a 5xx status is retried after an exponential
    backoff with jitter: before retry ``n`` the wait is a random value between half
    and all of ``backoff * 2 ** (n - 1)``, capped at ``max_wait``. HTTP 429 is retried
    after the wait its ``Retry-After`` header requests, or after the backoff when the
    header is absent. Other statuses are not retried.

    Args:
        base_url: Scheme and host of the API, without a trailing slash.
        api_key: The RapidAPI key. When ``None``, it is read with
            :func:`read_api_key` here, before any request is sent.
        timeout: ``(connect, read)`` timeouts in seconds.
        retries: How many times a request is sent again after a retryable failure.
        backoff: Base of the exponential backoff, in seconds.
        max_wait: Longest wait before one retry, in seconds. A ``Retry-After`` longer
            than this raises :class:`~igtrends.errors.RetryError` at once.
        requests_per_second: Maximum request rate, retries included, or ``None``
            for no limit.
        host: Value of the ``x-rapidapi-host`` header.
        sleep: Function that waits a number of seconds; tests pass a recorder.
        clock: Monotonic clock in seconds, used by the rate limit.
        seed: Seed of the jitter's random generator, or ``None`` for a random one.

    Attributes:
        requests_sent: HTTP requests sent so far, retries included.
        retries_done: Retries sent so far.
    """

    def __init__(
        self,
        base_url: str = BASE_URL,
        api_key: str | None = None,
        timeout: tuple[float, float] = (5, 30),
        *,
        retries: int = 4,
        backoff: float = 1.0,
        max_wait: float = 60.0,
        requests_per_second: float | None = None,
        host: str = API_HOST,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
    ) -> None:
        key = api_key if api_key is not None else read_api_key()
        if not key.strip():
            raise MissingAPIKeyError(
                f"the data API key is empty. Pass a key or set {API_KEY_VARIABLE}."
            )
        if retries < 0 or backoff < 0 or max_wait < 0:
            raise ConfigurationError(
                f"retries, backoff and max_wait must not be negative, got retries={retries!r}, "
                f"backoff={backoff!r}, max_wait={max_wait!r}"
            )
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.requests_sent = 0
        self.retries_done = 0
        self._key = key
        self._sleep = sleep
        self._random = random.Random(seed)
        self._rate_limiter = RateLimiter(requests_per_second, clock=clock, sleep=sleep)
        self._session = requests.Session()
        self._session.headers.update({"x-rapidapi-host": host, "x-rapidapi-key": key})

    def __repr__(self) -> str:
        return f"HTTPTransport(base_url={self.base_url!r}, timeout={self.timeout!r})"

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def backoff_wait(self, retry: int) -> float:
        """Return the jittered wait in seconds before retry number ``retry`` (from 1)."""
        ceiling = min(self.max_wait, self.backoff * 2 ** (retry - 1))
        return self._random.uniform(ceiling / 2, ceiling)

    def send(self, endpoint: Endpoint, params: dict[str, str]) -> Response:
        """Send one request, retrying as the class describes, and return the checked response.

        Raises:
            RetryError: If the request still times out, fails to connect, or gets
                HTTP 429 or a 5xx status after every retry, or if a ``Retry-After``
                requests more than ``max_wait`` seconds.
            APIError: On another non-2xx status or a JSON error object.
            ResponseFormatError: On HTML in place of JSON (a login wall), invalid or
                truncated JSON, or a response without the endpoint's items key.
        """
        url = f"{self.base_url}{endpoint.path}"
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            self._rate_limiter.wait()
            self.requests_sent += 1
            try:
                if endpoint.method == "GET":
                    reply = self._session.get(url, params=params, timeout=self.timeout)
                else:
                    reply = self._session.request(
                        endpoint.method, url, data=params, timeout=self.timeout
                    )
            except (requests.ConnectionError, requests.Timeout) as error:
                reason = type(error).__name__
                hint = f"check the network and the base URL {self.base_url!r}"
                details: dict[str, Any] = {}
                requested_wait = None
            else:
                if reply.status_code not in _RETRY_STATUSES:
                    return self._check(endpoint, params, reply)
                reason = f"HTTP {reply.status_code}"
                hint = _status_hint(reply.status_code)
                details = self._reply_details(reply)
                requested_wait = None
                if reply.status_code == 429:
                    requested_wait = parse_retry_after(reply.headers.get("Retry-After"))

            if attempt == attempts:
                raise RetryError(
                    f"request failed after {attempt} attempt(s): {reason}; {hint}",
                    attempts=attempt,
                    endpoint=endpoint.name,
                    params=params,
                    **details,
                )
            wait = requested_wait if requested_wait is not None else self.backoff_wait(attempt)
            if wait > self.max_wait:
                raise RetryError(
                    f"the server requested a wait of {wait:.0f} s (Retry-After) before retrying, "
                    f"more than max_wait={self.max_wait:g} s ({reason}). Run the crawl again "
                    "later; stored responses are not fetched again",
                    attempts=attempt,
                    endpoint=endpoint.name,
                    params=params,
                    **details,
                )
            log.warning(
                "retrying %s %s in %.1f s after %s (attempt %d of %d)",
                endpoint.name, params, wait, reason, attempt + 1, attempts,
            )  # fmt: skip
            self.retries_done += 1
            self._sleep(wait)
        raise AssertionError("unreachable: the loop returns or raises on its last attempt")

    def _reply_details(self, reply: requests.Response) -> dict[str, Any]:
        body = reply.content
        return {
            "status": reply.status_code,
            "content_type": reply.headers.get("Content-Type", ""),
            "body_start": self._redact(body[:BODY_START_BYTES].decode("utf-8", errors="replace")),
        }

    def _check(
        self, endpoint: Endpoint, params: dict[str, str], reply: requests.Response
    ) -> Response:
        status = reply.status_code
        content_type = reply.headers.get("Content-Type", "")
        body = reply.content
        details = {"endpoint": endpoint.name, "params": params, **self._reply_details(reply)}
        start = details["body_start"]

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
    ``.<key>.<pid>.<random>.tmp`` in the same folder and then moved into place with
    :func:`os.replace`, so a reader never sees a half-written file. A process killed
    between the two steps leaves its temporary file behind, and
    :meth:`remove_stale_temporary_files` deletes it.

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

    def remove_stale_temporary_files(self) -> int:
        """Delete temporary files left by writer processes that no longer run.

        Only files named as :meth:`put` names them are considered, and a file whose
        process still runs is kept, so a concurrent writer is not disturbed.

        Returns:
            How many files were deleted.
        """
        if not self.folder.exists():
            return 0
        removed = 0
        for path in self.folder.glob("*/.*.tmp"):
            match = _TEMPORARY_NAME.fullmatch(path.name)
            # NOTE: a reused process id keeps a stale file until that process ends.
            if match is None or _process_running(int(match["pid"])):
                continue
            path.unlink(missing_ok=True)
            removed += 1
        if removed:
            log.info("removed %d temporary file(s) left by stopped crawls in %s", removed, self.folder)
        return removed

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


_TEMPORARY_NAME = re.compile(r"\.(?P<key>[^.]+)\.(?P<pid>\d+)\.[^.]+\.tmp")


def _process_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # the process exists but belongs to another user
        return True
    return True


def _write_atomic(path: Path, data: bytes, *, fsync: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}.{os.getpid()}.", suffix=".tmp"
    )
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
        refresh: Whether to fetch again every request whose stored response was
            written before this client was created. A response this client fetched
            is served from the store, so a page is not paid for twice in one crawl.

    Attributes:
        calls: Requests sent through the transport, failed ones included.
        cache_hits: Requests served from the raw store.
        empty_results: Responses whose item list was empty, from the transport or
            the raw store. The first five of each endpoint are logged as warnings and
            the rest at DEBUG level.
        empty_by_endpoint: ``empty_results`` split by endpoint name.
    """

    def __init__(
        self,
        transport: Transport,
        raw_store: RawStore,
        *,
        max_calls: int | None = None,
        refresh: bool = False,
    ) -> None:
        self.transport = transport
        self.raw_store = raw_store
        self.max_calls = max_calls
        self.refresh = refresh
        self._fetched: set[Path] = set()
        self.calls = 0
        self.cache_hits = 0
        self.empty_results = 0
        self.empty_by_endpoint: dict[str, int] = {}

    def get(self, endpoint_name: str, *, refresh: bool = False, **params: Any) -> dict[str, Any]:
        """Return the response of one request, from the raw store or the transport.

        ``refresh=True`` fetches the request again even when it is stored; the
        client's ``refresh`` does so only for responses stored before the client
        existed.

        Raises:
            CallLimitError: If the request needs a call and ``max_calls`` is reached.
            APIError: If the transport fails or the response is not data.
        """
        endpoint = get_endpoint(endpoint_name)
        request = endpoint.request_params(params)

        path = self.raw_store.path_for(endpoint, request)
        stale = self.refresh and path not in self._fetched
        record = None if refresh or stale else self.raw_store.get(endpoint, request)
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
            self._fetched.add(path)

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

        Paging stops when a response has no cursor, when its ``has_more`` field is
        false, when ``has_more`` is true but the cursor is missing (logged as a
        warning), when a cursor repeats (logged as a warning), or after ``max_pages``
        pages. Items whose id was already yielded are skipped, and items without an id
        are yielded as they are.

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
            has_more = find_path(data, endpoint.has_more_path) if endpoint.has_more_path else None
            if has_more is False:
                return
            if not next_cursor:
                if has_more is True:
                    log.warning(
                        "stopping %s %s: has_more is true on page %d but the response "
                        "has no cursor at %r",
                        endpoint.name, params, page, "/".join(endpoint.cursor_path or ()),
                    )  # fmt: skip
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
