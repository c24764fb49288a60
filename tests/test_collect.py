"""Tests of the crawl plan and of parsing raw records into tables."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from igtrends.client import Client, RawStore, ReplayTransport
from igtrends.collect import CrawlSeeds, build_tables, crawl, crawl_sample, extract_hashtags
from igtrends.errors import ConfigurationError, DatasetError
from igtrends.sample import generate_sample
from igtrends.tables import read_tables, write_tables

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RECORDED_POSTS = DATA / "rapidapi-stable-get-ig-user-posts" / "get_ig_user_posts_response_bbcnews.json"
SMALL = {"n_users": 80, "n_posts": 200, "n_engagements": 2000, "n_topics": 5}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return generate_sample(tmp_path_factory.mktemp("sample"), seed=11, **SMALL)


@pytest.fixture(scope="module")
def crawled(sample, tmp_path_factory):
    raw = RawStore(tmp_path_factory.mktemp("raw"), fsync=False)
    client = Client(ReplayTransport(sample.folder), raw)
    summary = crawl_sample(client, sample, progress=False)
    return raw, summary


def test_crawl_fetches_every_recorded_response(sample, crawled):
    raw, summary = crawled
    assert summary.errors == []
    assert summary.stopped_early is None
    assert summary.cache_hits == 0
    assert summary.calls == sample.n_files
    assert raw.count() == sample.n_files
    assert summary.items == {
        "accounts": sample.n_users,
        "posts": sample.n_posts,
        "likes": sample.n_likes,
        "comments": sample.n_comments,
        "related_accounts": 0,
    }
    # Posts without comments return an empty first page, and each one is counted.
    assert summary.empty_results.get("post_comments", 0) > 0


def test_tables_match_sample(sample, crawled):
    raw, _ = crawled
    tables = build_tables(raw)
    users, posts, engagements = tables["users"], tables["posts"], tables["engagements"]

    assert len(users) == sample.n_users
    assert set(users["user_id"]) == set(sample.user_ids)
    assert len(posts) == sample.n_posts
    assert set(posts["post_id"]) == set(sample.post_ids)
    assert (engagements["kind"] == "like").sum() == sample.n_likes
    assert (engagements["kind"] == "comment").sum() == sample.n_comments
    assert engagements.loc[engagements["kind"] == "like", "time"].isna().all()
    assert engagements.loc[engagements["kind"] == "comment", "time"].notna().all()
    assert set(engagements["user_id"]) <= set(users["user_id"])
    assert set(posts["owner_id"]) <= set(users["user_id"])
    assert len(tables["hashtags"]) >= len(posts)


def test_missing_counts_stay_missing(sample, crawled, tmp_path):
    raw, _ = crawled
    write_tables(build_tables(raw), tmp_path)
    users = read_tables(tmp_path)["users"].set_index("user_id")
    missing = list(sample.missing_follower_ids)
    assert missing
    assert users.loc[missing, "follower_count"].isna().all()
    assert users["follower_count"].notna().sum() == sample.n_users - len(missing)
    assert (users["follower_count"].dropna() > 0).all()


def test_second_crawl_is_all_cache_hits(sample, crawled):
    raw, first = crawled
    client = Client(ReplayTransport(sample.folder), raw)
    summary = crawl_sample(client, sample, progress=False)
    assert summary.calls == 0
    assert summary.cache_hits == first.calls


def test_max_calls_stops_and_resumes(sample, tmp_path):
    raw = RawStore(tmp_path, fsync=False)
    client = Client(ReplayTransport(sample.folder), raw)
    partial = crawl_sample(client, sample, max_calls=10, progress=False)
    assert partial.calls == 10
    assert "max_calls=10" in partial.stopped_early
    assert raw.count() == 10
    assert client.max_calls is None  # the limit applies to one crawl only

    rest = crawl_sample(client, sample, progress=False)
    assert rest.stopped_early is None
    assert rest.cache_hits == 10
    assert raw.count() == sample.n_files


def test_failed_request_recorded_and_crawl_goes_on(sample, tmp_path):
    replay = tmp_path / "replay"
    for path in sample.folder.rglob("*.json"):
        target = replay / path.relative_to(sample.folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    victim = next((replay / "post_likers").glob("*.json"))
    post_id = json.loads(victim.read_text())["request"]["params"]["post_id"]
    victim.unlink()

    raw = RawStore(tmp_path / "raw", fsync=False)
    summary = crawl_sample(Client(ReplayTransport(replay), raw), sample, progress=False)
    assert len(summary.errors) == 1
    assert post_id in summary.errors[0]
    assert raw.count() == sample.n_files - 1


def test_crawl_seeds_without_sample(sample, tmp_path):
    raw = RawStore(tmp_path, fsync=False)
    seeds = CrawlSeeds(queries=sample.queries[:1], usernames=())
    summary = crawl_sample(Client(ReplayTransport(sample.folder), raw), seeds, progress=False)
    assert summary.errors == []
    assert raw.count("search_users") == 1
    assert raw.count("user_info") == summary.items["accounts"]


def _put(store, endpoint, params, response, when):
    store.put(endpoint, params, response, fetched_at=f"2026-10-0{when}T00:00:00+00:00")


def test_user_sources_merge_by_rank_then_time(tmp_path):
    store = RawStore(tmp_path)
    summary = {"pk": "1", "username": "ana", "full_name": "Ana", "is_verified": False, "is_private": False}
    search = {"users": [{"user": {**summary, "is_verified": True, "search_social_context": "1.2M followers"}}]}
    _put(store, "search_users", {"search_query": "ana"}, search, 1)
    _put(store, "post_likers", {"post_id": "9"}, {"users": [{**summary, "full_name": "Ana S."}]}, 3)
    profile = {**summary, "is_verified": True, "following_count": 10, "media_count": 3,
               "biography": "Ana on tour #Travel"}  # fmt: skip
    _put(store, "user_info", {"username_or_url": "ana"}, profile, 2)

    user = build_tables(store)["users"].set_index("user_id").loc["1"]
    # The profile lacks follower_count, so the search context 1.2M = 1,200,000 fills it.
    assert user["follower_count"] == 1_200_000
    assert user["following_count"] == 10
    assert bool(user["is_verified"]) is True
    # The profile (rank 2) beats the later likers entry (rank 0) for the name.
    assert user["full_name"] == "Ana"
    # Only the profile has a biography. The other sources leave it unchanged.
    assert user["biography"] == "Ana on tour #Travel"


def test_latest_post_fetch_wins(tmp_path):
    store = RawStore(tmp_path)
    node = {"pk": "5", "code": "x", "taken_at": 0, "media_type": 1, "like_count": 3,
            "comment_count": 1, "caption": {"text": "old #One"}, "user": {"pk": "1", "username": "a",
            "is_verified": False}}  # fmt: skip
    _put(store, "user_posts", {"username_or_url": "a"}, {"posts": [{"node": node}]}, 1)
    newer = {**node, "like_count": 8, "caption": {"text": "new #Two #two"}}
    _put(store, "user_posts", {"username_or_url": "a", "pagination_token": "p"}, {"posts": [{"node": newer}]}, 2)

    tables = build_tables(store)
    assert tables["posts"]["like_count"].tolist() == [8]
    assert tables["hashtags"]["hashtag"].tolist() == ["two"]


def test_repeated_comments_keep_first_time(tmp_path):
    store = RawStore(tmp_path)
    user = {"pk": "1", "username": "a", "is_verified": False}
    comments = [
        {"pk": "c1", "text": "x", "created_at": 200, "user": user},
        {"pk": "c2", "text": "y", "created_at": 100, "user": user},
    ]
    _put(store, "post_comments", {"post_id": "5"}, {"comments": comments}, 1)
    engagements = build_tables(store)["engagements"]
    assert len(engagements) == 1
    assert engagements.loc[0, "time"] == pd.Timestamp(100, unit="s", tz="UTC")


def test_empty_store_gives_empty_tables(tmp_path):
    tables = build_tables(RawStore(tmp_path))
    assert {name: len(df) for name, df in tables.items()} == {
        "users": 0, "posts": 0, "hashtags": 0, "engagements": 0
    }  # fmt: skip


def test_unparseable_record_names_request(tmp_path):
    store = RawStore(tmp_path)
    profile = {"pk": "1", "username": "x", "is_verified": False, "follower_count": "1,2M"}
    _put(store, "user_info", {"username_or_url": "x"}, profile, 1)
    with pytest.raises(DatasetError, match=r"user_info.*'1,2M'"):
        build_tables(store)


def test_search_context_without_count_is_missing(tmp_path):
    store = RawStore(tmp_path)
    user = {"pk": "1", "username": "x", "is_verified": False, "search_social_context": "Followed by ana"}
    _put(store, "search_users", {"search_query": "x"}, {"users": [{"user": user}]}, 1)
    assert build_tables(store)["users"].loc[0, "follower_count"] is pd.NA


def test_extract_hashtags():
    caption = "Marvel news #Avengers #Marvel #BBCNews #avengers and #café_2026!"
    assert extract_hashtags(caption) == ["avengers", "marvel", "bbcnews", "café_2026"]
    assert extract_hashtags(None) == []


def test_recorded_response_parses(tmp_path):
    if not RECORDED_POSTS.exists():
        pytest.skip(f"recorded user-posts response not found at {RECORDED_POSTS}")
    store = RawStore(tmp_path)
    store.put("user_posts", {"username_or_url": "bbcnews"}, json.loads(RECORDED_POSTS.read_text()))

    tables = build_tables(store)
    posts = tables["posts"]
    assert len(posts) == 1
    post = posts.iloc[0]
    assert post["post_id"] == "3597631270905977008"
    assert post["shortcode"] == "DHtWpRvMBiw"
    assert post["like_count"] == 4564
    assert post["comment_count"] == 47
    assert post["media_type"] == "carousel"
    # 1743091089 s after the epoch is 2025-03-27 15:58:09 UTC.
    assert post["taken_at"] == pd.Timestamp("2025-03-27T15:58:09Z")
    assert post["owner_id"] == "16278726"
    owner = tables["users"].set_index("user_id").loc["16278726"]
    assert bool(owner["is_verified"]) is True
    assert owner["username"] == "bbcnews"
    assert owner["follower_count"] is pd.NA
    assert sorted(tables["hashtags"]["hashtag"]) == ["avengers", "bbcnews", "marvel"]


def _profile_record(pk, username):
    return {"pk": pk, "username": username, "is_verified": False, "follower_count": 10}


def test_crawl_fetches_neighbours_and_their_profiles(tmp_path):
    replay = RawStore(tmp_path / "replay")
    replay.put("user_info", {"username_or_url": "ana"}, _profile_record("1", "ana"))
    replay.put("user_posts", {"username_or_url": "ana"}, {"posts": []})
    follower = {"pk": "2", "username": "bob", "is_verified": True}
    replay.put("followers", {"username_or_url": "ana"}, {"users": [follower], "has_more": False})
    replay.put("user_info", {"username_or_url": "bob"}, _profile_record("2", "bob"))

    raw = RawStore(tmp_path / "raw")
    client = Client(ReplayTransport(replay.folder), raw)
    summary = crawl(client, CrawlSeeds(usernames=("ana",)), neighbours=["followers"], progress=False)
    assert summary.errors == []
    assert summary.items["related_accounts"] == 1
    assert summary.calls == 4
    users = build_tables(raw)["users"].set_index("user_id")
    assert sorted(users.index) == ["1", "2"]
    # The profile (rank 2) beats the followers entry for is_verified.
    assert bool(users.loc["2", "is_verified"]) is False


def test_crawl_rejects_unknown_neighbours(tmp_path):
    client = Client(ReplayTransport(tmp_path), RawStore(tmp_path / "raw"))
    with pytest.raises(ConfigurationError, match="'fans'"):
        crawl(client, CrawlSeeds(usernames=("ana",)), neighbours=["fans"], progress=False)


def test_post_details_and_hashtag_posts_become_posts(tmp_path):
    store = RawStore(tmp_path)
    owner = {"pk": "1", "username": "a", "is_verified": False}
    node = {"pk": "5", "code": "x", "taken_at": 0, "media_type": 2, "like_count": "1.2K",
            "comment_count": 3, "caption": {"text": "#Run"}, "user": owner}  # fmt: skip
    _put(store, "post_details", {"reel_post_code_or_url": "x"}, node, 1)
    other = {**node, "pk": "6", "code": "y", "like_count": 4}
    _put(store, "hashtag_posts", {"hashtag": "run"}, {"posts": [{"node": other}]}, 1)

    posts = build_tables(store)["posts"].set_index("post_id")
    assert sorted(posts.index) == ["5", "6"]
    assert posts.loc["5", "like_count"] == 1_200  # "1.2K" is 1.2 * 1,000
    assert posts.loc["5", "media_type"] == "video"
