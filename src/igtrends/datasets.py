"""Interaction data sets for the recommender and the hold-out split.

Every data set the model trains on, collected Instagram tables or MovieLens 100K, becomes an
:class:`InteractionData`: a user table, an item table and the (user, item) engagement
pairs. The split into training and test pairs happens here, before anything is fitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from igtrends.collect import extract_hashtags
from igtrends.errors import ConfigurationError, DatasetError
from igtrends.log import get_logger

log = get_logger("datasets")


@dataclass
class FeatureColumns:
    """Names of the feature columns of one side (users or items).

    ``numeric`` columns are scaled to [0, 1] on training rows, ``log_numeric`` columns get
    ``log1p`` first (heavy-tailed counts), ``binary`` columns are 0/1 flags and
    ``categorical`` columns are one-hot encoded with an extra slot for unseen values.
    A missing value in a numeric column becomes the training median plus a
    missing-indicator column. ``tags`` columns hold a list of strings per row, such as
    the hashtags of a biography. Tags are compared trimmed, lowercase and without '#',
    and each becomes one 0/1 column for the ``max_tags`` tags found in the most
    training rows.
    """

    numeric: list[str] = field(default_factory=list)
    log_numeric: list[str] = field(default_factory=list)
    binary: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    max_tags: int = 64

    def __post_init__(self) -> None:
        if isinstance(self.max_tags, bool) or not isinstance(self.max_tags, int) or self.max_tags < 1:
            raise ConfigurationError(f"max_tags={self.max_tags!r} is invalid; use a positive integer such as 64")

    def all(self) -> list[str]:
        """Return every feature column name."""
        return [*self.numeric, *self.log_numeric, *self.binary, *self.categorical, *self.tags]


@dataclass
class InteractionData:
    """Users, items and the engagement pairs between them.

    ``users`` is indexed by ``user_id`` and ``items`` by ``item_id`` (both strings);
    ``interactions`` has the columns ``user_id`` and ``item_id`` and one row per distinct
    pair, so a user who liked and commented on a post counts once.
    """

    name: str
    users: pd.DataFrame
    items: pd.DataFrame
    interactions: pd.DataFrame
    user_features: FeatureColumns
    item_features: FeatureColumns

    def __post_init__(self) -> None:
        missing_users = ~self.interactions["user_id"].isin(self.users.index)
        if missing_users.any():
            example = self.interactions.loc[missing_users, "user_id"].iloc[0]
            raise DatasetError(
                f"{missing_users.sum()} interactions name users absent from the user table "
                f"(for example user_id={example!r}); collect those profiles or drop the rows"
            )
        missing_items = ~self.interactions["item_id"].isin(self.items.index)
        if missing_items.any():
            example = self.interactions.loc[missing_items, "item_id"].iloc[0]
            raise DatasetError(
                f"{missing_items.sum()} interactions name items absent from the item table "
                f"(for example item_id={example!r}); collect those posts or drop the rows"
            )

    @property
    def user_ids(self) -> np.ndarray:
        return self.users.index.to_numpy()

    @property
    def item_ids(self) -> np.ndarray:
        return self.items.index.to_numpy()

    def interaction_indices(self, pairs: pd.DataFrame | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return row positions of users and items for ``pairs`` (default: all pairs)."""
        pairs = self.interactions if pairs is None else pairs
        users = self.users.index.get_indexer(pairs["user_id"])
        items = self.items.index.get_indexer(pairs["item_id"])
        return users.astype(np.int64), items.astype(np.int64)


@dataclass
class Split:
    """Training and test pairs, as row positions into the user and item tables."""

    train_users: np.ndarray
    train_items: np.ndarray
    test_users: np.ndarray
    test_items: np.ndarray
    n_users: int
    n_items: int
    protocol: dict

    def train_matrix(self):
        """Return the binary user-item matrix of training pairs (``scipy.sparse.csr_matrix``)."""
        return self._binary_matrix(self.train_users, self.train_items)

    def test_matrix(self):
        """Return the binary user-item matrix of test pairs (``scipy.sparse.csr_matrix``)."""
        return self._binary_matrix(self.test_users, self.test_items)

    def _binary_matrix(self, users: np.ndarray, items: np.ndarray):
        from scipy.sparse import csr_matrix

        data = np.ones(len(users), dtype=np.float32)
        matrix = csr_matrix((data, (users, items)), shape=(self.n_users, self.n_items))
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        return matrix


def split_per_user(data: InteractionData, test_fraction: float, seed: int = 42) -> Split:
    """Hold out a random ``test_fraction`` of each user's distinct items.

    Each user with n items keeps ``n - round(test_fraction * n)`` for training, and at
    least one: a user with a single item keeps it for training, so that user has nothing
    to evaluate and the evaluation skips and counts them. The split depends only on the pairs and the seed.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(
            f"test_fraction={test_fraction!r} is outside (0, 1); use for example 0.2 for an "
            "80/20 split"
        )
    user_index, item_index = data.interaction_indices()
    pairs = pd.DataFrame({"user": user_index, "item": item_index}).drop_duplicates()
    pairs = pairs.sort_values(["user", "item"], kind="stable").reset_index(drop=True)

    rng = np.random.default_rng(seed)
    # A random key per pair, ranked within each user, decides which pairs go to test.
    pairs["key"] = rng.random(len(pairs))
    pairs["rank"] = pairs.groupby("user")["key"].rank(method="first") - 1
    sizes = pairs.groupby("user")["item"].transform("size")
    # Every user keeps at least one training pair, whatever the fraction.
    n_test = np.minimum(np.round(test_fraction * sizes), sizes - 1).astype(np.int64)
    is_test = pairs["rank"].to_numpy() < n_test

    train = pairs.loc[~is_test]
    test = pairs.loc[is_test]
    protocol = {
        "split": "per-user random",
        "test_fraction": test_fraction,
        "seed": seed,
        "n_users": len(data.users),
        "n_items": len(data.items),
        "n_train_pairs": int(len(train)),
        "n_test_pairs": int(len(test)),
    }
    log.info(
        "split %d pairs into %d train and %d test (test fraction %.2f, seed %d)",
        len(pairs), len(train), len(test), test_fraction, seed,
    )
    return Split(
        train_users=train["user"].to_numpy(np.int64),
        train_items=train["item"].to_numpy(np.int64),
        test_users=test["user"].to_numpy(np.int64),
        test_items=test["item"].to_numpy(np.int64),
        n_users=len(data.users),
        n_items=len(data.items),
        protocol=protocol,
    )


HASHTAG_FEATURES = 64
"""Number of most frequent hashtags that become binary post features."""


def instagram_interactions(tables: dict[str, pd.DataFrame], name: str = "instagram") -> InteractionData:
    """Build the recommender's view of collected Instagram tables.

    Users are accounts with their verified flag, counts and the hashtags of their
    biography. Items are posts with their media type, age, owner's audience and most
    frequent hashtags. A post's own ``like_count`` and ``comment_count`` are left out on
    purpose: they include the engagements held out for testing, so using them would leak
    the test labels. A like and a comment by the same user on the same post make one
    interaction.
    """
    users = tables["users"].set_index("user_id")
    posts = tables["posts"].set_index("post_id")
    hashtags = tables["hashtags"]
    engagements = tables["engagements"]

    user_frame = users[["is_verified", "follower_count", "following_count", "media_count"]].copy()
    # Tables built by earlier versions have no biography column.
    biographies = users["biography"] if "biography" in users.columns else pd.Series(None, index=users.index)
    user_frame["bio_hashtags"] = [extract_hashtags(text) if isinstance(text, str) else [] for text in biographies]

    owners = users.reindex(posts["owner_id"])
    item_frame = pd.DataFrame(index=posts.index)
    item_frame["media_type"] = posts["media_type"].astype("string")
    item_frame["owner_followers"] = owners["follower_count"].to_numpy()
    item_frame["owner_verified"] = owners["is_verified"].astype("boolean").to_numpy()
    newest = posts["taken_at"].max()
    item_frame["age_days"] = (newest - posts["taken_at"]).dt.total_seconds() / 86400.0
    top_tags = hashtags["hashtag"].value_counts().head(HASHTAG_FEATURES).index
    tag_columns = []
    for tag in sorted(top_tags):
        column = f"hashtag_{tag}"
        tagged = hashtags.loc[hashtags["hashtag"] == tag, "post_id"]
        item_frame[column] = item_frame.index.isin(tagged)
        tag_columns.append(column)

    pairs = engagements[["user_id", "post_id"]].rename(columns={"post_id": "item_id"})
    pairs = pairs.drop_duplicates()
    known = pairs["user_id"].isin(user_frame.index) & pairs["item_id"].isin(item_frame.index)
    if not known.all():
        log.warning(
            "dropped %d of %d engagement pairs whose user or post is not in the tables",
            (~known).sum(), len(pairs),
        )
    pairs = pairs.loc[known].reset_index(drop=True)
    return InteractionData(
        name=name,
        users=user_frame,
        items=item_frame,
        interactions=pairs,
        user_features=FeatureColumns(
            log_numeric=["follower_count", "following_count", "media_count"],
            binary=["is_verified"],
            tags=["bio_hashtags"],
            max_tags=HASHTAG_FEATURES,
        ),
        item_features=FeatureColumns(
            numeric=["age_days"],
            log_numeric=["owner_followers"],
            binary=["owner_verified", *tag_columns],
            categorical=["media_type"],
        ),
    )


def movielens_interactions(ratings: pd.DataFrame, users: pd.DataFrame, items: pd.DataFrame) -> InteractionData:
    """Build the recommender's view of MovieLens 100K, every rating counting as a positive."""
    genre_columns = [column for column in items.columns if column.startswith("genre_")]
    return InteractionData(
        name="movielens-100k",
        users=users.set_index("user_id")[["age", "gender", "occupation"]],
        items=items.set_index("item_id")[["release_year", *genre_columns]],
        interactions=ratings[["user_id", "item_id"]].drop_duplicates().reset_index(drop=True),
        user_features=FeatureColumns(numeric=["age"], categorical=["gender", "occupation"]),
        item_features=FeatureColumns(numeric=["release_year"], binary=genre_columns),
    )


def load_interactions(dataset: str, processed_dir: str | Path) -> InteractionData:
    """Read a data set's tidy tables from ``processed_dir`` as interaction data."""
    if dataset == "movielens-100k":
        from igtrends.movielens import read_processed

        movielens = read_processed(processed_dir)
        return movielens_interactions(movielens.ratings, movielens.users, movielens.items)
    if dataset in ("sample", "instagram"):
        from igtrends.tables import read_tables

        return instagram_interactions(read_tables(processed_dir), name=dataset)
    raise DatasetError(
        f"dataset={dataset!r} is unknown; use 'sample', 'instagram' or 'movielens-100k'"
    )
