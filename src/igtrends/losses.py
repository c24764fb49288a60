"""Retrieval losses for the two towers, as plain TensorFlow functions.

The in-batch softmax treats the other candidates of a batch as negatives for each query.
Popular items appear in more batches, so they are pushed down more often than a full
softmax would push them. Subtracting the log of each item's sampling probability from
its logit removes that bias. This is the logQ correction of Yi et al.,
"Sampling-bias-corrected neural modeling for large corpus item recommendations"
(RecSys 2019).
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

# Logit given to masked entries. exp(MASKED_LOGIT - max) underflows to exactly 0 in
# float32, so a masked candidate gets no probability at all, unlike adding a small number.
MASKED_LOGIT = -1e9


def in_batch_logits(
    queries: tf.Tensor,
    candidates: tf.Tensor,
    candidate_ids: tf.Tensor,
    temperature: float,
    log_sampling_probability: tf.Tensor | None = None,
    mask_duplicates: bool = True,
) -> tf.Tensor:
    """Return the [batch, candidates] logits of every query against every candidate.

    Row i's positive is column i. The first ``batch`` candidates are the rows' positives;
    any further candidates are extra negatives, such as uniformly sampled items. Column
    j's logit is ``q_i · c_j / temperature`` minus ``log_sampling_probability[j]`` when
    given. With ``mask_duplicates``, row i masks every column other than i whose
    candidate id equals its own positive id. Such a column is the same item appearing
    twice in the batch, or drawn again as an extra negative. So a positive is never used
    as its own negative.
    """
    logits = tf.matmul(queries, candidates, transpose_b=True) / temperature
    if log_sampling_probability is not None:
        logits = logits - tf.cast(log_sampling_probability, logits.dtype)[tf.newaxis, :]
    if mask_duplicates:
        batch = tf.shape(queries)[0]
        positive_ids = candidate_ids[:batch]
        same_item = tf.equal(positive_ids[:, tf.newaxis], candidate_ids[tf.newaxis, :])
        diagonal = tf.eye(batch, tf.shape(candidate_ids)[0], dtype=tf.bool)
        mask = tf.logical_and(same_item, tf.logical_not(diagonal))
        logits = tf.where(mask, tf.constant(MASKED_LOGIT, logits.dtype), logits)
    return logits


def in_batch_softmax_loss(
    queries: tf.Tensor,
    candidates: tf.Tensor,
    candidate_ids: tf.Tensor,
    temperature: float,
    log_sampling_probability: tf.Tensor | None = None,
    mask_duplicates: bool = True,
) -> tf.Tensor:
    """Return the mean softmax cross-entropy of each query's positive among the batch."""
    logits = in_batch_logits(
        queries, candidates, candidate_ids, temperature, log_sampling_probability, mask_duplicates
    )
    labels = tf.range(tf.shape(logits)[0])
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return tf.reduce_mean(losses)


def sampled_binary_cross_entropy(
    positive_logits: tf.Tensor, negative_logits: tf.Tensor
) -> tf.Tensor:
    """Return the mean binary cross-entropy of positives (label 1) and sampled negatives (0)."""
    logits = tf.concat([tf.reshape(positive_logits, [-1]), tf.reshape(negative_logits, [-1])], 0)
    labels = tf.concat(
        [tf.ones_like(tf.reshape(positive_logits, [-1])), tf.zeros_like(tf.reshape(negative_logits, [-1]))], 0
    )
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


class BatchColumns(NamedTuple):
    """The distinct candidates of a batch and the weights of the softmax over them.

    ``ids`` lists each distinct candidate item once. ``positive_columns[i]`` is the
    column of row i's positive. ``log_weights[j]`` is the log of column j's total weight,
    the sum over its copies in the batch, and ``positive_log_weights[i]`` the log weight
    of row i's own copy of its positive.
    """

    ids: tf.Tensor
    positive_columns: tf.Tensor
    log_weights: tf.Tensor
    positive_log_weights: tf.Tensor


def batch_columns(
    positive_ids: tf.Tensor,
    extra_ids: tf.Tensor | None = None,
    log_sampling_probability: tf.Tensor | None = None,
    n_items: int | None = None,
) -> BatchColumns:
    """Group the candidates of a batch by item, so each item is embedded and scored once.

    A copy of an item among the ``positive_ids`` weighs 1 / (batch * q_j) when
    ``log_sampling_probability`` (log q over all items) is given, and 1 otherwise. A copy
    among the ``extra_ids``, drawn uniformly from ``n_items``, weighs n_items / extra in
    the first case and 1 otherwise. Weighting a column by the sum over its copies gives
    the same softmax as one column per copy, as in :func:`in_batch_logits`, with fewer
    columns.
    """
    if extra_ids is not None and log_sampling_probability is not None and not n_items:
        raise ValueError(
            "missing n_items: extra negatives with the logQ correction need the catalogue "
            "size; pass n_items"
        )
    positive_ids = tf.convert_to_tensor(positive_ids)
    batch = tf.shape(positive_ids)[0]
    if extra_ids is None:
        extra_ids = tf.zeros([0], dtype=positive_ids.dtype)
    n_extra = tf.shape(extra_ids)[0]
    ids, columns = tf.unique(tf.concat([positive_ids, extra_ids], 0))
    n_columns = tf.shape(ids)[0]
    positive_columns = columns[:batch]
    positive_copies = tf.math.unsorted_segment_sum(tf.ones([batch]), positive_columns, n_columns)
    extra_copies = tf.math.unsorted_segment_sum(tf.ones([n_extra]), columns[batch:], n_columns)
    if log_sampling_probability is None:
        positive_log_weights = tf.zeros([batch])
        log_weights = tf.math.log(positive_copies + extra_copies)
    else:
        log_q = tf.cast(tf.gather(log_sampling_probability, ids), tf.float32)
        copy_log_weight = -log_q - tf.math.log(tf.cast(batch, tf.float32))
        extra_log_weight = tf.math.log(float(n_items or 1)) - tf.math.log(
            tf.cast(tf.maximum(n_extra, 1), tf.float32)
        )
        # log(m_b * w_b + m_e * w_e), with log 0 = -inf for an absent source.
        log_weights = tf.reduce_logsumexp(
            tf.stack(
                [
                    tf.math.log(positive_copies) + copy_log_weight,
                    tf.math.log(extra_copies) + extra_log_weight,
                ]
            ),
            axis=0,
        )
        positive_log_weights = tf.gather(copy_log_weight, positive_columns)
    return BatchColumns(ids, positive_columns, log_weights, positive_log_weights)


def weighted_softmax_loss(
    queries: tf.Tensor,
    candidates: tf.Tensor,
    columns: BatchColumns,
    temperature: float,
    mask_duplicates: bool = True,
) -> tf.Tensor:
    """Return the mean softmax cross-entropy of each query's positive over weighted columns.

    ``candidates`` has one embedding per column of ``columns``. Column j's logit is
    ``q_i · c_j / temperature + log_weights[j]``. With ``mask_duplicates``, row i's
    positive column counts only the row's own copy, so the other copies of the same item
    are not negatives. The result equals :func:`in_batch_softmax_loss` over one column
    per copy (tested), at the cost of one column per distinct item.
    """
    similarities = tf.matmul(queries, candidates, transpose_b=True) / temperature
    logits = similarities + columns.log_weights[tf.newaxis, :]
    positive_similarity = tf.gather(similarities, columns.positive_columns[:, tf.newaxis], batch_dims=1)[:, 0]
    positive_logit = positive_similarity + columns.positive_log_weights
    log_partition = tf.reduce_logsumexp(logits, axis=1)
    if mask_duplicates:
        # Remove the other copies' share of the positive column: it is
        # (1 - own weight / column weight) of the column's exp(logit), which is at most
        # exp(log_partition), so the argument of log1p stays above -1.
        column_log_weight = tf.gather(columns.log_weights, columns.positive_columns)
        share = -tf.math.expm1(columns.positive_log_weights - column_log_weight)
        column_logit = positive_similarity + column_log_weight
        log_partition = log_partition + tf.math.log1p(-share * tf.exp(column_logit - log_partition))
    return tf.reduce_mean(log_partition - positive_logit)
