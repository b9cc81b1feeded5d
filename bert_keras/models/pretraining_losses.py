"""The losses of the original `run_pretraining.py`, in `keras.ops`.

`get_masked_lm_output` and `get_next_sentence_output` there compute a log
softmax, the negative log likelihood of each label, and reduce it: the
masked-LM loss is weighted by `masked_lm_weights` and divided by their sum
plus 1e-5 (so padded prediction slots count for nothing and an example
without predictions gives 0, not NaN); the next-sentence loss is the mean
over examples.
"""

from keras import ops


def negative_log_likelihood(logits, labels):
    """`-log softmax(logits)[label]`, in float32, for each label."""
    log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    labels = ops.cast(labels, "int32")[..., None]
    return -ops.take_along_axis(log_probs, labels, axis=-1)[..., 0]


def masked_lm_loss(logits, labels, weights):
    """`sum(w * nll) / (sum(w) + 1e-5)` over every prediction slot.

    Args:
        logits: `[batch, predictions, vocabulary]`.
        labels: `[batch, predictions]` token ids (`masked_lm_ids`).
        weights: `[batch, predictions]`, 1.0 for real predictions and 0.0
            for padding (`masked_lm_weights`).

    Returns:
        `(loss, per_position_nll)`.
    """
    nll = negative_log_likelihood(logits, labels)
    weights = ops.cast(weights, "float32")
    loss = ops.sum(weights * nll) / (ops.sum(weights) + 1e-5)
    return loss, nll


def next_sentence_loss(logits, labels):
    """The mean negative log likelihood of the is-random-next labels.

    Args:
        logits: `[batch, 2]`.
        labels: `[batch]` or `[batch, 1]`; 1 when sentence B is random.

    Returns:
        `(loss, per_example_nll)`.
    """
    nll = negative_log_likelihood(logits, ops.reshape(labels, (-1,)))
    return ops.mean(nll), nll
