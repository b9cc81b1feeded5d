"""Small GLUE-format folders with a signal a model can learn.

The sentences use only words of the synthetic vocabulary that the test
checkpoints ship with ("the cat sat on mat dog . , ! ?" and single letters),
so that they tokenize into known pieces rather than [UNK]. Each sentence
names its animal within its first few words, then runs on with letter
words, so that a pair packed to 32 tokens or fewer still shows both
animals, and all pairs fall in one length bucket (fewer compilations).
"""

from __future__ import annotations

import pathlib
import random

MRPC_HEADER = ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]
MRPC_TEST_HEADER = ["index", "#1 ID", "#2 ID", "#1 String", "#2 String"]

_ANIMALS = ("cat", "dog")
_TEMPLATES = (
    "the {animal} sat on the mat , {filler} {end}",
    "on the mat , the {animal} sat {filler} {end}",
    "the {animal} ! the {animal} sat {filler} {end}",
    "the mat ? the {animal} sat , {filler} {end}",
)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _sentence(rng: random.Random, animal: str) -> str:
    words = []
    while len(words) < rng.randint(4, 6):
        word = "".join(rng.choice(_LETTERS) for _ in range(rng.randint(2, 3)))
        if word not in _ANIMALS:
            words.append(word)
    filler = " ".join(words)
    text = rng.choice(_TEMPLATES).format(animal=animal, filler=filler, end=rng.choice(".!?"))
    return " ".join(text.split())


def mrpc_pair(rng: random.Random) -> tuple[str, str, str]:
    """`(label, sentence_1, sentence_2)`: "1" when both name the same animal."""
    first, second = rng.choice(_ANIMALS), rng.choice(_ANIMALS)
    return str(int(first == second)), _sentence(rng, first), _sentence(rng, second)


def _write_tsv(path: pathlib.Path, rows: list[list[str]]) -> None:
    path.write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")


def write_mrpc(folder, train_size=96, dev_size=32, test_size=16, seed=0) -> pathlib.Path:
    """Writes `train.tsv`, `dev.tsv` and `test.tsv` in the GLUE MRPC layout.

    Train and dev rows are `Quality, #1 ID, #2 ID, #1 String, #2 String`;
    the test file has `index` in place of `Quality`, as in the GLUE release.

    Returns:
        The folder, a `pathlib.Path`, ready to pass as `data_dir`.
    """
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)

    def ids():
        return str(rng.randrange(100_000, 4_000_000)), str(rng.randrange(100_000, 4_000_000))

    for split, size in (("train", train_size), ("dev", dev_size)):
        rows = [MRPC_HEADER]
        for _ in range(size):
            label, text_a, text_b = mrpc_pair(rng)
            rows.append([label, *ids(), text_a, text_b])
        _write_tsv(folder / f"{split}.tsv", rows)
    rows = [MRPC_TEST_HEADER]
    for index in range(test_size):
        _, text_a, text_b = mrpc_pair(rng)
        rows.append([str(index), *ids(), text_a, text_b])
    _write_tsv(folder / "test.tsv", rows)
    return folder
