"""The encoder's tokenizer: words as users read them, each made of the encoder's WordPiece pieces.

The pieces are exactly the reference tokenizer's (BERT's basic tokenization, lower-cased with
accents stripped, then greedy WordPiece over the uncased vocabulary; gluonnlp's Cython
implementation). The model's words are BERT's pre-tokens, regrouped where a reader sees one
word: "don't" (don, ', t), ":)" and "!!!" are one word each, so the negation features find
"don't" and `tokens`, `attention` and `contributions` read word by word. A word's pieces do not
depend on its neighbours, so the pieces of a text are the concatenation of its words' pieces.

@mentions and links are left out, as the GloVe tokenizer does (a text that is nothing else keeps them).
"""
import functools
import re
from dataclasses import asdict, dataclass

from gluonnlp.data.fast_bert_tokenizer import BasicTokenizer, WordpieceTokenizer

from .tokenizer import _MENTION_OR_LINK, is_emoticon

CLITICS = frozenset({"t", "s", "re", "ve", "ll", "d", "m"})  # what follows the apostrophe in don't, it's, we're ...
_PUNCTUATION = re.compile(r"^[^\w\s]$")
MAX_EMOTICON = 3  # pre-tokens an emoticon may span (":-(")


def read_piece_vocab(path):
    """{piece: id} from a BERT vocab.txt (one piece per line, the line number is the id)."""
    with open(path, encoding="utf-8") as f:
        return {line.rstrip("\n"): index for index, line in enumerate(f) if line.rstrip("\n")}


def group_words(pre_tokens):
    """BERT pre-tokens -> words: clitics, emoticons and runs of one punctuation mark joined."""
    words, k, n = [], 0, len(pre_tokens)
    while k < n:
        token = pre_tokens[k]
        if (token == "'" and words and words[-1][-1].isalnum() and k + 1 < n and pre_tokens[k + 1] in CLITICS):
            words[-1] += "'" + pre_tokens[k + 1]
            k += 2
            continue
        if _PUNCTUATION.match(token):
            span = next((size for size in range(MAX_EMOTICON, 1, -1)
                         if k + size <= n and is_emoticon("".join(pre_tokens[k:k + size]))), 0)
            if span:
                words.append("".join(pre_tokens[k:k + span]))
                k += span
                continue
            run = k + 1
            while run < n and pre_tokens[run] == token:
                run += 1
            words.append(token * (run - k))
            k = run
            continue
        words.append(token)
        k += 1
    return words


@dataclass(frozen=True)
class WordPieceTokenizer:
    """Text -> (words, truncated), like sentiment.text.tokenizer.Tokenizer; `pieces(word)` gives a word's piece ids.

    max_len bounds the words of a sentence, max_pieces its pieces ([CLS] and [SEP] not counted):
    a sentence past either is read in parts (sentiment.inference.documents), so nothing is clipped unflagged.
    """

    vocab_file: str
    max_len: int = 64
    max_pieces: int = 128
    drop_mentions: bool = True
    kind: str = "wordpiece"
    version: int = 1
    lowercase = True  # as sentiment.text.tokenizer.Tokenizer's settings read: lower-cased, emoticons kept whole
    emoticons = True

    def __post_init__(self):
        for name in ("max_len", "max_pieces"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    @functools.cached_property
    def vocab(self):
        return read_piece_vocab(self.vocab_file)

    @functools.cached_property
    def _basic(self):
        return BasicTokenizer(lower=True)

    @functools.cached_property
    def _wordpiece(self):
        return WordpieceTokenizer(vocab=self.vocab, unk_token="[UNK]")

    @property
    def special_ids(self):
        """(pad, cls, sep, unk) piece ids."""
        return tuple(self.vocab[t] for t in ("[PAD]", "[CLS]", "[SEP]", "[UNK]"))

    def split(self, text):
        """All words of `text`, unclipped."""
        if self.drop_mentions:
            words = group_words(self._basic.tokenize(_MENTION_OR_LINK.sub(" ", text)))
            if words:
                return words
        return group_words(self._basic.tokenize(text))

    def __call__(self, text):
        """(words, truncated): at most max_len words and max_pieces pieces."""
        words = self.split(text)
        kept, count = [], 0
        for word in words[: self.max_len]:
            count += len(self.pieces(word))
            if count > self.max_pieces:
                break
            kept.append(word)
        if not kept and words:  # one enormous word: its first pieces
            return words[:1], True
        return kept, len(kept) < len(words)

    @property
    def limits(self):
        """What a sentence may hold: words, pieces (sentiment.inference.documents reads a longer one in parts)."""
        return self.max_len, self.max_pieces

    def measure(self, text):
        """(words, pieces) of a text, counted against `limits`."""
        words = self.split(text)
        return len(words), sum(len(self.pieces(w)) for w in words)

    @functools.cached_property
    def _cache(self):
        return {}

    def pieces(self, word):
        """The piece ids of one word (a tuple), at most max_pieces of them.

        "[MASK]" is the mask piece: a text never yields that word (it splits into "[", "mask", "]"), but the
        distillation's masked words do (sentiment/training/distil.py).
        """
        if word == "[MASK]":
            return (self.vocab[word],)
        ids = self._cache.get(word)
        if ids is None:
            vocab = self.vocab
            ids = tuple(vocab[p] for pre in self._basic.tokenize(word) for p in self._wordpiece.tokenize(pre))
            ids = ids[: self.max_pieces]
            if len(self._cache) < 1 << 18:
                self._cache[word] = ids
        return ids

    def is_unknown(self, word):
        unknown = self.vocab["[UNK]"]
        return any(p == unknown for p in self.pieces(word))

    def to_dict(self):
        return {k: v for k, v in asdict(self).items() if k != "vocab_file"}

    @classmethod
    def from_dict(cls, settings, vocab_file):
        return cls(vocab_file=str(vocab_file), **{k: v for k, v in settings.items() if k != "vocab_file"})
