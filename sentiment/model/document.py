"""The document level: attention over a text's sentences, then a classifier and a rating head (after Yang et al., 2016).

Each sentence s arrives as the relation network's pooled vector v_s = sum_ij A^s_ij g^s_ij (H,), with its place in
the text as a bucket (position_buckets). The head scores every sentence,
e_s = q . tanh(K v_s + k + P[bucket_s]), weighs them a = softmax(e) over the text's sentences, and pools
d = sum_s a_s v_s. The classifier and the rating head are the sentence model's two Dense layers (relation.
classifier_layers) on d. With their ReLU pattern fixed at d, the outputs are affine in d, and d is linear in every
pair's features, so each sentence, and each pair of each sentence, has an exact signed share of the text's logits:
a_s W2 D W1 v_s and a_s A^s_ij W2 D W1 g^s_ij, plus the bias W2 D b1 + b2 (decompose).

DocumentHead trains in MXNet; DocumentReader answers in NumPy from its parameters (a text's sentences are few, and
its sentence passes are already done), and tests hold the two equal.
"""
import numpy as np
from mxnet.gluon import HybridBlock, nn

from .relation import classifier_layers

POSITION_BUCKETS = 6  # first, last, and four quarters of the sentences between them


def position_buckets(count):
    """(count,) int buckets of a text's sentences: 0 the first, 1 the last, 2-5 the quarter of the ones between."""
    if count == 1:
        return np.zeros(1, np.int64)
    buckets = 2 + np.minimum((4 * np.arange(count) / (count - 1)).astype(np.int64), 3)
    buckets[0], buckets[-1] = 0, 1
    return buckets


class DocumentHead(HybridBlock):
    """forward(vectors (B, S, H), positions (B, S) buckets, mask (B, S) 0/1) -> (logits (B, C), rating (B,),
    attention (B, S)). Padded sentences (mask 0) get weight exactly 0."""

    def __init__(self, hidden_size, num_classes, attention_size=32, classifier_size=64, dropout=0.1,
                 pooling="attention", **kwargs):
        super().__init__(**kwargs)
        if pooling not in ("attention", "mean"):
            raise ValueError(f"pooling must be 'attention' or 'mean', got {pooling!r}")
        self.num_classes, self.pooling = num_classes, pooling
        with self.name_scope():
            self.key = nn.Dense(attention_size, flatten=False, in_units=hidden_size)
            self.position = nn.Embedding(POSITION_BUCKETS, attention_size)
            self.query = nn.Dense(1, flatten=False, use_bias=False, in_units=attention_size)
            self.dropout = nn.Dropout(dropout)
            self.classifier = classifier_layers(hidden_size, classifier_size, dropout, num_classes + 1)

    def hybrid_forward(self, F, vectors, positions, mask):
        keys = F.tanh(self.key(vectors) + self.position(positions))                  # (B, S, A)
        scores = self.query(keys).reshape((0, 0))                                   # (B, S)
        if self.pooling == "mean":  # the ablation: every sentence alike
            scores = scores * 0
        scores = F.broadcast_sub(scores, F.max(scores, axis=1, keepdims=True))
        weights = F.exp(scores) * mask
        attention = F.broadcast_div(weights, F.sum(weights, axis=1, keepdims=True))  # (B, S)
        pooled = F.batch_dot(attention.expand_dims(axis=1), self.dropout(vectors)).reshape((0, -1))  # (B, H)
        out = self.classifier(pooled)                                               # (B, C + 1)
        logits = F.slice_axis(out, axis=1, begin=0, end=self.num_classes)
        rating = F.slice_axis(out, axis=1, begin=self.num_classes, end=None).reshape((-1,))
        return logits, rating, attention


class DocumentReader:
    """A trained DocumentHead's answers for one text, in NumPy: the same numbers, and their exact decomposition."""

    NAMES = ("key.weight", "key.bias", "position.weight", "query.weight", "classifier.0.weight", "classifier.0.bias",
             "classifier.2.weight", "classifier.2.bias")

    def __init__(self, params, pooling="attention"):
        """params: {name: array} as NAMES, the head's parameters without their prefix (weights_of)."""
        self.pooling = pooling
        (self.key_w, self.key_b, self.position, self.query, self.w1, self.b1, self.w2,
         self.b2) = (np.asarray(params[n], np.float64) for n in self.NAMES)

    @staticmethod
    def weights_of(head):
        """{NAMES: NumPy array} of a DocumentHead: the structural names that save_parameters writes too."""
        return {name: p.data().asnumpy() for name, p in head._collect_params_with_prefix().items()}

    def attention(self, vectors):
        """(S, H) sentence vectors -> (S,) weights summing to 1."""
        buckets = position_buckets(len(vectors))
        keys = np.tanh(vectors @ self.key_w.T + self.key_b + self.position[buckets])
        scores = keys @ self.query[0] * (self.pooling != "mean")
        weights = np.exp(scores - scores.max())
        return weights / weights.sum()

    def __call__(self, vectors):
        """(S, H) -> (outputs (C + 1,): logits then rating, attention (S,))."""
        vectors = np.asarray(vectors, np.float64)
        attention = self.attention(vectors)
        pre = attention @ vectors @ self.w1.T + self.b1
        return np.maximum(pre, 0) @ self.w2.T + self.b2, attention

    def decompose(self, vectors, attention):
        """(projection (H, C + 1), bias (C + 1,)) at the pooled vector's ReLU pattern: a pooled part x adds
        x @ projection to the outputs, and the parts' sum plus bias is the outputs exactly."""
        pooled = attention @ np.asarray(vectors, np.float64)
        active = (pooled @ self.w1.T + self.b1 > 0).astype(np.float64)
        projection = (self.w1.T * active) @ self.w2.T          # W1^T D W2^T
        return projection, (active * self.b1) @ self.w2.T + self.b2

