"""The signatures of an exported SavedModel, per kind of model.

Each takes raw text (packed in the graph by our preprocessor) or token ids,
and returns float32 outputs; see `bert_keras.export.saved_model`.
"""


def signatures_for(model, preprocessor, threshold):
    """`(signatures, serving_preprocessor)` of `model` exported with `preprocessor`."""
    from bert_keras.models import (
        BertMultipleChoice,
        BertSentenceEncoder,
        BertSpanLabeler,
        BertTokenClassifier,
    )
    from bert_keras.preprocessing import BertMultipleChoicePreprocessor, BertPreprocessor

    if isinstance(model, BertSpanLabeler):
        return _span_signatures(model, preprocessor, threshold), preprocessor
    if isinstance(model, BertTokenClassifier):
        return _tagger_signatures(model), preprocessor
    # Padded to the longest row of each request: the same predictions as
    # fixed padding (the attention mask hides padding), for less work.
    kind = BertMultipleChoicePreprocessor if isinstance(model, BertMultipleChoice) else (
        BertPreprocessor)
    serving_preprocessor = kind(
        preprocessor.tokenizer,
        sequence_length=preprocessor.sequence_length,
        padding="longest",
        pad_to_multiple_of=preprocessor.pad_to_multiple_of,
    )
    if isinstance(model, BertSentenceEncoder):
        return _embedding_signatures(model, serving_preprocessor), serving_preprocessor
    if isinstance(model, BertMultipleChoice):
        return _choice_signatures(model, serving_preprocessor), serving_preprocessor
    return _text_signatures(model, serving_preprocessor), serving_preprocessor


def _text(name):
    import tensorflow as tf

    return tf.TensorSpec([None], tf.string, name=name)


def _token_ids_signature(outputs, model, axes=2):
    import tensorflow as tf

    def from_token_ids(token_ids, segment_ids, padding_mask):
        with _fits_positions(token_ids, model):
            return outputs(
                {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
            )

    names = ("token_ids", "segment_ids", "padding_mask")
    return tf.function(
        from_token_ids,
        input_signature=[tf.TensorSpec([None] * axes, tf.int32, name=name) for name in names],
        autograph=False,
    )


def _text_signatures(model, serving_preprocessor):
    import tensorflow as tf

    outputs = _outputs_function(model)

    def from_pair(text_a, text_b):
        with _same_size(text_a, text_b, "text_a and text_b"):
            return outputs(serving_preprocessor((text_a, text_b)))

    def from_text(text_a):
        return outputs(serving_preprocessor(text_a))

    return {
        "serving_default": tf.function(
            from_pair, input_signature=[_text("text_a"), _text("text_b")], autograph=False
        ),
        "serve_text": tf.function(from_text, input_signature=[_text("text_a")], autograph=False),
        "serve_token_ids": _token_ids_signature(outputs, model),
    }


def _embedding_signatures(model, serving_preprocessor):
    """Sentences in, `embeddings` `[batch, dim]` out."""
    import tensorflow as tf

    def outputs(inputs):
        return {"embeddings": tf.cast(model(inputs, training=False), tf.float32)}

    def from_text(text):
        return outputs(serving_preprocessor(text))

    return {
        "serving_default": tf.function(from_text, input_signature=[_text("text")], autograph=False),
        "serve_token_ids": _token_ids_signature(outputs, model),
    }


def _tagger_signatures(model):
    """Texts in; words, tags, offsets and entity spans out (see
    `bert_keras.export.tagger_graph`)."""
    import tensorflow as tf

    from bert_keras.export.tagger_graph import tag_texts

    def logits(inputs):
        return {"logits": tf.cast(model(inputs, training=False), tf.float32)}

    def from_text(text):
        return tag_texts(model, text)

    return {
        "serving_default": tf.function(from_text, input_signature=[_text("text")],
                                       autograph=False),
        "serve_token_ids": _token_ids_signature(logits, model),
    }


def _choice_signatures(model, serving_preprocessor):
    """A context and its choices in; a score and a probability per choice out."""
    import tensorflow as tf

    def outputs(inputs):
        logits = tf.cast(model(inputs, training=False), tf.float32)
        return {"logits": logits, "probabilities": tf.nn.softmax(logits)}

    def from_text(context, choices):
        with _same_size(context, choices[:, 0], "context and the rows of choices"):
            return outputs(serving_preprocessor((context, choices)))

    return {
        "serving_default": tf.function(
            from_text,
            input_signature=[_text("context"), tf.TensorSpec([None, None], tf.string, "choices")],
            autograph=False,
        ),
        "serve_token_ids": _token_ids_signature(outputs, model, axes=3),
    }


def _span_signatures(model, preprocessor, threshold):
    """Question and context in; windows, logits and the best answer out."""
    import tensorflow as tf

    def from_text(question, context):
        with _same_size(question, context, "question and context"):
            inputs, windows = preprocessor((question, context))
        logits = model(inputs, training=False)
        start_logits = tf.cast(logits["start_logits"], tf.float32)
        end_logits = tf.cast(logits["end_logits"], tf.float32)
        outputs = preprocessor.decode(windows, start_logits, end_logits, context, threshold)
        # Logits per question, `[batch, windows, seq]`: one batch dimension
        # for every output, as TensorFlow Serving's row format wants.
        rows = tf.cast(windows["example_index"], tf.int64)
        for name, value in (("start_logits", start_logits), ("end_logits", end_logits)):
            per_question = tf.RaggedTensor.from_value_rowids(
                value, rows, nrows=tf.size(question, out_type=tf.int64)
            )
            outputs[name] = per_question.to_tensor(-1e9)
        return outputs

    def logits(inputs):
        values = model(inputs, training=False)
        return {name: tf.cast(value, tf.float32) for name, value in values.items()}

    return {
        "serving_default": tf.function(
            from_text, input_signature=[_text("question"), _text("context")], autograph=False
        ),
        "serve_token_ids": _token_ids_signature(logits, model),
    }


def _fits_positions(token_ids, model):
    """A scope whose ops run only once `token_ids` fit the model's positions."""
    import tensorflow as tf

    limit = getattr(model, "backbone", model).max_sequence_length
    check = tf.debugging.assert_less_equal(
        tf.shape(token_ids)[-1], limit,
        message=f"serve_token_ids takes at most {limit} tokens per row, the "
        "model's positions; truncate the ids, or send text to serving_default",
    )
    return tf.control_dependencies([check])


def _same_size(first, second, names):
    """A scope whose ops run only once `first` and `second` have one size."""
    import tensorflow as tf

    check = tf.debugging.assert_equal(
        tf.size(first), tf.size(second), message=f"{names} must hold the same number of strings"
    )
    return tf.control_dependencies([check])


def _outputs_function(model):
    import tensorflow as tf

    from bert_keras.models import BertClassifier

    if isinstance(model, BertClassifier):

        def classifier_outputs(inputs):
            logits = tf.cast(model(inputs, training=False), tf.float32)
            if model.num_classes == 1:
                return {"predictions": logits[:, 0]}
            return {"logits": logits, "probabilities": tf.nn.softmax(logits)}

        return classifier_outputs

    def backbone_outputs(inputs):
        outputs = model(inputs, training=False)
        return {
            "sequence_output": tf.cast(outputs["sequence_output"], tf.float32),
            "pooled_output": tf.cast(outputs["pooled_output"], tf.float32),
            "token_ids": inputs["token_ids"],
            "padding_mask": inputs["padding_mask"],
        }

    return backbone_outputs
