"""The official GLUE metrics, in plain NumPy.

Each function takes gold labels and predictions as anything NumPy can turn
into a 1-D array of equal length, and returns a Python `float`. The results
match scikit-learn (`accuracy_score`, `f1_score`, `matthews_corrcoef`) and
SciPy (`pearsonr`, `spearmanr`), including their edge cases:

- `matthews_corrcoef` is 0.0 when it is undefined (all labels or all
  predictions in one class), as in scikit-learn.
- `f1` is 0.0 when there is no positive label and no positive prediction,
  as scikit-learn's default.
- `pearson` and `spearman` are `nan` when either input is constant (its
  correlation is undefined), and `nan` when an input holds `nan`, as SciPy.

Empty inputs, inputs of different lengths and inputs that are not 1-D raise
`bert_keras.errors.DataError`: an evaluation over nothing is a bug upstream,
not a score.
"""

from __future__ import annotations

import numpy as np

from bert_keras.errors import DataError

__all__ = [
    "accuracy",
    "f1",
    "matthews_corrcoef",
    "pearson",
    "spearman",
    "glue_metrics",
    "metric_names",
]

# The metrics GLUE reports on each task's dev set, keyed by canonical task
# name (see `bert_keras.data.glue.TASKS`). STS-B's "corr" is the mean of
# Pearson and Spearman, the number GLUE averages into its overall score. AX
# (the diagnostic set) is scored by GLUE with Matthews' correlation over its
# three classes.
_TASK_METRICS = {
    "cola": ("matthews_corrcoef",),
    "sst-2": ("accuracy",),
    "mrpc": ("accuracy", "f1"),
    "sts-b": ("pearson", "spearman", "corr"),
    "qqp": ("accuracy", "f1"),
    "mnli": ("accuracy",),
    "mnli-mm": ("accuracy",),
    "qnli": ("accuracy",),
    "rte": ("accuracy",),
    "wnli": ("accuracy",),
    "ax": ("matthews_corrcoef",),
    "xnli": ("accuracy",),
}


def _pair(labels, predictions, *, numeric=False):
    """Both inputs as 1-D arrays of one length, or a `DataError`."""
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    for name, array in (("labels", labels), ("predictions", predictions)):
        if array.ndim != 1:
            raise DataError(f"{name} must be 1-D, got shape {array.shape}.")
        if numeric and not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
            raise DataError(f"{name} must be numbers, got dtype {array.dtype}.")
    if labels.shape != predictions.shape:
        raise DataError(
            f"labels and predictions differ in length: {labels.shape[0]} "
            f"labels, {predictions.shape[0]} predictions."
        )
    if labels.size == 0:
        raise DataError("Cannot compute a metric over zero examples.")
    return labels, predictions


def accuracy(labels, predictions):
    """The fraction of predictions equal to their label.

    Args:
        labels: 1-D array-like of gold class indices (or any comparable ids).
        predictions: 1-D array-like of predicted ones, same length.

    Returns:
        A float in [0, 1].

    Example:
    >>> accuracy([0, 1, 1, 0], [0, 1, 0, 0])
    0.75
    """
    labels, predictions = _pair(labels, predictions)
    return float(np.mean(labels == predictions))


def f1(labels, predictions):
    """Binary F1 score of the positive class 1, as GLUE scores MRPC and QQP.

    F1 = 2·TP / (2·TP + FP + FN). Without any positive label or prediction it
    is undefined; like scikit-learn's default, this returns 0.0 then.

    Args:
        labels: 1-D array-like of gold labels, 1 for positive.
        predictions: 1-D array-like of predicted labels, same length. Any
            value other than 1 counts as negative.

    Returns:
        A float in [0, 1].

    Example:
    >>> f1([1, 1, 0, 0], [1, 0, 1, 0])
    0.5
    """
    labels, predictions = _pair(labels, predictions)
    gold = labels == 1
    predicted = predictions == 1
    true_positives = np.sum(gold & predicted)
    denominator = np.sum(gold) + np.sum(predicted)
    if denominator == 0:
        return 0.0
    return float(2 * true_positives / denominator)


def matthews_corrcoef(labels, predictions):
    """Matthews correlation coefficient, GLUE's metric for CoLA (and AX).

    Works for any number of classes (Gorodkin's multiclass form, which is the
    usual formula for two classes). When every label or every prediction is
    the same class the coefficient is undefined; like scikit-learn, this
    returns 0.0 then, which is what a constant classifier deserves.

    Args:
        labels: 1-D array-like of gold class ids.
        predictions: 1-D array-like of predicted class ids, same length.

    Returns:
        A float in [-1, 1].

    Example:
    >>> round(matthews_corrcoef([1, 1, 0, 0, 1], [1, 0, 0, 0, 1]), 4)
    0.6667
    >>> matthews_corrcoef([1, 0, 1], [1, 1, 1])
    0.0
    """
    labels, predictions = _pair(labels, predictions)
    classes, codes = np.unique(np.concatenate([labels, predictions]), return_inverse=True)
    codes = codes.reshape(-1)
    n = labels.shape[0]
    confusion = np.zeros((classes.size, classes.size), dtype=np.float64)
    np.add.at(confusion, (codes[:n], codes[n:]), 1.0)
    gold_counts = confusion.sum(axis=1)
    predicted_counts = confusion.sum(axis=0)
    correct = np.trace(confusion)
    total = float(n)
    covariance = correct * total - gold_counts @ predicted_counts
    gold_spread = total * total - gold_counts @ gold_counts
    predicted_spread = total * total - predicted_counts @ predicted_counts
    if gold_spread * predicted_spread == 0:
        return 0.0
    return float(covariance / np.sqrt(gold_spread * predicted_spread))


def pearson(labels, predictions):
    """Pearson's correlation coefficient, one of GLUE's STS-B metrics.

    `nan` when either input is constant or holds `nan` (as SciPy's
    `pearsonr`).

    Args:
        labels: 1-D array-like of gold scores.
        predictions: 1-D array-like of predicted scores, same length, at
            least 2.

    Returns:
        A float in [-1, 1], or `nan`.

    Example:
    >>> pearson([1.0, 2.0, 3.0], [2.0, 4.0, 7.0])
    0.9933992677987828
    """
    labels, predictions = _pair(labels, predictions, numeric=True)
    if labels.shape[0] < 2:
        raise DataError("A correlation needs at least 2 examples, got 1.")
    x = labels.astype(np.float64)
    y = predictions.astype(np.float64)
    if np.isnan(x).any() or np.isnan(y).any():
        return float("nan")
    # SciPy's test for "constant": exact equality, not a small variance.
    if (x == x[0]).all() or (y == y[0]).all():
        return float("nan")
    x = x - x.mean()
    y = y - y.mean()
    # Scaling to a maximum of 1 before taking norms keeps the squares from
    # overflowing (or underflowing) for very large (or tiny) scores.
    x /= np.abs(x).max()
    y /= np.abs(y).max()
    x /= np.linalg.norm(x)
    y /= np.linalg.norm(y)
    return float(np.clip(x @ y, -1.0, 1.0))


def _average_ranks(values):
    """1-based ranks, ties sharing the mean of the ranks they span."""
    _, codes, counts = np.unique(values, return_inverse=True, return_counts=True)
    last_rank = np.cumsum(counts)
    return (last_rank - (counts - 1) / 2.0)[codes.reshape(-1)]


def spearman(labels, predictions):
    """Spearman's rank correlation, one of GLUE's STS-B metrics.

    The Pearson correlation of the ranks, tied values sharing their average
    rank (as SciPy's `spearmanr`). `nan` when either input is constant or
    holds `nan`.

    Args:
        labels: 1-D array-like of gold scores.
        predictions: 1-D array-like of predicted scores, same length, at
            least 2.

    Returns:
        A float in [-1, 1], or `nan`.

    Example:
    >>> spearman([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 9.0, 27.0])
    1.0
    >>> round(spearman([1, 2, 2, 3], [1, 3, 2, 4]), 4)
    0.9487
    """
    labels, predictions = _pair(labels, predictions, numeric=True)
    if labels.shape[0] < 2:
        raise DataError("A correlation needs at least 2 examples, got 1.")
    x = labels.astype(np.float64)
    y = predictions.astype(np.float64)
    if np.isnan(x).any() or np.isnan(y).any():
        return float("nan")
    return pearson(_average_ranks(x), _average_ranks(y))


def metric_names(task_name):
    """The names of the metrics `glue_metrics` returns for a task.

    Args:
        task_name: a GLUE task name, as accepted by
            `bert_keras.data.glue.get_task` (case-insensitive, "sst2" or
            "sst-2", ...).

    Returns:
        A tuple of metric names.

    Example:
    >>> metric_names("STS-B")
    ('pearson', 'spearman', 'corr')
    """
    from bert_keras.data.glue import canonical_task_name

    return _TASK_METRICS[canonical_task_name(task_name)]


def glue_metrics(task_name, labels, predictions):
    """The official GLUE metrics of one task.

    - CoLA: `matthews_corrcoef`.
    - STS-B: `pearson`, `spearman`, and `corr`, their mean.
    - MRPC, QQP: `accuracy` and `f1` (positive class 1, "equivalent" /
      "duplicate").
    - AX: `matthews_corrcoef` over its three classes.
    - SST-2, MNLI, MNLI-mm, QNLI, RTE, WNLI, XNLI: `accuracy`.

    Args:
        task_name: a GLUE task name, as accepted by
            `bert_keras.data.glue.get_task`.
        labels: 1-D array-like of gold class indices (scores for STS-B).
        predictions: 1-D array-like of predicted class indices (scores for
            STS-B), same length.

    Returns:
        A dict from metric name to float.

    Example:
    >>> glue_metrics("mrpc", [1, 1, 0, 0], [1, 0, 1, 0])
    {'accuracy': 0.5, 'f1': 0.5}
    >>> glue_metrics("cola", [1, 1, 0, 0], [1, 1, 0, 1])
    {'matthews_corrcoef': 0.5773502691896258}
    """
    results = {}
    for name in metric_names(task_name):
        if name == "corr":
            results[name] = (results["pearson"] + results["spearman"]) / 2.0
        else:
            results[name] = _FUNCTIONS[name](labels, predictions)
    return results


_FUNCTIONS = {
    "accuracy": accuracy,
    "f1": f1,
    "matthews_corrcoef": matthews_corrcoef,
    "pearson": pearson,
    "spearman": spearman,
}
