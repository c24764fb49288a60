"""Tests of the display-count parser."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from igtrends.counts import parse_count, parse_counts
from igtrends.errors import CountParseError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
INFLUENCERS = DATA / "ig-top-influencers"
COUNT_COLUMNS = ["posts", "followers", "avg_likes", "new_post_avg_like", "total_likes"]

# Expected values are the display value times the suffix multiplier, worked by hand:
# 1.2 * 1,000,000 = 1,200,000 and 475.8 * 1,000,000 = 475,800,000.
EXAMPLES = [
    ("27M followers", 27_000_000),
    ("213K followers", 213_000),
    ("1.2M", 1_200_000),
    ("630k", 630_000),
    ("2.2M", 2_200_000),
    ("1.2B", 1_200_000_000),
    ("475.8m", 475_800_000),
    ("12,345 posts", 12_345),
    ("3.3k", 3_300),
    ("1,234,567", 1_234_567),
    ("1 234", 1_234),
    ("1\u00a0234", 1_234),
    ("1\u202f234", 1_234),
    ("10.5K followers", 10_500),
    ("1.2 M", 1_200_000),
    ("  845  ", 845),
    ("5 followers", 5),
    ("1 follower", 1),
    ("0.89k", 890),
    ("0.00", 0),
    ("3 million", 3_000_000),
    # Labels as Instagram's web pages show them.
    ("1,234 likes", 1_234),
    ("12.5K Followers", 12_500),
    ("1.2m views", 1_200_000),
    ("47 comments", 47),
    ("1.5 B", 1_500_000_000),
    (27, 27),
    (np.int64(27), 27),
    (27.0, 27),
    (0, 0),
]


@pytest.mark.parametrize(("value", "expected"), EXAMPLES)
def test_parse_count_examples(value, expected):
    result = parse_count(value)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize("value", [None, "", "   ", float("nan"), np.nan, pd.NA])
def test_parse_count_missing_is_none(value):
    assert parse_count(value) is None


@pytest.mark.parametrize(
    "value",
    ["abc", "1,2M", "12,34", "1.5", "1.2345K", "1 2", "1.2 Mio.", "-3", "M", "1.2.3K"],
)
def test_parse_count_rejects_unreadable_strings(value):
    with pytest.raises(CountParseError) as caught:
        parse_count(value)
    message = str(caught.value)
    assert repr(value) in message
    assert "Accepted forms" in message


@pytest.mark.parametrize("value", [True, False, -1, 2.5, float("inf"), [1]])
def test_parse_count_rejects_non_counts(value):
    with pytest.raises(CountParseError):
        parse_count(value)


def test_parse_counts_keeps_missing_as_na():
    series = pd.Series(["1.2M", None, "845", float("nan"), 7], index=list("abcde"), name="followers")
    result = parse_counts(series)
    assert str(result.dtype) == "Int64"
    assert result.name == "followers"
    assert result.index.tolist() == list("abcde")
    assert result["a"] == 1_200_000
    assert result["c"] == 845
    assert result["e"] == 7
    assert result.isna().tolist() == [False, True, False, True, False]


def test_parse_counts_error_names_row():
    series = pd.Series(["1K", "lots"], index=["cristiano", "messi"], name="followers")
    with pytest.raises(CountParseError, match=r"'followers'.*'messi'.*'lots'"):
        parse_counts(series)


def test_influencer_counts_match_numeric_table():
    raw_path = INFLUENCERS / "top_insta_influencers_data.csv"
    numeric_path = INFLUENCERS / "insta_numeric.csv"
    if not raw_path.exists() or not numeric_path.exists():
        pytest.skip(f"influencer data set not found under {INFLUENCERS}")

    raw = pd.read_csv(raw_path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    numeric = pd.read_csv(numeric_path)
    assert len(raw) == 200
    assert raw["rank"].astype(int).tolist() == numeric["rank"].tolist()
    assert raw["channel_info"].tolist() == numeric["channel_info"].tolist()

    for column in COUNT_COLUMNS:
        parsed = parse_counts(raw[column])
        assert parsed.notna().all(), column
        expected = numeric[column].astype(float)
        relative = (parsed.astype(float) - expected).abs() / expected.clip(lower=1)
        worst = relative.idxmax()
        assert relative.max() <= 0.005, (
            f"{column}: {raw.loc[worst, 'channel_info']} {raw.loc[worst, column]!r} parsed "
            f"as {parsed[worst]}, numeric table has {expected[worst]}"
        )
