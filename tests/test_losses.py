"""Tests of the in-batch softmax and sampled binary cross-entropy losses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from igtrends.losses import (
    batch_columns,
    in_batch_logits,
    in_batch_softmax_loss,
    sampled_binary_cross_entropy,
    weighted_softmax_loss,
)

# A batch of three pairs (u1, P), (u2, Q), (u3, P): item P appears in rows 0 and 2.
QUERIES = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
CANDIDATES = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
CANDIDATE_IDS = np.array([7, 3, 7], dtype=np.int64)
# QUERIES @ CANDIDATES.T, worked out row by row:
#   u1 = [1, 0]     against P, Q, P: 1, 0, 1
#   u2 = [0, 1]     against P, Q, P: 0, 1, 0
#   u3 = [0.6, 0.8] against P, Q, P: 0.6, 0.8, 0.6
DOT_PRODUCTS = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.6, 0.8, 0.6]])


def logits(temperature=0.5, log_q=None, mask_duplicates=True) -> np.ndarray:
    result = in_batch_logits(
        tf.constant(QUERIES),
        tf.constant(CANDIDATES),
        tf.constant(CANDIDATE_IDS),
        temperature,
        None if log_q is None else tf.constant(log_q, dtype=tf.float32),
        mask_duplicates,
    )
    return result.numpy()


def numpy_softmax_cross_entropy(matrix: np.ndarray) -> float:
    """Mean of -log softmax(row i)[i] over the rows, in float64."""
    shifted = matrix - matrix.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-np.mean(np.diag(log_probabilities)))


# Masking of duplicate items


def test_duplicate_item_gets_zero_probability():
    probabilities = tf.nn.softmax(logits()).numpy()
    # Row 0 (u1, P) must not treat row 2's P as a negative, and the reverse.
    assert probabilities[0, 2] == 0.0
    assert probabilities[2, 0] == 0.0


def test_masking_keeps_diagonal_and_other_items():
    # Temperature 0.5 doubles the dot products: the diagonal is 2, 2, 1.2 and the
    # off-diagonal entries of different items are unchanged.
    masked = logits()
    assert np.diag(masked) == pytest.approx([2.0, 2.0, 1.2])
    assert masked[0, 1] == pytest.approx(0.0)
    assert masked[2, 1] == pytest.approx(1.6)
    assert masked[1, 0] == pytest.approx(0.0)
    assert masked[1, 2] == pytest.approx(0.0)


def test_without_masking_duplicates_stay():
    unmasked = logits(mask_duplicates=False)
    assert unmasked[0, 2] == pytest.approx(2.0)
    assert unmasked[2, 0] == pytest.approx(1.2)
    probabilities = tf.nn.softmax(unmasked).numpy()
    assert probabilities[0, 2] > 0.0
    assert probabilities[2, 0] > 0.0


# Log sampling probability correction


def test_logq_subtracts_log_q_per_column():
    # Sampling probabilities q = [0.5, 0.25, 0.5] per column. Column j loses log q_j:
    #   row 0, column 1: 0 / 0.5 - log 0.25 = log 4
    #   row 1, column 0: 0 / 0.5 - log 0.5 = log 2
    #   row 1, column 1 (diagonal): 1 / 0.5 - log 0.25 = 2 + log 4
    log_q = np.log([0.5, 0.25, 0.5])
    corrected = logits(log_q=log_q, mask_duplicates=False)
    assert corrected[0, 1] == pytest.approx(math.log(4), rel=1e-6)
    assert corrected[1, 0] == pytest.approx(math.log(2), rel=1e-6)
    assert corrected[1, 1] == pytest.approx(2 + math.log(4), rel=1e-6)


def test_logq_matches_shifted_plain_logits():
    log_q = np.log([0.5, 0.25, 0.5])
    plain = logits(mask_duplicates=False)
    corrected = logits(log_q=log_q, mask_duplicates=False)
    np.testing.assert_allclose(corrected, plain - log_q[np.newaxis, :], rtol=1e-6)


def test_logq_leaves_masked_entries_masked():
    log_q = np.log([0.5, 0.25, 0.5])
    probabilities = tf.nn.softmax(logits(log_q=log_q)).numpy()
    assert probabilities[0, 2] == 0.0
    assert probabilities[2, 0] == 0.0


# Temperature


def test_temperature_divides_dot_products():
    for temperature in (1.0, 0.5, 0.1):
        expected = DOT_PRODUCTS / temperature
        np.testing.assert_allclose(
            logits(temperature=temperature, mask_duplicates=False), expected, rtol=1e-6
        )


def test_halving_temperature_doubles_logits():
    np.testing.assert_allclose(
        logits(temperature=0.25, mask_duplicates=False),
        2 * logits(temperature=0.5, mask_duplicates=False),
        rtol=1e-6,
    )


# Softmax loss value


def test_loss_matches_numpy_with_masking():
    # The masked logits at temperature 0.5, with -inf for the masked entries, are
    #   row 0: [2, 0, -inf], row 1: [0, 2, 0], row 2: [-inf, 1.6, 1.2].
    # The per-row losses are log(1 + e^-2), log(1 + 2 e^-2) and log(1 + e^0.4).
    masked = DOT_PRODUCTS / 0.5
    masked[0, 2] = -np.inf
    masked[2, 0] = -np.inf
    expected = numpy_softmax_cross_entropy(masked)
    closed_form = np.mean(
        [math.log(1 + math.exp(-2)), math.log(1 + 2 * math.exp(-2)), math.log(1 + math.exp(0.4))]
    )
    assert expected == pytest.approx(closed_form)

    loss = in_batch_softmax_loss(
        tf.constant(QUERIES), tf.constant(CANDIDATES), tf.constant(CANDIDATE_IDS), 0.5
    )
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_loss_matches_numpy_without_masking():
    expected = numpy_softmax_cross_entropy(DOT_PRODUCTS / 0.5)
    loss = in_batch_softmax_loss(
        tf.constant(QUERIES),
        tf.constant(CANDIDATES),
        tf.constant(CANDIDATE_IDS),
        0.5,
        mask_duplicates=False,
    )
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_loss_matches_numpy_with_logq():
    log_q = np.log([0.5, 0.25, 0.5])
    expected = numpy_softmax_cross_entropy(DOT_PRODUCTS / 0.5 - log_q[np.newaxis, :])
    loss = in_batch_softmax_loss(
        tf.constant(QUERIES),
        tf.constant(CANDIDATES),
        tf.constant(CANDIDATE_IDS),
        0.5,
        tf.constant(log_q, dtype=tf.float32),
        mask_duplicates=False,
    )
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_loss_changes_with_temperature():
    arguments = (tf.constant(QUERIES), tf.constant(CANDIDATES), tf.constant(CANDIDATE_IDS))
    expected = numpy_softmax_cross_entropy(DOT_PRODUCTS / 0.1)
    loss = in_batch_softmax_loss(*arguments, 0.1, mask_duplicates=False)
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert float(loss) != pytest.approx(float(in_batch_softmax_loss(*arguments, 1.0, mask_duplicates=False)))


# Binary cross-entropy on sampled negatives


def test_sampled_bce_value():
    # Label 1 with logit x costs log(1 + e^-x), and label 0 costs log(1 + e^x).
    # Positive 2.0 gives log(1 + e^-2). Negatives -1.0 and 0.0 give log(1 + e^-1) and log 2.
    expected = np.mean([math.log(1 + math.exp(-2)), math.log(1 + math.exp(-1)), math.log(2)])
    loss = sampled_binary_cross_entropy(tf.constant([2.0]), tf.constant([[-1.0, 0.0]]))
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_sampled_bce_at_zero_logits_is_log_two():
    loss = sampled_binary_cross_entropy(tf.zeros([4]), tf.zeros([4, 3]))
    assert float(loss) == pytest.approx(math.log(2), rel=1e-6)


def test_extra_negative_equal_to_positive_masked():
    # Rows (u1, P) and (u2, Q) plus extra negatives P and R. For u1 the extra P is its
    # own positive and must get no probability, but for u2 it is a true negative.
    queries = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    candidates = tf.constant([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.6, 0.8]])
    ids = tf.constant([7, 3, 7, 9], dtype=tf.int64)
    result = in_batch_logits(queries, candidates, ids, temperature=1.0).numpy()
    probabilities = tf.nn.softmax(result).numpy()
    assert result.shape == (2, 4)
    assert probabilities[0, 2] == 0.0
    assert probabilities[0, 0] > 0.0
    assert result[1, 2] == pytest.approx(0.0)
    assert result[1, 3] == pytest.approx(0.8)


# One column per distinct item


def reference_and_weighted(use_log_q: bool, mask: bool, extra: bool, seed: int = 0):
    """Both formulations of one batch with repeated items, as float pairs."""
    rng = np.random.default_rng(seed)
    n_items, batch, n_extra, dim = 12, 40, 7, 5
    item_vectors = rng.normal(size=(n_items, dim)).astype(np.float32)
    queries = rng.normal(size=(batch, dim)).astype(np.float32)
    ids = rng.integers(0, n_items, batch)
    extra_ids = rng.integers(0, n_items, n_extra)
    log_q = np.log(rng.dirichlet(np.ones(n_items))).astype(np.float32)
    if extra:
        candidate_ids = np.concatenate([ids, extra_ids])
        # An in-batch copy is expected batch * q_j times and an extra one n_extra / n_items.
        log_probability = np.concatenate([log_q[ids] + np.log(batch), np.full(n_extra, np.log(n_extra / n_items))])
    else:
        candidate_ids = ids
        log_probability = log_q[ids]
    reference = in_batch_softmax_loss(
        queries, item_vectors[candidate_ids], candidate_ids, 0.3,
        log_probability.astype(np.float32) if use_log_q else None, mask,
    )  # fmt: skip
    columns = batch_columns(
        tf.constant(ids), tf.constant(extra_ids) if extra else None,
        tf.constant(log_q) if use_log_q else None, n_items,
    )  # fmt: skip
    weighted = weighted_softmax_loss(queries, tf.gather(item_vectors, columns.ids), columns, 0.3, mask)
    return float(reference), float(weighted), columns, ids


@pytest.mark.parametrize("use_log_q", [False, True])
@pytest.mark.parametrize("mask", [False, True])
@pytest.mark.parametrize("extra", [False, True])
def test_weighted_columns_match_masked_loss(use_log_q, mask, extra):
    reference, weighted, _, _ = reference_and_weighted(use_log_q, mask, extra)
    assert weighted == pytest.approx(reference, rel=1e-5)


def test_batch_columns_list_each_item_once():
    _, _, columns, ids = reference_and_weighted(False, True, False)
    distinct = columns.ids.numpy()
    assert len(distinct) == len(set(distinct.tolist()))
    assert set(distinct.tolist()) == set(ids.tolist())
    np.testing.assert_array_equal(distinct[columns.positive_columns.numpy()], ids)
    # Without the correction, a column's weight is its number of copies.
    copies = np.array([np.sum(ids == item) for item in distinct])
    np.testing.assert_allclose(np.exp(columns.log_weights.numpy()), copies, rtol=1e-6)


def test_weighted_loss_by_hand():
    # Rows (u1, P), (u2, Q), (u3, P) as in QUERIES, no correction, temperature 1.
    # Columns P (2 copies) and Q (1 copy). Masking keeps one copy of P for rows 0 and 2:
    #   row 0: logits P = 1 + log 1 (own copy), Q = 0 -> log(e^1 + e^0) - 1
    #   row 1: P counts twice, Q = 1           -> log(2 e^0 + e^1) - 1
    #   row 2: P = 0.6 (own copy), Q = 0.8     -> log(e^0.6 + e^0.8) - 0.6
    expected = np.mean(
        [
            math.log(math.e + 1) - 1,
            math.log(2 + math.e) - 1,
            math.log(math.exp(0.6) + math.exp(0.8)) - 0.6,
        ]
    )
    columns = batch_columns(tf.constant(CANDIDATE_IDS))
    vectors = tf.constant([[1.0, 0.0], [0.0, 1.0]])  # P then Q, in order of first appearance
    loss = weighted_softmax_loss(tf.constant(QUERIES), vectors, columns, 1.0)
    assert float(loss) == pytest.approx(expected, rel=1e-6)
