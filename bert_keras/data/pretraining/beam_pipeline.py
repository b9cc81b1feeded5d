"""Sharded mode on Apache Beam (the `bert-keras[beam]` extra).

The pipeline is the shard indices, reshuffled so that a runner spreads them
over its workers, and one `process_shard` per index: no shard depends on
another, and each part's content depends only on its index and seed, so
the output is the same on every runner and with any number of workers.

Without a `--runner` among the pipeline options, it runs on Beam's
DirectRunner in multi-processing mode with one worker per local core (or
`workers`), unless `--direct_running_mode` or `--direct_num_workers` say
otherwise. Any other runner (Dataflow, Flink, Spark) is chosen with Beam's
own options, e.g. `--runner=DataflowRunner --project=... --region=...
--temp_location=gs://...`; its workers then need `bert-keras` installed
(`--requirements_file` or a container image) and paths they can reach,
such as `gs://` ones.
"""

import os

import apache_beam as beam
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions

from bert_keras.data.pretraining.sharded import process_shard


class ShardWriter(beam.DoFn):
    """Makes the shards it is given; builds its tokenizer once per worker."""

    def __init__(self, run, vocabulary, lowercase):
        self._run = run
        self._vocabulary = list(vocabulary)
        self._lowercase = lowercase
        self._tokenizer = None

    def setup(self):
        from bert_keras.tokenizers import BertTokenizer

        self._tokenizer = BertTokenizer(self._vocabulary, lowercase=self._lowercase)

    def process(self, index):
        summary = process_shard(self._tokenizer, self._run, index)
        yield index, summary.instances


def pipeline_options(pipeline_args=(), workers=None):
    """Beam options from `pipeline_args`; the DirectRunner (the default) runs
    one process per core unless the arguments set its mode or workers."""
    pipeline_args = list(pipeline_args)
    options = PipelineOptions(pipeline_args)
    standard = options.view_as(StandardOptions)
    standard.runner = standard.runner or "DirectRunner"
    if standard.runner in ("DirectRunner", "direct"):
        direct = options.view_as(DirectOptions)
        given = " ".join(pipeline_args)
        if "direct_running_mode" not in given:
            direct.direct_running_mode = "multi_processing"
        if "direct_num_workers" not in given:
            direct.direct_num_workers = workers or os.cpu_count() or 1
    return options


def run_with_beam(run, pending, tokenizer, pipeline_args=(), workers=None):
    """Makes the `pending` shards of a `ShardedRun` on a Beam runner.

    Args:
        run, pending: from `prepare_sharded_run`.
        tokenizer: the `BertTokenizer`; its vocabulary and casing travel to
            the workers.
        pipeline_args: Beam command-line options, e.g. `["--runner=..."]`.
        workers: local worker processes for the default runner (default:
            one per core).
    """
    options = pipeline_options(pipeline_args, workers)
    with beam.Pipeline(options=options) as pipeline:
        _ = (
            pipeline
            | "Shards" >> beam.Create(list(pending))
            | "Spread" >> beam.Reshuffle()
            | "Make" >> beam.ParDo(ShardWriter(run, tokenizer.get_vocabulary(),
                                               tokenizer.lowercase))
        )
