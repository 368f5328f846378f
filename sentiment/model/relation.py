"""The relation-network self-attention classifier (after Kion Kim, 2018) as Gluon HybridBlocks.

For every ordered token pair (i, j), i = j included, a feature network
g([x_i; x_j]) = relu(W2 relu(W1 [x_i; x_j] + b1) + b2) and a score network
s(i, j) = tanh(u . [x_i; x_j] + c) are evaluated. Because a Dense layer on a
concatenation is the sum of two Dense layers, W1 [x_i; x_j] = W1a x_i + W1b x_j:
both halves are computed once per token and broadcast-added into the pair grid,
so the B x T x T x 2E pair tensor is never built.

Attention: A = masked_softmax(scale * sigmoid(s)) over all T*T pairs of the real tokens.
A[b, i, j] is the weight of the pair whose input is [x_i; x_j] (row i = first word,
column j = second word); the entries of one sentence's matrix sum to 1, and rows and
columns of padding are exactly 0. The sentence vector is sum_ij A[b, i, j] g(i, j):
the returned matrix is exactly the weighting used.

Options that keep this structure (all off = the article's configuration):
- positions=K: the clipped signed offset j - i enters the first pair layer as a learned
  vector r[j-i] (a third broadcast-add) and the score as a learned bias, so the model
  sees word order: "not good" differs from "good ... not".
- attention_scale=S: a learned inverse temperature, initialised at S, on the squashed
  scores; the article's sigmoid(tanh(.)) alone lets no pair weigh more than 1.58x another.
- attention="sparsemax": the scores are normalised by sparsemax (Martins & Astudillo, 2016) instead of
  softmax: the same sum of 1, but pairs below a per-sentence threshold get exactly 0, so the matrix
  shows the few pairs the sentence vector is made of.
- token_features=True: three constant per-token inputs looked up by token id (the VADER
  valence, a negator flag, a scope-breaker flag), from which the block derives a negation
  scope (up to NEGATION_WINDOW tokens after a negator, stopped by punctuation); the pair
  layers see [x; valence; scope; valence signed by scope].
- negation=True: tokens inside a negation scope are mapped x -> N x by a learned E x E
  operator starting at the identity, so a flip learned on "not good" also applies to "bad".
- clauses=True (with token_features): two more table columns mark contrast words ("but",
  "however", "yet") and concessive ones ("although", "though"). A token is flagged as overridden
  when a contrast word follows it or it lies in a concessive clause (up to the next breaker), and
  the pair layers also see [overridden; valence * overridden].

Where the word vectors come from is the one thing the two classifiers differ in:
RelationAttentionClassifier looks them up in its GloVe-initialised embedding;
EncoderRelationClassifier takes them from the pretrained encoder (sentiment.model.transformer.PieceWords)
and runs the same relation network (WordVectorRelationEncoder), classifier and rating head on them.
"""
from mxnet import init
from mxnet.gluon import HybridBlock, nn

from ..text.features import NEGATION_WINDOW, token_columns
from .transformer import PieceWords


def table_column(F, table, k):
    """(B, T, C) per-token table -> (B, T): its column k."""
    return F.slice_axis(table, axis=2, begin=k, end=k + 1).reshape((0, 0))


def shift_right(F, x):
    """(B, T) -> (B, T): x[:, t-1] at t, 0 at t = 0."""
    first = F.zeros_like(F.slice_axis(x, axis=1, begin=0, end=1))
    return F.concat(first, F.slice_axis(x, axis=1, begin=0, end=-1), dim=1)


def negation_scope(F, negator, breaker, window=NEGATION_WINDOW):
    """(B, T) 0/1: token t follows a negator by at most `window` tokens with no breaker in between."""
    carry = shift_right(F, negator)
    scope = carry
    for _ in range(window - 1):
        carry = shift_right(F, carry * (1 - breaker))
        scope = scope + carry
    return F.clip(scope, 0, 1) * (1 - breaker)


def sparsemax_pairs(F, scores, pair_mask):
    """(B, T, T) scores and 0/1 pair mask -> (B, T, T) sparsemax weights over each sentence's real pairs.

    A = relu(z - tau), tau = (sum of the k largest z - 1) / k for the largest k with 1 + k z_(k) > z_(1) + ... + z_(k):
    every row sums to 1, pairs below tau get exactly 0. The support is found on sorted scores without a gradient;
    tau is then recomputed from the scores in it, so the gradient is sparsemax's own.
    """
    z = F.broadcast_mul(scores, pair_mask) - (1 - pair_mask) * 1e4                 # padding far below any tau
    flat = z.reshape((0, -1))                                                        # (B, N)
    ranked = F.BlockGrad(F.sort(flat, axis=1, is_ascend=False))                     # (B, N), largest first
    k = F.contrib.arange_like(ranked, axis=1) + 1                                    # (N,)
    supported = (1 + F.broadcast_mul(ranked, k.expand_dims(axis=0))) > F.cumsum(ranked, axis=1)
    size = F.sum(supported, axis=1, keepdims=True)                                   # (B, 1), at least 1
    smallest = F.pick(ranked, size.reshape((-1,)) - 1, axis=1, keepdims=True)        # (B, 1): z_(k)
    inside = F.BlockGrad(F.broadcast_greater_equal(flat, smallest))                  # (B, N)
    tau = (F.sum(inside * flat, axis=1, keepdims=True) - 1) / F.sum(inside, axis=1, keepdims=True)
    weights = F.relu(F.broadcast_sub(flat, tau))
    return F.reshape_like(weights, scores) * pair_mask


def clause_scope(F, opener, breaker, before):
    """(B, T) 0/1: token t follows an opener with no other breaker in between (to the clause end).

    before: (T, T) 0/1 with [s, t] = 1 where s < t. Breakers counted up to t equal those counted
    up to the opener exactly when none lies between them.
    """
    closed = F.dot(breaker, before) + breaker                          # (B, T): breakers at or before t
    same = F.broadcast_equal(closed.expand_dims(axis=2), closed.expand_dims(axis=1))  # (B, T, T): [t, s]
    opened = F.broadcast_mul(same, F.broadcast_mul(opener.expand_dims(axis=1),          # opener at s
                                                   F.transpose(before).expand_dims(axis=0)))  # s < t
    return F.clip(F.sum(opened, axis=2), 0, 1) * (1 - breaker)


class RelationAttentionEncoder(HybridBlock):
    """Tokens -> (sentence vector, pair attention, pair features).

    Inputs: tokens (B, T) int ids; mask (B, T) float, 1 for real tokens, 0 for padding.
    Outputs: sentence (B, H); attention (B, T, T); features g(i, j) (B, T, T, H), computed anyway
    and returned for the exact decomposition of the logits (a caller that drops them costs nothing).
    vocab_size=None: no embedding of its own; the word vectors come from outside (WordVectorRelationEncoder).
    """

    def __init__(self, vocab_size, embed_size, hidden_size, dropout=0.0, positions=0, attention_scale=None,
                 token_features=False, negation=False, clauses=False, attention="softmax", extra_features=0,
                 **kwargs):
        super().__init__(**kwargs)
        if attention not in ("softmax", "sparsemax"):
            raise ValueError(f"attention must be 'softmax' or 'sparsemax', got {attention!r}")
        self.positions, self.token_features, self.negation, self.clauses = positions, token_features, negation, clauses
        self.attention, self.extra_features = attention, extra_features
        # [x; valence; scope; signed valence] (+ [overridden; valence * overridden] with clauses) [+ extra columns]
        in_units = embed_size + ((5 if clauses else 3) if token_features else 0) + extra_features
        with self.name_scope():
            if vocab_size is not None:
                # Row-sparse gradient: Adam updates only the rows a batch uses (training 1.2-1.7x faster).
                self.embedding = nn.Embedding(vocab_size, embed_size, sparse_grad=True)
            self.dropout = nn.Dropout(dropout)
            if token_features and vocab_size is not None:  # constant: from the lexicon at training, saved
                self.token_table = nn.Embedding(vocab_size, len(token_columns(clauses)), weight_initializer="zeros")
                self.token_table.weight.grad_req = "null"
            if negation:  # N = I + negate, with negate starting at zero
                self.negate = nn.Dense(embed_size, flatten=False, use_bias=False, in_units=embed_size,
                                       weight_initializer="zeros")
            # W1 split into the halves acting on x_i (with the bias) and on x_j.
            self.pair_first = nn.Dense(hidden_size, flatten=False, in_units=in_units)
            self.pair_second = nn.Dense(hidden_size, flatten=False, use_bias=False, in_units=in_units)
            self.pair_out = nn.Dense(hidden_size, flatten=False, activation="relu", in_units=hidden_size)
            # The score network's Dense(1) split the same way.
            self.score_first = nn.Dense(1, flatten=False, in_units=in_units)
            self.score_second = nn.Dense(1, flatten=False, use_bias=False, in_units=in_units)
            if positions:
                self.offset_pair = nn.Embedding(2 * positions + 1, hidden_size)
                self.offset_score = nn.Embedding(2 * positions + 1, 1, weight_initializer="zeros")
            if attention_scale is not None:
                self.attention_scale = self.params.get("attention_scale", shape=(1,),
                                                       init=init.Constant(attention_scale))

    def token_inputs(self, F, tokens):
        """(B, T) ids -> (B, T, E') pair-network inputs and the (B, T) negation scope (None without features)."""
        x = self.dropout(self.embedding(tokens))                          # (B, T, E)
        if not self.token_features:
            return x, None
        table = self.token_table(tokens)                                  # (B, T, 3 or 5)
        valence = F.slice_axis(table, axis=2, begin=0, end=1)             # (B, T, 1)
        negator, breaker = table_column(F, table, 1), table_column(F, table, 2)
        scope = negation_scope(F, negator, breaker)                        # (B, T)
        if self.clauses:  # a later contrast word, or a concessive clause, overrides the clause: 0/1, (B, T, 1)
            position = F.contrib.arange_like(tokens, axis=1)              # (T,)
            before = F.broadcast_lesser(position.expand_dims(axis=1), position.expand_dims(axis=0))  # [s, t]: s < t
            later_contrast = F.dot(table_column(F, table, 3), F.transpose(before))  # (B, T): contrast words after t
            conceded = clause_scope(F, table_column(F, table, 4), breaker, before)  # (B, T): in "although ...,"
            overridden = F.clip(later_contrast + conceded, 0, 1).expand_dims(axis=2)
        in_scope = scope.expand_dims(axis=2)                              # (B, T, 1)
        if self.negation:
            x = x + F.broadcast_mul(in_scope, self.negate(x))
        inputs = [x, valence, in_scope, valence * (1 - 2 * in_scope)]
        if self.clauses:
            inputs += [overridden, valence * overridden]
        return F.concat(*inputs, dim=2), scope                            # (B, T, E + 3 or E + 5)

    def precomputed_inputs(self, F, tokens, features):
        """(B, T) ids and the (B, T, K) per-token features computed outside the graph
        (sentiment.text.features.token_inputs: the same numbers as token_inputs) -> (B, T, E') pair-network inputs."""
        return self.with_features(F, self.embedding(tokens), features)

    def with_features(self, F, x, features):
        """(B, T, E) word vectors and (B, T, K) precomputed per-token features -> (B, T, E') pair-network inputs."""
        x = self.dropout(x)
        if features is None:
            return x
        if self.negation:
            in_scope = F.slice_axis(features, axis=2, begin=1, end=2)     # (B, T, 1)
            x = x + F.broadcast_mul(in_scope, self.negate(x))
        return F.concat(x, features, dim=2)

    def hybrid_forward(self, F, tokens, mask, attention_scale=None):
        x, _ = self.token_inputs(F, tokens)                               # (B, T, E')
        return self.relate(F, x, mask, attention_scale)

    def relate(self, F, x, mask, attention_scale=None, pair_mask=None):
        """(B, T, E') pair-network inputs -> (sentence (B, H), attention (B, T, T), features (B, T, T, H)).

        pair_mask: (B, T, T) 0/1, the pairs the attention may weigh; by default every pair of real tokens."""
        first = self.pair_first(x).expand_dims(axis=2)                    # (B, T, 1, H)
        second = self.pair_second(x).expand_dims(axis=1)                  # (B, 1, T, H)
        pre = F.broadcast_add(first, second)                              # (B, T, T, H)
        scores = F.broadcast_add(self.score_first(x),                     # (B, T, 1)
                                 F.transpose(self.score_second(x), axes=(0, 2, 1)))  # (B, 1, T)
        if self.positions:
            position = F.contrib.arange_like(mask, axis=1)                # (T,)
            offset = F.broadcast_sub(position.expand_dims(axis=0), position.expand_dims(axis=1))  # (T, T): j - i
            offset = F.clip(offset, -self.positions, self.positions) + self.positions
            pre = F.broadcast_add(pre, self.offset_pair(offset).expand_dims(axis=0))          # + (1, T, T, H)
            scores = F.broadcast_add(scores, self.offset_score(offset).reshape((0, 0)).expand_dims(axis=0))
        # Activation (oneDNN, AVX-512) rather than F.relu (SSE-only in this wheel): 4x faster here.
        features = self.pair_out(F.Activation(pre, act_type="relu"))     # (B, T, T, H)
        scores = F.sigmoid(F.tanh(scores))                                # (B, T, T) in (0.27, 0.73)
        if attention_scale is not None:
            scores = F.broadcast_mul(scores, attention_scale.reshape((1, 1, 1)))
            # Subtracting any per-sentence constant leaves the softmax exact and keeps exp in range.
            scores = F.broadcast_sub(scores, F.max(scores, axis=(1, 2), keepdims=True))
        if pair_mask is None:
            pair_mask = F.broadcast_mul(mask.expand_dims(axis=2), mask.expand_dims(axis=1))  # (B, T, T)
        if self.attention == "sparsemax":
            attention = sparsemax_pairs(F, scores, pair_mask)                  # (B, T, T)
        else:
            weights = F.exp(scores) * pair_mask
            attention = F.broadcast_div(weights, F.sum(weights, axis=(1, 2), keepdims=True))  # (B, T, T)
        # features^T . attention as one batched GEMV: 30% faster here (forward + backward) than A . features.
        sentence = F.batch_dot(features.reshape((0, -3, -2)),             # (B, T*T, H)
                               attention.reshape((0, -1, 1)), transpose_a=True)  # (B, T*T, 1) -> (B, H, 1)
        return sentence.reshape((0, -1)), attention, features


def classifier_layers(hidden_size, classifier_size, dropout, outputs):
    """The two Dense layers on the pooled vector, (B, H) -> (B, outputs); LogitDecomposition reads [0] and [2]."""
    layers = nn.HybridSequential()
    layers.add(nn.Dense(classifier_size, activation="relu", in_units=hidden_size), nn.Dropout(dropout),
               nn.Dense(outputs, in_units=classifier_size))
    return layers


class RelationAttentionClassifier(HybridBlock):
    """Encoder plus two Dense layers. forward(tokens (B,T), mask (B,T)) -> (logits (B, C), attention (B, T, T)).

    rating_head=True: the last layer has one more unit, a regression of the rating, and forward
    returns it third, (B,). It is affine in the pooled vector like the logits, so LogitDecomposition
    splits it exactly too (its last column).
    decomposition.LogitDecomposition(classifier) splits the logits exactly into one share per word pair plus a bias.
    """

    def __init__(self, vocab_size, num_classes, embed_size=50, hidden_size=128, classifier_size=128,
                 dropout=0.0, rating_head=False, **encoder_options):
        super().__init__()
        self.num_classes, self.rating_head = num_classes, rating_head
        with self.name_scope():
            self.encoder = RelationAttentionEncoder(vocab_size, embed_size, hidden_size, dropout, **encoder_options)
            self.classifier = classifier_layers(hidden_size, classifier_size, dropout, num_classes + rating_head)

    def hybrid_forward(self, F, tokens, mask):
        sentence, attention, _ = self.encoder(tokens, mask)
        return split_outputs(F, self, self.classifier(sentence), attention)  # out: (B, C) or (B, C + 1)


class WordVectorRelationEncoder(RelationAttentionEncoder):
    """The relation network over word vectors made outside it (a pretrained encoder's: sentiment.model.transformer).

    Inputs: words (B, T, E) word vectors; packed (B, T, 1 + K): [mask | the K per-token features of
    sentiment.text.features.token_inputs, for a model that has them]. Outputs as RelationAttentionEncoder's.
    relation=False is the ablation without the relation network: the pooled vector is the mean over the
    words of relu(W1a x_i + b1), so the attention is 1/n on the diagonal and the contributions are per word.
    """

    def __init__(self, embed_size, hidden_size, dropout=0.0, relation=True, **options):
        if not relation:  # no pairs: no offsets to weigh, no scores to scale
            options.update(positions=0, attention_scale=None, attention="softmax")
        super().__init__(None, embed_size, hidden_size, dropout, **options)
        self.relation = relation
        if not relation:  # the layers that only pairs use stay unused
            for layer in (self.pair_second, self.pair_out, self.score_first, self.score_second):
                layer.collect_params().setattr("grad_req", "null")

    def hybrid_forward(self, F, words, packed, attention_scale=None):
        mask = table_column(F, packed, 0)                                 # (B, T)
        features = (F.slice_axis(packed, axis=2, begin=1, end=None) if self.token_features or self.extra_features
                    else None)
        x = self.with_features(F, words, features)                        # (B, T, E')
        if self.relation:
            return self.relate(F, x, mask, attention_scale)
        position = F.contrib.arange_like(mask, axis=1)                    # (T,)
        diagonal = F.broadcast_equal(position.expand_dims(axis=1), position.expand_dims(axis=0))  # (T, T)
        attention = F.broadcast_mul(diagonal.expand_dims(axis=0), F.broadcast_div(mask, F.sum(mask, axis=1,
                                    keepdims=True)).expand_dims(axis=2))   # (B, T, T): 1/n at (i, i)
        word_features = F.Activation(self.pair_first(x), act_type="relu")  # (B, T, H)
        pair_features = F.broadcast_mul(word_features.expand_dims(axis=2),
                                        diagonal.expand_dims(axis=0).expand_dims(axis=3))  # (B, T, T, H)
        sentence = F.batch_dot(pair_features.reshape((0, -3, -2)), attention.reshape((0, -1, 1)), transpose_a=True)
        return sentence.reshape((0, -1)), attention, pair_features


class EncoderRelationClassifier(HybridBlock):
    """The relation-network classifier on a pretrained encoder's word vectors.

    forward(pieces (B, P), valid (B,), pool (B, T, P), packed (B, T, 1 + K)) -> (logits (B, C),
    attention (B, T, T)[, rating (B,)]): sentiment.model.transformer.PieceWords makes the word vectors, then
    the same relation network, classifier and rating head as RelationAttentionClassifier's run on them.
    """

    def __init__(self, sizes, num_classes, hidden_size=64, classifier_size=128, dropout=0.0, rating_head=False,
                 encoder_dropout=0.1, relation=True, **encoder_options):
        super().__init__()
        self.num_classes, self.rating_head = num_classes, rating_head
        with self.name_scope():
            self.words = PieceWords(sizes, encoder_dropout)
            self.encoder = WordVectorRelationEncoder(sizes["units"], hidden_size, dropout, relation, **encoder_options)
            self.classifier = classifier_layers(hidden_size, classifier_size, dropout, num_classes + rating_head)

    def hybrid_forward(self, F, pieces, valid, pool, packed):
        sentence, attention, _ = self.encoder(self.words(pieces, valid, pool), packed)
        return split_outputs(F, self, self.classifier(sentence), attention)


def split_outputs(F, model, out, attention):
    """(logits, attention) or, with a rating head, (logits, attention, rating (B,)) from the last layer's (B, C[+1])."""
    if not model.rating_head:
        return out, attention
    logits = F.slice_axis(out, axis=1, begin=0, end=model.num_classes)
    rating = F.slice_axis(out, axis=1, begin=model.num_classes, end=None).reshape((-1,))
    return logits, attention, rating
