"""Tests of the interaction data sets and the per-user hold-out split."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from igtrends.datasets import (
    FeatureColumns,
    InteractionData,
    instagram_interactions,
    movielens_interactions,
    split_per_user,
)
from igtrends.errors import DatasetError
from igtrends.tables import validate

MOVIELENS_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "movielens-100k"


def interaction_data(pairs: list[tuple[str, str]], user_ids: list[str], item_ids: list[str]) -> InteractionData:
    """Return interaction data with a dummy feature column per side."""
    users = pd.DataFrame({"age": np.arange(len(user_ids), dtype=float)}, index=pd.Index(user_ids, name="user_id"))
    items = pd.DataFrame({"year": np.arange(len(item_ids), dtype=float)}, index=pd.Index(item_ids, name="item_id"))
    interactions = pd.DataFrame(pairs, columns=["user_id", "item_id"])
    return InteractionData(
        name="handmade",
        users=users,
        items=items,
        interactions=interactions,
        user_features=FeatureColumns(numeric=["age"]),
        item_features=FeatureColumns(numeric=["year"]),
    )


def users_with_item_counts(counts: list[int]) -> InteractionData:
    """Return data where user u engages with items 0 .. counts[u] - 1."""
    n_items = max(counts)
    pairs = [(f"u{user}", f"i{item}") for user, count in enumerate(counts) for item in range(count)]
    return interaction_data(pairs, [f"u{user}" for user in range(len(counts))], [f"i{item}" for item in range(n_items)])


def pair_set(users: np.ndarray, items: np.ndarray) -> set[tuple[int, int]]:
    return set(zip(users.tolist(), items.tolist(), strict=True))


# Per-user split


def test_split_holds_out_rounded_fraction():
    # Fraction 0.6 with 1, 2, 5 and 10 items per user: round(0.6) = 1 but a one-item user
    # keeps its item in training, round(1.2) = 1, round(3.0) = 3 and round(6.0) = 6.
    split = split_per_user(users_with_item_counts([1, 2, 5, 10]), 0.6, seed=0)
    test_counts = np.bincount(split.test_users, minlength=4).tolist()
    train_counts = np.bincount(split.train_users, minlength=4).tolist()
    assert test_counts == [0, 1, 3, 6]
    assert train_counts == [1, 1, 2, 4]


def test_split_eighty_twenty():
    # Fraction 0.2 with 5 and 10 items: round(1.0) = 1 and round(2.0) = 2 test items.
    split = split_per_user(users_with_item_counts([5, 10]), 0.2, seed=3)
    assert np.bincount(split.test_users, minlength=2).tolist() == [1, 2]
    assert split.protocol["n_train_pairs"] == 12
    assert split.protocol["n_test_pairs"] == 3


def test_single_item_user_stays_in_training():
    split = split_per_user(users_with_item_counts([1, 4]), 0.5, seed=1)
    assert 0 not in split.test_users.tolist()
    assert pair_set(split.train_users, split.train_items) >= {(0, 0)}


def test_split_train_and_test_are_disjoint():
    data = users_with_item_counts([3, 7, 12, 2, 9])
    split = split_per_user(data, 0.3, seed=5)
    train = pair_set(split.train_users, split.train_items)
    test = pair_set(split.test_users, split.test_items)
    assert not train & test
    users, items = data.interaction_indices()
    assert train | test == pair_set(users, items)


def test_split_counts_repeated_pair_once():
    # A like and a comment can give the same pair twice: 4 distinct items, so
    # round(0.5 * 4) = 2 test pairs, not round(0.5 * 5).
    pairs = [("u0", "i0"), ("u0", "i0"), ("u0", "i1"), ("u0", "i2"), ("u0", "i3")]
    split = split_per_user(interaction_data(pairs, ["u0"], ["i0", "i1", "i2", "i3"]), 0.5, seed=0)
    assert len(split.test_items) == 2
    assert len(split.train_items) == 2


def test_same_seed_same_split():
    data = users_with_item_counts([6, 8, 10, 12])
    first = split_per_user(data, 0.25, seed=11)
    second = split_per_user(data, 0.25, seed=11)
    assert first.test_users.tolist() == second.test_users.tolist()
    assert first.test_items.tolist() == second.test_items.tolist()
    assert first.train_items.tolist() == second.train_items.tolist()


def test_different_seed_different_split():
    # 4 users with 6 to 12 items give over a million possible test sets, so two seeds
    # choosing the same one would be a coincidence of that order.
    data = users_with_item_counts([6, 8, 10, 12])
    first = split_per_user(data, 0.25, seed=11)
    second = split_per_user(data, 0.25, seed=12)
    assert pair_set(first.test_users, first.test_items) != pair_set(second.test_users, second.test_items)


def test_split_ignores_row_order():
    data = users_with_item_counts([6, 8, 10])
    shuffled = interaction_data(
        [tuple(row) for row in data.interactions.sample(frac=1.0, random_state=7).to_numpy()],
        list(data.users.index),
        list(data.items.index),
    )
    first = split_per_user(data, 0.3, seed=2)
    second = split_per_user(shuffled, 0.3, seed=2)
    assert pair_set(first.test_users, first.test_items) == pair_set(second.test_users, second.test_items)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2, 1.5])
def test_split_rejects_fraction_outside_unit_interval(fraction):
    with pytest.raises(ValueError, match=f"test_fraction={fraction!r}"):
        split_per_user(users_with_item_counts([3]), fraction)


def test_split_matrices_match_pairs():
    split = split_per_user(users_with_item_counts([4, 2]), 0.5, seed=0)
    train = split.train_matrix()
    test = split.test_matrix()
    assert train.shape == (2, 4)
    assert train.sum() == len(split.train_users)
    assert test.sum() == len(split.test_users)
    assert train.multiply(test).sum() == 0


# Validation of interaction data


def test_unknown_user_raises_with_example():
    with pytest.raises(DatasetError, match=r"1 interactions name users absent .*user_id='ghost'"):
        interaction_data([("u0", "i0"), ("ghost", "i0")], ["u0"], ["i0"])


def test_unknown_item_raises_with_example():
    with pytest.raises(DatasetError, match=r"2 interactions name items absent .*item_id='i9'") as raised:
        interaction_data([("u0", "i9"), ("u0", "i9"), ("u0", "i0")], ["u0"], ["i0"])
    assert "drop the rows" in str(raised.value)


def test_interaction_indices_are_row_positions():
    data = interaction_data([("b", "y"), ("a", "x")], ["a", "b"], ["x", "y"])
    users, items = data.interaction_indices()
    assert users.tolist() == [1, 0]
    assert items.tolist() == [1, 0]


# Instagram tables


def instagram_tables() -> dict[str, pd.DataFrame]:
    """Three accounts, three posts and five engagement rows with the tidy-table dtypes."""
    users = pd.DataFrame(
        {
            "user_id": pd.array(["1", "2", "3"], dtype="str"),
            "username": pd.array(["ana", "ben", "cy"], dtype="str"),
            "full_name": pd.array(["Ana", None, "Cy"], dtype="str"),
            "is_verified": [True, False, False],
            "is_private": pd.array([False, False, None], dtype="boolean"),
            "follower_count": pd.array([1_000_000, 200, None], dtype="Int64"),
            "following_count": pd.array([10, 300, 40], dtype="Int64"),
            "media_count": pd.array([500, 20, None], dtype="Int64"),
            "biography": pd.array(["News daily #News #travel", None, "no tags here"], dtype="str"),
        }
    )
    day = 86_400
    posts = pd.DataFrame(
        {
            "post_id": pd.array(["10", "11", "12"], dtype="str"),
            "shortcode": pd.array(["a", "b", "c"], dtype="str"),
            "owner_id": pd.array(["1", "1", "2"], dtype="str"),
            "taken_at": pd.to_datetime([1_700_000_000, 1_700_000_000 + day, 1_700_000_000 + 2 * day], unit="s", utc=True).astype(
                "datetime64[ns, UTC]"
            ),
            "media_type": pd.array(["photo", "video", "carousel"], dtype="str"),
            "like_count": pd.array([50, 7, None], dtype="Int64"),
            "comment_count": pd.array([5, 1, 0], dtype="Int64"),
            "caption": pd.array(["#travel", "#travel", "#food"], dtype="str"),
        }
    )
    hashtags = pd.DataFrame(
        {
            "post_id": pd.array(["10", "11", "12"], dtype="str"),
            "hashtag": pd.array(["travel", "travel", "food"], dtype="str"),
        }
    )
    engagements = pd.DataFrame(
        {
            "user_id": pd.array(["2", "2", "3", "3", "2"], dtype="str"),
            "post_id": pd.array(["10", "10", "10", "11", "12"], dtype="str"),
            "kind": pd.array(["like", "comment", "like", "comment", "like"], dtype="str"),
            "time": pd.to_datetime([None, 1_700_100_000, None, 1_700_200_000, None], unit="s", utc=True).astype(
                "datetime64[ns, UTC]"
            ),
        }
    )
    tables = {"users": users, "posts": posts, "hashtags": hashtags, "engagements": engagements}
    for name, table in tables.items():
        validate(name, table)
    return tables


def test_instagram_like_and_comment_make_one_pair():
    # User 2 liked and commented on post 10: five engagement rows, four distinct pairs.
    data = instagram_interactions(instagram_tables())
    pairs = set(map(tuple, data.interactions[["user_id", "item_id"]].to_numpy().tolist()))
    assert pairs == {("2", "10"), ("3", "10"), ("3", "11"), ("2", "12")}
    assert len(data.interactions) == 4


def test_instagram_item_features_leave_out_engagement_counts():
    data = instagram_interactions(instagram_tables())
    for name in ("like_count", "comment_count"):
        assert name not in data.items.columns
        assert name not in data.item_features.all()


def test_instagram_item_features():
    data = instagram_interactions(instagram_tables())
    items = data.items
    # Posts are one day apart and post 12 is the newest, so ages are 2, 1 and 0 days.
    assert items.loc[["10", "11", "12"], "age_days"].tolist() == pytest.approx([2.0, 1.0, 0.0])
    # Posts 10 and 11 belong to account 1 (1,000,000 followers, verified), 12 to account 2.
    assert items.loc[["10", "11", "12"], "owner_followers"].tolist() == [1_000_000, 1_000_000, 200]
    assert items.loc[["10", "11", "12"], "owner_verified"].tolist() == [True, True, False]
    assert items["hashtag_travel"].tolist() == [True, True, False]
    assert items["hashtag_food"].tolist() == [False, False, True]
    assert data.item_features.categorical == ["media_type"]
    assert set(data.item_features.binary) == {"owner_verified", "hashtag_food", "hashtag_travel"}


def test_instagram_user_features():
    data = instagram_interactions(instagram_tables())
    assert list(data.user_ids) == ["1", "2", "3"]
    assert data.user_features.binary == ["is_verified"]
    assert data.user_features.log_numeric == ["follower_count", "following_count", "media_count"]
    assert data.user_features.tags == ["bio_hashtags"]
    # Hashtags are lowercased and lose their '#'. A missing biography has none.
    assert data.users["bio_hashtags"].tolist() == [["news", "travel"], [], []]


def test_instagram_without_biography_column():
    tables = instagram_tables()
    tables["users"] = tables["users"].drop(columns="biography")
    validate("users", tables["users"])
    data = instagram_interactions(tables)
    assert data.users["bio_hashtags"].tolist() == [[], [], []]


def test_instagram_drops_engagement_of_unknown_account(caplog):
    tables = instagram_tables()
    extra = pd.DataFrame(
        {
            "user_id": pd.array(["99"], dtype="str"),
            "post_id": pd.array(["10"], dtype="str"),
            "kind": pd.array(["like"], dtype="str"),
            "time": pd.to_datetime([None], utc=True).astype("datetime64[ns, UTC]"),
        }
    )
    tables["engagements"] = pd.concat([tables["engagements"], extra], ignore_index=True)
    with caplog.at_level(logging.WARNING, logger="igtrends"):
        data = instagram_interactions(tables)
    assert "99" not in data.interactions["user_id"].tolist()
    assert len(data.interactions) == 4
    assert "dropped 1 of 5 engagement pairs" in caplog.text


# MovieLens 100K


@pytest.mark.skipif(not (MOVIELENS_DIR / "u.data").is_file(), reason=f"MovieLens 100K not found in {MOVIELENS_DIR}")
def test_movielens_interactions_counts():
    from igtrends.movielens import load_movielens

    movielens = load_movielens(MOVIELENS_DIR, progress=False)
    data = movielens_interactions(movielens.ratings, movielens.users, movielens.items)
    # The MovieLens 100K README states 100,000 ratings by 943 users on 1,682 movies,
    # at most one rating per user and movie.
    assert len(data.users) == 943
    assert len(data.items) == 1682
    assert len(data.interactions) == 100_000
    assert data.user_features.categorical == ["gender", "occupation"]
