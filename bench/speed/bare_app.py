"""The ceiling for bench/load: a bare Flask app under the service's own gunicorn settings.

It parses each JSON body and returns the answer the model server gives for it, prepared beforehand
(BARE_ANSWERS: a JSON file mapping each text to its answer), so the two differ only in the model's
share of a request.
"""
import os

import orjson
from flask import Flask, Response, request

with open(os.environ["BARE_ANSWERS"], "rb") as f:
    ANSWERS = orjson.loads(f.read())

app = Flask(__name__)


@app.post("/predict")
def predict():
    payload = orjson.loads(request.get_data())
    if "texts" in payload:
        body = {"predictions": [ANSWERS[text] for text in payload["texts"]]}
    else:
        body = ANSWERS[payload["text"]]
    return Response(orjson.dumps(body), mimetype="application/json")


@app.get("/ready")
def ready():
    return Response(b'{"status": "ready"}', mimetype="application/json")
