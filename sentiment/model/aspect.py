"""Aspects as Gluon HybridBlocks: a target's polarity from the word pairs about it, and the targets themselves.

Both heads read the word vectors that the sentence model's encoder has already made (one encoder pass serves the
sentence, the review and its aspects):

- AspectHead is the relation network again, conditioned on the target. Each word carries DISTANCES one-hot columns:
  column 0 marks the target's own words, column k > 0 a word whose distance in words to the nearest target word falls
  in bucket k. The pair and score networks see them beside the word vector and the lexicon features, so a pair
  knows how far each of its words is from the target. pairs="target" (the default) lets the attention weigh only the
  pairs that hold a target word, so every pair that decides a target's polarity is about it; pairs="all" weighs
  every pair, as the sentence model does. Its logits split exactly into one share per pair plus a bias, as the
  sentence model's do (decomposition.decompose).
- TargetTagger tags each word B(egin), I(nside) or O(utside) of a target from its vector and its neighbours'.
"""
import numpy as np
from mxnet.gluon import HybridBlock, nn

from .decomposition import LogitDecomposition, served_outputs
from .relation import WordVectorRelationEncoder, classifier_layers, table_column

# Upper edges of the distance buckets, in words: 0 (the target), 1, 2, 3, 4-5, 6-8, 9 and more.
DISTANCES = (0, 1, 2, 3, 5, 8)
TAGS = ("O", "B", "I")
PAIRS = ("target", "all")


def target_columns(length, target_words):
    """(length, len(DISTANCES) + 1) float32 one-hot: each word's distance bucket to the nearest target word."""
    words = np.asarray(sorted(target_words))
    distance = np.abs(np.arange(length)[:, None] - words[None, :]).min(axis=1)
    bucket = np.searchsorted(np.asarray(DISTANCES), distance)  # 0 for the target's words, len(DISTANCES) past 8
    columns = np.zeros((length, len(DISTANCES) + 1), np.float32)
    columns[np.arange(length), bucket] = 1.0
    return columns


class AspectRelationEncoder(WordVectorRelationEncoder):
    """The relation network over word vectors with the target's distance columns last in packed.

    Inputs: words (B, T, E); packed (B, T, 1 + K + D): [mask | the sentence model's K per-word features |
    D = len(DISTANCES) + 1 target columns]. Outputs as RelationAttentionEncoder's: pooled (B, H), attention (B, T, T),
    features (B, T, T, H).
    """

    def __init__(self, embed_size, hidden_size, dropout=0.0, pairs="target", **options):
        if pairs not in PAIRS:
            raise ValueError(f"pairs must be one of {PAIRS}, got {pairs!r}")
        super().__init__(embed_size, hidden_size, dropout, extra_features=len(DISTANCES) + 1, **options)
        self.pairs = pairs

    def hybrid_forward(self, F, words, packed, attention_scale=None):
        mask = table_column(F, packed, 0)                                 # (B, T)
        x = self.with_features(F, words, F.slice_axis(packed, axis=2, begin=1, end=None))  # (B, T, E')
        pair_mask = None
        if self.pairs == "target":
            target = F.slice_axis(packed, axis=2, begin=-len(DISTANCES) - 1, end=-len(DISTANCES)).reshape((0, 0))
            either = F.clip(F.broadcast_add(target.expand_dims(axis=2), target.expand_dims(axis=1)), 0, 1)
            pair_mask = either * F.broadcast_mul(mask.expand_dims(axis=2), mask.expand_dims(axis=1))  # (B, T, T)
        return self.relate(F, x, mask, attention_scale, pair_mask)


class AspectHead(HybridBlock):
    """forward(words (B, T, E), packed (B, T, 1 + K + D)) -> (logits (B, C), attention (B, T, T)).

    relation_options: the sentence model's structure options (lexicon features, negation, positions, attention).
    """

    def __init__(self, embed_size, num_classes=3, hidden_size=64, classifier_size=64, dropout=0.1, pairs="target",
                 **relation_options):
        super().__init__()
        self.num_classes, self.rating_head = num_classes, False
        with self.name_scope():
            self.encoder = AspectRelationEncoder(embed_size, hidden_size, dropout, pairs, **relation_options)
            self.classifier = classifier_layers(hidden_size, classifier_size, dropout, num_classes)

    def hybrid_forward(self, F, words, packed):
        pooled, attention, _ = self.encoder(words, packed)
        return self.classifier(pooled), attention


class ServedAspectGraph(LogitDecomposition):
    """The served pass of an AspectHead, a view of it (its parameters, none added): served_outputs' one output,
    [logits | pooled | attention] or with contributions [logits | bias | pooled | attention | contributions | ...]."""

    def __init__(self, head, contributions=False):
        super().__init__(head)
        self.classifier, self.contributions = head.classifier, contributions

    def hybrid_forward(self, F, words, packed, w1, b1, w2, b2):
        pooled, attention, pair_features = self.encoder(words, packed)
        return served_outputs(F, self, pooled, attention, pair_features, w1, b1, w2, b2)


class TargetTagger(HybridBlock):
    """forward(words (B, T, E)) -> (B, T, 3) logits over TAGS: a Dense layer on each word's vector beside its two
    neighbours' ([x_t-1; x_t; x_t+1], zeros past the ends), then a Dense layer per word."""

    def __init__(self, embed_size, hidden_size=128, dropout=0.1):
        super().__init__()
        with self.name_scope():
            self.dropout = nn.Dropout(dropout)
            self.context = nn.Dense(hidden_size, flatten=False, activation="relu", in_units=3 * embed_size)
            self.out = nn.Dense(len(TAGS), flatten=False, in_units=hidden_size)

    def hybrid_forward(self, F, words):
        x = self.dropout(words)                                           # (B, T, E)
        edge = F.zeros_like(F.slice_axis(x, axis=1, begin=0, end=1))      # (B, 1, E)
        before = F.slice_like(F.concat(edge, x, dim=1), x, axes=(1,))      # x_t-1, a sentence of one word too
        after = F.slice_axis(F.concat(x, edge, dim=1), axis=1, begin=1, end=None)
        return self.out(self.dropout(self.context(F.concat(before, x, after, dim=2))))  # (B, T, 3)


def tag_spans(tags):
    """A sequence of TAGS indices -> [(first word, last word + 1), ...]; an I without a B opens a target."""
    spans, start = [], None
    for t, tag in enumerate(list(tags) + [0]):
        if tag != 2 and start is not None:  # O or B closes the open target
            spans.append((start, t))
            start = None
        if tag == 1 or (tag == 2 and start is None):
            start = t
    return spans
