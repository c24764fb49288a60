"""Trend analysis on small tables whose answers are worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from igtrends import trends
from igtrends.errors import InsufficientDataError


def utc(*stamps: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(stamps), utc=True)).astype("datetime64[ns, UTC]")


def test_engagement_rate_divides_likes():
    likes = pd.Series([50, 30, 7, None], dtype="Int64")
    followers = pd.Series([1_000, 0, None, 10], dtype="Int64")
    rate = trends.engagement_rate(likes, followers)
    # 50 / 1000 = 0.05; 0 followers, a missing count and missing likes give <NA>.
    assert rate[0] == pytest.approx(0.05)
    assert rate[1:].isna().all()


def test_account_table_uses_new_post_likes():
    accounts = pd.DataFrame({
        "account_id": ["a", "b"],
        "follower_count": pd.array([2_000_000, 400], dtype="Int64"),
        "new_post_avg_like": pd.array([30_000, 8], dtype="Int64"),
    })
    table = trends.account_table({"accounts": accounts})
    # 30,000 / 2,000,000 = 0.015 and 8 / 400 = 0.02.
    assert table["engagement_rate"].tolist() == pytest.approx([0.015, 0.02])


def test_account_table_averages_post_rates():
    users = pd.DataFrame({"user_id": ["u1", "u2"], "follower_count": pd.array([100, 50], dtype="Int64")})
    posts = pd.DataFrame({"post_id": ["p1", "p2"], "owner_id": ["u1", "u1"],
                          "like_count": pd.array([10, 30], dtype="Int64")})
    table = trends.account_table({"users": users, "posts": posts})
    # u1: mean of 10/100 and 30/100 is 0.2. u2 has no posts, so no rate.
    assert table["engagement_rate"][0] == pytest.approx(0.2)
    assert pd.isna(table["engagement_rate"][1])


def test_hashtag_stats_counts_posts():
    hashtags = pd.DataFrame({
        "post_id": ["p1", "p1", "p2", "p3", "p3", "p3"],
        "hashtag": ["ai", "ml", "ai", "ai", "ml", "ml"],
    })
    posts = pd.DataFrame({"post_id": ["p1", "p2", "p3"], "like_count": pd.array([10, 20, None], dtype="Int64")})
    stats = trends.hashtag_stats(hashtags, posts)
    # ai: p1, p2, p3 = 3 posts; ml: p1 and p3 (p3 lists it twice) = 2 posts.
    assert stats["hashtag"].tolist() == ["ai", "ml"]
    assert stats["posts"].tolist() == [3, 2]
    # Mean of known likes: ai (10 + 20) / 2 = 15; ml 10 / 1 = 10.
    assert stats["mean_likes"].tolist() == pytest.approx([15.0, 10.0])


def test_hashtag_cooccurrence_counts_pairs():
    hashtags = pd.DataFrame({
        "post_id": ["p1", "p1", "p2", "p2", "p3"],
        "hashtag": ["ai", "ml", "ai", "ml", "ai"],
    })
    matrix = trends.hashtag_cooccurrence(hashtags)
    # ai and ml appear together on p1 and p2; ai alone on p3.
    assert matrix.loc["ai", "ml"] == 2
    assert matrix.loc["ai", "ai"] == 3
    assert matrix.loc["ml", "ml"] == 2


def test_weekly_activity_resamples_mondays():
    posts = pd.DataFrame({
        # Monday 2024-01-01, Sunday 2024-01-07 23:59, Monday 2024-01-08, Monday 2024-01-22.
        "taken_at": utc("2024-01-01T00:00", "2024-01-07T23:59", "2024-01-08T00:00", "2024-01-22T12:00"),
        "like_count": pd.array([10, 20, 6, None], dtype="Int64"),
    })
    weekly = trends.weekly_activity(posts)
    # Weeks start on Mondays 1, 8, 15 and 22 January; the week of the 15th is empty.
    assert [str(day.date()) for day in weekly.index] == ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"]
    assert weekly["posts"].tolist() == [2, 1, 0, 1]
    assert weekly["likes"].tolist() == [30.0, 6.0, 0.0, 0.0]
    assert weekly["likes_per_post"].iloc[0] == pytest.approx(15.0)
    assert pd.isna(weekly["likes_per_post"].iloc[2])


def test_weekly_activity_local_time_zone():
    # 2024-01-07 23:30 UTC is Monday 2024-01-08 00:30 in Berlin (UTC+1), so a new week.
    posts = pd.DataFrame({"taken_at": utc("2024-01-07T23:30", "2024-01-01T12:00"),
                          "like_count": pd.array([1, 1], dtype="Int64")})
    weekly = trends.weekly_activity(posts, tz="Europe/Berlin")
    assert weekly["posts"].tolist() == [1, 1]


def test_weekly_activity_needs_times():
    posts = pd.DataFrame({"taken_at": utc("2024-01-01"), "like_count": pd.array([1], dtype="Int64")})
    with pytest.raises(InsufficientDataError, match="fewer than two posts"):
        trends.weekly_activity(posts)


def test_follower_tiers_quantiles():
    followers = pd.Series([100, 200, 300, 400, 500, 600, 700, 800], dtype="Int64")
    tiers = trends.follower_tiers(followers, n_tiers=4)
    # Quartile edges of 100..800 are 100, 275, 450, 625, 800: two accounts per tier.
    assert tiers.value_counts(sort=False).tolist() == [2, 2, 2, 2]
    assert str(tiers[0]) == "100–275"


def test_engagement_by_tier_needs_rows():
    accounts = pd.DataFrame({"account_id": ["a"], "follower_count": [10], "engagement_rate": [0.1]})
    with pytest.raises(InsufficientDataError, match="only 1 accounts"):
        trends.engagement_by_tier(accounts)


def test_training_skip_reason_cases():
    none = pd.DataFrame({"user_id": [], "item_id": []})
    assert "0 engagement pairs" in trends.training_skip_reason(none)
    single = pd.DataFrame({"user_id": [str(i) for i in range(12)], "item_id": ["p"] * 12})
    assert "no user has two" in trends.training_skip_reason(single)
    enough = pd.DataFrame({"user_id": ["u"] * 12, "item_id": [str(i) for i in range(12)]})
    assert trends.training_skip_reason(enough) is None


def test_require_column_all_missing():
    frame = pd.DataFrame({"is_verified": pd.array([None, None], dtype="boolean")})
    with pytest.raises(InsufficientDataError, match="verified flags"):
        trends.require_column(frame, "is_verified", "verified flags")
