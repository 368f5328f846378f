"""Aspects: the data, the target-conditioned head and its exact shares, the answer's shape and every shell."""
import csv
from concurrent.futures import ThreadPoolExecutor
import json
import math
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest
import requests

from sentiment.corpora import absa
from sentiment.corpora.labelled import DataError
from sentiment.inference import bundle
from sentiment.inference.answer import Options
from sentiment.inference.aspects import AspectError
from sentiment.inference.predictor import Predictor
from sentiment.model.aspect import DISTANCES, AspectHead, tag_spans, target_columns
from sentiment.scoring.aspect_summary import fold, summarise
from sentiment.text.offsets import word_offsets
from sentiment.text.wordpiece import WordPieceTokenizer
from tests.helpers import Gunicorn, run_cli, write_jsonl

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "absa"
REVIEW = "the film is wonderful and the cast is awful . i found the story from start to finish ."


def test_a_three_line_file_becomes_sentences_with_every_target(tmp_path):
    path = tmp_path / "set.seg"
    path.write_text("the $T$ is great .\nscreen\n1\nthe $T$ is great .\nscreen\n1\n"
                    "the screen is $T$ .\ngreat\n0\n$T$ rocks , $T$ rules\nbob\n-1\n", encoding="utf-8")
    sentences = absa.parse(path, "set")
    assert [s["text"] for s in sentences] == ["the screen is great .", "bob rocks , bob rules"]
    first, second = sentences
    assert [(t["target"], t["start"], t["label"]) for t in first["targets"]] == [("screen", 4, "positive"),
                                                                                ("great", 14, "neutral")]
    assert second["targets"][0]["spans"] == [[0, 3], [12, 15]] and second["targets"][0]["label"] == "negative"
    path.write_text("no placeholder here\nscreen\n1\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 1"):
        absa.parse(path, "set")


@pytest.mark.skipif(not (SHARED / "README.md").exists(), reason="the shared aspect sets are not on this machine")
def test_the_shared_sets_are_verified_and_dev_is_carved_from_train(tmp_path):
    counts = absa.prepare_absa(SHARED, data_dir=tmp_path)
    root = tmp_path / "absa"
    tests = {name: len(absa.examples(absa.read_sentences(root / name / "test.jsonl"))) for name in absa.FILES}
    assert tests == {"restaurants": 1120, "laptops": 638, "tweets": 692}
    for name in absa.FILES:
        train, dev = (set(s["text"] for s in absa.read_sentences(root / name / f"{split}.jsonl"))
                      for split in ("train", "dev"))
        assert not train & dev and 0.08 < len(dev) / (len(train) + len(dev)) < 0.12
    assert counts["restaurants/train.jsonl"] + counts["restaurants/dev.jsonl"] > 1900
    bad = tmp_path / "bad"
    bad.mkdir()
    for file, _ in absa.FILES["laptops"].values():
        (bad / file).write_text("the $T$ .\nkeys\n1\n")
    with pytest.raises(DataError, match="SHA-256"):
        absa.prepare_absa(bad, data_dir=tmp_path)


def test_words_are_placed_on_the_text_they_came_from(tiny_encoder):
    text = "The Café’s crème brûlée — don't miss it :)"
    words, _ = WordPieceTokenizer(str(tiny_encoder / "vocab.txt"))(text)
    spans = word_offsets(text, words)
    assert [text[a:b] for a, b in spans] == ["The", "Café", "’", "s", "crème", "brûlée", "—", "don't", "miss", "it",
                                             ":)"]
    assert word_offsets("a b", ["a", "zzz", "b"], base=10) == [(10, 11), None, (12, 13)]
    text = "our waiter 's eye"  # a clitic the tokenizer joins back to its word
    assert [text[a:b] for a, b in word_offsets(text, ["our", "waiter's", "eye"])] == ["our", "waiter 's", "eye"]


def test_target_columns_and_tags():
    columns = target_columns(6, [2, 3])
    assert columns.shape == (6, len(DISTANCES) + 1) and np.all(columns.sum(axis=1) == 1)
    assert list(columns.argmax(axis=1)) == [2, 1, 0, 0, 1, 2]
    assert tag_spans([0, 1, 2, 0, 2, 1, 1]) == [(1, 3), (4, 5), (5, 6), (6, 7)]


def test_the_head_weighs_only_pairs_that_hold_the_target():
    mx.random.seed(0)
    head = AspectHead(8, 3, hidden_size=8, classifier_size=8, dropout=0.0, attention="sparsemax",
                      attention_scale=8.0)
    head.initialize(mx.init.Xavier())
    words = mx.nd.array(np.random.default_rng(0).normal(size=(1, 5, 8)))
    packed = np.concatenate([np.ones((5, 1)), target_columns(5, [1])], axis=1)[None].astype(np.float32)
    _, attention = head(words, mx.nd.array(packed))
    attention = attention.asnumpy()[0]
    off_target = np.delete(np.delete(attention, 1, axis=0), 1, axis=1)
    assert np.all(off_target == 0) and attention.sum() == pytest.approx(1.0, abs=1e-5)


def test_the_bundle_records_its_aspect_heads(aspect_bundle):
    loaded = bundle.read(aspect_bundle, needs=lambda config: ())
    entry = loaded.config["heads"]["aspects"]
    assert {entry["file"], entry["tagger_file"]} <= set(loaded.manifest["files"])
    assert loaded.metrics["aspects"]["polarity"]["dev_macro_f1"] > 0.8
    assert loaded.metrics["aspects"]["extraction"]["dev_f1"] > 0.8


def test_given_targets_get_a_polarity_and_exact_shares(aspect_bundle):
    predictor = Predictor.load(aspect_bundle)
    answer = predictor([REVIEW], Options(contributions=True, top_pairs=3),
                       aspects=[["cast", "Film", "story", "popcorn", {"start": 4, "end": 8}]])[0]
    found = [a for a in answer.aspects if a.found]
    assert [(a.target, a.start, a.sentence) for a in found] == [("film", 4, 0), ("film", 4, 0), ("cast", 30, 0),
                                                                ("story", 58, 1)]
    assert [a.label for a in found] == ["positive", "positive", "negative", "neutral"]
    assert answer.aspects[-1].to_dict() == {"target": "popcorn", "found": False}
    for aspect in found:
        log_odds = math.log(aspect.probabilities[aspect.label] / aspect.probabilities[aspect.runner_up])
        assert np.asarray(aspect.contributions).sum() + aspect.contribution_bias == pytest.approx(log_odds, abs=1e-4)
        assert aspect.score == pytest.approx(aspect.probabilities["positive"] - aspect.probabilities["negative"])
        assert [aspect.tokens[k] for k in aspect.target_tokens] == [aspect.target.lower()]
        assert all(p["i"] in aspect.target_tokens or p["j"] in aspect.target_tokens for p in aspect.top_pairs)
    story = found[-1]  # its context: its own sentence and the one before it, end to end
    assert story.context == [0, 1] and story.tokens == answer.sentences[0].tokens + answer.sentences[1].tokens
    # one encoder pass: the sentence answers are those of a request without aspects
    plain = predictor([REVIEW], Options(contributions=True))[0]
    assert plain.probabilities == pytest.approx(answer.probabilities) and plain.aspects is None


def test_targets_are_found_when_none_are_given(aspect_bundle):
    answers = Predictor.load(aspect_bundle)(["the plot is dull .", "the acting is superb and the score is bland ."],
                                            Options(attention=False), aspects=True)
    assert [(a.target, a.label) for a in answers[0].aspects] == [("plot", "negative")]
    assert [(a.target, a.label) for a in answers[1].aspects] == [("acting", "positive"), ("score", "negative")]
    text = "the acting is superb and the score is bland ."
    assert all(text[a.start:a.end] == a.target for a in answers[1].aspects)
    one_word = Predictor.load(aspect_bundle)(["superb", "plot"], Options(attention=False), aspects=True)
    assert all(isinstance(a.aspects, list) for a in one_word)  # a sentence of one word is read, not refused


@pytest.mark.parametrize("request_, message", [
    ([{"start": 4, "end": 6}], r"aspects\[0\]\[0\]: span 4\.\.6 \('fi'\) cuts a word"),
    ([{"start": 10, "end": 10}], r"aspects\[0\]\[0\]: span 10\.\.10 is empty or outside"),
    (["film", {"start": 0, "end": 999}], r"aspects\[0\]\[1\]: span 0\.\.999 is empty or outside"),
    ([3], r"aspects\[0\]\[0\]: expected a string or"),
    ([" "], r"aspects\[0\]\[0\]: an empty target"),
    (["film"] * 65, r"aspects\[0\]: 65 targets asked; at most 64 per text"),
])
def test_bad_targets_are_named(aspect_bundle, request_, message):
    with pytest.raises(AspectError, match=message):
        Predictor.load(aspect_bundle)([REVIEW], aspects=[request_])


def test_a_bundle_without_aspect_heads_says_so(encoder_bundle):
    with pytest.raises(AspectError, match="has no aspect heads"):
        Predictor.load(encoder_bundle)(["the film is dull ."], aspects=True)


def test_the_service_answers_aspects_and_refuses_bad_ones(aspect_bundle, encoder_bundle, tmp_path):
    server = Gunicorn(aspect_bundle, workers=1, log_path=tmp_path / "log").wait("/ready")
    try:
        post = lambda body: requests.post(server.url + "/predict", json=body, timeout=60)  # noqa: E731
        one = post({"text": REVIEW, "aspects": ["cast", "popcorn"], "contributions": True}).json()
        named = post({"text": REVIEW, "aspects": ["cast", {"start": 1, "end": 3}]})
        assert named.status_code == 422 and named.json()["error"]["message"].startswith("aspects[1]: span 1..3")
        assert [(a["target"], a["found"]) for a in one["aspects"]] == [("cast", True), ("popcorn", False)]
        assert one["aspects"][0]["label"] == "negative" and 1 <= len(one["aspects"][0]["top_pairs"]) <= 5
        many = post({"texts": ["the plot is dull .", REVIEW], "aspects": [True, [{"start": 4, "end": 8}]]})
        many = many.json()["predictions"]
        assert [a["target"] for a in many[0]["aspects"]] == ["plot"] and many[1]["aspects"][0]["target"] == "film"
        bad = post({"texts": [REVIEW], "aspects": [[{"start": 5, "end": 8}]]})
        assert bad.status_code == 422 and "aspects[0][0]: span 5..8" in bad.json()["error"]["message"]
        wrong = post({"text": REVIEW, "aspects": "cast"})
        assert wrong.status_code == 400 and '"aspects"' in wrong.json()["error"]["message"]
        assert "aspects" in requests.get(server.url + "/model", timeout=60).json()
        request = requests.get(server.url + "/openapi.json", timeout=60).json()["paths"]["/predict"]["post"]
        assert all("aspects" in form["properties"]
                   for form in request["requestBody"]["content"]["application/json"]["schema"]["oneOf"])
        assert post({"texts": [REVIEW], "aspects": [None]}).status_code == 400
        with ThreadPoolExecutor(16) as pool:  # concurrent requests share the aspect heads' graphs one at a time
            answers = list(pool.map(lambda _: post({"text": REVIEW, "aspects": ["cast"], "contributions": True}),
                                    range(64)))
        assert {a.status_code for a in answers} == {200} and len({a.content for a in answers}) == 1
    finally:
        server.stop()
    server = Gunicorn(encoder_bundle, workers=1, log_path=tmp_path / "log2").wait("/ready")
    try:
        refused = requests.post(server.url + "/predict", json={"text": REVIEW, "aspects": True}, timeout=60)
        assert refused.status_code == 422 and "no aspect heads" in refused.json()["error"]["message"]
    finally:
        server.stop()


def test_predict_and_score_take_aspects(aspect_bundle, tmp_path):
    out = json.loads(run_cli("predict", REVIEW, "--model", str(aspect_bundle), "--no-attention", "--aspects",
                             "cast", '[{"start": 4, "end": 8}]').stdout)
    assert [(a["target"], a["label"]) for a in out["aspects"]] == [("film", "positive"), ("cast", "negative")]
    rows = [{"id": "a", "text": "the plot is dull .", "targets": json.dumps(["plot"])},
            {"id": "b", "text": REVIEW, "targets": json.dumps([{"start": 0, "end": 2}])},
            {"id": "c", "text": "the cast is superb ."}]
    with open(tmp_path / "in.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "text", "targets"])
        writer.writeheader()
        writer.writerows(rows)
    run_cli("score", str(tmp_path / "in.csv"), "--model", str(aspect_bundle), "--out", str(tmp_path / "out.jsonl"),
            "--id-column", "id", "--aspects-field", "targets", "--no-progress")
    scored = {r["id"]: r for r in map(json.loads, open(tmp_path / "out.jsonl", encoding="utf-8"))}
    assert scored["a"]["aspects"][0]["label"] == "negative"
    assert "cuts a word" in scored["b"]["error"] and scored["c"]["aspects"] == []
    run_cli("score", str(tmp_path / "in.csv"), "--model", str(aspect_bundle), "--out", str(tmp_path / "auto.jsonl"),
            "--aspects", "auto", "--no-progress")
    auto = [json.loads(line) for line in open(tmp_path / "auto.jsonl", encoding="utf-8")]
    assert [[a["target"] for a in r["aspects"]] for r in auto] == [["plot"], ["film", "cast", "story"], ["cast"]]


def test_many_reviews_are_summed_up_by_target(aspect_bundle, tmp_path):
    reviews = [{"id": f"r{k}", "text": text} for k, text in enumerate(
        ["the plot is dull .", "the plots is stale .", "the cast is superb .", "the cast is lovely and the plot is "
         "tedious .", "the ending is fresh ."])]
    write_jsonl(tmp_path / "reviews.jsonl", reviews)
    run_cli("aspects", str(tmp_path / "reviews.jsonl"), "--model", str(aspect_bundle), "--out",
            str(tmp_path / "aspects.csv"), "--id-field", "id", "--plot", str(tmp_path / "aspects.png"),
            "--no-progress")
    rows = list(csv.DictReader(open(tmp_path / "aspects.csv", encoding="utf-8")))
    run_cli("aspects", str(tmp_path / "reviews.jsonl"), "--model", str(aspect_bundle), "--out",
            str(tmp_path / "dask.csv"), "--id-field", "id", "--dask", "local:1", "--window", "2", "--no-progress")
    assert (tmp_path / "dask.csv").read_text(encoding="utf-8") == (tmp_path / "aspects.csv").read_text(encoding="utf-8")
    assert [(r["target"], r["mentions"], r["negative"], r["positive"]) for r in rows] == [
        ("plot", "3", "3", "0"), ("cast", "2", "0", "2")]
    assert rows[0]["forms"] == "plot; plots" and {rows[0]["example_1_id"], rows[0]["example_2_id"]} <= {"r0", "r1",
                                                                                                       "r3"}
    assert (tmp_path / "aspects.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plurals_fold_and_the_strongest_come_first():
    assert [fold(t) for t in ("Rooms", "batteries", "Boxes", "glass", "bus", "Battery  Life")] == [
        "room", "battery", "box", "glass", "bus", "battery life"]
    aspect = lambda target, label, score: {"found": True, "target": target, "label": label, "score": score,  # noqa
                                           "sentence": 0}
    records = [{"id": "a", "sentences": [{"text": "x"}], "aspects": [aspect("staff", "positive", 0.9)] * 3},
               {"id": "b", "sentences": [{"text": "y"}], "aspects": [aspect("noise", "negative", -0.8)] * 5},
               {"id": "c", "sentences": [{"text": "z"}], "aspects": [aspect("view", "neutral", 0.0)] * 9}]
    assert [r["target"] for r in summarise(records)] == ["noise", "staff", "view"]
