"""Service settings, read from the environment once; `create_app(config)` may override any of them."""
import json
import os
from pathlib import Path

DEFAULTS = {
    "MODEL_PATH": ("SENTIMENT_MODEL", "models/default", str),
    "DEVICE": ("SENTIMENT_DEVICE", None, str),
    "MAX_CONTENT_LENGTH": ("SENTIMENT_MAX_BODY_BYTES", 1 << 20, int),  # Flask answers 413 past this
    "MAX_TEXTS": ("SENTIMENT_MAX_TEXTS", 64, int),
    "MAX_TEXT_CHARS": ("SENTIMENT_MAX_TEXT_CHARS", 20_000, int),  # longer texts are clipped and flagged
    "MAX_SENTENCES": ("SENTIMENT_MAX_SENTENCES", 256, int),  # sentences read per text; the rest flagged
    "MICROBATCH": ("SENTIMENT_MICROBATCH", 1, int),  # 1: batch concurrent requests in one pass (bench/load)
    # Under load, how long a pass may wait for the requests in flight; None: by bundle (microbatch_wait_ms)
    "MICROBATCH_WAIT_MS": ("SENTIMENT_MICROBATCH_WAIT_MS", None, float),
}


def from_environment(environ=os.environ):
    settings = {}
    for key, (variable, default, kind) in DEFAULTS.items():
        value = environ.get(variable)
        settings[key] = kind(value) if value not in (None, "") else default
    return settings


def serving_layout(model_path, cores):
    """(workers, threads) by default for the bundle at model_path (gunicorn.conf.py): a GloVe model, a worker per
    core with 4 threads; an encoder model, one worker with 32 threads, so that concurrent requests share its passes
    (a pass costs far more than a request's overhead: bench/README.md)."""
    try:
        config = json.loads((Path(model_path) / "config.json").read_text(encoding="utf-8"))
        encoder = config["model"].get("encoder", "glove")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        encoder = "glove"  # no readable bundle yet: the app says so on /ready
    return (1, 32) if encoder != "glove" else (cores, 4)


def microbatch_wait_ms(encoder):
    """The micro-batcher's wait under load by default: 25 ms for an encoder model, whose passes under load
    take 100 ms and more (bench/README.md); none for a GloVe model, whose passes take a few."""
    return 25.0 if encoder else 0.0
