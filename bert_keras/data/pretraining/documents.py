"""Reading a pretraining corpus into tokenized documents.

The layout is the original's: one sentence per line, a blank line between
documents. Lines end at `\\n` only (the original reads with
`GFile.readline`), bytes that are not UTF-8 are dropped as its
`convert_to_unicode` drops them, and a line is stripped before it is
tokenized; a line with no tokens adds nothing, and empty documents are
dropped. Lines are tokenized with our `BertTokenizer` (identical to
`FullTokenizer`) in large batches, which is where the time goes.
"""

from bert_keras.data.line_inputs import read_lines

_BATCH_LINES = 4096


def _tokenized(tokenizer, lines):
    pieces = tokenizer.tokenize_to_strings(lines).to_list()
    return [[piece.decode("utf-8") for piece in row] for row in pieces]


def read_documents(paths, tokenizer, batch_lines=_BATCH_LINES):
    """The documents of `paths`, in order: lists of sentences of word pieces.

    Args:
        paths: file paths, read one after another as one corpus (a
            document may not span two files: each file's first line starts
            one, as in the original, only if the previous file ended with a
            blank line).
        tokenizer: a `bert_keras.tokenizers.BertTokenizer`.
        batch_lines: int. Lines tokenized per call into the tokenizer.

    Returns:
        A list of documents, each a list of sentences, each a list of str.
    """
    documents = [[]]
    pending = []

    def flush():
        for tokens, new_document in zip(_tokenized(tokenizer, [line for line, _ in pending]),
                                        [boundary for _, boundary in pending]):
            if new_document:
                documents.append([])
            elif tokens:
                documents[-1].append(tokens)
        pending.clear()

    for path in paths:
        for line in read_lines(path):
            # A blank line opens a new document; its (empty) tokens are unused.
            pending.append((line, not line))
            if len(pending) >= batch_lines:
                flush()
    if pending:
        flush()
    return [document for document in documents if document]
