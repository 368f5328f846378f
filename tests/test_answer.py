"""The answer's fields: golden fields, order, labels and offsets, and one module that decides them for every output."""
import csv
import json

import numpy as np
import requests

from sentiment.inference import answer
from sentiment.inference.predictor import Predictor
from sentiment.scoring.job import score_window
from sentiment.scoring.writer import Writer
from tests.extended_answer import FIELD, VALUE, extend
from tests.helpers import ROOT, Gunicorn

# /predict's answers on the tests' small bundle, recorded before the answer became a dataclass: what does not
# depend on the CPU (the fields and their order, labels, offsets, tokens). tests/fixtures/golden_answers.json.
GOLDEN = json.loads((ROOT / "tests" / "fixtures" / "golden_answers.json").read_text(encoding="utf-8"))


def shape(text_answer):
    kept = {k: text_answer[k] for k in ("label", "tokens", "truncated", "sentences_dropped", "unknown_tokens")
            if k in text_answer}
    return {"keys": list(text_answer), **kept,
            "sentences": [{"keys": list(s), "label": s["label"], "start": s["start"], "end": s["end"],
                           "text": s["text"], "tokens": s["tokens"]} for s in text_answer["sentences"]]}


def test_answers_keep_their_golden_fields_order_labels_and_offsets(server):
    for options, expected in GOLDEN["cases"].items():
        body = requests.post(server.url + "/predict", json={"texts": GOLDEN["texts"], **json.loads(options)}).json()
        assert {"keys": list(body), "predictions": [shape(a) for a in body["predictions"]]} == expected, options


def test_the_cli_and_the_scorer_answer_with_the_same_fields_in_the_same_order(small_bundle):
    predictor = Predictor.load(small_bundle)
    text = GOLDEN["texts"][2]
    served = GOLDEN["cases"]["{}"]["predictions"][2]
    assert shape(predictor.explain([text])[0]) == served
    [scored] = score_window(str(small_bundle), None, [("r1", "f", 1, text, None, None)], attention=True, sentences=True)
    top = [k for k in served["keys"] if k != "model"]
    assert list(scored) == ["id", "source", "line", *top]
    assert [list(s) for s in scored["sentences"]] == [s["keys"] for s in served["sentences"]]


def test_predict_and_predict_proba_read_a_text_as_the_service_does(server, small_bundle):
    texts = GOLDEN["texts"]
    served = requests.post(server.url + "/predict", json={"texts": texts, "attention": False}).json()["predictions"]
    predictor = Predictor.load(small_bundle)
    assert predictor.predict(texts) == [a["label"] for a in served]
    assert np.allclose(predictor.predict_proba(texts), [[a["probabilities"][k] for k in predictor.labels]
                                                        for a in served], atol=1e-6)
    assert np.allclose(predictor.predict_score(texts), [a["score"] for a in served], atol=1e-6)


def test_a_field_added_to_the_dataclass_appears_in_json_openapi_and_csv(small_bundle, tmp_path):
    server = Gunicorn(small_bundle, workers=1, app="tests.extended_app:app", log_path=tmp_path / "log").wait("/ready")
    try:
        body = requests.post(server.url + "/predict", json={"text": "a lovely film . a dull plot ."}).json()
        assert body[FIELD] == VALUE and list(body)[-1] == FIELD
        prediction = requests.get(server.url + "/openapi.json").json()["components"]["schemas"]["Prediction"]
        assert FIELD in prediction["properties"] and FIELD in prediction["required"]
    finally:
        server.stop()
    original = extend()
    try:
        assert Predictor.load(small_bundle).explain(["a lovely film"])[0][FIELD] == VALUE
        records = score_window(str(small_bundle), None, [("r1", "f", 1, "a lovely film", None, None)])
        writer = Writer(tmp_path / "out.csv", "csv", ["negative", "positive"], resume=False)
        writer.write(records)
        writer.finish()
        [row] = csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8"))
        assert float(row[FIELD]) == VALUE and list(row)[-1] == FIELD
    finally:
        answer.TextAnswer = original
    assert FIELD not in answer.csv_columns(["negative", "positive"])


def test_every_field_is_described_once_and_the_csv_keeps_its_columns():
    for cls in (answer.TextAnswer, answer.SentenceAnswer, answer.AspectAnswer):
        for name, schema in answer.schema(cls, "")["properties"].items():
            assert schema.get("description") or "$ref" in schema.get("items", {}), name
    assert answer.csv_columns(["negative", "neutral", "positive"]) == [
        "id", "source", "line", "label", "p_negative", "p_neutral", "p_positive", "score", "truncated", "error",
        "unknown_tokens", "top_pairs", "tokens", "attention", "runner_up", "contribution_bias", "contributions",
        "sentences_dropped", "sentences", "aspects"]
