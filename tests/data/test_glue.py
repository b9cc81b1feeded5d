"""GLUE and XNLI readers against tiny files in the official layouts."""

import logging

import numpy as np
import pytest
import tensorflow as tf

from bert_keras.data import TASKS, Example, get_task
from bert_keras.errors import DataError
from tests.data import glue_files

# Labels and metrics as the original `get_labels()` and GLUE's leaderboard.
LABELS = {
    "cola": ["0", "1"],
    "sst-2": ["0", "1"],
    "mrpc": ["0", "1"],
    "sts-b": None,
    "qqp": ["0", "1"],
    "mnli": ["contradiction", "entailment", "neutral"],
    "mnli-mm": ["contradiction", "entailment", "neutral"],
    "qnli": ["entailment", "not_entailment"],
    "rte": ["entailment", "not_entailment"],
    "wnli": ["0", "1"],
    "ax": ["contradiction", "entailment", "neutral"],
    "xnli": ["contradiction", "entailment", "neutral"],
}
FOLDERS = {
    "cola": "CoLA", "sst-2": "SST-2", "mrpc": "MRPC", "sts-b": "STS-B", "qqp": "QQP",
    "mnli": "MNLI", "qnli": "QNLI", "rte": "RTE", "wnli": "WNLI", "ax": "diagnostic",
}  # fmt: skip


@pytest.fixture(scope="module")
def glue_dir(tmp_path_factory):
    """A `$GLUE_DIR` (which also holds the two XNLI releases)."""
    return glue_files.write_all(tmp_path_factory.mktemp("glue"))


def as_tuples(examples):
    return [(e.guid, e.text_a, e.text_b, e.label, e.line_number) for e in examples]


# --- task registry -----------------------------------------------------------


def test_tasks_and_attributes():
    assert set(TASKS) == set(LABELS)
    for name, labels in LABELS.items():
        task = get_task(name)
        assert task.name == name
        assert task.labels == labels
        assert task.is_regression == (labels is None)
        assert task.num_classes == (1 if labels is None else len(labels))
        assert task.is_pair == (name not in ("cola", "sst-2"))


@pytest.mark.parametrize(
    "alias, name",
    [
        ("CoLA", "cola"), ("SST-2", "sst-2"), ("sst2", "sst-2"), ("STS-B", "sts-b"),
        ("stsb", "sts-b"), ("sts_b", "sts-b"), ("MNLI-MM", "mnli-mm"), (" MRPC ", "mrpc"),
        ("AX", "ax"), ("diagnostic", "ax"), ("XNLI", "xnli"),
    ],
)  # fmt: skip
def test_names_are_case_and_dash_insensitive(alias, name):
    assert get_task(alias).name == name


def test_unknown_task_lists_the_tasks():
    with pytest.raises(DataError, match="Unknown GLUE task 'squad'.*cola, sst-2, mrpc"):
        get_task("squad")


def test_metric_names():
    assert get_task("cola").metric_names == ("matthews_corrcoef",)
    assert get_task("sts-b").metric_names == ("pearson", "spearman", "corr")
    assert get_task("mrpc").metric_names == ("accuracy", "f1")
    assert get_task("qqp").metric_names == ("accuracy", "f1")
    for name in ("sst-2", "mnli", "mnli-mm", "qnli", "rte", "wnli", "xnli"):
        assert get_task(name).metric_names == ("accuracy",)


def test_language_is_only_for_xnli():
    assert get_task("xnli").language == "zh"
    assert get_task("xnli", language="de").language == "de"
    with pytest.raises(DataError, match="no language 'xx'"):
        get_task("xnli", language="xx")
    with pytest.raises(DataError, match="Only XNLI"):
        get_task("mrpc", language="de")


# --- reading every task and split ----------------------------------------------


@pytest.mark.parametrize("task_name, split", sorted(glue_files.EXPECTED))
def test_read_examples(glue_dir, task_name, split):
    examples = get_task(task_name).read_examples(glue_dir, split)
    assert as_tuples(examples) == glue_files.EXPECTED[(task_name, split)]
    assert all(isinstance(e, Example) for e in examples)
    assert examples.skipped_rows == []


@pytest.mark.parametrize("task_name", sorted(FOLDERS))
def test_task_folder_works_as_data_dir(glue_dir, task_name):
    """The original scripts take `--data_dir=$GLUE_DIR/<TASK>`."""
    task = get_task(task_name)
    split = "test" if task_name == "ax" else "train"
    examples = task.read_examples(glue_dir / FOLDERS[task_name], split)
    assert as_tuples(examples) == glue_files.EXPECTED[(task_name, split)]


def test_mnli_splits(glue_dir):
    mnli, mismatched = get_task("mnli"), get_task("mnli-mm")
    expected = glue_files.EXPECTED
    # "dev"/"test" are the matched files for mnli, the mismatched for mnli-mm;
    # only the guid prefix follows the name the caller used.
    for task, dev, test in ((mnli, "dev_matched", "test_matched"), (mismatched, "dev_mismatched", "test_mismatched")):
        got_dev = as_tuples(task.read_examples(glue_dir, "dev"))
        got_test = as_tuples(task.read_examples(glue_dir, "test"))
        assert [row[1:] for row in got_dev] == [row[1:] for row in expected[("mnli", dev)]]
        assert [row[1:] for row in got_test] == [row[1:] for row in expected[("mnli", test)]]
        assert got_dev[0][0].startswith("dev-")
    assert as_tuples(mismatched.read_examples(glue_dir, "dev_matched")) == expected[("mnli", "dev_matched")]
    assert as_tuples(mismatched.read_examples(glue_dir, "train")) == expected[("mnli", "train")]


def test_xnli_filters_dev_by_language(glue_dir):
    german = get_task("xnli", language="de")
    dev = german.read_examples(glue_dir, "dev")
    assert [(e.guid, e.label, e.line_number) for e in dev] == [("dev-2", "entailment", 4)]
    assert dev[0].text_a == 'Und er sagte: "Mama, ich bin daheim."'
    train = german.read_examples(glue_dir, "train")
    assert train[0].text_a.startswith("Konzeptionell") and train[0].label == "entailment"
    assert len(get_task("xnli", language="ar").read_examples(glue_dir, "dev")) == 1
    with pytest.raises(DataError, match="holds no dev examples in language 'en'"):
        get_task("xnli", language="en").read_examples(glue_dir, "dev")
    # No machine-translated training file for "en" in this folder.
    with pytest.raises(DataError, match=r"multinli\.train\.en\.tsv"):
        get_task("xnli", language="en").read_examples(glue_dir, "train")


def test_unknown_split(glue_dir):
    with pytest.raises(DataError, match="no split 'validation'.*train, dev, test"):
        get_task("rte").read_examples(glue_dir, "validation")
    with pytest.raises(DataError, match="no split 'train'.*test"):
        get_task("ax").read_examples(glue_dir, "train")
    with pytest.raises(DataError, match="no split 'test'"):
        get_task("xnli").read_examples(glue_dir, "test")


def test_missing_file_names_path_and_layout(tmp_path):
    with pytest.raises(DataError) as info:
        get_task("mrpc").read_examples(tmp_path, "train")
    message = str(info.value)
    assert str(tmp_path / "train.tsv") in message
    assert str(tmp_path / "MRPC" / "train.tsv") in message
    assert "Quality | #1 ID | #2 ID | #1 String | #2 String" in message
    assert "label = 'Quality'" in message
    with pytest.raises(DataError, match="no header row; columns: source | label | mark | sentence"):
        get_task("cola").read_examples(tmp_path, "dev")


def test_byte_order_mark_is_ignored(tmp_path):
    rows = glue_files.ROWS["MRPC/dev.tsv"]
    path = glue_files.write_rows(tmp_path / "dev.tsv", rows)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    examples = get_task("mrpc").read_examples(tmp_path, "dev")
    assert as_tuples(examples) == glue_files.EXPECTED[("mrpc", "dev")]


# --- bad rows ----------------------------------------------------------------------


@pytest.fixture
def bad_rte(tmp_path):
    """RTE train with a short row on line 3, an unknown label on line 5 and a
    blank line 6."""
    header, first, second = glue_files.ROWS["RTE/train.tsv"]
    rows = [header, first, ["7", "Only one sentence."], second, ["8", "A.", "B.", "maybe"], [], ["9", "C.", "D.", "entailment"]]
    return glue_files.write_rows(tmp_path / "train.tsv", rows)


def test_bad_row_raises_with_file_and_line(bad_rte):
    with pytest.raises(DataError, match=rf"{bad_rte}:3: expected at least 4 tab-separated columns, found 2"):
        get_task("rte").read_examples(bad_rte.parent, "train")


def test_unknown_label_raises_with_file_and_line(bad_rte):
    lines = bad_rte.read_text(encoding="utf-8").splitlines(keepends=True)
    del lines[2]  # the short row: now the unknown label is on line 4
    bad_rte.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(DataError, match=rf"{bad_rte}:4: unknown label 'maybe'.*entailment"):
        get_task("rte").read_examples(bad_rte.parent, "train")


def test_skip_bad_rows(bad_rte, caplog):
    with caplog.at_level(logging.WARNING, logger="bert_keras.data.glue"):
        examples = get_task("rte").read_examples(bad_rte.parent, "train", skip_bad_rows=True)
    assert [(e.guid, e.line_number) for e in examples] == [("train-0", 2), ("train-1", 4), ("train-9", 7)]
    assert [(r.line_number, r.reason.split(" ")[0]) for r in examples.skipped_rows] == [
        (3, "expected"),
        (5, "unknown"),
        (6, "expected"),
    ]
    assert all(r.path == str(bad_rte) for r in examples.skipped_rows)
    assert "Skipped 3 bad row(s)" in caplog.text and str(bad_rte) in caplog.text
    # The dataset applies the same rule.
    dataset = get_task("rte").dataset(bad_rte.parent, "train", skip_bad_rows=True)
    assert [int(label) for _, label in dataset.as_numpy_iterator()] == [1, 0, 0]


def test_bad_score_and_short_test_row(tmp_path):
    header, row = glue_files.ROWS["STS-B/dev.tsv"]
    glue_files.write_rows(tmp_path / "dev.tsv", [header, row[:-1] + ["high"]])
    with pytest.raises(DataError, match=r"dev\.tsv:2: score 'high' is not a number"):
        get_task("stsb").read_examples(tmp_path, "dev")
    header, row = glue_files.ROWS["QQP/test.tsv"]
    glue_files.write_rows(tmp_path / "test.tsv", [header, row, row[:2]])
    with pytest.raises(DataError, match=r"test\.tsv:3: expected at least 3"):
        get_task("qqp").read_examples(tmp_path, "test")
    # Test rows are matched to predictions by position: never skipped.
    with pytest.raises(DataError, match=r"test\.tsv:3: .*test rows are never skipped"):
        get_task("qqp").read_examples(tmp_path, "test", skip_bad_rows=True)


def test_dataset_raises_on_bad_rows(bad_rte):
    with pytest.raises(DataError, match=":3:"):
        get_task("rte").dataset(bad_rte.parent, "train")


# --- tf.data -------------------------------------------------------------------


def test_single_sentence_dataset(glue_dir):
    dataset = get_task("cola").dataset(glue_dir, "train")
    assert dataset.element_spec == (tf.TensorSpec((), tf.string), tf.TensorSpec((), tf.int32))
    elements = list(dataset.as_numpy_iterator())
    assert [(text.decode("utf-8"), int(label)) for text, label in elements] == [
        (text, int(label)) for _, text, _, label, _ in glue_files.EXPECTED[("cola", "train")]
    ]


def test_pair_dataset_label_indices(glue_dir):
    dataset = get_task("mnli").dataset(glue_dir, "dev_matched")
    string = tf.TensorSpec((), tf.string)
    assert dataset.element_spec == ((string, string), tf.TensorSpec((), tf.int32))
    elements = list(dataset.as_numpy_iterator())
    # neutral -> 2, contradiction -> 0 in the original label order.
    assert [int(label) for _, label in elements] == [2, 0]
    (text_a, text_b), _ = elements[0]
    assert text_a.decode() == "The new rights are nice enough"
    assert text_b.decode() == "Everyone really likes the newest benefits "


def test_unicode_survives_the_dataset(glue_dir):
    dataset = get_task("xnli").dataset(glue_dir, "train")
    (text_a, _), label = next(iter(dataset.as_numpy_iterator()))
    assert text_a.decode("utf-8") == glue_files.EXPECTED[("xnli", "train")][0][1]
    assert int(label) == 2


def test_regression_dataset(glue_dir):
    dataset = get_task("sts-b").dataset(glue_dir, "train")
    assert dataset.element_spec[1] == tf.TensorSpec((), tf.float32)
    scores = [float(label) for _, label in dataset.as_numpy_iterator()]
    np.testing.assert_allclose(scores, [5.0, 3.8], rtol=1e-6)


@pytest.mark.parametrize("task_name, split", [("sst-2", "test"), ("mrpc", "test"), ("mnli-mm", "test"), ("ax", "test")])
def test_test_dataset_has_no_labels(glue_dir, task_name, split):
    task = get_task(task_name)
    dataset = task.dataset(glue_dir, split)
    string = tf.TensorSpec((), tf.string)
    assert dataset.element_spec == ((string, string) if task.is_pair else string)
    assert len(list(dataset)) == len(task.read_examples(glue_dir, split))


def test_dataset_batches_into_string_vectors(glue_dir):
    dataset = get_task("qnli").dataset(glue_dir, "train").batch(2)
    (text_a, text_b), labels = next(iter(dataset))
    assert text_a.shape == (2,) and text_b.shape == (2,)
    assert labels.numpy().tolist() == [1, 0]


def test_an_empty_split_is_an_error_naming_the_file(tmp_path):
    glue_files.write_rows(tmp_path / "dev.tsv", [["sentence", "label"]])
    with pytest.raises(DataError, match=r"dev\.tsv holds no dev examples"):
        get_task("sst-2").dataset(tmp_path, "dev")
    glue_files.write_rows(tmp_path / "train.tsv", [["sentence", "label"], ["fine", "7"]])
    with pytest.raises(DataError, match=r"holds no train examples \(1 bad rows skipped\)"):
        get_task("sst-2").read_examples(tmp_path, "train", skip_bad_rows=True)


# --- metrics through the task ----------------------------------------------------


def test_compute_metrics():
    assert get_task("rte").compute_metrics([0, 1, 1, 0], [0, 1, 0, 0]) == {"accuracy": 0.75}
    logits = np.array([[2.0, 0.1, 0.3], [0.0, 1.0, 0.5], [0.0, 0.2, 0.9]])
    assert get_task("mnli").compute_metrics([0, 1, 1], logits) == {"accuracy": 2 / 3}
    result = get_task("sts-b").compute_metrics([0.0, 2.5, 5.0], [[0.5], [2.0], [4.5]])
    assert set(result) == {"pearson", "spearman", "corr"}
    assert result["spearman"] == pytest.approx(1.0)
    assert result["corr"] == pytest.approx((result["pearson"] + result["spearman"]) / 2)
    with pytest.raises(DataError, match="zero examples"):
        get_task("cola").compute_metrics([], [])
