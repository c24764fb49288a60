"""Tests of the API client against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from api_server import base_url, local_server, local_server_process  # noqa: F401  (fixtures)
from werkzeug.wrappers import Response as WerkzeugResponse

from igtrends.client import (
    Client,
    HTTPTransport,
    RateLimiter,
    RawStore,
    ReplayTransport,
    parse_retry_after,
    read_api_key,
    request_key,
)
from igtrends.endpoints import API_HOST, ENDPOINTS
from igtrends.errors import (
    APIError,
    CallLimitError,
    ConfigurationError,
    MissingAPIKeyError,
    ReplayMissError,
    ResponseFormatError,
    RetryError,
)

FAKE_KEY = "fake-key-3c1f9a7e5d"
SEARCH_RESULT = {
    "users": [
        {"user": {"id": "11", "pk": "11", "username": "cat_daily", "search_social_context": "1.2M followers"}}
    ]
}


@pytest.fixture
def httpserver(local_server):  # noqa: F811
    return local_server


class SleepRecorder:
    """Stands in for time.sleep: records each wait and returns at once."""

    def __init__(self):
        self.waits = []

    def __call__(self, seconds):
        self.waits.append(seconds)


@pytest.fixture
def sleeps():
    return SleepRecorder()


@pytest.fixture
def transport(httpserver, sleeps):
    sender = HTTPTransport(base_url=base_url(httpserver), api_key=FAKE_KEY, sleep=sleeps, seed=0)
    yield sender
    sender.close()


@pytest.fixture
def client(transport, tmp_path):
    return Client(transport, RawStore(tmp_path / "raw"))


def test_read_api_key_from_environment(tmp_path):
    assert read_api_key({"RAPIDAPI_KEY": FAKE_KEY}, dotenv_path=tmp_path / ".env") == FAKE_KEY


@pytest.mark.parametrize("env", [{}, {"RAPIDAPI_KEY": ""}, {"RAPIDAPI_KEY": "  "}])
def test_read_api_key_missing(env, tmp_path):
    with pytest.raises(MissingAPIKeyError, match="export RAPIDAPI_KEY=") as caught:
        read_api_key(env, dotenv_path=tmp_path / ".env")
    assert ".env" in str(caught.value)


def test_read_api_key_from_dotenv(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"# data API\nOTHER=1\nRAPIDAPI_KEY={FAKE_KEY}\n")
    assert read_api_key({}, dotenv_path=dotenv) == FAKE_KEY


def test_environment_key_beats_dotenv(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("RAPIDAPI_KEY=from-the-file\n")
    assert read_api_key({"RAPIDAPI_KEY": FAKE_KEY}, dotenv_path=dotenv) == FAKE_KEY
    assert "RAPIDAPI_KEY" not in os.environ or os.environ["RAPIDAPI_KEY"] != "from-the-file"


def test_dotenv_without_key_is_missing(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("RAPIDAPI_KEY=\nOTHER=x\n")
    with pytest.raises(MissingAPIKeyError, match=str(dotenv)):
        read_api_key({}, dotenv_path=dotenv)


def test_transport_reads_dotenv_in_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("RAPIDAPI_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(f"RAPIDAPI_KEY={FAKE_KEY}\n")
    sender = HTTPTransport(base_url="http://127.0.0.1:9")
    assert sender._session.headers["x-rapidapi-key"] == FAKE_KEY
    sender.close()


def test_transport_reads_key_before_any_call(monkeypatch, tmp_path):
    monkeypatch.delenv("RAPIDAPI_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MissingAPIKeyError):
        HTTPTransport(base_url="http://127.0.0.1:9")


def test_transport_repr_hides_key(transport):
    assert FAKE_KEY not in repr(transport)


def test_headers_and_form_arrive(httpserver, client):
    httpserver.expect_request("/search_ig.php", method="POST").respond_with_json(SEARCH_RESULT)
    data = client.get("search_users", search_query="cats")

    assert data == SEARCH_RESULT
    request, _ = httpserver.log[0]
    assert request.headers["x-rapidapi-host"] == API_HOST
    assert request.headers["x-rapidapi-key"] == FAKE_KEY
    assert request.form["search_query"] == "cats"


def test_get_request_sends_query_and_defaults(httpserver, client):
    httpserver.expect_request("/get_post_comments.php", method="GET").respond_with_json({"comments": []})
    client.get("post_comments", post_id="123")

    request, _ = httpserver.log[0]
    assert request.args["post_id"] == "123"
    assert request.args["sort_order"] == "popular"
    assert client.empty_results == 1


def test_html_with_200_raises(httpserver, client):
    page = "<!DOCTYPE html><html><body>Log in to Instagram</body></html>"
    httpserver.expect_request("/get_post_likers.php").respond_with_data(page, content_type="text/html")
    with pytest.raises(ResponseFormatError) as caught:
        client.get("post_likers", post_id="42")

    error = caught.value
    assert error.status == 200
    assert error.content_type.startswith("text/html")
    assert error.body_start.startswith("<!DOCTYPE html>")
    assert error.params == {"post_id": "42"}
    assert "HTML" in str(error)
    assert client.raw_store.count() == 0


def test_truncated_json_raises(httpserver, client):
    httpserver.expect_request("/get_post_likers.php").respond_with_data(
        '{"users": [{"pk": "1", "usern', content_type="application/json"
    )
    with pytest.raises(ResponseFormatError, match="invalid or truncated JSON") as caught:
        client.get("post_likers", post_id="42")
    assert caught.value.body_start == '{"users": [{"pk": "1", "usern'
    assert client.raw_store.count() == 0


@pytest.mark.parametrize(
    "body",
    [{"message": "You are not subscribed to this API."}, {"error": "user not found"}],
)
def test_error_object_raises(httpserver, client, body):
    httpserver.expect_request("/get_post_likers.php").respond_with_json(body)
    with pytest.raises(APIError, match="error object") as caught:
        client.get("post_likers", post_id="42")
    assert caught.value.content_type == "application/json"
    assert client.raw_store.count() == 0


def test_renamed_items_key_raises(httpserver, client):
    httpserver.expect_request("/get_post_likers.php").respond_with_json({"likers": []})
    with pytest.raises(ResponseFormatError, match="'users'") as caught:
        client.get("post_likers", post_id="42")
    assert "likers" in str(caught.value)


def test_non_2xx_raises_with_status(httpserver, client):
    httpserver.expect_request("/get_post_likers.php").respond_with_json({"message": "no"}, status=403)
    with pytest.raises(APIError) as caught:
        client.get("post_likers", post_id="42")
    assert caught.value.status == 403
    assert "RAPIDAPI_KEY" in str(caught.value)
    assert FAKE_KEY not in str(caught.value)


def test_server_error_retries_then_raises(httpserver, client, sleeps):
    httpserver.expect_request("/get_post_likers.php").respond_with_data("busy", status=503)
    with pytest.raises(RetryError) as caught:
        client.get("post_likers", post_id="42")
    error = caught.value
    assert error.status == 503
    assert error.endpoint == "post_likers"
    assert error.params == {"post_id": "42"}
    assert error.body_start == "busy"
    assert error.attempts == 5
    assert "after 5 attempt(s)" in str(error)
    assert len(httpserver.log) == 5  # the first try and the default 4 retries
    assert client.transport.retries_done == 4
    assert client.raw_store.count() == 0


def test_backoff_doubles_with_jitter(httpserver, client, sleeps):
    httpserver.expect_request("/get_post_likers.php").respond_with_data("busy", status=500)
    with pytest.raises(RetryError):
        client.get("post_likers", post_id="42")
    # Before retry n the wait lies in [c / 2, c] with c = 1 s * 2 ** (n - 1): 1, 2, 4, 8.
    assert len(sleeps.waits) == 4
    for retry, wait in enumerate(sleeps.waits, start=1):
        ceiling = 2 ** (retry - 1)
        assert ceiling / 2 <= wait <= ceiling
    assert len(set(sleeps.waits)) == 4


def test_backoff_capped_by_max_wait(sleeps):
    sender = HTTPTransport(base_url="http://127.0.0.1:9", api_key=FAKE_KEY, backoff=10, max_wait=15)
    # Retry 3 has c = 10 * 4 = 40 s, capped at 15 s, so the wait is in [7.5, 15].
    assert all(7.5 <= sender.backoff_wait(3) <= 15 for _ in range(50))


def test_500_then_200_succeeds(httpserver, client, sleeps):
    httpserver.expect_ordered_request("/get_post_likers.php").respond_with_data("oops", status=500)
    httpserver.expect_ordered_request("/get_post_likers.php").respond_with_json({"users": [{"pk": "1"}]})
    assert client.get("post_likers", post_id="42") == {"users": [{"pk": "1"}]}
    assert len(httpserver.log) == 2
    assert len(sleeps.waits) == 1
    assert client.calls == 1
    assert client.raw_store.count() == 1


def test_429_honours_retry_after_seconds(httpserver, client, sleeps):
    httpserver.expect_ordered_request("/get_post_likers.php").respond_with_json(
        {"message": "Too many requests"}, status=429, headers={"Retry-After": "7"}
    )
    httpserver.expect_ordered_request("/get_post_likers.php").respond_with_json({"users": []})
    assert client.get("post_likers", post_id="42") == {"users": []}
    assert sleeps.waits == [7.0]
    assert len(httpserver.log) == 2


def test_429_waits_for_real(httpserver, tmp_path):
    # Retry-After: 1 with the real time.sleep, so the call takes at least one second.
    httpserver.expect_ordered_request("/get_post_likers.php").respond_with_json(
        {"message": "slow down"}, status=429, headers={"Retry-After": "1"}
    )
    httpserver.expect_ordered_request("/get_post_likers.php").respond_with_json({"users": []})
    sender = HTTPTransport(base_url=base_url(httpserver), api_key=FAKE_KEY)
    started = time.monotonic()
    Client(sender, RawStore(tmp_path)).get("post_likers", post_id="42")
    assert time.monotonic() - started >= 1.0
    sender.close()


def test_retry_after_beyond_max_wait_raises(httpserver, client, sleeps):
    httpserver.expect_request("/get_post_likers.php").respond_with_json(
        {"message": "quota exceeded"}, status=429, headers={"Retry-After": "3600"}
    )
    with pytest.raises(RetryError, match="wait of 3600 s") as caught:
        client.get("post_likers", post_id="42")
    assert caught.value.status == 429
    assert caught.value.attempts == 1
    assert sleeps.waits == []
    assert len(httpserver.log) == 1


def test_429_without_header_uses_backoff(httpserver, client, sleeps):
    httpserver.expect_ordered_request("/get_post_likers.php").respond_with_json({"message": "x"}, status=429)
    httpserver.expect_ordered_request("/get_post_likers.php").respond_with_json({"users": []})
    client.get("post_likers", post_id="42")
    assert len(sleeps.waits) == 1
    assert 0.5 <= sleeps.waits[0] <= 1.0


def test_other_4xx_not_retried(httpserver, client, sleeps):
    httpserver.expect_request("/get_post_likers.php").respond_with_json({"message": "bad"}, status=400)
    with pytest.raises(APIError) as caught:
        client.get("post_likers", post_id="42")
    assert not isinstance(caught.value, RetryError)
    assert len(httpserver.log) == 1
    assert sleeps.waits == []


def test_timeout_retried_then_raises(httpserver, tmp_path, sleeps):
    def slow(request):
        time.sleep(0.3)
        return WerkzeugResponse("{}", content_type="application/json")

    httpserver.expect_request("/get_post_likers.php").respond_with_handler(slow)
    sender = HTTPTransport(
        base_url=base_url(httpserver), api_key=FAKE_KEY, timeout=(1, 0.1), retries=2, sleep=sleeps
    )
    with pytest.raises(RetryError, match="ReadTimeout") as caught:
        Client(sender, RawStore(tmp_path)).get("post_likers", post_id="42")
    assert caught.value.endpoint == "post_likers"
    assert caught.value.params == {"post_id": "42"}
    assert caught.value.attempts == 3
    assert len(sleeps.waits) == 2
    sender.close()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("1", 1.0),
        (" 120 ", 120.0),
        ("2.5", 2.5),
        # 07:28:30 is 30 s after the fixed "now" of 07:28:00.
        ("Wed, 21 Oct 2026 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2026 07:27:00 GMT", 0.0),
        (None, None),
        ("soon", None),
        ("-5", None),
    ],
)
def test_parse_retry_after(header, expected):
    now = datetime(2026, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == expected


def test_rate_limiter_spaces_requests():
    clock = [100.0]
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(4, clock=lambda: clock[0], sleep=sleep)
    limiter.wait()
    clock[0] += 0.1
    limiter.wait()
    clock[0] += 0.5
    limiter.wait()
    # 4 requests per second is 0.25 s apart: the second waits 0.25 - 0.1 = 0.15 s,
    # and the third came 0.5 s later, so it does not wait.
    assert waits == [pytest.approx(0.15)]


@pytest.mark.parametrize("rate", [0, -1.0])
def test_rate_limiter_rejects_non_positive(rate):
    with pytest.raises(ConfigurationError, match="requests_per_second"):
        RateLimiter(rate)


def test_transport_rate_limit_spaces_real_requests(httpserver, tmp_path):
    httpserver.expect_request("/get_post_likers.php").respond_with_json({"users": []})
    sender = HTTPTransport(base_url=base_url(httpserver), api_key=FAKE_KEY, requests_per_second=10)
    client = Client(sender, RawStore(tmp_path))
    started = time.monotonic()
    for post_id in range(4):
        client.get("post_likers", post_id=post_id)
    # Four requests 0.1 s apart take at least 0.3 s.
    assert time.monotonic() - started >= 0.3
    sender.close()


def test_connection_error_raises(tmp_path, sleeps):
    # Port 9 (discard) on 127.0.0.1 has no listener here, so the connection is refused.
    sender = HTTPTransport(
        base_url="http://127.0.0.1:9", api_key=FAKE_KEY, retries=1, timeout=(1, 1), sleep=sleeps
    )
    with pytest.raises(RetryError, match="request failed after 2 attempt") as caught:
        Client(sender, RawStore(tmp_path)).get("post_likers", post_id="1")
    assert caught.value.status is None
    assert len(sleeps.waits) == 1


def test_body_start_redacts_echoed_key(httpserver, client):
    httpserver.expect_request("/get_post_likers.php").respond_with_data(
        f"<html>your key {FAKE_KEY} is invalid</html>", content_type="text/html"
    )
    with pytest.raises(ResponseFormatError) as caught:
        client.get("post_likers", post_id="42")
    assert FAKE_KEY not in str(caught.value)
    assert "***" in caught.value.body_start


def test_raw_file_has_params_not_key(httpserver, client, tmp_path):
    httpserver.expect_request("/search_ig.php").respond_with_json(SEARCH_RESULT)
    client.get("search_users", search_query="cats")

    files = list((tmp_path / "raw").rglob("*.json"))
    assert len(files) == 1
    expected_name = request_key({"search_query": "cats"}) + ".json"
    assert files[0].name == expected_name
    assert files[0].parent.name == "search_users"
    record = json.loads(files[0].read_text())
    assert record["request"] == {
        "endpoint": "search_users",
        "method": "POST",
        "path": "/search_ig.php",
        "params": {"search_query": "cats"},
    }
    assert record["status"] == 200
    assert record["response"] == SEARCH_RESULT
    for path in (tmp_path / "raw").rglob("*"):
        if path.is_file():
            assert FAKE_KEY.encode() not in path.read_bytes()


def test_second_get_is_cache_hit(httpserver, client):
    httpserver.expect_request("/search_ig.php").respond_with_json(SEARCH_RESULT)
    first = client.get("search_users", search_query="cats")
    second = client.get("search_users", search_query="cats")

    assert first == second
    assert len(httpserver.log) == 1
    assert client.calls == 1
    assert client.cache_hits == 1


def test_refresh_sends_again(httpserver, client):
    httpserver.expect_request("/search_ig.php").respond_with_json(SEARCH_RESULT)
    client.get("search_users", search_query="cats")
    client.get("search_users", search_query="cats", refresh=True)
    assert len(httpserver.log) == 2
    assert client.calls == 2


def test_max_calls_stops_before_request(httpserver, transport, tmp_path):
    httpserver.expect_request("/search_ig.php").respond_with_json(SEARCH_RESULT)
    limited = Client(transport, RawStore(tmp_path), max_calls=1)
    limited.get("search_users", search_query="cats")
    limited.get("search_users", search_query="cats")  # a cache hit needs no call
    with pytest.raises(CallLimitError, match="max_calls=1"):
        limited.get("search_users", search_query="dogs")
    assert len(httpserver.log) == 1


def test_unknown_parameter_raises(client):
    with pytest.raises(ConfigurationError, match="post_id"):
        client.get("search_users", post_id="1")


def _posts_page(ids, token=None):
    page = {"posts": [{"node": {"pk": pk, "code": f"c{pk}"}} for pk in ids]}
    if token is not None:
        page["pagination_token"] = token
    return page


def _serve_pages(pages):
    """Return a handler that picks the page by the form's pagination_token."""

    def handler(request):
        token = request.form.get("pagination_token", "")
        return WerkzeugResponse(json.dumps(pages[token]), content_type="application/json")

    return handler


def test_paginate_follows_cursor_and_dedupes(httpserver, client):
    pages = {
        "": _posts_page(["1", "2"], token="t1"),
        "t1": _posts_page(["2", "3"], token="t2"),
        "t2": _posts_page(["4"]),
    }
    httpserver.expect_request("/get_ig_user_posts.php").respond_with_handler(_serve_pages(pages))
    items = list(client.paginate("user_posts", 10, username_or_url="someone"))

    # Pages give 1, 2 | 2, 3 | 4; the repeated 2 is dropped and the last page has no token.
    assert [item["node"]["pk"] for item in items] == ["1", "2", "3", "4"]
    assert len(httpserver.log) == 3


def test_paginate_stops_on_repeated_cursor(httpserver, client):
    pages = {
        "": _posts_page(["1"], token="t1"),
        "t1": _posts_page(["2"], token="t2"),
        "t2": _posts_page(["3"], token="t1"),
    }
    httpserver.expect_request("/get_ig_user_posts.php").respond_with_handler(_serve_pages(pages))
    items = list(client.paginate("user_posts", 50, username_or_url="someone"))

    # t1 comes back on the third page, so paging stops after three requests.
    assert [item["node"]["pk"] for item in items] == ["1", "2", "3"]
    assert len(httpserver.log) == 3


def test_paginate_stops_at_max_pages(httpserver, client):
    pages = {"": _posts_page(["1"], token="t1"), "t1": _posts_page(["2"], token="t2")}
    httpserver.expect_request("/get_ig_user_posts.php").respond_with_handler(_serve_pages(pages))
    items = list(client.paginate("user_posts", 2, username_or_url="someone"))
    assert [item["node"]["pk"] for item in items] == ["1", "2"]
    assert len(httpserver.log) == 2


def test_raw_store_round_trip(tmp_path):
    store = RawStore(tmp_path)
    endpoint = ENDPOINTS["post_comments"]
    assert store.get(endpoint, {"post_id": "7"}) is None

    path = store.put(endpoint, {"post_id": 7}, {"comments": []}, fetched_at="2026-01-01T00:00:00+00:00")
    record = store.get("post_comments", {"post_id": "7", "sort_order": "popular"})
    assert record["response"] == {"comments": []}
    assert record["request"]["params"] == {"post_id": "7", "sort_order": "popular"}
    assert record["fetched_at"] == "2026-01-01T00:00:00+00:00"
    assert [r["request"]["params"] for r in store.iter_records("post_comments")] == [
        {"post_id": "7", "sort_order": "popular"}
    ]
    assert list(path.parent.glob("*.tmp")) == []


def test_replay_returns_recorded_response(tmp_path):
    RawStore(tmp_path).put("post_likers", {"post_id": "5"}, {"users": [{"pk": "1"}]})
    client = Client(ReplayTransport(tmp_path), RawStore(tmp_path / "copy"))
    assert client.get("post_likers", post_id="5") == {"users": [{"pk": "1"}]}
    assert client.calls == 1


def test_replay_miss_names_request_and_folder(tmp_path):
    RawStore(tmp_path).put("post_likers", {"post_id": "5"}, {"users": []})
    client = Client(ReplayTransport(tmp_path), RawStore(tmp_path / "copy"))
    with pytest.raises(ReplayMissError) as caught:
        client.get("post_likers", post_id="6")
    message = str(caught.value)
    assert "post_likers" in message
    assert "'6'" in message
    assert str(tmp_path) in message


def test_paginate_stops_when_has_more_false(httpserver, client):
    pages = {"": {**_posts_page(["1"], token="t1"), "has_more": False}, "t1": _posts_page(["2"])}
    httpserver.expect_request("/get_ig_user_posts.php").respond_with_handler(_serve_pages(pages))
    items = list(client.paginate("user_posts", 10, username_or_url="someone"))
    assert [item["node"]["pk"] for item in items] == ["1"]
    assert len(httpserver.log) == 1


def test_paginate_has_more_without_cursor(httpserver, client, caplog):
    pages = {"": {**_posts_page(["1"]), "has_more": True}}
    httpserver.expect_request("/get_ig_user_posts.php").respond_with_handler(_serve_pages(pages))
    items = list(client.paginate("user_posts", 10, username_or_url="someone"))
    assert [item["node"]["pk"] for item in items] == ["1"]
    assert len(httpserver.log) == 1
    assert "has_more is true" in caplog.text


def test_paginate_has_more_true_follows_cursor(httpserver, client):
    pages = {
        "": {**_posts_page(["1"], token="t1"), "has_more": True},
        "t1": {**_posts_page(["2"]), "has_more": False},
    }
    httpserver.expect_request("/get_ig_user_posts.php").respond_with_handler(_serve_pages(pages))
    items = list(client.paginate("user_posts", 10, username_or_url="someone"))
    assert [item["node"]["pk"] for item in items] == ["1", "2"]


def test_client_refresh_fetches_stored_once(httpserver, transport, tmp_path):
    httpserver.expect_request("/search_ig.php").respond_with_json(SEARCH_RESULT)
    store = RawStore(tmp_path)
    store.put("search_users", {"search_query": "cats"}, {"users": []})
    client = Client(transport, store, refresh=True)
    # The stored response predates the client, so it is fetched once and then reused.
    assert client.get("search_users", search_query="cats") == SEARCH_RESULT
    assert client.get("search_users", search_query="cats") == SEARCH_RESULT
    assert len(httpserver.log) == 1
    assert client.cache_hits == 1


def test_stale_temporary_files_removed(tmp_path):
    store = RawStore(tmp_path)
    path = store.put("post_likers", {"post_id": "5"}, {"users": []})
    # A process that has exited leaves a temporary file behind; its id is now free.
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    dead_pid = int(finished.stdout)
    stale = path.parent / f".{path.stem}.{dead_pid}.abc123.tmp"
    stale.write_bytes(b'{"request": {"endp')
    live = path.parent / f".{path.stem}.{os.getpid()}.def456.tmp"
    live.write_bytes(b"{")
    other = path.parent / "notes.tmp"
    other.write_bytes(b"x")

    assert store.remove_stale_temporary_files() == 1
    assert not stale.exists()
    assert live.exists()
    assert other.exists()
    assert path.exists()
