"""Length-bucketed batching of preprocessed examples (dynamic padding)."""

import tensorflow as tf


def bucketed_batches(dataset, batch_size, sequence_length, pad_token_id=0, bucket_width=16):
    """Batches examples of similar length together, padded per bucket.

    Padding every batch to `sequence_length` wastes most of the compute on
    short sentences; grouping examples into buckets of `bucket_width` tokens
    pads each batch only to its bucket's upper edge, and keeps the number of
    distinct batch shapes (each one a compilation for XLA) small.

    Args:
        dataset: a `tf.data.Dataset` of unbatched elements whose first item
            is a feature dict with 1-D `token_ids`, `segment_ids` and
            `padding_mask` of the example's own length (what
            `BertPreprocessor(padding="longest")` gives for one example),
            followed by any labels or weights.
        batch_size: int. Examples per batch.
        sequence_length: int. The longest possible example.
        pad_token_id: int. Padding for `token_ids`.
        bucket_width: int. Lengths are padded up to a multiple of this.

    Returns:
        A dataset of padded batches. Batches come out in the order their
        buckets fill up, so examples are reordered: use it for training and
        evaluation, not for predictions that must stay aligned with inputs.

    Example:
    ```python
    examples = dataset.map(lambda text, label: (preprocessor(text), label))
    batches = bucketed_batches(examples, batch_size=32, sequence_length=128)
    ```
    """
    boundaries = list(range(bucket_width + 1, sequence_length + 1, bucket_width))
    boundaries.append(sequence_length + 1)

    def padding_value(path, spec):
        if path and path[-1] == "token_ids":
            return tf.constant(pad_token_id, spec.dtype)
        return tf.zeros([], spec.dtype)

    padding_values = _map_with_path(padding_value, dataset.element_spec)
    return dataset.bucket_by_sequence_length(
        element_length_func=lambda features, *rest: tf.shape(features["token_ids"])[0],
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        padding_values=padding_values,
        # Bucket i holds lengths below boundary i, so its batches are padded
        # to a multiple of `bucket_width` (or to `sequence_length`).
        pad_to_bucket_boundary=True,
    )


def _map_with_path(function, structure, path=()):
    if isinstance(structure, dict):
        return {k: _map_with_path(function, v, path + (k,)) for k, v in structure.items()}
    if isinstance(structure, (tuple, list)):
        return type(structure)(
            _map_with_path(function, v, path + (i,)) for i, v in enumerate(structure)
        )
    return function(path, structure)
