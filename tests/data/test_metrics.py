"""The NumPy metrics against scikit-learn and SciPy."""

import numpy as np
import pytest

from bert_keras.data import metrics
from bert_keras.errors import DataError

sklearn_metrics = pytest.importorskip("sklearn.metrics")
stats = pytest.importorskip("scipy.stats")

SEEDS = range(20)


def random_classes(seed, num_classes=2, size=None):
    rng = np.random.default_rng(seed)
    size = size or int(rng.integers(2, 300))
    labels = rng.integers(0, num_classes, size)
    # Correlated with the labels, so the scores are not all near 0.
    flip = rng.random(size) < rng.uniform(0.05, 0.6)
    predictions = np.where(flip, rng.integers(0, num_classes, size), labels)
    return labels, predictions


@pytest.mark.parametrize("seed", SEEDS)
def test_classification_metrics_match_sklearn(seed):
    labels, predictions = random_classes(seed)
    assert metrics.accuracy(labels, predictions) == pytest.approx(sklearn_metrics.accuracy_score(labels, predictions))
    assert metrics.f1(labels, predictions) == pytest.approx(sklearn_metrics.f1_score(labels, predictions))
    assert metrics.matthews_corrcoef(labels, predictions) == pytest.approx(
        sklearn_metrics.matthews_corrcoef(labels, predictions)
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_multiclass_matthews_matches_sklearn(seed):
    labels, predictions = random_classes(seed, num_classes=3)
    assert metrics.matthews_corrcoef(labels, predictions) == pytest.approx(
        sklearn_metrics.matthews_corrcoef(labels, predictions)
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_correlations_match_scipy(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(2, 300))
    labels = rng.uniform(0, 5, size)
    predictions = labels + rng.normal(0, rng.uniform(0.1, 3), size)
    if seed % 2:
        # STS-B gold scores come in steps of 0.2 and models often saturate:
        # plenty of ties on both sides.
        labels = np.round(labels * 5) / 5
        predictions = np.clip(np.round(predictions), 0, 5)
    assert metrics.pearson(labels, predictions) == pytest.approx(stats.pearsonr(labels, predictions)[0], abs=1e-12)
    assert metrics.spearman(labels, predictions) == pytest.approx(stats.spearmanr(labels, predictions)[0], abs=1e-12)


def test_spearman_average_ranks_for_ties():
    labels = [1, 2, 2, 3, 3, 3]
    predictions = [6, 5, 5, 4, 4, 1]
    assert metrics.spearman(labels, predictions) == pytest.approx(stats.spearmanr(labels, predictions)[0])


def test_constant_inputs_follow_sklearn_and_scipy():
    labels = np.array([0, 1, 1, 0, 1])
    constant = np.ones(5, dtype=int)
    # Matthews: 0.0 when undefined (scikit-learn).
    assert metrics.matthews_corrcoef(labels, constant) == 0.0
    assert sklearn_metrics.matthews_corrcoef(labels, constant) == 0.0
    assert metrics.matthews_corrcoef(constant, constant) == 0.0
    # F1 without any positive: 0.0 (scikit-learn's default).
    zeros = np.zeros(5, dtype=int)
    assert metrics.f1(zeros, zeros) == 0.0
    # Correlations: nan (SciPy).
    assert np.isnan(metrics.pearson(labels, constant))
    assert np.isnan(metrics.spearman(constant, labels))
    with pytest.warns(stats.ConstantInputWarning):
        assert np.isnan(stats.pearsonr(labels, constant)[0])


def test_nan_propagates_to_correlations():
    assert np.isnan(metrics.pearson([1.0, 2.0, np.nan], [1.0, 2.0, 3.0]))
    assert np.isnan(metrics.spearman([1.0, 2.0, 3.0], [np.nan, 2.0, 3.0]))


def test_extreme_scales_do_not_overflow():
    for scale in (1e200, 1e-200):
        x = np.array([1.0, 2.0, 4.0]) * scale
        assert metrics.pearson(x, x[::-1]) == pytest.approx(stats.pearsonr([1, 2, 4], [4, 2, 1])[0])


@pytest.mark.parametrize("function", [metrics.accuracy, metrics.f1, metrics.matthews_corrcoef, metrics.pearson, metrics.spearman])
def test_bad_inputs(function):
    with pytest.raises(DataError, match="zero examples"):
        function([], [])
    with pytest.raises(DataError, match="differ in length: 3 labels, 2 predictions"):
        function([1, 0, 1], [1, 0])
    with pytest.raises(DataError, match="must be 1-D"):
        function([[1, 0]], [[1, 0]])


def test_correlations_need_two_examples():
    with pytest.raises(DataError, match="at least 2"):
        metrics.pearson([1.0], [1.0])


@pytest.mark.parametrize(
    "task, keys",
    [
        ("cola", {"matthews_corrcoef"}),
        ("STS-B", {"pearson", "spearman", "corr"}),
        ("mrpc", {"accuracy", "f1"}),
        ("qqp", {"accuracy", "f1"}),
        ("sst2", {"accuracy"}),
        ("mnli", {"accuracy"}),
        ("mnli-mm", {"accuracy"}),
        ("qnli", {"accuracy"}),
        ("rte", {"accuracy"}),
        ("wnli", {"accuracy"}),
        ("xnli", {"accuracy"}),
        ("ax", {"matthews_corrcoef"}),
    ],
)
def test_glue_metrics_keys(task, keys):
    labels, predictions = random_classes(7, num_classes=3 if task in ("mnli", "mnli-mm", "xnli", "ax") else 2)
    result = metrics.glue_metrics(task, labels, predictions)
    assert set(result) == keys
    assert all(isinstance(value, float) for value in result.values())


def test_glue_metrics_values():
    labels, predictions = random_classes(3)
    result = metrics.glue_metrics("qqp", labels, predictions)
    assert result == {"accuracy": metrics.accuracy(labels, predictions), "f1": metrics.f1(labels, predictions)}
    scores = np.linspace(0, 5, 50)
    result = metrics.glue_metrics("stsb", scores, scores**2)
    assert result["spearman"] == pytest.approx(1.0)
    assert result["corr"] == pytest.approx((result["pearson"] + 1.0) / 2)


def test_glue_metrics_unknown_task():
    with pytest.raises(DataError, match="Unknown GLUE task"):
        metrics.glue_metrics("squad", [1], [1])
