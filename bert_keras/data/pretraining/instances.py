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

from bert_keras.data.pretraining.documents import read_documents

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


def create_masked_lm_predictions(tokens, masked_lm_prob, max_predictions_per_seq, vocab_words,
                                 rng, whole_word_mask=False):
    """`(output_tokens, positions, labels)` of the original's masking."""
    candidates = []
    for index, token in enumerate(tokens):
        if token in _SPECIAL:
            continue
        if whole_word_mask and candidates and token.startswith("##"):
            candidates[-1].append(index)
        else:
            candidates.append([index])
    rng.shuffle(candidates)
    output = list(tokens)
    num_to_predict = min(max_predictions_per_seq, max(1, int(round(len(tokens) * masked_lm_prob))))
    masked = []
    covered = set()
    for word in candidates:
        if len(masked) >= num_to_predict:
            break
        if len(masked) + len(word) > num_to_predict or any(i in covered for i in word):
            continue
        for index in word:
            covered.add(index)
            if rng.random() < 0.8:
                replacement = "[MASK]"
            elif rng.random() < 0.5:
                replacement = tokens[index]
            else:
                replacement = vocab_words[rng.randint(0, len(vocab_words) - 1)]
            output[index] = replacement
            masked.append((index, tokens[index]))
    masked.sort(key=lambda item: item[0])
    return output, [index for index, _ in masked], [label for _, label in masked]


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
            instances.append(TrainingInstance(tokens, segment_ids, is_random_next, positions, labels))
            chunk, chunk_length = [], 0
        i += 1
    return instances


def create_training_instances(input_files, tokenizer, max_seq_length=128, dupe_factor=10,
                              short_seq_prob=0.1, masked_lm_prob=0.15, max_predictions_per_seq=20,
                              seed=12345, whole_word_mask=False):
    """Every instance of the corpus in `input_files`, as one run of the original.

    Args:
        input_files: paths read as one corpus.
        tokenizer: a `bert_keras.tokenizers.BertTokenizer` with the casing
            the original's `--do_lower_case` would have.
        max_seq_length, dupe_factor, short_seq_prob, masked_lm_prob,
        max_predictions_per_seq: the original's flags, with its defaults.
        seed: int, the original's `--random_seed`, or a `random.Random`.
        whole_word_mask: bool, the original's `--do_whole_word_mask`.

    Returns:
        A list of `TrainingInstance`, in the order the original writes them.
    """
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    documents = read_documents(input_files, tokenizer)
    rng.shuffle(documents)
    # The original's `list(vocab.keys())`: each token once, in file order.
    vocab_words = list(dict.fromkeys(tokenizer.get_vocabulary()))
    instances = []
    for _ in range(dupe_factor):
        for document_index in range(len(documents)):
            instances.extend(create_instances_from_document(
                documents, document_index, max_seq_length, short_seq_prob, masked_lm_prob,
                max_predictions_per_seq, vocab_words, rng, whole_word_mask=whole_word_mask,
            ))
    rng.shuffle(instances)
    return instances
