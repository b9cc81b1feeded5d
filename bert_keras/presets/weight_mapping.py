"""Name tables between checkpoint formats and our variable paths.

A table is a list of `WeightRule`s, one per variable of ours. Each rule names
the source tensors it is made of; several sources are concatenated along the
last axis (Google and Hugging Face store query, key and value separately,
we keep one fused projection), and `transpose` marks sources stored as
`[out, in]`. The same rules read a checkpoint (`gather_weights`) and, reversed,
write one (`scatter_weights`), so each format's names live in exactly one
table.
"""

import dataclasses

import numpy as np

from bert_keras.errors import CheckpointError


@dataclasses.dataclass(frozen=True)
class WeightRule:
    """How one of our variables is made from a checkpoint's tensors.

    Attributes:
        ours: the Keras variable path, e.g. `encoder_block_0/attention/qkv/kernel`.
        sources: the checkpoint names, concatenated on the last axis in order.
        transpose: whether each source is stored transposed (`[out, in]`).
    """

    ours: str
    sources: tuple
    transpose: bool = False


def gather_weights(rules, read, available, ignored, source_description):
    """Builds our arrays from a checkpoint, accounting for every tensor.

    Args:
        rules: the `WeightRule`s of the variables wanted.
        read: a function from a checkpoint name to a numpy array.
        available: the set of names in the checkpoint.
        ignored: a predicate on names that may be left unused (optimizer
            slots, step counters, buffers).
        source_description: the checkpoint's path, for messages.

    Returns:
        A dict from our variable path to a numpy array.

    Raises:
        CheckpointError: a wanted tensor is missing, or the checkpoint holds a
            tensor that no rule uses and that is not ignored.
    """
    missing = [name for rule in rules for name in rule.sources if name not in available]
    if missing:
        raise CheckpointError(
            f"The checkpoint {source_description} lacks {len(missing)} "
            f"variable(s) this architecture needs, e.g. {missing[:3]}. Check "
            "that the checkpoint and its config belong together."
        )
    used = {name for rule in rules for name in rule.sources}
    unexpected = sorted(name for name in available - used if not ignored(name))
    if unexpected:
        raise CheckpointError(
            f"The checkpoint {source_description} holds {len(unexpected)} "
            f"variable(s) that the architecture in its config has no place "
            f"for, e.g. {unexpected[:3]}. Check that the config's "
            "num_hidden_layers matches the checkpoint."
        )
    arrays = {}
    for rule in rules:
        parts = [np.asarray(read(name)) for name in rule.sources]
        if rule.transpose:
            parts = [part.T for part in parts]
        arrays[rule.ours] = parts[0] if len(parts) == 1 else np.concatenate(parts, -1)
    return arrays


def present_head_rules(available, rules_by_prefix):
    """The head rules whose checkpoint names' prefix occurs in `available`."""
    return [
        rule
        for prefix, rules in rules_by_prefix
        if any(name.startswith(prefix) for name in available)
        for rule in rules
    ]


def assign_weights(variables, arrays, source_description):
    """Assigns `arrays` (keyed by variable path) to each of `variables`.

    Raises:
        CheckpointError: naming the first variable that is missing or whose
            shape differs.
    """
    for variable in variables:
        if variable.path not in arrays:
            raise CheckpointError(
                f"{source_description} has no value for {variable.path}."
            )
        value = arrays[variable.path]
        if tuple(value.shape) != tuple(variable.shape):
            raise CheckpointError(
                f"{source_description}: {variable.path} has shape "
                f"{tuple(value.shape)}, the model expects "
                f"{tuple(variable.shape)}. The checkpoint does not match its "
                "config."
            )
        variable.assign(value)


def scatter_weights(rules, arrays):
    """Splits our arrays into a checkpoint's tensors; the reverse of
    `gather_weights`.

    Args:
        rules: the `WeightRule`s of the variables to write.
        arrays: a dict from our variable path to a numpy array.

    Returns:
        A dict from checkpoint name to a numpy array: a rule with several
        sources is split into equal parts along the last axis, and each part
        is transposed back when the rule says so.
    """
    tensors = {}
    for rule in rules:
        parts = np.split(np.asarray(arrays[rule.ours]), len(rule.sources), axis=-1)
        for name, part in zip(rule.sources, parts):
            tensors[name] = part.T if rule.transpose else part
    return tensors
