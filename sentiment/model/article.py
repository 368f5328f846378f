"""A faithful re-implementation of the article's `Sentence_Representation` Block (Kion Kim, 2018).

It builds the full pair tensor with repeat + concat at a fixed sentence length, with no mask.
`weighting="article"` pools as the article does (mean of sigmoid-scored features);
`weighting="softmax"` weights by the returned softmax matrix, as the production model does.
Kept for the equivalence test and for side-by-side benchmarks; not used in production.
"""
from mxnet import nd
from mxnet.gluon import Block, nn

import sentiment  # noqa: F401  (sets OMP_NUM_THREADS before MXNet loads)


class SentenceRepresentation(Block):
    def __init__(self, vocab_size, emb_dim, hidden_dim, sentence_length, weighting="article", **kwargs):
        super().__init__(**kwargs)
        self.emb_dim, self.hidden_dim, self.sentence_length = emb_dim, hidden_dim, sentence_length
        self.weighting = weighting
        with self.name_scope():
            self.embed = nn.Embedding(vocab_size, emb_dim)
            self.g_fc1 = nn.Dense(hidden_dim, activation="relu")
            self.g_fc2 = nn.Dense(hidden_dim, activation="relu")
            self.attn = nn.Dense(1, activation="tanh")

    def forward(self, x):
        T = self.sentence_length
        embeds = self.embed(x)                                            # (B, T, E)
        x_i = nd.repeat(embeds.expand_dims(1), repeats=T, axis=1)        # [b, r, c] = e_c
        x_j = nd.repeat(embeds.expand_dims(2), repeats=T, axis=2)        # [b, r, c] = e_r
        x_full = nd.concat(x_i, x_j, dim=3)                               # (B, T, T, 2E)
        _x = x_full.reshape((-1, 2 * self.emb_dim))
        _att = nd.sigmoid(self.attn(_x).reshape((-1, T, T)))
        att = nd.softmax(_att.reshape((-1, T * T)), axis=1)
        x_g = self.g_fc2(self.g_fc1(_x)).reshape((-1, T * T, self.hidden_dim))
        if self.weighting == "article":
            weights = nd.repeat(_att.reshape((-1, T * T, 1)), repeats=self.hidden_dim, axis=2)
            sentence = nd.mean(nd.multiply(weights, x_g), axis=1)
        else:
            sentence = nd.sum(nd.multiply(att.reshape((-1, T * T, 1)), x_g), axis=1)
        return sentence, att.reshape((-1, T, T))


class ArticleClassifier(Block):
    """The article's SA_Classifier: sentence representation, then the classifier layers."""

    def __init__(self, sen_rep, classifier, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.sen_rep = sen_rep
            self.classifier = classifier

    def forward(self, x):
        sentence, att = self.sen_rep(x)
        return self.classifier(sentence), att


def copy_weights(article, encoder):
    """Copy a SentenceRepresentation's weights into a production RelationAttentionEncoder.

    The article's pair at [r, c] has input [e_c; e_r], so its W splits as
    W[:, :E] acting on the column word and W[:, E:] on the row word.
    Production A[i, j] has input [x_i; x_j]; thus production (i, j) == article (c=i, r=j).
    """
    E = article.emb_dim
    encoder.embedding.weight.set_data(article.embed.weight.data())
    w1, b1 = article.g_fc1.weight.data(), article.g_fc1.bias.data()
    encoder.pair_first.weight.set_data(w1[:, :E])
    encoder.pair_first.bias.set_data(b1)
    encoder.pair_second.weight.set_data(w1[:, E:])
    encoder.pair_out.weight.set_data(article.g_fc2.weight.data())
    encoder.pair_out.bias.set_data(article.g_fc2.bias.data())
    wa, ba = article.attn.weight.data(), article.attn.bias.data()
    encoder.score_first.weight.set_data(wa[:, :E])
    encoder.score_first.bias.set_data(ba)
    encoder.score_second.weight.set_data(wa[:, E:])
