"""A token classifier's raw-text prediction as TensorFlow ops, for its SavedModel.

The steps of `BertTokenClassifier.predict` on strings, written again as
graph ops because a SavedModel runs without Python: the words of BERT's
basic tokenization read off the word pieces (as `data/text_words.py`
does), the greedy windows of whole words (`data/tagging_features.py`), each
word's logits from the window where it has the most context (ties to the
earlier window), and IOB phrases (`B-`/`I-` tags; any other tag is
outside) into entity spans. The tests hold both to the same tags, offsets
and entities.
"""

import tensorflow as tf

_FAR = tf.int64.max // 4


def tag_texts(model, texts):
    """Tags a `[batch]` string tensor; returns the dense outputs of the
    tagger's `serving_default` (see `bert_keras.export.saved_model`)."""
    tokenizer = model.tokenizer
    capacity = model.sequence_length - 2
    stride = model.stride or max(1, capacity // 2)
    words = _words(tokenizer, texts, capacity)
    windows = _windows(words["lengths"], capacity, stride)
    inputs, pieces = _window_inputs(tokenizer, words, windows)
    logits = tf.cast(model(inputs, training=False), tf.float32)
    word_logits = _best_window_logits(logits, pieces, windows, words)
    labels = tf.constant(model.label_names)
    tags = tf.gather(labels, tf.argmax(word_logits, axis=-1))
    return _outputs(texts, words, tags)


def _words(tokenizer, texts, capacity):
    """The pieces of each text grouped into words.

    Returns a dict: `ids` ragged `[texts, (pieces)]`; per piece (flat)
    `word` (its word, numbered over the whole batch) and `piece_in_word`;
    per word (flat) `row`, `start` and `end` (code point offsets, end
    exclusive); `lengths`, ragged `[texts, (words)]` pieces per word, at
    most `capacity`; `word_splits`, the row splits of the words.
    """
    ids, starts, ends = tokenizer.tokenize_with_offsets(texts)
    flat = ids.flat_values
    size = tf.size(flat, out_type=tf.int64)
    piece_rows = ids.value_rowids()
    continues = tf.constant([token.startswith("##") for token in tokenizer.get_vocabulary()])
    first_in_text = tf.range(size) == tf.gather(ids.row_splits, piece_rows)
    starts_word = first_in_text | ~tf.gather(continues, flat)
    word = tf.cumsum(tf.cast(starts_word, tf.int64)) - 1
    first_piece = tf.where(starts_word)[:, 0]
    num_words = tf.size(first_piece, out_type=tf.int64)
    word_rows = tf.gather(piece_rows, first_piece)
    word_splits = _row_splits(word_rows, ids.nrows())
    pieces_per_word = tf.math.unsorted_segment_sum(tf.ones_like(word), word, num_words)
    return {
        "ids": ids,
        "word": word,
        "piece_in_word": tf.range(size) - tf.gather(first_piece, word),
        "row": word_rows,
        "start": tf.gather(starts.flat_values, first_piece),
        "end": tf.math.unsorted_segment_max(ends.flat_values, word, num_words),
        "lengths": tf.RaggedTensor.from_row_splits(
            tf.minimum(pieces_per_word, capacity), word_splits),
        "word_splits": word_splits,
    }


def _windows(lengths, capacity, stride):
    """The `(row, first, end, index)` of every window, as four `[windows]`
    tensors: the words `first` up to `end` of text `row`, its `index`-th
    window. A text without words has one empty window, as in Python."""
    count = lengths.row_lengths()
    running = tf.cumsum(lengths.flat_values)
    before_row = tf.gather(tf.concat([[0], running], 0), lengths.row_splits[:-1])
    within_row = lengths.with_flat_values(running - tf.gather(before_row, lengths.value_rowids()))
    cumulative = tf.concat(
        [tf.zeros([lengths.nrows(), 1], tf.int64), within_row.to_tensor(_FAR)], axis=1)
    cumulative = tf.concat([cumulative, tf.fill([lengths.nrows(), 1], _FAR)], axis=1)
    rows = tf.range(lengths.nrows())

    def search(values):
        found = tf.searchsorted(cumulative, values[:, None], side="right")[:, 0]
        return tf.cast(found, tf.int64) - 1

    def step(index, first, active, found):
        base = tf.gather_nd(cumulative, tf.stack([rows, first], axis=1))
        # At least one word per window; a text without words has one empty window.
        end = tf.maximum(search(base + capacity), first + 1)
        end = tf.where(count == 0, tf.zeros_like(first), end)
        number = tf.fill(tf.shape(first), tf.cast(index, tf.int64))
        found = found.write(index, tf.stack(
            [tf.boolean_mask(values, active) for values in (rows, first, end, number)], axis=1))
        finished = end >= count
        following = tf.minimum(tf.maximum(search(base + stride), first + 1), end)
        first = tf.where(active & ~finished, following, first)
        return index + 1, first, active & ~finished, found

    found = tf.TensorArray(tf.int64, size=0, dynamic_size=True, element_shape=[None, 4],
                           infer_shape=False)
    _, _, _, found = tf.while_loop(
        lambda index, first, active, found: tf.reduce_any(active),
        step,
        (tf.constant(0), tf.zeros_like(count), tf.ones_like(count, tf.bool), found),
    )
    table = tf.reshape(found.concat(), [-1, 4])
    return {name: table[:, i] for i, name in enumerate(("row", "first", "end", "index"))}


def _window_inputs(tokenizer, words, windows):
    """The backbone inputs of the windows, and each kept piece's window,
    word, position and whether it is its word's first."""
    ids = words["ids"]
    splits = ids.row_splits
    starts, limits = tf.gather(splits, windows["row"]), tf.gather(splits, windows["row"] + 1)
    lengths = limits - starts
    piece = tf.ragged.range(starts, limits).flat_values
    window = tf.repeat(tf.range(tf.size(lengths, out_type=tf.int64)), lengths)
    word_offset = tf.gather(words["word_splits"], tf.gather(windows["row"], window))
    word = tf.gather(words["word"], piece)
    local = word - word_offset
    capacity_kept = tf.gather(words["piece_in_word"], piece) < tf.gather(
        words["lengths"].flat_values, word)
    kept = (capacity_kept & (local >= tf.gather(windows["first"], window))
            & (local < tf.gather(windows["end"], window)))
    piece, window, word = (tf.boolean_mask(values, kept) for values in (piece, window, word))
    count = tf.size(windows["row"], out_type=tf.int64)
    ragged = tf.RaggedTensor.from_value_rowids(tf.gather(ids.flat_values, piece), window,
                                               nrows=count)
    column = tf.RaggedTensor.from_tensor(tf.ones([count, 1], tf.int32))
    token_ids = tf.concat([column * tokenizer.token_to_id("[CLS]"), ragged,
                           column * tokenizer.token_to_id("[SEP]")], axis=1)
    dense = token_ids.to_tensor(tokenizer.pad_token_id)
    inputs = {
        "token_ids": dense,
        "segment_ids": tf.zeros_like(dense),
        "padding_mask": tf.ones_like(token_ids).to_tensor(0),
    }
    position = 1 + tf.range(tf.size(window, out_type=tf.int64)) - tf.gather(
        ragged.row_splits, window)
    pieces = {
        "window": window, "word": word, "position": position,
        "first": tf.gather(words["piece_in_word"], piece) == 0,
        "window_length": tf.gather(ragged.row_lengths() + 2, window),
    }
    return inputs, pieces


def _best_window_logits(logits, pieces, windows, words):
    """Each word's logits from its first piece in the window where it has
    the most context, the earlier window on ties."""
    first = {name: tf.boolean_mask(value, pieces["first"]) for name, value in pieces.items()}
    position, length = first["position"], first["window_length"]
    score = tf.cast(tf.minimum(position - 1, length - 2 - position), tf.float64) + 0.01 * tf.cast(
        length - 2, tf.float64)
    num_words = tf.size(words["row"], out_type=tf.int64)
    best = tf.math.unsorted_segment_max(score, first["word"], num_words)
    candidate = score == tf.gather(best, first["word"])
    index = tf.gather(windows["index"], first["window"])
    earliest = tf.math.unsorted_segment_min(tf.where(candidate, index, _FAR), first["word"],
                                            num_words)
    chosen = candidate & (index == tf.gather(earliest, first["word"]))
    values = tf.gather_nd(logits, tf.stack([tf.boolean_mask(first["window"], chosen),
                                            tf.boolean_mask(position, chosen)], axis=1))
    return tf.scatter_nd(tf.boolean_mask(first["word"], chosen)[:, None], values,
                         tf.stack([num_words, tf.shape(logits, out_type=tf.int64)[-1]]))


def _outputs(texts, words, tags):
    row, start, end = words["row"], words["start"], words["end"]
    word_text = tf.strings.substr(tf.gather(texts, row), tf.cast(start, tf.int32),
                                  tf.cast(end - start, tf.int32), unit="UTF8_CHAR")
    splits = words["word_splits"]

    def by_text(values, pad):
        return tf.RaggedTensor.from_row_splits(values, splits).to_tensor(pad)

    entity = _entities(texts, words, tags)
    entity_splits = _row_splits(entity["row"], tf.size(texts, out_type=tf.int64))

    def by_entity(values, pad):
        return tf.RaggedTensor.from_row_splits(values, entity_splits).to_tensor(pad)

    return {
        "words": by_text(word_text, ""),
        "tags": by_text(tags, ""),
        "word_starts": by_text(start, -1),
        "word_ends": by_text(end, -1),
        "num_words": splits[1:] - splits[:-1],
        "entity_texts": by_entity(entity["text"], ""),
        "entity_types": by_entity(entity["type"], ""),
        "entity_starts": by_entity(entity["start"], -1),
        "entity_ends": by_entity(entity["end"], -1),
        "num_entities": entity_splits[1:] - entity_splits[:-1],
    }


def _row_splits(rows, nrows):
    """The row splits of values whose (sorted) rows are `rows`, `nrows` rows."""
    counts = tf.math.unsorted_segment_sum(tf.ones_like(rows), rows, nrows)
    return tf.concat([tf.zeros([1], tf.int64), tf.cumsum(counts)], 0)


def _entities(texts, words, tags):
    """IOB phrases: a `B-X` starts one, and so does an `I-X` after anything
    but `B-X` or `I-X`; `I-X` after those goes on; other tags are outside."""
    row = words["row"]
    is_begin = tf.strings.regex_full_match(tags, "B-.+")
    is_inside = tf.strings.regex_full_match(tags, "I-.+")
    kind = tf.strings.regex_replace(tags, "^[BI]-", "")
    order = tf.range(tf.size(row, out_type=tf.int64))
    previous = tf.maximum(order - 1, 0)
    first_of_text = (order == 0) | (row != tf.gather(row, previous))
    previous_in = tf.gather(is_begin | is_inside, previous) & ~first_of_text
    goes_on = is_inside & previous_in & (tf.gather(kind, previous) == kind)
    starts = (is_begin | is_inside) & ~goes_on
    number = tf.cumsum(tf.cast(starts, tf.int64)) - 1
    member = starts | goes_on
    first = tf.where(starts)[:, 0]
    last = tf.math.unsorted_segment_max(
        tf.boolean_mask(order, member),
        tf.boolean_mask(number, member), tf.size(first, out_type=tf.int64))
    entity_row = tf.gather(row, first)
    start, end = tf.gather(words["start"], first), tf.gather(words["end"], last)
    text = tf.strings.substr(tf.gather(texts, entity_row), tf.cast(start, tf.int32),
                             tf.cast(end - start, tf.int32), unit="UTF8_CHAR")
    return {"row": entity_row, "type": tf.gather(kind, first), "start": start, "end": end,
            "text": text}
