"""The production block against the article's own formulation, and the masking guarantees."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import nd

from sentiment.inference.batching import length_chunks, pad_batch
from sentiment.model.article import SentenceRepresentation, copy_weights
from sentiment.model.relation import RelationAttentionEncoder, negation_scope


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
    sentence_p, attention_p, _ = encoder(tokens, nd.ones((6, 20)))
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


def small_encoder(**options):
    mx.random.seed(3)
    encoder = RelationAttentionEncoder(vocab_size=50, embed_size=8, hidden_size=12, **options)
    encoder.initialize(mx.init.Xavier())
    return encoder


def test_word_order_matters_only_with_offsets():
    tokens = nd.array([[5, 9, 14, 3, 7], [7, 3, 14, 9, 5]])  # the same words, reversed
    blind, ordered = small_encoder(), small_encoder(positions=4)
    ordered.offset_pair.weight.set_data(nd.random.normal(shape=ordered.offset_pair.weight.shape))
    sentence, attention, _ = blind(tokens, nd.ones((2, 5)))
    np.testing.assert_allclose(sentence[0].asnumpy(), sentence[1].asnumpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(ordered(tokens, nd.ones((2, 5)))[0][0].asnumpy(),
                           ordered(tokens, nd.ones((2, 5)))[0][1].asnumpy(), atol=1e-4)


def test_negation_scope_follows_negators_and_stops_at_breakers():
    #            not  bad  at   all  ,    fine never  but  good
    negator = nd.array([[1, 0, 0, 0, 0, 0, 1, 0, 0]])
    breaker = nd.array([[0, 0, 0, 0, 1, 0, 0, 1, 0]])
    scope = negation_scope(nd, negator, breaker).asnumpy()[0]
    assert scope.tolist() == [0, 1, 1, 1, 0, 0, 0, 0, 0]
    for symbolic in (False, True):  # the same inside a hybridized graph
        encoder = small_encoder(token_features=True, negation=True)
        table = np.zeros((50, 3), dtype=np.float32)
        table[[10, 11, 12], :] = [[0, 1, 0], [-0.6, 0, 0], [0, 0, 1]]  # 10 = "not", 11 = "bad", 12 = ","
        encoder.token_table.weight.set_data(nd.array(table))
        if symbolic:
            encoder.hybridize()
        inputs, scope = encoder.token_inputs(nd, nd.array([[10, 11, 4, 12, 11, 0, 0, 0]]))
        assert scope.asnumpy()[0].tolist() == [0, 1, 1, 0, 0, 0, 0, 0]
        features = inputs.asnumpy()[0, :, 8:]  # [valence, in scope, valence signed by scope]
        np.testing.assert_allclose(features[1], [-0.6, 1, 0.6], rtol=1e-6)
        np.testing.assert_allclose(features[4], [-0.6, 0, -0.6], rtol=1e-6)


def test_an_emoticon_closes_a_negation_scope_like_punctuation():
    from sentiment.text.features import token_table

    words = ["<pad>", "<unk>", "no", "school", "tomorrow", ":)", ":d", ":", ")"]
    table = token_table(words, {"no": -0.3, ":)": 0.5, ":d": 0.575})
    assert table[[5, 6, 7], 2].tolist() == [1, 1, 1] and table[[3, 8], 2].tolist() == [0, 0]  # breaker column
    encoder = small_encoder(token_features=True, negation=True)
    encoder.token_table.weight.set_data(nd.array(np.pad(table, ((0, 50 - len(words)), (0, 0)))))
    _, scope = encoder.token_inputs(nd, nd.array([[2, 3, 4, 5]]))
    assert scope.asnumpy()[0].tolist() == [0, 1, 1, 0]


def test_clause_features_flag_the_clauses_a_later_but_or_an_although_overrides():
    from sentiment.text.features import token_table

    words = ["<pad>", "<unk>", "i", "do", "n't", "think", "it", "is", "great", ",", "but", "the", "price", "was",
             "bad", ".", "although", "cold", "we", "liked"]
    table = token_table(words, {"great": 0.8, "bad": -0.6, "cold": -0.2, "liked": 0.5}, clauses=True)
    assert table.shape == (len(words), 5)
    sentence = "i do n't think it is great , but the price was bad . although it was cold , we liked it".split()
    tokens = nd.array([[words.index(w) for w in sentence] + [0, 0]])
    for symbolic in (False, True):
        encoder = small_encoder(token_features=True, negation=True, clauses=True)
        encoder.token_table.weight.set_data(nd.array(np.pad(table, ((0, 50 - len(words)), (0, 0)))))
        if symbolic:
            encoder.hybridize()
        inputs, scope = encoder.token_inputs(nd, tokens)
        assert [w for w, s in zip(sentence, scope.asnumpy()[0]) if s] == ["think", "it", "is"]  # unchanged
        overridden = inputs.asnumpy()[0, :, -2]  # [..., overridden, valence * overridden]
        assert [w for w, o in zip(sentence, overridden) if o] == \
            ["i", "do", "n't", "think", "it", "is", "great", ",", "it", "was", "cold"]
        np.testing.assert_allclose(inputs.asnumpy()[0, sentence.index("cold"), -1], -0.2, rtol=1e-6)
        assert inputs.shape == (1, len(sentence) + 2, 8 + 5)


def test_the_negation_operator_starts_at_the_identity():
    encoder = small_encoder(token_features=True, negation=True)
    plain = small_encoder(token_features=True)
    tokens = nd.array([[1, 2, 3]])
    np.testing.assert_allclose(encoder.token_inputs(nd, tokens)[0].asnumpy(),
                               plain.token_inputs(nd, tokens)[0].asnumpy(), rtol=1e-6)


def test_attention_scale_sharpens_beyond_the_article_bound():
    tokens, mask = nd.array(np.random.RandomState(4).randint(1, 50, (4, 12))), nd.ones((4, 12))
    article = small_encoder()
    article.score_first.weight.set_data(article.score_first.weight.data() * 50)
    spread = article(tokens, mask)[1].asnumpy().reshape(4, -1)
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    bound = np.exp(sigmoid(1) - sigmoid(-1))  # sigmoid(tanh(.)) lies in (0.27, 0.73): at most 1.587x
    ratio = spread.max(axis=1) / spread.min(axis=1)
    assert 1.3 < ratio.max() <= bound + 1e-5
    scaled = small_encoder(attention_scale=20.0)
    scaled.score_first.weight.set_data(scaled.score_first.weight.data() * 50)
    sharp = scaled(tokens, mask)[1].asnumpy().reshape(4, -1)
    assert (sharp.max(axis=1) / sharp.min(axis=1)).min() > 100
    np.testing.assert_allclose(sharp.sum(axis=1), 1, rtol=1e-5)


def test_a_bundle_config_without_options_is_the_article_structure():
    from sentiment.inference.kinds import kind_of

    config = {"labels": ["a", "b"], "model": {"embed_size": 8, "hidden_size": 8, "classifier_size": 8}}
    model = kind_of(config).model(config, 20)
    model.initialize()
    model(nd.ones((1, 4)), nd.ones((1, 4)))
    names = sorted(name.split("_", 1)[1] for name in model.collect_params())
    assert not any("offset" in n or "token_table" in n or "negate" in n or "attention_scale" in n for n in names)


def test_sparsemax_attention_sums_to_one_with_exact_zeros_and_keeps_contributions_exact():
    from sentiment.model.decomposition import LogitDecomposition
    from sentiment.model.relation import RelationAttentionClassifier

    mx.random.seed(1)
    model = RelationAttentionClassifier(30, 3, embed_size=8, hidden_size=8, classifier_size=8, attention_scale=30.0,
                                        attention="sparsemax")
    model.initialize(mx.init.Xavier())
    tokens, mask = (nd.array(a) for a in pad_batch([[3, 4, 5, 6, 7, 8], [9, 10, 11]], pad_id=1))
    logits, attention = (a.asnumpy() for a in model(tokens, mask))
    assert np.allclose(attention.sum(axis=(1, 2)), 1, atol=1e-5)
    real = attention[0][:6, :6]
    assert (real == 0).sum() > 0 and (real > 0).sum() < 36  # exact zeros among the real pairs
    assert not attention[1][3:].any() and not attention[1][:, 3:].any()  # padding
    out, _, shares, bias = (a.asnumpy() for a in LogitDecomposition(model)(tokens, mask))
    np.testing.assert_allclose(shares.sum(axis=(1, 2)) + bias, out, atol=1e-4)
    with pytest.raises(ValueError, match="attention must be 'softmax' or 'sparsemax'"):
        RelationAttentionClassifier(30, 3, attention="entmax")


def test_a_words_only_pair_grid_leaves_punctuation_out_of_the_pairs_but_not_out_of_the_encoder():
    from sentiment.inference.inputs import PieceInputs

    class Pieces:  # a stand-in WordPiece tokenizer: one piece per word
        special_ids = (0, 1, 2, 3)

        def pieces(self, word):
            return (10 + len(word),)

    inputs = PieceInputs(Pieces(), lexicon={":)": 2.0}, pairs="words")
    pieces, valid, pool, packed = inputs.arrays([inputs.encode(["great", ",", "really", ":)", "!"]),
                                                 inputs.encode(["!", "?"])])
    assert packed[0, :5, 0].tolist() == [1, 0, 1, 1, 0]  # ":)" is rated, so it stays a word
    assert packed[1, :2, 0].tolist() == [1, 1]  # punctuation alone keeps its tokens
    assert valid.tolist() == [7, 4]  # every piece is still read: [CLS] 5 pieces [SEP]
    plain = PieceInputs(Pieces())
    assert plain.arrays([plain.encode(["great", ","])])[3][0, :2, 0].tolist() == [1, 1]
    with pytest.raises(ValueError, match="pairs must be 'all' or 'words'"):
        PieceInputs(Pieces(), pairs="nouns")
