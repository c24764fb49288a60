"""Tests of the embedded sample generator."""

from __future__ import annotations

import json

import numpy as np
import pytest

from igtrends.client import RawStore
from igtrends.counts import parse_count
from igtrends.errors import ConfigurationError
from igtrends.sample import display_count, generate_sample

SMALL = {"n_users": 120, "n_posts": 300, "n_engagements": 3000, "n_topics": 6}


@pytest.fixture(scope="module")
def small_sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sample")
    return generate_sample(folder, seed=7, **SMALL)


def _files(folder):
    return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*.json"))}


def test_same_seed_identical_files(small_sample, tmp_path):
    again = generate_sample(tmp_path, seed=7, **SMALL)
    first, second = _files(small_sample.folder), _files(tmp_path)
    assert len(first) == small_sample.n_files == again.n_files
    assert first.keys() == second.keys()
    assert first == second


def test_other_seed_differs(small_sample, tmp_path):
    generate_sample(tmp_path, seed=8, **SMALL)
    assert _files(small_sample.folder) != _files(tmp_path)


@pytest.mark.parametrize(
    ("count", "expected"),
    [(845, "845"), (9_845, "9,845"), (10_000, "10K"), (213_456, "213.4K"), (1_299_999, "1.2M"),
     (27_000_000, "27M"), (1_200_000_000, "1.2B")],
)  # fmt: skip
def test_display_count_format(count, expected):
    # One decimal, truncated: 213,456 / 1,000 = 213.456 shows as 213.4K.
    assert display_count(count) == expected


def test_display_count_parses_back_within_truncation():
    for count in [845, 12_345, 999_999, 27_123_456, 475_812_345]:
        parsed = parse_count(display_count(count))
        assert parsed <= count
        assert count - parsed < max(1, count) * 0.01


def test_counts_and_engagement_shape(small_sample):
    store = RawStore(small_sample.folder)
    assert small_sample.n_users == SMALL["n_users"]
    assert store.count("user_info") == SMALL["n_users"]
    assert store.count("post_likers") == SMALL["n_posts"]
    # The target is 3,000 events; likes are added to commented pairs at random.
    assert abs(small_sample.n_engagements - 3000) < 150
    comment_share = small_sample.n_comments / small_sample.n_engagements
    assert 0.10 < comment_share < 0.20


def test_engagement_pairs_unique_and_min_per_user(small_sample):
    store = RawStore(small_sample.folder)
    likes, per_user = set(), {}
    for record in store.iter_records("post_likers"):
        post_id = record["request"]["params"]["post_id"]
        for user in record["response"]["users"]:
            key = (user["pk"], post_id)
            assert key not in likes
            likes.add(key)
            per_user[user["pk"]] = per_user.get(user["pk"], 0) + 1
    comments = set()
    for record in store.iter_records("post_comments"):
        post_id = record["request"]["params"]["post_id"]
        for comment in record["response"]["comments"]:
            key = (comment["user"]["pk"], post_id)
            assert key not in comments
            comments.add(key)
            per_user[comment["user"]["pk"]] = per_user.get(comment["user"]["pk"], 0) + 1
    assert len(likes) == small_sample.n_likes
    assert len(comments) == small_sample.n_comments
    assert set(per_user) == set(small_sample.user_ids)
    # Each user gets at least ten (user, post) pairs, and each pair is a like or a comment.
    assert min(per_user.values()) >= 10


def test_like_counts_exceed_observed_likers(small_sample):
    store = RawStore(small_sample.folder)
    likers = {
        r["request"]["params"]["post_id"]: len(r["response"]["users"])
        for r in store.iter_records("post_likers")
    }
    nodes = [item["node"] for r in store.iter_records("user_posts") for item in r["response"]["posts"]]
    assert len(nodes) == SMALL["n_posts"]
    shown = [node for node in nodes if node["like_count"] is not None]
    assert all(node["like_count"] >= likers[node["pk"]] for node in shown)
    assert sum(node["like_count"] > likers[node["pk"]] for node in shown) > len(shown) / 2
    assert {node["media_type"] for node in nodes} == {1, 2, 8}


def test_posts_paginated_with_last_page_without_token(small_sample):
    store = RawStore(small_sample.folder)
    pages = list(store.iter_records("user_posts"))
    with_token = [r for r in pages if "pagination_token" in r["response"]]
    assert with_token, "no account has more than one page of posts"
    assert all(len(r["response"]["posts"]) == 12 for r in with_token)
    first_pages = [r for r in pages if "pagination_token" not in r["request"]["params"]]
    last_pages = [r for r in pages if "pagination_token" not in r["response"]]
    assert len(first_pages) == len(last_pages)


def test_followers_heavy_tailed_and_verified_grows(tmp_path):
    info = generate_sample(tmp_path, seed=3, n_users=2000, n_posts=150, n_engagements=22_000)
    store = RawStore(tmp_path)
    profiles = [r["response"] for r in store.iter_records("user_info")]
    followers = np.array([p["follower_count"] for p in profiles if "follower_count" in p])
    verified = np.array([p["is_verified"] for p in profiles if "follower_count" in p])

    assert followers.min() < 100
    assert followers.max() > 10_000_000
    assert np.median(followers) < followers.mean() / 5  # a long right tail
    assert verified.mean() < 0.2
    assert verified[followers >= 1_000_000].mean() > verified[followers < 10_000].mean()
    assert len(info.missing_follower_ids) > 0
    assert len(followers) == info.n_users - len(info.missing_follower_ids)


def test_search_shows_display_strings(small_sample):
    store = RawStore(small_sample.folder)
    contexts = [
        item["user"].get("search_social_context")
        for record in store.iter_records("search_users")
        for item in record["response"]["users"]
    ]
    assert len({r["request"]["params"]["search_query"] for r in store.iter_records("search_users")}) == len(
        small_sample.queries
    )
    shown = [c for c in contexts if c is not None]
    assert shown
    assert all(c.endswith(" followers") for c in shown)


def test_hidden_topics_not_written(small_sample):
    text = b"".join(_files(small_sample.folder).values())
    assert b"topic" not in text
    assert b"interest" not in text
    assert not list(small_sample.folder.glob("*.json"))  # only endpoint folders


def test_biography_hashtags_follow_interests(small_sample):
    store = RawStore(small_sample.folder)
    bio_tags = {}
    for record in store.iter_records("user_info"):
        profile = record["response"]
        bio_tags[profile["pk"]] = [tag.lower() for tag in profile["biography"].split() if tag.startswith("#")]
    assert set(bio_tags) == set(small_sample.user_ids)
    share = np.mean([bool(tags) for tags in bio_tags.values()])
    # Half of the 120 profiles list hashtags, give or take 0.18 (four standard deviations).
    assert 0.3 < share < 0.7

    # A hashtag's topic is the most common hidden topic of the posts that carry it.
    position = {post_id: i for i, post_id in enumerate(small_sample.post_ids)}
    topics_of_tag = {}
    for record in store.iter_records("user_posts"):
        for item in record["response"]["posts"]:
            node = item["node"]
            topic = small_sample.post_topics[position[node["pk"]]]
            for word in node["caption"]["text"].split():
                if word.startswith("#"):
                    topics_of_tag.setdefault(word.lower(), []).append(topic)
    tag_topic = {tag: np.bincount(topics).argmax() for tag, topics in topics_of_tag.items()}

    # A biography's hashtags come from topics drawn from the user's interests, so the
    # user's mean interest in them is far above the 1/6 of a topic chosen at random.
    user_row = {user_id: i for i, user_id in enumerate(small_sample.user_ids)}
    interest = [
        small_sample.interests[user_row[user_id], tag_topic[tag]]
        for user_id, tags in bio_tags.items()
        for tag in tags
        if tag in tag_topic
    ]
    assert len(interest) > 50
    assert np.mean(interest) > 0.4


def test_too_few_engagements_rejected(tmp_path):
    with pytest.raises(ConfigurationError, match="n_engagements"):
        generate_sample(tmp_path, n_users=100, n_posts=200, n_engagements=500)


def test_record_shape_matches_post_node(small_sample):
    pages = RawStore(small_sample.folder).iter_records("user_posts")
    node = next(r["response"]["posts"][0]["node"] for r in pages if r["response"]["posts"])
    for key in ("pk", "id", "code", "taken_at", "media_type", "like_count", "comment_count", "caption", "user"):
        assert key in node
    assert node["pk"].isdigit()
    assert node["id"].startswith(node["pk"] + "_")
    assert set(node["user"]) >= {"pk", "username", "full_name", "is_verified", "is_private"}
    assert json.loads(json.dumps(node)) == node
