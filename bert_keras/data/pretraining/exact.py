"""Exact mode: the whole input as one corpus, as one run of the original.

Like the original it holds every document and every instance in memory
(they are shuffled together before the first is written), so its peak
memory grows with the corpus: about 90 MB per MB of English text at the
default `dupe_factor` of 10, on top of TensorFlow's ~900 MB (measured in
`benchmarks/pretraining_data.py`). Use sharded mode for more.
"""

import random
import time

from bert_keras.data.pretraining.documents import read_documents
from bert_keras.data.pretraining.examples import write_instance_to_example_files
from bert_keras.data.pretraining.instances import instances_from_documents
from bert_keras.data.pretraining.settings import PretrainingDataSettings
from bert_keras.data.pretraining.summary import DataSummary


def create_pretraining_data(input_files, output_files, tokenizer, settings=None,
                            compression=None, progress=None):
    """Reads `input_files` as one corpus and writes the original's TFRecords.

    Args:
        input_files: text files, one sentence per line, blank lines between
            documents, read in this order.
        output_files: TFRecord paths, filled round-robin.
        tokenizer: a `BertTokenizer` with the casing to use.
        settings: a `PretrainingDataSettings` (default: the original's flags).
        compression: None, or "GZIP".
        progress: optional `tqdm`-like callable for progress bars.

    Returns:
        A `DataSummary` of the run.
    """
    settings = (settings or PretrainingDataSettings()).check()
    start = time.perf_counter()
    documents = read_documents(input_files, tokenizer, segmenter=settings.segmenter(),
                               progress=progress)
    instances = instances_from_documents(
        documents, tokenizer, settings, random.Random(settings.seed), progress=progress,
        source=", ".join(map(str, input_files)),
    )
    summary = DataSummary.of(documents, instances)
    writing = instances if progress is None else progress(
        instances, total=len(instances), desc="Writing", unit="instance")
    write_instance_to_example_files(writing, tokenizer, settings.max_seq_length,
                                    settings.max_predictions_per_seq, output_files,
                                    compression=compression)
    summary.seconds = time.perf_counter() - start
    return summary
