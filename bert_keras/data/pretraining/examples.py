"""Training instances as the original's `tf.train.Example` TFRecord files.

Each instance becomes the features `input_ids`, `input_mask`,
`segment_ids` (zero-padded to `max_seq_length`), `masked_lm_positions`,
`masked_lm_ids`, `masked_lm_weights` (zero-padded to
`max_predictions_per_seq`) and `next_sentence_labels`, written round-robin
over the output files in instance order, as `write_instance_to_example_files`
does. Each file is written under a temporary name and renamed once all are
complete, so a failed run leaves earlier files whole. Records are encoded a
batch at a time by `example_encoding`, byte for byte as protobuf's
deterministic serialization of `serialize_example`'s Example.
"""

import itertools
import os
import posixpath

import numpy as np

from bert_keras.data.pretraining.example_encoding import encode_examples

_BATCH = 512


def _token_ids(tokenizer):
    # The original's vocabulary dict: a token listed twice maps to its last line.
    return {token: index for index, token in enumerate(tokenizer.get_vocabulary())}


def _check_lengths(instance, max_seq_length, max_predictions_per_seq):
    if len(instance.tokens) > max_seq_length:
        raise ValueError(
            f"An instance has {len(instance.tokens)} tokens, more than max_seq_length "
            f"{max_seq_length}; create the instances with the same max_seq_length."
        )
    predictions = len(instance.masked_lm_positions)
    if predictions > max_predictions_per_seq:
        raise ValueError(
            f"An instance has {predictions} masked positions, more than "
            f"max_predictions_per_seq {max_predictions_per_seq}."
        )


def instance_features(instance, ids, max_seq_length, max_predictions_per_seq):
    """The original's feature lists of one instance (a dict of lists)."""
    return {name: values[0].tolist() for name, values in batch_features(
        [instance], ids, max_seq_length, max_predictions_per_seq).items()}


def _segment_ids(instances, real):
    """Zeros then ones, as every pair is: told by a few scans that run in C
    instead of one Python step per token; None for any other layout."""
    starts = []
    for instance in instances:
        segments = instance.segment_ids
        start = segments.index(1) if 1 in segments else len(segments)
        if segments.count(1) != len(segments) - start or segments.count(0) != start:
            return None
        starts.append(start)
    return (real & (np.arange(real.shape[1]) >= np.array(starts)[:, None])).astype(np.int64)


def batch_features(instances, ids, max_seq_length, max_predictions_per_seq):
    """The original's features of `instances`, zero-padded: a dict of arrays."""
    for instance in instances:
        _check_lengths(instance, max_seq_length, max_predictions_per_seq)
    lengths = np.array([len(instance.tokens) for instance in instances], np.int64)
    predictions = np.array([len(instance.masked_lm_positions) for instance in instances],
                           np.int64)
    # Flat lists for the whole batch, scattered into the padded rows at once.
    real = np.arange(max_seq_length) < lengths[:, None]
    masked = np.arange(max_predictions_per_seq) < predictions[:, None]

    def scattered(shape_mask, field, lookup=None):
        # map and chain run in C: most of the batch's time is these lookups.
        values = itertools.chain.from_iterable(getattr(i, field) for i in instances)
        if lookup is not None:
            values = map(lookup, values)
        array = np.zeros(shape_mask.shape, np.int64)
        array[shape_mask] = np.fromiter(values, np.int64, count=int(shape_mask.sum()))
        return array

    input_ids = scattered(real, "tokens", ids.__getitem__)
    segment_ids = _segment_ids(instances, real)
    if segment_ids is None:
        segment_ids = scattered(real, "segment_ids")
    positions = scattered(masked, "masked_lm_positions")
    labels = scattered(masked, "masked_lm_labels", ids.__getitem__)
    return {
        "input_ids": input_ids,
        "input_mask": real.astype(np.int64),
        "segment_ids": segment_ids,
        "masked_lm_positions": positions,
        "masked_lm_ids": labels,
        "masked_lm_weights": masked.astype(np.float32),
        "next_sentence_labels": np.array([[int(instance.is_random_next)]
                                          for instance in instances], np.int64),
    }


def serialize_example(features):
    """One instance's features as a serialized `tf.train.Example`."""
    import tensorflow as tf

    feature = {
        name: tf.train.Feature(float_list=tf.train.FloatList(value=values))
        if name == "masked_lm_weights"
        else tf.train.Feature(int64_list=tf.train.Int64List(value=values))
        for name, values in features.items()
    }
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    # Sorted feature keys: a map's default order follows the process's string
    # hashing, so only this gives the same bytes in every process.
    return example.SerializeToString(deterministic=True)


def _batches(instances, size=_BATCH):
    batch = []
    for instance in instances:
        batch.append(instance)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def temporary_name(path):
    """A hidden name beside `path` for writing it before the rename."""
    folder, name = posixpath.split(str(path))
    return posixpath.join(folder, f".{name}.partial-{os.getpid()}")


def rename_into_place(source, target):
    """Renames `source` over `target`, locally or on any TensorFlow file system."""
    # Remote file systems (gs://, hdfs://) have no os.replace.
    if "://" in target:
        import tensorflow as tf

        tf.io.gfile.rename(source, target, overwrite=True)
    else:
        os.replace(source, target)


def remove_if_present(path):
    """Removes `path` if it exists, locally or on any TensorFlow file system."""
    if "://" in path:
        import tensorflow as tf

        if tf.io.gfile.exists(path):
            tf.io.gfile.remove(path)
    elif os.path.exists(path):
        os.unlink(path)


def write_instance_to_example_files(instances, tokenizer, max_seq_length,
                                    max_predictions_per_seq, output_files, compression=None):
    """Writes `instances` round-robin to `output_files`; returns the count.

    Args:
        instances: an iterable of `TrainingInstance`.
        tokenizer: the `BertTokenizer` that made them.
        max_seq_length, max_predictions_per_seq: the padded lengths.
        output_files: paths, local or any file system TensorFlow writes
            (`gs://...`). Each is written under a temporary name and
            renamed once all are complete.
        compression: None, or "GZIP" for gzip-compressed records.
    """
    import tensorflow as tf

    outputs = [str(path) for path in output_files]
    temporaries = [temporary_name(path) for path in outputs]
    options = tf.io.TFRecordOptions(compression_type=compression or "")
    ids = _token_ids(tokenizer)
    count = 0
    writers = [tf.io.TFRecordWriter(path, options=options) for path in temporaries]
    try:
        for batch in _batches(instances):
            features = batch_features(batch, ids, max_seq_length, max_predictions_per_seq)
            for record in encode_examples(features):
                writers[count % len(writers)].write(record)
                count += 1
        for writer in writers:
            writer.close()
        for temporary, path in zip(temporaries, outputs):
            rename_into_place(temporary, path)
    finally:
        for writer in writers:
            writer.close()
        for temporary in temporaries:
            remove_if_present(temporary)
    return count
