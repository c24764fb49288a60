"""Hold-out evaluation of recommenders on a :class:`~igtrends.datasets.Split`.

Every model is scored the same way: for each user with test items, rank all items,
drop the items the user engaged with in training, and compare the top K with the
user's test items. Training pairs are never scored as hits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from igtrends.datasets import Split
from igtrends.errors import DatasetError
from igtrends.metrics import mean_ranking_metrics, top_k_excluding

ScoreFunction = Callable[[np.ndarray], np.ndarray]
"""Map an array of user row positions to a score matrix (users x all items)."""


def items_by_user(users: np.ndarray, items: np.ndarray, n_users: int) -> list[np.ndarray]:
    """Group item positions by user position: element u lists the items of user u."""
    order = np.argsort(users, kind="stable")
    boundaries = np.searchsorted(users[order], np.arange(n_users + 1))
    sorted_items = items[order]
    return [sorted_items[boundaries[u] : boundaries[u + 1]] for u in range(n_users)]


def evaluate(
    score: ScoreFunction,
    split: Split,
    ks: Sequence[int] = (5, 10),
    *,
    batch_size: int = 512,
    progress: bool = False,
    description: str = "evaluating",
) -> dict[str, float]:
    """Return mean ranking metrics of ``score`` on the test pairs of ``split``.

    Users without test items are skipped and counted in ``users_skipped``. The result
    also reports ``catalogue_coverage@K``, the share of items that appear in at least one
    user's top K.
    """
    train_items = items_by_user(split.train_users, split.train_items, split.n_users)
    test_items = items_by_user(split.test_users, split.test_items, split.n_users)
    users = np.array([u for u in range(split.n_users) if len(test_items[u])], dtype=np.int64)
    max_k = max(ks)

    ranked: list[np.ndarray] = []
    batches = range(0, len(users), batch_size)
    for start in tqdm(batches, desc=description, disable=not progress, leave=False):
        batch = users[start : start + batch_size]
        scores = np.asarray(score(batch))
        if scores.shape != (len(batch), split.n_items):
            raise ValueError(
                f"score function returned shape {scores.shape}; expected "
                f"({len(batch)}, {split.n_items}), one row per user and one column per item"
            )
        ranked.extend(top_k_excluding(scores, [train_items[u] for u in batch], max_k))

    result = mean_ranking_metrics(ranked, [test_items[u] for u in users], ks)
    result["users_skipped"] += split.n_users - len(users)
    for k in ks:
        shown = {int(item) for row in ranked for item in row[:k] if item >= 0}
        result[f"catalogue_coverage@{k}"] = len(shown) / split.n_items
    return result


def evaluate_models(
    scorers: dict[str, ScoreFunction],
    split: Split,
    ks: Sequence[int] = (5, 10),
    *,
    progress: bool = False,
) -> dict[str, dict[str, float]]:
    """Evaluate each named score function on the same split with the same protocol."""
    return {
        name: evaluate(score, split, ks, progress=progress, description=f"evaluating {name}")
        for name, score in scorers.items()
    }


def sample_negative_pairs(split: Split, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """Draw one uniformly random negative item per test pair.

    A negative is an item the user engaged with neither in training nor in test.

    Raises:
        DatasetError: If a test user engaged with every item, so no negative exists.
    """
    rng = np.random.default_rng([seed, 2])
    all_users = np.concatenate([split.train_users, split.test_users])
    all_items = np.concatenate([split.train_items, split.test_items])
    engaged = items_by_user(all_users, all_items, split.n_users)
    negatives = np.empty(len(split.test_users), dtype=np.int64)
    free_by_user: dict[int, np.ndarray] = {}
    for row, user in enumerate(split.test_users.tolist()):
        if user not in free_by_user:
            free_by_user[user] = np.setdiff1d(np.arange(split.n_items), engaged[user])
        free = free_by_user[user]
        if len(free) == 0:
            raise DatasetError(
                f"user at row {user} engaged with all {split.n_items} items, so no negative "
                "item can be sampled; drop that user before pointwise evaluation"
            )
        negatives[row] = free[rng.integers(len(free))]
    return split.test_users.copy(), negatives


def top_k_table(
    score: ScoreFunction,
    split: Split,
    users: Sequence[int],
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    k: int = 5,
) -> "pd.DataFrame":
    """Return each user's top ``k`` items, training items excluded, one row per item."""
    import pandas as pd

    users = np.asarray(users, dtype=np.int64)
    train_items = items_by_user(split.train_users, split.train_items, split.n_users)
    test_items = items_by_user(split.test_users, split.test_items, split.n_users)
    scores = np.asarray(score(users))
    top = top_k_excluding(scores, [train_items[u] for u in users], k)
    rows = []
    for position, user in enumerate(users):
        held_out = set(test_items[user].tolist())
        for rank, item in enumerate(top[position], start=1):
            if item < 0:
                continue
            rows.append(
                {
                    "user_id": user_ids[user],
                    "rank": rank,
                    "item_id": item_ids[item],
                    "score": float(scores[position, item]),
                    "in_test_set": item in held_out,
                }
            )
    return pd.DataFrame(rows)
