"""Pretraining data beyond one run of the original: settings checks, sharded
mode (equal to the exact mode per shard with the derived seed), resuming,
Apache Beam on 1 and 2 workers, and Chinese whole words."""

import json
import pathlib
import warnings

import pytest

from bert_keras.data.pretraining import (
    PretrainingDataSettings,
    create_pretraining_data,
    create_training_instances,
    prepare_sharded_run,
    run_sharded,
    shard_seed,
)
from bert_keras.data.pretraining.chinese_words import ContinuedPiece, mark_words
from bert_keras.data.pretraining.instances import create_masked_lm_predictions
from bert_keras.errors import DataError, OutputError
from bert_keras.tokenizers import BertTokenizer

REFERENCE = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "reference"
VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"abcdefghij", "##s", "##ing"]
SETTINGS = PretrainingDataSettings(max_seq_length=16, max_predictions_per_seq=4, dupe_factor=3,
                                   short_seq_prob=0.3, seed=7)


def tokenizer():
    return BertTokenizer(VOCABULARY)


def write_shards(folder, count=3, documents=4):
    """Shards of generated documents: each a few sentences of letters."""
    import random

    rng = random.Random(count * 100 + documents)
    paths = []
    for shard in range(count):
        lines = []
        for _ in range(documents):
            for _ in range(rng.randint(2, 6)):
                lines.append(" ".join(rng.choice("abcdefghij") + rng.choice(["", "s", "ing"])
                                      for _ in range(rng.randint(2, 9))))
            lines.append("")
        path = folder / f"shard-{shard}.txt"
        path.write_text("\n".join(lines), encoding="utf-8")
        paths.append(path)
    return paths


def records(path):
    import tensorflow as tf

    options = "GZIP" if str(path).endswith(".gz") else ""
    return [bytes(r.numpy()) for r in tf.data.TFRecordDataset(str(path), compression_type=options)]


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({"max_seq_length": 4}, "max_seq_length 4 is too short"),
        ({"max_predictions_per_seq": 17}, "larger than max_seq_length 16"),
        ({"max_predictions_per_seq": 0}, "must be a positive integer"),
        ({"masked_lm_prob": 0.0}, "masked_lm_prob 0.0 must be above 0"),
        ({"masked_lm_prob": 1.5}, "masked_lm_prob 1.5 must be above 0"),
        ({"short_seq_prob": -0.1}, "short_seq_prob -0.1"),
        ({"dupe_factor": 0}, "dupe_factor 0"),
        ({"word_segmenter": "jieba"}, "only matters with whole word masking"),
        ({"word_segmenter": "ltp", "whole_word_mask": True}, "Unknown word segmenter 'ltp'"),
    ],
)
def test_bad_settings_are_refused_with_the_fix(changes, problem):
    import dataclasses

    with pytest.raises(DataError, match=problem):
        dataclasses.replace(SETTINGS, **changes).check()


def test_an_empty_corpus_is_refused_and_writes_nothing(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n  \n", encoding="utf-8")
    with pytest.raises(DataError, match="holds no document"):
        create_pretraining_data([empty], [tmp_path / "out.tfrecord"], tokenizer(), SETTINGS)
    assert [p.name for p in tmp_path.iterdir()] == ["empty.txt"]


def test_a_single_document_is_allowed_with_a_warning(tmp_path):
    one = tmp_path / "one.txt"
    one.write_text("a b c d\ne f g\nh i j\n", encoding="utf-8")
    with pytest.warns(UserWarning, match="single document"):
        instances = create_training_instances([one], tokenizer(), max_seq_length=16,
                                              max_predictions_per_seq=4, seed=1)
    assert instances and all(instance.tokens[0] == "[CLS]" for instance in instances)


def test_shard_seed_is_the_base_seed_plus_the_index():
    assert [shard_seed(12345, k) for k in range(3)] == [12345, 12346, 12347]
    assert SETTINGS.for_shard(2).seed == 9


@pytest.mark.parametrize("compression", [None, "GZIP"])
def test_each_shard_equals_the_exact_mode_on_it_alone(tmp_path, compression):
    shards = write_shards(tmp_path)
    run, pending, done = prepare_sharded_run(shards, tmp_path / "out", tokenizer(), SETTINGS,
                                             compression=compression)
    assert pending == [0, 1, 2] and done.instances == 0
    summary = run_sharded(run, pending, tokenizer())
    total = 0
    for index, shard in enumerate(shards):
        alone = tmp_path / f"alone-{index}.tfrecord"
        made = create_pretraining_data([shard], [alone], tokenizer(), SETTINGS.for_shard(index))
        part = run.output_file(index)
        assert part.endswith(f"part-0000{index}-of-00003.tfrecord" + (".gz" if compression else ""))
        assert records(part) == records(alone), f"shard {index}"
        counts = json.loads(pathlib.Path(run.counts_file(index)).read_text())
        assert counts["instances"] == made.instances == len(records(alone))
        total += made.instances
    assert summary.instances == total and summary.documents == 12
    # The seeds differ: a shard made with the base seed is other data.
    base = tmp_path / "base.tfrecord"
    create_pretraining_data([shards[1]], [base], tokenizer(), SETTINGS)
    assert records(base) != records(run.output_file(1))


def test_a_killed_run_resumes_and_another_run_is_refused(tmp_path):
    shards = write_shards(tmp_path)
    out = tmp_path / "out"
    run, pending, _ = prepare_sharded_run(shards, out, tokenizer(), SETTINGS)
    run_sharded(run, pending[:1], tokenizer())
    first = records(run.output_file(0))
    # A part renamed into place but killed before its counts: made again.
    pathlib.Path(run.output_file(1)).write_bytes(b"torn")
    run, pending, done = prepare_sharded_run(shards, out, tokenizer(), SETTINGS)
    assert pending == [1, 2] and done.instances == len(first)
    run_sharded(run, pending, tokenizer())
    assert records(run.output_file(0)) == first
    assert prepare_sharded_run(shards, out, tokenizer(), SETTINGS)[1] == []

    other = PretrainingDataSettings(**{**SETTINGS.as_dict(), "seed": 8})
    with pytest.raises(OutputError, match="another run.*--overwrite"):
        prepare_sharded_run(shards, out, tokenizer(), other)
    with pytest.raises(OutputError, match="another run"):
        prepare_sharded_run(shards[:2], out, tokenizer(), SETTINGS)
    run, pending, _ = prepare_sharded_run(shards[:2], out, tokenizer(), SETTINGS, overwrite=True)
    assert pending == [0, 1]
    assert sorted(p.name for p in out.iterdir()) == ["pretraining_data.json"]


@pytest.mark.slow
def test_beam_direct_runner_output_equals_one_process_with_1_and_2_workers(tmp_path):
    pytest.importorskip("apache_beam", reason="apache-beam is not installed (bert-keras[beam])")
    from bert_keras.data.pretraining.beam_pipeline import run_with_beam

    shards = write_shards(tmp_path, count=4, documents=3)
    run, pending, _ = prepare_sharded_run(shards, tmp_path / "one", tokenizer(), SETTINGS)
    run_sharded(run, pending, tokenizer())
    expected = [records(run.output_file(index)) for index in range(4)]
    for workers in (1, 2):
        beam_run, pending, _ = prepare_sharded_run(shards, tmp_path / f"beam{workers}",
                                                   tokenizer(), SETTINGS)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run_with_beam(beam_run, pending, tokenizer(), workers=workers)
        assert [records(beam_run.output_file(i)) for i in range(4)] == expected, workers
        made = sorted(p.name for p in (tmp_path / f"beam{workers}").iterdir())
        assert made == sorted(["pretraining_data.json"]
                              + [f"part-0000{i}-of-00004.{kind}" for i in range(4)
                                 for kind in ("json", "tfrecord")])


def test_chinese_words_are_marked_and_masked_whole():
    pieces = list("我爱北京天安门") + ["，", "hello", "##s"]
    marked = mark_words(pieces, ["我", "爱", "北京", "天安门", "，", "hellos"])
    assert marked == pieces
    assert [isinstance(piece, ContinuedPiece) for piece in marked] == \
        [False, False, False, True, False, True, True, False, False, False]
    tokens = ["[CLS]", *marked, "[SEP]"]
    import random

    for seed in range(20):
        _, positions, _ = create_masked_lm_predictions(tokens, 0.5, 5, VOCABULARY,
                                                       random.Random(seed), whole_word_mask=True)
        chosen = set(positions)
        for word in ({3, 4}, {5, 6, 7}, {9, 10}):
            assert not chosen & word or word <= chosen, (seed, positions)


def test_the_segmenter_marks_only_with_whole_word_masking(tmp_path):
    pytest.importorskip("jieba", reason="jieba is not installed (bert-keras[chinese])")
    chinese = BertTokenizer([*VOCABULARY, *"我爱北京天安门"])
    text = tmp_path / "zh.txt"
    text.write_text("我爱北京天安门\n北京\n\n天安门 a b\n", encoding="utf-8")
    settings = PretrainingDataSettings(max_seq_length=16, max_predictions_per_seq=4,
                                       dupe_factor=4, seed=3)
    plain = create_training_instances([text], chinese, **_arguments(settings))
    with_words = create_training_instances([text], chinese, word_segmenter="jieba",
                                           **_arguments(settings, whole_word_mask=True))
    assert any(isinstance(token, ContinuedPiece) for instance in with_words
               for token in instance.tokens)
    assert not any(isinstance(token, ContinuedPiece) for instance in plain
                   for token in instance.tokens)


def _arguments(settings, **changes):
    values = {**settings.as_dict(), **changes}
    values.pop("word_segmenter")
    return values


def test_remote_file_systems_are_read_and_written_through_tensorflow(tmp_path):
    # TensorFlow's in-memory file system stands in for gs:// and hdfs://.
    import tensorflow as tf

    local = write_shards(tmp_path, count=2)
    remote = []
    for index, path in enumerate(local):
        name = f"ram://corpus-{id(tmp_path)}/shard-{index}.txt"
        with tf.io.gfile.GFile(name, "w") as file:
            file.write(path.read_text("utf-8"))
        remote.append(name)
    output = f"ram://out-{id(tmp_path)}"
    run, pending, _ = prepare_sharded_run(remote, output, tokenizer(), SETTINGS,
                                          compression="GZIP")
    summary = run_sharded(run, pending, tokenizer())
    alone = tmp_path / "alone.tfrecord.gz"
    create_pretraining_data([local[1]], [alone], tokenizer(), SETTINGS.for_shard(1),
                            compression="GZIP")
    assert records(run.output_file(1)) == records(alone)
    assert summary.instances == sum(len(records(run.output_file(i))) for i in range(2))
    assert prepare_sharded_run(remote, output, tokenizer(), SETTINGS, compression="GZIP")[1] == []
