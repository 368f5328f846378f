"""Whole texts: sentence splitting with offsets, long sentences in pieces, the verdict, and every shell."""
import json

import numpy as np
import pytest
import requests

from sentiment.inference import documents
from sentiment.inference.documents import MAX_SENTENCES, Verdict, plan
from sentiment.inference.predictor import Predictor
from sentiment.text.sentences import split_sentences
from sentiment.text.tokenizer import Tokenizer
from tests.helpers import run_cli

REVIEW = "  the script is dull .  the ending is awful !\nwhat a wonderful cast .  "


def test_sentences_come_with_offsets_into_the_text_as_posted():
    spans = split_sentences(REVIEW)
    assert [REVIEW[s.start:s.end] for s in spans] == ["the script is dull .", "the ending is awful !",
                                                      "what a wonderful cast ."]
    text = "Mr. Smith bought it in May. It broke.\nPros: light\nCons: loud"
    assert [text[s.start:s.end] for s in split_sentences(text)] == [
        "Mr. Smith bought it in May.", "It broke.", "Pros: light", "Cons: loud"]  # a line break ends one too


def test_a_long_sentence_is_read_in_pieces_not_clipped():
    tokenizer = Tokenizer(max_len=8)
    text = " ".join(f"w{i}" for i in range(20)) + ". Short one."
    p = plan(text, tokenizer)
    assert [len(tokens) for tokens, _ in p.tokenized] == [8, 8, 5, 3]  # "w19 ." closes the third piece
    assert not any(truncated for _, truncated in p.tokenized) and p.dropped == 0
    assert " ".join(text[s.start:s.end] for s in p.spans[:3]) == text[:p.spans[2].end]


def test_sentences_past_the_limit_are_counted_and_a_wordless_text_refused():
    p = plan("Good. " * (MAX_SENTENCES + 10), Tokenizer())
    assert len(p.tokenized) == MAX_SENTENCES and p.dropped == 10
    with pytest.raises(ValueError, match="no words"):
        plan(" \n\t ", Tokenizer())


def sentence(positive, negative, neutral=None):
    probabilities = {"negative": negative, "positive": positive}
    if neutral is not None:
        probabilities["neutral"] = neutral
    label = max(probabilities, key=probabilities.get)
    return {"label": label, "probabilities": probabilities, "score": positive - negative}


def test_the_verdict_weighs_cues_bands_neutral_and_finds_balance():
    labels = ["negative", "neutral", "positive"]
    verdict = Verdict(later=0.0, cue=3.0, salience=0.0, band=0.25, mixed=0.3)
    tokens = [(["the", "box", "was", "dented"], False), (["overall", ",", "i", "love", "it"], False)]
    parts = [sentence(0.1, 0.8, 0.1), sentence(0.9, 0.05, 0.05)]
    label, probabilities, score, weights = verdict(parts, tokens, labels)
    assert weights == pytest.approx([0.25, 0.75]) and label == "positive"  # the cue sentence weighs 3x
    assert score == pytest.approx(0.25 * -0.7 + 0.75 * 0.85)
    assert sum(probabilities.values()) == pytest.approx(1)
    plain = [(["a"], False), (["b"], False)]
    assert verdict([sentence(0.3, 0.1, 0.6), sentence(0.2, 0.2, 0.6)], plain, labels)[0] == "neutral"  # |0.1| < band
    assert verdict([sentence(0.9, 0.05, 0.05), sentence(0.05, 0.9, 0.05)], plain, labels)[0] == "mixed"
    one = sentence(0.2, 0.7, 0.1)
    assert verdict([one], plain[:1], labels) == (one["label"], one["probabilities"], one["score"], [1.0])


@pytest.fixture(scope="module")
def predictor(small_bundle):
    return Predictor.load(small_bundle)


def test_a_one_sentence_text_keeps_its_answer_and_gains_one_sentence(predictor):
    text = "what a wonderful film , superb !"
    answer = predictor.explain([text], contributions=True, top_pairs=3)[0]
    alone = predictor.explain([text], contributions=True)[0]
    assert answer["label"] == alone["label"] and answer["tokens"] == alone["tokens"]
    assert answer["probabilities"] == pytest.approx(alone["probabilities"], abs=1e-6)
    np.testing.assert_allclose(answer["attention"], alone["attention"], atol=1e-6)
    np.testing.assert_allclose(answer["contributions"], alone["contributions"], atol=1e-6)
    assert len(answer["top_pairs"]) == 3 and answer["truncated"] is False and answer["sentences_dropped"] == 0
    [only] = answer["sentences"]
    assert (only["text"], only["start"], only["end"], only["weight"]) == (text, 0, len(text), 1.0)


def test_every_sentence_of_a_review_is_answered_in_place(predictor):
    answer = predictor.explain([REVIEW])[0]
    assert "tokens" not in answer and "attention" not in answer  # several sentences: matrices per sentence
    assert [REVIEW[s["start"]:s["end"]] for s in answer["sentences"]] == [s["text"] for s in answer["sentences"]]
    assert sum(s["weight"] for s in answer["sentences"]) == pytest.approx(1)
    alone = predictor.explain([s["text"] for s in answer["sentences"]])
    for got, expected in zip(answer["sentences"], alone):
        assert got["label"] == expected["label"] and got["tokens"] == expected["tokens"]
        assert got["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-5)
        assert np.asarray(got["attention"]).shape == (len(got["tokens"]),) * 2
    assert answer["label"] in ("negative", "positive", "mixed")
    assert answer["score"] == pytest.approx(sum(s["weight"] * s["score"] for s in answer["sentences"]))


def test_the_service_answers_reviews_and_counts_what_it_cut(server):
    answer = requests.post(server.url + "/predict", json={"text": REVIEW, "contributions": True}, timeout=30).json()
    assert len(answer["sentences"]) == 3 and all(len(s["top_pairs"]) == 5 for s in answer["sentences"])
    assert [REVIEW[s["start"]:s["end"]] for s in answer["sentences"]] == [s["text"] for s in answer["sentences"]]
    many = requests.post(server.url + "/predict", json={"text": "Good. " * 3000, "attention": False}, timeout=60)
    assert many.status_code == 200
    body = many.json()
    assert body["truncated"] is True and body["sentences_dropped"] == 3000 - 256 and len(body["sentences"]) == 256
    # One 20,000-character sentence without punctuation: read in pieces, nothing cut.
    run_on = requests.post(server.url + "/predict", json={"text": "word " * 4000, "attention": False}, timeout=60)
    assert run_on.status_code == 200 and run_on.json()["truncated"] is False
    assert all(len(s["tokens"]) <= 24 for s in run_on.json()["sentences"])  # the small model's max_len
    metrics = requests.get(server.url + "/metrics", timeout=30).text
    line = next(line for line in metrics.splitlines() if line.startswith('sentiment_truncated_total{what="sentences"}'))
    assert float(line.split()[-1]) >= 3000 - 256


def test_the_scorer_writes_documents_and_sentences_on_request(small_bundle, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"text": REVIEW}) + "\n" + json.dumps({"text": "a superb film"}) + "\n")
    run_cli("score", source, "--model", small_bundle, "--out", tmp_path / "plain.jsonl", "--no-progress")
    plain = [json.loads(line) for line in open(tmp_path / "plain.jsonl")]
    assert "sentences" not in plain[0] and plain[0]["label"] in ("negative", "positive", "mixed")
    run_cli("score", source, "--model", small_bundle, "--out", tmp_path / "full.jsonl", "--sentences", "--attention",
            "--no-progress")
    full = [json.loads(line) for line in open(tmp_path / "full.jsonl")]
    assert [s["text"] for s in full[0]["sentences"]] == [REVIEW[s["start"]:s["end"]] for s in full[0]["sentences"]]
    assert all("attention" in s for s in full[0]["sentences"]) and "attention" in full[1]
    assert full[0]["label"] == plain[0]["label"] and full[0]["score"] == plain[0]["score"]


def test_the_cli_answers_a_review_sentence_by_sentence(small_bundle, tmp_path):
    result = run_cli("predict", REVIEW, "--model", small_bundle, "--no-attention", "--plot", tmp_path / "h.png")
    answer = json.loads(result.stdout)
    assert len(answer["sentences"]) == 3 and all("attention" not in s for s in answer["sentences"])
    assert sorted(p.name for p in tmp_path.glob("h-*.png")) == ["h-1.png", "h-2.png", "h-3.png"]


def test_documents_module_has_no_service_or_cluster_imports():
    source = open(documents.__file__).read()
    assert "flask" not in source and "dask" not in source
