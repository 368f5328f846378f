"""Exact explanations: per-pair contributions plus the bias add up to the log-odds of label against runner-up."""
import random

import numpy as np
import pytest
import requests

from sentiment.inference.documents import top_pairs
from sentiment.inference.predictor import Predictor
from sentiment.training.config import TrainConfig
from sentiment.training.fit import fit
from tests.conftest import SMALL
from tests.helpers import NOUNS, make_reviews, write_jsonl

SENTENCES = ["what a wonderful film , superb !", "a dull , tedious script .", "the cast is lovely but the plot is stale ."]


def check_sums(results):
    for result in results:
        p = result["probabilities"]
        log_odds = np.log(p[result["label"]] / p[result["runner_up"]])
        total = float(result["contributions"].sum()) + result["contribution_bias"]
        assert total == pytest.approx(log_odds, abs=1e-4)
        assert result["contributions"].shape == result["attention"].shape == (len(result["tokens"]),) * 2


def test_binary_contributions_add_up_to_the_log_odds(small_bundle):
    predictor = Predictor.load(small_bundle)
    results = predictor.explain(SENTENCES, contributions=True)
    check_sums(results)
    plain = predictor.explain(SENTENCES)
    for a, b in zip(results, plain):
        assert a["probabilities"] == pytest.approx(b["probabilities"], abs=1e-6)
        np.testing.assert_allclose(a["attention"], b["attention"], atol=1e-7)
    pairs = top_pairs(results[1], 3)
    assert [abs(p["contribution"]) for p in pairs] == sorted((abs(p["contribution"]) for p in pairs), reverse=True)
    first = pairs[0]
    assert results[1]["tokens"][first["i"]] == first["first"] and results[1]["tokens"][first["j"]] == first["second"]


def test_the_cached_decomposition_matches_the_imperative_one(small_bundle):
    """The served graph gives the same split as the step-by-step one, padding included."""
    import mxnet as mx

    from sentiment.inference.batching import pad_batch
    from sentiment.model.decomposition import LogitDecomposition

    predictor = Predictor.load(small_bundle)
    ids = [predictor.vocab[predictor.tokenize(text)[0]] for text in SENTENCES]
    padded = pad_batch(ids, predictor.inputs.pad_id)
    tokens, mask = (mx.nd.array(a) for a in padded)
    cached = list(predictor.forward(*padded, contributions=True)[:4])  # logits, attention, shares, bias
    stepwise = [a.asnumpy() for a in LogitDecomposition(predictor.model)(tokens, mask)]  # not hybridized
    for a, b in zip(cached, stepwise):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    logits, attention, contributions, bias = cached
    np.testing.assert_allclose(contributions.sum(axis=(1, 2)) + bias, logits, rtol=1e-4, atol=1e-4)
    padding = mask.asnumpy() == 0
    assert padding.any() and not contributions[padding].any() and not contributions.transpose(0, 2, 1, 3)[padding].any()


def test_three_class_contributions_add_up_too(tmp_path):
    rng = random.Random(8)
    rows = make_reviews(240, seed=12)
    rows += [{"text": f"the {rng.choice(NOUNS)} is a {rng.choice(NOUNS)} .", "label": "neutral"} for _ in range(120)]
    rng.shuffle(rows)
    train, dev = write_jsonl(tmp_path / "train.jsonl", rows[:300]), write_jsonl(tmp_path / "dev.jsonl", rows[300:])
    log = []
    fit(TrainConfig(data=str(train), dev=str(dev), out=str(tmp_path / "m3"), **SMALL), log=log.append)
    predictor = Predictor.load(tmp_path / "m3")
    assert predictor.labels == ["negative", "neutral", "positive"]
    results = predictor.explain(SENTENCES + ["the plot is a score ."], contributions=True)
    check_sums(results)
    assert {r["runner_up"] for r in results} <= set(predictor.labels)
    for r in results:
        assert r["score"] == pytest.approx(r["probabilities"]["positive"] - r["probabilities"]["negative"])
    # A third label no longer switches the counterfactuals off: the polar rows still give some.
    added = [line for line in log if line.startswith("negation counterfactuals:")]
    assert added and int(added[0].split()[2]) > 0


def test_the_service_answers_contributions_and_top_pairs(server):
    one = requests.post(server.url + "/predict", json={"text": SENTENCES[0], "contributions": True, "top_pairs": 3},
                        timeout=30).json()
    one["contributions"] = np.array(one["contributions"])
    one["attention"] = np.array(one["attention"])
    check_sums([one])
    assert len(one["top_pairs"]) == 3 and set(one["top_pairs"][0]) == {"first", "second", "i", "j", "attention",
                                                                        "contribution"}
    batch = requests.post(server.url + "/predict", json={"texts": SENTENCES, "contributions": True,
                                                         "attention": False}, timeout=30).json()["predictions"]
    assert all(len(b["top_pairs"]) == 5 or len(b["top_pairs"]) == len(b["tokens"]) ** 2 for b in batch)
    assert all("attention" not in b and "contributions" in b for b in batch)
    plain = requests.post(server.url + "/predict", json={"text": SENTENCES[0]}, timeout=30).json()
    assert "contributions" not in plain and "top_pairs" not in plain
    alone = requests.post(server.url + "/predict", json={"text": "fine", "top_pairs": 3}, timeout=30)
    assert alone.status_code == 200 and "top_pairs" not in alone.json()  # pairs come only with contributions
    bad = requests.post(server.url + "/predict", json={"text": "fine", "contributions": True, "top_pairs": 51},
                        timeout=30)
    assert bad.status_code == 400 and "from 0 to 50" in bad.json()["error"]["message"]


def test_concurrent_requests_with_different_options_get_what_each_asked(server):
    from concurrent.futures import ThreadPoolExecutor

    bodies = [{"text": SENTENCES[i % 3], "contributions": i % 2 == 0, "attention": i % 3 != 0} for i in range(60)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda b: requests.post(server.url + "/predict", json=b, timeout=30).json(), bodies))
    for body, answer in zip(bodies, answers):
        assert ("contributions" in answer) == body["contributions"] == ("top_pairs" in answer)
        assert ("attention" in answer) == body["attention"]
