"""TensorFlow SavedModels that take raw text.

The exported module runs our in-graph tokenizer and packing, then the model,
so a client sends strings and gets predictions back. Loading it needs only
`tensorflow` and `tensorflow_text` (for the WordPiece op): no Keras, no
bert_keras. That is what TensorFlow Serving, `tf.saved_model.load` and
`saved_model_cli` see.

Signatures of a classifier or a backbone:

- `serving_default`: `text_a` and `text_b`, `tf.string` of shape `[batch]`.
  A row whose `text_b` has no tokens (an empty string) is packed as a single
  sentence, exactly as the original `run_classifier.py` does.
- `serve_text`: `text_a` alone.
- `serve_token_ids`: `token_ids`, `segment_ids` and `padding_mask`, `int32`
  of shape `[batch, seq]`, for clients that tokenize themselves.

A `BertSentenceEncoder` has `serving_default` with one input, `text`
(`tf.string` `[batch]`), and `serve_token_ids`; both return `embeddings`,
float32 `[batch, dim]`, pooled and normalized as the model is.

A `BertTokenClassifier` has `serving_default` with one input, `text`
(`tf.string` `[batch]`): each text is split into BERT's words, cut into the
tagger's windows and tagged in the graph, each word from the window where
it has the most context, as `predict` does. It returns, per text, padded
to the longest: `words` and `tags` (`tf.string` `[batch, words]`, ""
past the end), `word_starts` and `word_ends` (`int64` code point offsets,
end exclusive, -1 past the end), `num_words`, and the entity spans
`entity_texts`, `entity_types`, `entity_starts`, `entity_ends` with
`num_entities`. `serve_token_ids` returns the `logits` of each token.

A `BertMultipleChoice` has `serving_default` with `context` (`tf.string`
`[batch]`) and `choices` (`tf.string` `[batch, choices]`), each choice
packed with its context, and `serve_token_ids` on `[batch, choices, seq]`
ids; both return `logits` and `probabilities` (`float32`,
`[batch, choices]`).

Outputs: a `BertClassifier` gives `logits` and `probabilities` (`float32`,
`[batch, num_classes]`), or `predictions` (`[batch]`) for regression; a
`BertBackbone` gives `sequence_output` `[batch, seq, hidden]` and
`pooled_output` `[batch, hidden]` (`float32`) with the `token_ids` and
`padding_mask` they belong to. Text is truncated to `max_seq_length` as in
training, never rejected, and each batch is padded only to its longest row.

The module also carries `vocabulary_file` (the vocabulary as a SavedModel
asset, `assets/vocab.txt`), `max_seq_length` and `lowercase` (variables), and
`assets.extra/bert_keras.json` describing the export for people and tools.
"""

import json
import os
import pathlib
import sys
import tempfile

import keras

from bert_keras.errors import ExportError
from bert_keras.export.atomic_directory import atomic_directory, check_destination
from bert_keras.export.model_parts import split_model
from bert_keras.export.tensorflow_process import export_in_tensorflow_process, load_handed_over

METADATA_FILE = "bert_keras.json"


def export_saved_model(
    model, export_dir, preprocessor=None, overwrite=False, null_score_diff_threshold=None
):
    """Writes a SavedModel whose signatures take raw strings.

    Works under every Keras backend: under JAX (or torch) the model is
    rebuilt in a TensorFlow process from a temporary `.keras` copy, so the
    export is the same plain TensorFlow graph. The export is written to a
    temporary folder next to `export_dir` and renamed into place, so a failed
    export leaves nothing behind and an existing one is only replaced with
    `overwrite=True`.

    Args:
        model: a `BertClassifier`, a `BertSpanLabeler`, a
            `BertSentenceEncoder` or a `BertMultipleChoice` (their attached
            preprocessor is used), a `BertTokenClassifier` (its tokenizer
            and windows), or a `BertBackbone` (for feature extraction).
        export_dir: str or path. The SavedModel folder to create.
        preprocessor: a `bert_keras.preprocessing.BertPreprocessor` (a
            `BertSpanPreprocessor` for a span labeler). Needed for a
            backbone or a task without one; otherwise overrides the task's
            (e.g. for another `sequence_length`).
        overwrite: bool. Whether to replace an existing `export_dir`.
        null_score_diff_threshold: span labeler only. None for SQuAD 1.1
            (always answer); a float for SQuAD 2.0: answer "" when the null
            score beats the best span by more than this.

    Returns:
        The export folder, as a `pathlib.Path`.

    Raises:
        ExportError: the model is not exportable, no preprocessor is known,
            or `export_dir` exists (without `overwrite`) or cannot be written.

    Example:
    ```python
    import tensorflow as tf
    import tensorflow_text  # registers the WordPiece op the export uses
    from bert_keras.export import export_saved_model
    from bert_keras.models import BertClassifier

    classifier = BertClassifier.from_preset("bert_tiny_en_uncased", num_classes=2)
    export_saved_model(classifier, "exported/sentiment")

    serve = tf.saved_model.load("exported/sentiment").signatures["serve_text"]
    serve(text_a=tf.constant(["a great film"]))["probabilities"]
    ```
    """
    model, preprocessor = model_and_preprocessor(model, preprocessor)
    if null_score_diff_threshold is not None and not hasattr(preprocessor, "doc_stride"):
        raise ExportError(
            "`null_score_diff_threshold` (--null-score-diff-threshold) sets when "
            "a SQuAD 2.0 span labeler answers \"\"; this is a "
            f"{type(model).__name__}, which has no such answer. Leave it out."
        )
    export_dir = pathlib.Path(export_dir)
    check_destination(export_dir, overwrite)
    if keras.backend.backend() != "tensorflow":
        flags = ["--overwrite"] if overwrite else []
        if null_score_diff_threshold is not None:
            flags += ["--null-score-diff-threshold", repr(float(null_score_diff_threshold))]
        export_in_tensorflow_process(
            "bert_keras.export.saved_model", model, preprocessor, export_dir, flags
        )
    else:
        with atomic_directory(export_dir, overwrite, kind="saved_model") as folder:
            _write(model, preprocessor, folder, null_score_diff_threshold)
    return export_dir.absolute()


def model_and_preprocessor(model, preprocessor):
    from bert_keras.models import (
        BertMultipleChoice,
        BertSentenceEncoder,
        BertSpanLabeler,
        BertTokenClassifier,
    )
    from bert_keras.preprocessing import (
        BertMultipleChoicePreprocessor,
        BertPreprocessor,
        BertSpanPreprocessor,
    )

    if isinstance(model, BertTokenClassifier):
        if model.tokenizer is None:
            raise ExportError(
                "The BertTokenClassifier has no tokenizer, and the export needs one "
                "to take raw text: build it with `tokenizer=BertTokenizer.from_preset(...)`."
            )
        # The windows are the tagger's own; this preprocessor only records
        # the vocabulary and the window length.
        return model, BertPreprocessor(model.tokenizer, sequence_length=model.sequence_length)
    if isinstance(model, BertSpanLabeler):
        backbone, kind = model.backbone, BertSpanPreprocessor
    elif isinstance(model, BertMultipleChoice):
        backbone, kind = model.backbone, BertMultipleChoicePreprocessor
    elif isinstance(model, BertSentenceEncoder):
        backbone, kind = model.backbone, BertPreprocessor
    else:
        (backbone, _), kind = split_model(model), BertPreprocessor
    if preprocessor is None:
        preprocessor = getattr(model, "preprocessor", None)
    if preprocessor is None:
        raise ExportError(
            f"The {type(model).__name__} has no preprocessor, and the export "
            f"needs one to take raw text: pass `preprocessor={kind.__name__}."
            "from_preset(preset, sequence_length=...)`."
        )
    if not isinstance(preprocessor, kind):
        raise ExportError(
            f"A {type(model).__name__} exports with a bert_keras "
            f"{kind.__name__}; got {type(preprocessor).__name__}."
        )
    if preprocessor.sequence_length > backbone.max_sequence_length:
        raise ExportError(
            f"The preprocessor packs up to {preprocessor.sequence_length} "
            f"tokens, but the model has {backbone.max_sequence_length} "
            "positions; use a preprocessor with a `sequence_length` of at "
            f"most {backbone.max_sequence_length}."
        )
    return model, preprocessor


def _write(model, preprocessor, folder, null_score_diff_threshold):
    from bert_keras.export.signatures import signatures_for

    signatures, serving_preprocessor = signatures_for(
        model, preprocessor, null_score_diff_threshold
    )
    _save(model, preprocessor, serving_preprocessor, signatures, folder)


def _save(model, preprocessor, serving_preprocessor, signatures, folder):
    import tensorflow as tf

    module = tf.Module()
    module.model = model
    module.preprocessor = serving_preprocessor
    for name, function in signatures.items():
        setattr(module, name, function)
    module.max_seq_length = tf.Variable(
        preprocessor.sequence_length, trainable=False, dtype=tf.int32
    )
    module.lowercase = tf.Variable(preprocessor.tokenizer.lowercase, trainable=False)
    with tempfile.TemporaryDirectory() as scratch:
        vocabulary_path = os.path.join(scratch, "vocab.txt")
        with open(vocabulary_path, "w", encoding="utf-8") as file:
            file.writelines(f"{token}\n" for token in preprocessor.tokenizer.get_vocabulary())
        module.vocabulary_file = tf.saved_model.Asset(vocabulary_path)
        tf.saved_model.save(module, str(folder), signatures=signatures)
    extra = folder / "assets.extra"
    extra.mkdir()
    (extra / METADATA_FILE).write_text(
        json.dumps(_metadata(model, preprocessor, signatures), indent=2) + "\n"
    )


def _metadata(model, preprocessor, signatures):
    import bert_keras

    backbone = getattr(model, "backbone", model)
    span_settings = {
        name: getattr(preprocessor, name)
        for name in ("doc_stride", "max_query_length", "n_best_size", "max_answer_length")
        if hasattr(preprocessor, name)
    }
    return {
        "model": type(model).__name__,
        "num_classes": getattr(model, "num_classes", None),
        **{name: getattr(model, name) for name in ("pooling", "normalize", "num_choices", "stride")
           if hasattr(model, name)},
        **({"label_names": model.label_names} if _is_tagger(model) else {}),
        **span_settings,
        "max_seq_length": preprocessor.sequence_length,
        "lowercase": preprocessor.tokenizer.lowercase,
        "vocabulary_size": preprocessor.tokenizer.vocabulary_size(),
        "backbone": backbone.get_config(),
        "signatures": {
            name: {
                "inputs": [spec.name for spec in function.input_signature],
                "outputs": sorted(function.get_concrete_function().structured_outputs),
            }
            for name, function in signatures.items()
        },
        "bert_keras_version": bert_keras.__version__,
        "keras_version": keras.__version__,
    }


def _is_tagger(model):
    from bert_keras.models import BertTokenClassifier

    return isinstance(model, BertTokenClassifier)


def _main(argv):
    """Runs an export handed over by `export_in_tensorflow_process`."""
    model_path, preprocessor_path, export_dir, *flags = argv
    model, preprocessor = load_handed_over(model_path, preprocessor_path)
    threshold = None
    if "--null-score-diff-threshold" in flags:
        threshold = float(flags[flags.index("--null-score-diff-threshold") + 1])
    export_saved_model(
        model, export_dir, preprocessor, overwrite="--overwrite" in flags,
        null_score_diff_threshold=threshold,
    )


if __name__ == "__main__":
    _main(sys.argv[1:])
