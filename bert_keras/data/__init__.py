"""Fine-tuning data: the GLUE and XNLI tasks and their official metrics.

- `get_task(name)` returns a `GlueTask`, which reads a split of the official
  TSV files into `Example`s or a `tf.data.Dataset` and scores predictions.
- `bert_keras.data.metrics` holds the metrics themselves (NumPy only).
- `load_sentiment_demo()` returns the small sentiment set that ships with
  the package (for `bert-keras demo`).
"""

from bert_keras.data.glue import (
    TASKS,
    XNLI_LANGUAGES,
    Example,
    Examples,
    GlueTask,
    SkippedRow,
    canonical_task_name,
    get_task,
)
from bert_keras.data.sentiment import LABEL_NAMES, load_sentiment_demo
from bert_keras.data.metrics import (
    accuracy,
    f1,
    glue_metrics,
    matthews_corrcoef,
    metric_names,
    pearson,
    spearman,
)

__all__ = [
    "LABEL_NAMES",
    "TASKS",
    "XNLI_LANGUAGES",
    "Example",
    "Examples",
    "GlueTask",
    "SkippedRow",
    "accuracy",
    "canonical_task_name",
    "f1",
    "get_task",
    "glue_metrics",
    "load_sentiment_demo",
    "matthews_corrcoef",
    "metric_names",
    "pearson",
    "spearman",
]
