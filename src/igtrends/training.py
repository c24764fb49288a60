"""Train the two-tower model on a data set and keep what evaluation needs.

:func:`train_two_tower` splits the pairs before anything is fitted, fits the feature
scalers on training rows only, trains the towers and writes a run folder that
:func:`load_trained` reads back: the model, the split and the ids. The same folder is
a self-contained model artifact (encoders, item index and manifest, see
:mod:`igtrends.artifact`) that :class:`igtrends.recommend.Recommender` loads.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from igtrends import artifact
from igtrends.datasets import InteractionData, Split, split_per_user
from igtrends.errors import ConfigurationError, DatasetError
from igtrends.features import FeatureEncoder, encode_features
from igtrends.log import get_logger
from igtrends.towers import TwoTowerConfig, TwoTowerModel

log = get_logger("training")

# Settings per data set. The MovieLens values were chosen on a validation split carved
# from that data set's training pairs (seed 42, 10% held aside). Linear towers with
# 64-d embeddings, an item offset and temperature 0.25 gave validation NDCG@10 0.171.
# 128-d gave 0.170 and temperature 0.1 gave 0.139. `igtrends bench` re-chooses
# temperature and embedding size with select_config the same way. On the embedded
# sample the same search gave 0.043 at temperature 0.25 and 0.029 at 0.1 (64-d, one
# hidden layer of 128 units).
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "sample": {
        "test_fraction": 0.2,
        "config": {"temperature": 0.25, "learning_rate": 0.003, "epochs": 15},
    },
    "instagram": {
        "test_fraction": 0.2,
        "config": {"temperature": 0.1, "learning_rate": 0.003, "epochs": 15},
    },
    "movielens-100k": {
        "test_fraction": 0.25,
        "config": {
            "temperature": 0.25,
            "learning_rate": 0.002,
            "epochs": 30,
            "embedding_dim": 64,
            "hidden_units": (),
        },
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
    """A trained model with the split and ids it was trained and will be evaluated on.

    The encoders turn raw feature columns into the model's inputs. They are None for a
    folder saved before encoders were kept. ``user_history`` is True when the user
    features end with the training-history row over all items.
    """

    model: TwoTowerModel
    split: Split
    user_ids: np.ndarray
    item_ids: np.ndarray
    validation: tuple[np.ndarray, np.ndarray] | None = None
    user_encoder: FeatureEncoder | None = None
    item_encoder: FeatureEncoder | None = None
    user_history: bool = False
    dataset: str | None = None
    data_sha256: str | None = None
    training: dict[str, Any] | None = None


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
    training and gives the validation loss curve. The test pairs are never touched.
    With ``user_history``, each user's training items (see :func:`history_features`)
    are appended to the user features, so the user tower learns from what the user
    engaged with. A user without training pairs gets an empty history.
    """
    split = split_per_user(data, test_fraction, seed=config.seed)
    if len(split.train_users) == 0 or len(split.test_users) == 0:
        raise DatasetError(
            f"the split of {data.name} has {len(split.train_users)} training and "
            f"{len(split.test_users)} test pairs; collect more engagements per user"
        )
    user_features, user_encoder = encode_features(data.users, data.user_features, split.train_users)
    item_features, item_encoder = encode_features(data.items, data.item_features, split.train_items)
    users, items, validation = carve_validation(split, validation_fraction, config.seed)
    if user_history:
        history = history_features(users, items, split.n_users, split.n_items)
        user_features = np.hstack([user_features, history])
    model = TwoTowerModel(user_features, item_features, config)
    model.fit(users, items, validation=validation, progress=progress)
    return TrainedRun(
        model, split, data.user_ids, data.item_ids, validation,
        user_encoder=user_encoder,
        item_encoder=item_encoder,
        user_history=user_history,
        dataset=data.name,
        data_sha256=artifact.interactions_sha256(data.interactions),
        training={
            "test_fraction": test_fraction,
            "validation_fraction": validation_fraction,
            "user_history": user_history,
        },
    )


def save_trained(
    run: TrainedRun,
    folder: str | Path,
    *,
    index_backend: str = "exact",
    index_options: dict[str, Any] | None = None,
    metrics: dict[str, float] | None = None,
    evaluate: bool = True,
) -> Path:
    """Write ``run`` to ``folder`` as a self-contained model artifact.

    The folder contains the model, split and ids, the fitted encoders, an index of the item
    embeddings (``index_backend`` ``"exact"`` or ``"hnsw"``, with ``index_options`` for
    :func:`igtrends.retrieval.build_index`) and ``manifest.json``. The manifest records
    ``metrics`` when given, otherwise, with ``evaluate``, the two-tower ranking metrics
    at 5 and 10 on the test pairs of the split.
    """
    from igtrends.retrieval import build_index

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
    if run.user_encoder is not None and run.item_encoder is not None:
        artifact.write_encoders(folder, run.user_encoder, run.item_encoder)
    else:
        log.warning("no fitted encoders in this run; %s cannot embed users from features", folder)

    index = build_index(
        run.model.item_embeddings(), run.item_ids.astype(str), backend=index_backend,
        metric=run.model.index_metric, **(index_options or {}),
    )
    index.save(folder / artifact.INDEX_FOLDER)
    if metrics is None and evaluate and len(split.test_users):
        from igtrends.evaluation import evaluate as evaluate_scores

        metrics = evaluate_scores(run.model.score, split, (5, 10))
    artifact.write_manifest(
        folder,
        {
            "dataset": run.dataset,
            "data_sha256": run.data_sha256,
            "n_users": split.n_users,
            "n_items": split.n_items,
            "n_train_pairs": int(len(split.train_users)),
            "user_history": run.user_history,
            "training": {**(run.training or {}), "config": asdict(run.model.config)},
            "index": {"backend": index.backend, "metric": index.metric, **(index_options or {})},
            "metrics": metrics,
            "metrics_on": "test pairs of split.npz" if metrics is not None else None,
        },
    )
    log.info("saved model artifact to %s (%s index of %d items)", folder, index.backend, len(index))
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
    encoders = artifact.read_encoders(folder)
    manifest_path = folder / artifact.MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    return TrainedRun(
        model, split, arrays["user_ids"], arrays["item_ids"],
        user_encoder=encoders[0] if encoders else None,
        item_encoder=encoders[1] if encoders else None,
        user_history=bool(manifest.get("user_history", False)),
        dataset=manifest.get("dataset"),
        data_sha256=manifest.get("data_sha256"),
        training=manifest.get("training"),
    )


def validation_split(split: Split, fraction: float, seed: int) -> Split:
    """Return a split of ``split``'s training pairs into fitting and validation pairs.

    The test pairs of ``split`` are left out entirely, so a choice made on the returned
    split never uses them.
    """
    users, items, validation = carve_validation(split, fraction, seed)
    if validation is None or len(validation[0]) == 0:
        raise ConfigurationError(
            f"validation fraction={fraction!r} gives no validation pairs; use e.g. 0.1"
        )
    return Split(
        train_users=users,
        train_items=items,
        test_users=validation[0],
        test_items=validation[1],
        n_users=split.n_users,
        n_items=split.n_items,
        protocol={**split.protocol, "validation_fraction": fraction},
    )


def select_config(
    user_features: np.ndarray,
    item_features: np.ndarray,
    split: Split,
    base: TwoTowerConfig,
    grid: dict[str, list[Any]],
    *,
    validation_fraction: float = 0.1,
    user_history: bool = True,
    metric: str = "ndcg@10",
) -> tuple[TwoTowerConfig, list[dict[str, Any]]]:
    """Choose the settings in ``grid`` with the best ``metric`` on a validation split.

    Every combination of the values in ``grid`` (field name -> candidates) replaces the
    fields of ``base`` and is trained on the training pairs minus a random
    ``validation_fraction`` of them, then ranked on the pairs held aside. With
    ``user_history``, the history features come from the fitting pairs only. Returns the
    best settings and one record per combination, in grid order; ties keep the earlier.
    """
    import itertools
    from dataclasses import replace

    from igtrends.evaluation import evaluate

    inner = validation_split(split, validation_fraction, base.seed)
    if user_history:
        history = history_features(inner.train_users, inner.train_items, split.n_users, split.n_items)
        user_features = np.hstack([user_features, history])
    names = list(grid)
    records: list[dict[str, Any]] = []
    best: TwoTowerConfig | None = None
    best_value = -np.inf
    for values in itertools.product(*(grid[name] for name in names)):
        config = replace(base, **dict(zip(names, values)))
        model = TwoTowerModel(user_features, item_features, config)
        model.fit(inner.train_users, inner.train_items, progress=False)
        value = evaluate(model.score, inner, ks=(10,))[metric]
        records.append({**dict(zip(names, values)), metric: value})
        log.info("validation %s=%.4f for %s", metric, value, dict(zip(names, values)))
        if value > best_value:
            best, best_value = config, value
    if best is None:
        raise ConfigurationError("grid has no combination; give every field at least one value")
    return best, records
