"""Tests of the ranking and pointwise metrics against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from igtrends.metrics import (
    mean_ranking_metrics,
    pointwise_metrics,
    ranking_metrics_for_user,
    top_k_excluding,
)

# Ranking metrics for one user


def test_recall_at_each_k():
    # Relevant {0, 1, 2, 3, 4}. The ranking [1, 0, 20, 30, 40] hits at ranks 1 and 2
    # only, so the hits at K = 1..5 are 1, 2, 2, 2, 2 out of 5 relevant items.
    relevant = {0, 1, 2, 3, 4}
    ranked = [1, 0, 20, 30, 40]
    expected = {1: 0.2, 2: 0.4, 3: 0.4, 4: 0.4, 5: 0.4}
    for k, recall in expected.items():
        assert ranking_metrics_for_user(ranked, relevant, k)[f"recall@{k}"] == pytest.approx(recall)


def test_precision_is_hits_over_k():
    # Same ranking as above: hits at K = 1..5 are 1, 2, 2, 2, 2, so precision is hits / K.
    relevant = {0, 1, 2, 3, 4}
    ranked = [1, 0, 20, 30, 40]
    expected = {1: 1 / 1, 2: 2 / 2, 3: 2 / 3, 4: 2 / 4, 5: 2 / 5}
    for k, precision in expected.items():
        metrics = ranking_metrics_for_user(ranked, relevant, k)
        assert metrics[f"precision@{k}"] == pytest.approx(precision)


def test_precision_divides_by_k_when_list_is_short():
    # Two items ranked, one hit, K = 5: precision is 1 / 5, not 1 / 2.
    metrics = ranking_metrics_for_user([7, 8], {7}, 5)
    assert metrics["precision@5"] == pytest.approx(0.2)
    assert metrics["recall@5"] == pytest.approx(1.0)


def test_ndcg_small_case():
    # Relevant {10, 11}, ranking [5, 10, 6, 11], K = 4. Hits sit at 1-based ranks 2 and 4,
    # so DCG = 1/log2(3) + 1/log2(5). The ideal list puts both hits at ranks 1 and 2,
    # so IDCG = 1/log2(2) + 1/log2(3) = 1 + 1/log2(3).
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    metrics = ranking_metrics_for_user([5, 10, 6, 11], {10, 11}, 4)
    assert metrics["ndcg@4"] == pytest.approx(dcg / idcg)
    assert metrics["ndcg@4"] == pytest.approx(0.650921, abs=1e-6)


def test_ndcg_ideal_is_capped_at_k():
    # Relevant {1, 2, 3}, ranking [1, 9], K = 2. DCG = 1/log2(2) = 1. The ideal list has
    # min(3, 2) = 2 hits, so IDCG = 1 + 1/log2(3), not the three-hit value.
    metrics = ranking_metrics_for_user([1, 9], {1, 2, 3}, 2)
    assert metrics["ndcg@2"] == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_ndcg_perfect_ranking_is_one():
    metrics = ranking_metrics_for_user([3, 4, 99], {3, 4}, 3)
    assert metrics["ndcg@3"] == pytest.approx(1.0)


def test_average_precision_small_case():
    # Relevant {10, 11}, ranking [5, 10, 6, 11], K = 4. Hits at ranks 2 and 4 give
    # Precision@2 = 1/2 and Precision@4 = 2/4. Their sum 1.0 over min(2, 4) = 2 is 0.5.
    metrics = ranking_metrics_for_user([5, 10, 6, 11], {10, 11}, 4)
    assert metrics["map@4"] == pytest.approx(0.5)


def test_average_precision_normaliser_capped_at_k():
    # Relevant {1, 2, 3}, ranking [1, 2, 9], K = 2. Hits at ranks 1 and 2 give
    # Precision@1 = 1 and Precision@2 = 1. The sum 2 over min(3, 2) = 2 is 1.0.
    metrics = ranking_metrics_for_user([1, 2, 9], {1, 2, 3}, 2)
    assert metrics["map@2"] == pytest.approx(1.0)


def test_no_hits_give_zero():
    metrics = ranking_metrics_for_user([7, 8, 9], {1, 2}, 3)
    for name in ("recall@3", "precision@3", "ndcg@3", "map@3"):
        assert metrics[name] == 0.0


def test_empty_relevant_set_raises():
    with pytest.raises(ValueError, match="relevant is empty"):
        ranking_metrics_for_user([1, 2, 3], set(), 3)


def test_k_below_one_raises():
    with pytest.raises(ValueError, match="k=0"):
        ranking_metrics_for_user([1, 2, 3], {1}, 0)


# Averages over users


def test_mean_skips_users_without_relevant_items():
    # User A: relevant {1}, ranking [1, 2] -> Recall@1 = 1. User B: relevant {3},
    # ranking [1, 2] -> Recall@1 = 0. User C has no relevant items and is skipped, so
    # the mean is (1 + 0) / 2 = 0.5, not (1 + 0 + 0) / 3.
    result = mean_ranking_metrics([[1, 2], [1, 2], [1, 2]], [[1], [3], []], ks=(1,))
    assert result["recall@1"] == pytest.approx(0.5)
    assert result["users_evaluated"] == 2
    assert result["users_skipped"] == 1


def test_mean_ignores_padding():
    # A ranking padded with -1 scores as the list without the padding: relevant {-1}
    # cannot be hit, and relevant {5} is hit at rank 1.
    result = mean_ranking_metrics([[5, -1, -1]], [[5]], ks=(3,))
    assert result["recall@3"] == pytest.approx(1.0)
    assert result["precision@3"] == pytest.approx(1 / 3)


def test_mean_reports_every_k():
    result = mean_ranking_metrics([[1, 2, 3]], [[3]], ks=(1, 3))
    # The single hit is at rank 3: Recall@1 = 0, Recall@3 = 1, NDCG@3 = 1/log2(4) / 1 = 0.5.
    assert result["recall@1"] == 0.0
    assert result["recall@3"] == pytest.approx(1.0)
    assert result["ndcg@3"] == pytest.approx(0.5)


def test_mean_with_all_users_skipped():
    result = mean_ranking_metrics([[1], [2]], [[], []], ks=(1,))
    assert result["users_evaluated"] == 0
    assert result["users_skipped"] == 2
    assert "recall@1" not in result


# Top K with exclusions


def test_top_k_excludes_given_items():
    scores = np.array([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.4]])
    # Row 0 without items 0 and 2 ranks 1 (0.8), 3 (0.1). Row 1 without item 3 ranks
    # 2 (0.3), 1 (0.2).
    top = top_k_excluding(scores, [np.array([0, 2]), np.array([3])], 2)
    assert top.tolist() == [[1, 3], [2, 1]]


def test_top_k_without_exclusions():
    scores = np.array([[0.1, 0.5, 0.3]])
    assert top_k_excluding(scores, None, 3).tolist() == [[1, 2, 0]]


def test_top_k_breaks_ties_by_lower_index():
    # Items 1, 2 and 3 share the top score, so they come in index order.
    scores = np.array([[0.2, 0.9, 0.9, 0.9, 0.1]])
    assert top_k_excluding(scores, None, 4).tolist() == [[1, 2, 3, 0]]


def test_top_k_pads_when_k_exceeds_items():
    scores = np.array([[0.3, 0.6]])
    assert top_k_excluding(scores, None, 4).tolist() == [[1, 0, -1, -1]]


def test_top_k_pads_when_exclusions_leave_too_few():
    # Three items, two excluded: only item 1 is left for K = 3.
    scores = np.array([[0.3, 0.6, 0.9]])
    top = top_k_excluding(scores, [np.array([0, 2])], 3)
    assert top.tolist() == [[1, -1, -1]]


def test_top_k_does_not_modify_scores():
    scores = np.array([[0.3, 0.6, 0.9]])
    top_k_excluding(scores, [np.array([2])], 2)
    assert scores.tolist() == [[0.3, 0.6, 0.9]]


# Pointwise metrics


def test_pointwise_confusion_matrix():
    # Positives score 0.9, 0.6, 0.3 and negatives 0.7, 0.4, 0.2, 0.1, 0.05. At threshold
    # 0.5: TP = 2 (0.9, 0.6), FN = 1 (0.3), FP = 1 (0.7), TN = 4.
    labels = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    scores = np.array([0.9, 0.6, 0.3, 0.7, 0.4, 0.2, 0.1, 0.05])
    metrics = pointwise_metrics(labels, scores)
    assert metrics["accuracy"] == pytest.approx(6 / 8)
    assert metrics["precision"] == pytest.approx(2 / 3)
    assert metrics["recall"] == pytest.approx(2 / 3)
    # F1 = 2PR / (P + R) with P = R = 2/3.
    assert metrics["f1"] == pytest.approx(2 / 3)
    assert metrics["specificity"] == pytest.approx(4 / 5)


def test_pointwise_roc_auc_counts_concordant_pairs():
    # 3 positives x 5 negatives = 15 pairs. Positive 0.9 beats all 5 negatives, 0.6 beats
    # 4 (not 0.7), 0.3 beats 3 (0.2, 0.1, 0.05). AUC = (5 + 4 + 3) / 15 = 0.8.
    labels = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    scores = np.array([0.9, 0.6, 0.3, 0.7, 0.4, 0.2, 0.1, 0.05])
    assert pointwise_metrics(labels, scores)["roc_auc"] == pytest.approx(0.8)


def test_pointwise_roc_auc_counts_ties_as_half():
    # The pair (pos 0.8, neg 0.4) is concordant and (pos 0.4, neg 0.4) is a tie worth 1/2.
    # AUC = (1 + 0.5) / 2 = 0.75.
    labels = np.array([1, 1, 0])
    scores = np.array([0.8, 0.4, 0.4])
    assert pointwise_metrics(labels, scores)["roc_auc"] == pytest.approx(0.75)


def test_pointwise_threshold_is_inclusive():
    # A score equal to the threshold predicts a positive: TP = 1, TN = 1.
    metrics = pointwise_metrics(np.array([1, 0]), np.array([0.5, 0.2]), threshold=0.5)
    assert metrics["accuracy"] == pytest.approx(1.0)
    assert metrics["recall"] == pytest.approx(1.0)


def test_pointwise_single_class_gives_nan_auc():
    metrics = pointwise_metrics(np.array([1, 1]), np.array([0.9, 0.2]))
    assert math.isnan(metrics["roc_auc"])
    assert math.isnan(metrics["specificity"])
    assert metrics["recall"] == pytest.approx(0.5)


# Ties in the scores and users with no test items, end to end


def test_tie_at_cutoff_takes_lower_index():
    # Items 2 and 3 tie at 0.5 for the second place; item 2 has the lower index, so the
    # top 2 is [0, 2]. Relevant {3} is then missed: Recall@2 = 0, NDCG@2 = 0, AP@2 = 0.
    scores = np.array([[0.9, 0.1, 0.5, 0.5]])
    top = top_k_excluding(scores, None, 2)
    assert top.tolist() == [[0, 2]]
    result = mean_ranking_metrics(top, [[3]], ks=(2,))
    assert result["recall@2"] == 0.0
    assert result["ndcg@2"] == 0.0
    assert result["map@2"] == 0.0


def test_all_tied_scores_rank_by_index():
    # Every score is equal, so the ranking is [0, 1, 2, 3]. Relevant {1, 3} gives hits at
    # 0-based ranks 1 and 3: DCG@4 = 1/log2(3) + 1/log2(5), IDCG@4 = 1 + 1/log2(3);
    # AP@4 = (1/2 + 2/4) / 2 = 0.5; Precision@4 = 2/4.
    top = top_k_excluding(np.zeros((1, 4)), None, 4)
    result = mean_ranking_metrics(top, [[1, 3]], ks=(4,))
    expected_ndcg = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert result["ndcg@4"] == pytest.approx(expected_ndcg)
    assert result["map@4"] == pytest.approx(0.5)
    assert result["precision@4"] == pytest.approx(0.5)


def test_map_skips_users_without_relevant_items():
    # User A: relevant {2}, ranking [1, 2] -> AP@2 = (1/2) / 1 = 0.5. User B: relevant
    # {1}, ranking [1, 2] -> AP@2 = 1. User C has no relevant items and is skipped, so
    # MAP@2 = (0.5 + 1) / 2 = 0.75, not 1.5 / 3.
    result = mean_ranking_metrics([[1, 2], [1, 2], [1, 2]], [[2], [1], []], ks=(2,))
    assert result["map@2"] == pytest.approx(0.75)
    assert result["ndcg@2"] == pytest.approx((1 / math.log2(3) + 1.0) / 2)
    assert result["users_skipped"] == 1
