"""Crawls against a local HTTP server that serves the embedded sample and injects faults."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from api_server import RecordedAPI, base_url, local_server, local_server_process  # noqa: F401

from igtrends.client import Client, HTTPTransport, RawStore
from igtrends.collect import CrawlSeeds, build_tables, crawl
from igtrends.sample import generate_sample

FAKE_KEY = "fake-key-faults-8d2e61"
# Near the smallest sample the generator accepts (20 users with ten engagements each),
# with enough posts that with seed 7 one account has two pages of 12 posts.
SMALL = {"n_users": 20, "n_posts": 40, "n_engagements": 260, "n_topics": 3}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return generate_sample(tmp_path_factory.mktemp("sample"), seed=7, **SMALL)


@pytest.fixture(scope="module")
def clean_tables(sample, tmp_path_factory):
    """Tables of a fault-free crawl through the replay store, the reference."""
    from igtrends.client import ReplayTransport

    raw = RawStore(tmp_path_factory.mktemp("clean"), fsync=False)
    summary = crawl(Client(ReplayTransport(sample.folder), raw), sample, progress=False)
    assert summary.errors == []
    return build_tables(raw)


@pytest.fixture
def api(local_server, sample):  # noqa: F811
    recorded = RecordedAPI(sample.folder)
    local_server.expect_request(re.compile(".*")).respond_with_handler(recorded)
    recorded.url = base_url(local_server)
    return recorded


class Crawler:
    """Runs crawls against the local server into one raw store, recording every wait."""

    def __init__(self, url, folder):
        self.waits = []
        self.transport = HTTPTransport(base_url=url, api_key=FAKE_KEY, sleep=self.waits.append, seed=1)
        self.store = RawStore(folder, fsync=False)

    def run(self, seeds):
        return crawl(Client(self.transport, self.store), seeds, progress=False)


@pytest.fixture
def crawler(api, tmp_path):
    runner = Crawler(api.url, tmp_path / "raw")
    yield runner
    runner.transport.close()


def assert_tables_equal(tables, expected):
    for name, table in expected.items():
        pd.testing.assert_frame_equal(tables[name].reset_index(drop=True), table.reset_index(drop=True))


def test_crawl_fetches_every_response_once(sample, api, crawler, clean_tables):
    summary = crawler.run(sample)
    assert summary.errors == []
    assert summary.calls == sample.n_files
    assert api.count() == sample.n_files
    assert len({(name, json.dumps(params, sort_keys=True)) for name, params in api.requests}) == sample.n_files
    assert_tables_equal(build_tables(crawler.store), clean_tables)


def test_second_crawl_sends_no_request(sample, api, crawler):
    crawler.run(sample)
    served = api.count()
    again = crawler.run(sample)
    # The server's request log is unchanged: every response came from the raw store.
    assert api.count() == served
    assert again.calls == 0
    assert again.cache_hits == sample.n_files


def test_empty_results_counted(sample, api, crawler):
    summary = crawler.run(sample)
    stored_empty = sum(
        1 for record in crawler.store.iter_records("post_comments") if not record["response"]["comments"]
    )
    assert stored_empty > 0
    assert summary.empty_results["post_comments"] == stored_empty
    assert summary.errors == []


def test_429_then_200(sample, api, crawler, clean_tables):
    api.inject("post_likers", "429")
    summary = crawler.run(sample)
    assert summary.errors == []
    assert summary.retries == 1
    assert crawler.waits == [1.0]  # the Retry-After: 1 header
    assert api.count() == sample.n_files + 1
    assert_tables_equal(build_tables(crawler.store), clean_tables)


def test_500_then_200(sample, api, crawler, clean_tables):
    api.inject("user_info", "500")
    summary = crawler.run(sample)
    assert summary.errors == []
    assert summary.retries == 1
    assert len(crawler.waits) == 1
    assert 0.5 <= crawler.waits[0] <= 1.0  # first backoff: between half and all of 1 s
    assert_tables_equal(build_tables(crawler.store), clean_tables)


def test_500_every_time_fails_request(sample, api, crawler):
    api.inject("user_info", "500", times=5, match=lambda params: params["username_or_url"] == sample.usernames[0])
    summary = crawler.run(sample)
    assert len(summary.errors) == 1
    message = summary.errors[0]
    assert "after 5 attempt(s)" in message
    assert "'user_info'" in message
    assert sample.usernames[0] in message
    assert "status=500" in message
    assert summary.retries == 4


@pytest.mark.parametrize(
    ("endpoint", "kind", "content_type", "body_start", "reason"),
    [
        ("user_info", "html", "text/html", "<!DOCTYPE html>", "HTML"),
        ("post_likers", "truncated", "application/json", '{"users": [', "truncated JSON"),
        ("post_comments", "renamed", "application/json", '{"data": [', "'comments'"),
        ("post_likers", "error_object", "application/json", '{"message": "You are not', "error object"),
    ],
)
def test_bad_response_is_error_not_data(sample, api, crawler, clean_tables, endpoint, kind, content_type, body_start, reason):
    api.inject(endpoint, kind)
    first = crawler.run(sample)

    assert len(first.errors) == 1
    message = first.errors[0]
    assert reason in message
    assert f"endpoint={endpoint!r}" in message
    assert "status=200" in message
    assert f"content_type={content_type!r}" in message or content_type in message
    assert f"body starts {body_start!r}"[:-1] in message
    assert FAKE_KEY not in message
    # Nothing of the bad response was stored.
    assert crawler.store.count() == sample.n_files - 1

    # Run again without the fault: only the failed request is sent.
    before = api.count()
    second = crawler.run(sample)
    assert second.errors == []
    assert api.count() - before == 1
    assert crawler.store.count() == sample.n_files
    assert_tables_equal(build_tables(crawler.store), clean_tables)


def test_renamed_field_message_lists_keys(sample, api, crawler):
    api.inject("post_comments", "renamed")
    summary = crawler.run(sample)
    assert "top-level keys are ['data']" in summary.errors[0]


def test_repeated_cursor_ends_paging(sample, api, crawler, caplog):
    second_pages = [
        record["request"]["params"]
        for record in RawStore(sample.folder).iter_records("user_posts")
        if "pagination_token" in record["request"]["params"]
    ]
    assert second_pages, "the sample needs an account with more than one page of posts"
    victim = second_pages[0]
    api.inject("user_posts", "repeated_cursor", match=lambda params: params == victim)

    summary = crawler.run(sample)
    assert summary.errors == []
    assert "repeated" in caplog.text
    requested = [params for name, params in api.requests if name == "user_posts"]
    # The victim page was requested once, and no request sent its cursor again.
    assert requested.count(victim) == 1
    assert summary.calls <= sample.n_files


def test_hashtag_seed_crawls_owner(api, local_server, crawler, sample):  # noqa: F811
    # A posts-by-hashtag page with one post of a sample account; the rest of the world
    # comes from the recorded sample.
    pages = RawStore(sample.folder).iter_records("user_posts")
    node = next(record for record in pages if record["response"]["posts"])["response"]["posts"][0]["node"]
    hashtag_page = {"posts": [{"node": node}], "has_more": False, "pagination_token": "unused"}
    local_server.clear()
    local_server.expect_request("/get_hashtag_posts.php", query_string={"hashtag": "travel"}).respond_with_json(hashtag_page)
    local_server.expect_request(re.compile(".*")).respond_with_handler(api)

    summary = crawler.run(CrawlSeeds(hashtags=("travel",)))
    assert summary.errors == []
    owner = node["user"]["username"]
    assert ("user_info", {"username_or_url": owner}) in api.requests
    assert crawler.store.count("hashtag_posts") == 1
    posts = build_tables(crawler.store)["posts"]
    assert node["pk"] in set(posts["post_id"])
