"""Benchmark of the two-tower variants beside baselines, on one split in one process.

:func:`run_benchmark` trains and evaluates every model on the same per-user split of a
data set and returns one :class:`BenchRow` per model. :func:`run_cold_start` keeps some
users out of training entirely and compares the feature towers with popularity for
them. :func:`write_results` stores the rows as JSON and as a Markdown table.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from igtrends.baselines import (
    ALSRecommender,
    EASERecommender,
    PopularityRecommender,
    RandomRecommender,
)
from igtrends.datasets import FeatureColumns, InteractionData, Split, split_per_user
from igtrends.evaluation import evaluate
from igtrends.features import encode_features
from igtrends.log import get_logger
from igtrends.towers import TwoTowerConfig, TwoTowerModel
from igtrends.training import history_features, select_config

log = get_logger("bench")

METRICS = ("recall@10", "precision@10", "ndcg@10", "map@10", "catalogue_coverage@10")
"""Columns of the benchmark table, in order."""


@dataclass
class BenchRow:
    """Metrics and training time of one model on one split."""

    dataset: str
    model: str
    metrics: dict[str, float]
    seconds: float
    settings: dict[str, Any] = field(default_factory=dict)


def _timed(build: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    model = build()
    return model, time.perf_counter() - started


def _two_tower_row(
    dataset: str,
    name: str,
    split: Split,
    user_features: np.ndarray,
    item_features: np.ndarray,
    config: TwoTowerConfig,
) -> BenchRow:
    model = TwoTowerModel(user_features, item_features, config)
    history = model.fit(split.train_users, split.train_items, progress=False)
    metrics = evaluate(model.score, split, ks=(10,))
    settings = asdict(config)
    settings["examples_per_second"] = history.examples_per_second
    settings["steady_examples_per_second"] = history.steady_examples_per_second
    log.info("%s %s: ndcg@10 %.4f in %.1f s", dataset, name, metrics["ndcg@10"], history.seconds)
    return BenchRow(dataset, name, metrics, history.seconds, settings)


def run_benchmark(
    data: InteractionData,
    *,
    test_fraction: float,
    config: TwoTowerConfig,
    grid: dict[str, list[Any]] | None = None,
    validation_fraction: float = 0.1,
    ease_regularization: float = 500.0,
) -> list[BenchRow]:
    """Train and evaluate the baselines and two-tower variants on one split of ``data``.

    ``config`` contains the shared two-tower settings. ``grid`` (field -> candidate values,
    default temperature and embedding size) is searched on a validation split carved
    from the training pairs, and the chosen settings train the variants. The test pairs
    are used only to score the finished models.
    """
    split = split_per_user(data, test_fraction, seed=config.seed)
    features, _ = encode_features(data.users, data.user_features, split.train_users)
    item_features, _ = encode_features(data.items, data.item_features, split.train_items)
    history = history_features(split.train_users, split.train_items, split.n_users, split.n_items)
    user_features = np.hstack([features, history])
    rows: list[BenchRow] = []

    als = {"factors": 64, "regularization": 0.05, "iterations": 15, "alpha": 1.0, "seed": config.seed}
    baselines: dict[str, tuple[Callable[[], Any], dict[str, Any]]] = {
        "random": (lambda: RandomRecommender(split, seed=config.seed), {"seed": config.seed}),
        "popularity": (lambda: PopularityRecommender(split), {}),
        f"EASE (lambda {ease_regularization:g})": (
            lambda: EASERecommender(split, ease_regularization),
            {"regularization": ease_regularization},
        ),
        "ALS (implicit, 64 factors)": (lambda: ALSRecommender(split, **als), als),
    }
    for name, (build, settings) in baselines.items():
        model, seconds = _timed(build)
        rows.append(
            BenchRow(data.name, name, evaluate(model.score, split, ks=(10,)), seconds, settings)
        )
        log.info("%s %s: ndcg@10 %.4f", data.name, name, rows[-1].metrics["ndcg@10"])

    grid = grid if grid is not None else {"temperature": [0.1, 0.25], "embedding_dim": [64, 128]}
    chosen, records = select_config(
        features, item_features, split, config, grid, validation_fraction=validation_fraction
    )
    selection = {"grid": grid, "validation": records}
    variants = {
        "two-tower, prototype set-up (bce, 4 sampled negatives)": replace(chosen, loss="bce"),
        "two-tower, ids only, softmax + logQ": replace(chosen, use_features=False),
        "two-tower, ids + features, softmax without logQ": replace(chosen, logq_correction=False),
        "two-tower, ids + features, softmax + logQ, no item offset": replace(chosen, item_bias=False),
        "two-tower, ids + features, softmax + logQ": chosen,
        "two-tower, ids + features, mixed negatives (+256 uniform)": replace(
            chosen, extra_negatives=256
        ),
    }
    for name, variant in variants.items():
        row = _two_tower_row(data.name, name, split, user_features, item_features, variant)
        row.settings["selection"] = selection
        rows.append(row)
    return rows


def cold_start_split(split: Split, fraction: float, seed: int) -> tuple[Split, np.ndarray]:
    """Hold a random ``fraction`` of the users out of training entirely.

    Returns a split whose training pairs are the other users' training pairs and whose
    test pairs are all pairs of the held-out users, and those users' row positions.
    """
    rng = np.random.default_rng([seed, 3])
    users_with_pairs = np.unique(np.concatenate([split.train_users, split.test_users]))
    n_cold = max(1, int(round(fraction * len(users_with_pairs))))
    cold = np.sort(rng.choice(users_with_pairs, size=n_cold, replace=False))
    is_cold_train = np.isin(split.train_users, cold)
    is_cold_test = np.isin(split.test_users, cold)
    cold_split = Split(
        train_users=split.train_users[~is_cold_train],
        train_items=split.train_items[~is_cold_train],
        test_users=np.concatenate([split.train_users[is_cold_train], split.test_users[is_cold_test]]),
        test_items=np.concatenate([split.train_items[is_cold_train], split.test_items[is_cold_test]]),
        n_users=split.n_users,
        n_items=split.n_items,
        protocol={**split.protocol, "cold_start_fraction": fraction},
    )
    return cold_split, cold


FEATURE_KINDS = ("numeric", "log_numeric", "binary", "categorical", "tags")


def feature_subsets(columns: FeatureColumns, max_single: int = 8) -> dict[str, FeatureColumns]:
    """Return ``columns`` whole and with one column, or one kind of column, left out.

    Each column of a kind with at most ``max_single`` columns is left out on its own. A
    larger kind, such as one column per hashtag, is left out as a whole. Keys are
    readable names such as ``"without occupation"``.
    """
    subsets = {"all user features": columns}
    for kind in FEATURE_KINDS:
        names = getattr(columns, kind)
        if not names:
            continue
        if len(names) <= max_single:
            groups = [[name] for name in names]
        else:
            groups = [names]
        for group in groups:
            label = f"without {group[0]}" if len(group) == 1 else f"without the {len(group)} {kind} columns"
            subsets[label] = FeatureColumns(
                **{other: [name for name in getattr(columns, other) if name not in group] for other in FEATURE_KINDS},
                max_tags=columns.max_tags,
            )
    return {label: subset for label, subset in subsets.items() if subset.all()}


def _cold_start_metrics(
    data: InteractionData, split: Split, columns: FeatureColumns, config: TwoTowerConfig
) -> tuple[dict[str, float], float]:
    # Train on split's training pairs with user features only and rank for the users of
    # its test pairs, who have no training pairs.
    user_features, _ = encode_features(data.users, columns, split.train_users)
    item_features, _ = encode_features(data.items, data.item_features, split.train_items)
    model = TwoTowerModel(user_features, item_features, config)
    history = model.fit(split.train_users, split.train_items, progress=False)
    item_matrix = model.item_embeddings()

    def score_from_features(users: np.ndarray) -> np.ndarray:
        return model.embed_new_users(user_features[users]) @ item_matrix.T

    return evaluate(score_from_features, split, ks=(10,)), history.seconds


def run_cold_start(
    data: InteractionData,
    *,
    test_fraction: float,
    config: TwoTowerConfig,
    cold_fraction: float = 0.1,
) -> list[BenchRow]:
    """Compare the feature towers with popularity for users never seen in training.

    The user tower has no id embedding (``user_ids=False``), so it embeds every user
    from their features, in training as for the held-out users. Which user feature
    columns to use (all, or all but one) is chosen by NDCG@10 for validation users:
    another ``cold_fraction`` of the users, held out of a training run on the remaining
    users only. The held-out test users are used only to score the two finished models:
    the chosen columns and, for comparison, all columns.
    """
    split = split_per_user(data, test_fraction, seed=config.seed)
    cold_split, cold = cold_start_split(split, cold_fraction, config.seed)
    tower_config = replace(config, user_ids=False, use_features=True, id_dropout=0.0)

    known = Split(
        train_users=cold_split.train_users,
        train_items=cold_split.train_items,
        test_users=cold_split.train_users[:0],
        test_items=cold_split.train_items[:0],
        n_users=split.n_users,
        n_items=split.n_items,
        protocol=cold_split.protocol,
    )
    validation, _ = cold_start_split(known, cold_fraction, config.seed + 1)
    subsets = feature_subsets(data.user_features)
    scores = {
        label: _cold_start_metrics(data, validation, columns, tower_config)[0]["ndcg@10"]
        for label, columns in subsets.items()
    }
    chosen = max(scores, key=lambda label: (scores[label], label == "all user features"))
    log.info("cold start validation ndcg@10: %s; chose %s", scores, chosen)

    popularity, popularity_seconds = _timed(lambda: PopularityRecommender(cold_split))
    settings = {
        "cold_users": int(len(cold)),
        "cold_fraction": cold_fraction,
        "validation_ndcg@10": scores,
        "chosen_user_features": chosen,
    }
    rows = [
        BenchRow(data.name, "cold start: popularity", evaluate(popularity.score, cold_split, ks=(10,)), popularity_seconds, settings),
    ]
    for label in dict.fromkeys([chosen, "all user features"]):
        metrics, seconds = _cold_start_metrics(data, cold_split, subsets[label], tower_config)
        kind = "chosen on validation users" if label == chosen else "for comparison"
        rows.append(
            BenchRow(
                data.name,
                f"cold start: two-tower from features ({label}, {kind})",
                metrics,
                seconds,
                {**settings, **asdict(tower_config), "user_features": asdict(subsets[label])},
            )
        )
    return rows


def measure_throughput(
    data: InteractionData, *, test_fraction: float, config: TwoTowerConfig, user_history: bool = True
) -> dict[str, float]:
    """Train ``config`` on ``data``'s training pairs and return its examples per second.

    ``examples_per_second`` covers the whole fit, the first step's graph tracing
    included, so a short run reads lower than a long one.
    ``steady_examples_per_second`` leaves out the first epoch.
    """
    split = split_per_user(data, test_fraction, seed=config.seed)
    user_features, _ = encode_features(data.users, data.user_features, split.train_users)
    item_features, _ = encode_features(data.items, data.item_features, split.train_items)
    if user_history:
        history = history_features(split.train_users, split.train_items, split.n_users, split.n_items)
        user_features = np.hstack([user_features, history])
    model = TwoTowerModel(user_features, item_features, config)
    history = model.fit(split.train_users, split.train_items, progress=False)
    return {
        "examples_per_second": history.examples_per_second,
        "steady_examples_per_second": history.steady_examples_per_second,
        "seconds": history.seconds,
        "pairs": float(len(split.train_users)),
        "epochs": float(config.epochs),
        "batch_size": float(config.batch_size),
    }


def format_table(rows: list[BenchRow]) -> str:
    """Return the rows as a Markdown table, one line per model."""
    header = "| data set | model | Recall@10 | Precision@10 | NDCG@10 | MAP@10 | coverage@10 | training s |"
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        values = " | ".join(f"{row.metrics[name]:.4f}" for name in METRICS)
        lines.append(f"| {row.dataset} | {row.model} | {values} | {row.seconds:.1f} |")
    return "\n".join(lines)


def write_results(rows: list[BenchRow], json_path: str | Path) -> Path:
    """Write the rows, with their settings, to ``json_path`` as a JSON list."""
    json_path = Path(json_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps([asdict(row) for row in rows], indent=2, default=str))
    return json_path


def load_dataset(dataset: str, data_dir: str | Path | None, work_dir: str | Path) -> InteractionData:
    """Load MovieLens 100K from ``data_dir``, or build the embedded sample in ``work_dir``."""
    if dataset == "movielens-100k":
        from igtrends.datasets import movielens_interactions
        from igtrends.movielens import load_movielens

        movielens = load_movielens(data_dir, cache_dir=Path(work_dir) / "external", progress=False)
        return movielens_interactions(movielens.ratings, movielens.users, movielens.items)
    if dataset == "sample":
        from igtrends import client, collect, sample
        from igtrends.datasets import instagram_interactions

        sample_dir = Path(work_dir) / "sample"
        info = sample.generate_sample(sample_dir, seed=42)
        replay = client.Client(
            client.ReplayTransport(sample_dir), client.RawStore(Path(work_dir) / "raw")
        )
        collect.crawl_sample(replay, info)
        return instagram_interactions(collect.build_tables(replay.raw_store), name="sample")
    raise ValueError(f"dataset={dataset!r} is unknown; use 'movielens-100k' or 'sample'")
