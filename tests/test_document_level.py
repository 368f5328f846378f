"""The learned document level: its head, its exact shares of a review's log-odds, its bundle entry and every shell."""
import math

import mxnet as mx
import numpy as np
import pytest
import requests

from sentiment.inference import bundle, documents
from sentiment.inference.answer import Options
from sentiment.inference.predictor import Predictor
from sentiment.inference.review import LearnedVerdict
from sentiment.model.document import DocumentHead, DocumentReader, position_buckets
from tests.helpers import Gunicorn, run_cli

REVIEW = "the plot is dull . the cast is awful ! what a wonderful , gripping ending ."


def test_the_head_and_its_numpy_reader_agree_and_the_reader_splits_it_exactly():
    mx.random.seed(0)
    head = DocumentHead(8, 3)
    head.initialize(mx.init.Xavier())
    vectors = np.random.default_rng(0).normal(size=(2, 5, 8)).astype(np.float32)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], np.float32)
    positions = np.stack([position_buckets(5), np.r_[position_buckets(3), [0, 0]]]).astype(np.float32)
    logits, rating, attention = (a.asnumpy() for a in head(*map(mx.nd.array, (vectors, positions, mask))))
    assert attention[1, 3:].sum() == 0 and np.allclose(attention.sum(axis=1), 1)
    reader = DocumentReader(DocumentReader.weights_of(head))
    for b, n in enumerate((5, 3)):
        outputs, weights = reader(vectors[b, :n])
        assert np.allclose(outputs, np.r_[logits[b], rating[b]], atol=1e-5)
        assert np.allclose(weights, attention[b, :n], atol=1e-6)
        projection, bias = reader.decompose(vectors[b, :n], weights)
        shares = (weights[:, None] * vectors[b, :n]) @ projection  # (sentences, C + 1): each sentence's share
        assert np.allclose(shares.sum(axis=0) + bias, outputs, atol=1e-9)
    assert list(position_buckets(6)) == [0, 2, 3, 4, 5, 1] and list(position_buckets(1)) == [0]


def test_the_bundle_keeps_its_document_level_and_rules_stay_an_option(document_bundle):
    loaded = bundle.read(document_bundle)
    entry = loaded.config["heads"]["document"]
    assert entry["file"] in loaded.manifest["files"] and entry["labels"] == ["negative", "neutral", "positive"]
    assert 0 < entry["temperature"] and "document_level" in loaded.metrics
    assert isinstance(Predictor.load(document_bundle).verdict, LearnedVerdict)
    assert Predictor.load(document_bundle, verdict="rules").verdict is documents.VERDICT
    with pytest.raises(ValueError, match="verdict must be one of"):
        Predictor.load(document_bundle, verdict="vote")


def test_a_review_has_exact_shares_per_sentence_and_per_word_pair(document_bundle):
    predictor = Predictor.load(document_bundle)
    answer = predictor([REVIEW], Options(contributions=True, top_pairs=4))[0]
    explained = answer.label if answer.label != "mixed" else max(answer.probabilities, key=answer.probabilities.get)
    log_odds = math.log(answer.probabilities[explained] / answer.probabilities[answer.runner_up])
    assert sum(s.share for s in answer.sentences) + answer.contribution_bias == pytest.approx(log_odds, abs=1e-4)
    for sentence in answer.sentences:
        assert np.asarray(sentence.document_contributions).sum() == pytest.approx(sentence.share, abs=1e-4)
    assert sum(s.weight for s in answer.sentences) == pytest.approx(1.0)
    _, _, weights = predictor.verdict.read(predictor.forward_sentences(
        [t for t in documents.plan(REVIEW, predictor.tokenizer).tokenized], attention=False))
    assert [s.weight for s in answer.sentences] == pytest.approx(list(weights))  # the weight is the head's attention
    pairs = answer.top_pairs
    assert len(pairs) == 4 and all({"sentence", "first", "second"} <= set(p) for p in pairs)
    assert [abs(p["contribution"]) for p in pairs] == sorted((abs(p["contribution"]) for p in pairs), reverse=True)
    best = pairs[0]
    matrix = np.asarray(answer.sentences[best["sentence"]].document_contributions)
    assert matrix[best["i"], best["j"]] == pytest.approx(best["contribution"])
    assert np.abs(np.concatenate([np.ravel(s.document_contributions) for s in answer.sentences])).max() == \
        pytest.approx(abs(best["contribution"]))


def test_the_learned_verdict_reads_the_last_sentence_and_one_sentence_keeps_its_answer(document_bundle):
    predictor = Predictor.load(document_bundle)
    good_last = ["the plot is dull . the cast is awful . what a wonderful , superb ending !"]
    bad_last = ["what a wonderful cast . the ending is lovely . the plot is dull , awful and boring ."]
    assert predictor.predict(good_last + bad_last) == ["positive", "negative"]
    one = predictor(["what a lovely film ."], Options(contributions=True, top_pairs=2))[0]
    assert one.sentences[0].weight == 1.0 and one.sentences[0].share is None and one.tokens is not None
    assert (one.label, one.probabilities, one.score) == (one.sentences[0].label, one.sentences[0].probabilities,
                                                         one.sentences[0].score)


def test_the_service_and_the_cli_answer_with_the_document_level(document_bundle, tmp_path):
    gunicorn = Gunicorn(document_bundle, workers=1, threads=2, log_path=tmp_path / "g.log").wait("/ready")
    try:
        body = requests.post(gunicorn.url + "/predict", json={"text": REVIEW, "contributions": True}, timeout=30).json()
        spec = requests.get(gunicorn.url + "/openapi.json", timeout=30).json()
        info = requests.get(gunicorn.url + "/model", timeout=30).json()
    finally:
        gunicorn.stop()
    assert body["contribution_bias"] is not None and all("share" in s for s in body["sentences"])
    assert any("sentence" in p for p in body["top_pairs"])
    assert "share" in spec["components"]["schemas"]["Sentence"]["properties"]
    assert info["document_level"]["data"] and info["config"]["heads"]["document"]["file"] == "document.params"
    rules = run_cli("predict", REVIEW, "--model", str(document_bundle), "--verdict", "rules", "--no-attention")
    learned = run_cli("predict", REVIEW, "--model", str(document_bundle), "--no-attention")
    assert '"weight"' in rules.stdout and rules.stdout != learned.stdout


def test_the_readings_of_a_set_are_kept_and_read_back_unchanged(document_bundle, tmp_path):
    from sentiment.training.readings import Encoded, cached

    predictor = Predictor.load(document_bundle, verdict="rules")
    rows = [(REVIEW, "positive", 0.5), ("the plot is dull .", "negative", None)]
    first = cached(predictor, rows, "mine", 1.0, tmp_path, "train", 2, 0)
    again = Encoded.load(next(tmp_path.glob("mine-train-2-0-*.npz")))
    assert len(again) == 2 and again.sentence_labels == first.sentence_labels and again.source == "mine"
    assert all(np.array_equal(a, b) for a, b in zip(again.vectors, first.vectors))
    assert np.isnan(again.ratings[1]) and again.ratings[0] == pytest.approx(0.5)


def test_balanced_texts_join_a_clearly_good_and_a_clearly_bad_rated_sentence(tmp_path):
    from sentiment.training.readings import balanced_texts
    from tests.helpers import write_jsonl

    rated = write_jsonl(tmp_path / "rated.jsonl", [
        {"text": "a superb film .", "label": "positive", "rating": 3.0},
        {"text": "an awful mess .", "label": "negative", "rating": -2.5},
        {"text": "it was fine .", "label": "neutral", "rating": 0.4},
        {"text": "quite dull .", "label": "negative", "rating": -1.0}])
    texts = balanced_texts([str(rated)], count=6, seed=1, rating=0.0)
    assert {t for t, _, _ in texts} == {"a superb film . an awful mess .", "an awful mess . a superb film ."}
    assert all(label == "neutral" and rating == 0.0 for _, label, rating in texts)
    assert balanced_texts([str(rated)], count=6)[0][2] is None
