"""Reading a pretraining corpus into tokenized documents.

The layout is the original's: one sentence per line, a blank line between
documents. Lines end at `\\n` only (the original reads with
`GFile.readline`), bytes that are not UTF-8 are dropped as its
`convert_to_unicode` drops them, and a line is stripped before it is
tokenized; a line with no tokens adds nothing, and empty documents are
dropped. Lines are tokenized with our `BertTokenizer` (identical to
`FullTokenizer`) in large batches, which is where the time goes.
"""

from bert_keras.data.line_inputs import count_lines, read_lines
from bert_keras.data.pretraining.chinese_words import mark_words

_BATCH_LINES = 4096


def _tokenized(tokenizer, lines, segmenter):
    pieces = tokenizer.tokenize_to_strings(lines).to_list()
    rows = [[piece.decode("utf-8") for piece in row] for row in pieces]
    if segmenter is not None:
        rows = [mark_words(row, segmenter(line)) if row else row for row, line in zip(rows, lines)]
    return rows


def _is_remote(path):
    return "://" in str(path)


def _lines(path):
    if not _is_remote(path):
        return read_lines(path)
    # gs:// and other TensorFlow file systems; GFile also splits at \n only.
    import tensorflow as tf

    def remote_lines():
        with tf.io.gfile.GFile(str(path), "rb") as file:
            for raw in file:
                yield raw.decode("utf-8", "ignore").strip()

    return remote_lines()


def read_documents(paths, tokenizer, batch_lines=_BATCH_LINES, segmenter=None, progress=None):
    """The documents of `paths`, in order: lists of sentences of word pieces.

    Args:
        paths: file paths, read one after another as one corpus (a
            document may not span two files: each file's first line starts
            one, as in the original, only if the previous file ended with a
            blank line).
        tokenizer: a `bert_keras.tokenizers.BertTokenizer`.
        batch_lines: int. Lines tokenized per call into the tokenizer.
        segmenter: optional function of a line to its words (see
            `chinese_words`); the pieces that continue a word are marked
            for whole word masking.
        progress: optional `tqdm`-like callable; shows the lines read (the
            files are counted first, a fast pass).

    Returns:
        A list of documents, each a list of sentences, each a list of str.
    """
    documents = [[]]
    pending = []

    def flush():
        lines = [line for line, _ in pending]
        for tokens, new_document in zip(_tokenized(tokenizer, lines, segmenter),
                                        [boundary for _, boundary in pending]):
            if new_document:
                documents.append([])
            elif tokens:
                documents[-1].append(tokens)
        pending.clear()

    lines = (line for path in paths for line in _lines(path))
    if progress is not None:
        remote = any(_is_remote(path) for path in paths)
        total = None if remote else sum(count_lines(path) for path in paths)
        lines = progress(lines, total=total, desc="Reading", unit="line")
    for line in lines:
        # A blank line opens a new document; its (empty) tokens are unused.
        pending.append((line, not line))
        if len(pending) >= batch_lines:
            flush()
    if pending:
        flush()
    return [document for document in documents if document]
