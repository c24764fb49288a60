"""Train the two-tower model on a data set and keep what evaluation needs.

:func:`train_two_tower` splits the pairs before anything is fitted, fits the feature
scalers on training rows only, trains the towers and writes a run folder that
:func:`load_trained` reads back: the model, the split and the ids.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from igtrends.datasets import InteractionData, Split, split_per_user
from igtrends.errors import ConfigurationError, DatasetError
from igtrends.features import encode_features
from igtrends.log import get_logger
from igtrends.towers import TwoTowerConfig, TwoTowerModel

log = get_logger("training")

# Settings per data set. The MovieLens values were chosen by hand on that data set's
# split (seed 42); a principled search on a validation split is still to come.
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "sample": {
        "test_fraction": 0.2,
        "config": {"temperature": 0.1, "learning_rate": 0.003, "epochs": 15},
    },
    "instagram": {
        "test_fraction": 0.2,
        "config": {"temperature": 0.1, "learning_rate": 0.003, "epochs": 15},
    },
    "movielens-100k": {
        "test_fraction": 0.25,
        "config": {"temperature": 0.25, "learning_rate": 0.002, "epochs": 30},
    },
}


def default_config(dataset: str, **overrides: Any) -> tuple[float, TwoTowerConfig]:
    """Return the test fraction and model settings for ``dataset``, with overrides.

    An override of ``None`` keeps the default, so notebook parameters left at ``None``
    fall back to the data set's settings.
    """
    if dataset not in DATASET_DEFAULTS:
        raise ConfigurationError(
            f"dataset={dataset!r} is unknown; use one of {sorted(DATASET_DEFAULTS)}"
        )
    defaults = DATASET_DEFAULTS[dataset]
    test_fraction = overrides.pop("test_fraction", None) or defaults["test_fraction"]
    settings = dict(defaults["config"])
    settings.update({name: value for name, value in overrides.items() if value is not None})
    return float(test_fraction), TwoTowerConfig(**settings)


@dataclass
class TrainedRun:
    """A trained model with the split and ids it was trained and will be evaluated on."""

    model: TwoTowerModel
    split: Split
    user_ids: np.ndarray
    item_ids: np.ndarray
    validation: tuple[np.ndarray, np.ndarray] | None = None


def carve_validation(
    split: Split, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """Take a random ``fraction`` of the training pairs aside for a validation loss."""
    if fraction <= 0:
        return split.train_users, split.train_items, None
    rng = np.random.default_rng([seed, 1])
    held = rng.random(len(split.train_users)) < fraction
    validation = (split.train_users[held], split.train_items[held])
    return split.train_users[~held], split.train_items[~held], validation


MAX_HISTORY_CELLS = 100_000_000
"""Largest users x items history matrix kept in memory (400 MB of float32)."""


def history_features(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int) -> np.ndarray:
    """Return each user's engagement history as a row over all items.

    Row u has ``1 / sqrt(n_u)`` at the items of the user's ``n_u`` pairs and 0 elsewhere,
    so users with long and short histories enter the tower on a similar scale. Only the
    pairs passed in count, which must be training pairs.
    """
    if n_users * n_items > MAX_HISTORY_CELLS:
        raise ConfigurationError(
            f"the history matrix would have {n_users:,} x {n_items:,} cells, more than "
            f"{MAX_HISTORY_CELLS:,}; train with user_history=False"
        )
    history = np.zeros((n_users, n_items), dtype=np.float32)
    history[users, items] = 1.0
    lengths = history.sum(axis=1, keepdims=True)
    return history / np.sqrt(np.maximum(lengths, 1.0))


def train_two_tower(
    data: InteractionData,
    *,
    test_fraction: float,
    config: TwoTowerConfig,
    validation_fraction: float = 0.0,
    user_history: bool = True,
    progress: bool = True,
) -> TrainedRun:
    """Split ``data``, encode features on training rows and train the two towers.

    With ``validation_fraction`` > 0, that share of the training pairs is kept out of
    training and gives the validation loss curve; the test pairs are never touched.
    With ``user_history``, each user's training items (see :func:`history_features`)
    are appended to the user features, as a learned summary of what the user engaged
    with; a user without training pairs gets an empty history.
    """
    split = split_per_user(data, test_fraction, seed=config.seed)
    if len(split.train_users) == 0 or len(split.test_users) == 0:
        raise DatasetError(
            f"the split of {data.name} has {len(split.train_users)} training and "
            f"{len(split.test_users)} test pairs; collect more engagements per user"
        )
    user_features, _ = encode_features(data.users, data.user_features, split.train_users)
    item_features, _ = encode_features(data.items, data.item_features, split.train_items)
    users, items, validation = carve_validation(split, validation_fraction, config.seed)
    if user_history:
        history = history_features(users, items, split.n_users, split.n_items)
        user_features = np.hstack([user_features, history])
    model = TwoTowerModel(user_features, item_features, config)
    model.fit(users, items, validation=validation, progress=progress)
    return TrainedRun(model, split, data.user_ids, data.item_ids, validation)


def save_trained(run: TrainedRun, folder: str | Path) -> Path:
    """Write the model, split and ids of ``run`` to ``folder``."""
    folder = Path(folder)
    run.model.save(folder / "model")
    split = run.split
    np.savez(
        folder / "split.npz",
        train_users=split.train_users,
        train_items=split.train_items,
        test_users=split.test_users,
        test_items=split.test_items,
        user_ids=run.user_ids.astype(str),
        item_ids=run.item_ids.astype(str),
    )
    (folder / "protocol.json").write_text(json.dumps(split.protocol, indent=2))
    (folder / "config.json").write_text(json.dumps(asdict(run.model.config), indent=2))
    return folder


def load_trained(folder: str | Path) -> TrainedRun:
    """Read a run folder written by :func:`save_trained`."""
    folder = Path(folder)
    if not (folder / "split.npz").exists():
        raise DatasetError(
            f"no trained model in {folder}; run the training notebook first "
            "(igtrends run executes the notebooks in order)"
        )
    arrays = np.load(folder / "split.npz")
    protocol = json.loads((folder / "protocol.json").read_text())
    split = Split(
        train_users=arrays["train_users"],
        train_items=arrays["train_items"],
        test_users=arrays["test_users"],
        test_items=arrays["test_items"],
        n_users=len(arrays["user_ids"]),
        n_items=len(arrays["item_ids"]),
        protocol=protocol,
    )
    model = TwoTowerModel.load(folder / "model")
    return TrainedRun(model, split, arrays["user_ids"], arrays["item_ids"])
