"""Tests of the API client against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from werkzeug.wrappers import Response as WerkzeugResponse

from igtrends.client import (
    Client,
    HTTPTransport,
    RawStore,
    ReplayTransport,
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
)

FAKE_KEY = "fake-key-3c1f9a7e5d"
SEARCH_RESULT = {
    "users": [
        {"user": {"id": "11", "pk": "11", "username": "cat_daily", "search_social_context": "1.2M followers"}}
    ]
}


@pytest.fixture
def transport(httpserver):
    sender = HTTPTransport(base_url=httpserver.url_for("/").rstrip("/"), api_key=FAKE_KEY, retry_wait=0)
    yield sender
    sender.close()


@pytest.fixture
def client(transport, tmp_path):
    return Client(transport, RawStore(tmp_path / "raw"))


def test_read_api_key_from_environment():
    assert read_api_key({"RAPIDAPI_KEY": FAKE_KEY}) == FAKE_KEY


@pytest.mark.parametrize("env", [{}, {"RAPIDAPI_KEY": ""}, {"RAPIDAPI_KEY": "  "}])
def test_read_api_key_missing(env):
    with pytest.raises(MissingAPIKeyError, match="export RAPIDAPI_KEY="):
        read_api_key(env)


def test_transport_reads_key_before_any_call(monkeypatch):
    monkeypatch.delenv("RAPIDAPI_KEY", raising=False)
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


def test_server_error_retried_once(httpserver, client):
    httpserver.expect_request("/get_post_likers.php").respond_with_data("busy", status=503)
    with pytest.raises(APIError) as caught:
        client.get("post_likers", post_id="42")
    assert caught.value.status == 503
    assert len(httpserver.log) == 2  # the first try and one retry


def test_connection_error_raises(tmp_path):
    # Port 9 (discard) on 127.0.0.1 has no listener here, so the connection is refused.
    sender = HTTPTransport(base_url="http://127.0.0.1:9", api_key=FAKE_KEY, retries=0, timeout=(1, 1))
    with pytest.raises(APIError, match="request failed"):
        Client(sender, RawStore(tmp_path)).get("post_likers", post_id="1")


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
