"""Tests of the hold-out evaluation and the baseline recommenders on hand-made splits."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from igtrends.baselines import PopularityRecommender, RandomRecommender
from igtrends.datasets import Split
from igtrends.evaluation import (
    evaluate,
    evaluate_models,
    items_by_user,
    sample_negative_pairs,
    top_k_table,
)


def pair_arrays(pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    users = np.array([user for user, _ in pairs], dtype=np.int64)
    items = np.array([item for _, item in pairs], dtype=np.int64)
    return users, items


def make_split(train: list[tuple[int, int]], test: list[tuple[int, int]], n_users: int, n_items: int) -> Split:
    train_users, train_items = pair_arrays(train)
    test_users, test_items = pair_arrays(test)
    return Split(train_users, train_items, test_users, test_items, n_users, n_items, protocol={})


# User 0: train {0}, test {1, 2}. User 1: train {3}, test {4}. User 2: train {1}, no test.
SPLIT = make_split(train=[(0, 0), (1, 3), (2, 1)], test=[(0, 1), (0, 2), (1, 4)], n_users=3, n_items=5)

# Each user's training item has the highest score, so it must be excluded to rank the rest.
SCORES = np.array(
    [
        [0.9, 0.1, 0.8, 0.7, 0.6],  # without item 0: 2, 3, 4, 1
        [0.5, 0.4, 0.3, 0.99, 0.2],  # without item 3: 0, 1, 2, 4
        [0.1, 0.9, 0.2, 0.3, 0.4],  # no test items: never scored
    ]
)


def fixed_scores(users: np.ndarray) -> np.ndarray:
    return SCORES[users]


# Evaluation with a score function we control


def test_evaluate_recall_by_hand():
    # User 0 ranks 2, 3, 4, 1 with test {1, 2}: Recall@1 = 1/2, @2 = 1/2, @5 = 2/2.
    # User 1 ranks 0, 1, 2, 4 with test {4}: Recall@1 = 0, @2 = 0, @5 = 1.
    result = evaluate(fixed_scores, SPLIT, ks=(1, 2, 5))
    assert result["recall@1"] == pytest.approx((0.5 + 0) / 2)
    assert result["recall@2"] == pytest.approx((0.5 + 0) / 2)
    assert result["recall@5"] == pytest.approx((1 + 1) / 2)


def test_evaluate_ndcg_by_hand():
    # User 0 hits at ranks 1 and 4, user 1 at rank 4. NDCG@1: user 0 gets 1, user 1 gets 0.
    # NDCG@5: user 0 has DCG = 1 + 1/log2(5) over IDCG = 1 + 1/log2(3), and user 1 has
    # DCG = 1/log2(5) over IDCG = 1.
    result = evaluate(fixed_scores, SPLIT, ks=(1, 5))
    user_0 = (1 + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    user_1 = 1 / math.log2(5)
    assert result["ndcg@1"] == pytest.approx(0.5)
    assert result["ndcg@5"] == pytest.approx((user_0 + user_1) / 2)


def test_evaluate_skips_users_without_test_items():
    result = evaluate(fixed_scores, SPLIT, ks=(1,))
    assert result["users_evaluated"] == 2
    assert result["users_skipped"] == 1


def test_evaluate_scores_only_users_with_test_items():
    requested: list[int] = []

    def recording_scores(users: np.ndarray) -> np.ndarray:
        requested.extend(users.tolist())
        return SCORES[users]

    evaluate(recording_scores, SPLIT, ks=(1,))
    assert requested == [0, 1]


def test_evaluate_excludes_training_items_before_top_k():
    # One user, train {0}, test {1}. The score ranks item 0 first. Only after removing it
    # is item 1 at rank 1, so Recall@1 = 1 (without the exclusion it would be 0).
    split = make_split(train=[(0, 0)], test=[(0, 1)], n_users=1, n_items=3)
    result = evaluate(lambda users: np.array([[1.0, 0.5, 0.1]]), split, ks=(1,))
    assert result["recall@1"] == pytest.approx(1.0)


def test_evaluate_never_counts_training_item_as_hit():
    # A pair present in both training and test must not score: item 0 is excluded from
    # the ranking, so the user's only test item can never be hit.
    split = make_split(train=[(0, 0)], test=[(0, 0)], n_users=1, n_items=3)
    result = evaluate(lambda users: np.array([[1.0, 0.5, 0.1]]), split, ks=(1, 3))
    assert result["recall@1"] == 0.0
    assert result["recall@3"] == 0.0


def test_evaluate_catalogue_coverage():
    # Top-1 items are 2 (user 0) and 0 (user 1): 2 of 5 items. Top-2 adds 3 and 1: 4 of 5.
    result = evaluate(fixed_scores, SPLIT, ks=(1, 2))
    assert result["catalogue_coverage@1"] == pytest.approx(2 / 5)
    assert result["catalogue_coverage@2"] == pytest.approx(4 / 5)


def test_evaluate_independent_of_batch_size():
    whole = evaluate(fixed_scores, SPLIT, ks=(1, 5), batch_size=512)
    single = evaluate(fixed_scores, SPLIT, ks=(1, 5), batch_size=1)
    assert whole == single


def test_evaluate_rejects_wrong_score_shape():
    with pytest.raises(ValueError, match=r"shape \(2, 4\); expected \(2, 5\)"):
        evaluate(lambda users: np.zeros((len(users), 4)), SPLIT, ks=(1,))


def test_evaluate_models_applies_same_protocol():
    results = evaluate_models({"fixed": fixed_scores, "again": fixed_scores}, SPLIT, ks=(1,))
    assert results["fixed"] == results["again"]
    assert results["fixed"]["recall@1"] == pytest.approx(0.25)


def test_items_by_user_groups_positions():
    grouped = items_by_user(np.array([2, 0, 2]), np.array([7, 8, 9]), 3)
    assert [group.tolist() for group in grouped] == [[8], [], [7, 9]]


def test_top_k_table_marks_test_items():
    # User 0 without training item 0 ranks 2 (test), then 3 (not test).
    table = top_k_table(fixed_scores, SPLIT, [0], np.array(["a", "b", "c"]), np.array(["p", "q", "r", "s", "t"]), k=2)
    assert table["item_id"].tolist() == ["r", "s"]
    assert table["rank"].tolist() == [1, 2]
    assert table["in_test_set"].tolist() == [True, False]
    assert table["user_id"].tolist() == ["a", "a"]
    assert table["score"].tolist() == pytest.approx([0.8, 0.7])


# Negative sampling


def test_negative_pairs_avoid_engaged_items():
    split = make_split(
        train=[(0, 0), (0, 1), (1, 2)], test=[(0, 2), (1, 3), (1, 0)], n_users=2, n_items=6
    )
    users, negatives = sample_negative_pairs(split, seed=3)
    engaged = {(0, 0), (0, 1), (0, 2), (1, 2), (1, 3), (1, 0)}
    assert users.tolist() == [0, 1, 1]
    for user, item in zip(users.tolist(), negatives.tolist(), strict=True):
        assert (user, item) not in engaged
        assert 0 <= item < 6


def test_negative_pairs_repeat_per_seed():
    split = make_split(train=[(0, 0)], test=[(0, 1), (0, 2)], n_users=1, n_items=50)
    first = sample_negative_pairs(split, seed=4)[1]
    second = sample_negative_pairs(split, seed=4)[1]
    assert first.tolist() == second.tolist()


def test_negative_pairs_user_with_every_item():
    # The call runs in a child process, so the hang ends when the timeout kills it.
    # A clear error or a result without that user both count as handled.
    code = textwrap.dedent(
        """
        import numpy as np
        from igtrends.datasets import Split
        from igtrends.errors import IgtrendsError
        from igtrends.evaluation import sample_negative_pairs

        split = Split(np.array([0]), np.array([0]), np.array([0]), np.array([1]), 1, 2, {})
        try:
            users, negatives = sample_negative_pairs(split)
        except (ValueError, IgtrendsError):
            pass
        else:
            assert len(users) == 0, (users, negatives)
        """
    )
    subprocess.run([sys.executable, "-c", code], timeout=10, check=True, capture_output=True)


# Popularity baseline


def test_popularity_ranks_by_training_counts():
    # Training counts: item 0 three times, item 2 twice, item 1 once, item 3 never.
    split = make_split(
        train=[(0, 0), (1, 0), (2, 0), (0, 2), (1, 2), (2, 1)], test=[(3, 3)], n_users=4, n_items=4
    )
    scores = PopularityRecommender(split).score(np.array([3]))
    assert scores.tolist() == [[3.0, 1.0, 2.0, 0.0]]


def test_popularity_ignores_test_pairs():
    # Both splits share the training pairs. The second puts many test pairs on item 3,
    # which must not raise item 3's score.
    train = [(0, 0), (1, 0), (0, 1)]
    few_tests = make_split(train, test=[(2, 2)], n_users=5, n_items=4)
    many_tests = make_split(train, test=[(1, 3), (2, 3), (3, 3), (4, 3)], n_users=5, n_items=4)
    users = np.arange(5)
    few = PopularityRecommender(few_tests).score(users)
    many = PopularityRecommender(many_tests).score(users)
    assert np.array_equal(few, many)
    assert many[0].tolist() == [2.0, 1.0, 0.0, 0.0]


def test_popularity_evaluated_by_hand():
    # Counts [2, 1, 0, 0] rank items 0, 1, 2, 3 for everyone (2 before 3 by index).
    # User 1 (train {0}) ranks 1, 2, 3 and its test item 3 is at rank 3: Recall@2 = 0, @3 = 1.
    # User 2 (train none) ranks 0, 1, 2 and its test item 2 is at rank 3: Recall@2 = 0, @3 = 1.
    split = make_split(train=[(0, 0), (1, 0), (0, 1)], test=[(1, 3), (2, 2)], n_users=3, n_items=4)
    result = evaluate(PopularityRecommender(split).score, split, ks=(2, 3))
    assert result["recall@2"] == 0.0
    assert result["recall@3"] == pytest.approx(1.0)
    assert result["users_skipped"] == 1


# Random baseline


def test_random_repeats_per_seed():
    first = RandomRecommender(SPLIT, seed=9).score(np.arange(3))
    second = RandomRecommender(SPLIT, seed=9).score(np.arange(3))
    assert np.array_equal(first, second)


def test_random_differs_between_seeds():
    first = RandomRecommender(SPLIT, seed=9).score(np.arange(3))
    second = RandomRecommender(SPLIT, seed=10).score(np.arange(3))
    assert not np.array_equal(first, second)


def test_random_independent_of_batching():
    recommender = RandomRecommender(SPLIT, seed=9)
    together = recommender.score(np.array([0, 1, 2]))
    for user in range(3):
        assert np.array_equal(recommender.score(np.array([user]))[0], together[user])
    # Reversed order gives the same row per user.
    assert np.array_equal(recommender.score(np.array([2, 1, 0])), together[::-1])


def test_random_evaluation_independent_of_batch_size():
    recommender = RandomRecommender(SPLIT, seed=9)
    assert evaluate(recommender.score, SPLIT, ks=(1, 2), batch_size=1) == evaluate(
        recommender.score, SPLIT, ks=(1, 2), batch_size=512
    )
