"""Where each of the model's words stands in the text it was read from, as character offsets.

The tokenizers lower-case, fold accents and quotes, split clitics and join them again ("waiter 's" reads as one
word, "waiter's"), so their words are not substrings of the text. Both sides are folded the same way, character by
character, whitespace dropped, and each word is found in order from where the last one ended: word t's (start, end)
are offsets into the original text. A word that cannot be found (a folding that merges characters, as '' into ")
gets None and is skipped; the next word is looked for from the same place.
"""
import unicodedata

# As the tokenizers fold quotes (sentiment.text.tokenizer); one character to one.
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2032": "'", "`": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"'})


def fold(text):
    """(folded text, origin): each folded character's index in text. Lower-cased, whitespace, accents and format
    characters dropped, compatibility forms (NFKD) and quotes folded."""
    out, origin = [], []
    for index, char in enumerate(text):
        for c in unicodedata.normalize("NFKD", char.translate(_QUOTES)).lower():
            if c.isspace() or unicodedata.category(c) in ("Mn", "Cf"):
                continue
            out.append(c)
            origin.append(index)
    return "".join(out), origin


def word_offsets(text, words, base=0):
    """[(start, end) or None per word]: each word's character span in text, plus base (a sentence's own start)."""
    folded, origin = fold(text)
    spans, at = [], 0
    for word in words:
        key = fold(word)[0]
        found = folded.find(key, at) if key else -1
        if found < 0:
            spans.append(None)
            continue
        last = found + len(key) - 1
        spans.append((base + origin[found], base + origin[last] + 1))
        at = found + len(key)
    return spans
