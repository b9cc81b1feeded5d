"""BertMultipleChoice: scores each choice packed with its context, learns
which one is right, reads raw text and token ids alike, round-trips through
`.keras` files, and refuses bad examples by name.

Tolerances: 1e-5 on logits computed two ways in float32 (rounding only).
"""

import keras
import numpy as np
import pytest

from bert_keras.errors import DataError
from bert_keras.models import BertBackbone, BertMultipleChoice
from bert_keras.preprocessing import BertMultipleChoicePreprocessor
from bert_keras.tokenizers import BertTokenizer

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "he", "ran", "sat", ".", "cat",
              "dog", "fast", "slow", "down"]


def chooser(num_choices=3, sequence_length=16):
    keras.utils.set_random_seed(0)
    backbone = BertBackbone(vocabulary_size=len(VOCABULARY), num_layers=2, num_heads=2,
                            hidden_dim=16, intermediate_dim=32, max_sequence_length=32)
    packer = BertMultipleChoicePreprocessor(BertTokenizer(VOCABULARY), sequence_length,
                                            padding="longest")
    return BertMultipleChoice(backbone, num_choices, preprocessor=packer)


def examples(count, seed):
    """The right choice, wherever it sits, is the one about a dog."""
    rng = np.random.default_rng(seed)
    contexts, choices, labels = [], [], []
    for _ in range(count):
        order = [str(c) for c in rng.permutation(["the dog ran .", "the cat sat .", "he sat down ."])]
        contexts.append(f"he {rng.choice(['ran', 'sat'])} {rng.choice(['fast', 'slow'])} .")
        choices.append(order)
        labels.append(order.index("the dog ran ."))
    return contexts, choices, np.asarray(labels)


@pytest.fixture(scope="module")
def trained():
    model = chooser()
    model.compile(learning_rate=2e-3)
    contexts, choices, labels = examples(64, seed=0)
    model.fit((contexts, choices), labels, epochs=8, batch_size=8, verbose=0)
    return model


@pytest.mark.model
def test_learns_the_right_choice_from_raw_text(trained):
    contexts, choices, labels = examples(24, seed=1)
    logits = trained.predict((contexts, choices), verbose=0)
    assert logits.shape == (24, 3) and (logits.argmax(-1) == labels).mean() > 0.9
    results = trained.evaluate((contexts, choices), labels, return_dict=True, verbose=0)
    assert results["accuracy"] == pytest.approx((logits.argmax(-1) == labels).mean())


@pytest.mark.model
def test_each_choice_is_scored_on_its_own(trained):
    contexts, choices, _ = examples(4, seed=2)
    logits = trained.predict((contexts, choices), verbose=0)
    # Reordering the choices reorders the scores, and a choice's score does
    # not depend on the others or on the padding of its batch.
    swapped = [row[::-1] for row in choices]
    np.testing.assert_allclose(trained.predict((contexts, swapped), verbose=0),
                               logits[:, ::-1], atol=1e-5)
    alone = trained.predict((contexts[:1], choices[:1]), verbose=0)
    np.testing.assert_allclose(alone, logits[:1], atol=1e-5)
    # Token ids `[batch, choices, sequence]` give the same logits.
    inputs = trained.preprocessor((contexts, choices))
    assert tuple(inputs["token_ids"].shape[:2]) == (4, 3)
    ids = {name: np.asarray(value) for name, value in inputs.items()}
    np.testing.assert_allclose(trained.predict(ids, verbose=0), logits, atol=1e-5)
    packed = [int(i) for i in ids["token_ids"][0, 0] if i]
    words = ["[CLS]", *contexts[0].split(), "[SEP]", *choices[0][0].split(), "[SEP]"]
    assert packed == [VOCABULARY.index(w) for w in words]


@pytest.mark.model
def test_keras_file_round_trip(trained, tmp_path):
    trained.save(tmp_path / "chooser.keras")
    loaded = keras.models.load_model(tmp_path / "chooser.keras")
    assert isinstance(loaded, BertMultipleChoice) and loaded.num_choices == 3
    contexts, choices, _ = examples(5, seed=3)
    np.testing.assert_array_equal(loaded.predict((contexts, choices), verbose=0),
                                  trained.predict((contexts, choices), verbose=0))


@pytest.mark.model
def test_any_number_of_choices_without_num_choices():
    model = chooser(num_choices=None)
    two = model.predict((["he ran ."], [["fast", "slow"]]), verbose=0)
    five = model.predict((["he ran ."], [["fast", "slow", "down", "cat", "dog"]]), verbose=0)
    assert two.shape == (1, 2) and five.shape == (1, 5)
    np.testing.assert_allclose(five[:, :2], two, atol=1e-5)
    assert model.predict(([], []), verbose=0).shape == (0, 0)


def test_bad_examples_are_named():
    model = chooser()
    with pytest.raises(DataError, match="Example 1 has 2 choices where example 0 has 3"):
        model.fit((["a", "b"], [["x", "y", "z"], ["x", "y"]]), [0, 1])
    with pytest.raises(DataError, match="chooses among 3 choices; the training examples have 2"):
        model.fit((["a"], [["x", "y"]]), [0])
    with pytest.raises(DataError, match=r"label 3 .*ids 0 to 2|outside|0 to 2"):
        model.fit((["a"], [["x", "y", "z"]]), [3])
    with pytest.raises(DataError, match="1 training examples but 2 labels"):
        model.fit((["a"], [["x", "y", "z"]]), [0, 1])
    with pytest.raises(DataError, match="2 contexts but 1 rows of choices"):
        model.predict((["a", "b"], [["x", "y", "z"]]))
    with pytest.raises(DataError, match=r"\[batch, choices, sequence\]"):
        model.predict({"token_ids": np.zeros((2, 4), "int32"),
                       "segment_ids": np.zeros((2, 4), "int32"),
                       "padding_mask": np.ones((2, 4), "int32")})
