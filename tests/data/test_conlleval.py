"""Entity scores against the CoNLL `conlleval` script.

`../shared/reference/conlleval/` holds the script's input files and what it
printed for them. `bert-keras tag-eval` must print that text byte for byte,
and `entity_scores` (seqeval's entities, conlleval's formulas) must give the
same counts and, rounded as the script prints them, the same percentages.
The cases the reference files do not cover (hyphenated types, a type that
is only predicted, no predicted phrase, an I- tag after O) are checked on
hand-built lines whose counts follow from the script's rules, and random
IOB files are scored by both implementations, which must agree.
"""

import pathlib
import random
import re

import pytest

from bert_keras.cli.main import main
from bert_keras.data.conlleval import evaluate
from bert_keras.data.tagging_metrics import entity_scores
from bert_keras.errors import DataError

ROOT = pathlib.Path(__file__).resolve().parents[2]
REFERENCE = ROOT.parent / "shared" / "reference" / "conlleval"
CASES = sorted(path.name[: -len(".txt")] for path in REFERENCE.glob("case*.txt"))
needs_reference = pytest.mark.skipif(
    not CASES, reason=f"the shared reference data is absent ({REFERENCE})"
)


def sentences(lines):
    """Gold and predicted tags per sentence, as the script reads them: a
    `-DOCSTART-` line is a token outside any phrase, between boundaries."""
    gold, predicted, sentence = [], [], []
    for line in [*lines, ""]:
        fields = line.split()
        if fields and fields[0] == "-DOCSTART-":
            fields = ["-DOCSTART-", "O", "O"]
            if sentence:
                gold.append([g for g, _ in sentence])
                predicted.append([p for _, p in sentence])
            gold.append(["O"])
            predicted.append(["O"])
            sentence = []
        elif fields:
            sentence.append((fields[-2], fields[-1]))
        elif sentence:
            gold.append([g for g, _ in sentence])
            predicted.append([p for _, p in sentence])
            sentence = []
    return gold, predicted


def printed_scores(report):
    """The numbers of a conlleval report: overall, then per type."""
    first, overall, *rows = report.splitlines()
    tokens, gold, found, correct = map(int, re.findall(r"\d+", first))
    numbers = [float(x) for x in re.findall(r"\d+\.\d+", overall)]
    per_type = {}
    for row in rows:
        name, rest = row.split(": ", 1)
        values = [float(x) for x in re.findall(r"\d+\.\d+", rest)]
        per_type[name.strip()] = (*values, int(rest.rsplit(" ", 1)[1]))
    return (tokens, gold, found, correct), numbers, per_type


@needs_reference
@pytest.mark.parametrize("case", CASES)
def test_tag_eval_prints_what_conlleval_printed(case, capsysbinary):
    expected = (REFERENCE / f"{case}.conlleval.out").read_bytes()
    assert main(["tag-eval", str(REFERENCE / f"{case}.txt")]) == 0
    assert capsysbinary.readouterr().out == expected


@needs_reference
def test_tag_eval_reads_standard_input(monkeypatch, capsysbinary):
    import io
    import sys

    case = CASES[1]
    data = (REFERENCE / f"{case}.txt").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert main(["tag-eval", "-"]) == 0
    assert capsysbinary.readouterr().out == (REFERENCE / f"{case}.conlleval.out").read_bytes()


@needs_reference
@pytest.mark.parametrize("case", CASES)
def test_entity_scores_give_conllevals_numbers(case):
    lines = (REFERENCE / f"{case}.txt").read_text().splitlines()
    (tokens, gold, found, correct), overall, per_type = printed_scores(
        (REFERENCE / f"{case}.conlleval.out").read_text()
    )
    scores = entity_scores(*sentences(lines))
    assert (scores["gold"], scores["found"], scores["correct"]) == (gold, found, correct)
    printed = [round(100 * scores[key], 2) for key in ("accuracy", "precision", "recall", "f1")]
    assert printed == pytest.approx(overall, abs=1e-9)
    assert list(scores["per_type"]) == list(per_type)
    for name, (precision, recall, f1, count) in per_type.items():
        ours = scores["per_type"][name]
        assert ours["found"] == count
        assert [round(100 * ours[k], 2) for k in ("precision", "recall", "f1")] == pytest.approx(
            [precision, recall, f1], abs=1e-9)


def counts_of(lines, **options):
    counts = evaluate(lines, **options)
    return dict(counts.gold), dict(counts.found), dict(counts.correct)


def test_an_i_tag_after_o_starts_a_phrase_as_iob1_does():
    lines = ["a I-PER I-PER", "b I-PER I-PER", "c O O", "d I-LOC B-LOC", "e I-LOC I-LOC"]
    assert counts_of(lines) == ({"PER": 1, "LOC": 1}, {"PER": 1, "LOC": 1}, {"PER": 1, "LOC": 1})
    # IOB1's B- splits two adjacent phrases of one type.
    lines = ["a I-PER I-PER", "b B-PER I-PER"]
    assert counts_of(lines) == ({"PER": 2}, {"PER": 1}, {})


def test_types_keep_their_hyphens():
    counts = evaluate(["a B-ORG-GOV B-ORG-GOV", "b I-ORG-GOV I-ORG-GOV", "c O B-ORG"])
    assert dict(counts.gold) == {"ORG-GOV": 1}
    assert dict(counts.correct) == {"ORG-GOV": 1}
    assert counts.types() == ["ORG", "ORG-GOV"]
    assert "          ORG-GOV: precision: 100.00%" in counts.report()
    scores = entity_scores([["B-ORG-GOV", "I-ORG-GOV", "O"]], [["B-ORG-GOV", "I-ORG-GOV", "B-ORG"]])
    assert scores["per_type"]["ORG-GOV"]["correct"] == 1 and scores["found"] == 2


def test_a_type_only_predicted_and_no_prediction_at_all():
    report = evaluate(["a O B-MISC", "b B-PER O"]).report()
    assert report.splitlines() == [
        "processed 2 tokens with 1 phrases; found: 1 phrases; correct: 0.",
        "accuracy:   0.00%; precision:   0.00%; recall:   0.00%; FB1:   0.00",
        "             MISC: precision:   0.00%; recall:   0.00%; FB1:   0.00  1",
        "              PER: precision:   0.00%; recall:   0.00%; FB1:   0.00  0",
    ]
    report = evaluate(["a B-PER O", "b O O"]).report()
    assert report.startswith("processed 2 tokens with 1 phrases; found: 0 phrases; correct: 0.\n")
    empty = "processed 0 tokens with 0 phrases; found: 0 phrases; correct: 0.\n"
    assert evaluate([]).report() == empty
    scores = entity_scores([["B-PER", "O"]], [["O", "O"]])
    assert (scores["precision"], scores["recall"], scores["f1"]) == (0.0, 0.0, 0.0)


def test_random_iob_files_score_alike_in_both_implementations():
    rng = random.Random(0)
    tags = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-MISC", "B-ORG-X", "I-ORG-X"]
    for _ in range(200):
        lengths = [rng.randint(1, 8) for _ in range(rng.randint(1, 5))]
        gold = [[rng.choice(tags) for _ in range(length)] for length in lengths]
        predicted = [[rng.choice(tags) for _ in sentence] for sentence in gold]
        lines = []
        for g_sentence, p_sentence in zip(gold, predicted):
            lines += [f"w {g} {p}" for g, p in zip(g_sentence, p_sentence)] + [""]
        counts = evaluate(lines)
        scores = entity_scores(gold, predicted)
        for key in ("gold", "found", "correct"):
            assert scores[key] == sum(getattr(counts, key).values())
            assert {k: v["found" if key == "found" else key] for k, v in scores["per_type"].items()
                    if v[key]} == dict(+getattr(counts, key))
        assert 100 * scores["accuracy"] == pytest.approx(counts.accuracy())
        assert [100 * scores[k] for k in ("precision", "recall", "f1")] == pytest.approx(
            list(counts.scores()))


def test_raw_tags_and_another_delimiter():
    lines = ["a\tPER\tPER", "b\tPER\tNONE", "c\tNONE\tLOC"]
    counts = evaluate(lines, delimiter="\t", outside_tag="NONE", raw=True)
    # Every tagged token is its own phrase.
    assert dict(counts.gold) == {"PER": 2} and dict(counts.found) == {"PER": 1, "LOC": 1}
    assert dict(counts.correct) == {"PER": 1}


def test_bad_lines_are_named():
    with pytest.raises(DataError, match="line 3 has 2 fields, where the first line has 3"):
        evaluate(["a O O", "", "b O"])
    with pytest.raises(DataError, match=r"line 1 \('O'\) has one field"):
        evaluate(["O"])
    with pytest.raises(DataError, match="'E-PER' .*not an IOB tag"):
        entity_scores([["E-PER"]], [["O"]])
    with pytest.raises(DataError, match="sentence 0 has 2 gold tags but 1 predicted"):
        entity_scores([["O", "O"]], [["O"]])


def test_tag_eval_errors_name_the_file(tmp_path, capsys):
    path = tmp_path / "tags.txt"
    path.write_text("a B-PER B-PER\nb I-PER\n")
    assert main(["tag-eval", str(path)]) == 1
    assert f"{path}, line 2 has 2 fields" in capsys.readouterr().err
    assert main(["tag-eval", str(tmp_path / "none.txt")]) == 1
    assert "Cannot read" in capsys.readouterr().err
    assert main(["tag-eval", "-d", "(", str(path)]) == 1
    assert "not a regular expression" in capsys.readouterr().err


def test_latex_table_follows_the_per_type_scores():
    text = evaluate(["a B-PER B-PER", "b O B-LOC"]).report(latex=True)
    assert text.splitlines() == [
        "        & Precision &  Recall  & F$_{\\beta=1} \\\\\\hline",
        "LOC     &    0.00\\% &   0.00\\% &   0.00 \\\\",
        "PER     &  100.00\\% & 100.00\\% & 100.00 \\\\\\hline",
        "Overall &   50.00\\% & 100.00\\% &  66.67 \\\\\\hline",
    ]
