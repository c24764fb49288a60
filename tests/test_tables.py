"""Tests of the tidy-table schemas and their Parquet files."""

from __future__ import annotations

import pandas as pd
import pytest

from igtrends.errors import DatasetError, SchemaError
from igtrends.tables import TABLE_NAMES, empty_table, read_tables, validate, write_tables


def _users(**overrides):
    columns = {
        "user_id": pd.array(["1", "2"], dtype="str"),
        "username": pd.array(["ana", "ben"], dtype="str"),
        "full_name": pd.array(["Ana Silva", None], dtype="str"),
        "is_verified": [True, False],
        "is_private": pd.array([False, None], dtype="boolean"),
        "follower_count": pd.array([27_000_000, None], dtype="Int64"),
        "following_count": pd.array([10, None], dtype="Int64"),
        "media_count": pd.array([5, 0], dtype="Int64"),
        "biography": pd.array(["News #travel", None], dtype="str"),
    }
    columns.update(overrides)
    return pd.DataFrame(columns)


def _tables():
    posts = pd.DataFrame(
        {
            "post_id": pd.array(["10"], dtype="str"),
            "shortcode": pd.array(["abc"], dtype="str"),
            "owner_id": pd.array(["1"], dtype="str"),
            "taken_at": pd.to_datetime([1743091089], unit="s", utc=True).astype("datetime64[ns, UTC]"),
            "media_type": pd.array(["carousel"], dtype="str"),
            "like_count": pd.array([None], dtype="Int64"),
            "comment_count": pd.array([47], dtype="Int64"),
            "caption": pd.array(["#a"], dtype="str"),
        }
    )
    hashtags = pd.DataFrame({"post_id": ["10"], "hashtag": ["a"]}).astype("str")
    engagements = pd.DataFrame(
        {
            "user_id": pd.array(["2", "2"], dtype="str"),
            "post_id": pd.array(["10", "10"], dtype="str"),
            "kind": pd.array(["like", "comment"], dtype="str"),
            "time": pd.to_datetime([None, 1743091200], unit="s", utc=True).astype("datetime64[ns, UTC]"),
        }
    )
    return {"users": _users(), "posts": posts, "hashtags": hashtags, "engagements": engagements}


def test_valid_tables_pass():
    for name, df in _tables().items():
        assert validate(name, df) is not None


def test_empty_tables_pass():
    for name in TABLE_NAMES:
        assert len(validate(name, empty_table(name))) == 0


def test_duplicate_user_id_names_value():
    users = _users(user_id=pd.array(["1", "1"], dtype="str"))
    with pytest.raises(SchemaError, match=r"'users'.*\n.*'user_id'.*\['1', '1'\]"):
        validate("users", users)


def test_negative_count_rejected():
    users = _users(follower_count=pd.array([-5, None], dtype="Int64"))
    with pytest.raises(SchemaError, match=r"'follower_count'.*-5"):
        validate("users", users)


def test_unknown_media_type_rejected():
    posts = _tables()["posts"]
    posts["media_type"] = pd.array(["reel"], dtype="str")
    with pytest.raises(SchemaError, match=r"'media_type'.*'reel'"):
        validate("posts", posts)


def test_hashtag_with_hash_rejected():
    hashtags = pd.DataFrame({"post_id": ["10"], "hashtag": ["#Travel"]}).astype("str")
    with pytest.raises(SchemaError, match=r"'hashtag'.*'#Travel'"):
        validate("hashtags", hashtags)


def test_duplicate_engagement_rejected():
    engagements = _tables()["engagements"]
    engagements["kind"] = pd.array(["like", "like"], dtype="str")
    with pytest.raises(SchemaError, match="engagements"):
        validate("engagements", engagements)


def test_extra_column_rejected():
    with pytest.raises(SchemaError, match="extra"):
        validate("users", _users(bio=["x", "y"]))


def test_unknown_table_rejected():
    with pytest.raises(SchemaError, match="unknown table 'likes'"):
        validate("likes", _users())


def test_parquet_round_trip_keeps_missing(tmp_path):
    paths = write_tables(_tables(), tmp_path)
    assert sorted(paths) == sorted(TABLE_NAMES)
    assert list(tmp_path.glob("*.tmp")) == []

    tables = read_tables(tmp_path)
    users = tables["users"].set_index("user_id")
    assert users.loc["1", "follower_count"] == 27_000_000
    assert users.loc["2", "follower_count"] is pd.NA
    assert users.loc["2", "following_count"] is pd.NA
    assert users.loc["2", "is_private"] is pd.NA
    assert pd.isna(users.loc["2", "full_name"])
    assert users.loc["1", "biography"] == "News #travel"
    assert pd.isna(users.loc["2", "biography"])
    assert tables["posts"].loc[0, "like_count"] is pd.NA
    assert str(tables["posts"]["taken_at"].dtype) == "datetime64[ns, UTC]"
    assert tables["posts"].loc[0, "taken_at"] == pd.Timestamp("2025-03-27T15:58:09Z")
    assert tables["engagements"]["time"].isna().tolist() == [True, False]


def test_users_without_biography_round_trip(tmp_path):
    # Tables written by earlier versions have no biography column.
    tables = _tables()
    tables["users"] = tables["users"].drop(columns="biography")
    write_tables(tables, tmp_path)
    assert "biography" not in read_tables(tmp_path)["users"].columns


def test_invalid_table_writes_nothing(tmp_path):
    tables = _tables()
    tables["users"] = _users(user_id=pd.array(["1", "1"], dtype="str"))
    with pytest.raises(SchemaError):
        write_tables(tables, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_read_missing_file_names_it(tmp_path):
    write_tables({"users": _users()}, tmp_path)
    with pytest.raises(DatasetError, match=r"posts\.parquet is missing.*build_tables"):
        read_tables(tmp_path)
