"""Training instances exactly as `create_pretraining_data.py` makes them.

Exactness here means the same `random.Random` calls in the same order, so
the same seed gives the same instances: the document shuffle; per document
the `short_seq_prob` draw and target length; per chunk the A/B split, the
random-next draw, up to ten draws of another document, its start, the
segments put back; the front-or-back truncation draws; the candidate
shuffle and each masked piece's 80/10/10 draws; and the final shuffle of
all instances. The original's quirks are kept: the random word is drawn from
the whole vocabulary (`[CLS]`, `[unused5]` and `##` pieces included); with
whole word masking every piece of a chosen word draws its own replacement,
and a word that would pass `num_to_predict` is skipped, not cut; a corpus of
one document takes its "random" next segment from that same document.
"""

import dataclasses
import random
import warnings

from bert_keras.data.pretraining.chinese_words import ContinuedPiece
from bert_keras.data.pretraining.documents import read_documents
from bert_keras.data.pretraining.settings import PretrainingDataSettings
from bert_keras.errors import DataError

_SPECIAL = ("[CLS]", "[SEP]")


@dataclasses.dataclass
class TrainingInstance:
    """One sequence pair with its masked positions, before id conversion."""

    tokens: list
    segment_ids: list
    is_random_next: bool
    masked_lm_positions: list
    masked_lm_labels: list


def truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng):
    """Shortens the longer list (`tokens_b` on ties), at a random end, in place."""
    while len(tokens_a) + len(tokens_b) > max_num_tokens:
        longer = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


def shuffle(items, rng):
    """`rng.shuffle(items)` with the same draws, made faster for `random.Random`.

    The candidate shuffle is most of the run time. For a plain
    `random.Random`, CPython's shuffle draws `getrandbits(n.bit_length())`
    until below `n` for each `n` from `len(items)` down to 2; that loop is
    inlined here (the tests check it against `rng.shuffle`). Any other
    generator gets its own `shuffle`.
    """
    if type(rng) is not random.Random:
        rng.shuffle(items)
        return
    getrandbits = rng.getrandbits
    n = len(items)
    while n > 1:
        # All n of one bit length in one loop, from n down to `low`.
        bits = n.bit_length()
        low = max(1 << (bits - 1), 2)
        for i in range(n - 1, low - 2, -1):
            j = getrandbits(bits)
            while j > i:
                j = getrandbits(bits)
            items[i], items[j] = items[j], items[i]
        n = low - 1


def _word_candidates(tokens):
    candidates = []
    for index, token in enumerate(tokens):
        if token in _SPECIAL:
            continue
        if candidates and (token.startswith("##") or isinstance(token, ContinuedPiece)):
            candidates[-1].append(index)
        else:
            candidates.append([index])
    return candidates


def _piece_candidates(tokens):
    # A packed pair has [CLS] first and two [SEP]s; counting them runs in C,
    # and then the candidates are two ranges.
    if tokens and tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and \
            tokens.count("[CLS]") == 1 and tokens.count("[SEP]") == 2:
        middle = tokens.index("[SEP]")
        return [*range(1, middle), *range(middle + 1, len(tokens) - 1)]
    return [index for index, token in enumerate(tokens) if token not in _SPECIAL]


def create_masked_lm_predictions(tokens, masked_lm_prob, max_predictions_per_seq, vocab_words,
                                 rng, whole_word_mask=False):
    """`(output_tokens, positions, labels)` of the original's masking."""
    if whole_word_mask:
        candidates = _word_candidates(tokens)
    else:
        # One piece per candidate: the original's lists of one index, unwrapped.
        candidates = _piece_candidates(tokens)
    shuffle(candidates, rng)
    output = list(tokens)
    num_to_predict = min(max_predictions_per_seq, max(1, int(round(len(tokens) * masked_lm_prob))))
    if not whole_word_mask:
        candidates = [[index] for index in candidates[:num_to_predict]]
    masked = []
    random_draw = rng.random
    for word in candidates:
        if len(masked) >= num_to_predict:
            break
        # Words never overlap, so the original's covered-index check never fires.
        if len(masked) + len(word) > num_to_predict:
            continue
        for index in word:
            if random_draw() < 0.8:
                replacement = "[MASK]"
            elif random_draw() < 0.5:
                replacement = tokens[index]
            else:
                replacement = vocab_words[rng.randint(0, len(vocab_words) - 1)]
            output[index] = replacement
            masked.append(index)
    masked.sort()
    return output, masked, [tokens[index] for index in masked]


def create_instances_from_document(documents, document_index, max_seq_length, short_seq_prob,
                                   masked_lm_prob, max_predictions_per_seq, vocab_words, rng,
                                   whole_word_mask=False):
    """The instances of one document, drawing from `rng` as the original does."""
    document = documents[document_index]
    max_num_tokens = max_seq_length - 3
    target_seq_length = max_num_tokens
    if rng.random() < short_seq_prob:
        target_seq_length = rng.randint(2, max_num_tokens)
    instances = []
    chunk, chunk_length = [], 0
    i = 0
    while i < len(document):
        chunk.append(document[i])
        chunk_length += len(document[i])
        if i == len(document) - 1 or chunk_length >= target_seq_length:
            a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
            tokens_a = [token for segment in chunk[:a_end] for token in segment]
            tokens_b = []
            is_random_next = len(chunk) == 1 or rng.random() < 0.5
            if is_random_next:
                target_b_length = target_seq_length - len(tokens_a)
                for _ in range(10):
                    random_index = rng.randint(0, len(documents) - 1)
                    if random_index != document_index:
                        break
                other = documents[random_index]
                for segment in other[rng.randint(0, len(other) - 1):]:
                    tokens_b.extend(segment)
                    if len(tokens_b) >= target_b_length:
                        break
                # The segments not used for A go back to the document.
                i -= len(chunk) - a_end
            else:
                tokens_b = [token for segment in chunk[a_end:] for token in segment]
            truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng)
            tokens = ["[CLS]", *tokens_a, "[SEP]", *tokens_b, "[SEP]"]
            segment_ids = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
            tokens, positions, labels = create_masked_lm_predictions(
                tokens, masked_lm_prob, max_predictions_per_seq, vocab_words, rng,
                whole_word_mask=whole_word_mask,
            )
            instances.append(
                TrainingInstance(tokens, segment_ids, is_random_next, positions, labels))
            chunk, chunk_length = [], 0
        i += 1
    return instances


def create_training_instances(input_files, tokenizer, max_seq_length=128, dupe_factor=10,
                              short_seq_prob=0.1, masked_lm_prob=0.15, max_predictions_per_seq=20,
                              seed=12345, whole_word_mask=False, progress=None,
                              word_segmenter=None):
    """Every instance of the corpus in `input_files`, as one run of the original.

    Args:
        input_files: paths read as one corpus.
        tokenizer: a `bert_keras.tokenizers.BertTokenizer` with the casing
            the original's `--do_lower_case` would have.
        max_seq_length, dupe_factor, short_seq_prob, masked_lm_prob,
        max_predictions_per_seq: the original's flags, with its defaults
            (see `PretrainingDataSettings`).
        seed: int, the original's `--random_seed`, or a `random.Random`.
        whole_word_mask: bool, the original's `--do_whole_word_mask`.
        progress: optional callable wrapping an iterable, as `tqdm` does,
            with `total`, `desc` and `unit` keywords; shows the passes.
        word_segmenter: None, or "jieba" to join Chinese words for whole
            word masking (not in the original; see `chinese_words`).

    Returns:
        A list of `TrainingInstance`, in the order the original writes them.

    Raises:
        DataError: for a bad setting, or a corpus with no document.
    """
    settings = PretrainingDataSettings(
        max_seq_length=max_seq_length, max_predictions_per_seq=max_predictions_per_seq,
        masked_lm_prob=masked_lm_prob, short_seq_prob=short_seq_prob, dupe_factor=dupe_factor,
        seed=seed if isinstance(seed, int) else 0, whole_word_mask=whole_word_mask,
        word_segmenter=word_segmenter,
    ).check()
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    documents = read_documents(input_files, tokenizer, segmenter=settings.segmenter())
    return instances_from_documents(documents, tokenizer, settings, rng, progress=progress,
                                    source=", ".join(map(str, input_files)))


def instances_from_documents(documents, tokenizer, settings, rng=None, progress=None,
                             source="the corpus"):
    """The instances of tokenized `documents` (shuffled in place) under `settings`.

    `rng` defaults to `random.Random(settings.seed)`; `source` names the
    corpus in errors and warnings.
    """
    if not documents:
        raise DataError(
            f"{source} holds no document: every line is blank or has no token "
            "the vocabulary knows. Pass text with one sentence per line and a "
            "blank line between documents."
        )
    if len(documents) == 1:
        warnings.warn(
            f"{source} holds a single document, so every random next sentence "
            "is drawn from that same document (as in the original); separate "
            "documents with blank lines.",
            stacklevel=2,
        )
    rng = rng or random.Random(settings.seed)
    shuffle(documents, rng)
    # The original's `list(vocab.keys())`: each token once, in file order.
    vocab_words = list(dict.fromkeys(tokenizer.get_vocabulary()))
    passes = ((dupe, index) for dupe in range(settings.dupe_factor)
              for index in range(len(documents)))
    if progress is not None:
        passes = progress(passes, total=settings.dupe_factor * len(documents),
                          desc="Making instances", unit="document")
    instances = []
    for _, document_index in passes:
        instances.extend(create_instances_from_document(
            documents, document_index, settings.max_seq_length, settings.short_seq_prob,
            settings.masked_lm_prob, settings.max_predictions_per_seq, vocab_words, rng,
            whole_word_mask=settings.whole_word_mask,
        ))
    shuffle(instances, rng)
    return instances
