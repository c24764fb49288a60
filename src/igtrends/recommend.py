"""Recommend items for known users and for new users described by features alone.

A :class:`Recommender` combines a trained two-tower model with an index of its item
embeddings (:mod:`igtrends.retrieval`). It is built from a training run in memory or
loaded from a folder written by :func:`igtrends.training.save_trained`. Items a user
already engaged with are excluded unless the caller asks to include them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from igtrends import artifact
from igtrends.errors import ArtifactError, FeatureInputError, UnknownIdError
from igtrends.features import FeatureEncoder, normalise_tag
from igtrends.log import get_logger
from igtrends.retrieval import ItemIndex, SearchResult, build_index, load_index
from igtrends.training import TrainedRun, load_trained
from igtrends.towers import TwoTowerModel

log = get_logger("recommend")


class Recommender:
    """Top-k items for users of a trained two-tower model.

    Args:
        model: The trained towers.
        index: Index of the item embeddings, with item ids in the model's item order.
        user_ids: Id of each user row of the model.
        train_users: User rows of the training pairs (the engagement history).
        train_items: Item rows of the training pairs.
        user_encoder: Fitted encoder of the raw user features; None disables new users.
        user_history: Whether the user features end with the training-history row.
        manifest: Contents of ``manifest.json`` when loaded from a folder.
    """

    def __init__(
        self,
        model: TwoTowerModel,
        index: ItemIndex,
        user_ids: np.ndarray,
        train_users: np.ndarray,
        train_items: np.ndarray,
        *,
        user_encoder: FeatureEncoder | None = None,
        user_history: bool = False,
        manifest: dict[str, Any] | None = None,
    ) -> None:
        if len(index) != model.n_items:
            raise ArtifactError(
                f"the index has {len(index)} items but the model has {model.n_items}; "
                "rebuild the index from this model's item embeddings"
            )
        self.model = model
        self.index = index
        self.user_ids = np.asarray(user_ids).astype(str)
        self.user_encoder = user_encoder
        self.user_history = user_history
        self.manifest = manifest or {}
        self._user_rows = {user_id: row for row, user_id in enumerate(self.user_ids.tolist())}
        order = np.argsort(train_users, kind="stable")
        bounds = np.searchsorted(train_users[order], np.arange(len(self.user_ids) + 1))
        sorted_items = np.asarray(train_items, dtype=np.int64)[order]
        self._engaged = [sorted_items[bounds[row] : bounds[row + 1]] for row in range(len(self.user_ids))]

    @classmethod
    def from_trained(cls, run: TrainedRun, backend: str = "exact", **index_options: Any) -> Recommender:
        """Build a recommender from a training run in memory, with a new index."""
        index = build_index(
            run.model.item_embeddings(), run.item_ids.astype(str), backend=backend,
            metric=run.model.index_metric, **index_options,
        )
        return cls(
            run.model, index, run.user_ids, run.split.train_users, run.split.train_items,
            user_encoder=run.user_encoder, user_history=run.user_history,
        )

    @classmethod
    def load(cls, folder: str | Path) -> Recommender:
        """Load a model artifact folder written by :func:`igtrends.training.save_trained`."""
        folder = Path(folder)
        if not folder.is_dir():
            raise ArtifactError(f"model folder {folder} does not exist; pass the folder save_trained wrote")
        manifest = artifact.read_manifest(folder)
        run = load_trained(folder)
        index = load_index(folder / artifact.INDEX_FOLDER)
        return cls(
            run.model, index, run.user_ids, run.split.train_users, run.split.train_items,
            user_encoder=run.user_encoder, user_history=run.user_history, manifest=manifest,
        )

    @property
    def item_ids(self) -> np.ndarray:
        """Item ids in the model's item order."""
        return self.index.ids

    def user_row(self, user_id: Any) -> int:
        """Return the model row of ``user_id``; raise :class:`UnknownIdError` when absent."""
        key = str(user_id)
        if key not in self._user_rows:
            raise UnknownIdError(
                f"user id {key!r} is not among the model's {len(self.user_ids):,} users; check "
                "the id, or describe a new user by features, for example --features "
                "'{\"is_verified\": false, \"follower_count\": 1200}'"
            )
        return self._user_rows[key]

    def engaged_items(self, user_id: Any) -> list[str]:
        """Return the ids of the items ``user_id`` engaged with in training."""
        return self.item_ids[self._engaged[self.user_row(user_id)]].tolist()

    def search_users(
        self, user_ids: Sequence[Any], k: int = 10, *, include_engaged: bool = False
    ) -> SearchResult:
        """Return the top ``k`` items for each of ``user_ids``."""
        rows = np.array([self.user_row(user_id) for user_id in user_ids], dtype=np.int64)
        queries = self.model.user_embeddings(rows)
        exclude = None if include_engaged else [self._engaged[row] for row in rows]
        return self.index.search(queries, k, exclude)

    def recommend(self, user_id: Any, k: int = 5, *, include_engaged: bool = False) -> pd.DataFrame:
        """Return the top ``k`` items for a known user as a table of rank, item_id and score."""
        result = self.search_users([user_id], k, include_engaged=include_engaged)
        return _as_table(result)

    def new_user_features(
        self, features: Mapping[str, Any], engaged: Sequence[Any] = ()
    ) -> np.ndarray:
        """Encode a new user's raw features (and engaged item ids) like the training users.

        ``features`` maps user feature columns to values. A column left out counts as
        missing, so it gets the training median (numeric), False (binary), the unseen
        category or no tags. A tags column takes a list of strings, such as
        ``["travel", "food"]``. ``engaged`` item ids fill the history part of the features when the
        model was trained with user history.
        """
        if self.user_encoder is None:
            raise ArtifactError(
                "this model was saved without its feature encoders, so it cannot embed a user "
                "from features; retrain and save it with this version of igtrends"
            )
        columns = self.user_encoder.columns
        known = columns.all()
        unknown = sorted(set(features) - set(known))
        if unknown:
            raise FeatureInputError(
                f"unknown user feature {unknown[0]!r}; the model knows {known}"
            )
        row = {name: _check_value(name, features.get(name), columns) for name in known}
        for name in columns.tags:
            vocabulary = set(self.user_encoder.vocabularies.get(name, []))
            ignored = [tag for tag in row[name] or [] if normalise_tag(tag) not in vocabulary]
            if ignored:
                log.warning(
                    "feature %r: tags %s are not in the model's vocabulary of %d tags and are "
                    "ignored; encoders.json in the model folder lists the vocabulary",
                    name, ignored, len(vocabulary),
                )  # fmt: skip
        encoded = self.user_encoder.transform(pd.DataFrame([row], columns=known))
        positions = self._item_positions(engaged)
        if self.user_history:
            history = np.zeros((1, self.model.n_items), dtype=np.float32)
            if len(positions):
                history[0, positions] = 1.0 / math.sqrt(len(positions))
            encoded = np.hstack([encoded, history])
        return encoded

    def recommend_new_user(
        self,
        features: Mapping[str, Any],
        engaged: Sequence[Any] = (),
        k: int = 5,
        *,
        include_engaged: bool = False,
    ) -> pd.DataFrame:
        """Return the top ``k`` items for a user the model never saw, from features alone."""
        query = self.model.embed_new_users(self.new_user_features(features, engaged))
        exclude = None if include_engaged else [self._item_positions(engaged)]
        return _as_table(self.index.search(query, k, exclude))

    def _item_positions(self, item_ids: Sequence[Any]) -> np.ndarray:
        try:
            return np.unique(self.index.positions_of([str(item) for item in item_ids]))
        except KeyError as error:
            raise UnknownIdError(
                f"{error.args[0]}; engaged items must be item ids of the saved model"
            ) from None


def _check_value(name: str, value: Any, columns) -> Any:
    if value is None:
        return None
    if name in columns.binary:
        if not isinstance(value, bool) and value not in (0, 1):
            raise FeatureInputError(f"feature {name!r} is a flag; got {value!r}, use true or false")
        return bool(value)
    if name in columns.numeric or name in columns.log_numeric:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise FeatureInputError(f"feature {name!r} is numeric; got {value!r}, use a finite number")
        return float(value)
    if name in columns.tags:
        if not isinstance(value, (list, tuple)) or not all(isinstance(tag, str) for tag in value):
            raise FeatureInputError(
                f"feature {name!r} is a list of tags; got {value!r}, use a list of strings "
                "such as [\"travel\", \"food\"]"
            )
        return list(value)
    return str(value)


def _as_table(result: SearchResult) -> pd.DataFrame:
    valid = result.positions[0] >= 0
    ids = result.ids[0][valid]
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(ids) + 1),
            "item_id": ids.astype(str),
            "score": result.scores[0][valid].astype(float),
        }
    )


def parse_features(text: str | None = None, path: str | Path | None = None) -> dict[str, Any]:
    """Parse a new user's features from a JSON object given as text or in a file."""
    source = "--features"
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FeatureInputError(f"features file {path} does not exist; pass a JSON file")
        text = path.read_text()
        source = str(path)
    if text is None:
        raise FeatureInputError("no features given; pass a JSON object such as '{\"is_verified\": false}'")
    try:
        features = json.loads(text)
    except json.JSONDecodeError as error:
        raise FeatureInputError(
            f"{source} is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}); "
            "give an object such as '{\"is_verified\": false, \"follower_count\": 1200}'"
        ) from None
    if not isinstance(features, dict):
        raise FeatureInputError(
            f"{source} must be a JSON object of feature names to values; got {type(features).__name__}"
        )
    return features
