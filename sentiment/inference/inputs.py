"""Words -> the arrays a model reads: the one place that knows how each word encoder wants its input.

Both kinds have the same three calls, so training, the predictor and the documents never ask
which encoder they feed:
- encode(words): what the model needs of one sentence (computed once, reused by every pass);
- unknown(words, encoded): the words the encoder cannot read (they fall to <unk> or [UNK]);
- arrays(encoded list): NumPy arrays for one batch, the model's forward inputs in order.
length(encoded) is the sentence's cost for length-bucketing, and chunks(encoded list, max_pairs) splits
a batch, sorted by length, into the passes the predictor runs.
"""
from typing import NamedTuple

import numpy as np

from ..text.features import row_inputs, word_rows
from ..text.vocabulary import token_ids
from .batching import length_chunks, pad_batch, padded_length


class VocabularyInputs:
    """GloVe models: word ids from the bundle's vocabulary. arrays -> (tokens (B, T), mask (B, T))."""

    def __init__(self, vocab):
        self.vocab, self.unknown_word, self.vocab_size = vocab, vocab.unknown_token, len(vocab)
        self.pad_id, self.unknown_id = vocab[vocab.padding_token], vocab[vocab.unknown_token]

    def encode(self, words):
        return token_ids(self.vocab, words)

    def unknown(self, words, encoded):
        return [w for w, k in zip(words, encoded) if k == self.unknown_id]

    @staticmethod
    def length(encoded):
        return len(encoded)

    def arrays(self, encoded):
        return pad_batch(encoded, self.pad_id)

    @staticmethod
    def chunks(encoded, max_pairs):
        """Passes of at most max_pairs padded word pairs: the pair grid grows with T squared."""
        return length_chunks([len(e) for e in encoded], max_pairs)


# A pass of an encoder model holds at most this many padded pieces: 32 sentences of up to 32 pieces, or fewer
# longer ones. Sorted by length, a pass then pads little (a batch padded to its longest sentence ran at a third of
# the speed under load: bench/README.md).
PIECE_SLOTS = 1024


class Pieces(NamedTuple):
    words: list
    pieces: list  # one tuple of piece ids per word
    rows: object  # (T, C) per-word table rows (sentiment.text.features.word_rows), None without the lexicon
    paired: object = None  # (T,) 0/1: the words that make pairs (PieceInputs.paired)


class PieceInputs:
    """Encoder models: each word's WordPiece ids, the pooling of pieces into words and the per-word features.

    arrays -> (pieces (B, P), valid (B,), pool (B, T, P), packed (B, T, 1 + K)) for
    model.EncoderRelationClassifier: [CLS] pieces [SEP] padded to the longest in the batch; pool[b, t]
    spreads word t over its pieces (mean) or takes its first; packed is [mask | per-word features]
    (the lexicon's valence, negation scope and clause flags of sentiment.text.features).
    pairs="words": the mask that the pair grid reads covers words only. Punctuation (a token without a letter or
    digit that the lexicon does not rate, so ":)" stays) is still read by the encoder, in context, but makes no
    pair; a sentence of punctuation alone keeps all its tokens.
    """

    def __init__(self, tokenizer, lexicon=None, clauses=False, pooling="mean", pairs="all"):
        if pooling not in ("mean", "first"):
            raise ValueError(f"pooling must be 'mean' or 'first', got {pooling!r}")
        if pairs not in ("all", "words"):
            raise ValueError(f"pairs must be 'all' or 'words', got {pairs!r}")
        self.tokenizer, self.lexicon, self.clauses, self.pooling = tokenizer, lexicon, clauses, pooling
        self.pairs = pairs
        self.unknown_word, self.vocab_size = "[UNK]", None  # the encoder's own vocabulary
        self.pad_id, self.cls_id, self.sep_id, self.unknown_id = tokenizer.special_ids

    def encode(self, words):
        rows = None if self.lexicon is None else word_rows(words, self.lexicon, self.clauses)
        return Pieces(list(words), [self.tokenizer.pieces(w) for w in words], rows, self.paired(words))

    def paired(self, words):
        """(T,) 0/1: which words enter the pair grid."""
        if self.pairs == "all":
            return np.ones(len(words), np.float32)
        rated = self.lexicon or {}
        keep = np.array([any(c.isalnum() for c in w) or w in rated for w in words], np.float32)
        return keep if keep.any() else np.ones(len(words), np.float32)

    def unknown(self, words, encoded):
        return [w for w, p in zip(words, encoded.pieces) if self.unknown_id in p]

    @staticmethod
    def length(encoded):
        return sum(map(len, encoded.pieces)) + 2

    def chunks(self, encoded, max_pairs):
        """Passes of at most PIECE_SLOTS padded pieces (max_pairs, for the pair grid, binds far later)."""
        return length_chunks([self.length(e) for e in encoded], PIECE_SLOTS, power=1)

    def arrays(self, encoded):
        batch = len(encoded)
        length = padded_length(max(len(e.words) for e in encoded))
        width = max(map(self.length, encoded))  # exact: padding pieces cost the encoder whole rows
        pieces = np.full((batch, width), self.pad_id, dtype=np.float32)
        valid = np.zeros(batch, dtype=np.float32)
        pool = np.zeros((batch, length, width), dtype=np.float32)
        rows = None if self.lexicon is None else np.zeros((batch, length, encoded[0].rows.shape[1]), np.float32)
        mask = np.zeros((batch, length, 1), dtype=np.float32)
        for b, sentence in enumerate(encoded):
            flat = [self.cls_id] + [p for word in sentence.pieces for p in word] + [self.sep_id]
            pieces[b, :len(flat)] = flat
            valid[b] = len(flat)
            at = 1
            for t, word in enumerate(sentence.pieces):
                if self.pooling == "mean":
                    pool[b, t, at:at + len(word)] = 1.0 / max(len(word), 1)
                else:
                    pool[b, t, at] = 1.0
                at += len(word)
            mask[b, :len(sentence.words), 0] = 1 if sentence.paired is None else sentence.paired
            if rows is not None:
                rows[b, :len(sentence.words)] = sentence.rows
        packed = mask if rows is None else np.concatenate([mask, row_inputs(rows, self.clauses)], axis=2)
        return pieces, valid, pool, packed
