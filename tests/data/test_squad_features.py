"""SQuAD reading and feature conversion, against Google's `run_squad.py`.

The reference files hold the original `read_squad_examples` and
`convert_examples_to_features` outputs (with `FullTokenizer`) on generated
SQuAD files; ours must equal them field for field. The hand-built paragraphs
check the meaning of the features on text the reference lacks, with a small
vocabulary made for them, so they run without the reference data.
"""

import dataclasses
import inspect
import itertools
import json
import logging
import pathlib
import unicodedata

import numpy as np
import pytest
import tensorflow as tf

from tests.data.squad_files import answer, question, squad_data, write_squad

from bert_keras.data.squad.examples import SquadExample, read_squad_examples
from bert_keras.data.squad.features import (
    SquadFeature,
    convert_examples_to_features,
    features_dataset,
)
from bert_keras.errors import DataError
from bert_keras.tokenizers import BertTokenizer

REFERENCE = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"
SQUAD = REFERENCE / "squad"
SETTINGS = ("v1_uncased", "v1_cased", "v2_uncased", "v2_uncased_thresh")

needs_reference = pytest.mark.skipif(
    not SQUAD.is_dir(),
    reason=f"the reference outputs of the original run_squad.py are not at {SQUAD.resolve()}",
)

_TOKENIZERS = {}


def _tokenizer(vocabulary, lowercase):
    """Tokenizers are cached: the vocabulary is a path or a tuple."""
    key = (str(vocabulary) if isinstance(vocabulary, pathlib.Path) else vocabulary, lowercase)
    if key not in _TOKENIZERS:
        source = str(vocabulary) if isinstance(vocabulary, pathlib.Path) else list(vocabulary)
        _TOKENIZERS[key] = BertTokenizer(source, lowercase=lowercase)
    return _TOKENIZERS[key]


def _read_jsonl(path):
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file]


# Reference parity -------------------------------------------------------


@needs_reference
@pytest.mark.parametrize("mode", ["train", "predict"])
@pytest.mark.parametrize("setting", SETTINGS)
def test_examples_and_features_equal_the_original(setting, mode):
    folder = SQUAD / setting
    settings = json.loads((folder / "settings.json").read_text())
    is_training = mode == "train"
    examples = read_squad_examples(
        folder / "input.json",
        is_training=is_training,
        version_2_with_negative=settings["version"] == "2.0",
    )
    assert examples.skipped == []
    expected_examples = _read_jsonl(folder / f"{mode}_examples.jsonl")
    ours = [
        {
            "qas_id": e.qas_id,
            "doc_tokens": list(e.doc_tokens),
            "start_position": e.start_position,
            "end_position": e.end_position,
            "is_impossible": e.is_impossible,
        }
        for e in examples
    ]
    assert ours == expected_examples

    # The vocabulary path is relative to the squad folder, which holds the
    # settings folders. The cased setting pairs it with do_lower_case=False.
    vocabulary = (SQUAD / settings["vocab"]).resolve()
    tokenizer = _tokenizer(vocabulary, settings["do_lower_case"])
    features = convert_examples_to_features(
        examples,
        tokenizer,
        max_seq_length=settings["max_seq_length"],
        doc_stride=settings["doc_stride"],
        max_query_length=settings["max_query_length"],
        is_training=is_training,
        unique_id_start=settings["unique_id_start"],
    )
    expected_features = _read_jsonl(folder / f"{mode}_features.jsonl")
    for expected in expected_features:
        for key in ("token_to_orig_map", "token_is_max_context"):
            expected[key] = {int(k): v for k, v in expected[key].items()}
    ours = [dataclasses.asdict(f) for f in features]
    assert len(ours) == len(expected_features)
    for feature, expected in zip(ours, expected_features):
        assert feature == expected, f"feature {expected['unique_id']} differs"


# Hand-built paragraphs --------------------------------------------------

_CONTEXT = "Marie Curie was born in Warsaw in 1867."

# Words of the long paragraph, whole pieces of the test vocabulary, so that
# windows of a few pieces hold a few words.
_LONG_WORDS = tuple(f"w{i}" for i in range(200))
_LONG_CONTEXT = " ".join(_LONG_WORDS[:30]) + ",\t" + "   ".join(_LONG_WORDS[30:])

_PARAGRAPHS = [
    (
        "Zoë Saldaña and Renée Zellweger visited the café in São Paulo, then Ørsted's.",
        ["Saldaña", "café", "São Paulo", "Renée Zellweger visited", "Ørsted's", "Paulo,"],
    ),
    (
        "北京是中国的首都。東京は日本の首都です。 Seoul is the capital of Korea.",
        ["中国", "東京は日本", "北京是中国的首都。東京は日本の首都です。 Seoul", "Korea"],
    ),
    (
        'John Smith (1895-1943). He wrote "Hello, world!" -- twice; it cost $1,000.',
        ["1895", "1943", "Hello, world!", '"Hello, world!"', "twice", "1,000", "Smith (1895"],
    ),
    (
        "Tabs\tand   multiple   spaces\nand\u202fnarrow\u202fspaces\r\nend, a\u00a0no-break one.",
        [
            "multiple   spaces",
            "narrow",
            "and\u202fnarrow",
            "spaces\r\nend",
            "no-break",
            "break one.",
        ],
    ),
    (
        _LONG_CONTEXT,
        [
            "w0",
            "w5 w6 w7",
            "w12",
            "w29",
            "w29,\tw30",
            "w31   w32   w33   w34",
            "w60",
            "w185",
            "w199",
        ],
    ),
]


def _test_vocabulary():
    """Special tokens, the long paragraph's words, and every character (and
    its lowercased, accent-stripped forms) alone and as a "##" piece."""
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_LONG_WORDS]
    texts = [context for context, _ in _PARAGRAPHS] + [_CONTEXT, "what where who which year?"]
    characters = []
    for character in "".join(texts):
        for form in (character, character.lower()):
            characters.append(form)
            characters.extend(
                c for c in unicodedata.normalize("NFD", form) if unicodedata.category(c) != "Mn"
            )
    for character in characters:
        if not character.isspace():
            tokens += [character, "##" + character]
    return tuple(dict.fromkeys(tokens))


def _hand_built_data():
    paragraphs = []
    for p, (context, answers) in enumerate(_PARAGRAPHS):
        qas = [
            question(f"h{p}_{a}", f"what where who which {text}?", [answer(context, text)])
            for a, text in enumerate(answers)
        ]
        paragraphs.append((context, qas))
    return squad_data(paragraphs)


def _words(context):
    """`(start, end)` character spans of the words, split on the original's
    whitespace set, one character at a time."""
    spans = []
    for i, character in enumerate(context):
        if character in " \t\r\n\u202f":
            continue
        if spans and spans[-1][1] == i:
            spans[-1] = (spans[-1][0], i + 1)
        else:
            spans.append((i, i + 1))
    return spans


def _sublist_index(haystack, needle):
    for i in range(len(haystack) - len(needle) + 1):
        if haystack[i : i + len(needle)] == needle:
            return i
    return -1


@pytest.mark.parametrize("lowercase", [True, False])
@pytest.mark.parametrize(
    "max_seq_length, doc_stride, max_query_length",
    # Small windows; a stride longer than the window; long windows whose
    # last one is much shorter (where the 0.01 * length of the max-context
    # score decides); one window.
    [(24, 3, 6), (40, 8, 10), (24, 40, 6), (200, 181, 10), (384, 128, 64)],
)
def test_training_features_map_back_to_the_annotated_answers(
    lowercase, max_seq_length, doc_stride, max_query_length
):
    """What is compared, for every question and every window:

    - the example's words are the context's whitespace-separated words, and
      its answer words are those the annotated characters touch;
    - the windows are the paragraph's pieces from `doc_span_index *
      min(doc_stride, window length)` on, and cover it; each piece is
      max-context in the window where the fewer of its left and right
      neighbours, plus 0.01 times the window's length, is largest (the
      first such window);
    - a window holding the whole answer labels it: its pieces are the answer
      text's own pieces where those occur in the answer words (the original
      narrows the span to them), else all the pieces of the answer words;
      and, through `token_to_orig_map` and the words' character spans, the
      label covers exactly the answer words, whose text contains the
      annotated answer at its offset and equals it when the answer is whole
      words (the original's granularity is the word);
    - a window lacking part of the answer labels [CLS] (0, 0);
    - an answer no longer than the pieces two successive windows share, plus
      one, is held by at least one window.
    """
    data = _hand_built_data()
    tokenizer = _tokenizer(_test_vocabulary(), lowercase)
    examples = read_squad_examples(data, is_training=True)
    assert examples.skipped == []
    features = list(
        convert_examples_to_features(
            examples,
            tokenizer,
            max_seq_length=max_seq_length,
            doc_stride=doc_stride,
            max_query_length=max_query_length,
            is_training=True,
        )
    )
    assert [f.unique_id for f in features] == list(
        range(1000000000, 1000000000 + len(features))
    )
    gold = {
        qa["id"]: qa["answers"][0]
        for paragraph in data["data"][0]["paragraphs"]
        for qa in paragraph["qas"]
    }

    def pieces(texts):
        """The pieces of each text, from one tokenizer call."""
        strings = tokenizer.tokenize_to_strings(list(texts)).to_list()
        return [[piece.decode() for piece in row] for row in strings]

    paragraph_pieces = {}
    for example in examples:
        if example.context_text not in paragraph_pieces:
            paragraph_pieces[example.context_text] = pieces(example.doc_tokens)
    texts = [gold[e.qas_id]["text"] for e in examples] + [e.question_text for e in examples]
    answer_and_question_pieces = pieces(texts)

    for index, example in enumerate(examples):
        context = example.context_text
        spans = _words(context)
        assert example.doc_tokens == tuple(context[s:e] for s, e in spans)
        start_char = gold[example.qas_id]["answer_start"]
        text = gold[example.qas_id]["text"]
        end_char = start_char + len(text)
        first = next(w for w, (s, e) in enumerate(spans) if s <= start_char < e)
        last = next(w for w, (s, e) in enumerate(spans) if s < end_char <= e)
        assert (example.start_position, example.end_position) == (first, last)

        word_pieces = paragraph_pieces[context]
        doc = [piece for word in word_pieces for piece in word]
        answer_words_start = sum(len(p) for p in word_pieces[:first])
        covered = doc[answer_words_start : sum(len(p) for p in word_pieces[: last + 1])]
        answer_pieces = answer_and_question_pieces[index]
        narrowed = _sublist_index(covered, answer_pieces)
        if narrowed >= 0:
            expected = answer_pieces
            answer_start = answer_words_start + narrowed
        else:
            expected = covered
            answer_start = answer_words_start
        answer_end = answer_start + len(expected) - 1

        own = [f for f in features if f.example_index == index]
        assert [f.doc_span_index for f in own] == list(range(len(own)))
        query_length = len(answer_and_question_pieces[len(examples) + index][:max_query_length])
        window_length = max_seq_length - query_length - 3
        doc_offset = query_length + 2
        windows = [
            (f.doc_span_index * min(doc_stride, window_length), len(f.tokens) - doc_offset - 1)
            for f in own
        ]
        assert windows[-1][0] + windows[-1][1] == len(doc)

        def context_score(window, piece):
            start, length = window
            return min(piece - start, start + length - 1 - piece) + 0.01 * length

        best_window = [
            max(
                (w for w, (start, length) in enumerate(windows) if start <= piece < start + length),
                key=lambda w: (context_score(windows[w], piece), -w),
            )
            for piece in range(len(doc))
        ]
        holding = 0
        for feature, (window_start, length) in zip(own, windows):
            window = feature.tokens[doc_offset:-1]
            assert window == doc[window_start : window_start + length]
            assert feature.tokens[-1] == "[SEP]" and len(feature.tokens) <= max_seq_length
            assert feature.token_is_max_context == {
                doc_offset + i: best_window[window_start + i] == feature.doc_span_index
                for i in range(length)
            }
            if not window_start <= answer_start <= answer_end < window_start + len(window):
                assert (feature.start_position, feature.end_position) == (0, 0)
                continue
            holding += 1
            assert feature.start_position == answer_start - window_start + doc_offset
            assert feature.end_position == answer_end - window_start + doc_offset
            labelled = feature.tokens[feature.start_position : feature.end_position + 1]
            assert labelled == expected
            word_start = feature.token_to_orig_map[feature.start_position]
            word_end = feature.token_to_orig_map[feature.end_position]
            assert (word_start, word_end) == (first, last)
            covered_text = context[spans[word_start][0] : spans[word_end][1]]
            assert covered_text[start_char - spans[word_start][0] :][: len(text)] == text
            if (start_char, end_char) == (spans[first][0], spans[last][1]):
                assert covered_text == text
        # Successive windows share `window_length - step` pieces.
        if len(expected) <= window_length - min(doc_stride, window_length) + 1:
            assert holding >= 1, example.qas_id


def test_answer_narrowed_to_its_pieces():
    """The original's span improvement, on its own docstring's case."""
    context = "The leader was John Smith (1895-1943)."
    data = squad_data([(context, [question("q", "what year?", [answer(context, "1895")])])])
    example = read_squad_examples(data, is_training=True)[0]
    assert example.doc_tokens[example.start_position] == "(1895-1943)."
    feature = next(
        convert_examples_to_features(
            [example], _tokenizer(_test_vocabulary(), True), 64, 16, 16, is_training=True
        )
    )
    assert feature.tokens[feature.start_position : feature.end_position + 1] == [
        "1",
        "##8",
        "##9",
        "##5",
    ]


# Bad inputs -------------------------------------------------------------

def _one_question(qa, context=_CONTEXT, version="1.1"):
    return squad_data([(context, [qa])], version=version)


@pytest.mark.parametrize(
    "bad_answer, reason",
    [
        ({"text": "1867.", "answer_start": 36}, "past the end of the context"),
        ({"text": "Warsaw", "answer_start": 4000}, "past the end of the context"),
        ({"text": "Warsaw", "answer_start": -3}, "negative"),
        ({"text": "Warsaw", "answer_start": 0}, "could not find answer"),
        ({"text": "   ", "answer_start": 5}, "empty"),
    ],
)
def test_unrecoverable_training_answers_are_skipped_and_reported(bad_answer, reason, caplog):
    context = _CONTEXT
    qas = [
        question("good", "Who?", [answer(context, "Marie Curie")]),
        question("bad", "Where?", [bad_answer]),
    ]
    data = squad_data([(context, qas)])
    with caplog.at_level(logging.WARNING):
        examples = read_squad_examples(data, is_training=True)
    assert [e.qas_id for e in examples] == ["good"]
    assert [s.qas_id for s in examples.skipped] == ["bad"]
    assert reason in examples.skipped[0].reason
    assert "Skipped 1 of 2 training question(s)" in caplog.text
    # Prediction reads no positions: the question is kept.
    predict = read_squad_examples(data, is_training=False)
    assert [e.qas_id for e in predict] == ["good", "bad"]
    assert predict[1].answers == (bad_answer["text"],)


def test_answer_starting_in_leading_whitespace_is_skipped():
    qa = question("q", "Who?", [{"text": " Marie", "answer_start": 0}])
    data = _one_question(qa, " " + _CONTEXT)
    examples = read_squad_examples(data, is_training=True)
    assert examples == [] and "whitespace before the first word" in examples.skipped[0].reason


def test_answer_with_a_no_break_space_is_skipped_as_in_the_original():
    # The answer text is split on all whitespace, the paragraph only on the
    # original's set: "a no" is not found in the word "a\u00a0no-break".
    context = "It has a\u00a0no-break space."
    data = _one_question(question("q", "What?", [answer(context, "a\u00a0no")]), context)
    examples = read_squad_examples(data, is_training=True)
    assert examples == [] and "could not find answer 'a no'" in examples.skipped[0].reason


def test_answer_starting_mid_word_keeps_the_whole_word():
    data = _one_question(question("q", "What?", [answer(_CONTEXT, "arsaw")]))
    example = read_squad_examples(data, is_training=True)[0]
    assert example.doc_tokens[example.start_position : example.end_position + 1] == ("Warsaw",)


def _raises(data, match, is_training=True, version_2=False):
    with pytest.raises(DataError, match=match):
        read_squad_examples(data, is_training=is_training, version_2_with_negative=version_2)


def test_bad_files(tmp_path):
    _raises(tmp_path / "missing.json", "No SQuAD file at .*missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"data": [}', encoding="utf-8")
    _raises(broken, r"broken.json is not valid JSON \(line 1, column 11")
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"data": [], "x": "café"}'.encode("latin-1"))
    _raises(latin, "latin.json is not UTF-8")
    not_an_object = write_squad(tmp_path / "list.json", [])
    _raises(not_an_object, "list.json: the top level should be a JSON object")


def test_missing_and_mistyped_keys():
    good = question("q7", "Who?", [answer(_CONTEXT, "Marie Curie")])
    _raises({"version": "1.1"}, "the top level has no 'data' key")
    _raises({"data": [{"title": "t"}]}, r"article 0 \('t'\) has no 'paragraphs' key")
    _raises({"data": [{"paragraphs": [{"qas": []}]}]}, "paragraph 0 has no 'context' key")
    _raises(_one_question({"question": "Who?", "answers": []}), "has no 'id' key")
    _raises(_one_question({"id": "q7", "answers": []}), "question 'q7'.*has no 'question' key")
    _raises(_one_question({"id": "q7", "question": "Who?"}), "question 'q7'.*has no 'answers' key")
    _raises(
        _one_question(dict(good, answers=[{"text": "Marie"}])),
        "question 'q7'.*answer 0 has no 'answer_start' key",
    )
    _raises(
        _one_question(dict(good, answers=[{"text": "Marie", "answer_start": "0"}])),
        "question 'q7'.*'answer_start' should be an integer; found '0'",
    )
    _raises(_one_question(dict(good, id=7)), "'id' should be a string")
    # Prediction needs neither answer_start nor answers.
    assert read_squad_examples(_one_question(dict(good, answers=[{"text": "M"}])), False)
    no_answers = {"id": "q7", "question": "Who?"}
    assert read_squad_examples(_one_question(no_answers), False)[0].answers == ()


def test_empty_context():
    for context in ("", " \t\n\u202f"):
        for is_training in (True, False):
            data = _one_question(question("q", "Who?"), context)
            _raises(data, "has an empty context", is_training)


def test_training_needs_one_answer_per_answerable_question():
    two = question("q", "Who?", [answer(_CONTEXT, "Marie"), answer(_CONTEXT, "Marie Curie")])
    _raises(_one_question(two), "question 'q'.*has 2 answers.*is_training=False")
    _raises(_one_question(question("q", "Who?")), "question 'q'.*has 0 answers")
    assert read_squad_examples(_one_question(two), is_training=False)[0].answers == (
        "Marie",
        "Marie Curie",
    )


def test_squad_v2_questions():
    impossible = question("q", "Who?", is_impossible=True,
                          plausible_answers=[answer(_CONTEXT, "Marie")])  # fmt: skip
    example = read_squad_examples(_one_question(impossible, version="2.0"), True, True)[0]
    assert (example.start_position, example.end_position, example.orig_answer_text) == (-1, -1, "")
    assert example.is_impossible and example.answers == ()
    # As in the original, prediction does not read is_impossible.
    predict = read_squad_examples(_one_question(impossible, version="2.0"), False, True)
    assert not predict[0].is_impossible

    both = question("q", "Who?", [answer(_CONTEXT, "Marie")], is_impossible=True)
    for is_training in (True, False):
        _raises(_one_question(both, version="2.0"), "'q'.*is_impossible but has 1 answer",
                is_training, version_2=True)  # fmt: skip
    _raises(_one_question(impossible, version="2.0"), "version_2_with_negative=True")
    _raises(_one_question(question("q", "Who?", [answer(_CONTEXT, "Marie")]), version="2.0"),
            "question 'q'.*has no 'is_impossible' key", version_2=True)  # fmt: skip


def test_duplicate_question_ids():
    qa = question("same", "Who?", [answer(_CONTEXT, "Marie")])
    data = squad_data([(_CONTEXT, [qa]), (_CONTEXT, [qa])])
    _raises(data, "question id 'same' .*paragraph 1.* is used twice")


def test_reads_a_file_and_shares_paragraph_words(tmp_path):
    qas = [question(f"q{i}", "Who?", [answer(_CONTEXT, "Curie")]) for i in range(2)]
    path = write_squad(tmp_path / "train.json", squad_data([(_CONTEXT, qas)]))
    examples = read_squad_examples(str(path), is_training=True)
    assert examples.path == str(path)
    assert examples[0].doc_tokens is examples[1].doc_tokens
    assert examples[0] == SquadExample(
        qas_id="q0",
        question_text="Who?",
        context_text=_CONTEXT,
        doc_tokens=("Marie", "Curie", "was", "born", "in", "Warsaw", "in", "1867."),
        char_to_word_offset=tuple(int(i) for i in "000000111111222233333444555555566677777"),
        orig_answer_text="Curie",
        start_position=1,
        end_position=1,
        is_impossible=False,
        answers=("Curie",),
    )


# Conversion arguments and streaming -------------------------------------


def _small_examples(is_training=True, count=3):
    qas = [
        question(f"q{i}", "Where was Marie Curie born?", [answer(_CONTEXT, "Warsaw")])
        for i in range(count)
    ]
    return read_squad_examples(squad_data([(_CONTEXT, qas)]), is_training=is_training)


@pytest.mark.parametrize(
    "arguments, match",
    [
        (dict(max_seq_length=20, max_query_length=17), "max_seq_length must exceed"),
        (dict(max_seq_length=19, max_query_length=16), "at least 20"),
        (dict(doc_stride=0), "`doc_stride` must be a positive integer"),
        (dict(max_query_length=2.5), "`max_query_length` must be a positive integer"),
    ],
)
def test_bad_conversion_arguments_fail_at_the_call(arguments, match):
    tokenizer = _tokenizer(_test_vocabulary(), True)
    with pytest.raises(ValueError, match=match):
        convert_examples_to_features(_small_examples(), tokenizer, **arguments)


def test_long_questions_are_cut_and_the_shortest_sequence_works():
    tokenizer = _tokenizer(_test_vocabulary(), True)
    features = list(
        convert_examples_to_features(
            _small_examples(count=1), tokenizer, max_seq_length=8, doc_stride=1,
            max_query_length=4, is_training=True,
        )
    )  # fmt: skip
    assert len(features) > 1
    for feature in features:
        # "where" cut to its first four characters, one paragraph piece.
        assert feature.tokens[:6] == ["[CLS]", "w", "##h", "##e", "##r", "[SEP]"]
        assert len(feature.tokens) == 8 and feature.input_mask == [1] * 8


def test_training_conversion_needs_training_examples():
    tokenizer = _tokenizer(_test_vocabulary(), True)
    features = convert_examples_to_features(
        _small_examples(is_training=False), tokenizer, 64, 16, 16, is_training=True
    )
    with pytest.raises(DataError, match="read with is_training=False"):
        next(features)


def test_conversion_streams():
    tokenizer = _tokenizer(_test_vocabulary(), True)
    example = _small_examples(count=1)[0]
    # An endless stream of examples: features come without reading it all.
    features = convert_examples_to_features(
        itertools.repeat(example), tokenizer, 24, 4, 8, is_training=True
    )
    assert inspect.isgenerator(features)
    first = list(itertools.islice(features, 50))
    assert all(isinstance(f, SquadFeature) for f in first)
    assert [f.unique_id for f in first] == list(range(1000000000, 1000000050))
    assert first[-1].example_index > 1


@pytest.mark.parametrize("is_training", [True, False])
def test_features_dataset(is_training):
    tokenizer = _tokenizer(_test_vocabulary(), True)
    examples = _small_examples(is_training=is_training)

    def make():
        return convert_examples_to_features(
            examples, tokenizer, 32, 8, 8, is_training=is_training, unique_id_start=7
        )

    features = list(make())
    sequence = tf.TensorSpec([32], tf.int32)
    inputs_spec = {"token_ids": sequence, "segment_ids": sequence, "padding_mask": sequence}
    for source in (make, features):
        dataset = features_dataset(source, max_seq_length=32, is_training=is_training)
        if is_training:
            position = tf.TensorSpec([], tf.int32)
            assert dataset.element_spec == (
                inputs_spec,
                {"start_positions": position, "end_positions": position},
            )
        else:
            assert dataset.element_spec == (inputs_spec, tf.TensorSpec([], tf.int64))
        for _ in range(2):  # every pass sees every feature
            elements = list(dataset.as_numpy_iterator())
            assert len(elements) == len(features)
            for (inputs, second), feature in zip(elements, features):
                np.testing.assert_array_equal(inputs["token_ids"], feature.input_ids)
                np.testing.assert_array_equal(inputs["segment_ids"], feature.segment_ids)
                np.testing.assert_array_equal(inputs["padding_mask"], feature.input_mask)
                if is_training:
                    assert second["start_positions"] == feature.start_position
                    assert second["end_positions"] == feature.end_position
                else:
                    assert second == feature.unique_id
    batch = next(iter(features_dataset(make, 32, is_training).batch(2)))
    assert batch[0]["token_ids"].shape == (2, 32)


def test_features_dataset_refusals():
    tokenizer = _tokenizer(_test_vocabulary(), True)

    def make():
        return convert_examples_to_features(_small_examples(is_training=False), tokenizer, 32, 8, 8)

    with pytest.raises(DataError, match="not a one-shot iterator"):
        features_dataset(make(), max_seq_length=32)
    with pytest.raises(DataError, match="sequence length 32, not max_seq_length=64"):
        features_dataset(list(make()), max_seq_length=64)
    with pytest.raises(DataError, match="made with is_training=False"):
        features_dataset(list(make()), max_seq_length=32, is_training=True)



def test_word_split_matches_a_character_loop():
    context = "\u202fA  b\tc\r\nd\u00a0e\u202f f "
    example = read_squad_examples(_one_question(question("q", "?"), context), False)[0]
    spans = _words(context)
    assert example.doc_tokens == tuple(context[s:e] for s, e in spans)
    offsets = [sum(s <= i for s, _ in spans) - 1 for i in range(len(context))]
    assert list(example.char_to_word_offset) == offsets
    # A no-break space does not split words for the reader.
    assert example.doc_tokens[3] == "d\u00a0e"
