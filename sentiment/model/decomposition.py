"""The exact decomposition of the classifier's logits into one share per word pair, and the served passes.

With the classifier's ReLU pattern fixed at its input, its logits are affine in the pooled vector
s = sum_ij A_ij g(i, j), so each pair's share A_ij W2 D W1 g(i, j) and the bias W2 D b1 + b2 add up
to the logits exactly: no gradient, no sampling. The blocks here are views of a trained classifier
(sentiment.model.relation): its parameters, none of their own.
"""
from mxnet.gluon import HybridBlock

from .relation import table_column


class LogitDecomposition(HybridBlock):
    """Exact per-pair shares of a classifier's logits, at inference (dropout off).

    With the classifier's ReLU pattern D fixed at the input, the logits are affine in the sentence
    vector: logits = W2 D (W1 s + b1) + b2 and s = sum_ij A_ij g(i, j), so
    contributions[b, i, j] = A_ij W2 D W1 g(i, j) and bias = W2 D b1 + b2 add up to the logits.

    A view of the classifier: it holds the classifier's own parameters and adds none, so it can be
    hybridized next to it (one cached graph: contributions then cost little more than a prediction).
    Inputs: tokens (B, T), mask (B, T). Outputs: logits (B, C), attention (B, T, T),
    contributions (B, T, T, C), bias (B, C); with a rating head, C counts its column too (the last).
    """

    def __init__(self, classifier):
        super().__init__()
        hidden, out = classifier.classifier[0], classifier.classifier[2]
        self.encoder = classifier.encoder
        self.w1, self.b1, self.w2, self.b2 = hidden.weight, hidden.bias, out.weight, out.bias  # hybrid_forward inputs
        self.params.update({p.name: p for p in (self.w1, self.b1, self.w2, self.b2)})  # so the cached graph finds them
        self._sizes = hidden._units, out._units  # K, C

    def hybrid_forward(self, F, tokens, mask, w1, b1, w2, b2):
        sentence, attention, features = self.encoder(tokens, mask)    # (B, H), (B, T, T), (B, T, T, H)
        logits, contributions, bias = decompose(F, sentence, attention, features, w1, b1, w2, b2, self._sizes)
        return logits, attention, contributions, bias                  # contributions (B, T, T, C)


def decompose(F, sentence, attention, features, w1, b1, w2, b2, sizes):
    """(logits (B, C), contributions (B, T, T, C), bias (B, C)) of the classifier's two Dense layers
    (weights w1 (K, H), b1 (K,), w2 (C, K), b2 (C,); sizes (K, C)) at the pooled vector's ReLU pattern."""
    pre = F.FullyConnected(sentence, w1, b1, num_hidden=sizes[0])      # (B, K)
    active = pre > 0                                                    # D, (B, K)
    logits = F.FullyConnected(active * pre, w2, b2, num_hidden=sizes[1])  # (B, C)
    bias = F.FullyConnected(F.broadcast_mul(active, b1.expand_dims(axis=0)), w2, b2, num_hidden=sizes[1])
    # U_b = W1^T D_b W2^T, (B, H, C): projects each pair's features straight to the classes.
    routed = F.broadcast_mul(active.expand_dims(axis=2), F.transpose(w2).expand_dims(axis=0))  # (B, K, C)
    routed = F.transpose(routed, axes=(1, 0, 2)).reshape((0, -1))       # (K, B*C)
    project = F.dot(w1, routed, transpose_a=True).reshape((0, -1, sizes[1]))  # (H, B, C)
    project = F.transpose(project, axes=(1, 0, 2))                      # (B, H, C)
    shares = F.batch_dot(features.reshape((0, -3, -2)), project)        # (B, T*T, C)
    contributions = F.broadcast_mul(shares, attention.reshape((0, -1, 1)))
    contributions = F.reshape_like(contributions, attention, lhs_begin=1, lhs_end=2, rhs_begin=1, rhs_end=3)
    return logits, contributions, bias


class ServedGraph(LogitDecomposition):
    """The inference pass that serving runs: one input copy, one output, per-token features precomputed.

    A view of a trained classifier, as LogitDecomposition is (its parameters, none added). The
    per-token features come from sentiment.text.features.token_inputs, computed once per text in NumPy
    rather than in some 50 small graph operators, and the results leave MXNet as one array, so a
    pass pays for one copy each way.
    Input: packed (B, T, 2 + K): [token id | mask | the K per-token features, for a model that has them],
    so that a pass copies one array in. Output (B, N): [logits (C) | attention (T*T)], or with
    contributions=True [logits (C) | bias (C) | attention (T*T) | contributions (T*T*C)]; C counts
    a rating head's column.
    """

    def __init__(self, classifier, contributions=False):
        super().__init__(classifier)
        self.classifier, self.contributions = classifier.classifier, contributions
        if "attention_scale" in self.encoder._reg_params:  # the encoder's own parameter, used here directly
            self.attention_scale = self.encoder._reg_params["attention_scale"]
            self.params.update({self.attention_scale.name: self.attention_scale})

    def hybrid_forward(self, F, packed, w1, b1, w2, b2, attention_scale=None):
        tokens, mask = table_column(F, packed, 0), table_column(F, packed, 1)  # (B, T) each
        features = F.slice_axis(packed, axis=2, begin=2, end=None) if self.encoder.token_features else None
        x = self.encoder.precomputed_inputs(F, tokens, features)         # (B, T, E')
        sentence, attention, pair_features = self.encoder.relate(F, x, mask, attention_scale)
        return served_outputs(F, self, sentence, attention, pair_features, w1, b1, w2, b2)


def served_outputs(F, graph, sentence, attention, pair_features, w1, b1, w2, b2):
    """A served graph's one output (B, N): [logits | sentence | attention], or with graph.contributions
    [logits | bias | sentence | attention | contributions | pair vectors], each flattened. sentence is the pooled
    vector (H) that a document level reads; the pair vectors A_ij g(i, j) (T*T*H) are what it splits exactly."""
    flat_attention = attention.reshape((0, -1))                          # (B, T*T)
    if not graph.contributions:
        return F.concat(graph.classifier(sentence), sentence, flat_attention, dim=1)
    logits, contributions, bias = decompose(F, sentence, attention, pair_features, w1, b1, w2, b2, graph._sizes)
    pair_vectors = F.broadcast_mul(pair_features, attention.expand_dims(axis=3))  # (B, T, T, H)
    return F.concat(logits, bias, sentence, flat_attention, contributions.reshape((0, -1)),
                    pair_vectors.reshape((0, -1)), dim=1)


class ServedEncoderGraph(LogitDecomposition):
    """The served pass of an EncoderRelationClassifier: its inputs, ServedGraph's one output.

    A view of the trained classifier (its parameters, none added). words=True appends the word vectors (T*E) that
    the encoder made, for the heads that read them too (aspects): one encoder pass serves both.
    """

    def __init__(self, classifier, contributions=False, words=False):
        super().__init__(classifier)
        self.words = classifier.words
        self.classifier, self.contributions, self.emit_words = classifier.classifier, contributions, words

    def hybrid_forward(self, F, pieces, valid, pool, packed, w1, b1, w2, b2):
        words = self.words(pieces, valid, pool)                          # (B, T, E)
        sentence, attention, pair_features = self.encoder(words, packed)
        out = served_outputs(F, self, sentence, attention, pair_features, w1, b1, w2, b2)
        return F.concat(out, words.reshape((0, -1)), dim=1) if self.emit_words else out
