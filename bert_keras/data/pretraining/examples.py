"""Training instances as the original's `tf.train.Example` TFRecord files.

Each instance becomes the features `input_ids`, `input_mask`,
`segment_ids` (zero-padded to `max_seq_length`), `masked_lm_positions`,
`masked_lm_ids`, `masked_lm_weights` (zero-padded to
`max_predictions_per_seq`) and `next_sentence_labels`, written round-robin
over the output files in instance order, as `write_instance_to_example_files`
does. Each file is written under a temporary name and renamed once all are
complete, so a failed run leaves earlier files whole.
"""

import os
import pathlib


def _token_ids(tokenizer):
    # The original's vocabulary dict: a token listed twice maps to its last line.
    return {token: index for index, token in enumerate(tokenizer.get_vocabulary())}


def instance_features(instance, ids, max_seq_length, max_predictions_per_seq):
    """The original's feature lists of one instance (a dict of lists)."""
    input_ids = [ids[token] for token in instance.tokens]
    if len(input_ids) > max_seq_length:
        raise ValueError(
            f"An instance has {len(input_ids)} tokens, more than max_seq_length "
            f"{max_seq_length}; create the instances with the same max_seq_length."
        )
    padding = max_seq_length - len(input_ids)
    predictions = len(instance.masked_lm_positions)
    if predictions > max_predictions_per_seq:
        raise ValueError(
            f"An instance has {predictions} masked positions, more than "
            f"max_predictions_per_seq {max_predictions_per_seq}."
        )
    unused = max_predictions_per_seq - predictions
    return {
        "input_ids": input_ids + [0] * padding,
        "input_mask": [1] * len(input_ids) + [0] * padding,
        "segment_ids": list(instance.segment_ids) + [0] * padding,
        "masked_lm_positions": list(instance.masked_lm_positions) + [0] * unused,
        "masked_lm_ids": [ids[token] for token in instance.masked_lm_labels] + [0] * unused,
        "masked_lm_weights": [1.0] * predictions + [0.0] * unused,
        "next_sentence_labels": [1 if instance.is_random_next else 0],
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
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_instance_to_example_files(instances, tokenizer, max_seq_length,
                                    max_predictions_per_seq, output_files):
    """Writes `instances` round-robin to `output_files`; returns the count."""
    import tensorflow as tf

    outputs = [pathlib.Path(path) for path in output_files]
    temporaries = [path.with_name(f".{path.name}.partial-{os.getpid()}") for path in outputs]
    ids = _token_ids(tokenizer)
    count = 0
    writers = [tf.io.TFRecordWriter(str(path)) for path in temporaries]
    try:
        for count, instance in enumerate(instances, start=1):
            features = instance_features(instance, ids, max_seq_length, max_predictions_per_seq)
            writers[(count - 1) % len(writers)].write(serialize_example(features))
        for writer in writers:
            writer.close()
        for temporary, path in zip(temporaries, outputs):
            os.replace(temporary, path)
    finally:
        for writer in writers:
            writer.close()
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
    return count
