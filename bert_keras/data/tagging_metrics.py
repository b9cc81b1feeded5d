"""Entity-level precision, recall and F1, and token accuracy, for IOB tags.

The entities are seqeval's (`get_entities` in its default mode), which
chunks IOB1 and IOB2 tags exactly as the CoNLL `conlleval` script does; the
scores are conlleval's formulas on those counts, as fractions. Tags of other
schemes (IOE, IOBES) are refused here, because seqeval and conlleval chunk
them differently; `bert_keras.data.conlleval` evaluates those as the script
does.

Example:
>>> scores = entity_scores([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "O"]])
>>> round(scores["f1"], 4), scores["per_type"]["LOC"]["gold"], scores["accuracy"]
(0.6667, 1, 0.75)
"""

import collections
import re

from bert_keras.errors import DataError

_IOB_TAG = re.compile(r"^(O|[BI]-.+)$")


def entity_scores(gold, predicted):
    """Scores predicted tag sequences against gold ones.

    Args:
        gold: a list of sentences, each a list of IOB1 or IOB2 tags.
        predicted: the predicted tags, sentence by sentence.

    Returns:
        A dict with `precision`, `recall`, `f1`, `accuracy` (tokens whose
        tag is right), the counts `gold`, `found` and `correct`, and
        `per_type`: for each type, its `precision`, `recall`, `f1`, `gold`,
        `found` and `correct`. Types are sorted; scores are 0.0 where their
        denominator is 0, as in conlleval.

    Raises:
        DataError: sentences of different lengths, or a tag outside IOB.
    """
    from seqeval.metrics.sequence_labeling import get_entities

    if len(gold) != len(predicted):
        raise DataError(f"{len(gold)} gold sentences but {len(predicted)} predicted ones.")
    tokens = correct_tags = 0
    counts = {"gold": collections.Counter(), "found": collections.Counter(),
              "correct": collections.Counter()}
    for index, (gold_tags, predicted_tags) in enumerate(zip(gold, predicted)):
        gold_tags, predicted_tags = list(gold_tags), list(predicted_tags)
        if len(gold_tags) != len(predicted_tags):
            raise DataError(
                f"sentence {index} has {len(gold_tags)} gold tags but "
                f"{len(predicted_tags)} predicted ones."
            )
        for tag in (*gold_tags, *predicted_tags):
            if not _IOB_TAG.match(tag):
                raise DataError(
                    f"{tag!r} (sentence {index}) is not an IOB tag (O, B-TYPE or "
                    "I-TYPE); score other schemes with bert_keras.data.conlleval."
                )
        tokens += len(gold_tags)
        correct_tags += sum(a == b for a, b in zip(gold_tags, predicted_tags))
        gold_entities = set(get_entities(gold_tags))
        found_entities = set(get_entities(predicted_tags))
        counts["gold"].update(kind for kind, _, _ in gold_entities)
        counts["found"].update(kind for kind, _, _ in found_entities)
        counts["correct"].update(kind for kind, _, _ in gold_entities & found_entities)
    scores = _scores(*(sum(counts[key].values()) for key in ("correct", "found", "gold")))
    scores["accuracy"] = correct_tags / tokens if tokens else 0.0
    scores["per_type"] = {
        kind: _scores(counts["correct"][kind], counts["found"][kind], counts["gold"][kind])
        for kind in sorted({*counts["gold"], *counts["found"]})
    }
    return scores


def _scores(correct, found, gold):
    precision = correct / found if found else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "gold": gold, "found": found, "correct": correct}
