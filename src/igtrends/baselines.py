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


class EASERecommender:
    """Embarrassingly shallow autoencoder (EASE) of Steck, WWW 2019, in closed form.

    With the binary users x items training matrix X and P = (XᵀX + λI)⁻¹, the item-item
    weights are B = I - P · diag(1 / diag(P)), which puts zeros on the diagonal. A user's
    scores are their training row times B.
    """

    def __init__(self, split: Split, regularization: float = 500.0) -> None:
        if regularization <= 0:
            raise ValueError(
                f"regularization={regularization!r} must be positive, e.g. 500"
            )
        self.regularization = regularization
        self.matrix = split.train_matrix().toarray().astype(np.float64)
        gram = self.matrix.T @ self.matrix
        gram[np.diag_indices_from(gram)] += regularization
        precision = np.linalg.inv(gram)
        self.weights = -precision / np.diag(precision)[np.newaxis, :]
        np.fill_diagonal(self.weights, 0.0)

    def score(self, users: np.ndarray) -> np.ndarray:
        return self.matrix[np.asarray(users, dtype=np.int64)] @ self.weights


class ALSRecommender:
    """Implicit-feedback matrix factorisation by alternating least squares (Hu et al. 2008).

    Uses the ``implicit`` package's CPU solver with one thread, so the factors, and the
    metrics computed from them, are the same on every run with the same seed.
    """

    def __init__(
        self,
        split: Split,
        factors: int = 64,
        regularization: float = 0.05,
        iterations: int = 15,
        alpha: float = 1.0,
        seed: int = 42,
    ) -> None:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        matrix = split.train_matrix().astype(np.float32)
        # The BLAS calls inside the solver get one thread too: parallel sums change the
        # rounding, and with it the ranking of near-tied items.
        with threadpool_limits(limits=1):
            model = AlternatingLeastSquares(
                factors=factors,
                regularization=regularization,
                alpha=alpha,
                iterations=iterations,
                random_state=seed,
                num_threads=1,
            )
            model.fit(matrix, show_progress=False)
        self.user_factors = np.asarray(model.user_factors)
        self.item_factors = np.asarray(model.item_factors)

    def score(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors[np.asarray(users, dtype=np.int64)] @ self.item_factors.T
