"""Baseline recommenders that every model is compared with."""

from __future__ import annotations

import numpy as np

from igtrends.datasets import Split


class PopularityRecommender:
    """Rank items by their number of training interactions, the same list for everyone."""

    def __init__(self, split: Split) -> None:
        self.counts = np.bincount(split.train_items, minlength=split.n_items).astype(np.float64)

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.counts, (len(users), len(self.counts)))


class RandomRecommender:
    """Rank items uniformly at random, a fresh draw per user from a seeded generator."""

    def __init__(self, split: Split, seed: int = 42) -> None:
        self.n_items = split.n_items
        self.seed = seed

    def score(self, users: np.ndarray) -> np.ndarray:
        # One generator per user keeps each user's ranking independent of the batching.
        return np.vstack(
            [np.random.default_rng([self.seed, int(user)]).random(self.n_items) for user in users]
        )
