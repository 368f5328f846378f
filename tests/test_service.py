"""The service over real HTTP: a real gunicorn on 127.0.0.1 serving a small bundle trained in the test set-up."""
import json
import shutil
from concurrent.futures import ThreadPoolExecutor

import jsonschema
import pytest
import requests

from service.app import create_app
from service.openapi import spec
from tests.helpers import Gunicorn

TEXT = "what a wonderful film , superb !"


def post(server, body=None, **kwargs):
    return requests.post(server.url + "/predict", json=body, timeout=30, **kwargs)


def validate(answer, path, method, status):
    """Check an answer against the OpenAPI document's own schema for it."""
    content = spec()["paths"][path][method]["responses"][str(status)]["content"]
    schema = content["application/json"]["schema"]
    jsonschema.validate(answer, {**schema, "components": spec()["components"]})


def test_predict_one_text(server):
    response = post(server, {"text": TEXT})
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    answer = response.json()
    validate(answer, "/predict", "post", 200)
    assert answer["label"] == "positive" and answer["probabilities"]["positive"] > 0.5
    # A two-class bundle answers as before, with the score every answer carries.
    assert answer["score"] == pytest.approx(answer["probabilities"]["positive"] - answer["probabilities"]["negative"])
    assert answer["tokens"] == ["what", "a", "wonderful", "film", ",", "superb", "!"]
    n = len(answer["tokens"])
    assert len(answer["attention"]) == n and all(len(row) == n for row in answer["attention"])
    assert abs(sum(map(sum, answer["attention"])) - 1) < 1e-4
    assert answer["truncated"] is False and answer["model"] == requests.get(server.url + "/ready").json()["model"]


def test_batch_is_in_order_and_equals_single_answers(server):
    texts = ["the plot is dull .", TEXT, "a tedious , messy script ."]
    answer = post(server, {"texts": texts}).json()
    validate(answer, "/predict", "post", 200)
    assert [p["label"] for p in answer["predictions"]] == ["negative", "positive", "negative"]
    for text, batched in zip(texts, answer["predictions"]):
        single = post(server, {"text": text}).json()
        assert single["tokens"] == batched["tokens"]
        assert single["probabilities"] == pytest.approx(batched["probabilities"], abs=1e-5)


def test_attention_can_be_left_out_and_plain_text_is_one_text(server):
    assert "attention" not in post(server, {"text": TEXT, "attention": False}).json()
    response = requests.post(server.url + "/predict", data="the cast is lovely".encode(),
                             headers={"Content-Type": "text/plain; charset=utf-8"})
    assert response.status_code == 200 and response.json()["tokens"] == ["the", "cast", "is", "lovely"]


def test_long_text_is_clipped_and_flagged(server):
    answer = post(server, {"text": "boring " * 5000}).json()  # 35,000 characters, no full stop
    assert answer["truncated"] is True and "tokens" not in answer  # clipped at 20,000 characters
    sentences = answer["sentences"]  # the run-on sentence read in pieces of at most the model's 24 tokens
    assert all(len(s["tokens"]) <= 24 and len(s["attention"]) == len(s["tokens"]) for s in sentences)
    assert not any(s["truncated"] for s in sentences) and sentences[-1]["end"] <= 20_000
    assert sum(len(s["tokens"]) for s in sentences) == len(("boring " * 5000)[:20_000].split())  # every word read


@pytest.mark.parametrize("kwargs, status, code", [
    ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, "bad_request"),
    ({"json": {"text": 5}}, 400, "bad_request"),
    ({"json": {"text": None}}, 400, "bad_request"),
    ({"json": ["a list"]}, 400, "bad_request"),
    ({"json": {"texts": "not a list"}}, 400, "bad_request"),
    ({"json": {"texts": ["ok", 3]}}, 400, "bad_request"),
    ({"json": {"text": "ok", "texts": ["ok"]}}, 400, "bad_request"),
    ({"json": {"text": "ok", "attention": "yes"}}, 400, "bad_request"),
    ({"data": b'{"text": "\xff"}', "headers": {"Content-Type": "application/json"}}, 400, "bad_request"),
    ({"data": b"x" * (1 << 20 + 1), "headers": {"Content-Type": "text/plain"}}, 413, "body_too_large"),
    ({"data": b"<text>hi</text>", "headers": {"Content-Type": "application/xml"}}, 415, "unsupported_media_type"),
    ({"data": b"hi"}, 415, "unsupported_media_type"),
    ({"json": {"text": ""}}, 422, "unprocessable"),
    ({"json": {"text": " \n\t "}}, 422, "unprocessable"),
    ({"json": {"texts": []}}, 422, "unprocessable"),
    ({"json": {"texts": ["fine"] * 9}}, 422, "unprocessable"),
    ({"json": {"texts": ["fine", ""]}}, 422, "unprocessable"),
])
def test_errors_are_json_with_the_right_status(server, kwargs, status, code):
    response = requests.post(server.url + "/predict", timeout=30, **kwargs)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and "Traceback" not in response.text
    validate(response.json(), "/predict", "post", status)


def test_too_large_says_the_limit_and_how_to_send_more(server):
    response = requests.post(server.url + "/predict", data=b"x" * ((1 << 20) + 1),
                             headers={"Content-Type": "text/plain"}, timeout=30)
    message = response.json()["error"]["message"]
    assert response.status_code == 413 and "1,048,576 bytes" in message
    assert '"texts"' in message and "SENTIMENT_MAX_BODY_BYTES" in message


def test_unknown_words_are_reported(server):
    answer = post(server, {"text": "zorblat dull quenth"}).json()
    assert answer["unknown_tokens"] == ["zorblat", "quenth"]
    assert post(server, {"text": TEXT}).json()["unknown_tokens"] == []


def test_threads_beyond_the_cores_are_warned_about_at_start(small_bundle, tmp_path):
    gunicorn = Gunicorn(small_bundle, workers=2, log_path=tmp_path / "log",
                        extra_env={"OMP_NUM_THREADS": "4"}).wait("/ready")
    gunicorn.stop()
    log = gunicorn.read_log()
    assert "OMP_NUM_THREADS=4 with 2 workers runs 8 OpenMP threads" in log and "Unset OMP_NUM_THREADS" in log
    quiet = Gunicorn(small_bundle, workers=1, log_path=tmp_path / "quiet", extra_env={"OMP_NUM_THREADS": "1"})
    quiet.wait("/ready")
    quiet.stop()
    assert "OpenMP threads" not in quiet.read_log()


def test_not_found_and_wrong_method_are_json(server):
    missing = requests.get(server.url + "/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = requests.get(server.url + "/predict")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
    assert "POST" in wrong.headers["Allow"]


def test_health_ready_model(server):
    assert requests.get(server.url + "/health").json() == {"status": "alive"}
    ready = requests.get(server.url + "/ready").json()
    model = requests.get(server.url + "/model").json()
    validate(model, "/model", "get", 200)
    assert model["version"] == ready["model"] and model["device"] == "cpu" and model["max_length"] == 24
    assert model["labels"] == ["negative", "positive"] and model["metrics"]["dev_accuracy"] >= 0.9
    assert "model" in server.read_log() and "on device cpu" in server.read_log()


def test_metrics_count_requests_across_workers(server):
    for _ in range(10):
        post(server, {"text": TEXT})
    body = requests.get(server.url + "/metrics").text
    version = requests.get(server.url + "/ready").json()["model"]
    counts = [line for line in body.splitlines()
              if line.startswith('sentiment_requests_total{endpoint="/predict",method="POST",status="200"}')]
    assert counts and float(counts[0].split()[-1]) >= 10
    assert f'sentiment_model_info{{device="cpu",version="{version}"}} 1.0' in body
    assert "sentiment_request_seconds_bucket" in body and "sentiment_batch_texts_bucket" in body


def test_openapi_describes_every_route(server):
    served = requests.get(server.url + "/openapi.json").json()
    assert served == json.loads(json.dumps(spec(aspects=False)))  # the small bundle has no aspect heads
    app = create_app({"MODEL_PATH": "/nonexistent"})
    routes = {(rule.rule.replace("<", "{").replace(">", "}"), method.lower())
              for rule in app.url_map.iter_rules() if rule.endpoint != "static"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    described = {(path, method) for path, methods in served["paths"].items() for method in methods}
    assert routes == described


def test_200_concurrent_requests_without_error(server):
    def one(i):
        body = {"texts": [TEXT, "the ending is bland ."]} if i % 5 == 0 else {"text": f"{TEXT} {i}"}
        response = post(server, body)
        return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(one, range(200)))
    assert [status for status, _ in results] == [200] * 200
    assert all(("predictions" in answer) == (i % 5 == 0) for i, (_, answer) in enumerate(results))


def test_corrupted_bundle_is_never_ready(small_bundle, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(small_bundle.resolve(), broken)
    (broken / "vocab.json").write_text("{}")
    gunicorn = Gunicorn(broken, workers=1, log_path=tmp_path / "log").wait("/health")
    try:
        ready = requests.get(gunicorn.url + "/ready")
        assert ready.status_code == 503 and "vocab.json is corrupted" in ready.json()["reason"]
        refused = post(gunicorn, {"text": TEXT})
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "not_ready"
        assert "vocab.json is corrupted" in gunicorn.read_log()
    finally:
        gunicorn.stop()


def test_gpu_asked_for_but_absent_stops_the_server(small_bundle, tmp_path):
    from sentiment.inference.device import gpu_count

    if gpu_count():
        pytest.skip("this machine has a GPU")
    gunicorn = Gunicorn(small_bundle, workers=1, extra_env={"SENTIMENT_DEVICE": "gpu"}, log_path=tmp_path / "log")
    assert gunicorn.process.wait(60) != 0
    gunicorn.stop()
    assert "'gpu' was asked for, but MXNet sees 0 GPU(s)" in gunicorn.read_log()
