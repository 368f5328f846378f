"""The production block against the article's own formulation, and the masking guarantees."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import nd

from bench.article import SentenceRepresentation, copy_weights
from sentiment.batching import length_chunks, pad_batch
from sentiment.model import RelationAttentionEncoder


@pytest.fixture
def pair():
    mx.random.seed(7)
    article = SentenceRepresentation(vocab_size=50, emb_dim=10, hidden_dim=30, sentence_length=20, weighting="softmax")
    article.initialize(mx.init.Xavier())
    encoder = RelationAttentionEncoder(vocab_size=50, embed_size=10, hidden_size=30)
    encoder.initialize()
    article(nd.zeros((1, 20)))  # materialise deferred shapes before copying
    encoder(nd.zeros((1, 20)), nd.ones((1, 20)))
    copy_weights(article, encoder)
    encoder.hybridize(static_alloc=True, static_shape=True)
    return article, encoder


def test_matches_the_article_on_unpadded_input(pair):
    article, encoder = pair
    tokens = nd.array(np.random.RandomState(0).randint(1, 50, (6, 20)))
    sentence_a, attention_a = article(tokens)
    sentence_p, attention_p = encoder(tokens, nd.ones((6, 20)))
    np.testing.assert_allclose(sentence_p.asnumpy(), sentence_a.asnumpy(), rtol=1e-5, atol=1e-6)
    # The article's [r, c] pair has input [e_c; e_r]: its matrix is the transpose of ours.
    np.testing.assert_allclose(attention_p.asnumpy(), attention_a.asnumpy().transpose(0, 2, 1), atol=1e-6)


def test_the_article_weighting_differs_from_ours(pair):
    article, _ = pair
    tokens = nd.array(np.random.RandomState(1).randint(1, 50, (2, 20)))
    ours = article(tokens)[0].asnumpy()
    article.weighting = "article"
    assert not np.allclose(article(tokens)[0].asnumpy(), ours)


def test_padding_gets_zero_attention_and_batching_does_not_change_answers(pair):
    _, encoder = pair
    rng = np.random.RandomState(2)
    short, long = list(rng.randint(1, 50, 5)), list(rng.randint(1, 50, 19))
    alone = encoder(*map(nd.array, pad_batch([short], pad_id=0)))
    tokens, mask = pad_batch([short, long], pad_id=0, length=24)
    together = encoder(nd.array(tokens), nd.array(mask))
    np.testing.assert_allclose(together[0].asnumpy()[0], alone[0].asnumpy()[0], rtol=1e-5, atol=1e-6)
    attention = together[1].asnumpy()
    np.testing.assert_allclose(attention[0, :5, :5], alone[1].asnumpy()[0, :5, :5], rtol=1e-5, atol=1e-7)
    assert np.all(attention[0, 5:, :] == 0) and np.all(attention[0, :, 5:] == 0)
    np.testing.assert_allclose(attention.sum(axis=(1, 2)), [1, 1], rtol=1e-5)


def test_length_chunks_bound_the_pair_grid():
    lengths = [3, 60, 9, 17, 64, 1, 40]
    chunks = length_chunks(lengths, max_pairs=2 * 64 * 64)
    assert sorted(i for chunk in chunks for i in chunk) == list(range(len(lengths)))
    for chunk in chunks:
        padded = max(-(-lengths[i] // 8) * 8 for i in chunk)
        assert len(chunk) * padded * padded <= 2 * 64 * 64 or len(chunk) == 1
