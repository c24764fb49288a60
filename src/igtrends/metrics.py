"""Ranking and pointwise metrics.

Ranking metrics follow the usual top-K definitions for one user with relevant set R and
ranked list L (its first K entries are the top K):

- Recall@K = |R ∩ L[:K]| / |R|
- Precision@K = |R ∩ L[:K]| / K
- NDCG@K = DCG@K / IDCG@K with DCG@K = Σ_{i ∈ hits} 1 / log2(i + 2) for 0-based rank i and
  IDCG@K the DCG of min(|R|, K) hits at the top
- AP@K = Σ_{i ∈ hits} Precision@(i + 1) / min(|R|, K), averaged over users as MAP@K

Users with an empty relevant set are skipped and counted, never scored as zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from sklearn.metrics import roc_auc_score


def ranking_metrics_for_user(
    ranked: Sequence[int], relevant: Iterable[int], k: int
) -> dict[str, float]:
    """Return recall, precision, NDCG and AP at ``k`` for one ranked list.

    Raises ValueError when ``relevant`` is empty, because none of these metrics is
    defined for a user with nothing to find.
    """
    relevant_set = set(int(item) for item in relevant)
    if not relevant_set:
        raise ValueError("relevant is empty; skip users with no test items before scoring")
    if k < 1:
        raise ValueError(f"k={k!r} must be at least 1")
    top = [int(item) for item in list(ranked)[:k]]
    hits = np.array([item in relevant_set for item in top], dtype=bool)
    positions = np.flatnonzero(hits)
    n_hits = len(positions)
    dcg = float(np.sum(1.0 / np.log2(positions + 2)))
    ideal = min(len(relevant_set), k)
    idcg = float(np.sum(1.0 / np.log2(np.arange(ideal) + 2)))
    average_precision = float(np.sum((np.arange(n_hits) + 1) / (positions + 1))) / ideal
    return {
        f"recall@{k}": n_hits / len(relevant_set),
        f"precision@{k}": n_hits / k,
        f"ndcg@{k}": dcg / idcg,
        f"map@{k}": average_precision,
    }


def top_k_excluding(
    scores: np.ndarray, exclude: Sequence[np.ndarray] | None, k: int
) -> np.ndarray:
    """Return the indices of the ``k`` best items per row, best first.

    ``scores`` has one row per user and one column per item. Items in ``exclude[row]``
    (for example those the user engaged with in training) never appear. Ties are broken
    by the lower item index, so the ranking is deterministic. When fewer than ``k`` items
    remain, the row is padded with -1.
    """
    scores = np.array(scores, dtype=np.float64, copy=True)
    n_rows, n_items = scores.shape
    if exclude is not None:
        for row, items in enumerate(exclude):
            if len(items):
                scores[row, np.asarray(items, dtype=np.int64)] = -np.inf
    k_eff = min(k, n_items)
    # Sorting on (-score, index) gives the lower index first among equal scores.
    order = np.lexsort((np.broadcast_to(np.arange(n_items), scores.shape), -scores), axis=1)
    top = order[:, :k_eff]
    valid = np.take_along_axis(scores, top, axis=1) > -np.inf
    top = np.where(valid, top, -1)
    if k_eff < k:
        top = np.hstack([top, np.full((n_rows, k - k_eff), -1, dtype=top.dtype)])
    return top


def mean_ranking_metrics(
    ranked_lists: Sequence[Sequence[int]],
    relevant_sets: Sequence[Iterable[int]],
    ks: Sequence[int] = (5, 10),
) -> dict[str, float]:
    """Average the ranking metrics over users, skipping users with no relevant items.

    The result also has ``users_evaluated`` and ``users_skipped`` (no relevant items).
    """
    totals: dict[str, float] = {}
    evaluated = 0
    skipped = 0
    for ranked, relevant in zip(ranked_lists, relevant_sets, strict=True):
        relevant = list(relevant)
        if not relevant:
            skipped += 1
            continue
        evaluated += 1
        ranked_clean = [item for item in ranked if item >= 0]
        for k in ks:
            for name, value in ranking_metrics_for_user(ranked_clean, relevant, k).items():
                totals[name] = totals.get(name, 0.0) + value
    result = {name: value / evaluated for name, value in totals.items()} if evaluated else {}
    result["users_evaluated"] = evaluated
    result["users_skipped"] = skipped
    return result


def pointwise_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Return accuracy, precision, recall, F1, specificity and ROC-AUC of binary scores.

    ``scores`` are probabilities; a score at or above ``threshold`` predicts a positive.
    """
    labels = np.asarray(labels).astype(bool)
    predicted = np.asarray(scores) >= threshold
    true_positive = int(np.sum(predicted & labels))
    false_positive = int(np.sum(predicted & ~labels))
    true_negative = int(np.sum(~predicted & ~labels))
    false_negative = int(np.sum(~predicted & labels))

    def ratio(numerator: int, denominator: int) -> float:
        return numerator / denominator if denominator else float("nan")

    precision = ratio(true_positive, true_positive + false_positive)
    recall = ratio(true_positive, true_positive + false_negative)
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision + recall > 0 and not np.isnan(precision + recall)
        else float("nan")
    )
    both_classes = labels.any() and (~labels).any()
    return {
        "accuracy": ratio(true_positive + true_negative, len(labels)),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "specificity": ratio(true_negative, true_negative + false_positive),
        "roc_auc": float(roc_auc_score(labels, scores)) if both_classes else float("nan"),
    }
