"""Small SQuAD files, in the official layout, built from hand-written texts.

`answer` finds an answer's `answer_start` in its context from the text, so
tests state answers by what they say, never by hand-counted offsets (except
where a wrong offset is the point of the test).
"""

import json
import pathlib


def answer(context, text, occurrence=0):
    """`{"text", "answer_start"}` for the `occurrence`-th `text` in `context`."""
    start = -1
    for _ in range(occurrence + 1):
        start = context.find(text, start + 1)
        assert start >= 0, f"{text!r} is not in the context (occurrence {occurrence})"
    return {"text": text, "answer_start": start}


def question(qas_id, text, answers=(), is_impossible=None, plausible_answers=()):
    """One entry of a paragraph's "qas"; `is_impossible` only when given (v2.0)."""
    qa = {"id": qas_id, "question": text, "answers": list(answers)}
    if is_impossible is not None:
        qa["is_impossible"] = is_impossible
        if plausible_answers:
            qa["plausible_answers"] = list(plausible_answers)
    return qa


def squad_data(paragraphs, version="1.1", title="test article"):
    """A SQuAD file's content: one article of `(context, [qa, ...])` paragraphs."""
    return {
        "version": version,
        "data": [
            {
                "title": title,
                "paragraphs": [
                    {"context": context, "qas": list(qas)} for context, qas in paragraphs
                ],
            }
        ],
    }


def write_squad(path, data):
    """Writes `data` as a SQuAD JSON file at `path`; returns the path."""
    path = pathlib.Path(path)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path
