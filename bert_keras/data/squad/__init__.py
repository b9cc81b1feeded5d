"""SQuAD v1.1 and v2.0: reading, features, post-processing and evaluation.

Each step reproduces Google's `run_squad.py` (and the official evaluation
scripts) exactly, and handles the inputs on which the original crashes:

- `read_squad_examples`: SQuAD JSON to `SquadExample`s.
- `convert_examples_to_features`: examples to windowed `SquadFeature`s,
  streamed; `features_dataset` feeds them to a model through `tf.data`.
- `compute_predictions` and `write_predictions`: model logits to answers,
  n-best lists and SQuAD 2.0 null odds, and their JSON files.
- `evaluate_v1`, `evaluate_v2`, `evaluate_files`: the official metrics.
"""

from bert_keras.data.squad.evaluation import (
    evaluate_files,
    evaluate_v1,
    evaluate_v2,
    format_evaluation,
    normalize_answer,
)
from bert_keras.data.squad.examples import (
    SkippedQuestion,
    SquadExample,
    SquadExamples,
    read_squad_examples,
)
from bert_keras.data.squad.features import (
    SquadFeature,
    convert_examples_to_features,
    features_dataset,
)
from bert_keras.data.squad.postprocessing import (
    NO_SPAN_NULL_ODDS,
    RawResult,
    compute_predictions,
    get_final_text,
    write_predictions,
)

__all__ = [
    "NO_SPAN_NULL_ODDS",
    "RawResult",
    "SkippedQuestion",
    "SquadExample",
    "SquadExamples",
    "SquadFeature",
    "compute_predictions",
    "convert_examples_to_features",
    "evaluate_files",
    "evaluate_v1",
    "evaluate_v2",
    "features_dataset",
    "format_evaluation",
    "get_final_text",
    "normalize_answer",
    "read_squad_examples",
    "write_predictions",
]
