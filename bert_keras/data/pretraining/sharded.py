"""Sharded mode: each input file is an independent run of the original.

Shard `k` (its 0-based position in the input list) is read alone and made
into instances with the seed `shard_seed(seed, k)` = `seed + k`, then written
to `part-0000k-of-0000n.tfrecord` in the output folder. So its file is
exactly the original's output on that file with `--random_seed=seed+k`,
whatever ran it and in whichever order, and memory is bounded by the
largest shard, never by the corpus. Next to each part, a small
`part-...json` with its counts marks it complete (it is written after the
part is renamed into place).

The folder's `pretraining_data.json` records the inputs and settings. A run
into a folder with the same record resumes: complete parts are kept and
only the missing ones are made. A folder with parts of another run is
refused, or cleared with `overwrite=True`.
"""

import dataclasses
import hashlib
import json
import posixpath
import time
import warnings

from bert_keras.data.pretraining.documents import read_documents
from bert_keras.data.pretraining.examples import (
    remove_if_present,
    rename_into_place,
    temporary_name,
    write_instance_to_example_files,
)
from bert_keras.data.pretraining.instances import instances_from_documents
from bert_keras.data.pretraining.settings import PretrainingDataSettings
from bert_keras.data.pretraining.summary import DataSummary
from bert_keras.errors import DataError, OutputError

MANIFEST = "pretraining_data.json"
_FORMAT = "bert_keras.pretraining_data.sharded/1"


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


@dataclasses.dataclass(frozen=True)
class ShardedRun:
    """Where each shard's input and outputs are; picklable for Beam workers."""

    input_files: tuple
    output_dir: str
    settings: PretrainingDataSettings
    compression: str = None

    def output_file(self, index):
        suffix = ".tfrecord.gz" if self.compression == "GZIP" else ".tfrecord"
        return posixpath.join(self.output_dir, f"{self._stem(index)}{suffix}")

    def counts_file(self, index):
        return posixpath.join(self.output_dir, f"{self._stem(index)}.json")

    def _stem(self, index):
        return f"part-{index:05d}-of-{len(self.input_files):05d}"


def _write_json(path, values):
    temporary = temporary_name(path)
    try:
        with _gfile().GFile(temporary, "w") as file:
            file.write(json.dumps(values, indent=1, sort_keys=True) + "\n")
        rename_into_place(temporary, path)
    finally:
        remove_if_present(temporary)


def _read_json(path):
    gfile = _gfile()
    if not gfile.exists(path):
        return None
    with gfile.GFile(path) as file:
        try:
            return json.loads(file.read())
        except ValueError:
            return None


def process_shard(tokenizer, run, index):
    """Makes and writes shard `index` of `run`; returns its `DataSummary`."""
    start = time.perf_counter()
    path = run.input_files[index]
    settings = run.settings.for_shard(index)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        documents = read_documents([path], tokenizer, segmenter=settings.segmenter())
        if documents:
            instances = instances_from_documents(documents, tokenizer, settings, source=path)
        else:
            warnings.warn(f"Shard {index} ({path}) holds no document; its part is empty.")
            instances = []
    write_instance_to_example_files(
        instances, tokenizer, settings.max_seq_length, settings.max_predictions_per_seq,
        [run.output_file(index)], compression=run.compression,
    )
    summary = DataSummary.of(documents, instances, time.perf_counter() - start)
    messages = [str(warning.message) for warning in caught]
    # Kept with the counts: a remote worker's warnings reach no terminal.
    _write_json(run.counts_file(index), {**summary.as_dict(), "warnings": messages})
    for message in messages:
        warnings.warn(message, stacklevel=2)
    return summary


def _manifest(run, tokenizer):
    vocabulary = "\n".join(tokenizer.get_vocabulary()).encode("utf-8")
    return {
        "format": _FORMAT,
        "inputs": list(run.input_files),
        "settings": run.settings.as_dict(),
        "compression": run.compression,
        "lowercase": tokenizer.lowercase,
        "vocabulary_sha256": hashlib.sha256(vocabulary).hexdigest(),
    }


def _parts(output_dir):
    return [name for name in _gfile().listdir(output_dir) if name.startswith("part-")]


def prepare_sharded_run(input_files, output_dir, tokenizer, settings=None, compression=None,
                        overwrite=False):
    """Checks and records a sharded run; returns `(run, pending, done)`.

    `pending` lists the shard indices still to make; `done` is the
    `DataSummary` of the parts a killed run of the same inputs and settings
    completed.

    Raises:
        OutputError: `output_dir` holds parts of another run and
            `overwrite` is False.
        DataError: no input file, or a bad setting.
    """
    if not input_files:
        raise DataError("No input file; pass at least one text file (a shard).")
    settings = (settings or PretrainingDataSettings()).check()
    output_dir = str(output_dir)
    run = ShardedRun(tuple(str(path) for path in input_files), output_dir, settings, compression)
    gfile = _gfile()
    gfile.makedirs(output_dir)
    manifest = _manifest(run, tokenizer)
    recorded = _read_json(posixpath.join(output_dir, MANIFEST))
    if recorded != manifest and (recorded is not None or _parts(output_dir)):
        if not overwrite:
            raise OutputError(
                f"{output_dir} holds pretraining data of another run (other inputs "
                "or settings); pass --overwrite to replace it, or choose another "
                "--output-dir."
            )
        clear_sharded_run(run)
    _write_json(posixpath.join(output_dir, MANIFEST), manifest)
    done = completed_shards(run)
    pending = [index for index in range(len(run.input_files)) if index not in done]
    return run, pending, sum(done.values(), DataSummary())


def shard_warnings(run, indices):
    """The warnings that shards `indices` of `run` met, in index order."""
    messages = []
    for index in indices:
        messages.extend((_read_json(run.counts_file(index)) or {}).get("warnings", []))
    return messages


def count_completed(run):
    """How many shards of `run` have their counts written (a cheap listing)."""
    return sum(name.endswith(".json") for name in _parts(run.output_dir))


def completed_shards(run):
    """`{index: DataSummary}` of the shards of `run` whose part is complete."""
    done = {}
    for index in range(len(run.input_files)):
        counts = _read_json(run.counts_file(index))
        if counts is not None and _gfile().exists(run.output_file(index)):
            done[index] = DataSummary.from_dict(counts)
    return done


def run_sharded(run, pending, tokenizer, progress=None):
    """Makes the `pending` shards of `run` in this process, one after another."""
    shards = pending if progress is None else progress(pending, total=len(pending),
                                                       desc="Shards", unit="shard")
    summary = DataSummary()
    for index in shards:
        summary += process_shard(tokenizer, run, index)
    return summary


def clear_sharded_run(run):
    """Removes every part and the record of a sharded run from its folder."""
    for name in [*_parts(run.output_dir), MANIFEST]:
        remove_if_present(posixpath.join(run.output_dir, name))
