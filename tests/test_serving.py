"""The served pass gives the training graph's numbers: per-token features, logits, attention, contributions."""
import threading
import time

import mxnet as mx
import numpy as np
import pytest

from sentiment.inference.batching import pad_batch
from sentiment.inference.forward import GraphForward, ServedForward
from sentiment.inference.kinds import kind_of
from sentiment.inference.predictor import Predictor
from sentiment.text.features import token_inputs, token_table

WORDS = ["<unk>", "<pad>", "the", "film", "is", "not", "bad", "but", "great", ",", ".", "although", "dull", "never",
         "boring", "yet", "fine", ":)", "no", "though"]
LEXICON = {"bad": -0.6, "great": 0.8, "dull": -0.4, "boring": -0.5, "fine": 0.2, ":)": 0.5}


def random_ids(rng, batch, pad_id=1):
    """Sentences of 1 to 19 words drawn so that negators, breakers and clause words meet in every order."""
    return [list(rng.randint(2, len(WORDS), rng.randint(1, 20))) for _ in range(batch)]


def make_model(clauses=True, token_features=True, rating_head=False, seed=0, attention="softmax"):
    config = {"labels": ["negative", "neutral", "positive"],
              "model": {"embed_size": 8, "hidden_size": 8, "classifier_size": 8, "positions": 4,
                        "attention_scale": 8.0, "token_features": token_features, "negation": token_features,
                        "clauses": clauses and token_features, "rating_head": rating_head, "attention": attention}}
    mx.random.seed(seed)
    model = kind_of(config).model(config, len(WORDS))
    model.initialize(mx.init.Xavier())
    if token_features:
        table = token_table(WORDS, LEXICON, clauses)
        model.encoder.token_table.weight.set_data(mx.nd.array(table))
    return model


@pytest.mark.parametrize("clauses", [False, True])
def test_token_features_from_numpy_equal_the_graphs(clauses):
    model = make_model(clauses)
    rng = np.random.RandomState(3)
    for batch in (1, 5, 16):
        tokens, _ = pad_batch(random_ids(rng, batch), pad_id=1)
        graph, scope = model.encoder.token_inputs(mx.nd, mx.nd.array(tokens))
        table = model.encoder.token_table.weight.data().asnumpy()
        numpy = token_inputs(tokens.astype(np.int64), table, clauses)
        np.testing.assert_array_equal(numpy, graph.asnumpy()[:, :, 8:])  # the columns after the embedding
        np.testing.assert_array_equal(numpy[:, :, 1], scope.asnumpy())
    table = token_table(WORDS, LEXICON, True)

    def features(text):
        return token_inputs(np.array([[WORDS.index(w) for w in text.split()]]), table, True)[0]

    conceded = features("although the film is dull , the film is not bad")
    assert conceded[:, 1].tolist() == [0] * 10 + [1]                   # "bad" is in the scope of "not"
    assert conceded[:, 3].tolist() == [0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]  # the concessive clause is overridden
    assert features("the film is dull but great")[:, 3].tolist() == [1, 1, 1, 1, 0, 0]  # what comes before "but"


@pytest.mark.parametrize("options", [dict(), dict(rating_head=True), dict(clauses=False),
                                     dict(token_features=False), dict(attention="sparsemax")])
def test_the_served_pass_gives_the_training_graphs_numbers(options):
    model = make_model(**options)
    rng = np.random.RandomState(5)
    tokens, mask = pad_batch(random_ids(rng, 12), pad_id=1)
    graph, served = GraphForward(model, mx.cpu()), ServedForward(model, mx.cpu(), static_pairs=0)
    fixed = ServedForward(model, mx.cpu(), static_pairs=1 << 20)  # every shape its own fixed-shape graph
    for contributions in (False, True):
        expected = graph(tokens, mask, contributions)
        for forward in (served, fixed):
            done = forward(tokens, mask, contributions)
            for got, want in zip(done[:4], expected[:4]):  # logits, attention, shares, bias
                if want is None:
                    assert got is None
                else:
                    np.testing.assert_allclose(got, want, atol=1e-5)
            assert done.sentence.shape == (len(tokens), model.encoder.pair_out._units)
            if contributions:  # the pooled vector is the sum of its pairs' vectors A_ij g(i, j)
                np.testing.assert_allclose(done.pair_vectors.sum(axis=(1, 2)), done.sentence, atol=1e-5)


def test_the_predictor_serves_the_same_answers_either_way(small_bundle):
    predictor = Predictor.load(small_bundle)
    texts = ["the script is not dull , but the ending is awful .", "a lovely film", "although bland , it is superb"]
    served = predictor.explain(texts, contributions=True)
    predictor.forward = GraphForward(predictor.model, predictor.ctx)
    reference = predictor.explain(texts, contributions=True)
    for got, want in zip(served, reference):
        assert got["label"] == want["label"] and got["runner_up"] == want["runner_up"]
        assert got["probabilities"] == pytest.approx(want["probabilities"], abs=1e-5)
        for key in ("attention", "contributions"):
            np.testing.assert_allclose(got[key], want[key], atol=1e-5)
        assert got["contribution_bias"] == pytest.approx(want["contribution_bias"], abs=1e-5)


class GatedPredictor:
    """The real predictor, with each pass's request count recorded and the first pass held until `gate` opens."""

    def __init__(self, predictor):
        self.predictor, self.passes, self.gate, self.started = predictor, [], threading.Event(), threading.Event()

    def forward_sentences(self, tokenized, **options):
        self.passes.append(len(tokenized))
        self.started.set()
        self.gate.wait(30)
        return self.predictor.forward_sentences(tokenized, **options)


def test_under_load_the_next_pass_waits_for_the_requests_in_flight(small_bundle):
    """A pass of 1 ran with 3 requests queued behind it: the next pass takes those 3 and waits for a fourth (the
    first client coming back) instead of starting without it. An idle batcher, with the same wait, never waits."""
    from concurrent.futures import ThreadPoolExecutor

    from service.batcher import MicroBatcher

    gated = GatedPredictor(Predictor.load(small_bundle))
    batcher = MicroBatcher(gated, max_wait_ms=10_000)
    one = [gated.predictor.tokenize("the plot is dull .")]
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(batcher.forward_sentences, one)
        assert gated.started.wait(30)
        queued = [pool.submit(batcher.forward_sentences, one) for _ in range(3)]
        for _ in range(3000):
            if batcher._queue.qsize() == 3:
                break
            time.sleep(0.01)
        gated.gate.set()
        first.result(30)
        returning = pool.submit(batcher.forward_sentences, one)  # the first client's next request
        answers = [f.result(30) for f in queued + [returning]]
    assert gated.passes == [1, 4] and all(a[0]["label"] == answers[0][0]["label"] for a in answers)

    idle = MicroBatcher(gated, max_wait_ms=10_000)
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(idle.forward_sentences, one).result(timeout=5)[0]["tokens"] == one[0][0]


def test_an_encoder_bundle_waits_for_the_requests_in_flight_by_default(small_bundle, encoder_bundle):
    from service.app import create_app

    def wait(path, **config):
        return create_app({"MODEL_PATH": str(path), **config}).extensions["sentences"].max_wait

    assert (wait(small_bundle), wait(encoder_bundle)) == (0.0, 0.025)
    assert wait(encoder_bundle, MICROBATCH_WAIT_MS=0.0) == 0.0
