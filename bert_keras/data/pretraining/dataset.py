"""Reading pretraining TFRecords for training, as the original `input_fn` does.

For training the file names are repeated and shuffled, read interleaved
(four at a time, as the original's `num_cpu_threads`), the records shuffled
again in a buffer of 100, and batches of `batch_size` made with the
remainder dropped. For evaluation the files are read in order, once, by
default: `model.evaluate` wants an end. The original repeated them and
TPUEstimator read `max_eval_steps` batches, so on a small file it wrapped
around and counted examples twice; `repeat=True` and `.take(steps)` do the
same. Every integer feature is cast to int32, as the original casts for the
TPU.

It reads the original's files and ours, gzip-compressed or not (told
apart by each file's first bytes).
"""

import os

from bert_keras.errors import DataError

_CYCLE_LENGTH = 4
_SHUFFLE_BUFFER = 100
_GZIP_MAGIC = b"\x1f\x8b"
_FEATURES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions", "masked_lm_ids",
             "masked_lm_weights", "next_sentence_labels")


def _matching_files(file_pattern):
    import tensorflow as tf

    patterns = file_pattern if isinstance(file_pattern, (list, tuple)) else \
        str(file_pattern).split(",")
    files = []
    for pattern in patterns:
        pattern = os.fspath(pattern).strip()
        if pattern:
            files.extend(sorted(tf.io.gfile.glob(pattern)))
    if not files:
        raise DataError(
            f"No file matches {file_pattern!r}; pass the path or glob of the "
            "TFRecords written by `bert-keras pretraining-data` or the original "
            "create_pretraining_data.py (comma-separated for several)."
        )
    return files


def _compression(files):
    import tensorflow as tf

    kinds = set()
    for path in files:
        with tf.io.gfile.GFile(path, "rb") as file:
            kinds.add("GZIP" if file.read(2) == _GZIP_MAGIC else "")
    if len(kinds) > 1:
        raise DataError(
            "Some of the files are gzip-compressed and some are not; read each "
            "kind with its own pretraining_dataset."
        )
    return kinds.pop()


def _first_record(files, compression):
    import tensorflow as tf

    for path in files:
        try:
            for record in tf.data.TFRecordDataset(path, compression_type=compression).take(1):
                return path, bytes(record.numpy())
        except tf.errors.OpError:
            raise DataError(
                f"{path} is not a TFRecord file; pass files written by `bert-keras "
                "pretraining-data` or create_pretraining_data.py."
            ) from None
    raise DataError(
        "The files hold no record (an empty corpus?); make the data again with "
        "`bert-keras pretraining-data`."
    )


def _check_lengths(files, compression, max_seq_length, max_predictions_per_seq):
    import tensorflow as tf

    path, record = _first_record(files, compression)
    try:
        features = tf.train.Example.FromString(record).features.feature
    except Exception:
        features = {}
    if not all(name in features for name in _FEATURES):
        raise DataError(
            f"{path} does not hold pretraining examples (input_ids, "
            "masked_lm_positions, ...); pass files written by `bert-keras "
            "pretraining-data` or create_pretraining_data.py."
        )
    lengths = {name: len(features[name].int64_list.value)
               for name in ("input_ids", "masked_lm_positions")}
    for name, flag, expected in (("input_ids", "max_seq_length", max_seq_length),
                                 ("masked_lm_positions", "max_predictions_per_seq",
                                  max_predictions_per_seq)):
        if lengths[name] != expected:
            raise DataError(
                f"{path} was written with {flag} {lengths[name]}, not {expected}; "
                f"pass {flag}={lengths[name]}."
            )


def _count_records(files, compression):
    import tensorflow as tf

    return int(tf.data.TFRecordDataset(files, compression_type=compression)
               .reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))


def feature_spec(max_seq_length, max_predictions_per_seq):
    """The original's `name_to_features` for `tf.io.parse_example`."""
    import tensorflow as tf

    sequence = tf.io.FixedLenFeature([max_seq_length], tf.int64)
    predictions = tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64)
    return {
        "input_ids": sequence,
        "input_mask": sequence,
        "segment_ids": sequence,
        "masked_lm_positions": predictions,
        "masked_lm_ids": predictions,
        "masked_lm_weights": tf.io.FixedLenFeature([max_predictions_per_seq], tf.float32),
        "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
    }


def keras_layout(features):
    """The original's features as `(inputs, labels, sample_weights)` for `fit`.

    `inputs` has the backbone's `token_ids`, `segment_ids` and
    `padding_mask`, and `masked_lm_positions`; the labels and weights are
    keyed by the pretrainer's outputs `masked_lm` and `next_sentence`.
    """
    inputs = {
        "token_ids": features["input_ids"],
        "segment_ids": features["segment_ids"],
        "padding_mask": features["input_mask"],
        "masked_lm_positions": features["masked_lm_positions"],
    }
    labels = {"masked_lm": features["masked_lm_ids"],
              "next_sentence": features["next_sentence_labels"]}
    return inputs, labels, {"masked_lm": features["masked_lm_weights"]}


def _cast(features):
    import tensorflow as tf

    return {name: tf.cast(value, tf.int32) if value.dtype == tf.int64 else value
            for name, value in features.items()}


def pretraining_dataset(file_pattern, batch_size, max_seq_length=128,
                        max_predictions_per_seq=20, is_training=True, seed=None,
                        layout="keras", masking=None, repeat=False, skip_batches=0):
    """Batches of pretraining examples, read as the original's `input_fn` reads.

    Args:
        file_pattern: a path or glob, a comma-separated string of them, or a
            list; every match is read.
        batch_size: int. The remainder batch is dropped, as in the original.
        max_seq_length, max_predictions_per_seq: the lengths the files were
            written with (checked on the first record).
        is_training: bool. Shuffled, interleaved and repeated forever; else
            read in order, once (its length known to Keras) or, with
            `repeat`, over and over as the original's evaluation reads.
        seed: optional int making the training order reproducible (the
            interleave then keeps its order too, which costs some speed).
        repeat: bool. Evaluation only: read the files in order forever.
        skip_batches: int. Training with a `seed` only: start after this
            many batches of the same order, without parsing them (how a
            resumed run picks up where it stopped).
        layout: "keras" for `(inputs, labels, sample_weights)` (see
            `keras_layout`), or "original" for the original's feature dict.
        masking: optional `DynamicMasking`, which draws new masks for each
            example every time it is read (not the original's behaviour).

    Returns:
        A `tf.data.Dataset` of batches, every tensor `[batch_size, ...]`.

    Raises:
        DataError: nothing matches, the lengths differ from the files', or
            the files are not pretraining examples.
    """
    import tensorflow as tf

    if layout not in ("keras", "original"):
        raise DataError(f"layout must be 'keras' or 'original', not {layout!r}.")
    if skip_batches and (not is_training or seed is None):
        raise DataError("skip_batches needs is_training=True and a seed: only a "
                        "seeded order can be taken up again.")
    files = _matching_files(file_pattern)
    compression = _compression(files)
    _check_lengths(files, compression, max_seq_length, max_predictions_per_seq)
    if is_training:
        dataset = tf.data.Dataset.from_tensor_slices(files).repeat()
        dataset = dataset.shuffle(len(files), seed=seed)
        dataset = dataset.interleave(
            lambda path: tf.data.TFRecordDataset(path, compression_type=compression),
            cycle_length=min(_CYCLE_LENGTH, len(files)),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=seed is not None,
        )
        dataset = dataset.shuffle(_SHUFFLE_BUFFER, seed=seed)
    else:
        dataset = tf.data.TFRecordDataset(files, compression_type=compression)
        if repeat:
            dataset = dataset.repeat()
    spec = feature_spec(max_seq_length, max_predictions_per_seq)
    if masking is not None:
        parsed = dataset.map(lambda record: tf.io.parse_single_example(record, spec))
        dataset = masking.apply(parsed)
        dataset = dataset.batch(batch_size, drop_remainder=True).skip(skip_batches)
    else:
        dataset = dataset.batch(batch_size, drop_remainder=True)
        if skip_batches:
            dataset = dataset.skip(skip_batches)
        dataset = dataset.map(lambda records: tf.io.parse_example(records, spec),
                              num_parallel_calls=tf.data.AUTOTUNE)
    if not is_training and not repeat:
        # Run to the end of a dataset of unknown length, Keras's TensorFlow
        # trainer counts one batch too many in a pretrainer's metrics.
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(
            _count_records(files, compression) // batch_size))
    dataset = dataset.map(_cast)
    if layout == "keras":
        dataset = dataset.map(keras_layout)
    return dataset.prefetch(tf.data.AUTOTUNE)
