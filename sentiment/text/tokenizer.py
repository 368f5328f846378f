"""Deterministic tokenizer matched to GloVe 6B (lower-case, PTB-style clitics).

Its settings are a plain dict stored in the model bundle, so a loaded bundle
tokenizes exactly as training did.
"""
import re
import unicodedata
from dataclasses import asdict, dataclass

# Quote variants folded to the two ASCII quotes that GloVe knows.
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2032": "'", "`": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"'})
_CATEGORY_MAP = {"Cc": " ", "Cf": ""}  # controls -> space; format characters (ZWSP, BOM, bidi marks) -> removed
_CLITIC = re.compile(r"(?<=[^\W_])(n't|'(?:s|re|ve|ll|d|m))\b")
_TOKEN = re.compile(r"""
      n't | '(?:s|re|ve|ll|d|m)\b      # clitics split off by _CLITIC
    | \d+(?:[.,:]\d+)+                  # 1,000  1.5  10:30
    | (?:[^\W\d_]\.){2,}                # u.s.  j.r.r.
    | [^\W_]+(?:-[^\W_]+)*              # words, hyphenated words kept whole
    | \.{2,} | -{2,} | !+ | \?+          # runs of punctuation that GloVe has as tokens
    | [^\w\s] | _                       # any other symbol (underscore included), one at a time
""", re.VERBOSE)
# Emoticons, whole, where they stand apart (at the start or after a space): ":)", ":-(", ":'(", ";d", "=/",
# ">:(", "(:", "<3". Not "http://" (the "/" must not be followed by another) nor "10:30" (numbers come first).
_EMOTICON = r"""(?<!\S)(?: >?[:;=]['\-o^]?(?:\)+|\(+|[][dpo3/\\|*@$])
                         | (?:\(+|\)+)['\-^]?[:;=] | </?3+ )(?![\w/])"""
_TOKEN_WITH_EMOTICONS = re.compile(_EMOTICON + " | " + _TOKEN.pattern, re.VERBOSE)
_ONE_EMOTICON = re.compile(_EMOTICON, re.VERBOSE)
# @mentions and links: no sentiment of their own, but a corpus's habits (its tweets lean positive) stick to them.
# Case-blind: the encoder's tokenizer looks for them before it lower-cases.
_MENTION_OR_LINK = re.compile(r"(?<![\w@])@\w+|\b(?:https?://|www\.)\S+", re.IGNORECASE)


def is_emoticon(token):
    """Whether a token, as the tokenizer writes it, is an emoticon."""
    return bool(_ONE_EMOTICON.fullmatch(token))


@dataclass(frozen=True)
class Tokenizer:
    """Text -> list of tokens; `max_len` clips long texts (callers are told via `truncated`)."""

    max_len: int = 64
    lowercase: bool = True
    normalization: str = "NFKC"
    emoticons: bool = True  # keep emoticons whole (they carry much of a tweet's sentiment); False splits them
    drop_mentions: bool = True  # leave out @mentions and links (unless the text is nothing else); False keeps them
    version: int = 1

    def __post_init__(self):
        if not isinstance(self.max_len, int) or self.max_len < 1:
            raise ValueError(f"max_len must be a positive integer, got {self.max_len!r}")

    def normalize(self, text):
        """Unicode-normalise, fold quotes; controls become spaces, invisible format characters go.

        Lone surrogates (possible from JSON) become '?', so answers are always valid UTF-8.
        """
        text = unicodedata.normalize(self.normalization, text.encode("utf-8", "replace").decode("utf-8"))
        text = "".join(_CATEGORY_MAP.get(unicodedata.category(c), c) for c in text)
        text = text.translate(_QUOTES).replace("''", '"')
        return text.lower() if self.lowercase else text

    def split(self, text):
        """All tokens of `text`, unclipped."""
        text = self.normalize(text)
        if self.drop_mentions:
            tokens = self._tokens(_MENTION_OR_LINK.sub(" ", text))
            if tokens:
                return tokens
        return self._tokens(text)

    def _tokens(self, text):
        pattern = _TOKEN_WITH_EMOTICONS if self.emoticons else _TOKEN
        return pattern.findall(_CLITIC.sub(r" \1", text))

    def __call__(self, text):
        """Return (tokens, truncated): at most `max_len` tokens."""
        tokens = self.split(text)
        return tokens[: self.max_len], len(tokens) > self.max_len

    @property
    def limits(self):
        """What a sentence may hold: tokens (sentiment.inference.documents reads a longer one in parts)."""
        return (self.max_len,)

    def measure(self, text):
        """(tokens,) of a text, counted against `limits`."""
        return (len(self.split(text)),)

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, settings):
        """Bundles written before a setting existed tokenize as they were trained: emoticons split, mentions kept."""
        return cls(**{"emoticons": False, "drop_mentions": False, **settings})
