"""Importers: column mapping on small tables, and the presets on the shared data sets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from igtrends import importers, trends
from igtrends.errors import DatasetError

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared(name: str) -> Path:
    folder = SHARED_DATA / name
    if not folder.is_dir():
        pytest.skip(f"data set {name} not found at {folder}")
    return folder


def test_parse_percent_forms():
    assert importers.parse_percent("1.39%") == pytest.approx(0.0139)
    assert importers.parse_percent(1.39) == pytest.approx(0.0139)
    assert importers.parse_percent("NaN%") is None
    with pytest.raises(ValueError, match="invalid percentage"):
        importers.parse_percent("high")


def test_accounts_mapping_drops_bad_rows():
    frame = pd.DataFrame({
        "name": ["a", "b", "a", None, "c"],
        "followers": ["3.3k", "12,345", "1", "5", "lots"],
    })
    accounts, dropped = importers.accounts_from_frame(
        frame, {"account_id": "name", "follower_count": "followers"}, source="t.csv"
    )
    # "3.3k" is 3,300 and "12,345" is 12,345; "lots" is unreadable, None has no id and
    # the second "a" repeats an id.
    assert accounts["account_id"].tolist() == ["a", "b"]
    assert accounts["follower_count"].tolist() == [3_300, 12_345]
    reasons = {group.reason: group.rows for group in dropped}
    assert reasons["unreadable 'followers' value"] == 1
    assert reasons["missing 'name'"] == 1
    assert reasons["duplicate 'name', first row kept"] == 1


def test_accounts_mapping_unknown_column():
    frame = pd.DataFrame({"name": ["a"]})
    with pytest.raises(DatasetError, match="schema does not have"):
        importers.accounts_from_frame(frame, {"account_id": "name", "fans": "name"})


def test_posts_mapping_glued_hashtags():
    frame = pd.DataFrame({
        "id": ["1", "2"], "user": ["u", "u"], "text": ["hi #AI", None],
        "tags": ["#ml#AI", "#deep learning"], "likes": ["10", "2"], "time": [1704067200, None],
    })
    posts, hashtags, dropped = importers.posts_from_frame(
        frame, {"post_id": "id", "owner_id": "user", "caption": "text", "like_count": "likes",
                "taken_at": "time"}, hashtags_column="tags",
    )
    assert dropped == []
    assert posts["taken_at"][0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert pd.isna(posts["taken_at"][1])
    # Post 1: "ai" from the caption and "ml", "ai" from the glued tags; post 2: "deep".
    assert sorted(map(tuple, hashtags.to_numpy().tolist())) == [("1", "ai"), ("1", "ml"), ("2", "deep")]


def test_reach_csv_unwraps_lines(tmp_path):
    path = tmp_path / "instagram_reach.csv"
    path.write_text('",a,b"\n"0,""x, y"",2"\n', encoding="utf-8")
    frame = importers.read_reach_csv(path)
    assert frame.columns.tolist() == ["index", "a", "b"]
    assert frame.iloc[0].tolist() == ["0", "x, y", "2"]


def test_study_name_from_files(tmp_path):
    (tmp_path / "instagram_reach.csv").write_text("")
    assert importers.study_name("instagram", tmp_path) == "ig-hashtag-posts-reach"
    assert importers.study_name("sample", None) == "sample"


def test_write_removes_stale_accounts(tmp_path):
    result = importers.import_dataset(shared("ig-top-influencers"))
    importers.write_study_tables(result.tables, tmp_path)
    assert "accounts" in importers.read_study_tables(tmp_path)
    core = {name: result.tables[name] for name in ("users", "posts", "hashtags", "engagements")}
    importers.write_study_tables(core, tmp_path)
    assert "accounts" not in importers.read_study_tables(tmp_path)


def test_top_influencers_engagement_rate():
    result = importers.import_dataset(shared("ig-top-influencers"))
    accounts = result.tables["accounts"]
    assert len(accounts) == 200
    assert result.report.rows_dropped == 0
    first = accounts.iloc[0]
    # The first row reads "475.8m" followers, "6.5m" new-post likes and "1.39%".
    assert first["follower_count"] == 475_800_000
    assert first["new_post_avg_like"] == 6_500_000
    assert first["engagement_rate_60d"] == pytest.approx(0.0139)
    rates = trends.account_table(result.tables)
    spearman = rates["engagement_rate"].astype(float).corr(
        rates["engagement_rate_60d"].astype(float), method="spearman"
    )
    assert spearman >= 0.99


def test_instafake_accounts_and_posts():
    result = importers.import_dataset(shared("instafake"))
    accounts = result.tables["accounts"]
    # 200 fake, 994 real and 700 non-automated records.
    assert len(accounts) == 1894
    assert accounts["is_fake"].sum() == 200
    assert result.tables["posts"]["taken_at"].notna().all()


def test_reach_posts_and_hashtags():
    result = importers.import_dataset(shared("ig-hashtag-posts-reach"))
    assert len(result.tables["posts"]) == 100
    assert result.report.rows_dropped == 0
    assert "Time since posted" in result.report.unmapped_columns["instagram_reach.csv"]
    first = result.tables["posts"].set_index("post_id").loc["reach-001"]
    assert first["like_count"] == 139


def test_user_posts_response():
    result = importers.import_dataset(shared("rapidapi-stable-get-ig-user-posts"))
    posts = result.tables["posts"]
    assert posts["like_count"].tolist() == [4564]
    assert result.tables["users"]["username"].tolist() == ["bbcnews"]
    assert result.tables["engagements"].empty
