"""Prometheus metrics. Under gunicorn, PROMETHEUS_MULTIPROC_DIR (set by gunicorn.conf.py) makes every
worker's numbers add up in one /metrics answer, whichever worker serves it."""
import os
import time

from flask import g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("sentiment_requests_total", "HTTP requests", ["endpoint", "method", "status"])
LATENCY = Histogram("sentiment_request_seconds", "Request latency in seconds", ["endpoint"],
                    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5))
BATCH_SIZE = Histogram("sentiment_batch_texts", "Texts per /predict request", buckets=(1, 2, 4, 8, 16, 32, 64, 128))
CUTS = Counter("sentiment_truncated_total", "What answers left out, flagged truncated in the answer: texts clipped "
               "to SENTIMENT_MAX_TEXT_CHARS, sentences past SENTIMENT_MAX_SENTENCES, sentences clipped to the "
               "model's max length", ["what"])
MODEL_INFO = Gauge("sentiment_model_info", "The model being served (value 1)", ["version", "device"],
                   multiprocess_mode="max")


def count_cuts(answer, clipped_text):
    """Count what one answer left out (each is also flagged in the answer)."""
    if clipped_text:
        CUTS.labels("text_characters").inc()
    if answer.sentences_dropped:
        CUTS.labels("sentences").inc(answer.sentences_dropped)
    clipped = sum(s.truncated for s in answer.sentences)
    if clipped:
        CUTS.labels("sentence_tokens").inc(clipped)


def register(app):
    @app.before_request
    def start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def record(response):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
        LATENCY.labels(endpoint).observe(time.perf_counter() - g.get("started", time.perf_counter()))
        return response


def exposition():
    """(body, content type) for GET /metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
