"""The answer with one more field, made the way a developer would add one: in its dataclass, and nowhere else.

`extend()` swaps sentiment.inference.answer.TextAnswer for a subclass with a `reading_seconds` field;
tests/test_answer.py and tests/test_page.py check that JSON, CSV, OpenAPI and the page then show it.
"""
from dataclasses import field, make_dataclass

from sentiment.inference import answer

FIELD, VALUE = "reading_seconds", 1.25


def extend():
    """Replace TextAnswer with the extended class; returns the original, to put back."""
    original = answer.TextAnswer
    meta = {"schema": {"type": "number", "description": "how long a reader takes over the text"}, "optional": False}
    answer.TextAnswer = make_dataclass("TextAnswer", [(FIELD, float, field(default=VALUE, metadata=meta))],
                                       bases=(original,), kw_only=True)
    return original
