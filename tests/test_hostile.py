"""Hostile input against a real gunicorn: schemathesis on our own OpenAPI document, and a named
list of nasty requests, each with its expected status."""
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import Gunicorn

SCHEMATHESIS = Path(sys.prefix) / "bin" / "schemathesis"


@pytest.fixture(scope="module")
def server(small_bundle, tmp_path_factory):
    gunicorn = Gunicorn(small_bundle, log_path=tmp_path_factory.mktemp("hostile") / "log").wait("/ready")
    yield gunicorn
    gunicorn.stop()


def served_requests(server):
    body = requests.get(server.url + "/metrics").text
    return sum(float(line.split()[-1]) for line in body.splitlines() if line.startswith("sentiment_requests_total{"))


def test_schemathesis_finds_no_5xx_and_every_answer_matches_the_schema(server):
    before = served_requests(server)
    result = subprocess.run([str(SCHEMATHESIS), "run", f"{server.url}/openapi.json", "--checks", "all",
                             "--max-examples", "1000", "--seed", "20181107", "--no-color"],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:]
    generated, passed = map(int, re.search(r"(\d+) generated, (\d+) passed", result.stdout).groups())
    assert generated == passed and generated >= 1000
    assert served_requests(server) - before >= 1000


NASTY = [
    ("empty body", {"data": b"", "headers": {"Content-Type": "application/json"}}, 400),
    ("null text", {"json": {"text": None}}, 400),
    ("number text", {"json": {"text": 42}}, 400),
    ("list text", {"json": {"text": ["a"]}}, 400),
    ("json null", {"json": None, "data": b"null", "headers": {"Content-Type": "application/json"}}, 400),
    ("10 MB body", {"data": b"a" * (10 << 20), "headers": {"Content-Type": "text/plain"}}, 413),
    ("100,000 texts", {"json": {"texts": ["ok"] * 100_000}}, 422),
    ("deeply nested JSON", {"data": b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                            "headers": {"Content-Type": "application/json"}}, 400),
    ("invalid UTF-8 JSON", {"data": b'{"text": "\xc3\x28"}', "headers": {"Content-Type": "application/json"}}, 400),
    ("invalid UTF-8 plain text", {"data": b"\xff\xfe", "headers": {"Content-Type": "text/plain"}}, 400),
    ("lone surrogate escape", {"data": b'{"text": "\\ud800"}', "headers": {"Content-Type": "application/json"}}, 400),
    ("wrong content type", {"data": b"text=hi", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
     415),
]


@pytest.mark.parametrize("name, kwargs, status", NASTY, ids=[n[0] for n in NASTY])
def test_nasty_request(server, name, kwargs, status):
    kwargs = dict(kwargs)
    if "json" in kwargs and kwargs["json"] is None:
        kwargs.pop("json")
    response = requests.post(server.url + "/predict", timeout=60, **kwargs)
    assert response.status_code == status, response.text[:300]
    assert response.json()["error"]["code"] and "Traceback" not in response.text


def test_one_megabyte_text_is_clipped_not_a_crash(server):
    started = time.time()
    response = requests.post(server.url + "/predict", json={"text": "good " * 200_000}, timeout=60)
    answer = response.json()
    assert response.status_code == 200 and answer["truncated"] is True
    assert all(len(s["tokens"]) <= 24 for s in answer["sentences"]) and time.time() - started < 10


def test_get_on_predict_is_405(server):
    response = requests.get(server.url + "/predict")
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


def test_a_slow_client_does_not_block_other_requests(server):
    """A client sending its body a byte at a time ties up one thread, not the server."""
    body = b'{"text": "a lovely film"}'
    stop = threading.Event()

    def trickle():
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body))
            for byte in body:
                if stop.is_set():
                    return
                s.sendall(bytes([byte]))
                time.sleep(0.25)
            s.recv(65536)

    slow = [threading.Thread(target=trickle) for _ in range(2)]
    for thread in slow:
        thread.start()
    time.sleep(0.5)
    try:
        for _ in range(20):
            started = time.time()
            response = requests.post(server.url + "/predict", json={"text": "a dull plot"}, timeout=10)
            assert response.status_code == 200 and time.time() - started < 2
    finally:
        stop.set()
        for thread in slow:
            thread.join()
