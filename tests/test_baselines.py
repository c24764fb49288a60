"""Tests of the EASE and ALS baselines on tiny splits."""

from __future__ import annotations

import numpy as np
import pytest

from igtrends.baselines import ALSRecommender, EASERecommender
from igtrends.datasets import Split


def make_split(pairs: list[tuple[int, int]], n_users: int, n_items: int) -> Split:
    users = np.array([user for user, _ in pairs], dtype=np.int64)
    items = np.array([item for _, item in pairs], dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    return Split(users, items, empty, empty, n_users, n_items, {})


def test_ease_weights_by_hand():
    # X = [[1, 1], [1, 0]], so XᵀX + 1·I = [[3, 1], [1, 2]] and P = [[2, -1], [-1, 3]] / 5.
    # B_01 = -P_01 / P_11 = (1/5) / (3/5) = 1/3 and B_10 = -P_10 / P_00 = (1/5) / (2/5) = 1/2.
    split = make_split([(0, 0), (0, 1), (1, 0)], n_users=2, n_items=2)
    model = EASERecommender(split, regularization=1.0)
    np.testing.assert_allclose(model.weights, [[0.0, 1 / 3], [1 / 2, 0.0]])


def test_ease_scores_by_hand():
    # User 0 has row [1, 1]: scores [B_10, B_01] = [1/2, 1/3]; user 1 has [1, 0]: [0, 1/3].
    split = make_split([(0, 0), (0, 1), (1, 0)], n_users=2, n_items=2)
    scores = EASERecommender(split, regularization=1.0).score(np.array([0, 1]))
    np.testing.assert_allclose(scores, [[1 / 2, 1 / 3], [0.0, 1 / 3]])


def test_ease_rejects_nonpositive_regularization():
    split = make_split([(0, 0)], n_users=1, n_items=2)
    with pytest.raises(ValueError, match="regularization=0"):
        EASERecommender(split, regularization=0)


def test_ease_ranks_co_engaged_item_first():
    # Items 0 and 1 always occur together, item 2 never with them; user 2 has only item 0.
    pairs = [(0, 0), (0, 1), (1, 0), (1, 1), (3, 2), (2, 0)]
    split = make_split(pairs, n_users=4, n_items=3)
    scores = EASERecommender(split, regularization=0.5).score(np.array([2]))[0]
    assert scores[1] > scores[2]


def two_group_split() -> Split:
    group_a = [(user, item) for user in range(4) for item in range(4) if (user + item) % 4]
    group_b = [(user, item) for user in range(4, 8) for item in range(4, 8) if (user + item) % 4]
    return make_split(group_a + group_b, n_users=8, n_items=8)


def test_als_same_seed_same_scores():
    split = two_group_split()
    first = ALSRecommender(split, factors=4, iterations=5, seed=3).score(np.arange(8))
    second = ALSRecommender(split, factors=4, iterations=5, seed=3).score(np.arange(8))
    np.testing.assert_array_equal(first, second)


def test_als_prefers_own_group():
    # Each user engaged with three of the four items of their group, never the other group.
    split = two_group_split()
    scores = ALSRecommender(split, factors=4, iterations=15, regularization=0.01).score(np.arange(8))
    for user in range(8):
        own = range(0, 4) if user < 4 else range(4, 8)
        other = range(4, 8) if user < 4 else range(0, 4)
        assert scores[user, list(own)].mean() > scores[user, list(other)].mean()
