"""Retrieval losses for the two towers, as plain TensorFlow functions.

The in-batch softmax treats the other candidates of a batch as negatives for each query.
Popular items appear in more batches, so they are pushed down more often than a full
softmax would push them. Subtracting the log of each item's sampling probability from
its logit removes that bias. This is the logQ correction of Yi et al.,
"Sampling-bias-corrected neural modeling for large corpus item recommendations"
(RecSys 2019).
"""

from __future__ import annotations

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
